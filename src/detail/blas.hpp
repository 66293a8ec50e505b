#pragma once
// Thin wrappers over OpenBLAS sgemm (row-major float32) for the rest of
// latent. latent runs its own OpenMP threads, so BLAS must stay
// single-threaded inside them: every wrapper first makes sure OpenBLAS runs
// on one thread (once per process), and callers parallelise over blocks.
//
// Leading dimensions are row strides in floats (>= the row length); pass the
// column count for a contiguous matrix. Dimensions may be 0.

#include <cstdint>

namespace latent::detail {

// Sets OpenBLAS to one thread, once per process; later calls cost one atomic
// load. Safe to call from several threads at once.
void use_single_threaded_blas() noexcept;

// C = alpha * A * B^T + beta * C
//   a: m x k, row stride lda      (e.g. queries, or a batch of user embeddings)
//   b: n x k, row stride ldb      (e.g. items)
//   c: m x n, row stride ldc
void sgemm_nt(std::int64_t m, std::int64_t n, std::int64_t k, const float* a, std::int64_t lda,
              const float* b, std::int64_t ldb, float* c, std::int64_t ldc, float alpha = 1.0f,
              float beta = 0.0f) noexcept;

// C = alpha * A * B + beta * C
//   a: m x k (lda), b: k x n (ldb), c: m x n (ldc)
void sgemm_nn(std::int64_t m, std::int64_t n, std::int64_t k, const float* a, std::int64_t lda,
              const float* b, std::int64_t ldb, float* c, std::int64_t ldc, float alpha = 1.0f,
              float beta = 0.0f) noexcept;

// C = alpha * A^T * B + beta * C
//   a: k x m (lda), b: k x n (ldb), c: m x n (ldc)
void sgemm_tn(std::int64_t m, std::int64_t n, std::int64_t k, const float* a, std::int64_t lda,
              const float* b, std::int64_t ldb, float* c, std::int64_t ldc, float alpha = 1.0f,
              float beta = 0.0f) noexcept;

}  // namespace latent::detail
