#include <latent/popularity.hpp>

#include <vector>

namespace latent {

namespace {

// Sums in double: float32 stops counting at 2^24 events on one item.
std::vector<double> item_counts(const Interactions& train) {
  std::vector<double> counts(static_cast<std::size_t>(train.num_items), 0.0);
  for (std::size_t k = 0; k < train.size(); ++k) {
    counts[static_cast<std::size_t>(train.items[k])] +=
        train.weights.empty() ? 1.0 : train.weights[k];
  }
  return counts;
}

Matrix counts_matrix(const std::vector<double>& counts) {
  Matrix out(static_cast<std::int64_t>(counts.size()), 1);
  for (std::size_t i = 0; i < counts.size(); ++i) out.data()[i] = static_cast<float>(counts[i]);
  return out;
}

}  // namespace

Matrix train_popularity(const Interactions& train) {
  check_training_pairs(train, /*allow_empty=*/true);
  return counts_matrix(item_counts(train));
}

Matrix train_popularity_distributed(Communicator& comm, const RankPairs& train) {
  check_training_pairs(train.pairs, /*allow_empty=*/true);
  std::vector<double> counts = item_counts(train.pairs);
  comm.allreduce_sum(std::span<double>(counts));
  return counts_matrix(counts);
}

}  // namespace latent
