#pragma once
// Small hot loops of training and evaluation, compiled for several x86-64
// levels (AVX-512, AVX2+FMA, baseline) and picked at run time, so one
// portable binary runs at the speed of the machine it lands on.

#include <cstdint>
#include <string_view>

namespace latent::detail {

// Number of x[0..n) strictly greater than `value`.
std::int64_t count_greater(const float* x, std::int64_t n, float value) noexcept;

// x[i] = exp(x[i] - shift) for i in [0, n).
void exp_shifted(float* x, std::int64_t n, float shift) noexcept;

// Adagrad on n parameters: acc[i] += g[i]^2, then w[i] -= learning_rate *
// g[i] / (sqrt(acc[i]) + epsilon), in that order (as TF/Keras do).
void adagrad_step(float* w, float* acc, const float* g, std::int64_t n, float learning_rate,
                  float epsilon) noexcept;
// A query as dot_codes scores rows of byte codes by: `values`, dim integers
// of magnitude at most CodeQuery::limit(dim), so that a row's sum of codes
// (0-255) times values is exact in 32 bits; and the same values split into
// bytes, values[j] = 256 high[j] + low[j], each padded with zeros to a
// multiple of 64 (the bytes the AVX-512 VNNI kernel multiplies by).
struct CodeQuery {
  const std::int16_t* values = nullptr;
  const std::int8_t* high = nullptr;
  const std::int8_t* low = nullptr;
  float scale = 0;
  float offset = 0;
  static std::int32_t limit(std::int64_t dim) noexcept;
  // high[j] and low[j] of value v (|v| <= 32639): v = 256 high + low, high
  // in [-127, 127], low in [-128, 127].
  static void split(std::int32_t v, std::int8_t& high, std::int8_t& low) noexcept {
    const std::int32_t h = (v + 128) >> 8;  // floor
    high = static_cast<std::int8_t>(h);
    low = static_cast<std::int8_t>(v - 256 * h);
  }
};
// out[i] = offset + scale * (values . codes[rows[i]]) for i in [0, n), each
// row of `codes` dim bytes: the integer sum exact, then a float multiply
// and add, rounded each (ScalarCodes' scores).
void dot_codes(const CodeQuery& query, const std::uint8_t* codes, std::int64_t dim,
               const std::int32_t* rows, std::int64_t n, float* out) noexcept;
// dot_codes' implementation for an instruction set ("avx512vnni", "avx2",
// "portable"), or nullptr when this CPU lacks it: dot_codes runs the first
// this CPU has; tests run each. All give the same floats.
using DotCodes = void (*)(const CodeQuery&, const std::uint8_t*, std::int64_t, const std::int32_t*,
                          std::int64_t, float*) noexcept;
DotCodes dot_codes_for(std::string_view isa) noexcept;

}  // namespace latent::detail
