#pragma once
// Hyper-parameter search: for any registered model, try points of a grid of
// parameter values, each trained on a validation split carved from the
// TRAINING part only and scored by one ranking metric at K, so the held-out
// test part never takes part in the choice. The caller retrains the best
// parameters (TuneResult::best_params) on the whole training part and scores
// that model on the test part for an honest figure (`latent tune` does).
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
#include <latent/params.hpp>
#include <latent/split.hpp>

namespace latent {

// Parameter name (as Params takes it: "regularization", "learning-rate",
// ...) -> candidate values as text, tried in the order given.
struct SearchSpace {
  std::map<std::string, std::vector<std::string>> values;

  // Number of grid points: the product of the list sizes (1 for an empty
  // space: the fixed parameters alone). Throws InvalidArgument above 2^62.
  std::uint64_t size() const;
};

// A grid per model, around the defaults (chosen on such validation splits
// of MovieLens 100K):
//   als:        regularization x alpha (6 x 5)
//   bpr:        learning-rate x regularization x epochs (4 x 4 x 4)
//   ease:       regularization (8)
//   two-tower:  learning-rate x batch-size x epochs (4 x 3 x 3)
//   popularity: empty (nothing to tune)
// Throws InvalidArgument for an unknown model (listing the valid ones).
SearchSpace default_search_space(const std::string& model);

// Grid point `index` in [0, space.size()): names in map order, the first
// name varying slowest (as nested loops), values in list order. The Params
// hold one value per name of the space.
Params grid_point(const SearchSpace& space, std::uint64_t index);

// The points a search tries: every point in grid order when space.size() <=
// trials, else `trials` distinct points drawn uniformly by Rng(seed) (a
// partial Fisher-Yates shuffle of the point indices), in draw order.
// Throws InvalidArgument when trials < 1, a name has no values or a value
// twice (naming the name and value).
std::vector<Params> sample_grid(const SearchSpace& space, int trials, std::uint64_t seed);

// The metrics a search can choose by: "ndcg", "recall", "precision", "map",
// "hit_rate".
const std::vector<std::string>& tune_metric_names();
// The named metric of `m`; throws InvalidArgument for another name, listing
// the valid ones.
double metric_value(const MetricsAtK& m, const std::string& metric);

struct Trial {
  int index = 0;            // position in TuneResult::trials, 0-based
  Params params;            // the grid point: one value per searched name
  double value = 0;         // options.metric at options.k on the validation part
  EvaluationResult result;  // every metric of the validation part
  double train_seconds = 0;
};

struct TuneOptions {
  std::string model = "two-tower";  // one of model_names()
  Params fixed;                     // parameters every trial uses (not searched)
  SearchSpace space;                // searched; no name may also be in `fixed`
  int trials = 20;                  // at most this many fits
  std::uint64_t seed = 42;          // sampling of grid points
  // How `train` is split into the part each trial fits and the part it is
  // scored on (make_split on `train`; every validation user keeps training
  // items). Its own seed, so callers can keep it apart from the outer split's.
  SplitSpec validation{SplitMethod::PerUser, 0.2, 1, 43};
  // Ranking options; `k` is added to eval.ks.
  EvaluationOptions eval;
  std::string metric = "ndcg";  // one of tune_metric_names(); larger is better
  int k = 10;                   // in [1, known items]
  // Called after each trial, in order (e.g. to print a table row).
  std::function<void(const Trial&)> on_trial;
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
// parameters, the metric, trials, the space (empty lists, repeated values,
// names both fixed and searched) and every candidate value against the
// model (check_model_params). Throws InvalidArgument as tune() does.
void check_tune_options(const TuneOptions& options);

// Searches on `train` (rows of data.users / data.items; usually the train
// part of an outer split of data.interactions); `data` provides the
// vocabularies and titles, as for fit().
//
// Throws InvalidArgument before any training for: an unknown model or
// metric, trials < 1, k outside [1, known items], an empty value list or a
// repeated value, a name both fixed and searched, a parameter the model does
// not take or a value it rejects (each candidate is checked with
// check_model_params), a validation split that holds out nothing.
TuneResult tune(const Dataset& data, const Interactions& train, const TuneOptions& options);

}  // namespace latent
