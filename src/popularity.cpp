#include <latent/popularity.hpp>

#include <vector>

namespace latent {

Matrix train_popularity(const Interactions& train) {
  check_training_pairs(train, /*allow_empty=*/true);
  // Sums in double: float32 stops counting at 2^24 events on one item.
  std::vector<double> counts(static_cast<std::size_t>(train.num_items), 0.0);
  for (std::size_t k = 0; k < train.size(); ++k) {
    counts[static_cast<std::size_t>(train.items[k])] +=
        train.weights.empty() ? 1.0 : train.weights[k];
  }
  Matrix out(static_cast<std::int64_t>(counts.size()), 1);
  for (std::size_t i = 0; i < counts.size(); ++i) out.data()[i] = static_cast<float>(counts[i]);
  return out;
}

}  // namespace latent
