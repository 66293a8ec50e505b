#pragma once
// GF-CF (Shen et al., "How Powerful is Graph Convolution for
// Recommendation?", CIKM 2021): graph filters on the normalised item-item
// graph in closed form, no training loop. R is the binary num_users x
// num_items matrix of the distinct training pairs (weights are ignored; row
// and column 0, OOV, hold nothing), d_u and d_i the user and item degrees,
// R~ = D_U^-1/2 R D_I^-1/2 (a row or column of degree 0 stays zero: no
// division by zero). With x_u user u's binary row of R, the score of item j
// is
//
//   score(u, j) = x_u P [j]  +  alpha x_u D_I^-1/2 V V^T D_I^1/2 [j]
//                 \________/    \________________________________/
//                 linear filter       ideal low-pass filter
//
// where P = R~^T R~ (the normalised co-occurrences) and V (num_items x K)
// holds the top-K right singular vectors of R~ (V V^T: the projector onto
// the K smoothest graph signals). The model is served as the two parts the
// exact search adds (item_to_item.hpp): the linear term through ItemToItem
// (the caller passes each user's training items), the ideal term as
// dot(user_vectors[u], item_vectors[j]).
//
// V by randomized SVD (Halko, Martinsson, Tropp, "Finding Structure with
// Randomness", SIAM Review 2011): l = K + oversampling Gaussian columns,
// power_iterations subspace iterations with an orthonormalisation (LAPACK
// QR) after every product, then the eigen-decomposition of the small l x l
// matrix B B^T (B = Q^T R~) in double precision. On Gowalla, K 256 with
// oversampling 64 and 2 power iterations ranks as well as an exact
// (ARPACK) SVD: Recall@20 0.187 against 0.185 on 6,000 test users (numpy);
// this code reaches 0.1868 over all 29,858 (the paper: 0.1849).
//
// K: the rank of R~ is at most min(num_users - 1, num_items - 1) (its known
// rows), so K = min(dim, num_users - 1, num_items - 1): a dim above that is
// clamped, not refused, and item_vectors.cols() is the K used. Components
// whose singular value is numerically zero (a rank below K: items or users
// without pairs, duplicate rows) are zero columns of every matrix, never
// noise scaled up.
//
// Cost on Gowalla (29,858 users, 40,981 items, 810,128 pairs): P has 42.4
// million non-zeros (8 bytes each: 340 MB, twice that while its rows are
// gathered; the count grows with the sum of the squared user degrees). The
// SVD holds a few num_items x l and num_users x l float matrices (l = 320:
// about 50 MB each). On 2 cores: P 0.6 s, the SVD 3.1 s (of which 2.5 s are
// its 5 single-threaded QRs), 3.9 s in all. The result does not depend on
// the thread count.

#include <cstdint>

#include <nlohmann/json.hpp>

#include <latent/interactions.hpp>
#include <latent/item_to_item.hpp>
#include <latent/matrix.hpp>

namespace latent {

struct GfCfConfig {
  // K: the right singular vectors of R~ the ideal low-pass filter keeps;
  // clamped to min(num_users - 1, num_items - 1). 0 (the default): a rule of
  // the catalog's size, auto_gf_cf_dim.
  int dim = 0;
  // alpha: the weight of the ideal low-pass term against the linear one
  // (the paper's 0.3; 0.5 chosen on validation splits: auto_gf_cf_dim's
  // figures). 0 scores by P alone.
  float ideal_weight = 0.5f;
  // Randomized SVD: subspace iterations, each one product with R~^T and one
  // with R~ (and a QR after each). More sharpens the small singular values.
  int power_iterations = 2;
  // Randomized SVD: sample columns beyond dim (l = dim + oversampling,
  // clamped like dim). More catches more of the top-K subspace.
  int oversampling = 64;
  std::uint64_t seed = 42;  // the Gaussian test matrix of the randomized SVD
  int threads = 0;          // 0: all hardware threads; results do not depend on it

  // Throws InvalidArgument naming the field and value.
  void validate() const;
  // The settings that determine the model (all but threads).
  nlohmann::json to_json() const;
};

// The K of dim 0: num_items / 128, within [64, 512]. Chosen, with alpha
// 0.5, by `latent tune` on validation splits of the training data only
// (docs/models.md has the commands): on Gowalla's train.txt (40,981 items)
// validation NDCG@20 rises with dim (0.1009, 0.1034, 0.1039 at 128, 256,
// 384 with alpha 0.5; 0.0979, 0.0999, 0.1008 with 0.3); on MovieLens 100K
// (1,682 items) it peaks at 64 (0.2129 with alpha 0.3, 0.2124 with 0.5;
// 0.2102 at 32, 0.2103 at 256 with alpha 0.1).
std::int64_t auto_gf_cf_dim(std::int64_t num_items) noexcept;

struct GfCfModel {
  // P = R~^T R~: train.num_items rows and columns, row and column 0 (OOV)
  // and the rows of items without pairs empty, the diagonal kept;
  // P[i][j] = sum over the users u of both of 1 / (d_u sqrt(d_i d_j)).
  ItemToItem item_to_item;
  // D_I^1/2 V: num_items x K, row i = sqrt(d_i) V[i] (zero rows for items
  // without pairs and row 0).
  Matrix item_vectors;
  // alpha D_I^-1/2 V: num_items x K, row i = alpha V[i] / sqrt(d_i) (zero
  // rows for items without pairs and row 0): a user's query vector is the
  // sum of these over their items.
  Matrix item_queries;
  // num_users x K: row u = the sum of item_queries over u's training items
  // (x_u alpha D_I^-1/2 V), so the ideal term of u and j is
  // dot(user_vectors[u], item_vectors[j]). Zero rows for users without pairs.
  Matrix user_vectors;
};

// Throws InvalidArgument for an invalid config, no pairs, or a pair outside
// the vocabularies or on OOV (check_training_pairs).
GfCfModel train_gf_cf(const Interactions& train, const GfCfConfig& config);

}  // namespace latent
