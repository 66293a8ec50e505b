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
  // Each row's decoded norm, rounded up to a 255th of the longest: by
  // Cauchy-Schwarz |q| times it bounds the row's score for any query q.
  std::vector<double> norm(static_cast<std::size_t>(rows.rows()));
  double longest = 0;
  double low_norm = 0;
  for (std::int64_t j = 0; j < dim_; ++j) {
    low_norm +=
        static_cast<double>(low_[static_cast<std::size_t>(j)]) * low_[static_cast<std::size_t>(j)];
  }
  low_norm = std::sqrt(low_norm);
  for (std::int64_t r = 0; r < rows.rows(); ++r) {
    double sum = 0;
    for (std::int64_t j = 0; j < dim_; ++j) {
      const auto u = static_cast<std::size_t>(j);
      const double v = low_[u] + static_cast<double>(out[r * dim_ + j]) * step_[u];
      sum += v * v;
    }
    norm[static_cast<std::size_t>(r)] = std::sqrt(sum);
    longest = std::max(longest, norm[static_cast<std::size_t>(r)]);
  }
  norm_step_ =
      std::nextafter(static_cast<float>(longest / 255), std::numeric_limits<float>::infinity());
  norm_bytes_.resize(static_cast<std::size_t>(rows.rows()));
  for (std::int64_t r = 0; r < rows.rows(); ++r) {
    const double steps =
        norm_step_ > 0 ? std::ceil(norm[static_cast<std::size_t>(r)] / norm_step_) : 0;
    norm_bytes_[static_cast<std::size_t>(r)] = static_cast<std::uint8_t>(std::min(steps, 255.0));
  }
  // scores() sums dim products of the query's scaled values and the codes,
  // then adds the offset: in float each of the sums is off by at most about
  // dim units in the last place of the sum of the terms' magnitudes, which
  // is at most |q| (|x - low| + |low|) <= |q| (|x| + 2 |low|). Four times
  // that, to spare.
  slack_ = static_cast<float>((longest + 2 * low_norm) * 4 * (static_cast<double>(dim_) + 2) *
                              std::numeric_limits<float>::epsilon());
}

void ScalarCodes::prepare(const float* query, Query& out) const {
  const auto dim = static_cast<std::size_t>(dim_);
  const std::int32_t limit = CodeQuery::limit(dim_);
  float largest = 0;
  double offset = 0, norm = 0;
  for (std::size_t j = 0; j < dim; ++j) {
    // (a NaN is the largest: max would drop it)
    const float x = std::abs(query[j] * step_[j]);
    largest = std::isnan(x) || x > largest ? x : largest;
    offset += static_cast<double>(query[j]) * low_[j];
    norm += static_cast<double>(query[j]) * query[j];
  }
  norm = std::sqrt(norm);
  out.offset = static_cast<float>(offset);
  // A query not finite, or too large for floats, scores NaN (scale NaN,
  // times zeros), which a search skips.
  out.scale = largest / static_cast<float>(limit);
  const bool finite = std::isfinite(out.scale) && out.scale > 0;
  if (!std::isfinite(out.scale)) out.scale = std::numeric_limits<float>::quiet_NaN();
  out.values.assign(dim, 0);
  out.high.assign((dim + 63) / 64 * 64, 0);
  out.low.assign(out.high.size(), 0);
  for (std::size_t j = 0; finite && j < dim; ++j) {
    const auto l = static_cast<float>(limit);
    const auto v =
        static_cast<std::int32_t>(std::lrint(std::clamp(query[j] * step_[j] / out.scale, -l, l)));
    out.values[j] = static_cast<std::int16_t>(v);
    CodeQuery::split(v, out.high[j], out.low[j]);
  }
  // The bound's slack: the float sums' rounding (slack_ per unit of the
  // query's norm), the query's rounding to integers (at most half a scale
  // per value, times codes up to 255: 127.5 dim scales) and the integer
  // sum's rounding to a float (at most 128 scales, as it is below 2^31).
  constexpr float kUp = 1 + 4 * std::numeric_limits<float>::epsilon();
  out.bound_step = static_cast<float>(norm * norm_step_) * kUp;
  out.bound_slack =
      static_cast<float>(norm * slack_ + static_cast<double>(finite ? out.scale : 0) *
                                             (127.5 * static_cast<double>(dim) + 128)) *
      kUp;
}

int ScalarCodes::norm_limit(const Query& query, float floor) const noexcept {
  const auto bound = [&](int byte) {
    return query.bound_step * static_cast<float>(byte) + query.bound_slack;
  };
  // Rows of norm byte b score at most bound(b), which grows with b: the
  // limit is the first byte whose bound reaches the floor. Not a NaN floor
  // or bound: nothing is skipped then.
  if (!(bound(0) < floor)) return 0;
  if (bound(255) < floor) return 256;
  const float guess = (floor - query.bound_slack) / query.bound_step;
  int limit = std::isfinite(guess) ? static_cast<int>(std::clamp(guess, 1.0f, 255.0f)) : 255;
  while (limit > 1 && !(bound(limit - 1) < floor)) --limit;
  while (bound(limit) < floor) ++limit;
  return limit;
}

std::int64_t ScalarCodes::bytes() const noexcept {
  return static_cast<std::int64_t>(storage_.size() + norm_bytes_.size() +
                                   (low_.size() + step_.size()) * sizeof(float));
}

}  // namespace latent::detail
