#pragma once
// Matrix: a dense row-major float32 matrix that owns its storage.
// Embedding tables are Matrix objects of shape rows x dim.

#include <cstdint>
#include <span>
#include <vector>

namespace latent {

class Matrix {
 public:
  Matrix() = default;
  Matrix(std::int64_t rows, std::int64_t cols, float fill = 0.0f)
      : rows_(rows), cols_(cols), data_(static_cast<std::size_t>(rows * cols), fill) {}
  Matrix(std::int64_t rows, std::int64_t cols, std::vector<float> data);

  std::int64_t rows() const noexcept { return rows_; }
  std::int64_t cols() const noexcept { return cols_; }
  std::size_t size() const noexcept { return data_.size(); }

  float* data() noexcept { return data_.data(); }
  const float* data() const noexcept { return data_.data(); }
  std::span<float> row(std::int64_t r) noexcept {
    return {data_.data() + r * cols_, static_cast<std::size_t>(cols_)};
  }
  std::span<const float> row(std::int64_t r) const noexcept {
    return {data_.data() + r * cols_, static_cast<std::size_t>(cols_)};
  }
  std::span<const float> values() const noexcept { return data_; }
  std::vector<float>& storage() noexcept { return data_; }
  const std::vector<float>& storage() const noexcept { return data_; }

  bool operator==(const Matrix&) const = default;

 private:
  std::int64_t rows_ = 0;
  std::int64_t cols_ = 0;
  std::vector<float> data_;
};

// Rows scaled to unit L2 norm (zero rows stay zero): cosine similarity
// becomes a dot product.
Matrix normalize_rows(const Matrix& m);

}  // namespace latent
