#include <latent/als.hpp>

#include <fmt/format.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>

#include <cblas.h>

#include <latent/error.hpp>
#include <latent/initial_vectors.hpp>
#include <latent/random.hpp>
#include <latent/rank_pairs.hpp>

#include "detail/als_kernels.hpp"
#include "detail/blas.hpp"
#include "detail/lapack.hpp"
#include "detail/parallel.hpp"
#include "detail/require.hpp"

// GCC's function multiversioning, as in kernels.cpp: one clone per target,
// chosen at load time; the helpers below are forced inline into each clone.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define LATENT_ALS_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define LATENT_ALS_CLONES
#endif

namespace latent::detail {

namespace {

// Rows are padded to a multiple of 16 floats (zeros past dim), so every
// vector operation below works on whole 16-float blocks: GCC's vector
// extensions become one AVX-512 register, two AVX2 or four SSE registers
// depending on the clone, with no scalar tails and a short horizontal sum
// (an `omp simd` reduction ends in 16 sequential scalar additions).
using Block = float __attribute__((vector_size(64)));

// Blocks pass by value only between always-inlined internal helpers, so
// the AVX-512 calling-convention warning GCC attaches to them (and to their
// call sites, hence up to the end of the kernels) never applies.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpsabi"

[[gnu::always_inline]] inline Block load(const float* p) noexcept {
  Block v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
[[gnu::always_inline]] inline void store(float* p, Block v) noexcept {
  std::memcpy(p, &v, sizeof v);
}

[[gnu::always_inline]] inline float sum(Block v) noexcept {
  using Half = float __attribute__((vector_size(32)));
  using Quarter = float __attribute__((vector_size(16)));
  const Half h = __builtin_shufflevector(v, v, 0, 1, 2, 3, 4, 5, 6, 7) +
                 __builtin_shufflevector(v, v, 8, 9, 10, 11, 12, 13, 14, 15);
  const Quarter q =
      __builtin_shufflevector(h, h, 0, 1, 2, 3) + __builtin_shufflevector(h, h, 4, 5, 6, 7);
  return (q[0] + q[2]) + (q[1] + q[3]);
}

// a . b over `stride` floats (a multiple of 16).
[[gnu::always_inline]] inline float dot(const float* a, const float* b, int stride) noexcept {
  Block s0{}, s1{};
  int j = 0;
  for (; j + 32 <= stride; j += 32) {
    s0 += load(a + j) * load(b + j);
    s1 += load(a + j + 16) * load(b + j + 16);
  }
  if (j < stride) s0 += load(a + j) * load(b + j);
  return sum(s0 + s1);
}

// y += a * x over `stride` floats.
[[gnu::always_inline]] inline void axpy(float a, const float* x, float* y, int stride) noexcept {
  for (int j = 0; j < stride; j += 16) store(y + j, load(y + j) + a * load(x + j));
}

// y += a0 * x0 + a1 * x1: two rows per pass over y halves the chain of
// dependent read-modify-writes of y.
[[gnu::always_inline]] inline void axpy2(float a0, const float* x0, float a1, const float* x1,
                                         float* y, int stride) noexcept {
  for (int j = 0; j < stride; j += 16) {
    store(y + j, load(y + j) + a0 * load(x0 + j) + a1 * load(x1 + j));
  }
}

// out = scale * S v for the padded symmetric S (stride x stride, zero past
// dim), one 16-float block of out at a time as a sum of S's rows (so no
// horizontal sums), with four independent accumulators held in registers.
[[gnu::always_inline]] inline void symv(const float* s, const float* v, float* out, int dim,
                                        int stride, float scale) noexcept {
  const std::int64_t ld = stride;
  for (int j = 0; j < stride; j += 16) {
    const float* col = s + j;
    Block a0{}, a1{}, a2{}, a3{};
    int i = 0;
    for (; i + 4 <= dim; i += 4) {
      a0 += v[i] * load(col + i * ld);
      a1 += v[i + 1] * load(col + (i + 1) * ld);
      a2 += v[i + 2] * load(col + (i + 2) * ld);
      a3 += v[i + 3] * load(col + (i + 3) * ld);
    }
    for (; i < dim; ++i) a0 += v[i] * load(col + i * ld);
    store(out + j, scale * ((a0 + a1) + (a2 + a3)));
  }
}

// Prefetches the cache lines of a row of `dim` floats (rows need not start
// on a cache line).
[[gnu::always_inline]] inline void prefetch_row(const float* row, int dim) noexcept {
  for (int j = 0; j < dim; j += 16) __builtin_prefetch(row + j);
  __builtin_prefetch(row + dim - 1);
}

// Copies y's row `row` (dim floats) to `to`, zero-padded to `stride`;
// prefetches the row `ahead`.
[[gnu::always_inline]] inline void gather_row(const float* y, std::int32_t row, std::int32_t ahead,
                                              int dim, int stride, float* to) noexcept {
  prefetch_row(y + static_cast<std::int64_t>(ahead) * dim, dim);
  const float* from = y + static_cast<std::int64_t>(row) * dim;
  int j = 0;
  for (; j + 16 <= dim; j += 16) store(to + j, load(from + j));
  for (; j < dim; ++j) to[j] = from[j];
  for (; j < stride; ++j) to[j] = 0.0f;
}

// Copies x (dim floats) to `to`, zero-padded to `stride`.
[[gnu::always_inline]] inline void copy_padded(const float* x, int dim, int stride,
                                               float* to) noexcept {
  int j = 0;
  for (; j < dim; ++j) to[j] = x[j];
  for (; j < stride; ++j) to[j] = 0.0f;
}

// How many rows ahead the gathers prefetch: enough to cover a DRAM miss.
constexpr std::int64_t kPrefetch = 16;

// out += sum_k weight[k] (g_k . v) g_k over the n gathered rows.
[[gnu::always_inline]] inline void weighted_gram_times(const float* g, const float* weight,
                                                       std::int64_t n, const float* v, float* out,
                                                       int stride) noexcept {
  std::int64_t k = 0;
  for (; k + 2 <= n; k += 2) {
    const float* g0 = g + k * stride;
    const float* g1 = g0 + stride;
    axpy2(weight[k] * dot(g0, v, stride), g0, weight[k + 1] * dot(g1, v, stride), g1, out, stride);
  }
  if (k < n) {
    const float* g0 = g + k * stride;
    axpy(weight[k] * dot(g0, v, stride), g0, out, stride);
  }
}

// The same with the row length fixed at B blocks (dim = 16 B, no padding):
// v and out live in registers for the whole pass.
template <int B>
[[gnu::always_inline]] inline void weighted_gram_times_fixed(const float* g, const float* weight,
                                                             std::int64_t n, const float* v,
                                                             float* out) noexcept {
  Block vb[B], ob[B];
  for (int b = 0; b < B; ++b) {
    vb[b] = load(v + 16 * b);
    ob[b] = load(out + 16 * b);
  }
  for (std::int64_t k = 0; k < n; ++k) {
    const float* gk = g + k * 16 * B;
    Block gb[B];
    Block acc{};
    for (int b = 0; b < B; ++b) {
      gb[b] = load(gk + 16 * b);
      acc += gb[b] * vb[b];
    }
    const float t = weight[k] * sum(acc);
    for (int b = 0; b < B; ++b) ob[b] += t * gb[b];
  }
  for (int b = 0; b < B; ++b) store(out + 16 * b, ob[b]);
}

// CG's first pass for dim = 16 B: gathers the row's y_k into g, stores
// weight[k] = c_k - 1, and adds sum_k (c_k - (c_k - 1) y_k.x) y_k to res.
template <int B>
[[gnu::always_inline]] inline void residual_pass_fixed(const AlsProblem& p,
                                                       const std::int32_t* cols, const float* r,
                                                       std::int64_t n, const float* x, float* g,
                                                       float* weight, float* res) noexcept {
  Block xb[B], rb[B];
  for (int b = 0; b < B; ++b) {
    xb[b] = load(x + 16 * b);
    rb[b] = load(res + 16 * b);
  }
  for (std::int64_t k = 0; k < n; ++k) {
    prefetch_row(p.y + static_cast<std::int64_t>(cols[std::min(k + kPrefetch, n - 1)]) * 16 * B,
                 16 * B);
    const float* yk = p.y + static_cast<std::int64_t>(cols[k]) * 16 * B;
    float* gk = g + k * 16 * B;
    Block gb[B];
    Block acc{};
    for (int b = 0; b < B; ++b) {
      gb[b] = load(yk + 16 * b);
      store(gk + 16 * b, gb[b]);
      acc += gb[b] * xb[b];
    }
    const float wk = p.alpha * (r != nullptr ? r[k] : 1.0f);
    weight[k] = wk;
    const float t = 1.0f + wk - wk * sum(acc);
    for (int b = 0; b < B; ++b) rb[b] += t * gb[b];
  }
  for (int b = 0; b < B; ++b) store(res + 16 * b, rb[b]);
}

}  // namespace

LATENT_ALS_CLONES void als_solve_cg(const AlsProblem& p, std::int32_t row, float* x,
                                    AlsScratch& s) noexcept {
  const int d = p.dim;
  const int stride = p.stride;
  const auto [cols, r, n] = p.entries(row);  // r null: every r is 1
  if (n == 0) {
    for (int j = 0; j < d; ++j) x[j] = 0.0f;
    return;
  }
  float* g = s.gathered.data();
  float* w = s.weight.data();
  float* xp = s.vectors.data();  // x, padded
  float* res = xp + stride;
  float* dir = res + stride;
  float* adir = dir + stride;
  copy_padded(x, d, stride, xp);

  // res = b - A x = -(YtY + reg I) x + sum_k (c_k - (c_k - 1) y_k.x) y_k,
  // gathering the y_k into one contiguous block for the CG steps.
  // Rows of 1-4 whole blocks (dim 16, 32, 48, 64) take the register-resident
  // passes; other sizes the general ones.
  const int fixed_blocks = d == stride && d <= 64 ? d / 16 : 0;
  symv(p.yty_reg, xp, res, d, stride, -1.0f);
  if (p.row_reg != nullptr) axpy(-p.row_reg[row], xp, res, stride);
  switch (fixed_blocks) {
    case 1:
      residual_pass_fixed<1>(p, cols, r, n, xp, g, w, res);
      break;
    case 2:
      residual_pass_fixed<2>(p, cols, r, n, xp, g, w, res);
      break;
    case 3:
      residual_pass_fixed<3>(p, cols, r, n, xp, g, w, res);
      break;
    case 4:
      residual_pass_fixed<4>(p, cols, r, n, xp, g, w, res);
      break;
    default:
      for (std::int64_t k = 0; k < n; ++k) {
        float* gk = g + k * stride;
        gather_row(p.y, cols[k], cols[std::min(k + kPrefetch, n - 1)], d, stride, gk);
        const float wk = p.alpha * (r != nullptr ? r[k] : 1.0f);
        w[k] = wk;
        axpy(1.0f + wk - wk * dot(gk, xp, stride), gk, res, stride);
      }
  }
  for (int j = 0; j < stride; j += 16) store(dir + j, load(res + j));
  float rs_old = dot(res, res, stride);
  if (rs_old < 1e-20f) return;

  for (int step = 0; step < p.cg_steps; ++step) {
    // adir = A dir without forming A.
    symv(p.yty_reg, dir, adir, d, stride, 1.0f);
    if (p.row_reg != nullptr) axpy(p.row_reg[row], dir, adir, stride);
    switch (fixed_blocks) {
      case 1:
        weighted_gram_times_fixed<1>(g, w, n, dir, adir);
        break;
      case 2:
        weighted_gram_times_fixed<2>(g, w, n, dir, adir);
        break;
      case 3:
        weighted_gram_times_fixed<3>(g, w, n, dir, adir);
        break;
      case 4:
        weighted_gram_times_fixed<4>(g, w, n, dir, adir);
        break;
      default:
        weighted_gram_times(g, w, n, dir, adir, stride);
    }
    const float curvature = dot(dir, adir, stride);
    if (!(curvature > 0)) break;
    const float step_size = rs_old / curvature;
    axpy(step_size, dir, xp, stride);
    axpy(-step_size, adir, res, stride);
    const float rs_new = dot(res, res, stride);
    if (rs_new < 1e-20f) break;
    const float beta = rs_new / rs_old;
    for (int j = 0; j < stride; j += 16) store(dir + j, load(res + j) + beta * load(dir + j));
    rs_old = rs_new;
  }
  for (int j = 0; j < d; ++j) x[j] = xp[j];
}

LATENT_ALS_CLONES void als_solve_cholesky(const AlsProblem& p, std::int32_t row, float* x,
                                          AlsScratch& s) noexcept {
  const int d = p.dim;
  const int stride = p.stride;
  const auto [cols, r, n] = p.entries(row);  // r null: every r is 1
  if (n == 0) {
    for (int j = 0; j < d; ++j) x[j] = 0.0f;
    return;
  }
  float* g = s.gathered.data();
  float* a = s.system.data();  // d x d, unpadded
  float* rhs = s.vectors.data();
  for (int i = 0; i < d; ++i) {
    std::memcpy(a + static_cast<std::int64_t>(i) * d,
                p.yty_reg + static_cast<std::int64_t>(i) * stride,
                sizeof(float) * static_cast<std::size_t>(d));
    if (p.row_reg != nullptr) a[static_cast<std::int64_t>(i) * (d + 1)] += p.row_reg[row];
  }
  for (int j = 0; j < stride; j += 16) store(rhs + j, Block{});
  // A = YtY + reg I + G^T G with G's rows sqrt(c_k - 1) y_k; b = sum_k c_k y_k.
  for (std::int64_t k = 0; k < n; ++k) {
    float* gk = g + k * stride;
    gather_row(p.y, cols[k], cols[std::min(k + kPrefetch, n - 1)], d, stride, gk);
    const float wk = p.alpha * (r != nullptr ? r[k] : 1.0f);
    axpy(1.0f + wk, gk, rhs, stride);
    const float root = std::sqrt(wk);
    for (int j = 0; j < stride; j += 16) store(gk + j, root * load(gk + j));
  }
  cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, d, static_cast<int>(n), 1.0f, g, stride, 1.0f,
              a, d);
  // LAPACK is column-major: the row-major upper triangle is its lower one.
  int info = 0;
  const int one = 1;
  spotrf_("L", &d, a, &d, &info, 1);
  if (info != 0) return;
  spotrs_("L", &d, &one, a, &d, rhs, &d, &info, 1);
  if (info != 0) return;
  for (int j = 0; j < d; ++j) x[j] = rhs[j];
}

LATENT_ALS_CLONES double als_observed_loss(const AlsProblem& p, std::int32_t row, const float* x,
                                           AlsScratch& s) noexcept {
  const int d = p.dim;
  const int stride = p.stride;
  const auto [cols, r, n] = p.entries(row);
  float* xp = s.vectors.data();
  float* yk = xp + stride;
  copy_padded(x, d, stride, xp);
  double total = 0;
  for (std::int64_t k = 0; k < n; ++k) {
    gather_row(p.y, cols[k], cols[std::min(k + kPrefetch, n - 1)], d, stride, yk);
    const double dot_xy = dot(yk, xp, stride);
    const double w = static_cast<double>(p.alpha) * (r != nullptr ? r[k] : 1.0f);
    total += w * dot_xy * dot_xy - 2.0 * (1.0 + w) * dot_xy + (1.0 + w);
  }
  return total;
}

#pragma GCC diagnostic pop

}  // namespace latent::detail

namespace latent {

AlsSolver parse_als_solver(const std::string& name) {
  if (name == "cg") return AlsSolver::ConjugateGradient;
  if (name == "cholesky") return AlsSolver::Cholesky;
  throw Error(ErrorKind::InvalidArgument,
              fmt::format("unknown ALS solver \"{}\"; valid: cg, cholesky", name));
}

const char* to_string(AlsSolver solver) noexcept {
  return solver == AlsSolver::Cholesky ? "cholesky" : "cg";
}

namespace {

using detail::require;

}  // namespace

void AlsConfig::validate() const {
  require(dim >= 1 && dim <= 4096, fmt::format("dim {} is outside [1, 4096]", dim));
  require(std::isfinite(regularization) && regularization > 0,
          fmt::format("regularization {} must be a positive number", regularization));
  require(std::isfinite(alpha) && alpha >= 0, fmt::format("alpha {} must be a number >= 0", alpha));
  require(regularization_exponent >= 0 && regularization_exponent <= 1,
          fmt::format("regularization_exponent {} is outside [0, 1]", regularization_exponent));
  require(epochs >= 1, fmt::format("epochs {} must be >= 1", epochs));
  require(cg_steps >= 1, fmt::format("cg_steps {} must be >= 1", cg_steps));
  require(threads >= 0, fmt::format("threads {} must be >= 0 (0: all cores)", threads));
}

nlohmann::json AlsConfig::to_json() const {
  return {{"dim", dim},           {"regularization", regularization},
          {"alpha", alpha},       {"regularization_exponent", regularization_exponent},
          {"epochs", epochs},     {"solver", to_string(solver)},
          {"cg_steps", cg_steps}, {"seed", seed}};
}

float als_row_regularization(const AlsConfig& config, double summed_r, std::int64_t other,
                             std::int64_t users, std::int64_t items) {
  // nu = 0 returns the config's value untouched (pow(x, 0) is 1 anyway, but
  // this keeps the plain model independent of the counts).
  if (config.regularization_exponent == 0) return config.regularization;
  const double weight = static_cast<double>(other) + static_cast<double>(config.alpha) * summed_r;
  const double scale = std::sqrt(static_cast<double>(users) * static_cast<double>(items));
  const double reg = static_cast<double>(config.regularization) *
                     std::pow(weight / scale, static_cast<double>(config.regularization_exponent));
  const auto out = static_cast<float>(reg);
  detail::require(std::isfinite(out) && out > 0,
                  fmt::format("the frequency-scaled regularization {} of a row (summed r {}, "
                              "{} x {} rows) is not a positive float; lower "
                              "regularization-exponent or alpha",
                              reg, summed_r, users, items));
  return out;
}

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// One side's sparse rows (users -> items, or items -> users) with the summed
// r of each distinct pair; pairs whose r sums to 0 are unobserved and left
// out. Columns of a row are sorted ascending.
struct SparseRows {
  std::vector<std::int64_t> indptr;  // rows + 1
  std::vector<std::int32_t> cols;
  std::vector<float> r;
  std::int64_t max_len = 0;
  // Rows 1..rows-1, longest first: with a dynamic schedule the heavy rows
  // start early and the light ones fill the gaps at the end.
  std::vector<std::int32_t> order;

  std::int32_t rows() const { return static_cast<std::int32_t>(indptr.size()) - 1; }
  std::int64_t nnz() const { return indptr.back(); }
  std::int64_t length(std::int32_t row) const {
    return indptr[static_cast<std::size_t>(row) + 1] - indptr[static_cast<std::size_t>(row)];
  }
  void finish() {
    max_len = 0;
    order.clear();
    for (std::int32_t row = 1; row < rows(); ++row) {
      max_len = std::max(max_len, length(row));
      order.push_back(row);
    }
    std::stable_sort(order.begin(), order.end(),
                     [&](std::int32_t a, std::int32_t b) { return length(a) > length(b); });
  }
};

// Leaves the rows without pairs out of `rows.order`, so a solve keeps their
// factors as they are (a warm start: ids of the saved model that the new
// data does not have keep their vectors) instead of making them zero.
void keep_rows_without_pairs(SparseRows& rows) {
  std::erase_if(rows.order, [&](std::int32_t row) { return rows.length(row) == 0; });
}

// users -> items with duplicates merged (their r summed in input order).
// The pairs are bucketed by user straight into cols/r, then each row is
// sorted by item and its duplicates merged in place: beside the input, the
// peak is the output itself (position arrays of 8 bytes a pair cost three
// times as much at the MovieLens-20M scale).
SparseRows user_rows(const Interactions& x) {
  SparseRows out;
  out.indptr.assign(static_cast<std::size_t>(x.num_users) + 1, 0);
  for (auto u : x.users) ++out.indptr[static_cast<std::size_t>(u) + 1];
  std::partial_sum(out.indptr.begin(), out.indptr.end(), out.indptr.begin());
  out.cols.resize(x.size());
  out.r.resize(x.size());
  {
    std::vector<std::int64_t> next(out.indptr.begin(), out.indptr.end() - 1);
    const bool weighted = !x.weights.empty();
    for (std::size_t p = 0; p < x.size(); ++p) {
      const auto k = static_cast<std::size_t>(next[static_cast<std::size_t>(x.users[p])]++);
      out.cols[k] = x.items[p];
      out.r[k] = weighted ? x.weights[p] : 1.0f;
    }
  }
  std::vector<std::pair<std::int32_t, float>> row;
  std::int64_t write = 0;
  for (std::int32_t u = 0; u < x.num_users; ++u) {
    const auto b = out.indptr[static_cast<std::size_t>(u)];
    const auto e = out.indptr[static_cast<std::size_t>(u) + 1];
    row.clear();
    for (auto k = b; k < e; ++k) {
      row.emplace_back(out.cols[static_cast<std::size_t>(k)], out.r[static_cast<std::size_t>(k)]);
    }
    std::stable_sort(row.begin(), row.end(),
                     [](const auto& l, const auto& h) { return l.first < h.first; });
    out.indptr[static_cast<std::size_t>(u)] = write;
    for (std::size_t k = 0; k < row.size();) {
      const std::int32_t item = row[k].first;
      double r = 0;
      for (; k < row.size() && row[k].first == item; ++k) r += row[k].second;
      if (r > 0) {
        out.cols[static_cast<std::size_t>(write)] = item;
        out.r[static_cast<std::size_t>(write)] = static_cast<float>(r);
        ++write;
      }
    }
  }
  out.indptr.back() = write;
  out.cols.resize(static_cast<std::size_t>(write));
  out.r.resize(static_cast<std::size_t>(write));
  out.cols.shrink_to_fit();
  // Unweighted data without repeats, the usual case: every r is 1, so keep
  // none (at the MovieLens-20M scale that is 40 MB a side).
  if (std::all_of(out.r.begin(), out.r.end(), [](float v) { return v == 1.0f; })) out.r.clear();
  out.r.shrink_to_fit();
  out.finish();
  return out;
}

SparseRows transpose(const SparseRows& a, std::int32_t cols) {
  SparseRows out;
  out.indptr.assign(static_cast<std::size_t>(cols) + 1, 0);
  for (auto c : a.cols) ++out.indptr[static_cast<std::size_t>(c) + 1];
  std::partial_sum(out.indptr.begin(), out.indptr.end(), out.indptr.begin());
  std::vector<std::int64_t> next(out.indptr.begin(), out.indptr.end() - 1);
  out.cols.resize(a.cols.size());
  out.r.resize(a.r.size());
  for (std::int32_t row = 0; row < a.rows(); ++row) {
    for (auto k = a.indptr[static_cast<std::size_t>(row)];
         k < a.indptr[static_cast<std::size_t>(row) + 1]; ++k) {
      const auto dst = static_cast<std::size_t>(
          next[static_cast<std::size_t>(a.cols[static_cast<std::size_t>(k)])]++);
      out.cols[dst] = row;
      if (!a.r.empty()) out.r[dst] = a.r[static_cast<std::size_t>(k)];
    }
  }
  out.finish();
  return out;
}

// Threads worth waking for `pairs` pairs of work: each costs a barrier (up
// to a scheduler time slice on a busy machine), so tiny problems run on one.
int threads_for(std::int64_t pairs, int threads) {
  constexpr std::int64_t kPairsPerThread = 4096;
  return static_cast<int>(std::clamp<std::int64_t>(pairs / kPairsPerThread, 1, threads));
}

// factors^T factors (dim x dim, symmetric), summed over fixed blocks of rows
// in a fixed order so that the result does not depend on the thread count.
Matrix gramian(const Matrix& f, int threads) {
  const std::int64_t dim = f.cols();
  const std::int64_t rows = f.rows();
  constexpr std::int64_t kBlock = 4096;
  const std::int64_t blocks = (rows + kBlock - 1) / kBlock;
  const std::size_t dd = static_cast<std::size_t>(dim * dim);
  std::vector<float> partial(static_cast<std::size_t>(blocks) * dd, 0.0f);
  const auto team = static_cast<int>(std::min<std::int64_t>(threads, blocks));
  detail::prepare_blas();
#pragma omp parallel for num_threads(team) schedule(static, 1)
  for (std::int64_t b = 0; b < blocks; ++b) {
    const std::int64_t r0 = b * kBlock;
    const std::int64_t n = std::min(rows, r0 + kBlock) - r0;
    detail::sgemm_tn(dim, dim, n, f.data() + r0 * dim, dim, f.data() + r0 * dim, dim,
                     partial.data() + static_cast<std::size_t>(b) * dd, dim);
  }
  Matrix g(dim, dim);
  for (std::int64_t b = 0; b < blocks; ++b) {
    const float* p = partial.data() + static_cast<std::size_t>(b) * dd;
    for (std::size_t k = 0; k < dd; ++k) g.data()[k] += p[k];
  }
  // Exactly symmetric (the solvers read either triangle).
  for (std::int64_t i = 0; i < dim; ++i) {
    for (std::int64_t j = i + 1; j < dim; ++j) g.data()[j * dim + i] = g.data()[i * dim + j];
  }
  return g;
}

// Y^T Y + reg I, padded to stride x stride with zeros (see als_kernels.hpp).
std::vector<float> padded_system(const Matrix& y, float regularization, int threads) {
  const Matrix yty = gramian(y, threads);
  const auto dim = static_cast<int>(y.cols());
  const int stride = detail::als_stride(dim);
  std::vector<float> out(static_cast<std::size_t>(stride) * static_cast<std::size_t>(stride), 0.0f);
  for (int i = 0; i < dim; ++i) {
    std::copy_n(yty.data() + static_cast<std::int64_t>(i) * dim, dim,
                out.data() + static_cast<std::int64_t>(i) * stride);
    out[static_cast<std::size_t>(i) * static_cast<std::size_t>(stride + 1)] += regularization;
  }
  return out;
}

// row_reg: empty (every row's regularization is in yty_reg), or one per row.
detail::AlsProblem problem_of(const Matrix& y, const std::vector<float>& yty_reg,
                              const SparseRows& rows, const AlsConfig& config,
                              const std::vector<float>& row_reg) {
  return {config.dim,       detail::als_stride(config.dim),
          y.data(),         yty_reg.data(),
          config.alpha,     rows.indptr.data(),
          rows.cols.data(), rows.r.empty() ? nullptr : rows.r.data(),
          config.cg_steps,  row_reg.empty() ? nullptr : row_reg.data()};
}

// Each row's regularization (als_row_regularization) when the exponent is
// not 0, else empty: the plain model keeps one regularization folded into
// Y^T Y, exactly as before frequency scaling existed.
std::vector<float> row_regularization(const SparseRows& rows, const AlsConfig& config,
                                      std::int64_t other, std::int64_t users, std::int64_t items) {
  if (config.regularization_exponent == 0) return {};
  std::vector<float> out(static_cast<std::size_t>(rows.rows()), 0.0f);
  for (std::int32_t row = 1; row < rows.rows(); ++row) {
    double summed = 0;
    const auto b = rows.indptr[static_cast<std::size_t>(row)];
    const auto e = rows.indptr[static_cast<std::size_t>(row) + 1];
    if (rows.r.empty()) {
      summed = static_cast<double>(e - b);
    } else {
      for (auto k = b; k < e; ++k) summed += rows.r[static_cast<std::size_t>(k)];
    }
    out[static_cast<std::size_t>(row)] =
        als_row_regularization(config, summed, other, users, items);
  }
  return out;
}

// Solves every row of `x` given the other side's factors `y`.
void solve_side(Matrix& x, const Matrix& y, const SparseRows& rows, const AlsConfig& config,
                const std::vector<float>& row_reg, int threads,
                std::vector<detail::AlsScratch>& scratch) {
  const int dim = config.dim;
  const std::vector<float> yty_reg =
      padded_system(y, row_reg.empty() ? config.regularization : 0.0f, threads);
  const detail::AlsProblem problem = problem_of(y, yty_reg, rows, config, row_reg);
  const bool cholesky = config.solver == AlsSolver::Cholesky;
  const auto n = static_cast<std::int64_t>(rows.order.size());
  detail::prepare_blas();
#pragma omp parallel num_threads(threads_for(rows.nnz(), threads))
  {
    detail::AlsScratch& s = scratch[static_cast<std::size_t>(omp_get_thread_num())];
#pragma omp for schedule(dynamic, 16)
    for (std::int64_t k = 0; k < n; ++k) {
      const std::int32_t row = rows.order[static_cast<std::size_t>(k)];
      float* xr = x.data() + static_cast<std::int64_t>(row) * dim;
      if (cholesky) {
        detail::als_solve_cholesky(problem, row, xr, s);
      } else {
        detail::als_solve_cg(problem, row, xr, s);
      }
    }
  }
}

// implicit's loss: the objective over all non-OOV cells divided by their
// total confidence. The unobserved cells' part is summed through the
// Gramians: sum_u x_u^T (Y^T Y) x_u = <X^T X, Y^T Y>.
// A distributed run (comm not null): `rows` holds this rank's users, and
// their per-user terms are summed over the ranks before the totals.
double objective(const Matrix& users, const Matrix& items, const SparseRows& rows,
                 const AlsConfig& config, const std::vector<float>& user_reg,
                 const std::vector<float>& item_reg, int threads,
                 std::vector<detail::AlsScratch>& scratch, std::vector<double>& per_user,
                 Communicator* comm = nullptr) {
  const int dim = config.dim;
  const Matrix xtx = gramian(users, threads);
  const Matrix yty = gramian(items, threads);
  const std::vector<float> unused;
  const detail::AlsProblem problem = problem_of(items, unused, rows, config, unused);
  const auto n = static_cast<std::int64_t>(rows.order.size());
  const std::size_t user_rows_n = static_cast<std::size_t>(rows.rows());
  // per_user: each user's observed loss, then each user's sum of alpha * r.
  per_user.assign(2 * user_rows_n, 0.0);
#pragma omp parallel num_threads(threads_for(rows.nnz(), threads))
  {
    detail::AlsScratch& s = scratch[static_cast<std::size_t>(omp_get_thread_num())];
#pragma omp for schedule(dynamic, 64)
    for (std::int64_t k = 0; k < n; ++k) {
      const std::int32_t u = rows.order[static_cast<std::size_t>(k)];
      per_user[static_cast<std::size_t>(u)] = detail::als_observed_loss(
          problem, u, users.data() + static_cast<std::int64_t>(u) * dim, s);
      double r = 0;
      const auto b = rows.indptr[static_cast<std::size_t>(u)];
      const auto e = rows.indptr[static_cast<std::size_t>(u) + 1];
      if (rows.r.empty()) {
        r = static_cast<double>(e - b);
      } else {
        for (auto j = b; j < e; ++j) r += rows.r[static_cast<std::size_t>(j)];
      }
      per_user[user_rows_n + static_cast<std::size_t>(u)] = static_cast<double>(config.alpha) * r;
    }
  }
  if (comm != nullptr) comm->allreduce_sum(std::span<double>(per_user));
  // Summed in row order: the same total for every thread and rank count.
  // The confidence of all cells is one per cell plus alpha * r per pair.
  double loss = 0, confidence = 0, norms = 0;
  for (std::size_t u = 0; u < user_rows_n; ++u) loss += per_user[u];
  for (std::size_t u = 0; u < user_rows_n; ++u) confidence += per_user[user_rows_n + u];
  for (std::size_t k = 0; k < xtx.size(); ++k) {
    loss += static_cast<double>(xtx.data()[k]) * static_cast<double>(yty.data()[k]);
  }
  if (user_reg.empty()) {
    for (int d = 0; d < dim; ++d) {
      norms += static_cast<double>(xtx.data()[d * dim + d]) + yty.data()[d * dim + d];
    }
    loss += config.regularization * norms;
  } else {
    const auto weighted_norms = [](const Matrix& f, const std::vector<float>& reg) {
      double total = 0;
      for (std::int64_t row = 1; row < f.rows(); ++row) {
        double sq = 0;
        for (float v : f.row(row)) sq += static_cast<double>(v) * v;
        total += reg[static_cast<std::size_t>(row)] * sq;
      }
      return total;
    };
    loss += weighted_norms(users, user_reg) + weighted_norms(items, item_reg);
  }
  confidence += static_cast<double>(users.rows() - 1) * static_cast<double>(items.rows() - 1);
  return loss / confidence;
}

Matrix initial_factors(std::int64_t rows, int dim, Rng& rng) {
  Matrix m(rows, dim);
  for (std::int64_t k = dim; k < rows * dim; ++k) m.data()[k] = rng.uniform() * 0.01f;
  return m;
}

}  // namespace

Matrix als_gramian(const Matrix& factors) { return gramian(factors, detail::resolve_threads(0)); }

namespace {

// The confidence 1 + alpha * r of every pair is a finite float.
void check_confidences(const SparseRows& by_user, const AlsConfig& config) {
  for (std::int32_t u = 1; u < by_user.rows(); ++u) {
    for (auto k = by_user.indptr[static_cast<std::size_t>(u)];
         k < by_user.indptr[static_cast<std::size_t>(u) + 1]; ++k) {
      const float r = by_user.r.empty() ? 1.0f : by_user.r[static_cast<std::size_t>(k)];
      if (!std::isfinite(r) || !std::isfinite(1.0f + config.alpha * r)) {
        throw Error(ErrorKind::InvalidArgument,
                    fmt::format("the confidence 1 + alpha * r of user row {} and item row {} "
                                "overflows float (alpha {}, summed weight {})",
                                u, by_user.cols[static_cast<std::size_t>(k)], config.alpha, r));
      }
    }
  }
}

}  // namespace

namespace {

// The ranks of a distributed training and the float offsets of each one's
// rows of the user and item factors.
struct RankRows {
  Communicator& comm;
  std::vector<std::int64_t> user_floats, item_floats;
};

// config.epochs iterations, each solving by_user's rows (in their `order`)
// then by_item's. On several ranks (`ranks`), each half-step ends with the
// ranks exchanging their rows, and the loss sums every rank's users.
void iterate(AlsResult& result, const SparseRows& by_user, const SparseRows& by_item,
             const AlsConfig& config, const std::vector<float>& user_reg,
             const std::vector<float>& item_reg, int threads,
             const AlsIterationCallback& on_iteration, const RankRows* ranks) {
  // Scratch for the longest row of either side, allocated once.
  std::vector<detail::AlsScratch> scratch(static_cast<std::size_t>(threads));
  for (auto& s : scratch) s.reserve(config.dim, std::max(by_user.max_len, by_item.max_len));
  std::vector<double> per_user;
  for (int iteration = 1; iteration <= config.epochs; ++iteration) {
    const auto t0 = Clock::now();
    solve_side(result.user_factors, result.item_factors, by_user, config, user_reg, threads,
               scratch);
    if (ranks != nullptr) {
      ranks->comm.allgather_ranges(std::span<float>(result.user_factors.storage()),
                                   ranks->user_floats);
    }
    solve_side(result.item_factors, result.user_factors, by_item, config, item_reg, threads,
               scratch);
    if (ranks != nullptr) {
      ranks->comm.allgather_ranges(std::span<float>(result.item_factors.storage()),
                                   ranks->item_floats);
    }
    double loss = std::numeric_limits<double>::quiet_NaN();
    if (config.compute_loss) {
      loss =
          objective(result.user_factors, result.item_factors, by_user, config, user_reg, item_reg,
                    threads, scratch, per_user, ranks != nullptr ? &ranks->comm : nullptr);
      result.loss.push_back(loss);
    }
    const double seconds = seconds_since(t0);
    result.seconds.push_back(seconds);
    if (on_iteration) on_iteration(iteration, seconds, loss);
  }
}

}  // namespace

AlsResult train_als(const Interactions& train, const AlsConfig& config,
                    const AlsIterationCallback& on_iteration, const InitialVectors& init) {
  config.validate();
  check_training_pairs(train);
  const int threads = detail::resolve_threads(config.threads);
  const int dim = config.dim;
  check_initial_rows(init.users, train.num_users, dim, "initial user factors");
  check_initial_rows(init.items, train.num_items, dim, "initial item factors");

  SparseRows by_user = user_rows(train);
  check_confidences(by_user, config);
  SparseRows by_item = transpose(by_user, train.num_items);
  const std::int64_t users = train.num_users - 1;
  const std::int64_t items = train.num_items - 1;
  const std::vector<float> user_reg = row_regularization(by_user, config, items, users, items);
  const std::vector<float> item_reg = row_regularization(by_item, config, users, users, items);

  Rng rng(config.seed);
  AlsResult result;
  result.user_factors = initial_factors(train.num_users, dim, rng);
  result.item_factors = initial_factors(train.num_items, dim, rng);
  if (!init.empty()) {
    copy_initial_rows(init.users, result.user_factors, "initial user factors");
    copy_initial_rows(init.items, result.item_factors, "initial item factors");
    keep_rows_without_pairs(by_user);
    keep_rows_without_pairs(by_item);
  }

  iterate(result, by_user, by_item, config, user_reg, item_reg, threads, on_iteration, nullptr);
  return result;
}

namespace {

// Leaves the rows outside [begin, end) out of `rows.order`: another rank
// solves them.
void keep_rows_of_rank(SparseRows& rows, std::int32_t begin, std::int32_t end) {
  std::erase_if(rows.order, [&](std::int32_t row) { return row < begin || row >= end; });
}

// Rows' regularizations known only for this rank's rows (the others' are
// made of no pairs), completed from every rank's: zeros elsewhere, summed.
void share_row_regularization(Communicator& comm, std::vector<float>& reg,
                              const RowPartition& partition) {
  if (reg.empty()) return;
  const int rank = comm.rank();
  for (std::int32_t row = 0; row < static_cast<std::int32_t>(reg.size()); ++row) {
    if (row < partition.begin(rank) || row >= partition.end(rank)) {
      reg[static_cast<std::size_t>(row)] = 0.0f;
    }
  }
  comm.allreduce_sum(std::span<float>(reg));
}

// The float offsets of each rank's rows of a matrix of `dim` columns.
std::vector<std::int64_t> float_ranges(const RowPartition& partition, int dim) {
  std::vector<std::int64_t> out(partition.starts.size());
  for (std::size_t r = 0; r < out.size(); ++r) out[r] = partition.starts[r] * dim;
  return out;
}

}  // namespace

AlsResult train_als_distributed(Communicator& comm, const RankPairs& train, const AlsConfig& config,
                                const AlsIterationCallback& on_iteration) {
  config.validate();
  const int threads = detail::resolve_threads(config.threads);
  const int dim = config.dim;
  const Interactions& x = train.pairs;
  check_interactions(x, "the training pairs");
  const RowPartition user_part = RowPartition::balanced(comm, x.num_users, x.users);
  const RowPartition item_part = RowPartition::balanced(comm, x.num_items, x.items);
  const int rank = comm.rank();

  // Each rank solves its users with all their pairs, then its items with
  // all theirs, from the other side's factors of every rank.
  SparseRows by_user = user_rows(owned_pairs(comm, train, user_part, PairKey::User));
  check_confidences(by_user, config);
  SparseRows by_item =
      transpose(user_rows(owned_pairs(comm, train, item_part, PairKey::Item)), x.num_items);
  keep_rows_of_rank(by_user, user_part.begin(rank), user_part.end(rank));
  keep_rows_of_rank(by_item, item_part.begin(rank), item_part.end(rank));
  const std::int64_t users = x.num_users - 1;
  const std::int64_t items = x.num_items - 1;
  std::vector<float> user_reg = row_regularization(by_user, config, items, users, items);
  std::vector<float> item_reg = row_regularization(by_item, config, users, users, items);
  share_row_regularization(comm, user_reg, user_part);
  share_row_regularization(comm, item_reg, item_part);
  const RankRows ranks{comm, float_ranges(user_part, dim), float_ranges(item_part, dim)};

  // Every rank draws every row's start, as one process does.
  Rng rng(config.seed);
  AlsResult result;
  result.user_factors = initial_factors(x.num_users, dim, rng);
  result.item_factors = initial_factors(x.num_items, dim, rng);
  iterate(result, by_user, by_item, config, user_reg, item_reg, threads, on_iteration, &ranks);
  return result;
}

Matrix als_solve_users(const Interactions& train, const AlsConfig& config,
                       const Matrix& item_factors, const Matrix& user_factors) {
  config.validate();
  check_training_pairs(train);
  require(item_factors.rows() == train.num_items && item_factors.cols() == config.dim,
          fmt::format("the item factors are {} x {}; the pairs need {} x {}", item_factors.rows(),
                      item_factors.cols(), train.num_items, config.dim));
  const int threads = detail::resolve_threads(config.threads);
  Matrix users(train.num_users, config.dim);
  copy_initial_rows(&user_factors, users, "initial user factors");

  SparseRows by_user = user_rows(train);
  check_confidences(by_user, config);
  keep_rows_without_pairs(by_user);
  const std::int64_t n_users = train.num_users - 1;
  const std::int64_t n_items = train.num_items - 1;
  const std::vector<float> user_reg =
      row_regularization(by_user, config, n_items, n_users, n_items);
  std::vector<detail::AlsScratch> scratch(static_cast<std::size_t>(threads));
  for (auto& s : scratch) s.reserve(config.dim, by_user.max_len);
  solve_side(users, item_factors, by_user, config, user_reg, threads, scratch);
  return users;
}

std::vector<float> als_fold_in(const Matrix& item_factors, const Matrix& yty,
                               std::span<const std::int32_t> items, std::span<const float> r,
                               float regularization, float alpha) {
  const std::int64_t dim = item_factors.cols();
  require(dim >= 1, "the item factors have no columns");
  require(yty.rows() == dim && yty.cols() == dim,
          fmt::format("yty is {} x {}; expected {} x {} (als_gramian of the item factors)",
                      yty.rows(), yty.cols(), dim, dim));
  require(r.empty() || r.size() == items.size(),
          fmt::format("{} r values for {} items", r.size(), items.size()));
  require(std::isfinite(regularization) && regularization > 0,
          fmt::format("regularization {} must be a positive number", regularization));
  require(std::isfinite(alpha) && alpha >= 0, fmt::format("alpha {} must be a number >= 0", alpha));
  for (std::size_t k = 0; k < items.size(); ++k) {
    require(items[k] >= 0 && items[k] < item_factors.rows(),
            fmt::format("item row {} is outside [0, {})", items[k], item_factors.rows()));
    if (!r.empty()) {
      require(std::isfinite(r[k]) && r[k] >= 0,
              fmt::format("r {} of item row {} must be finite and >= 0", r[k], items[k]));
    }
  }
  // Merge repeated items (summing r, as training does).
  std::vector<std::pair<std::int32_t, double>> pairs;
  pairs.reserve(items.size());
  for (std::size_t k = 0; k < items.size(); ++k) {
    if (items[k] != 0) pairs.emplace_back(items[k], r.empty() ? 1.0 : r[k]);
  }
  std::stable_sort(pairs.begin(), pairs.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });

  // The normal equations in double: A = YtY + reg I + sum (c - 1) y y^T
  // (upper triangle, row-major), b = sum c y.
  const auto d = static_cast<std::size_t>(dim);
  std::vector<double> a(d * d), x(d, 0.0);
  for (std::size_t k = 0; k < d * d; ++k) a[k] = yty.data()[k];
  for (std::size_t k = 0; k < d; ++k) a[k * d + k] += regularization;
  for (std::size_t k = 0; k < pairs.size();) {
    const std::int32_t item = pairs[k].first;
    double sum = 0;
    for (; k < pairs.size() && pairs[k].first == item; ++k) sum += pairs[k].second;
    if (!(sum > 0)) continue;
    const double w = static_cast<double>(alpha) * sum;
    const float* yi = item_factors.data() + static_cast<std::int64_t>(item) * dim;
    for (std::size_t i = 0; i < d; ++i) {
      x[i] += (1.0 + w) * yi[i];
      const double wy = w * yi[i];
      for (std::size_t j = i; j < d; ++j) a[i * d + j] += wy * yi[j];
    }
  }
  // LAPACK is column-major: the row-major upper triangle is its lower one.
  detail::prepare_blas();
  const int n = static_cast<int>(dim);
  const int one = 1;
  int info = 0;
  detail::dpotrf_("L", &n, a.data(), &n, &info, 1);
  if (info != 0) {
    throw Error(ErrorKind::InvalidArgument,
                "yty + regularization * I is not positive definite: yty must be "
                "als_gramian(item_factors)");
  }
  detail::dpotrs_("L", &n, &one, a.data(), &n, x.data(), &n, &info, 1);
  return {x.begin(), x.end()};
}

}  // namespace latent
