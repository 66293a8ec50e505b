#include <latent/fit.hpp>

#include <algorithm>

#include <fmt/format.h>

#include <latent/error.hpp>

namespace latent {

const std::vector<std::string>& model_names() {
  static const std::vector<std::string> names{"two-tower"};
  return names;
}

namespace {

nlohmann::json epoch_json(const EpochReport& e) {
  nlohmann::json j{{"epoch", e.epoch}, {"loss", e.loss}, {"seconds", e.seconds}};
  if (e.has_train) j["train"] = e.train.to_json();
  if (e.has_test) j["test"] = e.test.to_json();
  return j;
}

}  // namespace

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

FitResult fit(const Dataset& data, const FitOptions& options) {
  const auto& names = model_names();
  if (std::find(names.begin(), names.end(), options.model) == names.end()) {
    throw Error(ErrorKind::InvalidArgument,
                fmt::format("unknown model \"{}\"; valid models: {}", options.model,
                            fmt::join(names, ", ")));
  }
  options.two_tower.validate();
  const Split split = random_split(data.interactions, options.test_fraction, options.split_seed);
  if (split.train.empty()) {
    throw Error(ErrorKind::InvalidArgument,
                fmt::format("no training pairs left after holding out {} of {} pairs for test",
                            split.test.size(), data.interactions.size()));
  }
  TwoTowerResult trained =
      train_two_tower(split.train, split.test.empty() ? nullptr : &split.test, options.two_tower,
                      options.on_progress, options.on_epoch);

  ModelData m;
  m.kind = options.model;
  m.config = options.two_tower.to_json();
  m.users = data.users;
  m.items = data.items;
  m.item_titles = data.item_titles;
  m.user_embeddings = std::move(trained.user_embeddings);
  m.item_embeddings = std::move(trained.item_embeddings);
  m.seen = CsrMatrix::from_interactions(split.train);

  nlohmann::json training{{"data", data.description},
                          {"train_pairs", split.train.size()},
                          {"test_pairs", split.test.size()},
                          {"test_fraction", options.test_fraction},
                          {"split_seed", options.split_seed},
                          {"train_seconds", trained.train_seconds}};
  nlohmann::json epochs_json = nlohmann::json::array();
  for (const auto& e : trained.epochs) epochs_json.push_back(epoch_json(e));
  training["epochs"] = epochs_json;
  m.training = std::move(training);
  return FitResult{Recommender(std::move(m)), std::move(trained.epochs), trained.train_seconds,
                   split.train.size(), split.test.size()};
}

}  // namespace latent
