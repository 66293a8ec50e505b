#include "detail/gemm.hpp"

#include "detail/blas.hpp"

namespace latent::detail {

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
  // Rows of C are columns of A: each block is a column range of A.
  split_blocks(m, 32, threads, [&](std::int64_t r0, std::int64_t r1) {
    sgemm_tn(r1 - r0, n, k, a + r0, m, b, n, c + r0 * n, n);
  });
}

}  // namespace latent::detail
