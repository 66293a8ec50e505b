#include "detail/scalar_codes.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace latent::detail {

ScalarCodes::ScalarCodes(const Matrix& rows)
    : dim_(rows.cols()),
      low_(static_cast<std::size_t>(rows.cols()), std::numeric_limits<float>::infinity()),
      step_(static_cast<std::size_t>(rows.cols()), 0.0f),
      storage_(static_cast<std::size_t>(rows.size()) + 63) {
  std::vector<float> high(static_cast<std::size_t>(dim_), -std::numeric_limits<float>::infinity());
  for (std::int64_t r = 0; r < rows.rows(); ++r) {
    const float* x = rows.data() + r * dim_;
    for (std::int64_t j = 0; j < dim_; ++j) {
      low_[static_cast<std::size_t>(j)] = std::min(low_[static_cast<std::size_t>(j)], x[j]);
      high[static_cast<std::size_t>(j)] = std::max(high[static_cast<std::size_t>(j)], x[j]);
    }
  }
  for (std::int64_t j = 0; j < dim_; ++j) {
    const auto u = static_cast<std::size_t>(j);
    if (rows.rows() == 0) low_[u] = 0;
    step_[u] = rows.rows() == 0 ? 0.0f : (high[u] - low_[u]) / 255.0f;
  }
  const auto at = reinterpret_cast<std::uintptr_t>(storage_.data());
  codes_ = storage_.data() + (64 - at % 64) % 64;
  std::uint8_t* out = codes_;
  for (std::int64_t r = 0; r < rows.rows(); ++r) {
    const float* x = rows.data() + r * dim_;
    for (std::int64_t j = 0; j < dim_; ++j) {
      const auto u = static_cast<std::size_t>(j);
      const float c = step_[u] > 0 ? std::nearbyint((x[j] - low_[u]) / step_[u]) : 0.0f;
      out[r * dim_ + j] = static_cast<std::uint8_t>(std::clamp(c, 0.0f, 255.0f));
    }
  }
}

void ScalarCodes::prepare(const float* query, Query& out) const {
  out.scaled.resize(static_cast<std::size_t>(dim_));
  double offset = 0;
  for (std::int64_t j = 0; j < dim_; ++j) {
    const auto u = static_cast<std::size_t>(j);
    out.scaled[u] = query[j] * step_[u];
    offset += static_cast<double>(query[j]) * low_[u];
  }
  out.offset = static_cast<float>(offset);
}

std::int64_t ScalarCodes::bytes() const noexcept {
  return static_cast<std::int64_t>(storage_.size() + (low_.size() + step_.size()) * sizeof(float));
}

}  // namespace latent::detail
