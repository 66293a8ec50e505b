#pragma once
// EASE (Steck, "Embarrassingly Shallow Autoencoders for Sparse Data", WWW
// 2019): an item x item weight matrix B with zero diagonal in closed form,
//   P = (X^T X + lambda I)^-1,   B = I - P diag(1 / diag(P)),
// where X is the num_users x num_items matrix of the training pairs: a
// distinct pair is a 1 (duplicates count once), or, when the pairs have
// weights, the sum of its weights (e.g. a low rating as a weak positive).
// A user's scores are x_u B; for the exact top-K of index.hpp the model is
// returned as item vectors B^T, so score(u, i) = dot(x_u, item_vectors.row(i))
// with x_u the user's row of X (ease_user_rows) as a query of num_items floats.
//
// Cost: one num_items x num_items float32 matrix (X^T X is accumulated into
// it, inverted in place by LAPACK's Cholesky routines and turned into B^T in
// place), so memory is num_items^2 * 4 bytes: 11 MB for MovieLens 100K's
// 1,683 item rows, 2.7 GB for 26,000 items. Time: O(num_items^3) in one
// single-threaded LAPACK call (latent keeps BLAS single-threaded), 0.1 s
// for 1,683 items and 5 s for 8,000 here; 26,000 would take minutes.

#include <nlohmann/json.hpp>

#include <latent/interactions.hpp>
#include <latent/matrix.hpp>

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
  double memory_limit_gb = 4.0;  // GB = 1e9 bytes
  int threads = 0;               // 0: all hardware threads

  // Throws InvalidArgument naming the field and value.
  void validate() const;
  nlohmann::json to_json() const;
};

// Returns item_vectors = B^T: num_items x num_items, zero diagonal, row 0
// (OOV) and column 0 zero. Throws InvalidArgument for an invalid config, no
// pairs, a pair outside the vocabularies (or on OOV), and when the
// num_items^2 * 4 bytes it needs exceed config.memory_limit_gb (naming the
// item count, the bytes and the limit).
Matrix train_ease(const Interactions& train, const EaseConfig& config);

// X itself, num_users x num_items: every user's EASE query. The caller
// checks the pairs (train_ease does) and the memory.
Matrix ease_user_rows(const Interactions& train);

}  // namespace latent
