#pragma once
// Hyper-parameter search: for any registered model, try points of a grid of
// parameter values, each trained on a validation split carved from the
// TRAINING part only and scored by one ranking metric at K, so the held-out
// test part never takes part in the choice. tune_and_test then retrains the
// best parameters (TuneResult::best_params) on the whole training part and
// scores that model on the test part for an honest figure; `latent tune` and
// Python's Model.tune both run it.
//
// The search: the full grid, in grid order, when it has <= trials points;
// otherwise `trials` distinct grid points drawn uniformly with a seeded
// latent::Rng, in draw order. Same inputs and seed, same trials.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <latent/dataset.hpp>
#include <latent/evaluation.hpp>
#include <latent/fit.hpp>
#include <latent/params.hpp>
#include <latent/search_space.hpp>
#include <latent/split.hpp>

namespace latent {

// The model's default grid (its spec's search_space, model_spec.hpp).
// Throws InvalidArgument for an unknown model (listing the valid ones).
SearchSpace default_search_space(const std::string& model);

// The grid a search on `model` runs: its default grid less the names in
// `fixed`, with each name of `overrides` replacing (or adding) its list.
SearchSpace search_space_for(const std::string& model, const Params& fixed,
                             const SearchSpace& overrides);

// The metrics a search can choose by: the ranking metrics at K "ndcg",
// "recall", "precision", "map", "hit_rate" (larger is better), and "rmse",
// the RMSE of a rating task's predicted ratings (smaller is better; the
// model must train the rating task, on data with ratings).
const std::vector<std::string>& tune_metric_names();
bool smaller_is_better(const std::string& metric);
// The named ranking metric of `m`; throws InvalidArgument for another name,
// listing the valid ones.
double metric_value(const MetricsAtK& m, const std::string& metric);
// The named metric of `r` (at k for the ranking metrics; NaN for rmse
// when `r` has none).
double metric_value(const EvaluationResult& r, const std::string& metric, int k);

struct Trial {
  int index = 0;            // position in TuneResult::trials, 0-based
  Params params;            // the grid point: one value per searched name
  double value = 0;         // options.metric at options.k on the validation part
  EvaluationResult result;  // every metric of the validation part
  double train_seconds = 0;
};

struct TuneOptions {
  std::string model = "two-tower";    // one of model_names()
  Params fixed;                       // parameters every trial uses (not searched)
  SearchSpace space;                  // searched; no name may also be in `fixed`
  int trials = 20;                    // at most this many fits
  std::uint64_t seed = kDefaultSeed;  // sampling of grid points
  // How `train` is split into the part each trial fits and the part it is
  // scored on (make_split on `train`; every validation user keeps training
  // items). Its own seed, so callers can keep it apart from the outer split's.
  SplitSpec validation{SplitMethod::PerUser, 0.2, 1, kDefaultSeed + 1};
  // Ranking options; `k` is added to eval.ks.
  EvaluationOptions eval;
  std::string metric = "ndcg";  // one of tune_metric_names()
  int k = 10;                   // in [1, known items]
  // Side and context features for every fit, as FitOptions's (not owned).
  const FeatureTable* user_features = nullptr;
  const FeatureTable* item_features = nullptr;
  std::vector<FeatureColumn> context_features;
  // Called after each trial, in order (e.g. to print a table row).
  std::function<void(const Trial&)> on_trial;

  // The seeds of a run from one seed s (seed_of the parameters, as every
  // front end does): s samples the grid, s + 1 seeds the validation split,
  // so each user's validation draw does not follow their test draw (the
  // outer split takes s).
  void set_seed(std::uint64_t s);
};

struct TuneResult {
  std::vector<Trial> trials;  // in the order they ran
  std::size_t best = 0;       // index of the highest value; the earliest on ties
  std::uint64_t grid_size = 0;
  std::size_t fit_pairs = 0;         // entries of train each trial fitted
  std::size_t validation_pairs = 0;  // entries of train it was scored on
  // options.fixed with the best trial's point: what to retrain with.
  Params best_params;
};

// Checks what tune() can check without data: the model, the fixed
// parameters, the metric, trials, the validation fraction (in (0, 1)), the
// space (empty lists, repeated values, names both fixed and searched) and
// every candidate value against the model (check_model_params). Throws
// InvalidArgument as tune() does.
void check_tune_options(const TuneOptions& options);

// Searches on `train` (rows of data.users / data.items; usually the train
// part of an outer split of data.interactions); `data` provides the
// vocabularies and titles, as for fit().
//
// Throws InvalidArgument before any training for: an unknown model or
// metric, trials < 1, k outside [1, known items], an empty value list or a
// repeated value, a name both fixed and searched, a parameter the model does
// not take or a value it rejects (each candidate is checked with
// check_model_params), a validation split that holds out nothing; for
// rmse, pairs without ratings or a grid point that trains no rating task.
TuneResult tune(const Dataset& data, const Interactions& train, const TuneOptions& options);

// A whole tuning run: the search on split.train, then the best parameters
// retrained on all of split.train and scored on split.test (with
// options.eval and the ks {options.k}).
struct TuneReport {
  TuneResult search;
  FitResult best;         // the retrained model
  EvaluationResult test;  // its metrics on the test part

  // Everything a report file holds: model, data, metric, k, seed,
  // validation (fraction, seed, pairs), fixed, search_space, grid_size,
  // trials (params, value, seconds, validation metrics), best (trial,
  // params, value, config, train_seconds, test metrics), split (pairs).
  nlohmann::json to_json(const Dataset& data, const TuneOptions& options) const;
};

// Throws as tune() does, before any training.
TuneReport tune_and_test(const Dataset& data, const Split& split, const TuneOptions& options);

}  // namespace latent
