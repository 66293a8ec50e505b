// The one place that prepares OpenBLAS (src/detail/blas.hpp): which kernels
// it chooses for a CPU's instruction sets, that the kernels in use fit this
// CPU, and that the products are right on them.

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <random>
#include <vector>

#include "detail/blas.hpp"

namespace latent::detail {
namespace {

const std::set<std::string> kAvx2 = {"sse3", "avx", "avx2", "fma"};
const std::set<std::string> kSkylakeX = {"sse3",     "avx",      "avx2",     "fma",     "avx512f",
                                         "avx512bw", "avx512vl", "avx512dq", "avx512cd"};

TEST(Blas, ChoosesTheBestKernelsTheInstructionSetsRun) {
  std::set<std::string> cooperlake = kSkylakeX;
  cooperlake.insert("avx512_bf16");
  EXPECT_EQ(best_openblas_core(cooperlake), "Cooperlake");
  EXPECT_EQ(best_openblas_core(kSkylakeX), "SkylakeX");
  EXPECT_EQ(best_openblas_core(kAvx2), "Haswell");
  EXPECT_EQ(best_openblas_core({"sse3", "avx"}), "Sandybridge");
  EXPECT_EQ(best_openblas_core({"sse3"}), "Prescott");
  // AVX2 without FMA, AVX-512F without the subsets SkylakeX's kernels use:
  // the next family down.
  EXPECT_EQ(best_openblas_core({"sse3", "avx", "avx2"}), "Sandybridge");
  EXPECT_EQ(best_openblas_core({"sse3", "avx", "avx2", "fma", "avx512f", "avx512cd"}), "Haswell");
}

TEST(Blas, RanksOpenBlasKernelFamiliesByInstructionSet) {
  EXPECT_EQ(openblas_core_level("Cooperlake"), 3);
  EXPECT_EQ(openblas_core_level("SapphireRapids"), 3);
  EXPECT_EQ(openblas_core_level("Zen"), 2);
  EXPECT_EQ(openblas_core_level("Sandybridge"), 1);
  EXPECT_EQ(openblas_core_level("Prescott"), 0);
  EXPECT_EQ(openblas_core_level("Nehalem"), 0);
  EXPECT_EQ(openblas_core_level("a core of a later OpenBLAS"), 0);
}

TEST(Blas, KernelsInUseFitThisCpu) {
  if (std::getenv("OPENBLAS_CORETYPE"))
    GTEST_SKIP() << "OPENBLAS_CORETYPE is set: the user's choice";
  const BlasKernels& k = prepare_blas();
  const std::string best = best_openblas_core(cpu_features());
  EXPECT_GE(openblas_core_level(k.core), openblas_core_level(best))
      << "in use " << k.core << ", OpenBLAS picked " << k.picked_by_openblas << ", this CPU runs "
      << best;
  // latent switches only when OpenBLAS's own pick is older than the CPU.
  const bool behind = openblas_core_level(k.picked_by_openblas) < openblas_core_level(best);
  EXPECT_EQ(k.chosen_by, behind ? "latent" : "OpenBLAS") << k.picked_by_openblas;
  EXPECT_EQ(&prepare_blas(), &k);  // once per process
}

// C = A op(B) against a double-precision loop, on the kernels in use, at
// sizes that leave remainders in every blocking dimension and with row
// strides wider than the rows.
TEST(Blas, ProductsAreRightOnTheKernelsInUse) {
  std::mt19937 rng(7);
  std::normal_distribution<float> normal;
  for (const auto [m, n, k] : {std::array{7, 13, 65}, std::array{300, 517, 64},
                               std::array{33, 1, 128}, std::array{64, 64, 2600}}) {
    const int lda = k + 3, ldb = k + 1, ldc = n + 5;
    std::vector<float> a(static_cast<size_t>(m) * lda), b(static_cast<size_t>(n) * ldb);
    for (auto& v : a) v = normal(rng);
    for (auto& v : b) v = normal(rng);
    std::vector<float> c(static_cast<size_t>(m) * ldc, 1.0f);
    sgemm_nt(m, n, k, a.data(), lda, b.data(), ldb, c.data(), ldc, 0.5f, 2.0f);
    // The same product as A^T-major: A' = A^T (k x m), through sgemm_tn.
    std::vector<float> at(static_cast<size_t>(k) * m), c2(static_cast<size_t>(m) * n);
    for (int i = 0; i < m; ++i) {
      for (int p = 0; p < k; ++p)
        at[static_cast<size_t>(p) * m + i] = a[static_cast<size_t>(i) * lda + p];
    }
    std::vector<float> bt(static_cast<size_t>(k) * n);
    for (int j = 0; j < n; ++j) {
      for (int p = 0; p < k; ++p)
        bt[static_cast<size_t>(p) * n + j] = b[static_cast<size_t>(j) * ldb + p];
    }
    sgemm_tn(m, n, k, at.data(), m, bt.data(), n, c2.data(), n);
    std::vector<float> c3(static_cast<size_t>(m) * n);
    sgemm_nn(m, n, k, a.data(), lda, bt.data(), n, c3.data(), n);
    for (int i = 0; i < m; ++i) {
      for (int j = 0; j < n; ++j) {
        double dot = 0, scale = 0;
        for (int p = 0; p < k; ++p) {
          const double x = a[static_cast<size_t>(i) * lda + p],
                       y = b[static_cast<size_t>(j) * ldb + p];
          dot += x * y;
          scale += std::abs(x * y);
        }
        const double tol = 1e-5 * scale + 1e-6;
        ASSERT_NEAR(c[static_cast<size_t>(i) * ldc + j], 0.5 * dot + 2.0, tol)
            << m << "x" << n << "x" << k;
        ASSERT_NEAR(c2[static_cast<size_t>(i) * n + j], dot, tol) << m << "x" << n << "x" << k;
        ASSERT_NEAR(c3[static_cast<size_t>(i) * n + j], dot, tol) << m << "x" << n << "x" << k;
      }
      for (int j = n; j < ldc; ++j)
        ASSERT_EQ(c[static_cast<size_t>(i) * ldc + j], 1.0f);  // untouched
    }
  }
}

}  // namespace
}  // namespace latent::detail
