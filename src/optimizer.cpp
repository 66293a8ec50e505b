#include <latent/optimizer.hpp>

#include <algorithm>
#include <cmath>
#include <numeric>

#include <fmt/format.h>

#include <latent/error.hpp>

#include "detail/kernels.hpp"

namespace latent {

Optimizer parse_optimizer(const std::string& name) {
  if (name == "adagrad") return Optimizer::Adagrad;
  if (name == "adam") return Optimizer::Adam;
  throw Error(ErrorKind::InvalidArgument,
              fmt::format("unknown optimizer \"{}\"; valid: adagrad, adam", name));
}

const char* to_string(Optimizer optimizer) noexcept {
  return optimizer == Optimizer::Adam ? "adam" : "adagrad";
}

RowOptimizer::RowOptimizer(const OptimizerSettings& settings, Matrix& table)
    : s_(settings), table_(table), slot1_(table.size(), 0.0f) {
  if (s_.optimizer == Optimizer::Adagrad) {
    std::fill(slot1_.begin(), slot1_.end(), s_.initial_accumulator);
  } else {
    slot2_.assign(table.size(), 0.0f);
  }
}

void RowOptimizer::step(std::span<const std::int32_t> rows, const float* grad, int threads) {
  const auto dim = table_.cols();
  if (s_.optimizer == Optimizer::Adagrad) {
    const float lr = s_.learning_rate, eps = s_.epsilon;
#pragma omp parallel for num_threads(threads) schedule(static)
    for (std::size_t r = 0; r < rows.size(); ++r) {
      const std::int64_t off = static_cast<std::int64_t>(rows[r]) * dim;
      float* w = table_.data() + off;
      float* acc = slot1_.data() + off;
      detail::adagrad_step(w, acc, grad + static_cast<std::int64_t>(r) * dim, dim, lr, eps);
    }
    return;
  }
  ++t_;
  const double b1t = std::pow(static_cast<double>(s_.beta1), t_);
  const double b2t = std::pow(static_cast<double>(s_.beta2), t_);
  const float lr_t = static_cast<float>(s_.learning_rate * std::sqrt(1.0 - b2t) / (1.0 - b1t));
  const float b1 = s_.beta1, b2 = s_.beta2, eps = s_.epsilon;
  // Scatter the sparse gradient into a dense buffer, then one dense pass.
  dense_.assign(table_.size(), 0.0f);
  for (std::size_t r = 0; r < rows.size(); ++r) {
    std::copy_n(grad + static_cast<std::int64_t>(r) * dim, dim,
                dense_.data() + static_cast<std::int64_t>(rows[r]) * dim);
  }
  float* w = table_.data();
  float* m = slot1_.data();
  float* v = slot2_.data();
  const auto n = static_cast<std::int64_t>(table_.size());
#pragma omp parallel for num_threads(threads) schedule(static)
  for (std::int64_t k = 0; k < n; ++k) {
    const float g = dense_[static_cast<std::size_t>(k)];
    m[k] = b1 * m[k] + (1 - b1) * g;
    v[k] = b2 * v[k] + (1 - b2) * g * g;
    w[k] -= lr_t * m[k] / (std::sqrt(v[k]) + eps);
  }
}

void RowOptimizer::step_all(const float* grad, int threads) {
  if (all_rows_.size() != static_cast<std::size_t>(table_.rows())) {
    all_rows_.resize(static_cast<std::size_t>(table_.rows()));
    std::iota(all_rows_.begin(), all_rows_.end(), 0);
  }
  step(all_rows_, grad, threads);
}

}  // namespace latent
