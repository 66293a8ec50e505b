#include "detail/dense.hpp"

#include <cmath>

#include "detail/gemm.hpp"

namespace latent::detail {

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
  const float* in = x;
  h.resize(weights.size());
  for (std::size_t li = 0; li < weights.size(); ++li) {
    const Matrix& w = weights[li];
    const auto out = static_cast<std::int32_t>(w.cols());
    h[li].resize(n * static_cast<std::size_t>(out));
    parallel_sgemm_nn(static_cast<std::int64_t>(n), out, w.rows(), in, w.data(), h[li].data(),
                      threads);
    const bool relu = li + 1 < weights.size();
    const float* bias = biases[li].data();
    for (std::size_t b = 0; b < n; ++b) {
      float* z = h[li].data() + b * static_cast<std::size_t>(out);
      for (std::int32_t j = 0; j < out; ++j) {
        z[j] += bias[j];
        if (relu && z[j] < 0) z[j] = 0;
      }
    }
    in = h[li].data();
  }
  return in;
}

void dense_backward(const std::vector<Matrix>& weights, const float* x,
                    const std::vector<std::vector<float>>& h, std::size_t n, std::vector<float>& g,
                    std::vector<float>& scratch, std::vector<std::vector<float>>& dw,
                    std::vector<std::vector<float>>& db, int threads) {
  dw.resize(weights.size());
  db.resize(weights.size());
  for (std::size_t li = weights.size(); li-- > 0;) {
    const Matrix& w = weights[li];
    const auto in = static_cast<std::int32_t>(w.rows()), out = static_cast<std::int32_t>(w.cols());
    const float* h_in = li == 0 ? x : h[li - 1].data();
    dw[li].resize(w.size());
    parallel_sgemm_tn(in, out, static_cast<std::int64_t>(n), h_in, g.data(), dw[li].data(),
                      threads);
    db[li].assign(static_cast<std::size_t>(out), 0.0f);
    for (std::size_t b = 0; b < n; ++b) {
      for (std::int32_t j = 0; j < out; ++j) {
        db[li][static_cast<std::size_t>(j)] += g[b * static_cast<std::size_t>(out) + j];
      }
    }
    // The gradient of this layer's input: G W^T, through the ReLU of the
    // layer before (its output is 0 where it cut).
    scratch.resize(n * static_cast<std::size_t>(in));
    parallel_sgemm_nt(static_cast<std::int64_t>(n), in, out, g.data(), w.data(), scratch.data(),
                      threads);
    if (li > 0) {
      for (std::size_t k = 0; k < scratch.size(); ++k) {
        if (h_in[k] <= 0) scratch[k] = 0;
      }
    }
    g.swap(scratch);
  }
}

}  // namespace latent::detail
