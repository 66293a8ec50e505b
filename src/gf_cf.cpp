#include <latent/gf_cf.hpp>

#include <algorithm>
#include <bit>
#include <cfloat>
#include <cmath>
#include <numbers>
#include <vector>

#include <fmt/format.h>
#include <omp.h>

#include <latent/error.hpp>
#include <latent/random.hpp>

#include "detail/blas.hpp"
#include "detail/lapack.hpp"
#include "detail/parallel.hpp"
#include "detail/require.hpp"

namespace latent {

namespace {

using detail::require;

}  // namespace

void GfCfConfig::validate() const {
  require(dim >= 0 && dim <= 4096, fmt::format("dim {} is outside [0, 4096] (0: auto)", dim));
  require(std::isfinite(ideal_weight) && ideal_weight >= 0,
          fmt::format("ideal_weight {} must be a number >= 0", ideal_weight));
  require(power_iterations >= 0 && power_iterations <= 100,
          fmt::format("power_iterations {} is outside [0, 100]", power_iterations));
  require(oversampling >= 0 && oversampling <= 4096,
          fmt::format("oversampling {} is outside [0, 4096]", oversampling));
  require(threads >= 0, fmt::format("threads {} must be >= 0 (0: all cores)", threads));
}

nlohmann::json GfCfConfig::to_json() const {
  return {{"dim", dim},
          {"ideal_weight", ideal_weight},
          {"power_iterations", power_iterations},
          {"oversampling", oversampling},
          {"seed", seed}};
}

namespace {

// R's pattern both ways (user -> items and item -> users, each sorted) and
// the degree scalings of R~ = D_U^-1/2 R D_I^-1/2 (0 for degree 0).
struct Graph {
  CsrMatrix by_user;
  std::vector<std::int64_t> item_ptr;  // num_items + 1: item i's users are [ptr[i], ptr[i + 1])
  std::vector<std::int32_t> item_users;
  std::vector<double> user_scale;  // d_u^-1/2
  std::vector<double> item_scale;  // d_i^-1/2

  std::int32_t users() const noexcept { return by_user.rows(); }
  std::int32_t items() const noexcept { return static_cast<std::int32_t>(item_ptr.size() - 1); }
  std::span<const std::int32_t> users_of(std::int32_t i) const noexcept {
    const auto b = item_ptr[static_cast<std::size_t>(i)];
    const auto e = item_ptr[static_cast<std::size_t>(i) + 1];
    return {item_users.data() + b, static_cast<std::size_t>(e - b)};
  }
};

double inverse_sqrt(std::int64_t degree) {
  return degree > 0 ? 1.0 / std::sqrt(static_cast<double>(degree)) : 0.0;
}

Graph graph_of(const Interactions& train) {
  Graph g;
  g.by_user = CsrMatrix::from_interactions(train);
  const auto n = static_cast<std::size_t>(train.num_items);
  g.item_ptr.assign(n + 1, 0);
  for (auto i : g.by_user.indices()) ++g.item_ptr[static_cast<std::size_t>(i) + 1];
  for (std::size_t i = 0; i < n; ++i) g.item_ptr[i + 1] += g.item_ptr[i];
  g.item_users.resize(g.by_user.indices().size());
  std::vector<std::int64_t> next(g.item_ptr.begin(), g.item_ptr.end() - 1);
  // Users ascending, so every item's users come out sorted.
  for (std::int32_t u = 0; u < g.by_user.rows(); ++u) {
    for (auto i : g.by_user.row(u)) {
      g.item_users[static_cast<std::size_t>(next[static_cast<std::size_t>(i)]++)] = u;
    }
  }
  g.user_scale.resize(static_cast<std::size_t>(g.by_user.rows()));
  for (std::int32_t u = 0; u < g.by_user.rows(); ++u) {
    g.user_scale[static_cast<std::size_t>(u)] =
        inverse_sqrt(static_cast<std::int64_t>(g.by_user.row(u).size()));
  }
  g.item_scale.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    g.item_scale[i] = inverse_sqrt(g.item_ptr[i + 1] - g.item_ptr[i]);
  }
  return g;
}

// ---- P = R~^T R~ ---------------------------------------------------------------------

// Consecutive rows of P: each row's entry count, then their entries.
struct RowBlock {
  std::vector<std::int64_t> lengths;
  std::vector<std::int32_t> indices;
  std::vector<float> values;
};

// One thread's dense row of P: sums of 1 / d_u by column, and the touched
// columns as a bitmap, which yields them in column order without a sort
// (a row of P holds ~1,000 of 41,000 columns on Gowalla).
class RowAccumulator {
 public:
  explicit RowAccumulator(std::int32_t items)
      : sums_(static_cast<std::size_t>(items), 0.0),
        bits_((static_cast<std::size_t>(items) + 63) / 64, 0) {}

  // P's row i into `out`: over the users u of i, over the items j of u,
  // 1 / d_u, then scaled by (d_i d_j)^-1/2. Users and their items are
  // visited in ascending order, so the sums do not depend on the thread.
  void row(const Graph& g, std::int32_t i, RowBlock& out) {
    std::size_t lo = bits_.size(), hi = 0;
    for (const std::int32_t u : g.users_of(i)) {
      const auto items = g.by_user.row(u);
      const double w = 1.0 / static_cast<double>(items.size());
      for (const std::int32_t j : items) {
        sums_[static_cast<std::size_t>(j)] += w;
        bits_[static_cast<std::size_t>(j) >> 6] |= std::uint64_t{1} << (j & 63);
      }
      lo = std::min(lo, static_cast<std::size_t>(items.front()) >> 6);
      hi = std::max(hi, static_cast<std::size_t>(items.back()) >> 6);
    }
    const std::size_t before = out.indices.size();
    const double scale_i = g.item_scale[static_cast<std::size_t>(i)];
    for (std::size_t w = lo; w <= hi; ++w) {  // none when i has no users: lo > hi
      for (std::uint64_t bits = bits_[w]; bits != 0; bits &= bits - 1) {
        const auto j = static_cast<std::size_t>(w * 64 + std::countr_zero(bits));
        out.indices.push_back(static_cast<std::int32_t>(j));
        out.values.push_back(static_cast<float>(sums_[j] * scale_i * g.item_scale[j]));
        sums_[j] = 0.0;
      }
      bits_[w] = 0;
    }
    out.lengths.push_back(static_cast<std::int64_t>(out.indices.size() - before));
  }

 private:
  std::vector<double> sums_;
  std::vector<std::uint64_t> bits_;
};

ItemToItem normalized_cooccurrences(const Graph& g, int threads) {
  const std::int32_t n = g.items();
  constexpr std::int32_t kRows = 64;
  const std::int32_t blocks = (n + kRows - 1) / kRows;
  std::vector<RowBlock> parts(static_cast<std::size_t>(blocks));
  detail::FirstException error;
#pragma omp parallel num_threads(threads)
  {
    try {
      RowAccumulator acc(n);
#pragma omp for schedule(dynamic, 1)
      for (std::int32_t b = 0; b < blocks; ++b) {
        if (error.failed()) continue;
        try {
          RowBlock& part = parts[static_cast<std::size_t>(b)];
          for (std::int32_t i = b * kRows; i < std::min(n, (b + 1) * kRows); ++i) {
            acc.row(g, i, part);
          }
        } catch (...) {
          error.capture();
        }
      }
    } catch (...) {
      error.capture();
    }
  }
  error.rethrow();

  std::vector<std::int64_t> indptr(static_cast<std::size_t>(n) + 1, 0);
  std::vector<std::int64_t> block_start(static_cast<std::size_t>(blocks) + 1, 0);
  std::int64_t r = 0;
  for (std::int32_t b = 0; b < blocks; ++b) {
    const RowBlock& part = parts[static_cast<std::size_t>(b)];
    block_start[static_cast<std::size_t>(b) + 1] =
        block_start[static_cast<std::size_t>(b)] + static_cast<std::int64_t>(part.indices.size());
    for (const auto length : part.lengths) {
      indptr[static_cast<std::size_t>(r) + 1] = indptr[static_cast<std::size_t>(r)] + length;
      ++r;
    }
  }
  const auto nnz = static_cast<std::size_t>(indptr.back());
  std::vector<std::int32_t> indices(nnz);
  std::vector<float> values(nnz);
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1)
  for (std::int32_t b = 0; b < blocks; ++b) {
    RowBlock& part = parts[static_cast<std::size_t>(b)];
    const auto at = block_start[static_cast<std::size_t>(b)];
    std::copy(part.indices.begin(), part.indices.end(), indices.begin() + at);
    std::copy(part.values.begin(), part.values.end(), values.begin() + at);
    part = RowBlock{};  // free as we go: the blocks are as large as P
  }
  return {n, std::move(indptr), std::move(indices), std::move(values)};
}

// ---- Products with R~ ------------------------------------------------------------------

// out (num_users x l) = R~ x, x num_items x l: row u = d_u^-1/2 times the
// sum of d_i^-1/2 x[i] over u's items (ascending).
void times_r(const Graph& g, const Matrix& x, Matrix& out, int threads) {
  const std::int64_t l = x.cols();
#pragma omp parallel for num_threads(threads) schedule(dynamic, 64)
  for (std::int32_t u = 0; u < g.users(); ++u) {
    float* y = out.row(u).data();
    std::fill_n(y, l, 0.0f);
    for (const std::int32_t i : g.by_user.row(u)) {
      const auto s = static_cast<float>(g.item_scale[static_cast<std::size_t>(i)]);
      const float* xi = x.row(i).data();
#pragma omp simd
      for (std::int64_t c = 0; c < l; ++c) y[c] += s * xi[c];
    }
    const auto s = static_cast<float>(g.user_scale[static_cast<std::size_t>(u)]);
    for (std::int64_t c = 0; c < l; ++c) y[c] *= s;
  }
}

// out (num_items x l) = R~^T x, x num_users x l: row i = d_i^-1/2 times the
// sum of d_u^-1/2 x[u] over i's users (ascending).
void times_rt(const Graph& g, const Matrix& x, Matrix& out, int threads) {
  const std::int64_t l = x.cols();
#pragma omp parallel for num_threads(threads) schedule(dynamic, 64)
  for (std::int32_t i = 0; i < g.items(); ++i) {
    float* y = out.row(i).data();
    std::fill_n(y, l, 0.0f);
    for (const std::int32_t u : g.users_of(i)) {
      const auto s = static_cast<float>(g.user_scale[static_cast<std::size_t>(u)]);
      const float* xu = x.row(u).data();
#pragma omp simd
      for (std::int64_t c = 0; c < l; ++c) y[c] += s * xu[c];
    }
    const auto s = static_cast<float>(g.item_scale[static_cast<std::size_t>(i)]);
    for (std::int64_t c = 0; c < l; ++c) y[c] *= s;
  }
}

// ---- Randomized SVD ----------------------------------------------------------------------

void check_lapack(int info, const char* routine) {
  if (info != 0) {
    throw Error(ErrorKind::InvalidArgument,
                fmt::format("GF-CF: LAPACK {} failed (info {})", routine, info));
  }
}

// num_items x l standard normal entries (Box-Muller on 53-bit uniforms),
// row i from its own stream of the seed: the same for every thread count.
Matrix gaussian(std::int64_t rows, std::int64_t cols, std::uint64_t seed, int threads) {
  Matrix m(rows, cols);
#pragma omp parallel for num_threads(threads) schedule(static)
  for (std::int64_t r = 0; r < rows; ++r) {
    Rng rng = Rng::stream(seed, static_cast<std::uint64_t>(r));
    float* row = m.row(r).data();
    for (std::int64_t c = 0; c < cols; c += 2) {
      const double u1 = static_cast<double>((rng.next() >> 11) + 1) * 0x1.0p-53;  // (0, 1]
      const double u2 = static_cast<double>(rng.next() >> 11) * 0x1.0p-53;
      const double radius = std::sqrt(-2.0 * std::log(u1));
      const double angle = 2.0 * std::numbers::pi * u2;
      row[c] = static_cast<float>(radius * std::cos(angle));
      if (c + 1 < cols) row[c + 1] = static_cast<float>(radius * std::sin(angle));
    }
  }
  return m;
}

// Copies the rows x cols row-major `from` to `to` transposed (cols x rows
// row-major, i.e. `from` column-major), in square tiles so that both sides
// stay in cache.
void transpose(const float* from, std::int64_t rows, std::int64_t cols, float* to, int threads) {
  constexpr std::int64_t kTile = 64;
#pragma omp parallel for num_threads(threads) schedule(static)
  for (std::int64_t r0 = 0; r0 < rows; r0 += kTile) {
    const std::int64_t r1 = std::min(rows, r0 + kTile);
    for (std::int64_t c0 = 0; c0 < cols; c0 += kTile) {
      const std::int64_t c1 = std::min(cols, c0 + kTile);
      for (std::int64_t r = r0; r < r1; ++r) {
        for (std::int64_t c = c0; c < c1; ++c) to[c * rows + r] = from[r * cols + c];
      }
    }
  }
}

// Replaces the columns of `a` (rows x l, rows > l) by an orthonormal basis
// of their span: Q of a Householder QR (columns beyond a's rank complete
// it). LAPACK wants the columns contiguous, so `a` goes through a
// column-major copy (`scratch`): LQ on the row-major buffer itself (the
// same factorisation) needs no copy but runs 4x slower (level-2 panels on
// strided rows). Single-threaded LAPACK, as everywhere in latent.
void orthonormalize(Matrix& a, std::vector<float>& scratch, int threads) {
  detail::prepare_blas();
  const int l = static_cast<int>(a.cols());
  const int rows = static_cast<int>(a.rows());
  scratch.resize(a.size());
  transpose(a.data(), rows, l, scratch.data(), threads);
  std::vector<float> tau(static_cast<std::size_t>(l));
  float qr_size = 0, q_size = 0;
  int lwork = -1, info = 0;
  detail::sgeqrf_(&rows, &l, scratch.data(), &rows, tau.data(), &qr_size, &lwork, &info);
  check_lapack(info, "sgeqrf");
  detail::sorgqr_(&rows, &l, &l, scratch.data(), &rows, tau.data(), &q_size, &lwork, &info);
  check_lapack(info, "sorgqr");
  lwork = static_cast<int>(std::max(qr_size, q_size));
  std::vector<float> work(static_cast<std::size_t>(std::max(lwork, 1)));
  detail::sgeqrf_(&rows, &l, scratch.data(), &rows, tau.data(), work.data(), &lwork, &info);
  check_lapack(info, "sgeqrf");
  detail::sorgqr_(&rows, &l, &l, scratch.data(), &rows, tau.data(), work.data(), &lwork, &info);
  check_lapack(info, "sorgqr");
  transpose(scratch.data(), l, rows, a.data(), threads);
}

// B B^T (l x l, double, LAPACK's lower triangle) of bt = B^T (num_items x
// l, row-major: B column-major), in double from the float entries so that
// small singular values survive the squaring. Summed over fixed blocks of
// rows in a fixed order: the same for every thread count.
std::vector<double> gram_of_rows(const Matrix& bt, int threads) {
  const std::int64_t rows = bt.rows();
  const int l = static_cast<int>(bt.cols());
  const auto ll = static_cast<std::size_t>(l) * static_cast<std::size_t>(l);
  constexpr std::int64_t kBlock = 4096;
  const std::int64_t blocks = (rows + kBlock - 1) / kBlock;
  std::vector<double> partial(static_cast<std::size_t>(blocks) * ll, 0.0);
  const auto team = static_cast<int>(std::min<std::int64_t>(threads, blocks));
  // Each thread's rows in double, allocated here: nothing may throw in the region.
  std::vector<std::vector<double>> copies(
      static_cast<std::size_t>(team),
      std::vector<double>(static_cast<std::size_t>(kBlock) * static_cast<std::size_t>(l)));
  detail::prepare_blas();
#pragma omp parallel num_threads(team)
  {
    std::vector<double>& block = copies[static_cast<std::size_t>(omp_get_thread_num())];
#pragma omp for schedule(static, 1)
    for (std::int64_t b = 0; b < blocks; ++b) {
      const std::int64_t r0 = b * kBlock;
      const int n = static_cast<int>(std::min(rows, r0 + kBlock) - r0);
      std::copy_n(bt.data() + r0 * l, static_cast<std::size_t>(n) * static_cast<std::size_t>(l),
                  block.begin());
      const double one = 1.0, zero = 0.0;
      detail::dsyrk_("L", "N", &l, &n, &one, block.data(), &l, &zero,
                     partial.data() + static_cast<std::size_t>(b) * ll, &l, 1, 1);
    }
  }
  std::vector<double> g(ll, 0.0);
  for (std::int64_t b = 0; b < blocks; ++b) {
    const double* p = partial.data() + static_cast<std::size_t>(b) * ll;
    for (std::size_t k = 0; k < ll; ++k) g[k] += p[k];
  }
  return g;
}

// The eigenvalues of the symmetric l x l matrix `a` (its lower triangle),
// largest first; a's rows become the eigenvectors in the same order.
std::vector<double> top_eigenvectors(std::vector<double>& a, int l) {
  std::vector<double> w(static_cast<std::size_t>(l));
  double size = 0;
  int isize = 0, lwork = -1, liwork = -1, info = 0;
  detail::dsyevd_("V", "L", &l, a.data(), &l, w.data(), &size, &lwork, &isize, &liwork, &info, 1,
                  1);
  check_lapack(info, "dsyevd");
  lwork = static_cast<int>(size);
  liwork = isize;
  std::vector<double> work(static_cast<std::size_t>(std::max(lwork, 1)));
  std::vector<int> iwork(static_cast<std::size_t>(std::max(liwork, 1)));
  detail::dsyevd_("V", "L", &l, a.data(), &l, w.data(), work.data(), &lwork, iwork.data(), &liwork,
                  &info, 1, 1);
  check_lapack(info, "dsyevd");
  // Column-major eigenvectors are the rows of the row-major buffer,
  // ascending: reverse both to largest first.
  std::reverse(w.begin(), w.end());
  for (int c = 0; c < l / 2; ++c) {
    std::swap_ranges(a.begin() + static_cast<std::ptrdiff_t>(c) * l,
                     a.begin() + static_cast<std::ptrdiff_t>(c + 1) * l,
                     a.begin() + static_cast<std::ptrdiff_t>(l - 1 - c) * l);
  }
  return w;
}

// V (num_items x k): the top-k right singular vectors of R~ by randomized
// SVD with l sample columns; zero columns for singular values that are
// numerically zero.
Matrix right_singular_vectors(const Graph& g, std::int64_t k, std::int64_t l,
                              const GfCfConfig& config, int threads) {
  Matrix item_side = gaussian(g.items(), l, config.seed, threads);
  Matrix user_side(g.users(), l);
  std::vector<float> scratch;
  times_r(g, item_side, user_side, threads);
  orthonormalize(user_side, scratch, threads);
  for (int p = 0; p < config.power_iterations; ++p) {
    times_rt(g, user_side, item_side, threads);
    orthonormalize(item_side, scratch, threads);
    times_r(g, item_side, user_side, threads);
    orthonormalize(user_side, scratch, threads);
  }
  scratch = {};
  // B = Q^T R~ (l x num_items), held as B^T = R~^T Q.
  times_rt(g, user_side, item_side, threads);
  const Matrix& bt = item_side;
  const int li = static_cast<int>(l);
  std::vector<double> vectors = gram_of_rows(bt, threads);
  const std::vector<double> eigenvalues = top_eigenvectors(vectors, li);

  // B = U S W'^T with B B^T = U S^2 U^T, so B's right singular vectors are
  // B^T u_c / s_c. A singular value below the float noise of B (LAPACK's
  // rank rule: max dimension x epsilon x the largest) is zero: its u_c
  // spans nothing of R~ and B^T u_c / s_c would be noise scaled up.
  const double s_max = std::sqrt(std::max(eigenvalues[0], 0.0));
  const double tolerance =
      s_max * static_cast<double>(std::max(g.users(), g.items())) * FLT_EPSILON;
  Matrix w(l, k);  // row r, column c: u_c[r] / s_c
  for (std::int64_t c = 0; c < k; ++c) {
    const double s = std::sqrt(std::max(eigenvalues[static_cast<std::size_t>(c)], 0.0));
    if (!(s > tolerance)) continue;
    for (std::int64_t r = 0; r < l; ++r) {
      w.row(r)[static_cast<std::size_t>(c)] =
          static_cast<float>(vectors[static_cast<std::size_t>(c * l + r)] / s);
    }
  }
  Matrix v(g.items(), k);
  constexpr std::int64_t kBlock = 1024;
  const std::int64_t blocks = (v.rows() + kBlock - 1) / kBlock;
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1)
  for (std::int64_t b = 0; b < blocks; ++b) {
    const std::int64_t r0 = b * kBlock;
    detail::sgemm_nn(std::min(v.rows(), r0 + kBlock) - r0, k, l, bt.data() + r0 * l, l, w.data(), k,
                     v.data() + r0 * k, k);
  }
  return v;
}

// Threads worth waking for `work` multiply-adds of one product with R~:
// every parallel region costs a barrier (up to a scheduler time slice on a
// busy machine), so small problems run on one.
int threads_for(std::int64_t work, int threads) {
  constexpr std::int64_t kWorkPerThread = std::int64_t{1} << 16;
  return static_cast<int>(std::clamp<std::int64_t>(work / kWorkPerThread, 1, threads));
}

}  // namespace

std::int64_t auto_gf_cf_dim(std::int64_t num_items) noexcept {
  return std::clamp<std::int64_t>((num_items + 64) / 128, 64, 512);
}

GfCfModel train_gf_cf(const Interactions& train, const GfCfConfig& config) {
  config.validate();
  check_training_pairs(train);
  const Graph g = graph_of(train);

  // R~ has rank <= min(known users, known items): K and l beyond it are
  // clamped (the K used is item_vectors.cols()).
  const std::int64_t known = std::min(train.num_users, train.num_items) - 1;
  const std::int64_t wanted = config.dim > 0 ? config.dim : auto_gf_cf_dim(train.num_items);
  const std::int64_t k = std::min<std::int64_t>(wanted, known);
  const std::int64_t l = std::min<std::int64_t>(k + config.oversampling, known);
  const int threads = threads_for(g.by_user.nnz() * l, detail::resolve_threads(config.threads));
  GfCfModel model;
  model.item_to_item = normalized_cooccurrences(g, threads);
  Matrix v = right_singular_vectors(g, k, l, config, threads);

  model.item_vectors = Matrix(g.items(), k);
  model.item_queries = Matrix(g.items(), k);
  for (std::int32_t i = 0; i < g.items(); ++i) {
    const double scale = g.item_scale[static_cast<std::size_t>(i)];
    if (scale == 0.0) continue;  // no pairs: V's row is zero too
    const auto up = static_cast<float>(1.0 / scale);
    const auto down = static_cast<float>(config.ideal_weight * scale);
    const auto vi = v.row(i);
    const auto vectors = model.item_vectors.row(i);
    const auto queries = model.item_queries.row(i);
    for (std::int64_t c = 0; c < k; ++c) {
      vectors[static_cast<std::size_t>(c)] = up * vi[static_cast<std::size_t>(c)];
      queries[static_cast<std::size_t>(c)] = down * vi[static_cast<std::size_t>(c)];
    }
  }
  model.user_vectors = Matrix(g.users(), k);
#pragma omp parallel for num_threads(threads) schedule(dynamic, 64)
  for (std::int32_t u = 0; u < g.users(); ++u) {
    float* out = model.user_vectors.row(u).data();
    for (const std::int32_t i : g.by_user.row(u)) {
      const float* q = model.item_queries.row(i).data();
      for (std::int64_t c = 0; c < k; ++c) out[c] += q[c];
    }
  }
  return model;
}

}  // namespace latent
