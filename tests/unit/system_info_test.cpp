// What latent says about the machine (include/latent/system_info.hpp).

#include <gtest/gtest.h>

#include <latent/system_info.hpp>

namespace latent {
namespace {

const std::set<std::string> kSkylakeX = {"sse3",     "avx",      "avx2",     "fma",     "avx512f",
                                         "avx512bw", "avx512vl", "avx512dq", "avx512cd"};

std::set<std::string> with(std::set<std::string> s, const std::string& more) {
  s.insert(more);
  return s;
}

TEST(SystemInfo, WarnsWhenTheKernelsInUseAreOlderThanTheCpu) {
  // Held back by the user's OPENBLAS_CORETYPE: say so, and what latent would choose.
  std::string w =
      blas_kernel_warning(with(kSkylakeX, "avx512_bf16"), "Prescott", "OPENBLAS_CORETYPE");
  EXPECT_NE(w.find("OPENBLAS_CORETYPE in the environment holds OpenBLAS to its Prescott kernels "
                   "on a CPU that runs Cooperlake kernels"),
            std::string::npos)
      << w;
  EXPECT_NE(w.find("Without it latent chooses the Cooperlake kernels itself"), std::string::npos)
      << w;
  // An OpenBLAS latent could not switch (built for one CPU).
  w = blas_kernel_warning(kSkylakeX, "Haswell", "OpenBLAS");
  EXPECT_NE(w.find("runs its Haswell kernels on a CPU that runs SkylakeX kernels, and this "
                   "OpenBLAS cannot switch them"),
            std::string::npos)
      << w;
}

TEST(SystemInfo, NoWarningWhenTheKernelsFit) {
  EXPECT_EQ(blas_kernel_warning(with(kSkylakeX, "avx512_bf16"), "Cooperlake", "latent"), "");
  EXPECT_EQ(blas_kernel_warning(with(kSkylakeX, "avx512_bf16"), "SkylakeX", "OpenBLAS"), "");
  EXPECT_EQ(blas_kernel_warning(kSkylakeX, "SkylakeX", "OpenBLAS"), "");
  EXPECT_EQ(blas_kernel_warning({"avx", "avx2", "fma"}, "Haswell", "OpenBLAS"), "");
  EXPECT_EQ(blas_kernel_warning({"avx", "avx2", "fma"}, "Zen", "OpenBLAS"), "");
  EXPECT_EQ(blas_kernel_warning({"sse2", "sse3"}, "Prescott", "OpenBLAS"), "");
  // AVX-512 without the BW/VL/DQ/CD subsets OpenBLAS's SkylakeX kernels use
  // (Knights Landing): AVX2 kernels are the best it runs.
  EXPECT_EQ(
      blas_kernel_warning({"avx", "avx2", "fma", "avx512f", "avx512cd"}, "Haswell", "OpenBLAS"),
      "");
}

TEST(SystemInfo, DescribesThisMachine) {
  const SystemInfo s = system_info();
  EXPECT_FALSE(s.cpu.empty());
  EXPECT_FALSE(s.blas_kernels.empty());
  EXPECT_NE(s.blas.find("OpenBLAS"), std::string::npos) << s.blas;
  EXPECT_TRUE(s.latent_kernels == "avx512f" || s.latent_kernels == "avx2" ||
              s.latent_kernels == "default")
      << s.latent_kernels;
  EXPECT_GE(s.default_threads, 1);
  const auto j = s.to_json();
  EXPECT_EQ(j["blas_kernels"], s.blas_kernels);
  EXPECT_EQ(j["blas_chosen_by"], s.blas_chosen_by);
  EXPECT_NE(s.summary().find(s.blas_kernels), std::string::npos) << s.summary();
  EXPECT_TRUE(j["warnings"].is_array());
}

}  // namespace
}  // namespace latent
