#include "detail/kernels.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

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

// ScalarCodes' scores: an exact integer sum of the codes times the query's
// 16-bit values, then one multiply and one add in float, the same in every
// kernel and for every row wherever it falls in a batch (so a walk's scores
// do not depend on how it batches its rows). Written with intrinsics per
// instruction set: AVX-512 VNNI multiplies 64 bytes by 64 signed bytes in
// one instruction, so the query is also split into two byte halves.
std::int32_t CodeQuery::limit(std::int64_t dim) noexcept {
  // 32639 = 127 * 256 + 127, the most two signed bytes make as 256 high +
  // low with high at most 127; fewer where dim codes of 255 times it would
  // not fit in 31 bits.
  const std::int64_t fits =
      std::numeric_limits<std::int32_t>::max() / (255 * std::max<std::int64_t>(dim, 1));
  return static_cast<std::int32_t>(std::clamp<std::int64_t>(fits, 1, 32639));
}

namespace {

float finish(const CodeQuery& q, std::int32_t sum) noexcept {
  // Kept as two roundings (no fused multiply-add), as the vector kernels do.
  const volatile float product = q.scale * static_cast<float>(sum);
  return q.offset + product;
}

void dot_codes_portable(const CodeQuery& q, const std::uint8_t* codes, std::int64_t dim,
                        const std::int32_t* rows, std::int64_t n, float* out) noexcept {
  for (std::int64_t i = 0; i < n; ++i) {
    const std::uint8_t* c = codes + static_cast<std::int64_t>(rows[i]) * dim;
    std::int64_t s = 0;
    for (std::int64_t j = 0; j < dim; ++j) s += std::int64_t{c[j]} * q.values[j];
    out[i] = finish(q, static_cast<std::int32_t>(s));
  }
}

#if defined(__x86_64__) && defined(__GNUC__)
// GCC 12's AVX-512 headers start from _mm512_undefined_*, which its
// maybe-uninitialized warning takes for a read of garbage.
#pragma GCC diagnostic push
#if !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#define LATENT_VNNI __attribute__((target("avx512f,avx512bw,avx512vnni")))

// Sixteen lanes whose sum is a row's codes times the query: per 64 bytes,
// the high half's products shifted up a byte plus the low half's (modulo
// 2^32 in each lane, exact in the sum, which fits: see CodeQuery).
LATENT_VNNI inline __m512i vnni_row(const CodeQuery& q, const std::uint8_t* c,
                                    std::int64_t dim) noexcept {
  __m512i high = _mm512_setzero_si512(), low = _mm512_setzero_si512();
  for (std::int64_t j = 0; j < dim; j += 64) {
    const __mmask64 in = dim - j >= 64 ? ~__mmask64{0} : (__mmask64{1} << (dim - j)) - 1;
    const __m512i v = _mm512_maskz_loadu_epi8(in, c + j);
    high = _mm512_dpbusd_epi32(high, v, _mm512_loadu_si512(q.high + j));
    low = _mm512_dpbusd_epi32(low, v, _mm512_loadu_si512(q.low + j));
  }
  return _mm512_add_epi32(_mm512_slli_epi32(high, 8), low);
}

// The same for a row of 64 codes, the query's bytes held in registers (the
// common dimension: one cache line a row, one multiply per half).
LATENT_VNNI inline __m512i vnni_row64(__m512i high, __m512i low, const std::uint8_t* c) noexcept {
  const __m512i v = _mm512_loadu_si512(c);
  return _mm512_add_epi32(
      _mm512_slli_epi32(_mm512_dpbusd_epi32(_mm512_setzero_si512(), v, high), 8),
      _mm512_dpbusd_epi32(_mm512_setzero_si512(), v, low));
}

template <class Row>
LATENT_VNNI inline void vnni_rows(const CodeQuery& q, const Row& row, std::int64_t n,
                                  float* out) noexcept {
  const __m128 scale = _mm_set1_ps(q.scale), offset = _mm_set1_ps(q.offset);
  std::int64_t i = 0;
  // Four rows at a time: their lanes summed together, by interleaving.
  for (; i + 4 <= n; i += 4) {
    const __m512i a = row(i), b = row(i + 1), c = row(i + 2), d = row(i + 3);
    const __m512i ab = _mm512_add_epi32(_mm512_unpacklo_epi32(a, b), _mm512_unpackhi_epi32(a, b));
    const __m512i cd = _mm512_add_epi32(_mm512_unpacklo_epi32(c, d), _mm512_unpackhi_epi32(c, d));
    const __m512i abcd =
        _mm512_add_epi32(_mm512_unpacklo_epi64(ab, cd), _mm512_unpackhi_epi64(ab, cd));
    const __m256i half =
        _mm256_add_epi32(_mm512_castsi512_si256(abcd), _mm512_extracti64x4_epi64(abcd, 1));
    const __m128i sums =
        _mm_add_epi32(_mm256_castsi256_si128(half), _mm256_extracti128_si256(half, 1));
    _mm_storeu_ps(out + i, _mm_add_ps(_mm_mul_ps(_mm_cvtepi32_ps(sums), scale), offset));
  }
  for (; i < n; ++i) {
    const __m128 sum = _mm_cvtsi32_ss(_mm_setzero_ps(), _mm512_reduce_add_epi32(row(i)));
    out[i] = _mm_cvtss_f32(_mm_add_ss(_mm_mul_ss(sum, scale), offset));
  }
}

LATENT_VNNI void dot_codes_avx512vnni(const CodeQuery& q, const std::uint8_t* codes,
                                      std::int64_t dim, const std::int32_t* rows, std::int64_t n,
                                      float* out) noexcept {
  if (dim == 64) {
    const __m512i high = _mm512_loadu_si512(q.high), low = _mm512_loadu_si512(q.low);
    vnni_rows(
        q,
        [&](std::int64_t i) LATENT_VNNI {
          return vnni_row64(high, low, codes + static_cast<std::int64_t>(rows[i]) * 64);
        },
        n, out);
    return;
  }
  vnni_rows(
      q,
      [&](std::int64_t i) LATENT_VNNI {
        return vnni_row(q, codes + static_cast<std::int64_t>(rows[i]) * dim, dim);
      },
      n, out);
}
#undef LATENT_VNNI
#pragma GCC diagnostic pop

__attribute__((target("avx2"))) void dot_codes_avx2(const CodeQuery& q, const std::uint8_t* codes,
                                                    std::int64_t dim, const std::int32_t* rows,
                                                    std::int64_t n, float* out) noexcept {
  const std::int64_t whole = dim - dim % 16;
  const __m128 scale = _mm_set1_ps(q.scale), offset = _mm_set1_ps(q.offset);
  for (std::int64_t i = 0; i < n; ++i) {
    const std::uint8_t* c = codes + static_cast<std::int64_t>(rows[i]) * dim;
    __m256i acc = _mm256_setzero_si256();
    for (std::int64_t j = 0; j < whole; j += 16) {
      const __m256i v =
          _mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(c + j)));
      acc = _mm256_add_epi32(
          acc,
          _mm256_madd_epi16(v, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q.values + j))));
    }
    __m128i h = _mm_add_epi32(_mm256_castsi256_si128(acc), _mm256_extracti128_si256(acc, 1));
    h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0x4E));
    h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0xB1));
    std::int32_t s = _mm_cvtsi128_si32(h);
    for (std::int64_t j = whole; j < dim; ++j) s += std::int32_t{c[j]} * q.values[j];
    const __m128 sum = _mm_cvtsi32_ss(_mm_setzero_ps(), s);
    out[i] = _mm_cvtss_f32(_mm_add_ss(_mm_mul_ss(sum, scale), offset));
  }
}
#endif

DotCodes pick_dot_codes() noexcept {
  for (const char* isa : {"avx512vnni", "avx2"}) {
    if (const DotCodes f = dot_codes_for(isa)) return f;
  }
  return dot_codes_portable;
}

}  // namespace

DotCodes dot_codes_for(std::string_view isa) noexcept {
  if (isa == "portable") return dot_codes_portable;
#if defined(__x86_64__) && defined(__GNUC__)
  __builtin_cpu_init();
  if (isa == "avx512vnni" && __builtin_cpu_supports("avx512f") &&
      __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vnni")) {
    return dot_codes_avx512vnni;
  }
  if (isa == "avx2" && __builtin_cpu_supports("avx2")) return dot_codes_avx2;
#endif
  return nullptr;
}

void dot_codes(const CodeQuery& query, const std::uint8_t* codes, std::int64_t dim,
               const std::int32_t* rows, std::int64_t n, float* out) noexcept {
  static const DotCodes impl = pick_dot_codes();
  impl(query, codes, dim, rows, n, out);
}

}  // namespace latent::detail
