#include "detail/kernels.hpp"

#include <cmath>

// glibc's libmvec has vector expf for SSE4, AVX2 and AVX-512; math.h
// declares them only under -ffast-math, whose other effects we do not want
// here, so declare the vector variants directly.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
extern "C" __attribute__((simd("notinbranch"))) float expf(float) noexcept;
#endif

// GCC's function multiversioning: one clone per target, chosen by an ifunc
// resolver at load time. Built with -fno-math-errno so that the exp loop
// vectorises through glibc's libmvec.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define LATENT_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define LATENT_CLONES
#endif

namespace latent::detail {

LATENT_CLONES std::int64_t count_greater(const float* x, std::int64_t n, float value) noexcept {
  // 32-bit lanes vectorise twice as wide as 64-bit ones; chunks keep the
  // count from overflowing.
  std::int64_t total = 0;
  constexpr std::int64_t kChunk = std::int64_t{1} << 30;
  for (std::int64_t c = 0; c < n; c += kChunk) {
    const std::int64_t end = n - c < kChunk ? n : c + kChunk;
    std::int32_t count = 0;
#pragma omp simd reduction(+ : count)
    for (std::int64_t j = c; j < end; ++j) count += x[j] > value ? 1 : 0;
    total += count;
  }
  return total;
}

LATENT_CLONES void exp_shifted(float* x, std::int64_t n, float shift) noexcept {
#pragma omp simd
  for (std::int64_t i = 0; i < n; ++i) x[i] = expf(x[i] - shift);
}

}  // namespace latent::detail
