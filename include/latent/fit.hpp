#pragma once
// fit: from a loaded Dataset to a trained Recommender, the one pipeline that
// the CLI, the server and the Python module share: find the model's spec in
// the registry (model_spec.hpp), check its hyper-parameters (Params), split
// off an optional seeded test fraction, add the rated-weight pairs, train,
// and assemble the model file's contents (vocabularies, titles, embeddings,
// seen items, config and training metadata).

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <latent/communicator.hpp>
#include <latent/dataset.hpp>
#include <latent/features.hpp>
#include <latent/model_spec.hpp>
#include <latent/params.hpp>
#include <latent/recommender.hpp>
#include <latent/split.hpp>
#include <latent/training_report.hpp>
#include <latent/warm_start.hpp>

namespace latent {

// The seed of everything seeded when none is given.
inline constexpr std::uint64_t kDefaultSeed = 42;
// The seed policy of every front end: the "seed" parameter when given (so
// --seed also seeds the split), else kDefaultSeed. Throws InvalidArgument
// for a value that is not a seed.
std::uint64_t seed_of(const Params& params);

struct FitOptions {
  std::string model = "two-tower";  // one of model_names()
  Params params;                    // the model's hyper-parameters by name
  double test_fraction = 0.0;       // [0, 1): held out for test metrics
  // Seed of the test_fraction split; unset: seed_of(params).
  std::optional<std::uint64_t> split_seed;
  // An explicit train/test split of data.interactions; overrides test_fraction.
  const Split* split = nullptr;
  ProgressCallback on_progress;
  EpochCallback on_epoch;
  // Throw InvalidArgument when training diverges (inf or NaN in the
  // vectors), rather than return a model that recommends nothing. Off only
  // for callers that score and discard such models themselves (tune trials).
  bool refuse_diverged = true;
  // A warm start (warm_start.hpp): the saved model to train from (not
  // owned; null: a cold start), what to update, and what errors call it
  // (its file). With it, `model` may be empty (the saved model's kind, which
  // a given one must equal), the saved config supplies every parameter not
  // in `params`, the vocabularies begin with the saved ones (new ids after
  // them), and the seen items are the saved ones and the data's. `split`,
  // when given, is of `data` as it is.
  const ModelData* init = nullptr;
  WarmUpdate update = WarmUpdate::All;
  std::string init_name = "the initial model";
  // Side features (features.hpp) of the users and items, by their raw ids
  // (not owned; null: none), for a model that takes them (ModelSpec::
  // takes_features). Each side's encoder is fitted on the rows of the ids
  // in training, and the model file keeps it with the tower.
  const FeatureTable* user_features = nullptr;
  const FeatureTable* item_features = nullptr;
  // Context features of the queries (QueryContext::fit: each pair's
  // timestamp), for a model that takes features; the model file keeps them
  // in the user tower, after the user features.
  std::vector<FeatureColumn> context_features;
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
// check_model_params, test_fraction in [0, 1), and for a warm start the
// initial model's kind, that the model warm-starts (and updates users alone
// when asked), and the parameters it cannot change: what fit() can check
// before any data is read.
nlohmann::json check_fit_options(const FitOptions& options);

// Throws InvalidArgument for an unknown model name (listing the valid ones),
// a parameter the model does not take (listing the ones it does) or an
// invalid value, features for a model that takes none, a warm start that check_fit_options refuses
// or whose data does not fit it (warm_start_data), before any training; and after training, for
// vectors that diverged (unless options.refuse_diverged is false).
FitResult fit(const Dataset& data, const FitOptions& options);

// fit() on the ranks of a distributed run (communicator.hpp): every rank
// calls it with the same options; each reads its share of `load`'s files
// (load_dataset_share), the ranks train together (ModelSpec::
// train_distributed), and rank 0 returns the model, with its seen items
// gathered from every rank; the other ranks return nullopt. The model's
// training metadata says how many ranks trained it and the bytes each sent
// ("distributed"). Throws CollectiveError on every rank for a model that
// does not train on several ranks, a warm start, a test fraction or split
// (not distributed yet) and what fit() refuses; errors of one rank's file
// are thrown on that rank (run_on_every_rank stops the others).
std::optional<FitResult> fit_distributed(Communicator& comm, const LoadOptions& load,
                                         const FitOptions& options);

}  // namespace latent
