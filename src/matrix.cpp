#include <latent/matrix.hpp>

#include <cmath>

#include <fmt/format.h>

#include <latent/error.hpp>

namespace latent {

Matrix::Matrix(std::int64_t rows, std::int64_t cols, std::vector<float> data)
    : rows_(rows), cols_(cols), data_(std::move(data)) {
  if (rows < 0 || cols < 0 || static_cast<std::int64_t>(data_.size()) != rows * cols) {
    throw Error(
        ErrorKind::InvalidArgument,
        fmt::format("matrix of shape {}x{} cannot hold {} values", rows, cols, data_.size()));
  }
}

Matrix normalize_rows(const Matrix& m) {
  Matrix out = m;
  for (std::int64_t r = 0; r < out.rows(); ++r) {
    auto row = out.row(r);
    double norm = 0;
    for (float v : row) norm += static_cast<double>(v) * v;
    if (norm > 0) {
      const float inv = static_cast<float>(1.0 / std::sqrt(norm));
      for (float& v : row) v *= inv;
    }
  }
  return out;
}

}  // namespace latent
