#pragma once
// The built-in models' specs (one file each in src/models/) and what their
// trainers share.

#include <chrono>
#include <limits>
#include <vector>

#include <latent/model_spec.hpp>

namespace latent {

// The built-in models, in name order; the registry starts with them.
std::vector<ModelSpec> builtin_model_specs();

namespace detail {

// Epoch `epoch` of `epochs`' report of a model without running metrics;
// loss NaN when the model reports none.
inline EpochReport plain_epoch(int epoch, int epochs, double seconds,
                               double loss = std::numeric_limits<double>::quiet_NaN()) {
  EpochReport e;
  e.epoch = epoch;
  e.epochs = epochs;
  e.seconds = seconds;
  e.loss = loss;
  return e;
}

inline double total_seconds(const std::vector<EpochReport>& epochs) {
  double t = 0;
  for (const auto& e : epochs) t += e.seconds;
  return t;
}

inline double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace detail
}  // namespace latent
