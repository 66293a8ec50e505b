#pragma once
// A test hook into train_bpr's negative sampler (defined in bpr.cpp), kept
// out of the public bpr.hpp: tests reach it through the src include path.

#include <cstdint>
#include <span>
#include <vector>

#include <latent/interactions.hpp>

namespace latent::detail {

// One negative per entry of `users` (in order, drawn from Rng(seed)) by the
// sampler train_bpr uses on `train`'s distinct pairs; -1 for a user who has
// every item.
std::vector<std::int32_t> bpr_sample_negatives(const Interactions& train,
                                               std::span<const std::int32_t> users,
                                               std::uint64_t seed);

}  // namespace latent::detail
