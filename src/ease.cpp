#include <latent/ease.hpp>

#include <algorithm>
#include <cmath>
#include <string>

#include <unistd.h>

#include <fmt/format.h>

#include <latent/error.hpp>

#include "detail/blas.hpp"
#include "detail/lapack.hpp"
#include "detail/parallel.hpp"
#include "detail/require.hpp"

namespace latent {

using detail::require;

void EaseConfig::validate() const {
  require(std::isfinite(regularization) && regularization > 0,
          fmt::format("regularization {} must be a positive number", regularization));
  require(std::isfinite(memory_limit_gb) && memory_limit_gb >= 0,
          fmt::format("memory limit {} GB must be a number >= 0 (0: half of this machine's "
                      "memory)",
                      memory_limit_gb));
  require(threads >= 0, fmt::format("threads {} must be >= 0 (0: all cores)", threads));
}

nlohmann::json EaseConfig::to_json() const {
  return {{"regularization", regularization}, {"memory_limit_gb", memory_limit_gb}};
}

namespace {

// One n x n float32 buffer holds X^T X, then P, then B^T, so that buffer is
// the whole footprint: refuse before allocating it.
void require_memory(std::int64_t n, const EaseConfig& config) {
  const double bytes = static_cast<double>(n) * static_cast<double>(n) * 4.0;
  const double physical =
      static_cast<double>(sysconf(_SC_PHYS_PAGES)) * static_cast<double>(sysconf(_SC_PAGESIZE));
  const double limit = config.memory_limit_gb > 0 ? config.memory_limit_gb * 1e9 : physical / 2;
  if (bytes > limit) {
    const std::string which =
        config.memory_limit_gb > 0
            ? fmt::format("{} GB (memory_limit_gb)", config.memory_limit_gb)
            : fmt::format("{:.2f} GB, half of this machine's memory (memory_limit_gb 0)",
                          limit / 1e9);
    throw Error(ErrorKind::InvalidArgument,
                fmt::format("EASE on {} items needs one {} x {} float32 matrix, {:.0f} bytes "
                            "({:.2f} GB), over the memory limit of {}; {}",
                            n, n, n, bytes, bytes / 1e9, which, kEaseAlternative));
  }
}

// Item -> users (CSC) of the deduplicated pairs, with each entry's x_ui.
struct ItemColumns {
  std::vector<std::int64_t> ptr;  // n + 1: item a's entries are [ptr[a], ptr[a + 1])
  std::vector<std::int32_t> users;
  std::vector<float> values;
};

ItemColumns item_columns(const CsrMatrix& csr, const std::vector<float>& values, std::int64_t n) {
  ItemColumns cols;
  cols.ptr.assign(static_cast<std::size_t>(n) + 1, 0);
  for (auto i : csr.indices()) ++cols.ptr[static_cast<std::size_t>(i) + 1];
  for (std::size_t i = 0; i < static_cast<std::size_t>(n); ++i) cols.ptr[i + 1] += cols.ptr[i];
  cols.users.resize(csr.indices().size());
  cols.values.resize(csr.indices().size());
  std::vector<std::int64_t> next(cols.ptr.begin(), cols.ptr.end() - 1);
  for (std::int32_t u = 0; u < csr.rows(); ++u) {
    for (auto k = csr.indptr()[static_cast<std::size_t>(u)];
         k < csr.indptr()[static_cast<std::size_t>(u) + 1]; ++k) {
      const auto at = static_cast<std::size_t>(
          next[static_cast<std::size_t>(csr.indices()[static_cast<std::size_t>(k)])]++);
      cols.users[at] = u;
      cols.values[at] = values[static_cast<std::size_t>(k)];
    }
  }
  return cols;
}

// Lower triangle of G = X^T X + regularization I, row by row: row a adds,
// for every user u of item a, x_ua * x_ub for that user's items b <= a. One
// thread owns a row and adds in a fixed order, so no atomics and the result
// does not depend on the thread count (unweighted, the sums are small
// integers, exact in float32).
Matrix regularized_gram(const CsrMatrix& csr, const std::vector<float>& values,
                        const ItemColumns& cols, std::int64_t n, float regularization,
                        int threads) {
  Matrix g(n, n);
  float* G = g.data();
#pragma omp parallel for num_threads(threads) schedule(dynamic, 16)
  for (std::int64_t a = 1; a < n; ++a) {
    float* row = G + a * n;
    for (auto k = cols.ptr[static_cast<std::size_t>(a)];
         k < cols.ptr[static_cast<std::size_t>(a) + 1]; ++k) {
      const std::int32_t u = cols.users[static_cast<std::size_t>(k)];
      const float x_ua = cols.values[static_cast<std::size_t>(k)];
      for (auto e = csr.indptr()[static_cast<std::size_t>(u)];
           e < csr.indptr()[static_cast<std::size_t>(u) + 1]; ++e) {
        const std::int32_t b = csr.indices()[static_cast<std::size_t>(e)];
        if (b > a) break;  // rows are sorted
        row[b] += x_ua * values[static_cast<std::size_t>(e)];
      }
    }
  }
  for (std::int64_t a = 0; a < n; ++a) G[a * n + a] += regularization;
  return g;
}

// G's lower triangle becomes P = G^-1's. The row-major lower triangle is the
// column-major upper one ('U'). LAPACK runs single-threaded inside latent
// (see blas.hpp).
void invert_lower(float* G, std::int64_t n, float regularization) {
  detail::prepare_blas();
  const int ni = static_cast<int>(n);
  int info = 0;
  detail::spotrf_("U", &ni, G, &ni, &info, 1);
  if (info == 0) detail::spotri_("U", &ni, G, &ni, &info, 1);
  if (info != 0) {
    throw Error(ErrorKind::InvalidArgument,
                fmt::format("EASE: X^T X + {} I is not numerically positive definite (LAPACK "
                            "info {}); increase the regularization",
                            regularization, info));
  }
}

// Mirror P's lower triangle into the upper one in square tiles (a
// transpose: tiles keep both sides in cache). Tiles of different row
// blocks write disjoint cells and read only the lower triangle.
void mirror_lower(float* G, std::int64_t n, int threads) {
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
}

// B = I - P diag(1/diag(P)): B[i][j] = -P[i][j] / P[j][j] off the diagonal,
// 0 on it; row 0 and column 0 (OOV) are 0.
void weights_from_inverse(float* G, std::int64_t n, int threads) {
  std::vector<float> scale(static_cast<std::size_t>(n), 0.0f);
  for (std::int64_t j = 1; j < n; ++j) scale[static_cast<std::size_t>(j)] = -1.0f / G[j * n + j];
#pragma omp parallel for num_threads(threads) schedule(static)
  for (std::int64_t i = 1; i < n; ++i) {
    float* row = G + i * n;
    for (std::int64_t j = 0; j < n; ++j) row[j] *= scale[static_cast<std::size_t>(j)];
    row[i] = 0.0f;
    row[0] = 0.0f;  // OOV column: P[i][0] is 0 already, but keep -0.0f out
  }
  std::fill_n(G, n, 0.0f);  // OOV row
}

}  // namespace

ItemToItem train_ease_distributed(Communicator& comm, const RankPairs& train,
                                  const EaseConfig& config) {
  config.validate();
  const std::int64_t n = train.pairs.num_items;
  try {
    require_memory(n, config);
  } catch (const Error& e) {
    throw CollectiveError(e.kind(), e.what());  // the same n and limit on every rank
  }
  const int threads = detail::resolve_threads(config.threads);
  const RowPartition users = RowPartition::balanced(comm, train.pairs.num_users, train.pairs.users);
  const Interactions mine = owned_pairs(comm, train, users, PairKey::User);
  const CsrMatrix csr = CsrMatrix::from_interactions(mine);
  const std::vector<float> values = entry_weights(csr, mine, true);
  const ItemColumns cols = item_columns(csr, values, n);
  Matrix g = regularized_gram(csr, values, cols, n, 0.0f, threads);
  comm.allreduce_sum(std::span<float>(g.storage()));
  if (comm.rank() != 0) return {};
  for (std::int64_t a = 0; a < n; ++a) g.data()[a * n + a] += config.regularization;
  invert_lower(g.data(), n, config.regularization);
  mirror_lower(g.data(), n, threads);
  weights_from_inverse(g.data(), n, threads);
  return ItemToItem::dense(static_cast<std::int32_t>(n), std::move(g.storage()));
}

ItemToItem train_ease(const Interactions& train, const EaseConfig& config) {
  config.validate();
  check_training_pairs(train);
  const std::int64_t n = train.num_items;
  require_memory(n, config);
  const int threads = detail::resolve_threads(config.threads);

  const CsrMatrix csr = CsrMatrix::from_interactions(train);
  const std::vector<float> values = entry_weights(csr, train, true);
  const ItemColumns cols = item_columns(csr, values, n);
  // Everything from here works in place in g.
  Matrix g = regularized_gram(csr, values, cols, n, config.regularization, threads);
  invert_lower(g.data(), n, config.regularization);
  mirror_lower(g.data(), n, threads);
  weights_from_inverse(g.data(), n, threads);
  return ItemToItem::dense(static_cast<std::int32_t>(n), std::move(g.storage()));
}

}  // namespace latent
