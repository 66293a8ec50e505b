#include "detail/gemm.hpp"

#include <omp.h>

#include <algorithm>

#include "detail/blas.hpp"

namespace latent::detail {

namespace {

// Runs f(row_begin, row_end) over [0, m) on up to `threads` threads, in
// chunks big enough to keep the GEMM kernel efficient.
template <typename F>
void split_rows(std::int64_t m, int threads, F&& f) {
  constexpr std::int64_t kMinRows = 32;
  const std::int64_t parts = std::clamp<std::int64_t>(m / kMinRows, 1, std::max(threads, 1));
  if (parts <= 1 || omp_in_parallel()) {
    f(std::int64_t{0}, m);
    return;
  }
#pragma omp parallel for num_threads(static_cast <int>(parts)) schedule(static, 1)
  for (std::int64_t p = 0; p < parts; ++p) {
    const std::int64_t r0 = m * p / parts;
    const std::int64_t r1 = m * (p + 1) / parts;
    if (r1 > r0) f(r0, r1);
  }
}

}  // namespace

void parallel_sgemm_nt(std::int64_t m, std::int64_t n, std::int64_t k, const float* a,
                       const float* b, float* c, int threads) {
  split_rows(m, threads, [&](std::int64_t r0, std::int64_t r1) {
    sgemm_nt(r1 - r0, n, k, a + r0 * k, k, b, k, c + r0 * n, n);
  });
}

void parallel_sgemm_nn(std::int64_t m, std::int64_t n, std::int64_t k, const float* a,
                       const float* b, float* c, int threads) {
  split_rows(m, threads, [&](std::int64_t r0, std::int64_t r1) {
    sgemm_nn(r1 - r0, n, k, a + r0 * k, k, b, n, c + r0 * n, n);
  });
}

void parallel_sgemm_tn(std::int64_t m, std::int64_t n, std::int64_t k, const float* a,
                       const float* b, float* c, int threads) {
  // Rows of C are columns of A: each thread takes a column range of A.
  split_rows(m, threads, [&](std::int64_t r0, std::int64_t r1) {
    sgemm_tn(r1 - r0, n, k, a + r0, m, b, n, c + r0 * n, n);
  });
}

}  // namespace latent::detail
