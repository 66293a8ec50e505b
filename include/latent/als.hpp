#pragma once
// Implicit-feedback alternating least squares (Hu, Koren, Volinsky 2008,
// "Collaborative Filtering for Implicit Feedback Datasets").
//
// Every (user, item) cell has a preference p = 1 if the pair was observed
// (with r > 0) else 0, and a confidence c = 1 + alpha * r, where r is the
// pair's weight (Interactions::weights) or 1, summed over duplicate pairs;
// unobserved cells have c = 1. Training minimises
//
//   sum over all (u, i) of c_ui (p_ui - x_u . y_i)^2
//     + sum_u reg_u |x_u|^2 + sum_i reg_i |y_i|^2
//
// by alternating exact (Cholesky) or approximate (a few warm-started
// conjugate-gradient steps, as in the `implicit` library) solves of
//
//   (Y^T Y + Y^T (C_u - I) Y + reg_u I) x_u = Y^T C_u p_u
//
// The regularization of a row is reg (the config's `regularization`) scaled
// by the row's frequency (Rendle, Krichene, Zhang, Koren 2021, "Revisiting
// the performance of iALS on item recommendation benchmarks"):
//
//   reg_u = reg * (w_u / sqrt(|U| |I|))^nu,   w_u = sum over i of c_ui
//                                                  = |I| + alpha * sum_i r_ui
//
// and likewise reg_i with w_i = |U| + alpha * sum_u r_ui, where |U| and |I|
// count the non-OOV rows. w_u is the row's total weight in the loss, which
// is Rendle et al.'s |I_u| + alpha0 |I| times alpha: their loss weighs an
// observed cell 1 + alpha0 (target 1 / (1 + alpha0) after completing the
// square) and every other alpha0, which is this loss, rescaled, with
// alpha = 1 / alpha0 (so alpha0 = 1 / alpha, not 1 / (1 + alpha)), and
// their lambda = reg / ((1 + alpha) (alpha0 sqrt(|U| |I|))^nu). Dividing by
// sqrt(|U| |I|) keeps reg near the plain model's scale for every nu (on
// sparse data w_u is close to |I|), so one tuning grid serves all nu. nu = 0 (the default) is plain
// L2, reg_u = reg; nu = 1 is their frequency-scaled regularization.
//
// for every user given the items, then for every item given the users.
// Y^T Y is computed once per half-iteration, so each row costs time in
// proportion to its own interactions, not to the catalog.
//
// Row 0 of each factor matrix is the vocabulary's OOV row: it stays zero.
// Rows without interactions become zero (the exact minimiser).

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <latent/communicator.hpp>
#include <latent/initial_vectors.hpp>
#include <latent/interactions.hpp>
#include <latent/matrix.hpp>
#include <latent/rank_pairs.hpp>

namespace latent {

enum class AlsSolver {
  ConjugateGradient,  // cg_steps CG iterations per row, warm-started from the current factors
  Cholesky,           // exact: forms each row's dim x dim system and factors it
};
// "cg", "cholesky"; throws InvalidArgument listing both.
AlsSolver parse_als_solver(const std::string& name);
const char* to_string(AlsSolver solver) noexcept;  // "cg", "cholesky"

struct AlsConfig {
  int dim = 64;
  // regularization and alpha: the best validation NDCG@10 of a grid on
  // MovieLens 100K (ratings > 3; per user 20% of the training positives held
  // out; reg 0.1-200 x alpha 1-40, 5-25 iterations). Test NDCG@10 there:
  // 0.32 (implicit's defaults, reg 0.01 and alpha 1, give 0.23). A
  // regularization far above what the data supports shrinks every factor
  // to zero (recommendations by noise): lower it for tiny data sets.
  float regularization = 50.0f;  // reg above; > 0 keeps every system positive definite
  float alpha = 7.0f;            // confidence slope: c = 1 + alpha * r
  // nu above, in [0, 1]: 0 regularizes every row by `regularization`, 1 in
  // proportion to its weight in the loss (Rendle et al.'s frequency scaling).
  float regularization_exponent = 0.0f;
  int epochs = 15;  // iterations (each solves users, then items)
  AlsSolver solver = AlsSolver::ConjugateGradient;
  int cg_steps = 3;           // CG iterations per row and half-iteration
  std::uint64_t seed = 42;    // initial factors: uniform [0, 0.01) as in `implicit`
  int threads = 0;            // 0: all hardware threads; results do not depend on it
  bool compute_loss = false;  // evaluate the objective after every iteration

  // Throws InvalidArgument naming the field and value.
  void validate() const;
  // The settings that determine the model (dim, regularization, alpha,
  // regularization_exponent, epochs, solver, cg_steps, seed); threads and
  // compute_loss do not.
  nlohmann::json to_json() const;
};

struct AlsResult {
  Matrix user_factors;  // train.num_users x dim (row 0 = OOV user: zero)
  Matrix item_factors;  // train.num_items x dim (row 0 = OOV item: zero)
  // Per iteration when compute_loss, else empty: the objective above divided
  // by the total confidence of all non-OOV cells (implicit's normalisation).
  std::vector<double> loss;
  std::vector<double> seconds;  // wall time of each iteration (loss included)
};

// on_iteration(iteration, seconds, loss): iteration is 1-based; loss is
// quiet NaN unless compute_loss.
using AlsIterationCallback = std::function<void(int iteration, double seconds, double loss)>;

// Trains on `train`: users/items are vocabulary rows (row 0, OOV, may not
// appear); ratings are ignored; weights, when present, are the r above
// (finite, >= 0; a pair whose summed r is 0 counts as unobserved).
// Deterministic for a seed, whatever the thread count.
// A warm start (init not empty: dim columns each) starts from init's rows
// and keeps the rows without pairs in `train` as they start (the saved
// model's vectors of ids the new pairs do not have), where a cold start
// solves them to zero.
// Throws InvalidArgument for an invalid config, no pairs, out-of-range rows,
// bad weights or initial factors of another shape.
AlsResult train_als(const Interactions& train, const AlsConfig& config,
                    const AlsIterationCallback& on_iteration = {}, const InitialVectors& init = {});

// train_als on the ranks of a distributed run (collective: every rank calls
// it with its share of the pairs, rank_pairs.hpp). Users and items are cut
// into contiguous ranges of about equal pairs, one per rank; each rank gets
// every pair of its users and of its items, solves its rows each
// half-iteration, and the ranks then exchange their rows (an allgather: each
// rank sends (users + items) / N rows of dim floats per iteration to every
// other). Every rank computes Y^T Y from the whole Y as one process does,
// so the factors are the same, bit for bit, as train_als's on all the pairs
// (one process, any thread count). Returns the whole factors on every rank.
// Throws as train_als; a rank's bad weight on that rank alone.
AlsResult train_als_distributed(Communicator& comm, const RankPairs& train, const AlsConfig& config,
                                const AlsIterationCallback& on_iteration = {});

// The user half-step alone against fixed item factors (implicit's
// "recalculate user"; a warm start's --update users): each user row with
// pairs in `train` is solved as in training (config.solver; cg starts from
// user_factors' row), the other rows are user_factors' own (zero past its
// rows). Returns train.num_users x dim.
//   item_factors: train.num_items x config.dim (a trained model's)
//   user_factors: at most train.num_users rows x config.dim
// Throws InvalidArgument for an invalid config, no pairs, bad weights or
// factors of another shape.
Matrix als_solve_users(const Interactions& train, const AlsConfig& config,
                       const Matrix& item_factors, const Matrix& user_factors);

// The regularization reg_u of a row whose summed r is `summed_r` (see the
// top of this file), given the config's regularization, alpha and
// regularization_exponent, the row count of the other side (`other`: |I|
// for a user row) and |U| and |I| (non-OOV rows). Exactly `regularization`
// when the exponent is 0. Throws InvalidArgument when the result is not a
// positive float.
float als_row_regularization(const AlsConfig& config, double summed_r, std::int64_t other,
                             std::int64_t users, std::int64_t items);

// Exact least-squares fold-in of a new user from the items they interacted
// with: solves (Y^T Y + Y^T (C_u - I) Y + reg I) x = Y^T C_u p_u in double
// precision and returns x (dim floats); reg is the row's regularization
// (als_row_regularization of the user's summed r under frequency scaling).
//   item_factors: items x dim (a trained model's, row 0 = OOV)
//   yty:          dim x dim, als_gramian(item_factors), computed once by the caller
//   items:        item rows in [0, items); the OOV row 0 contributes nothing;
//                 a repeated row adds its r, as in training
//   r:            one r >= 0 per item, or empty for all 1
// Throws InvalidArgument for mismatched shapes, rows out of range, bad r,
// regularization <= 0 or alpha < 0.
std::vector<float> als_fold_in(const Matrix& item_factors, const Matrix& yty,
                               std::span<const std::int32_t> items, std::span<const float> r,
                               float regularization, float alpha);

// factors^T factors: dim x dim (the Gramian Y^T Y of a factor matrix).
Matrix als_gramian(const Matrix& factors);

}  // namespace latent
