#pragma once
// Per-row solvers of implicit ALS (see include/latent/als.hpp). One call
// solves one row of the side being updated, given the other side's factors;
// callers run many rows in parallel, each thread with its own AlsScratch
// (sized once for the longest row, so nothing allocates inside the loop).
// The hot kernels are compiled for several x86-64 levels and picked at load
// time, like kernels.hpp.

#include <cstdint>
#include <vector>

namespace latent::detail {

// What every row of one half-iteration shares.
struct AlsProblem {
  int dim;
  int stride;      // dim rounded up to a multiple of 16 (als_stride)
  const float* y;  // the other side's factors, rows x dim
  // stride x stride, symmetric, zero past dim: Y^T Y + regularization * I,
  // or Y^T Y alone when row_reg is set.
  const float* yty_reg;
  float alpha;                 // c = 1 + alpha * r
  const std::int64_t* indptr;  // row -> [indptr[row], indptr[row + 1]) of cols / r
  const std::int32_t* cols;    // rows of y
  const float* r;              // summed r > 0 of each (row, col) pair; null when all are 1
  int cg_steps;
  // Null, or one regularization per row of the side being solved (frequency
  // scaling, als.hpp), added to yty_reg's diagonal row by row.
  const float* row_reg = nullptr;

  // One row's entries: its columns, their r (null when all are 1), how many.
  struct Entries {
    const std::int32_t* cols;
    const float* r;
    std::int64_t n;
  };
  Entries entries(std::int32_t row) const noexcept {
    const std::int64_t begin = indptr[row];
    return {cols + begin, r != nullptr ? r + begin : nullptr, indptr[row + 1] - begin};
  }
};

// Rows of the solvers' vectors are padded with zeros to a multiple of 16 floats.
constexpr int als_stride(int dim) noexcept { return (dim + 15) / 16 * 16; }

// One thread's work space, sized by reserve() for the longest row.
struct AlsScratch {
  std::vector<float> gathered;  // max_len x stride: the row's y vectors, contiguous
  std::vector<float> weight;    // max_len: c - 1 of each entry
  std::vector<float> system;    // dim x dim (Cholesky)
  std::vector<float> vectors;   // 4 x stride: x, residual, direction, A * direction

  void reserve(int dim, std::int64_t max_len) {
    const auto d = static_cast<std::size_t>(dim);
    const auto stride = static_cast<std::size_t>(als_stride(dim));
    gathered.assign(static_cast<std::size_t>(max_len) * stride, 0.0f);
    weight.assign(static_cast<std::size_t>(max_len), 0.0f);
    system.assign(d * d, 0.0f);
    vectors.assign(4 * stride, 0.0f);
  }
};

// x (dim floats, the row's current factors) <- cg_steps conjugate-gradient
// iterations on the row's normal equations, started from x (implicit's
// least_squares_cg: stops early once the squared residual is below 1e-20).
// A row without entries becomes zero.
void als_solve_cg(const AlsProblem& p, std::int32_t row, float* x, AlsScratch& s) noexcept;

// x <- the exact solution of the row's normal equations (Cholesky, with
// OpenBLAS's LAPACK); x is left unchanged in the (numerically degenerate)
// case that the factorisation meets a non-positive pivot.
void als_solve_cholesky(const AlsProblem& p, std::int32_t row, float* x, AlsScratch& s) noexcept;

// Sum over the row's entries of c (1 - x.y)^2 - (x.y)^2, i.e. the observed
// cells' part of the objective beyond x^T (Y^T Y) x, in double (reads only
// dim, stride, y, alpha, indptr, cols and r of p).
double als_observed_loss(const AlsProblem& p, std::int32_t row, const float* x,
                         AlsScratch& s) noexcept;

}  // namespace latent::detail
