#pragma once
// EASE (Steck, "Embarrassingly Shallow Autoencoders for Sparse Data", WWW
// 2019): an item x item weight matrix B with zero diagonal in closed form,
//   P = (X^T X + lambda I)^-1,   B = I - P diag(1 / diag(P)),
// where X is the num_users x num_items matrix of the training pairs: a
// distinct pair is a 1 (duplicates count once), or, when the pairs have
// weights, the sum of its weights (e.g. a low rating as a weak positive).
// A user's scores are x_u B: the model is B as a dense item-to-item term
// (item_to_item.hpp) over the user's items weighing their x_ui, so scoring
// a user reads the rows of B of their items (sum over users of their items
// x num_items), never a dense users x items matrix.
//
// Cost: one num_items x num_items float32 matrix (X^T X is accumulated into
// it, inverted in place by LAPACK's Cholesky routines and turned into B in
// place), so memory is num_items^2 * 4 bytes: 11 MB for MovieLens 100K's
// 1,683 item rows, 6.7 GB for Gowalla's 40,982. Time: O(num_items^3) in
// LAPACK (single-threaded inside latent), 0.1 s for 1,683 items.

#include <nlohmann/json.hpp>

#include <latent/communicator.hpp>
#include <latent/interactions.hpp>
#include <latent/item_to_item.hpp>
#include <latent/matrix.hpp>
#include <latent/rank_pairs.hpp>

namespace latent {

// What EASE's refusals of a catalog too large for its memory limit suggest.
inline constexpr const char* kEaseAlternative =
    "for a catalog this size, --model gf-cf (item-based too, with sparse item-item weights) or "
    "--model als";

struct EaseConfig {
  // lambda, added to the diagonal of X^T X. Default: the best of 25-1000 on
  // a validation split of MovieLens 100K positives (NDCG@10).
  float regularization = 300.0f;
  // Refuse (before allocating) when the item x item matrix needs more.
  // GB = 1e9 bytes; 0: half of this machine's physical memory.
  double memory_limit_gb = 0.0;
  int threads = 0;  // 0: all hardware threads

  // Throws InvalidArgument naming the field and value.
  void validate() const;
  nlohmann::json to_json() const;
};

// Returns B as a dense ItemToItem: zero diagonal, row 0 (OOV) and column 0
// zero. Throws InvalidArgument for an invalid config, no pairs, a pair
// outside the vocabularies (or on OOV), and when the num_items^2 * 4 bytes
// it needs exceed config.memory_limit_gb (naming the item count, the bytes,
// the limit and kEaseAlternative).
ItemToItem train_ease(const Interactions& train, const EaseConfig& config);

// train_ease on the ranks of a distributed run (collective). Users are cut
// into contiguous ranges of about equal pairs, one per rank; each rank gets
// every pair of its users and adds its users' part of X^T X, and the parts
// are summed in rank order (an allreduce of items^2 floats). Unweighted
// pairs make small integer sums, exact in any order, so B is train_ease's
// bit for bit; fractional weights are added in another order (differences
// of a float rounding in G). Rank 0 alone inverts and returns B; the other
// ranks return an empty term. Throws CollectiveError on every rank when the
// matrix is over the memory limit.
ItemToItem train_ease_distributed(Communicator& comm, const RankPairs& train,
                                  const EaseConfig& config);

}  // namespace latent
