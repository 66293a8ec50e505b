#pragma once
// The FactorizedTopK count shared by factorized_top_k (evaluation.cpp) and
// the two-tower trainer's running metrics (two_tower.cpp).

#include <cstddef>
#include <cstdint>
#include <vector>

#include "detail/kernels.hpp"

namespace latent::detail {

// Counts, for each pair (user row r of `scores`, true candidate c), how many
// candidates score strictly higher, and adds `weight` to hits[k] for every
// k it ranks within. scores: rows x n_candidates.
struct RankCounter {
  const std::vector<int>& ks;
  std::vector<double>& hits;

  void add(const float* row, std::int64_t n_candidates, std::int32_t candidate, double weight) {
    const float pos = row[candidate];
    const std::int64_t above = count_greater(row, n_candidates, pos);
    for (std::size_t k = 0; k < ks.size(); ++k) {
      if (above < ks[k]) hits[k] += weight;
    }
  }
};

}  // namespace latent::detail
