#include <latent/tower.hpp>

#include <algorithm>
#include <cmath>
#include <numeric>

#include <omp.h>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "detail/dense.hpp"
#include "detail/gemm.hpp"
#include "detail/require.hpp"

namespace latent {

using detail::require;

namespace {

// The feature column of a token (a row of the feature table).
std::int32_t column_of(const TowerShape& s, std::int32_t token) noexcept {
  const auto& o = s.feature_offsets;
  return static_cast<std::int32_t>(std::upper_bound(o.begin(), o.end(), token) - o.begin()) - 1;
}

}  // namespace

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

nlohmann::json TowerShape::to_json() const {
  return {{"id_rows", id_rows},
          {"feature_offsets", feature_offsets},
          {"embed_dim", embed_dim},
          {"layers", layers}};
}

TowerShape TowerShape::from_json(const nlohmann::json& j) {
  TowerShape s;
  try {
    s.id_rows = j.at("id_rows").get<std::int32_t>();
    s.feature_offsets = j.at("feature_offsets").get<std::vector<std::int32_t>>();
    s.embed_dim = j.at("embed_dim").get<std::int32_t>();
    s.layers = j.at("layers").get<std::vector<std::int32_t>>();
  } catch (const nlohmann::json::exception& e) {
    throw Error(ErrorKind::InvalidArgument, fmt::format("tower shape: {}", e.what()));
  }
  s.validate();
  return s;
}

void FeatureTower::validate(const std::string& what, std::int64_t entities) const {
  params.validate(what);
  // No columns: no offsets, or the one offset 0 of an encoder restored from
  // an empty list.
  const auto offsets = encoder.offsets();
  const auto& shape_offsets = params.shape.feature_offsets;
  const bool none = encoder.columns().empty() && params.shape.feature_columns() == 0;
  require(
      none ||
          std::equal(offsets.begin(), offsets.end(), shape_offsets.begin(), shape_offsets.end()),
      fmt::format("{}: the feature table's columns do not match the features' encodings", what));
  if (own_rows.rows() <= 0 && own_rows.index.empty()) return;
  const auto& ip = own_rows.indptr;
  require(params.shape.feature_columns() > 0 && own_rows.rows() == entities && ip.front() == 0 &&
              ip.back() == static_cast<std::int64_t>(own_rows.index.size()) &&
              own_rows.weight.size() == own_rows.index.size() &&
              std::is_sorted(ip.begin(), ip.end()),
          fmt::format("{}: its entities' own feature rows are not one row per each of {} entities",
                      what, entities));
  const auto columns = encoder.columns();
  for (std::size_t k = 0; k < own_rows.index.size(); ++k) {
    const std::int32_t token = own_rows.index[k];
    require(token >= 0 && token < shape_offsets.back() &&
                !columns[static_cast<std::size_t>(column_of(params.shape, token))].column.context &&
                std::isfinite(own_rows.weight[k]),
            fmt::format("{}: its entities' own feature row token {} (weight {}) is not one of its "
                        "own columns' rows",
                        what, token, own_rows.weight[k]));
  }
}

std::vector<float> FeatureTower::vector_of(std::span<const FeatureValue> values,
                                           std::string_view side) const {
  const auto columns = encoder.columns();
  std::vector<std::string> names;
  for (const ColumnEncoding& c : columns) names.push_back(c.column.name);
  require(has_features(),
          fmt::format("the model has no {} features{}: it was trained without them", side,
                      values.empty() ? "" : fmt::format(" (such as \"{}\")", values.front().name)));
  std::vector<std::string_view> row(columns.size());
  std::vector<bool> given(columns.size(), false);
  for (const FeatureValue& v : values) {
    const auto it = std::find(names.begin(), names.end(), v.name);
    require(it != names.end(), fmt::format("\"{}\" is not one of the model's {} features: {}",
                                           v.name, side, fmt::join(names, ", ")));
    const auto c = static_cast<std::size_t>(it - names.begin());
    require(!given[c], fmt::format("{} feature \"{}\" is given twice", side, v.name));
    given[c] = true;
    row[c] = v.value;
  }
  FeatureRows rows;
  encoder.encode_one(row, rows, fmt::format("the {}'s features", side));
  const std::vector<std::int32_t> oov{0};
  const std::vector<std::int64_t> first{0};
  Matrix m = params.vectors(params.shape.id_rows > 0 ? std::span<const std::int32_t>(oov)
                                                     : std::span<const std::int32_t>(),
                            has_features() ? &rows : nullptr, first, 1);
  return std::move(m.storage());
}

namespace {

// Which embed_dim-wide slot of the input column c's bag adds into.
std::int32_t slot_of_column(const TowerShape& s, std::int32_t c) noexcept {
  if (s.layers.empty()) return 0;
  return (s.id_rows > 0 ? 1 : 0) + c;
}

// The forward pass of `p` on a batch: its inputs into x, each layer's
// output into h[l] (ReLU after all but the last). Returns the output.
const float* run_forward(const TowerParams& p, std::span<const std::int32_t> ids,
                         const FeatureRows* features, std::span<const std::int64_t> feature_rows,
                         std::vector<float>& x, std::vector<std::vector<float>>& h, int threads) {
  const TowerShape& s = p.shape;
  const bool has_ids = s.id_rows > 0, has_features = s.feature_columns() > 0;
  const std::size_t n = has_ids ? ids.size() : feature_rows.size();
  require(!has_ids || ids.size() == n, "tower: one id per entity");
  require(!has_features || (features != nullptr && feature_rows.size() == n),
          "tower: one feature row per entity");
  const std::int32_t e = s.embed_dim, width = p.input_width();
  if (has_ids) {
    for (std::size_t b = 0; b < n; ++b) {
      require(ids[b] >= 0 && ids[b] < s.id_rows, "tower: an id row outside the id table");
    }
  }
  x.resize(n * static_cast<std::size_t>(width));
  // Rows are independent: a block of them on each thread.
  detail::split_rows(static_cast<std::int64_t>(n), threads, [&](std::int64_t r0, std::int64_t r1) {
    std::fill(x.data() + r0 * width, x.data() + r1 * width, 0.0f);
    for (auto b = static_cast<std::size_t>(r0); b < static_cast<std::size_t>(r1); ++b) {
      float* xb = x.data() + b * static_cast<std::size_t>(width);
      if (has_ids) {
        const float* row = p.id_table.data() + static_cast<std::int64_t>(ids[b]) * e;
        for (std::int32_t j = 0; j < e; ++j) xb[j] += row[j];
      }
      if (has_features) {
        const auto r = static_cast<std::size_t>(feature_rows[b]);
        for (auto k = features->indptr[r]; k < features->indptr[r + 1]; ++k) {
          const std::int32_t token = features->index[static_cast<std::size_t>(k)];
          const float w = features->weight[static_cast<std::size_t>(k)];
          const float* row = p.feature_table.data() + static_cast<std::int64_t>(token) * e;
          float* slot = xb + static_cast<std::int64_t>(slot_of_column(s, column_of(s, token))) * e;
          for (std::int32_t j = 0; j < e; ++j) slot[j] += w * row[j];
        }
      }
    }
  });
  return detail::dense_forward(p.weights, p.biases, x.data(), n, h, threads);
}

}  // namespace

bool FeatureTower::has_context() const noexcept {
  const auto columns = encoder.columns();
  return std::any_of(columns.begin(), columns.end(),
                     [](const ColumnEncoding& c) { return c.column.context; });
}

bool FeatureTower::is_context(std::string_view name) const noexcept {
  const auto columns = encoder.columns();
  return std::any_of(columns.begin(), columns.end(), [name](const ColumnEncoding& c) {
    return c.column.context && c.column.name == name;
  });
}

bool FeatureTower::known_in_context() const noexcept {
  const auto columns = encoder.columns();
  const bool context_only = std::all_of(columns.begin(), columns.end(),
                                        [](const ColumnEncoding& c) { return c.column.context; });
  return has_context() && (context_only || params.shape.layers.empty() || own_rows.rows() > 0);
}

std::vector<float> FeatureTower::vector_in_context(std::int32_t id_row, const Matrix& stored,
                                                   std::span<const FeatureValue> values,
                                                   std::string_view side) const {
  const std::vector<std::int32_t> ids{id_row};
  const std::vector<std::vector<FeatureValue>> contexts{
      std::vector<FeatureValue>(values.begin(), values.end())};
  return std::move(vectors_in_context(ids, stored, contexts, side, 1).storage());
}

Matrix FeatureTower::vectors_in_context(std::span<const std::int32_t> id_rows, const Matrix& stored,
                                        std::span<const std::vector<FeatureValue>> contexts,
                                        std::string_view side, int threads) const {
  require(id_rows.size() == contexts.size(),
          fmt::format("{} {} rows for {} contexts", id_rows.size(), side, contexts.size()));
  const auto columns = encoder.columns();
  std::vector<std::string> names;
  for (const ColumnEncoding& c : columns) {
    if (c.column.context) names.push_back(c.column.name);
  }
  if (names.empty()) {
    std::string example;
    for (const auto& values : contexts) {
      if (!values.empty()) {
        example = fmt::format(" (such as \"{}\")", values.front().name);
        break;
      }
    }
    throw Error(ErrorKind::InvalidArgument,
                fmt::format("the model has no context features{}: it was trained without "
                            "--context-features",
                            example));
  }
  const std::int32_t dim = params.shape.output_dim();
  require(stored.cols() == dim, fmt::format("the {}s' vectors have {} values, the tower gives {}",
                                            side, stored.cols(), dim));
  const bool context_only = std::all_of(columns.begin(), columns.end(),
                                        [](const ColumnEncoding& c) { return c.column.context; });
  const bool sum = !context_only && params.shape.layers.empty();
  if (!known_in_context()) {
    throw Error(ErrorKind::Unsupported,
                fmt::format("a known {}'s vector in a context needs its own feature values, which "
                            "this model with layers over {} features does not keep (trained by an "
                            "older latent): give them with the context to query as a new {}",
                            side, side, side));
  }
  // Each row's context tokens, then (but for a sum) the row the tower
  // takes: the entity's own tokens (none when its only features are the
  // context) and the context's.
  const std::int64_t entities = params.shape.id_rows > 0 ? params.shape.id_rows : stored.rows();
  FeatureRows given, rows;
  std::vector<std::string_view> row(columns.size());
  std::vector<bool> named(columns.size());
  for (std::size_t b = 0; b < id_rows.size(); ++b) {
    const std::int32_t id_row = id_rows[b];
    // Without ids, the row only names the entity whose stored vector it is.
    require(id_row >= 0 && id_row < entities && id_row < stored.rows() &&
                (sum || context_only || id_row < own_rows.rows()),
            fmt::format("{} row {} does not fit the tower", side, id_row));
    std::fill(row.begin(), row.end(), std::string_view());
    std::fill(named.begin(), named.end(), false);
    for (const FeatureValue& v : contexts[b]) {
      std::size_t c = 0;
      while (c < columns.size() &&
             !(columns[c].column.context && columns[c].column.name == v.name)) {
        ++c;
      }
      require(c < columns.size(),
              fmt::format("\"{}\" is not one of the model's context features: {}", v.name,
                          fmt::join(names, ", ")));
      require(!named[c], fmt::format("context feature \"{}\" is given twice", v.name));
      named[c] = true;
      row[c] = v.value;
    }
    FeatureRows one;
    encoder.encode_one(row, one, fmt::format("the {}'s context", side));
    for (std::size_t k = 0; k < one.index.size(); ++k) {
      if (!columns[static_cast<std::size_t>(column_of(params.shape, one.index[k]))]
               .column.context) {
        continue;
      }
      given.index.push_back(one.index[k]);
      given.weight.push_back(one.weight[k]);
    }
    given.indptr.push_back(static_cast<std::int64_t>(given.index.size()));
    if (sum) continue;
    if (!context_only) {
      const auto r = static_cast<std::size_t>(id_row);
      for (auto k = own_rows.indptr[r]; k < own_rows.indptr[r + 1]; ++k) {
        rows.index.push_back(own_rows.index[static_cast<std::size_t>(k)]);
        rows.weight.push_back(own_rows.weight[static_cast<std::size_t>(k)]);
      }
    }
    for (auto k = given.indptr[b]; k < given.indptr[b + 1]; ++k) {
      rows.index.push_back(given.index[static_cast<std::size_t>(k)]);
      rows.weight.push_back(given.weight[static_cast<std::size_t>(k)]);
    }
    rows.indptr.push_back(static_cast<std::int64_t>(rows.index.size()));
  }
  if (!sum) {
    std::vector<std::int64_t> each(id_rows.size());
    std::iota(each.begin(), each.end(), 0);
    return params.vectors(params.shape.id_rows > 0 ? id_rows : std::span<const std::int32_t>(),
                          &rows, each, threads);
  }
  // A sum: the stored vector (every context column missing), less the
  // missing context's rows, plus the given context's.
  FeatureRows missing;
  const std::vector<std::string_view> none(columns.size());
  encoder.encode_one(none, missing, "the missing context");
  const auto e = static_cast<std::size_t>(params.shape.embed_dim);
  const auto add = [&](const FeatureRows& r, std::int64_t first, std::int64_t last, float sign,
                       std::span<float> v) {
    for (auto k = first; k < last; ++k) {
      const auto token = r.index[static_cast<std::size_t>(k)];
      if (!columns[static_cast<std::size_t>(column_of(params.shape, token))].column.context) {
        continue;
      }
      const float* t = params.feature_table.data() + static_cast<std::size_t>(token) * e;
      const float w = r.weight[static_cast<std::size_t>(k)];
      for (std::size_t j = 0; j < e; ++j) v[j] += sign * w * t[j];
    }
  };
  Matrix out(static_cast<std::int64_t>(id_rows.size()), dim);
  for (std::size_t b = 0; b < id_rows.size(); ++b) {
    const auto s = stored.row(id_rows[b]);
    std::span<float> v = out.row(static_cast<std::int64_t>(b));
    std::copy(s.begin(), s.end(), v.begin());
    add(missing, 0, missing.indptr[1], -1.0f, v);
    add(given, given.indptr[b], given.indptr[b + 1], 1.0f, v);
  }
  return out;
}

std::int32_t TowerParams::input_width() const noexcept {
  if (shape.layers.empty()) return shape.embed_dim;
  return ((shape.id_rows > 0 ? 1 : 0) + shape.feature_columns()) * shape.embed_dim;
}

void TowerParams::validate(const std::string& what) const {
  try {
    shape.validate();
  } catch (const Error& e) {
    throw Error(ErrorKind::InvalidArgument, fmt::format("{}: {}", what, e.what()));
  }
  const auto check = [&](const Matrix& m, std::int64_t rows, std::int64_t cols,
                         const std::string& name) {
    require(m.rows() == rows && m.cols() == cols,
            fmt::format("{}: {} is {} x {}, expected {} x {}", what, name, m.rows(), m.cols(), rows,
                        cols));
    require(std::all_of(m.data(), m.data() + m.size(), [](float v) { return std::isfinite(v); }),
            fmt::format("{}: {} has a value that is not finite", what, name));
  };
  const std::int32_t e = shape.embed_dim;
  check(id_table, shape.id_rows > 0 ? shape.id_rows : 0, shape.id_rows > 0 ? e : 0, "the id table");
  const std::int32_t frows = shape.feature_columns() > 0 ? shape.feature_offsets.back() : 0;
  check(feature_table, frows, frows > 0 ? e : 0, "the feature table");
  require(weights.size() == shape.layers.size() && biases.size() == shape.layers.size(),
          fmt::format("{}: {} layers declared, {} weights and {} biases", what, shape.layers.size(),
                      weights.size(), biases.size()));
  std::int32_t in = input_width();
  for (std::size_t l = 0; l < weights.size(); ++l) {
    check(weights[l], in, shape.layers[l], fmt::format("layer {}'s weights", l));
    check(biases[l], 1, shape.layers[l], fmt::format("layer {}'s biases", l));
    in = shape.layers[l];
  }
}

Matrix TowerParams::vectors(std::span<const std::int32_t> ids, const FeatureRows* features,
                            std::span<const std::int64_t> feature_rows, int threads) const {
  std::vector<float> x;
  std::vector<std::vector<float>> h;
  const float* out = run_forward(*this, ids, features, feature_rows, x, h, threads);
  const auto n = static_cast<std::int64_t>(shape.id_rows > 0 ? ids.size() : feature_rows.size());
  const std::int32_t d = shape.output_dim();
  return Matrix(n, d, std::vector<float>(out, out + n * d));
}

std::size_t Tower::SparseGradient::place(std::int32_t row, std::int32_t dim) {
  auto& s = slot[static_cast<std::size_t>(row)];
  if (s < 0) {
    s = static_cast<std::int32_t>(rows.size());
    rows.push_back(row);
    grad.resize(grad.size() + static_cast<std::size_t>(dim), 0.0f);
  }
  return static_cast<std::size_t>(s) * static_cast<std::size_t>(dim);
}

void Tower::SparseGradient::clear() {
  for (const std::int32_t r : rows) slot[static_cast<std::size_t>(r)] = -1;
  rows.clear();
  grad.clear();
}

Tower::Tower(TowerShape shape, float init_scale, Rng& rng, std::vector<float> dropout) {
  shape.validate();
  p_.shape = std::move(shape);
  const TowerShape& s = p_.shape;
  const std::int32_t e = s.embed_dim;
  const auto uniform_table = [&](std::int64_t rows) {
    Matrix m(rows, e);
    for (float& v : m.storage()) v = (2.0f * rng.uniform() - 1.0f) * init_scale;
    return m;
  };
  if (s.id_rows > 0) {
    p_.id_table = uniform_table(s.id_rows);
    // An id training never saw adds nothing: its vector is its features'.
    std::fill_n(p_.id_table.data(), e, 0.0f);
  }
  if (s.feature_columns() > 0) {
    p_.feature_table = uniform_table(s.feature_offsets.back());
    // Each column's OOV row starts at zero too: a value training never saw
    // (a word only new items' titles have) adds nothing, rather than an
    // untrained random row; a missing value, when training has some, trains it.
    for (std::size_t c = 0; c + 1 < s.feature_offsets.size(); ++c) {
      std::fill_n(p_.feature_table.data() + static_cast<std::int64_t>(s.feature_offsets[c]) * e, e,
                  0.0f);
    }
  }
  id_grad_.slot.assign(static_cast<std::size_t>(p_.id_table.rows()), -1);
  feature_grad_.slot.assign(static_cast<std::size_t>(p_.feature_table.rows()), -1);
  detail::glorot_layers(p_.input_width(), s.layers, rng, p_.weights, p_.biases);
  dw_.resize(s.layers.size());
  db_.resize(s.layers.size());
  require(dropout.empty() || dropout.size() == static_cast<std::size_t>(s.feature_columns()),
          fmt::format("tower: {} dropout rates for {} feature columns", dropout.size(),
                      s.feature_columns()));
  if (std::any_of(dropout.begin(), dropout.end(), [](float p) { return p > 0; })) {
    for (const float p : dropout) {
      require(p >= 0 && p < 1, fmt::format("tower: dropout {} is outside [0, 1)", p));
    }
    // Drawn only then: a model without dropout starts as it always did.
    dropout_ = std::move(dropout);
    dropout_rng_ = Rng(rng.next());
  }
}

void Tower::start_from(const TowerParams& saved) {
  const TowerShape& s = p_.shape;
  const TowerShape& o = saved.shape;
  const auto differs = [](const char* what, const auto& mine, const auto& theirs) {
    throw Error(ErrorKind::InvalidArgument,
                fmt::format("a warm start's tower has {} {} where the saved one has {}", what, mine,
                            theirs));
  };
  if (o.embed_dim != s.embed_dim) differs("embedding width", s.embed_dim, o.embed_dim);
  if (o.layers != s.layers) {
    differs("layers", fmt::format("[{}]", fmt::join(s.layers, ",")),
            fmt::format("[{}]", fmt::join(o.layers, ",")));
  }
  if (o.feature_offsets != s.feature_offsets) {
    differs("feature rows", fmt::format("[{}]", fmt::join(s.feature_offsets, ",")),
            fmt::format("[{}]", fmt::join(o.feature_offsets, ",")));
  }
  if ((o.id_rows > 0) != (s.id_rows > 0) || o.id_rows > s.id_rows) {
    differs("id rows", s.id_rows, o.id_rows);
  }
  saved.validate("the saved tower");
  const std::int32_t e = s.embed_dim;
  std::copy_n(saved.id_table.data(), static_cast<std::int64_t>(o.id_rows) * e, p_.id_table.data());
  p_.feature_table = saved.feature_table;
  p_.weights = saved.weights;
  p_.biases = saved.biases;
}

void Tower::start_ids_from(const Matrix& vectors) {
  const TowerShape& s = p_.shape;
  require(s.layers.empty() && s.id_rows > 0 && vectors.cols() == s.embed_dim &&
              vectors.rows() <= s.id_rows,
          fmt::format("a warm start from {} x {} vectors: the tower must sum its embeddings "
                      "(no layers), with ids, {} wide and at least as many id rows ({})",
                      vectors.rows(), vectors.cols(), s.embed_dim, s.id_rows));
  std::copy_n(vectors.data(), vectors.size(), p_.id_table.data());
  std::fill_n(p_.id_table.data(), s.embed_dim, 0.0f);  // OOV adds nothing
}

void Tower::forward(std::span<const std::int32_t> ids, const FeatureRows* features,
                    std::span<const std::int64_t> feature_rows, std::vector<float>& out,
                    int threads) {
  ids_.assign(ids.begin(), ids.end());
  features_ = features;
  feature_rows_.assign(feature_rows.begin(), feature_rows.end());
  if (!dropout_.empty() && features != nullptr) {
    // The batch's rows again, without the tokens left out (inverted dropout).
    kept_.indptr.assign(1, 0);
    kept_.index.clear();
    kept_.weight.clear();
    for (const std::int64_t r : feature_rows) {
      const auto row = static_cast<std::size_t>(r);
      for (auto k = features->indptr[row]; k < features->indptr[row + 1]; ++k) {
        const std::int32_t token = features->index[static_cast<std::size_t>(k)];
        const float p = dropout_[static_cast<std::size_t>(column_of(p_.shape, token))];
        if (p > 0 && dropout_rng_.uniform() < p) continue;
        kept_.index.push_back(token);
        kept_.weight.push_back(features->weight[static_cast<std::size_t>(k)] / (1.0f - p));
      }
      kept_.indptr.push_back(static_cast<std::int64_t>(kept_.index.size()));
    }
    features_ = &kept_;
    std::iota(feature_rows_.begin(), feature_rows_.end(), std::int64_t{0});
  }
  const float* y = run_forward(p_, ids, features_, feature_rows_, x_, h_, threads);
  const std::size_t n = p_.shape.id_rows > 0 ? ids.size() : feature_rows.size();
  out.assign(y, y + n * static_cast<std::size_t>(output_dim()));
}

void Tower::backward(std::span<const float> d_out, int threads) {
  const TowerShape& s = p_.shape;
  const std::size_t n = s.id_rows > 0 ? ids_.size() : feature_rows_.size();
  require(d_out.size() == n * static_cast<std::size_t>(output_dim()),
          "tower: one gradient row per entity of the last forward");
  g_.assign(d_out.begin(), d_out.end());
  detail::dense_backward(p_.weights, x_.data(), h_, n, g_, g_next_, dw_, db_, threads);
  // g_ is now the gradient of the inputs: scatter it to the rows they
  // summed. First each contribution's place (a table row's gradient slot,
  // and the input slot it comes from), in batch order.
  id_grad_.clear();
  feature_grad_.clear();
  const std::int32_t e = s.embed_dim, width = p_.input_width();
  const bool has_ids = s.id_rows > 0, has_features = s.feature_columns() > 0;
  id_place_.clear();
  feature_place_.clear();
  for (std::size_t b = 0; b < n; ++b) {
    if (has_ids) id_place_.push_back(id_grad_.place(ids_[b], e));
    if (has_features) {
      const auto r = static_cast<std::size_t>(feature_rows_[b]);
      for (auto k = features_->indptr[r]; k < features_->indptr[r + 1]; ++k) {
        const std::int32_t token = features_->index[static_cast<std::size_t>(k)];
        feature_place_.push_back({feature_grad_.place(token, e),
                                  slot_of_column(s, column_of(s, token)),
                                  features_->weight[static_cast<std::size_t>(k)]});
      }
    }
  }
  // Then the sums, each thread a range of the embedding's dimensions: the
  // same additions in the same order as on one thread.
  const int team = n * static_cast<std::size_t>(e) >= 8192 ? std::max(threads, 1) : 1;
#pragma omp parallel num_threads(team)
  {
    const int parts = omp_get_num_threads(), t = omp_get_thread_num();
    const std::int32_t j0 = e * t / parts, j1 = e * (t + 1) / parts;
    std::size_t f = 0;
    for (std::size_t b = 0; b < n; ++b) {
      const float* gx = g_.data() + b * static_cast<std::size_t>(width);
      if (has_ids) {
        float* g = id_grad_.grad.data() + id_place_[b];
        for (std::int32_t j = j0; j < j1; ++j) g[j] += gx[j];
      }
      if (has_features) {
        const auto r = static_cast<std::size_t>(feature_rows_[b]);
        const auto tokens =
            static_cast<std::size_t>(features_->indptr[r + 1] - features_->indptr[r]);
        for (std::size_t k = 0; k < tokens; ++k, ++f) {
          const Place& place = feature_place_[f];
          const float* slot = gx + static_cast<std::int64_t>(place.slot) * e;
          float* g = feature_grad_.grad.data() + place.at;
          for (std::int32_t j = j0; j < j1; ++j) g[j] += place.weight * slot[j];
        }
      }
    }
  }
}

void Tower::step(const OptimizerSettings& settings, int threads) {
  // One optimizer per table and per layer's weights and biases, in that order.
  if (optimizers_.empty()) {
    optimizers_.reserve(2 + 2 * p_.weights.size());
    optimizers_.emplace_back(settings, p_.id_table);
    optimizers_.emplace_back(settings, p_.feature_table);
    for (std::size_t l = 0; l < p_.weights.size(); ++l) {
      optimizers_.emplace_back(settings, p_.weights[l]);
      optimizers_.emplace_back(settings, p_.biases[l]);
    }
  }
  if (p_.shape.id_rows > 0) optimizers_[0].step(id_grad_.rows, id_grad_.grad.data(), threads);
  if (p_.shape.feature_columns() > 0) {
    optimizers_[1].step(feature_grad_.rows, feature_grad_.grad.data(), threads);
  }
  for (std::size_t l = 0; l < p_.weights.size(); ++l) {
    optimizers_[2 + 2 * l].step_all(dw_[l].data(), threads);
    optimizers_[3 + 2 * l].step_all(db_[l].data(), threads);
  }
}

std::vector<float> Tower::id_gradient(std::int32_t row) const {
  const std::int32_t e = p_.shape.embed_dim;
  std::vector<float> out(static_cast<std::size_t>(e), 0.0f);
  const auto s = id_grad_.slot.at(static_cast<std::size_t>(row));
  if (s >= 0) std::copy_n(id_grad_.grad.data() + static_cast<std::int64_t>(s) * e, e, out.data());
  return out;
}

std::vector<float> Tower::feature_gradient(std::int32_t row) const {
  const std::int32_t e = p_.shape.embed_dim;
  std::vector<float> out(static_cast<std::size_t>(e), 0.0f);
  const auto s = feature_grad_.slot.at(static_cast<std::size_t>(row));
  if (s >= 0) {
    std::copy_n(feature_grad_.grad.data() + static_cast<std::int64_t>(s) * e, e, out.data());
  }
  return out;
}

}  // namespace latent
