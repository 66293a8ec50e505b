// What latent says about the machine (include/latent/system_info.hpp).

#include <gtest/gtest.h>

#include <latent/system_info.hpp>

namespace latent {
namespace {

TEST(SystemInfo, WarnsWhenOpenBlasKernelsAreOlderThanTheCpu) {
  const std::set<std::string> cooperlake = {"sse2", "avx", "avx2", "fma", "avx512f", "avx512_bf16"};
  const std::string w = blas_kernel_warning(cooperlake, "Prescott");
  EXPECT_NE(w.find("OpenBLAS chose its Prescott kernels on a CPU that runs Cooperlake kernels"),
            std::string::npos)
      << w;
  EXPECT_NE(w.find("OPENBLAS_CORETYPE=Cooperlake"), std::string::npos) << w;
  EXPECT_NE(blas_kernel_warning({"avx", "avx2", "avx512f"}, "Haswell").find("SkylakeX"),
            std::string::npos);
}

TEST(SystemInfo, NoWarningWhenTheKernelsFit) {
  EXPECT_EQ(blas_kernel_warning({"avx", "avx2", "avx512f", "avx512_bf16"}, "Cooperlake"), "");
  EXPECT_EQ(blas_kernel_warning({"avx", "avx2", "avx512f"}, "SkylakeX"), "");
  EXPECT_EQ(blas_kernel_warning({"avx", "avx2", "fma"}, "Haswell"), "");
  EXPECT_EQ(blas_kernel_warning({"avx", "avx2", "fma"}, "Zen"), "");
  EXPECT_EQ(blas_kernel_warning({"sse2", "sse3"}, "Prescott"), "");
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
  EXPECT_TRUE(j["warnings"].is_array());
}

}  // namespace
}  // namespace latent
