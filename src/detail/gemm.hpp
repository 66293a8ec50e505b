#pragma once
// Multi-threaded GEMM on contiguous row-major matrices: the output rows are
// split across `threads` OpenMP threads, each calling the single-threaded
// OpenBLAS wrappers of blas.hpp. Inside an existing parallel region they run
// on the calling thread only.

#include <cstdint>

namespace latent::detail {

// C (m x n) = A (m x k) * B^T, B is n x k.
void parallel_sgemm_nt(std::int64_t m, std::int64_t n, std::int64_t k, const float* a,
                       const float* b, float* c, int threads);
// C (m x n) = A (m x k) * B, B is k x n.
void parallel_sgemm_nn(std::int64_t m, std::int64_t n, std::int64_t k, const float* a,
                       const float* b, float* c, int threads);
// C (m x n) = A^T * B, A is k x m, B is k x n.
void parallel_sgemm_tn(std::int64_t m, std::int64_t n, std::int64_t k, const float* a,
                       const float* b, float* c, int threads);

}  // namespace latent::detail
