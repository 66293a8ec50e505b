#pragma once
// fit: from a loaded Dataset to a trained Recommender, the one pipeline that
// the CLI, the server and the Python module share: choose the model by name
// from the registry, read its hyper-parameters (Params), split off an
// optional seeded test fraction, train, and assemble the model file's
// contents (vocabularies, titles, embeddings, seen items, config and
// training metadata).

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <latent/dataset.hpp>
#include <latent/params.hpp>
#include <latent/recommender.hpp>
#include <latent/two_tower.hpp>

namespace latent {

// Model names the registry knows, in the order help texts list them.
const std::vector<std::string>& model_names();

struct FitOptions {
  std::string model = "two-tower";  // one of model_names()
  Params params;                    // the model's hyper-parameters by name
  double test_fraction = 0.0;       // [0, 1): held out for test metrics
  std::uint64_t split_seed = 42;
  // An explicit train/test split of data.interactions; overrides test_fraction.
  const Split* split = nullptr;
  ProgressCallback on_progress;
  EpochCallback on_epoch;
};

struct FitResult {
  Recommender model;
  std::vector<EpochReport> epochs;
  double train_seconds = 0;
  std::size_t train_pairs = 0;
  std::size_t test_pairs = 0;
  // {"model", "train_seconds", "train_pairs", "test_pairs", "epochs": [...]}
  nlohmann::json metrics_json() const;
};

// Checks a model name and its parameters without training; returns the
// config the model would train with. Throws as fit() does.
nlohmann::json check_model_params(const std::string& model, const Params& params);

// Throws InvalidArgument for an unknown model name (listing the valid ones),
// a parameter the model does not take (listing the ones it does) or an
// invalid value, before any training.
FitResult fit(const Dataset& data, const FitOptions& options);

}  // namespace latent
