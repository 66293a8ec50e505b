#include "detail/kernels.hpp"

#include <cmath>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif

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
#define LATENT_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
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

// Vectorized: this file is compiled with -fno-math-errno, and sqrt and
// division are exact IEEE operations, so the result is the scalar loop's.
LATENT_CLONES void adagrad_step(float* w, float* acc, const float* g, std::int64_t n,
                                float learning_rate, float epsilon) noexcept {
  for (std::int64_t i = 0; i < n; ++i) {
    acc[i] += g[i] * g[i];
    w[i] -= learning_rate * g[i] / (std::sqrt(acc[i]) + epsilon);
  }
}

// ScalarCodes' scores: written with intrinsics per instruction set, since
// GCC 12 turns the portable loop into 128-bit conversions and a lane-by-lane
// sum (its byte-to-float vector conversion is scalar).
namespace {

void dot_codes_portable(const float* scaled, float offset, const std::uint8_t* codes,
                        std::int64_t dim, const std::int32_t* rows, std::int64_t n,
                        float* out) noexcept {
  for (std::int64_t i = 0; i < n; ++i) {
    const std::uint8_t* c = codes + static_cast<std::int64_t>(rows[i]) * dim;
    float s = 0;
    for (std::int64_t j = 0; j < dim; ++j) s += scaled[j] * static_cast<float>(c[j]);
    out[i] = offset + s;
  }
}

#if defined(__x86_64__) && defined(__GNUC__)
// GCC 12's AVX-512 headers start from _mm512_undefined_*, which its
// maybe-uninitialized warning takes for a read of garbage.
#pragma GCC diagnostic push
#if !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
__attribute__((target("avx512f"))) void dot_codes_avx512(const float* scaled, float offset,
                                                         const std::uint8_t* codes,
                                                         std::int64_t dim, const std::int32_t* rows,
                                                         std::int64_t n, float* out) noexcept {
  const std::int64_t whole = dim - dim % 16;
  for (std::int64_t i = 0; i < n; ++i) {
    const std::uint8_t* c = codes + static_cast<std::int64_t>(rows[i]) * dim;
    __m512 acc = _mm512_setzero_ps();
    for (std::int64_t j = 0; j < whole; j += 16) {
      const __m512i b =
          _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(c + j)));
      acc = _mm512_fmadd_ps(_mm512_loadu_ps(scaled + j), _mm512_cvtepi32_ps(b), acc);
    }
    float s = _mm512_reduce_add_ps(acc);
    for (std::int64_t j = whole; j < dim; ++j) s += scaled[j] * static_cast<float>(c[j]);
    out[i] = offset + s;
  }
}
#pragma GCC diagnostic pop

__attribute__((target("avx2,fma"))) void dot_codes_avx2(const float* scaled, float offset,
                                                        const std::uint8_t* codes, std::int64_t dim,
                                                        const std::int32_t* rows, std::int64_t n,
                                                        float* out) noexcept {
  const std::int64_t whole = dim - dim % 8;
  for (std::int64_t i = 0; i < n; ++i) {
    const std::uint8_t* c = codes + static_cast<std::int64_t>(rows[i]) * dim;
    __m256 acc = _mm256_setzero_ps();
    for (std::int64_t j = 0; j < whole; j += 8) {
      const __m256i b =
          _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(c + j)));
      acc = _mm256_fmadd_ps(_mm256_loadu_ps(scaled + j), _mm256_cvtepi32_ps(b), acc);
    }
    const __m128 h = _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1));
    const __m128 q = _mm_add_ps(h, _mm_movehl_ps(h, h));
    float s = _mm_cvtss_f32(_mm_add_ss(q, _mm_shuffle_ps(q, q, 1)));
    for (std::int64_t j = whole; j < dim; ++j) s += scaled[j] * static_cast<float>(c[j]);
    out[i] = offset + s;
  }
}
#endif

DotCodes pick_dot_codes() noexcept {
  for (const char* isa : {"avx512", "avx2"}) {
    if (const DotCodes f = dot_codes_for(isa)) return f;
  }
  return dot_codes_portable;
}

}  // namespace

DotCodes dot_codes_for(std::string_view isa) noexcept {
  if (isa == "portable") return dot_codes_portable;
#if defined(__x86_64__) && defined(__GNUC__)
  __builtin_cpu_init();
  if (isa == "avx512" && __builtin_cpu_supports("avx512f")) return dot_codes_avx512;
  if (isa == "avx2" && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
    return dot_codes_avx2;
  }
#endif
  return nullptr;
}

void dot_codes(const float* scaled, float offset, const std::uint8_t* codes, std::int64_t dim,
               const std::int32_t* rows, std::int64_t n, float* out) noexcept {
  static const DotCodes impl = pick_dot_codes();
  impl(scaled, offset, codes, dim, rows, n, out);
}

}  // namespace latent::detail
