#pragma once
// Multi-threaded GEMM on contiguous row-major matrices: the output rows are
// split across `threads` OpenMP threads, each calling the single-threaded
// OpenBLAS wrappers of blas.hpp. Inside an existing parallel region they run
// on the calling thread only.

#include <omp.h>

#include <algorithm>
#include <cstdint>

namespace latent::detail {

// Runs f(row_begin, row_end) over [0, m) on up to `threads` threads, in
// blocks of at least 32 rows (big enough for the GEMM kernel, and for a
// thread's start); inside a parallel region, as one block on the caller.
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

// Runs f(row_begin, row_end) over [0, m) in blocks of `block` rows (the
// last one shorter), on up to `threads` threads; inside a parallel region,
// every block on the caller. The blocks do not depend on the number of
// threads, so neither does a result computed by blocks: OpenBLAS's
// rounding can depend on a call's shape (a block's last rows may take
// another micro-kernel), so split_rows' thread-sized blocks give results
// that change with the thread count in the last bits.
template <typename F>
void split_blocks(std::int64_t m, std::int64_t block, int threads, F&& f) {
  const std::int64_t blocks = (m + block - 1) / block;
  if (blocks <= 1 || threads <= 1 || omp_in_parallel()) {
    for (std::int64_t b = 0; b < blocks; ++b) f(b * block, std::min(m, (b + 1) * block));
    return;
  }
#pragma omp parallel for num_threads(static_cast <int>(std::min <std::int64_t>(blocks, threads))) \
    schedule(static)
  for (std::int64_t b = 0; b < blocks; ++b) f(b * block, std::min(m, (b + 1) * block));
}

// C (m x n) = A (m x k) * B^T, B is n x k.
void parallel_sgemm_nt(std::int64_t m, std::int64_t n, std::int64_t k, const float* a,
                       const float* b, float* c, int threads);
// C (m x n) = A (m x k) * B, B is k x n.
void parallel_sgemm_nn(std::int64_t m, std::int64_t n, std::int64_t k, const float* a,
                       const float* b, float* c, int threads);
// C (m x n) = A^T * B, A is k x m, B is k x n; in blocks of 32 rows of C
// (split_blocks: the same on any number of threads).
void parallel_sgemm_tn(std::int64_t m, std::int64_t n, std::int64_t k, const float* a,
                       const float* b, float* c, int threads);

}  // namespace latent::detail
