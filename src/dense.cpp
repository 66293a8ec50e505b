#include "detail/dense.hpp"

#include <cmath>

#include "detail/blas.hpp"
#include "detail/gemm.hpp"

namespace latent::detail {

namespace {

// Rows a block of the layers' GEMMs takes (split_blocks): enough for the
// kernel, and a batch of 2048 gives each of 2 threads 4 blocks.
constexpr std::int64_t kRowBlock = 256;

}  // namespace

void glorot_layers(std::int32_t in, const std::vector<std::int32_t>& widths, Rng& rng,
                   std::vector<Matrix>& weights, std::vector<Matrix>& biases) {
  weights.clear();
  biases.clear();
  for (const std::int32_t out : widths) {
    const float limit = std::sqrt(6.0f / static_cast<float>(in + out));
    Matrix w(in, out);
    for (float& v : w.storage()) v = (2.0f * rng.uniform() - 1.0f) * limit;
    weights.push_back(std::move(w));
    biases.emplace_back(1, out);
    in = out;
  }
}

const float* dense_forward(const std::vector<Matrix>& weights, const std::vector<Matrix>& biases,
                           const float* x, std::size_t n, std::vector<std::vector<float>>& h,
                           int threads) {
  h.resize(weights.size());
  if (weights.empty()) return x;
  std::int64_t in_width = weights.front().rows();
  for (std::size_t li = 0; li < weights.size(); ++li) {
    h[li].resize(n * static_cast<std::size_t>(weights[li].cols()));
  }
  // Rows are independent: each block of them goes through every layer, its
  // bias and ReLU while the block is in cache; the blocks are the same on
  // any number of threads (split_blocks), and so are the results.
  split_blocks(static_cast<std::int64_t>(n), kRowBlock, threads,
               [&](std::int64_t r0, std::int64_t r1) {
                 const float* in = x + r0 * in_width;
                 std::int64_t width = in_width;
                 for (std::size_t li = 0; li < weights.size(); ++li) {
                   const Matrix& w = weights[li];
                   const std::int64_t out = w.cols();
                   float* z = h[li].data() + r0 * out;
                   sgemm_nn(r1 - r0, out, width, in, width, w.data(), out, z, out);
                   const bool relu = li + 1 < weights.size();
                   const float* bias = biases[li].data();
                   for (std::int64_t b = 0; b < r1 - r0; ++b) {
                     float* row = z + b * out;
                     for (std::int64_t j = 0; j < out; ++j) {
                       row[j] += bias[j];
                       if (relu && row[j] < 0) row[j] = 0;
                     }
                   }
                   in = z;
                   width = out;
                 }
               });
  return h.back().data();
}

void dense_backward(const std::vector<Matrix>& weights, const float* x,
                    const std::vector<std::vector<float>>& h, std::size_t n, std::vector<float>& g,
                    std::vector<float>& scratch, std::vector<std::vector<float>>& dw,
                    std::vector<std::vector<float>>& db, int threads) {
  dw.resize(weights.size());
  db.resize(weights.size());
  const auto rows = static_cast<std::int64_t>(n);
  for (std::size_t li = weights.size(); li-- > 0;) {
    const Matrix& w = weights[li];
    const auto in = static_cast<std::int32_t>(w.rows()), out = static_cast<std::int32_t>(w.cols());
    const float* h_in = li == 0 ? x : h[li - 1].data();
    dw[li].resize(w.size());
    parallel_sgemm_tn(in, out, rows, h_in, g.data(), dw[li].data(), threads);
    // The biases' gradient: G's column sums, each thread a range of columns
    // that it adds up row after row (G is read in order, once; each
    // column's sum is taken in row order, on any number of threads).
    db[li].assign(static_cast<std::size_t>(out), 0.0f);
    float* bias_grad = db[li].data();
    const float* grad = g.data();
    const int column_threads = out >= 32 && rows >= 256 ? std::max(threads, 1) : 1;
#pragma omp parallel for num_threads(column_threads) schedule(static)
    for (int t = 0; t < column_threads; ++t) {
      const std::int32_t j0 = out * t / column_threads, j1 = out * (t + 1) / column_threads;
      float* __restrict sums = bias_grad + j0;
      for (std::int64_t b = 0; b < rows; ++b) {
        const float* __restrict row = grad + b * out + j0;
        for (std::int32_t j = 0; j < j1 - j0; ++j) sums[j] += row[j];
      }
    }
    // The gradient of this layer's input: G W^T, through the ReLU of the
    // layer before (its output is 0 where it cut), a block of rows at a time.
    scratch.resize(n * static_cast<std::size_t>(in));
    float* gx = scratch.data();
    split_blocks(rows, kRowBlock, threads, [&](std::int64_t r0, std::int64_t r1) {
      sgemm_nt(r1 - r0, in, out, grad + r0 * out, out, w.data(), out, gx + r0 * in, in);
      if (li == 0) return;
      float* __restrict to = gx;
      const float* __restrict cut = h_in;
      for (std::int64_t k = r0 * in; k < r1 * in; ++k) to[k] = cut[k] <= 0 ? 0.0f : to[k];
    });
    g.swap(scratch);
  }
}

}  // namespace latent::detail
