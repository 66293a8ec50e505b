#pragma once
// Small hot loops of training and evaluation, compiled for several x86-64
// levels (AVX-512, AVX2+FMA, baseline) and picked at run time, so one
// portable binary runs at the speed of the machine it lands on.

#include <cstdint>

namespace latent::detail {

// Number of x[0..n) strictly greater than `value`.
std::int64_t count_greater(const float* x, std::int64_t n, float value) noexcept;

// x[i] = exp(x[i] - shift) for i in [0, n).
void exp_shifted(float* x, std::int64_t n, float shift) noexcept;

}  // namespace latent::detail
