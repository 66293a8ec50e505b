#include <latent/rating_head.hpp>

#include <algorithm>
#include <cmath>
#include <limits>

#include <fmt/format.h>

#include "detail/dense.hpp"
#include "detail/require.hpp"

namespace latent {

using detail::require;

namespace {

std::vector<std::int32_t> widths_of(const RatingHead& h) {
  std::vector<std::int32_t> w(h.hidden);
  w.push_back(1);
  return w;
}

void check_widths(std::int32_t dim, const std::vector<std::int32_t>& hidden) {
  require(dim >= 1 && dim <= 65536, fmt::format("vector width {} is outside [1, 65536]", dim));
  for (const std::int32_t w : hidden) {
    require(w >= 1 && w <= 65536, fmt::format("layer width {} is outside [1, 65536]", w));
  }
}

// The inputs of pairs [k0, k1): [users.row(u), items.row(i)] per pair.
void concat_rows(const float* users, std::span<const std::int32_t> user_index, const float* items,
                 std::span<const std::int32_t> item_index, std::int32_t dim, std::size_t k0,
                 std::size_t k1, std::vector<float>& x) {
  const auto d = static_cast<std::size_t>(dim);
  x.resize((k1 - k0) * 2 * d);
  for (std::size_t k = k0; k < k1; ++k) {
    float* xk = x.data() + (k - k0) * 2 * d;
    std::copy_n(users + static_cast<std::size_t>(user_index[k]) * d, d, xk);
    std::copy_n(items + static_cast<std::size_t>(item_index[k]) * d, d, xk + d);
  }
}

}  // namespace

RatingHead RatingHead::initial(std::int32_t dim, std::vector<std::int32_t> hidden, Rng& rng) {
  check_widths(dim, hidden);
  RatingHead h;
  h.dim = dim;
  h.hidden = std::move(hidden);
  detail::glorot_layers(2 * dim, widths_of(h), rng, h.weights, h.biases);
  return h;
}

void RatingHead::validate(const std::string& what) const {
  try {
    check_widths(dim, hidden);
  } catch (const Error& e) {
    throw Error(ErrorKind::InvalidArgument, fmt::format("{}: {}", what, e.what()));
  }
  const std::vector<std::int32_t> widths = widths_of(*this);
  require(weights.size() == widths.size() && biases.size() == widths.size(),
          fmt::format("{}: {} layers declared, {} weights and {} biases", what, widths.size(),
                      weights.size(), biases.size()));
  std::int64_t in = 2 * static_cast<std::int64_t>(dim);
  for (std::size_t l = 0; l < widths.size(); ++l) {
    const auto check = [&](const Matrix& m, std::int64_t rows, std::int64_t cols,
                           const char* name) {
      require(m.rows() == rows && m.cols() == cols,
              fmt::format("{}: layer {}'s {} are {} x {}, expected {} x {}", what, l, name,
                          m.rows(), m.cols(), rows, cols));
      require(std::all_of(m.data(), m.data() + m.size(), [](float v) { return std::isfinite(v); }),
              fmt::format("{}: layer {}'s {} hold a value that is not finite", what, l, name));
    };
    check(weights[l], in, widths[l], "weights");
    check(biases[l], 1, widths[l], "biases");
    in = widths[l];
  }
}

nlohmann::json RatingHead::shape_json() const { return {{"dim", dim}, {"hidden", hidden}}; }

RatingHead RatingHead::from_shape_json(const nlohmann::json& j) {
  RatingHead h;
  try {
    h.dim = j.at("dim").get<std::int32_t>();
    h.hidden = j.at("hidden").get<std::vector<std::int32_t>>();
  } catch (const nlohmann::json::exception& e) {
    throw Error(ErrorKind::InvalidArgument, fmt::format("rating head shape: {}", e.what()));
  }
  check_widths(h.dim, h.hidden);
  return h;
}

std::vector<float> RatingHead::predict(const Matrix& users, std::span<const std::int32_t> user_rows,
                                       const Matrix& items, std::span<const std::int32_t> item_rows,
                                       int threads) const {
  require(user_rows.size() == item_rows.size(), "rating head: one item per user");
  require(users.cols() == dim && items.cols() == dim,
          fmt::format("rating head: vectors of width {} and {} for a head of width {}",
                      users.cols(), items.cols(), dim));
  for (std::size_t k = 0; k < user_rows.size(); ++k) {
    require(user_rows[k] >= 0 && user_rows[k] < users.rows() && item_rows[k] >= 0 &&
                item_rows[k] < items.rows(),
            "rating head: a row outside the vectors");
  }
  std::vector<float> out(user_rows.size());
  std::vector<float> x;
  std::vector<std::vector<float>> h;
  // Blocks of pairs, so that the layers' activations stay small.
  constexpr std::size_t kBlock = 4096;
  for (std::size_t k0 = 0; k0 < out.size(); k0 += kBlock) {
    const std::size_t k1 = std::min(out.size(), k0 + kBlock);
    concat_rows(users.data(), user_rows, items.data(), item_rows, dim, k0, k1, x);
    const float* y = detail::dense_forward(weights, biases, x.data(), k1 - k0, h, threads);
    std::copy(y, y + (k1 - k0), out.begin() + static_cast<std::ptrdiff_t>(k0));
  }
  return out;
}

double RatingHead::rmse(const Matrix& users, std::span<const std::int32_t> user_rows,
                        const Matrix& items, std::span<const std::int32_t> item_rows,
                        std::span<const float> ratings, int threads) const {
  require(ratings.size() == user_rows.size(), "rating head: one rating per pair");
  if (ratings.empty()) return std::numeric_limits<double>::quiet_NaN();
  const std::vector<float> predicted = predict(users, user_rows, items, item_rows, threads);
  double sse = 0;
  for (std::size_t k = 0; k < predicted.size(); ++k) {
    const double err = static_cast<double>(predicted[k]) - ratings[k];
    sse += err * err;
  }
  return std::sqrt(sse / static_cast<double>(predicted.size()));
}

double RatingHeadTrainer::train(std::span<const float> users,
                                std::span<const std::int32_t> user_index,
                                std::span<const float> items,
                                std::span<const std::int32_t> item_index,
                                std::span<const float> ratings, std::span<const float> weights,
                                float scale, float* gu, float* gi, double& sse, int threads,
                                std::int64_t batch_pairs) {
  const std::size_t n = ratings.size();
  require(batch_pairs < 0 || static_cast<std::size_t>(batch_pairs) >= n,
          fmt::format("rating head: a batch of {} pairs has {} here", batch_pairs, n));
  if (n == 0) {
    // No pairs (a rank's part of a batch): no gradient.
    for (std::span<float> g : gradients()) std::fill(g.begin(), g.end(), 0.0f);
    return 0.0;
  }
  const std::int32_t d = head_.dim;
  const auto du = static_cast<std::size_t>(d);
  concat_rows(users.data(), user_index, items.data(), item_index, d, 0, n, x_);
  const float* y = detail::dense_forward(head_.weights, head_.biases, x_.data(), n, h_, threads);
  // d loss / d prediction_k = 2 w_k (prediction_k - rating_k) / n, times scale.
  g_.resize(n);
  double loss = 0;
  const double inv_n =
      1.0 / static_cast<double>(batch_pairs < 0 ? static_cast<std::int64_t>(n) : batch_pairs);
  for (std::size_t k = 0; k < n; ++k) {
    const double err = static_cast<double>(y[k]) - ratings[k];
    const double w = weights.empty() ? 1.0 : weights[k];
    sse += err * err;
    loss += w * err * err * inv_n;
    g_[k] = static_cast<float>(2.0 * w * err * inv_n * scale);
  }
  detail::dense_backward(head_.weights, x_.data(), h_, n, g_, scratch_, dw_, db_, threads);
  // g_ is now the gradient of the inputs: scatter it to the pairs' vectors.
  for (std::size_t k = 0; k < n; ++k) {
    const float* gx = g_.data() + k * 2 * du;
    float* u = gu + static_cast<std::size_t>(user_index[k]) * du;
    float* i = gi + static_cast<std::size_t>(item_index[k]) * du;
    for (std::size_t j = 0; j < du; ++j) {
      u[j] += gx[j];
      i[j] += gx[du + j];
    }
  }
  return loss;
}

std::vector<std::span<float>> RatingHeadTrainer::gradients() {
  dw_.resize(head_.weights.size());
  db_.resize(head_.biases.size());
  std::vector<std::span<float>> out;
  for (std::size_t l = 0; l < head_.weights.size(); ++l) {
    dw_[l].resize(head_.weights[l].size());
    db_[l].resize(head_.biases[l].size());
    out.emplace_back(dw_[l]);
    out.emplace_back(db_[l]);
  }
  return out;
}

void RatingHeadTrainer::step(const OptimizerSettings& settings, int threads) {
  if (optimizers_.empty()) {
    optimizers_.reserve(2 * head_.weights.size());
    for (std::size_t l = 0; l < head_.weights.size(); ++l) {
      optimizers_.emplace_back(settings, head_.weights[l]);
      optimizers_.emplace_back(settings, head_.biases[l]);
    }
  }
  for (std::size_t l = 0; l < head_.weights.size(); ++l) {
    optimizers_[2 * l].step_all(dw_[l].data(), threads);
    optimizers_[2 * l + 1].step_all(db_[l].data(), threads);
  }
}

}  // namespace latent
