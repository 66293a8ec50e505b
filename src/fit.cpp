#include <latent/fit.hpp>

#include <algorithm>

#include <fmt/format.h>

#include <latent/error.hpp>

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
  params.read("remove-accidental-hits", c.remove_accidental_hits);
  params.read("logq-correction", c.logq_correction);
  params.read("hard-negatives", c.hard_negatives);
  params.read("shuffle", c.shuffle);
  params.read("train-metrics", c.train_metrics);
  params.finish("two-tower");
  c.optimizer = parse_optimizer(optimizer);
  c.validate();
  if (train == nullptr) return {c.to_json(), {}, {}, {}, 0};
  TwoTowerResult r = train_two_tower(*train, test, c, options.on_progress, options.on_epoch);
  return {c.to_json(), std::move(r.user_embeddings), std::move(r.item_embeddings),
          std::move(r.epochs), r.train_seconds};
}

struct Registered {
  const char* name;
  Trainer train;
};

// The registry: every model latent can train, by name.
constexpr Registered kModels[] = {
    {"two-tower", fit_two_tower},
};

Trainer find_trainer(const std::string& name) {
  for (const auto& m : kModels) {
    if (name == m.name) return m.train;
  }
  throw Error(ErrorKind::InvalidArgument, fmt::format("unknown model \"{}\"; valid models: {}",
                                                      name, fmt::join(model_names(), ", ")));
}

nlohmann::json epoch_json(const EpochReport& e) {
  nlohmann::json j{{"epoch", e.epoch}, {"loss", e.loss}, {"seconds", e.seconds}};
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

nlohmann::json check_model_params(const std::string& model, const Params& params) {
  Params copy = params;
  return find_trainer(model)(nullptr, nullptr, copy, FitOptions{}).config;
}

FitResult fit(const Dataset& data, const FitOptions& options) {
  const Trainer trainer = find_trainer(options.model);
  const Split split = options.split != nullptr
                          ? *options.split
                          : random_split(data.interactions, options.test_fraction, options.split_seed);
  if (split.train.empty()) {
    throw Error(ErrorKind::InvalidArgument,
                fmt::format("no training pairs left after holding out {} of {} pairs for test",
                            split.test.size(), data.interactions.size()));
  }
  Params params = options.params;
  Trained trained = trainer(&split.train, split.test.empty() ? nullptr : &split.test, params, options);

  ModelData m;
  m.kind = options.model;
  m.config = std::move(trained.config);
  m.users = data.users;
  m.items = data.items;
  m.item_titles = data.item_titles;
  m.user_embeddings = std::move(trained.user_vectors);
  m.item_embeddings = std::move(trained.item_vectors);
  m.seen = CsrMatrix::from_interactions(split.train);

  nlohmann::json training{{"data", data.description},
                          {"train_pairs", split.train.size()},
                          {"test_pairs", split.test.size()},
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
