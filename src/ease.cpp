#include <latent/ease.hpp>

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include <latent/error.hpp>

#include "detail/blas.hpp"
#include "detail/lapack.hpp"
#include "detail/parallel.hpp"
#include "detail/require.hpp"

namespace latent {

namespace {

using detail::require;

// The value of each entry of `csr` (the deduplicated pairs of `train`): 1,
// or with weights the sum of the pair's weights.
std::vector<float> entry_values(const CsrMatrix& csr, const Interactions& train) {
  if (train.weights.empty()) return std::vector<float>(csr.indices().size(), 1.0f);
  std::vector<double> sums(csr.indices().size(), 0.0);
  for (std::size_t p = 0; p < train.size(); ++p) {
    const auto row = csr.row(train.users[p]);
    const auto at = std::lower_bound(row.begin(), row.end(), train.items[p]);
    sums[static_cast<std::size_t>(csr.indptr()[static_cast<std::size_t>(train.users[p])] +
                                  (at - row.begin()))] += train.weights[p];
  }
  return {sums.begin(), sums.end()};
}

}  // namespace

Matrix ease_user_rows(const Interactions& train) {
  const CsrMatrix csr = CsrMatrix::from_interactions(train);
  const std::vector<float> values = entry_values(csr, train);
  Matrix users(train.num_users, train.num_items);
  for (std::int32_t u = 0; u < csr.rows(); ++u) {
    const auto begin = csr.indptr()[static_cast<std::size_t>(u)];
    float* row = users.row(u).data();
    for (std::int64_t k = begin; k < csr.indptr()[static_cast<std::size_t>(u) + 1]; ++k) {
      row[csr.indices()[static_cast<std::size_t>(k)]] = values[static_cast<std::size_t>(k)];
    }
  }
  return users;
}

void EaseConfig::validate() const {
  require(std::isfinite(regularization) && regularization > 0,
          fmt::format("regularization {} must be a positive number", regularization));
  require(std::isfinite(memory_limit_gb) && memory_limit_gb > 0,
          fmt::format("memory limit {} GB must be a positive number", memory_limit_gb));
  require(threads >= 0, fmt::format("threads {} must be >= 0 (0: all cores)", threads));
}

nlohmann::json EaseConfig::to_json() const {
  return {{"regularization", regularization}, {"memory_limit_gb", memory_limit_gb}};
}

Matrix train_ease(const Interactions& train, const EaseConfig& config) {
  config.validate();
  check_training_pairs(train);
  // One n x n float32 buffer holds X^T X, then P, then B^T: everything
  // below works in place.
  const std::int64_t n = train.num_items;
  const double bytes = static_cast<double>(n) * static_cast<double>(n) * 4.0;
  if (bytes > config.memory_limit_gb * 1e9) {
    throw Error(ErrorKind::InvalidArgument,
                fmt::format("EASE on {} items needs one {} x {} float32 matrix, {:.0f} bytes "
                            "({:.2f} GB), over the memory limit of {} GB (memory_limit_gb)",
                            n, n, n, bytes, bytes / 1e9, config.memory_limit_gb));
  }
  const int threads = detail::resolve_threads(config.threads);

  // Item -> users (CSC) from the deduplicated user -> items rows (CSR),
  // with each entry's value x_ui.
  const CsrMatrix csr = CsrMatrix::from_interactions(train);
  const std::vector<float> values = entry_values(csr, train);
  std::vector<std::int64_t> col_ptr(static_cast<std::size_t>(n) + 1, 0);
  for (auto i : csr.indices()) ++col_ptr[static_cast<std::size_t>(i) + 1];
  for (std::size_t i = 0; i < static_cast<std::size_t>(n); ++i) col_ptr[i + 1] += col_ptr[i];
  std::vector<std::int32_t> col_users(csr.indices().size());
  std::vector<float> col_values(csr.indices().size());
  {
    std::vector<std::int64_t> next(col_ptr.begin(), col_ptr.end() - 1);
    for (std::int32_t u = 0; u < csr.rows(); ++u) {
      for (auto k = csr.indptr()[static_cast<std::size_t>(u)];
           k < csr.indptr()[static_cast<std::size_t>(u) + 1]; ++k) {
        const auto at = static_cast<std::size_t>(
            next[static_cast<std::size_t>(csr.indices()[static_cast<std::size_t>(k)])]++);
        col_users[at] = u;
        col_values[at] = values[static_cast<std::size_t>(k)];
      }
    }
  }

  // Lower triangle of G = X^T X, row by row: row a adds, for every user u
  // of item a, x_ua * x_ub for that user's items b <= a. One thread owns a
  // row and adds in a fixed order, so no atomics and the result does not
  // depend on the thread count (unweighted, the sums are small integers,
  // exact in float32).
  Matrix g(n, n);
  float* G = g.data();
#pragma omp parallel for num_threads(threads) schedule(dynamic, 16)
  for (std::int64_t a = 1; a < n; ++a) {
    float* row = G + a * n;
    for (auto k = col_ptr[static_cast<std::size_t>(a)];
         k < col_ptr[static_cast<std::size_t>(a) + 1]; ++k) {
      const std::int32_t u = col_users[static_cast<std::size_t>(k)];
      const float x_ua = col_values[static_cast<std::size_t>(k)];
      for (auto e = csr.indptr()[static_cast<std::size_t>(u)];
           e < csr.indptr()[static_cast<std::size_t>(u) + 1]; ++e) {
        const std::int32_t b = csr.indices()[static_cast<std::size_t>(e)];
        if (b > a) break;  // rows are sorted
        row[b] += x_ua * values[static_cast<std::size_t>(e)];
      }
    }
  }
  for (std::int64_t a = 0; a < n; ++a) G[a * n + a] += config.regularization;

  // The row-major lower triangle is the column-major upper one ('U').
  // LAPACK runs single-threaded inside latent (see blas.hpp).
  detail::use_single_threaded_blas();
  const int ni = static_cast<int>(n);
  int info = 0;
  detail::spotrf_("U", &ni, G, &ni, &info, 1);
  if (info == 0) detail::spotri_("U", &ni, G, &ni, &info, 1);
  if (info != 0) {
    throw Error(ErrorKind::InvalidArgument,
                fmt::format("EASE: X^T X + {} I is not numerically positive definite (LAPACK "
                            "info {}); increase the regularization",
                            config.regularization, info));
  }

  // Mirror P's lower triangle into the upper one in square tiles (a
  // transpose: tiles keep both sides in cache). Tiles of different row
  // blocks write disjoint cells and read only the lower triangle.
  constexpr std::int64_t kTile = 64;
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1)
  for (std::int64_t i0 = 0; i0 < n; i0 += kTile) {
    const std::int64_t i1 = std::min(n, i0 + kTile);
    for (std::int64_t k0 = i0; k0 < n; k0 += kTile) {
      const std::int64_t k1 = std::min(n, k0 + kTile);
      for (std::int64_t i = i0; i < i1; ++i) {
        for (std::int64_t k = std::max(k0, i + 1); k < k1; ++k) G[i * n + k] = G[k * n + i];
      }
    }
  }

  // Row i of B^T is column i of B = I - P diag(1/diag(P)): -P[k][i] / P[i][i]
  // off the diagonal, 0 on it; P is symmetric, so it is row i of P scaled.
#pragma omp parallel for num_threads(threads) schedule(static)
  for (std::int64_t i = 0; i < n; ++i) {
    float* row = G + i * n;
    const float scale = -1.0f / row[i];
    for (std::int64_t k = 0; k < n; ++k) row[k] *= scale;
    row[i] = 0.0f;
    row[0] = 0.0f;  // OOV column: P[i][0] is 0 already, but keep -0.0f out
  }
  std::fill_n(G, n, 0.0f);  // OOV row
  return g;
}

}  // namespace latent
