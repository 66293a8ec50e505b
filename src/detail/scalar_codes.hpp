#pragma once
// ScalarCodes: a matrix's rows as one byte per value (8-bit scalar
// quantisation, a uniform grid per dimension between its smallest and
// largest value), for walking a graph of item vectors with a quarter of the
// memory traffic: a 64-dimensional row is one 64-byte cache line instead of
// four. Their scores approximate the dot products (the error per value is at
// most half a grid step, plus the query's rounding: see Query); a search
// ranks its results again by the float vectors' score of record.

#include <cstdint>
#include <vector>

#include <latent/matrix.hpp>

#include "detail/kernels.hpp"

namespace latent::detail {

class ScalarCodes {
 public:
  explicit ScalarCodes(const Matrix& rows);
  ScalarCodes(const ScalarCodes&) = delete;  // codes_ points into storage_
  ScalarCodes& operator=(const ScalarCodes&) = delete;

  // A query as the codes score it: code c of dimension j stands for
  // low[j] + c * step[j], so x . q = offset + sum_j c_j * q_j * step[j],
  // and q_j * step[j] is rounded to scale times a 16-bit integer (at most
  // half a scale off, where scale is the largest of them over
  // CodeQuery::limit): the sum over j is then exact in integers.
  struct Query {
    std::vector<std::int16_t> values;
    std::vector<std::int8_t> high, low;  // values[j] = 256 high[j] + low[j]
    float scale = 0;
    float offset = 0;
    // bound_step * norm_byte(r) + bound_slack is at least the score scores()
    // gives row r (Cauchy-Schwarz on the decoded row, plus the most the
    // query's rounding and the float sums can add): see norm_limit.
    float bound_step = 0;
    float bound_slack = 0;
  };
  void prepare(const float* query, Query& out) const;

  // out[i] ~ query . row rows[i], for i in [0, n).
  void scores(const Query& query, const std::int32_t* rows, std::int64_t n,
              float* out) const noexcept {
    const CodeQuery q{query.values.data(), query.high.data(), query.low.data(), query.scale,
                      query.offset};
    dot_codes(q, codes_, dim_, rows, n, out);
  }
  // The norm bytes for which a row's score for `query` is certainly below
  // `floor`: those less than the value returned (0: none, 256: all). A
  // search skips such rows without fetching their codes.
  int norm_limit(const Query& query, float floor) const noexcept;
  std::uint8_t norm_byte(std::int32_t r) const noexcept {
    return norm_bytes_[static_cast<std::size_t>(r)];
  }
  void prefetch_norm(std::int32_t r) const noexcept { __builtin_prefetch(norm_bytes_.data() + r); }
  // Fetch row r's codes into the cache ahead of scoring it.
  void prefetch(std::int32_t r) const noexcept {
    const std::uint8_t* row = codes_ + static_cast<std::int64_t>(r) * dim_;
    for (std::int64_t b = 0; b < dim_; b += 64) __builtin_prefetch(row + b);
  }

  std::int64_t bytes() const noexcept;

 private:
  std::int64_t dim_ = 0;
  std::vector<float> low_, step_;
  std::vector<std::uint8_t> storage_;  // the codes, with 63 bytes of slack
  std::uint8_t* codes_ = nullptr;      // row 0's codes in storage_, 64-byte aligned
  // Per row, its decoded vector's norm rounded up to a multiple of
  // norm_step_ (a 255th of the longest), in those steps.
  std::vector<std::uint8_t> norm_bytes_;
  float norm_step_ = 0;
  float slack_ = 0;  // times the query's norm: the rounding bound_slack allows for
};

}  // namespace latent::detail
