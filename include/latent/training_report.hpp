#pragma once
// What training reports as it goes, for every model: per-epoch (or
// per-iteration) reports with the loss and, for the two-tower model, the
// FactorizedTopK accuracy on the training and held-out pairs; and per-batch
// progress for the models that train in batches.

#include <cstddef>
#include <functional>
#include <limits>
#include <vector>

#include <nlohmann/json.hpp>

namespace latent {

// FactorizedTopK accuracy per k, in the order of ks.
struct TopKAccuracy {
  std::vector<int> ks;
  std::vector<double> accuracy;
  std::size_t pairs = 0;  // the pairs ranked
  // Ranked for a sample of the pairs, not all of them (two-tower's running
  // metrics with in-batch negatives on a large catalog).
  bool sampled = false;
  nlohmann::json to_json() const;  // {"top_1": .., "top_5": .., ...}
};

struct EpochReport {
  int epoch = 0;   // 1-based
  int epochs = 0;  // how many the training runs (0: not known)
  // Two-tower: the mean over batches of the summed batch loss (as Keras
  // shows it); ALS: its objective when asked for; NaN when there is none.
  double loss = 0;
  // BPR: the fraction of the epoch's sampled triples ranked right.
  double sampled_accuracy = std::numeric_limits<double>::quiet_NaN();
  double seconds = 0;  // wall time of the epoch, metrics included
  bool has_train = false;
  TopKAccuracy train;  // running metrics over the epoch
  bool has_test = false;
  TopKAccuracy test;  // after the epoch, over the held-out pairs
  // Two-tower with a rating head: the RMSE of the predicted ratings, running
  // over the epoch's batches and after it over the held-out pairs; NaN
  // without one.
  double train_rmse = std::numeric_limits<double>::quiet_NaN();
  double test_rmse = std::numeric_limits<double>::quiet_NaN();
};

struct TrainProgress {
  int epoch;
  int epochs;
  int batch;    // batches done in this epoch
  int batches;  // batches per epoch
  double loss;  // running mean of batch losses in this epoch
  double seconds;
};

using ProgressCallback = std::function<void(const TrainProgress&)>;
using EpochCallback = std::function<void(const EpochReport&)>;

}  // namespace latent
