#include "detail/blas.hpp"

#include <cassert>
#include <climits>
#include <mutex>

#include <cblas.h>

namespace latent::detail {

namespace {

// OpenBLAS (non-ILP64 build) takes int dimensions; a larger block is a bug
// in the caller's blocking, not a user error.
[[maybe_unused]] bool fits(std::int64_t v) { return v >= 0 && v <= INT_MAX; }

// C = beta * C for the cases BLAS rejects (k == 0 needs no product, and
// reference BLAS requires lda >= 1 which a 0-column matrix cannot give).
void scale_only(std::int64_t m, std::int64_t n, float* c, std::int64_t ldc, float beta) {
  for (std::int64_t i = 0; i < m; ++i) {
    float* row = c + i * ldc;
    for (std::int64_t j = 0; j < n; ++j) row[j] = beta == 0.0f ? 0.0f : beta * row[j];
  }
}

void gemm(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, std::int64_t m, std::int64_t n, std::int64_t k,
          const float* a, std::int64_t lda, const float* b, std::int64_t ldb, float* c,
          std::int64_t ldc, float alpha, float beta) {
  assert(fits(m) && fits(n) && fits(k) && fits(lda) && fits(ldb) && fits(ldc));
  if (m == 0 || n == 0) return;
  if (k == 0 || alpha == 0.0f) {
    scale_only(m, n, c, ldc, beta);
    return;
  }
  use_single_threaded_blas();
  cblas_sgemm(CblasRowMajor, ta, tb, static_cast<int>(m), static_cast<int>(n), static_cast<int>(k),
              alpha, a, static_cast<int>(lda), b, static_cast<int>(ldb), beta, c,
              static_cast<int>(ldc));
}

}  // namespace

void use_single_threaded_blas() noexcept {
  static std::once_flag once;
  std::call_once(once, [] { openblas_set_num_threads(1); });
}

void sgemm_nt(std::int64_t m, std::int64_t n, std::int64_t k, const float* a, std::int64_t lda,
              const float* b, std::int64_t ldb, float* c, std::int64_t ldc, float alpha,
              float beta) noexcept {
  gemm(CblasNoTrans, CblasTrans, m, n, k, a, lda, b, ldb, c, ldc, alpha, beta);
}

void sgemm_nn(std::int64_t m, std::int64_t n, std::int64_t k, const float* a, std::int64_t lda,
              const float* b, std::int64_t ldb, float* c, std::int64_t ldc, float alpha,
              float beta) noexcept {
  gemm(CblasNoTrans, CblasNoTrans, m, n, k, a, lda, b, ldb, c, ldc, alpha, beta);
}

void sgemm_tn(std::int64_t m, std::int64_t n, std::int64_t k, const float* a, std::int64_t lda,
              const float* b, std::int64_t ldb, float* c, std::int64_t ldc, float alpha,
              float beta) noexcept {
  gemm(CblasTrans, CblasNoTrans, m, n, k, a, lda, b, ldb, c, ldc, alpha, beta);
}

}  // namespace latent::detail
