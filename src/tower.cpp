#include <latent/tower.hpp>

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "detail/gemm.hpp"
#include "detail/kernels.hpp"
#include "detail/require.hpp"

namespace latent {

using detail::require;

void TowerShape::validate() const {
  require(id_rows > 0 || feature_columns() > 0,
          "a tower needs an id embedding or at least one feature column");
  require(id_rows >= 0, fmt::format("id rows {} must be >= 0", id_rows));
  require(embed_dim >= 1 && embed_dim <= 4096,
          fmt::format("embedding width {} is outside [1, 4096]", embed_dim));
  for (const std::int32_t w : layers) {
    require(w >= 1 && w <= 65536, fmt::format("layer width {} is outside [1, 65536]", w));
  }
  if (!feature_offsets.empty()) {
    require(feature_offsets.front() == 0, "feature offsets must start at 0");
    for (std::size_t c = 1; c < feature_offsets.size(); ++c) {
      require(feature_offsets[c] > feature_offsets[c - 1],
              fmt::format("feature column {} has no rows", c - 1));
    }
  }
}

float* Tower::SparseGradient::of(std::int32_t row, std::int32_t dim) {
  auto& s = slot[static_cast<std::size_t>(row)];
  if (s < 0) {
    s = static_cast<std::int32_t>(rows.size());
    rows.push_back(row);
    grad.resize(grad.size() + static_cast<std::size_t>(dim), 0.0f);
  }
  return grad.data() + static_cast<std::int64_t>(s) * dim;
}

void Tower::SparseGradient::clear() {
  for (const std::int32_t r : rows) slot[static_cast<std::size_t>(r)] = -1;
  rows.clear();
  grad.clear();
}

Tower::Tower(TowerShape shape, float init_scale, Rng& rng) : shape_(std::move(shape)) {
  shape_.validate();
  const std::int32_t e = shape_.embed_dim;
  const auto uniform_table = [&](std::int64_t rows) {
    Matrix m(rows, e);
    for (float& v : m.storage()) v = (2.0f * rng.uniform() - 1.0f) * init_scale;
    return m;
  };
  if (shape_.id_rows > 0) id_table_ = uniform_table(shape_.id_rows);
  if (shape_.feature_columns() > 0) feature_table_ = uniform_table(shape_.feature_offsets.back());
  id_grad_.slot.assign(static_cast<std::size_t>(id_table_.rows()), -1);
  feature_grad_.slot.assign(static_cast<std::size_t>(feature_table_.rows()), -1);
  std::int32_t in = input_width();
  for (const std::int32_t out : shape_.layers) {
    Layer l;
    l.in = in;
    l.out = out;
    // Glorot uniform: limit sqrt(6 / (in + out)).
    const float limit = std::sqrt(6.0f / static_cast<float>(in + out));
    l.w.resize(static_cast<std::size_t>(in) * static_cast<std::size_t>(out));
    for (float& v : l.w) v = (2.0f * rng.uniform() - 1.0f) * limit;
    l.b.assign(static_cast<std::size_t>(out), 0.0f);
    layers_.push_back(std::move(l));
    in = out;
  }
}

std::int32_t Tower::input_width() const noexcept {
  if (shape_.layers.empty()) return shape_.embed_dim;
  return ((shape_.id_rows > 0 ? 1 : 0) + shape_.feature_columns()) * shape_.embed_dim;
}

// Which embed_dim-wide slot of the input column c's bag adds into.
std::int32_t Tower::slot_of_column(std::int32_t c) const noexcept {
  if (shape_.layers.empty()) return 0;
  return (shape_.id_rows > 0 ? 1 : 0) + c;
}

std::int32_t Tower::column_of(std::int32_t token) const noexcept {
  const auto& o = shape_.feature_offsets;
  return static_cast<std::int32_t>(std::upper_bound(o.begin(), o.end(), token) - o.begin()) - 1;
}

void Tower::forward(std::span<const std::int32_t> ids, const FeatureRows* features,
                    std::span<const std::int64_t> feature_rows, std::vector<float>& out,
                    int threads) {
  const bool has_ids = shape_.id_rows > 0, has_features = shape_.feature_columns() > 0;
  const std::size_t n = has_ids ? ids.size() : feature_rows.size();
  require(!has_ids || ids.size() == n, "tower: one id per entity");
  require(!has_features || (features != nullptr && feature_rows.size() == n),
          "tower: one feature row per entity");
  ids_.assign(ids.begin(), ids.end());
  features_ = features;
  feature_rows_.assign(feature_rows.begin(), feature_rows.end());

  const std::int32_t e = shape_.embed_dim, width = input_width();
  x_.assign(n * static_cast<std::size_t>(width), 0.0f);
  for (std::size_t b = 0; b < n; ++b) {
    float* x = x_.data() + b * static_cast<std::size_t>(width);
    if (has_ids) {
      const float* row = id_table_.data() + static_cast<std::int64_t>(ids_[b]) * e;
      for (std::int32_t j = 0; j < e; ++j) x[j] += row[j];
    }
    if (has_features) {
      const auto r = static_cast<std::size_t>(feature_rows_[b]);
      for (auto k = features->indptr[r]; k < features->indptr[r + 1]; ++k) {
        const std::int32_t token = features->index[static_cast<std::size_t>(k)];
        const float w = features->weight[static_cast<std::size_t>(k)];
        const float* row = feature_table_.data() + static_cast<std::int64_t>(token) * e;
        float* slot = x + static_cast<std::int64_t>(slot_of_column(column_of(token))) * e;
        for (std::int32_t j = 0; j < e; ++j) slot[j] += w * row[j];
      }
    }
  }
  const float* h = x_.data();
  for (std::size_t li = 0; li < layers_.size(); ++li) {
    Layer& l = layers_[li];
    l.h.resize(n * static_cast<std::size_t>(l.out));
    detail::parallel_sgemm_nn(static_cast<std::int64_t>(n), l.out, l.in, h, l.w.data(), l.h.data(),
                              threads);
    const bool relu = li + 1 < layers_.size();
    for (std::size_t b = 0; b < n; ++b) {
      float* z = l.h.data() + b * static_cast<std::size_t>(l.out);
      for (std::int32_t j = 0; j < l.out; ++j) {
        z[j] += l.b[static_cast<std::size_t>(j)];
        if (relu && z[j] < 0) z[j] = 0;
      }
    }
    h = l.h.data();
  }
  out.assign(h, h + n * static_cast<std::size_t>(output_dim()));
}

void Tower::backward(std::span<const float> d_out, int threads) {
  const std::size_t n = shape_.id_rows > 0 ? ids_.size() : feature_rows_.size();
  require(d_out.size() == n * static_cast<std::size_t>(output_dim()),
          "tower: one gradient row per entity of the last forward");
  g_.assign(d_out.begin(), d_out.end());
  for (std::size_t li = layers_.size(); li-- > 0;) {
    Layer& l = layers_[li];
    const float* h_in = li == 0 ? x_.data() : layers_[li - 1].h.data();
    l.dw.resize(l.w.size());
    detail::parallel_sgemm_tn(l.in, l.out, static_cast<std::int64_t>(n), h_in, g_.data(),
                              l.dw.data(), threads);
    l.db.assign(static_cast<std::size_t>(l.out), 0.0f);
    for (std::size_t b = 0; b < n; ++b) {
      for (std::int32_t j = 0; j < l.out; ++j) {
        l.db[static_cast<std::size_t>(j)] += g_[b * static_cast<std::size_t>(l.out) + j];
      }
    }
    // The gradient of this layer's input: G W^T, through the ReLU of the
    // layer before (its output is 0 where it cut).
    g_next_.resize(n * static_cast<std::size_t>(l.in));
    detail::parallel_sgemm_nt(static_cast<std::int64_t>(n), l.in, l.out, g_.data(), l.w.data(),
                              g_next_.data(), threads);
    if (li > 0) {
      for (std::size_t k = 0; k < g_next_.size(); ++k) {
        if (h_in[k] <= 0) g_next_[k] = 0;
      }
    }
    g_.swap(g_next_);
  }
  // g_ is now the gradient of the inputs: scatter it to the rows they summed.
  id_grad_.clear();
  feature_grad_.clear();
  const std::int32_t e = shape_.embed_dim, width = input_width();
  for (std::size_t b = 0; b < n; ++b) {
    const float* gx = g_.data() + b * static_cast<std::size_t>(width);
    if (shape_.id_rows > 0) {
      float* g = id_grad_.of(ids_[b], e);
      for (std::int32_t j = 0; j < e; ++j) g[j] += gx[j];
    }
    if (shape_.feature_columns() > 0) {
      const auto r = static_cast<std::size_t>(feature_rows_[b]);
      for (auto k = features_->indptr[r]; k < features_->indptr[r + 1]; ++k) {
        const std::int32_t token = features_->index[static_cast<std::size_t>(k)];
        const float w = features_->weight[static_cast<std::size_t>(k)];
        const float* slot = gx + static_cast<std::int64_t>(slot_of_column(column_of(token))) * e;
        float* g = feature_grad_.of(token, e);
        for (std::int32_t j = 0; j < e; ++j) g[j] += w * slot[j];
      }
    }
  }
}

void Tower::step(float learning_rate, float initial_accumulator, float epsilon) {
  const std::int32_t e = shape_.embed_dim;
  const auto sparse = [&](SparseGradient& s, Matrix& table) {
    if (s.acc.empty()) s.acc.assign(table.storage().size(), initial_accumulator);
    for (std::size_t k = 0; k < s.rows.size(); ++k) {
      const std::int64_t off = static_cast<std::int64_t>(s.rows[k]) * e;
      detail::adagrad_step(table.data() + off, s.acc.data() + off,
                           s.grad.data() + static_cast<std::int64_t>(k) * e, e, learning_rate,
                           epsilon);
    }
  };
  if (shape_.id_rows > 0) sparse(id_grad_, id_table_);
  if (shape_.feature_columns() > 0) sparse(feature_grad_, feature_table_);
  for (Layer& l : layers_) {
    if (l.acc_w.empty()) {
      l.acc_w.assign(l.w.size(), initial_accumulator);
      l.acc_b.assign(l.b.size(), initial_accumulator);
    }
    detail::adagrad_step(l.w.data(), l.acc_w.data(), l.dw.data(),
                         static_cast<std::int64_t>(l.w.size()), learning_rate, epsilon);
    detail::adagrad_step(l.b.data(), l.acc_b.data(), l.db.data(),
                         static_cast<std::int64_t>(l.b.size()), learning_rate, epsilon);
  }
}

std::vector<float> Tower::id_gradient(std::int32_t row) const {
  const std::int32_t e = shape_.embed_dim;
  std::vector<float> out(static_cast<std::size_t>(e), 0.0f);
  const auto s = id_grad_.slot.at(static_cast<std::size_t>(row));
  if (s >= 0) std::copy_n(id_grad_.grad.data() + static_cast<std::int64_t>(s) * e, e, out.data());
  return out;
}

std::vector<float> Tower::feature_gradient(std::int32_t row) const {
  const std::int32_t e = shape_.embed_dim;
  std::vector<float> out(static_cast<std::size_t>(e), 0.0f);
  const auto s = feature_grad_.slot.at(static_cast<std::size_t>(row));
  if (s >= 0) {
    std::copy_n(feature_grad_.grad.data() + static_cast<std::int64_t>(s) * e, e, out.data());
  }
  return out;
}

}  // namespace latent
