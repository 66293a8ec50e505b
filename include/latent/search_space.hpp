#pragma once
// SearchSpace: candidate values of hyper-parameters, the grid a tuning
// search draws its points from. Each model's spec carries a default one
// (model_spec.hpp); `latent tune --grid` replaces or adds names.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <latent/params.hpp>

namespace latent {

// Parameter name (as Params takes it: "regularization", "learning-rate",
// ...) -> candidate values as text, tried in the order given.
struct SearchSpace {
  std::map<std::string, std::vector<std::string>> values;

  // Number of grid points: the product of the list sizes (1 for an empty
  // space: the fixed parameters alone). Throws InvalidArgument above 2^62.
  std::uint64_t size() const;
  // Throws InvalidArgument when a name has no values or a value twice
  // (naming the name and value).
  void check() const;
};

// Grid point `index` in [0, space.size()): names in map order, the first
// name varying slowest (as nested loops), values in list order. The Params
// hold one value per name of the space.
Params grid_point(const SearchSpace& space, std::uint64_t index);

// The points a search tries: every point in grid order when space.size() <=
// trials, else `trials` distinct points drawn uniformly by Rng(seed) (a
// partial Fisher-Yates shuffle of the point indices), in draw order.
// Throws InvalidArgument when trials < 1 or space.check() fails.
std::vector<Params> sample_grid(const SearchSpace& space, int trials, std::uint64_t seed);

}  // namespace latent
