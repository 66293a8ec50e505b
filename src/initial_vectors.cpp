#include <latent/initial_vectors.hpp>

#include <algorithm>

#include <fmt/format.h>

#include <latent/error.hpp>

namespace latent {

void check_initial_rows(const Matrix* from, std::int64_t rows, std::int64_t cols,
                        std::string_view what) {
  if (from == nullptr) return;
  if (from->rows() > rows || from->cols() != cols) {
    throw Error(ErrorKind::InvalidArgument,
                fmt::format("the {} are {} x {}; the model trains {} x {} (at most {} rows of "
                            "{} columns can start from them)",
                            what, from->rows(), from->cols(), rows, cols, rows, cols));
  }
}

void copy_initial_rows(const Matrix* from, Matrix& to, std::string_view what) {
  check_initial_rows(from, to.rows(), to.cols(), what);
  if (from == nullptr || from->rows() <= 1) return;
  const auto skip = static_cast<std::ptrdiff_t>(from->cols());  // the OOV row
  std::copy(from->values().begin() + skip, from->values().end(), to.data() + skip);
}

}  // namespace latent
