#include <latent/fit.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>

#include <fmt/format.h>

#include <latent/als.hpp>
#include <latent/bpr.hpp>
#include <latent/ease.hpp>
#include <latent/error.hpp>
#include <latent/popularity.hpp>

namespace latent {

namespace {

// What a model's trainer hands back; fit() assembles the rest.
struct Trained {
  nlohmann::json config;
  Matrix user_vectors;  // num_users x d: scores are dot(user, item) products
  Matrix item_vectors;  // num_items x d
  std::vector<EpochReport> epochs;
  double seconds = 0;
};

// Reads and validates the model's parameters, then trains on `train`; with
// train == nullptr it only checks the parameters and returns the config.
using Trainer = Trained (*)(const Interactions* train, const Interactions* test, Params& params,
                            const FitOptions& options);

Trained fit_two_tower(const Interactions* train, const Interactions* test, Params& params,
                      const FitOptions& options) {
  TwoTowerConfig c;
  std::string optimizer = to_string(c.optimizer);
  params.read("dim", c.dim);
  params.read("optimizer", optimizer);
  params.read("learning-rate", c.learning_rate);
  params.read("initial-accumulator", c.initial_accumulator);
  params.read("batch-size", c.batch_size);
  params.read("epochs", c.epochs);
  params.read("seed", c.seed);
  params.read("threads", c.threads);
  params.read("temperature", c.temperature);
  std::string negatives = to_string(c.negatives);
  params.read("negatives", negatives);
  params.read("remove-accidental-hits", c.remove_accidental_hits);
  params.read("logq-correction", c.logq_correction);
  params.read("hard-negatives", c.hard_negatives);
  params.read("shuffle", c.shuffle);
  params.read("train-metrics", c.train_metrics);
  params.finish("two-tower");
  c.optimizer = parse_optimizer(optimizer);
  c.negatives = parse_negatives(negatives);
  c.validate();
  if (train == nullptr) return {c.to_json(), {}, {}, {}, 0};
  TwoTowerResult r = train_two_tower(*train, test, c, options.on_progress, options.on_epoch);
  return {c.to_json(), std::move(r.user_embeddings), std::move(r.item_embeddings),
          std::move(r.epochs), r.train_seconds};
}

EpochReport plain_epoch(int epoch, double seconds, double loss) {
  EpochReport e;
  e.epoch = epoch;
  e.seconds = seconds;
  e.loss = loss;
  return e;
}

double total_seconds(const std::vector<EpochReport>& epochs) {
  double t = 0;
  for (const auto& e : epochs) t += e.seconds;
  return t;
}

Trained fit_als(const Interactions* train, const Interactions*, Params& params,
                const FitOptions& options) {
  AlsConfig c;
  std::string solver = to_string(c.solver);
  params.read("dim", c.dim);
  params.read("regularization", c.regularization);
  params.read("alpha", c.alpha);
  params.read("epochs", c.epochs);
  params.read("solver", solver);
  params.read("cg-steps", c.cg_steps);
  params.read("seed", c.seed);
  params.read("threads", c.threads);
  params.read("compute-loss", c.compute_loss);
  params.finish("als");
  c.solver = parse_als_solver(solver);
  c.validate();
  if (train == nullptr) return {c.to_json(), {}, {}, {}, 0};
  std::vector<EpochReport> epochs;
  AlsResult r = train_als(*train, c, [&](int it, double seconds, double loss) {
    epochs.push_back(plain_epoch(it, seconds, loss));
    if (options.on_epoch) options.on_epoch(epochs.back());
  });
  const double seconds = total_seconds(epochs);
  return {c.to_json(), std::move(r.user_factors), std::move(r.item_factors), std::move(epochs),
          seconds};
}

Trained fit_bpr(const Interactions* train, const Interactions*, Params& params,
                const FitOptions& options) {
  BprConfig c;
  params.read("dim", c.dim);
  params.read("learning-rate", c.learning_rate);
  params.read("regularization", c.regularization);
  params.read("epochs", c.epochs);
  params.read("seed", c.seed);
  params.read("threads", c.threads);
  params.finish("bpr");
  c.validate();
  if (train == nullptr) return {c.to_json(), {}, {}, {}, 0};
  std::vector<EpochReport> epochs;
  BprResult r = train_bpr(*train, c, [&](int epoch, double seconds, double accuracy) {
    // BPR reports no loss; its sampled ranking accuracy stands in the log.
    EpochReport e = plain_epoch(epoch, seconds, std::numeric_limits<double>::quiet_NaN());
    e.sampled_accuracy = accuracy;
    epochs.push_back(e);
    if (options.on_epoch) options.on_epoch(epochs.back());
  });
  const double seconds = total_seconds(epochs);
  return {c.to_json(), std::move(r.user_factors), std::move(r.item_factors), std::move(epochs),
          seconds};
}

Trained fit_ease(const Interactions* train, const Interactions*, Params& params,
                 const FitOptions&) {
  EaseConfig c;
  params.read("regularization", c.regularization);
  params.read("memory-limit-gb", c.memory_limit_gb);
  params.read("threads", c.threads);
  std::uint64_t unused_seed = 0;  // EASE is deterministic: a seed changes nothing
  params.read("seed", unused_seed);
  params.finish("ease");
  c.validate();
  if (train == nullptr) return {c.to_json(), {}, {}, {}, 0};
  // A user's query is their training row of X: x_u B scores every item.
  const double user_bytes = 4.0 * train->num_users * static_cast<double>(train->num_items);
  if (user_bytes > c.memory_limit_gb * 1e9) {
    throw Error(ErrorKind::InvalidArgument,
                fmt::format("ease: {} users x {} items need {:.0f} bytes of user rows, above the "
                            "memory limit of {} GB (memory-limit-gb)",
                            train->num_users, train->num_items, user_bytes, c.memory_limit_gb));
  }
  const auto t0 = std::chrono::steady_clock::now();
  Matrix items = train_ease(*train, c);
  Matrix users = ease_user_rows(*train);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return {c.to_json(), std::move(users), std::move(items), {plain_epoch(1, seconds, NAN)}, seconds};
}

Trained fit_popularity(const Interactions* train, const Interactions*, Params& params,
                       const FitOptions&) {
  std::uint64_t unused_seed = 0;  // popularity is deterministic
  int unused_threads = 0;
  params.read("seed", unused_seed);
  params.read("threads", unused_threads);
  params.finish("popularity");
  if (train == nullptr) return {nlohmann::json::object(), {}, {}, {}, 0};
  const auto t0 = std::chrono::steady_clock::now();
  Matrix items = train_popularity(*train);
  Matrix users(train->num_users, 1, 1.0f);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return {nlohmann::json::object(), std::move(users), std::move(items),
          {plain_epoch(1, seconds, NAN)}, seconds};
}

struct Registered {
  const char* name;
  Trainer train;
  // Whether the trainer weighs its pairs (Interactions::weights), so it can
  // take the rated-weight pairs; BPR trains on distinct pairs.
  bool weighs_pairs;
};

// The registry: every model latent can train, by name.
constexpr Registered kModels[] = {
    {"als", fit_als, true},
    {"bpr", fit_bpr, false},
    {"ease", fit_ease, true},
    {"popularity", fit_popularity, true},
    {"two-tower", fit_two_tower, true},
};

const Registered& find_model(const std::string& name) {
  for (const auto& m : kModels) {
    if (name == m.name) return m;
  }
  throw Error(ErrorKind::InvalidArgument, fmt::format("unknown model \"{}\"; valid models: {}",
                                                      name, fmt::join(model_names(), ", ")));
}

nlohmann::json epoch_json(const EpochReport& e) {
  nlohmann::json j{{"epoch", e.epoch}, {"seconds", e.seconds}};
  if (std::isfinite(e.loss)) j["loss"] = e.loss;
  if (std::isfinite(e.sampled_accuracy)) j["sampled_accuracy"] = e.sampled_accuracy;
  if (e.has_train) j["train"] = e.train.to_json();
  if (e.has_test) j["test"] = e.test.to_json();
  return j;
}

}  // namespace

const std::vector<std::string>& model_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> v;
    for (const auto& m : kModels) v.emplace_back(m.name);
    return v;
  }();
  return names;
}

nlohmann::json FitResult::metrics_json() const {
  nlohmann::json epochs_json = nlohmann::json::array();
  for (const auto& e : epochs) epochs_json.push_back(epoch_json(e));
  nlohmann::json j{{"model", model.model().kind},
                   {"config", model.model().config},
                   {"train_seconds", train_seconds},
                   {"train_pairs", train_pairs},
                   {"test_pairs", test_pairs},
                   {"epochs", epochs_json}};
  if (!epochs.empty() && epochs.back().has_test) j["test"] = epochs.back().test.to_json();
  return j;
}

namespace {

// The "rated-weight" parameter, read by fit for every model that weighs its
// pairs; for the others the name stays unread and finish() reports it as not
// applying.
float read_rated_weight(const Registered& model, Params& params) {
  float weight = 0.0f;
  if (!model.weighs_pairs) return weight;
  params.read("rated-weight", weight);
  if (!(std::isfinite(weight) && weight >= 0)) {
    throw Error(ErrorKind::InvalidArgument,
                fmt::format("rated-weight {} must be a finite number >= 0", weight));
  }
  return weight;
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

}  // namespace

nlohmann::json check_model_params(const std::string& model, const Params& params) {
  Params copy = params;
  const Registered& registered = find_model(model);
  const float rated_weight = read_rated_weight(registered, copy);
  nlohmann::json config = registered.train(nullptr, nullptr, copy, FitOptions{}).config;
  if (rated_weight > 0) config["rated_weight"] = rated_weight;
  return config;
}

FitResult fit(const Dataset& data, const FitOptions& options) {
  const Registered& model = find_model(options.model);
  const Split split = options.split != nullptr
                          ? *options.split
                          : random_split(data.interactions, options.test_fraction, options.split_seed);
  if (split.train.empty()) {
    throw Error(ErrorKind::InvalidArgument,
                fmt::format("no training pairs left after holding out {} of {} pairs for test",
                            split.test.size(), data.interactions.size()));
  }
  Params params = options.params;
  const float rated_weight = read_rated_weight(model, params);
  const bool with_rated = rated_weight > 0 && !data.seen_only.empty();
  const Interactions rated_train =
      with_rated ? with_rated_pairs(split.train, data.seen_only, rated_weight) : Interactions{};
  const Interactions& train = with_rated ? rated_train : split.train;
  Trained trained = model.train(&train, split.test.empty() ? nullptr : &split.test, params, options);
  if (rated_weight > 0) trained.config["rated_weight"] = rated_weight;

  ModelData m;
  m.kind = options.model;
  m.config = std::move(trained.config);
  m.users = data.users;
  m.items = data.items;
  m.item_titles = data.item_titles;
  m.user_embeddings = std::move(trained.user_vectors);
  m.item_embeddings = std::move(trained.item_vectors);
  // Seen: the training pairs and the pairs the rating filter dropped.
  if (with_rated) {
    m.seen = CsrMatrix::from_interactions(rated_train);
  } else if (data.seen_only.empty()) {
    m.seen = CsrMatrix::from_interactions(split.train);  // no copy of the training pairs
  } else {
    m.seen = CsrMatrix::from_interactions(pairs_of_both(split.train, data.seen_only));
  }

  nlohmann::json training{{"data", data.description},
                          {"train_pairs", split.train.size()},
                          {"test_pairs", split.test.size()},
                          {"seen_only_pairs", data.seen_only.size()},
                          {"rated_pairs_trained", with_rated ? data.seen_only.size() : 0},
                          {"test_fraction", options.split != nullptr ? 0.0 : options.test_fraction},
                          {"split_seed", options.split_seed},
                          {"train_seconds", trained.seconds}};
  nlohmann::json epochs_json = nlohmann::json::array();
  for (const auto& e : trained.epochs) epochs_json.push_back(epoch_json(e));
  training["epochs"] = epochs_json;
  m.training = std::move(training);
  return FitResult{Recommender(std::move(m)), std::move(trained.epochs), trained.seconds,
                   split.train.size(), split.test.size()};
}

}  // namespace latent
