#include <latent/fit.hpp>

#include <algorithm>
#include <cmath>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <latent/error.hpp>

namespace latent {

namespace {

const ParamSpec& common_param(const std::string& name) {
  for (const auto& c : common_param_specs()) {
    if (c.name == name) return c;
  }
  throw std::logic_error("no common parameter " + name);
}

// The common "rated-weight" (checked; 0 when not given or not applying).
float rated_weight_of(const ModelSpec& model, const Params& params) {
  const ParamSpec& spec = common_param("rated-weight");
  const auto text = params.get(spec.name);
  if (!text || !common_param_applies(spec, model)) return 0.0f;
  spec.check(*text);
  return parse_param<float>(spec.name, *text);
}

// Every check fit() makes of the model and its parameters; the config.
nlohmann::json checked_config(const ModelSpec& model, const Params& params) {
  check_param_names(model, params);
  for (const auto& c : common_param_specs()) {
    if (const auto text = params.get(c.name)) c.check(*text);
  }
  nlohmann::json config = model.configure(params);
  const float rated_weight = rated_weight_of(model, params);
  if (rated_weight > 0) config["rated_weight"] = rated_weight;
  return config;
}

// The training pairs, plus the pairs the rating filter dropped at `weight`
// (the others at their own weights, or 1). Ratings and timestamps, which no
// trainer reads and the dropped rows do not keep, are left out.
Interactions with_rated_pairs(const Interactions& train, const Interactions& rated, float weight) {
  Interactions out = pairs_of_both(train, rated);
  out.weights.reserve(out.size());
  if (train.weights.empty()) {
    out.weights.assign(train.size(), 1.0f);
  } else {
    out.weights = train.weights;
  }
  out.weights.resize(out.size(), weight);
  return out;
}

nlohmann::json epoch_json(const EpochReport& e) {
  nlohmann::json j{{"epoch", e.epoch}, {"seconds", e.seconds}};
  if (std::isfinite(e.loss)) j["loss"] = e.loss;
  if (std::isfinite(e.sampled_accuracy)) j["sampled_accuracy"] = e.sampled_accuracy;
  if (e.has_train) j["train"] = e.train.to_json();
  if (e.has_test) j["test"] = e.test.to_json();
  if (std::isfinite(e.train_rmse)) j["train_rmse"] = e.train_rmse;
  if (std::isfinite(e.test_rmse)) j["test_rmse"] = e.test_rmse;
  return j;
}

nlohmann::json epochs_json(const std::vector<EpochReport>& epochs) {
  nlohmann::json j = nlohmann::json::array();
  for (const auto& e : epochs) j.push_back(epoch_json(e));
  return j;
}

bool all_finite(const Matrix& m) {
  const auto v = m.values();
  return std::all_of(v.begin(), v.end(), [](float x) { return std::isfinite(x); });
}

// Trainers do not stop on overflow: a step or a confidence far too large
// turns the vectors into inf and NaN, and such a model recommends nothing
// (a NaN score ranks nowhere). Every model's vectors pass through fit(), so
// this is the one place to refuse them; the hint names only the
// parameters this model has.
void check_converged(const ModelSpec& model, const TrainedVectors& trained) {
  const char* which = !all_finite(trained.item_vectors)   ? "item"
                      : !all_finite(trained.user_vectors) ? "user"
                                                          : nullptr;
  if (which == nullptr) return;
  std::vector<std::string> lower;
  for (const char* name : {"learning-rate", "alpha"}) {
    if (model.param(name) != nullptr) lower.emplace_back(name);
  }
  std::string hint = lower.empty() ? "" : fmt::format("lower {}", fmt::join(lower, " or "));
  if (model.param("regularization") != nullptr) {
    hint += hint.empty() ? "raise regularization" : " or raise regularization";
  }
  throw Error(ErrorKind::InvalidArgument,
              fmt::format("model \"{}\": the training diverged (non-finite values in the {} "
                          "vectors){}",
                          model.name, which, hint.empty() ? "" : "; " + hint));
}

// The model a fit trains, its parameters and its config: for a warm start,
// the saved model's kind unless one is named, and the saved config's values
// under the parameters not given.
struct Plan {
  const ModelSpec& model;
  Params params;
  nlohmann::json config;
};

// The saved config's value of parameter `p` as its text, or nullopt.
std::optional<std::string> saved_value(const ModelData& init, const ParamSpec& p) {
  if (!init.config.is_object()) return std::nullopt;
  const auto it = init.config.find(p.python_name());
  if (it == init.config.end() || it->is_null()) return std::nullopt;
  return it->is_string() ? it->get<std::string>() : it->dump();
}

Plan plan_of(const FitOptions& options) {
  if (options.init == nullptr) {
    if (options.update != WarmUpdate::All) {
      throw Error(ErrorKind::InvalidArgument,
                  "update users recomputes the users of a saved model, and no initial model was "
                  "given");
    }
    const ModelSpec& model = model_spec(options.model);
    return {model, options.params, checked_config(model, options.params)};
  }
  const ModelData& init = *options.init;
  const std::string& kind = options.model.empty() ? init.kind : options.model;
  const ModelSpec& model = model_spec(kind);
  if (init.kind != model.name) {
    throw Error(ErrorKind::InvalidArgument,
                fmt::format("{} holds a model of kind {}, and the model to train is {}: a "
                            "warm start continues a model of its own kind",
                            options.init_name, init.kind, model.name));
  }
  const bool users = options.update == WarmUpdate::Users;
  if (!(users ? model.update_users : model.warm_start)) {
    throw Error(
        ErrorKind::InvalidArgument,
        fmt::format("model {} cannot {}: {}", model.name,
                    users ? "update its users alone (update users)"
                          : "warm-start from a saved model (update all)",
                    model.warm_start_note.empty() ? "it does not say how" : model.warm_start_note));
  }
  check_param_names(model, options.params);
  Params params;
  for (const ParamSpec& p : model.all_params()) {
    if (const auto saved = saved_value(init, p)) params.set(p.name, *saved);
  }
  for (const auto& [name, value] : options.params.values()) params.set(name, value);
  nlohmann::json config = checked_config(model, params);
  for (const std::string& name : model.warm_start_fixed) {
    const ParamSpec* p = model.param(name);
    const std::string key = p->python_name();
    const auto saved = saved_value(init, *p);
    if (saved && config.contains(key) && config[key] != init.config[key]) {
      throw Error(ErrorKind::InvalidArgument,
                  fmt::format("parameter {} = {} differs from {}'s {}: a warm start keeps the "
                              "shape of the saved vectors (leave {} out to take the saved one)",
                              name, config[key].dump(), options.init_name, *saved, name));
    }
  }
  return {model, std::move(params), std::move(config)};
}

// A warm start's seen items: the new ones (`seen`) and what users saw
// before (`saved`, on the same rows), so --exclude-seen still leaves out
// last week's items.
CsrMatrix with_saved_seen(const CsrMatrix& seen, const Interactions& saved) {
  Interactions now;
  now.num_users = seen.rows();
  now.num_items = seen.cols();
  now.users.reserve(static_cast<std::size_t>(seen.nnz()));
  now.items = seen.indices();
  for (std::int32_t u = 0; u < seen.rows(); ++u)
    now.users.resize(now.users.size() + seen.row(u).size(), u);
  return CsrMatrix::from_interactions(pairs_of_both(now, saved));
}

// A warm start of an item-based model, whose user side is each user's row
// of the term: a user with pairs in `train` has those (their saved pairs
// stay seen, weight 0), as every model fits a user of the new data to their
// pairs in it; a user without keeps their saved row and weights.
void keep_saved_weights(const CsrMatrix& seen, const Interactions& saved, const Interactions& train,
                        std::vector<float>& weights) {
  std::vector<char> trained(static_cast<std::size_t>(seen.rows()), 0);
  for (auto u : train.users) trained[static_cast<std::size_t>(u)] = 1;
  for (std::size_t k = 0; k < saved.size(); ++k) {
    if (trained[static_cast<std::size_t>(saved.users[k])]) continue;
    const auto row = seen.row(saved.users[k]);
    const auto at = std::lower_bound(row.begin(), row.end(), saved.items[k]);
    const auto pos = static_cast<std::size_t>(
        seen.indptr()[static_cast<std::size_t>(saved.users[k])] + (at - row.begin()));
    if (weights[pos] == 0.0f) weights[pos] = saved.weights.empty() ? 1.0f : saved.weights[k];
  }
}

void check_test_fraction(double fraction) {
  if (!(fraction >= 0 && fraction < 1)) {
    throw Error(ErrorKind::InvalidArgument,
                fmt::format("test fraction {} is outside [0, 1)", fraction));
  }
}

// Side features only for a model that takes them.
void check_features(const ModelSpec& model, const FitOptions& options) {
  if ((options.user_features == nullptr && options.item_features == nullptr &&
       options.context_features.empty()) ||
      model.takes_features) {
    return;
  }
  std::vector<std::string> takers;
  for (const ModelSpec* m : model_specs()) {
    if (m->takes_features) takers.push_back(m->name);
  }
  const std::string what =
      options.user_features != nullptr
          ? fmt::format("the user features of {}", options.user_features->source)
      : options.item_features != nullptr
          ? fmt::format("the item features of {}", options.item_features->source)
          : std::string("context features");
  throw Error(ErrorKind::InvalidArgument,
              fmt::format("model {} takes no side features ({}); the models that do: {}",
                          model.name, what, fmt::join(takers, ", ")));
}

// The context of the training pairs (null without context features). A
// warm start of a model with context takes its context columns, encoded as
// the saved tower did, and only such a model takes them.
std::optional<QueryContext> fit_context(const FitOptions& options, const Interactions& train,
                                        const Interactions* test, std::string_view source) {
  FeatureEncoder saved;
  if (options.init != nullptr && options.init->user_tower) {
    saved = options.init->user_tower->encoder.part(true);
  }
  const std::string columns = saved.declaration();
  if (options.context_features.empty()) {
    if (columns.empty()) return std::nullopt;
    throw Error(ErrorKind::InvalidArgument,
                fmt::format("{}'s user tower takes the context features {}: give them to "
                            "continue it",
                            options.init_name, columns));
  }
  if (options.init == nullptr) {
    return QueryContext::fit(options.context_features, train, test, source);
  }
  if (columns.empty()) {
    throw Error(ErrorKind::InvalidArgument,
                fmt::format("{} has no context features: a warm start cannot add them to its "
                            "user side; train afresh with them",
                            options.init_name));
  }
  return QueryContext::with_encoder(options.context_features, train, test, source,
                                    std::move(saved));
}

// The side features of the options' tables on `data`'s vocabularies, and
// what the model's training metadata says of them.
struct FitFeatures {
  std::optional<SideFeatures> users, items;
  nlohmann::json training = nlohmann::json::object();
};

// A warm start encodes a side's features as the saved tower did (its
// vocabularies and statistics), and needs the same columns.
FitFeatures fit_features(const FitOptions& options, const Dataset& data) {
  FitFeatures out;
  // saved: the warm start's tower of this side (null: none).
  const auto side = [&](const FeatureTable* table, const Vocabulary& vocabulary,
                        std::optional<SideFeatures>& into, const char* name,
                        const FeatureTower* saved) {
    // A user tower's columns are its features' and the context's.
    const FeatureEncoder saved_encoder =
        saved != nullptr ? saved->encoder.part(false) : FeatureEncoder{};
    const std::string saved_columns = saved_encoder.declaration();
    if (table == nullptr) {
      if (saved_columns.empty()) return;
      throw Error(ErrorKind::InvalidArgument,
                  fmt::format("{}'s {} tower takes the {} features {}: give them (and their "
                              "file) to continue it",
                              options.init_name, name, name, saved_columns));
    }
    if (saved != nullptr) {
      if (saved_columns.empty()) {
        throw Error(ErrorKind::InvalidArgument,
                    fmt::format("{}'s {} tower takes no {} features: a warm start cannot add "
                                "them to its layers; train afresh with them",
                                options.init_name, name, name));
      }
      into = SideFeatures::with_encoder(*table, vocabulary, saved_encoder);
    } else {
      into = SideFeatures::fit(*table, vocabulary);
    }
    out.training[fmt::format("{}_features", name)] = {
        {"source", table->source},
        {"columns", feature_declaration(table->columns)},
        {"rows", table->ids.size()},
        {"known_with_features", into->with_values},
        {"known", vocabulary.num_known()}};
  };
  const ModelData* init = options.init;
  side(options.user_features, data.users, out.users, "user",
       init != nullptr && init->user_tower ? &*init->user_tower : nullptr);
  side(options.item_features, data.items, out.items, "item",
       init != nullptr && init->item_tower ? &*init->item_tower : nullptr);
  return out;
}

// A trained tower as the model file keeps it, with its features' encoder
// (moved out of `features`).
std::optional<FeatureTower> kept_tower(std::optional<TowerParams>& tower,
                                       std::optional<SideFeatures>& features) {
  if (!tower) return std::nullopt;
  return FeatureTower{
      features ? std::move(features->encoder) : FeatureEncoder{}, std::move(*tower), {}};
}

// A user tower with context as the model file keeps it: its columns are the
// user features' and then the context's; with layers over the user
// features it keeps each user's tokens of them, to put a known user in a
// context (FeatureTower::own_rows). Without context, kept_tower's.
std::optional<FeatureTower> kept_user_tower(std::optional<TowerParams>& tower,
                                            std::optional<SideFeatures>& users,
                                            const QueryContext* context) {
  if (context == nullptr) return kept_tower(tower, users);
  FeatureRows own_rows;
  if (users && tower && !tower->shape.layers.empty()) own_rows = std::move(users->rows);
  std::optional<SideFeatures> joined(SideFeatures{
      users ? FeatureEncoder::joined(users->encoder, context->encoder) : context->encoder, {}, 0});
  std::optional<FeatureTower> kept = kept_tower(tower, joined);
  if (kept) kept->own_rows = std::move(own_rows);
  return kept;
}

// The model file's contents and the fit's report: `data`'s vocabularies,
// the vectors trained on `train` (split.train, plus the rated pairs when
// with_rated), the seen items and the training metadata.
FitResult assemble(const ModelSpec& model, nlohmann::json config, const Dataset& data,
                   const Split& split, const Interactions& train, bool with_rated,
                   TrainedVectors trained, const FitOptions& options, const WarmStartData* warm,
                   std::uint64_t split_seed, const nlohmann::json* distributed = nullptr,
                   std::optional<FeatureTower> user_tower = {},
                   std::optional<FeatureTower> item_tower = {},
                   const nlohmann::json& features = nlohmann::json::object()) {
  if (options.refuse_diverged) check_converged(model, trained);

  ModelData m;
  m.kind = model.name;
  m.config = std::move(config);
  m.users = data.users;
  m.items = data.items;
  m.item_titles = data.item_titles;
  m.user_embeddings = std::move(trained.user_vectors);
  m.item_embeddings = std::move(trained.item_vectors);
  m.item_to_item = std::move(trained.item_to_item);
  m.item_queries = std::move(trained.item_queries);
  m.rating_head = std::move(trained.rating_head);
  // Seen: the training pairs and the pairs the rating filter dropped.
  if (with_rated) {
    m.seen = CsrMatrix::from_interactions(train);
  } else if (data.seen_only.empty()) {
    m.seen = CsrMatrix::from_interactions(split.train);  // no copy of the training pairs
  } else {
    m.seen = CsrMatrix::from_interactions(pairs_of_both(split.train, data.seen_only));
  }
  if (warm) m.seen = with_saved_seen(m.seen, warm->saved_seen);
  // An item-based model's term weighs each known user's items as the model
  // trained on them (0: seen, not trained); all 1 is stored as none.
  if (!m.item_to_item.empty()) {
    m.seen_weights = entry_weights(m.seen, train, model.weighs_pairs);
    if (warm) keep_saved_weights(m.seen, warm->saved_seen, train, m.seen_weights);
    if (std::all_of(m.seen_weights.begin(), m.seen_weights.end(),
                    [](float w) { return w == 1.0f; })) {
      m.seen_weights.clear();
    }
  }
  m.training = {{"data", data.description},
                {"train_pairs", split.train.size()},
                {"test_pairs", split.test.size()},
                {"seen_only_pairs", data.seen_only.size()},
                {"rated_pairs_trained", with_rated ? data.seen_only.size() : 0},
                {"test_fraction", options.split != nullptr ? 0.0 : options.test_fraction},
                {"split_seed", split_seed},
                {"train_seconds", trained.seconds},
                {"epochs", epochs_json(trained.epochs)}};
  if (warm) {
    m.training["warm_start"] = {{"init", options.init_name},
                                {"update", to_string(options.update)},
                                {"init_users", options.init->users.num_known()},
                                {"init_items", options.init->items.num_known()},
                                {"new_users", warm->new_users},
                                {"new_items", warm->new_items}};
  }
  if (distributed != nullptr) m.training["distributed"] = *distributed;
  // The towers, and what their features were.
  m.user_tower = std::move(user_tower);
  m.item_tower = std::move(item_tower);
  for (const auto& [key, value] : features.items()) m.training[key] = value;
  return FitResult{Recommender(std::move(m)), std::move(trained.epochs), trained.seconds,
                   split.train.size(), split.test.size()};
}

}  // namespace

std::uint64_t seed_of(const Params& params) {
  const ParamSpec& spec = common_param("seed");
  const auto text = params.get(spec.name);
  if (!text) return kDefaultSeed;
  spec.check(*text);
  return parse_param<std::uint64_t>(spec.name, *text);
}

nlohmann::json FitResult::metrics_json() const {
  nlohmann::json j{{"model", model.model().kind},    {"config", model.model().config},
                   {"train_seconds", train_seconds}, {"train_pairs", train_pairs},
                   {"test_pairs", test_pairs},       {"epochs", epochs_json(epochs)}};
  if (!epochs.empty() && epochs.back().has_test) j["test"] = epochs.back().test.to_json();
  if (!epochs.empty() && std::isfinite(epochs.back().test_rmse)) {
    j["test_rmse"] = epochs.back().test_rmse;
  }
  return j;
}

nlohmann::json check_model_params(const std::string& model, const Params& params) {
  return checked_config(model_spec(model), params);
}

nlohmann::json check_fit_options(const FitOptions& options) {
  Plan plan = plan_of(options);
  check_test_fraction(options.test_fraction);
  check_features(plan.model, options);
  return std::move(plan.config);
}

FitResult fit(const Dataset& given, const FitOptions& options) {
  Plan plan = plan_of(options);
  const ModelSpec& model = plan.model;
  const Params& params = plan.params;
  nlohmann::json config = std::move(plan.config);
  check_test_fraction(options.test_fraction);
  check_features(model, options);
  // A warm start trains on the data renumbered onto the saved vocabularies.
  std::optional<WarmStartData> warm;
  if (options.init != nullptr) {
    warm = warm_start_data(*options.init, given, options.split, options.update, options.init_name);
  }
  const Dataset& data = warm ? warm->data : given;
  const Split* given_split = !warm ? options.split : warm->split ? &*warm->split : nullptr;
  const std::uint64_t split_seed = options.split_seed.value_or(seed_of(params));
  const Split split = given_split != nullptr
                          ? *given_split
                          : random_split(data.interactions, options.test_fraction, split_seed);
  if (split.train.empty()) {
    throw Error(ErrorKind::InvalidArgument,
                fmt::format("no training pairs left after holding out {} of {} pairs for test",
                            split.test.size(), data.interactions.size()));
  }
  const float rated_weight = rated_weight_of(model, params);
  const bool with_rated = rated_weight > 0 && !data.seen_only.empty();
  const Interactions rated_train =
      with_rated ? with_rated_pairs(split.train, data.seen_only, rated_weight) : Interactions{};
  const Interactions& train = with_rated ? rated_train : split.train;
  FitFeatures features = fit_features(options, data);
  std::optional<SideFeatures>& user_features = features.users;
  nlohmann::json& features_training = features.training;
  const Interactions* test = split.test.empty() ? nullptr : &split.test;
  if (with_rated && !options.context_features.empty()) {
    throw Error(ErrorKind::InvalidArgument,
                "context features take each training pair's timestamp, and the rated pairs "
                "(rated weight > 0) have none: give rated weight 0");
  }
  const std::optional<QueryContext> context = fit_context(options, train, test, data.description);
  if (context) features_training["context_features"] = context->encoder.declaration();
  const TrainInput input{train,
                         test,
                         options.on_progress,
                         options.on_epoch,
                         options.init,
                         options.update,
                         user_features ? &*user_features : nullptr,
                         features.items ? &*features.items : nullptr,
                         context ? &*context : nullptr};
  TrainedVectors trained = model.train(params, input);
  std::optional<FeatureTower> user_tower =
      kept_user_tower(trained.user_tower, user_features, context ? &*context : nullptr);
  std::optional<FeatureTower> item_tower = kept_tower(trained.item_tower, features.items);
  return assemble(model, std::move(config), data, split, train, with_rated, std::move(trained),
                  options, warm ? &*warm : nullptr, split_seed, nullptr, std::move(user_tower),
                  std::move(item_tower), features_training);
}

namespace {

// An error every rank raises alike, as the error every rank reports once.
template <class F>
auto on_every_rank(const F& f) -> decltype(f()) {
  try {
    return f();
  } catch (const CollectiveError&) {
    throw;
  } catch (const Error& e) {
    throw CollectiveError(e.kind(), e.what());
  }
}

std::vector<std::uint64_t> concatenated(std::vector<std::uint64_t> a,
                                        const std::vector<std::uint64_t>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

}  // namespace

std::optional<FitResult> fit_distributed(Communicator& comm, const LoadOptions& load,
                                         const FitOptions& options) {
  Plan plan = on_every_rank([&] { return plan_of(options); });
  const ModelSpec& model = plan.model;
  const auto refuse = [&](const std::string& what, const std::string& why) {
    throw CollectiveError(ErrorKind::Unsupported,
                          fmt::format("{} on {} ranks: {}; run latent train as one process for it",
                                      what, comm.size(), why));
  };
  if (options.init != nullptr) refuse("a warm start (--init) does not run", "not yet");
  if (const auto columns = QueryContext::data_columns(options.context_features); !columns.empty()) {
    refuse(fmt::format("context feature \"{}\" does not train", columns.front()),
           "not yet: the pairs carry their time alone from rank to rank (the context feature "
           "timestamp:timestamp trains)");
  }
  on_every_rank([&] { check_features(model, options); });
  if (options.split != nullptr || options.test_fraction > 0) {
    refuse("a held-out test fraction is not taken",
           "not yet (evaluate the model on a held-out file instead)");
  }
  if (!model.train_distributed) {
    refuse(fmt::format("model {} does not train", model.name),
           model.distributed_note.empty() ? "it does not say why" : model.distributed_note);
  }
  DatasetShare share = load_dataset_share(load, comm);
  Dataset& data = share.data;
  // The pairs' times are the context's, and no other distributed training reads them.
  if (options.context_features.empty())
    std::vector<std::int64_t>().swap(data.interactions.timestamps);

  const float rated_weight = rated_weight_of(model, plan.params);
  std::int64_t seen_pairs = static_cast<std::int64_t>(data.seen_only.size());
  comm.allreduce_sum(std::span<std::int64_t>(&seen_pairs, 1));
  const bool with_rated = rated_weight > 0 && seen_pairs > 0;
  RankPairs train;
  if (with_rated) {
    train.pairs = with_rated_pairs(data.interactions, data.seen_only, rated_weight);
    train.segments = concatenated(share.kept_per_file, share.seen_per_file);
  } else {
    // Moved, not copied: gathered back for the seen items after training.
    train.pairs = std::move(data.interactions);
    train.segments = share.kept_per_file;
  }

  // The bytes this rank sent by the end of each epoch (the first epoch's
  // include regrouping the pairs), for the model's training metadata.
  const std::uint64_t sent_before = comm.bytes_sent();
  std::vector<std::uint64_t> sent_at_epoch;
  const EpochCallback on_epoch = [&](const EpochReport& e) {
    sent_at_epoch.push_back(comm.bytes_sent() - sent_before);
    if (options.on_epoch) options.on_epoch(e);
  };
  // Every rank reads the whole feature files and encodes them on the
  // whole vocabularies, so the features are the same on every rank.
  FitFeatures features = on_every_rank([&] { return fit_features(options, data); });
  // The context's statistics are of every rank's pairs; each pair's context
  // is encoded from its timestamp as it travels (its rows here are unused).
  std::optional<QueryContext> context;
  if (!options.context_features.empty()) {
    if (with_rated) {
      throw CollectiveError(ErrorKind::InvalidArgument,
                            "context features take each training pair's timestamp, and the "
                            "rated pairs (rated weight > 0) have none: give rated weight 0");
    }
    if (comm.any_rank(train.pairs.timestamps.size() != train.pairs.size())) {
      throw CollectiveError(ErrorKind::InvalidArgument,
                            fmt::format("context feature \"timestamp\": {}'s pairs have no "
                                        "timestamps (on some rank)",
                                        data.description));
    }
    context = on_every_rank([&] {
      return QueryContext::fit(options.context_features, train.pairs, nullptr, data.description,
                               &comm);
    });
    features.training["context_features"] = context->encoder.declaration();
    context->train = FeatureRows{};  // not read on ranks: its memory back
  }
  TrainedVectors trained = model.train_distributed(
      plan.params, DistributedTrainInput{comm, train, options.on_progress, on_epoch,
                                         features.users ? &*features.users : nullptr,
                                         features.items ? &*features.items : nullptr,
                                         context ? &*context : nullptr});
  sent_at_epoch.push_back(comm.bytes_sent() - sent_before);
  nlohmann::json sent_by_rank = nlohmann::json::array();
  for (const std::string& bytes : comm.allgather(nlohmann::json(sent_at_epoch).dump())) {
    sent_by_rank.push_back(nlohmann::json::parse(bytes));
  }

  // Rank 0 writes the model, whose seen items are every rank's pairs.
  data.interactions = gather_pairs(
      comm, with_rated ? RankPairs{std::move(data.interactions), std::move(share.kept_per_file)}
                       : std::move(train));
  data.seen_only =
      gather_pairs(comm, RankPairs{std::move(data.seen_only), std::move(share.seen_per_file)});
  if (comm.rank() != 0) return std::nullopt;

  Split split;
  split.train = std::move(data.interactions);
  const Interactions rated_train =
      with_rated ? with_rated_pairs(split.train, data.seen_only, rated_weight) : Interactions{};
  // Bytes sent by all the ranks in each epoch, and by each rank in all.
  nlohmann::json by_epoch = nlohmann::json::array();
  nlohmann::json by_rank = nlohmann::json::array();
  const std::size_t epochs = sent_at_epoch.size() - 1;
  for (std::size_t e = 0; e < epochs; ++e) {
    std::uint64_t sum = 0;
    for (const auto& rank : sent_by_rank) {
      sum += rank[e].get<std::uint64_t>() - (e == 0 ? 0 : rank[e - 1].get<std::uint64_t>());
    }
    by_epoch.push_back(sum);
  }
  for (const auto& rank : sent_by_rank) by_rank.push_back(rank.back());
  const nlohmann::json distributed{
      {"ranks", comm.size()}, {"bytes_sent_by_epoch", by_epoch}, {"bytes_sent_by_rank", by_rank}};
  std::optional<FeatureTower> user_tower =
      kept_user_tower(trained.user_tower, features.users, context ? &*context : nullptr);
  std::optional<FeatureTower> item_tower = kept_tower(trained.item_tower, features.items);
  return assemble(model, std::move(plan.config), data, split,
                  with_rated ? rated_train : split.train, with_rated, std::move(trained), options,
                  nullptr, seed_of(plan.params), &distributed, std::move(user_tower),
                  std::move(item_tower), features.training);
}

}  // namespace latent
