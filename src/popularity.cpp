#include <latent/popularity.hpp>

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include <latent/error.hpp>

namespace latent {

Matrix train_popularity(const Interactions& train) {
  if (train.items.size() != train.size()) {
    throw Error(ErrorKind::InvalidArgument,
                fmt::format("{} items for {} users in the training pairs", train.items.size(),
                            train.size()));
  }
  const bool weighted = !train.weights.empty();
  if (weighted && train.weights.size() != train.size()) {
    throw Error(ErrorKind::InvalidArgument, fmt::format("{} weights for {} training pairs",
                                                        train.weights.size(), train.size()));
  }
  // Sums in double: float32 stops counting at 2^24 events on one item.
  std::vector<double> counts(static_cast<std::size_t>(std::max(train.num_items, 0)), 0.0);
  for (std::size_t k = 0; k < train.size(); ++k) {
    if (train.users[k] <= 0 || train.users[k] >= train.num_users || train.items[k] <= 0 ||
        train.items[k] >= train.num_items) {
      throw Error(ErrorKind::InvalidArgument,
                  fmt::format("training pair {} (user row {}, item row {}) is out of the "
                              "vocabularies ({} user rows, {} item rows; row 0 is OOV)",
                              k, train.users[k], train.items[k], train.num_users, train.num_items));
    }
    const float w = weighted ? train.weights[k] : 1.0f;
    if (!(std::isfinite(w) && w >= 0)) {
      throw Error(
          ErrorKind::InvalidArgument,
          fmt::format("training pair {} has weight {}; weights must be finite and >= 0", k, w));
    }
    counts[static_cast<std::size_t>(train.items[k])] += w;
  }
  Matrix out(static_cast<std::int64_t>(counts.size()), 1);
  for (std::size_t i = 0; i < counts.size(); ++i) out.data()[i] = static_cast<float>(counts[i]);
  return out;
}

}  // namespace latent
