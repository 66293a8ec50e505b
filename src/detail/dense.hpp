#pragma once
// Dense layers as Keras' Dense stack that TFRS builds: x W + b per layer,
// ReLU after each but the last. The math shared by the towers (tower.hpp)
// and the rating head (rating_head.hpp); each keeps its own parameters.

#include <cstddef>
#include <vector>

#include <latent/matrix.hpp>
#include <latent/random.hpp>

namespace latent::detail {

// Layers of widths `widths` on an input `in` wide: weights Glorot uniform
// (in x out, limit sqrt(6 / (in + out))), biases zero (1 x out), as Keras.
void glorot_layers(std::int32_t in, const std::vector<std::int32_t>& widths, Rng& rng,
                   std::vector<Matrix>& weights, std::vector<Matrix>& biases);

// The forward pass of n rows x (n x weights[0].rows()): each layer's output
// into h[l] (after its ReLU, but for the last). Returns the last output (x
// itself with no layers).
const float* dense_forward(const std::vector<Matrix>& weights, const std::vector<Matrix>& biases,
                           const float* x, std::size_t n, std::vector<std::vector<float>>& h,
                           int threads);

// The backward pass of the last dense_forward (x, h): g holds the gradient
// of the output (n x out) on entry and that of x (n x in) on return; dw and
// db get each layer's gradients. `scratch` is a buffer kept between calls.
void dense_backward(const std::vector<Matrix>& weights, const float* x,
                    const std::vector<std::vector<float>>& h, std::size_t n, std::vector<float>& g,
                    std::vector<float>& scratch, std::vector<std::vector<float>>& dw,
                    std::vector<std::vector<float>>& db, int threads);

}  // namespace latent::detail
