#include <latent/search_space.hpp>

#include <set>

#include <fmt/format.h>

#include <latent/error.hpp>
#include <latent/random.hpp>

namespace latent {

namespace {
constexpr std::uint64_t kMaxGridPoints = std::uint64_t{1} << 62;
}  // namespace

std::uint64_t SearchSpace::size() const {
  std::uint64_t n = 1;
  for (const auto& [name, list] : values) {
    const std::uint64_t m = list.size();
    if (m != 0 && n > kMaxGridPoints / m) {
      throw Error(ErrorKind::InvalidArgument,
                  fmt::format("search space: more than 2^62 grid points (at parameter {})", name));
    }
    n *= m;
  }
  return n;
}

void SearchSpace::check() const {
  for (const auto& [name, list] : values) {
    if (list.empty()) {
      throw Error(ErrorKind::InvalidArgument,
                  fmt::format("search space: parameter {} has no candidate values", name));
    }
    std::set<std::string> seen;
    for (const auto& v : list) {
      if (!seen.insert(v).second) {
        throw Error(
            ErrorKind::InvalidArgument,
            fmt::format("search space: parameter {} lists the value \"{}\" twice", name, v));
      }
    }
  }
}

Params grid_point(const SearchSpace& space, std::uint64_t index) {
  // Mixed radix with the last name as the lowest digit.
  Params p;
  std::vector<std::pair<const std::string*, const std::vector<std::string>*>> names;
  for (const auto& [name, list] : space.values) names.emplace_back(&name, &list);
  for (auto it = names.rbegin(); it != names.rend(); ++it) {
    const std::uint64_t m = it->second->size();
    p.set(*it->first, (*it->second)[static_cast<std::size_t>(index % m)]);
    index /= m;
  }
  return p;
}

std::vector<Params> sample_grid(const SearchSpace& space, int trials, std::uint64_t seed) {
  if (trials < 1) {
    throw Error(ErrorKind::InvalidArgument, fmt::format("trials must be >= 1, got {}", trials));
  }
  space.check();
  const std::uint64_t n = space.size();
  std::vector<Params> points;
  const auto want = static_cast<std::uint64_t>(trials);
  if (n <= want) {
    for (std::uint64_t i = 0; i < n; ++i) points.push_back(grid_point(space, i));
    return points;
  }
  // Partial Fisher-Yates over the virtual array 0..n-1; `moved` holds the
  // slots that differ from identity, so memory is O(trials) for any n.
  Rng rng(seed);
  std::map<std::uint64_t, std::uint64_t> moved;
  const auto at = [&](std::uint64_t i) {
    const auto it = moved.find(i);
    return it == moved.end() ? i : it->second;
  };
  for (std::uint64_t i = 0; i < want; ++i) {
    const std::uint64_t j = i + rng.below(n - i);
    const std::uint64_t vi = at(i);
    const std::uint64_t vj = at(j);
    moved[j] = vi;
    moved[i] = vj;
    points.push_back(grid_point(space, vj));
  }
  return points;
}

}  // namespace latent
