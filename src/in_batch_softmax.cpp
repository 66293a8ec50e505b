#include "detail/in_batch_softmax.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "detail/kernels.hpp"

namespace latent::detail {

void Batch::use_catalog_columns(std::int32_t num_items) {
  for (auto& li : pair_item) li = items[static_cast<std::size_t>(li)] - 1;
  for (auto& li : position_item) li = items[static_cast<std::size_t>(li)] - 1;
  items.resize(static_cast<std::size_t>(num_items - 1));
  std::iota(items.begin(), items.end(), 1);
  item_count.assign(items.size(), 1.0f);
}

void Batch::build(const Interactions& x, std::span<const std::size_t> positions) {
  users.clear();
  items.clear();
  item_count.clear();
  keys_.clear();
  position_user.clear();
  position_item.clear();
  for (std::size_t p : positions) {
    const std::int32_t lu = slot(user_slot_, users, x.users[p]);
    const std::int32_t before = static_cast<std::int32_t>(items.size());
    const std::int32_t li = slot(item_slot_, items, x.items[p]);
    if (li == before) item_count.push_back(0.0f);
    item_count[static_cast<std::size_t>(li)] += 1.0f;
    position_user.push_back(lu);
    position_item.push_back(li);
    keys_.emplace_back((static_cast<std::uint64_t>(lu) << 32) | static_cast<std::uint32_t>(li),
                       x.weights.empty() ? 1.0f : x.weights[p]);
  }
  for (std::int32_t u : users) user_slot_[static_cast<std::size_t>(u)] = -1;
  for (std::int32_t i : items) item_slot_[static_cast<std::size_t>(i)] = -1;

  std::sort(keys_.begin(), keys_.end());
  pair_begin.assign(users.size() + 1, 0);
  pair_item.clear();
  pair_count.clear();
  pair_weight.clear();
  for (std::size_t k = 0; k < keys_.size(); ++k) {
    const auto [key, weight] = keys_[k];
    if (k > 0 && key == keys_[k - 1].first) {
      pair_count.back() += 1.0f;
      pair_weight.back() += weight;
      continue;
    }
    const auto lu = static_cast<std::size_t>(key >> 32);
    pair_item.push_back(static_cast<std::int32_t>(key & 0xffffffffu));
    pair_count.push_back(1.0f);
    pair_weight.push_back(weight);
    pair_begin[lu + 1] = static_cast<std::int32_t>(pair_item.size());
  }
  // Users are first seen in key order, so every user has >= 1 pair; fill
  // offsets so pair_begin is non-decreasing.
  for (std::size_t u = 1; u < pair_begin.size(); ++u) {
    pair_begin[u] = std::max(pair_begin[u], pair_begin[u - 1]);
  }
}
std::int32_t Batch::slot(std::vector<std::int32_t>& table, std::vector<std::int32_t>& distinct,
                         std::int32_t row) {
  auto& s = table[static_cast<std::size_t>(row)];
  if (s < 0) {
    s = static_cast<std::int32_t>(distinct.size());
    distinct.push_back(row);
  }
  return s;
}
double InBatchSoftmax::run(const Batch& b, float* logits, float* grad, std::span<const float> log_q,
                           int threads) {
  all_users_.resize(b.users.size());
  std::iota(all_users_.begin(), all_users_.end(), std::int64_t{0});
  return run(b, all_users_, logits, grad, log_q, threads);
}

double InBatchSoftmax::run(const Batch& b, std::span<const std::int64_t> users, float* logits,
                           float* grad, std::span<const float> log_q, int threads) {
  const auto ni = static_cast<std::int64_t>(b.items.size());
  const auto n = static_cast<std::int64_t>(users.size());
  user_loss_.assign(static_cast<std::size_t>(n), 0.0);
#pragma omp parallel num_threads(threads)
  {
    Scratch scratch;
#pragma omp for schedule(dynamic, 16)
    for (std::int64_t k = 0; k < n; ++k) {
      user_loss_[static_cast<std::size_t>(k)] =
          row(b, users[static_cast<std::size_t>(k)], logits + k * ni, grad + k * ni, ni, log_q,
              scratch);
    }
  }
  return std::accumulate(user_loss_.begin(), user_loss_.end(), 0.0);
}
namespace {
constexpr std::int64_t kLanes = 8;
}  // namespace

double InBatchSoftmax::row(const Batch& b, std::int64_t u, float* l, float* g, std::int64_t ni,
                           std::span<const float> log_q, Scratch& scratch) const {
  const float inv_t = 1.0f / c_.temperature;
  // The row's maximum in kLanes running maxima: one chain of dependent
  // max operations would make the row latency-bound (the same maximum).
  float lane_max[kLanes];
  std::fill_n(lane_max, kLanes, -INFINITY);
  for (std::int64_t i = 0; i < ni; ++i) {
    l[i] *= inv_t;
    if (!log_q.empty()) l[i] -= log_q[static_cast<std::size_t>(i)];
  }
  std::int64_t i0 = 0;
  for (; i0 + kLanes <= ni; i0 += kLanes) {
    for (std::int64_t k = 0; k < kLanes; ++k) lane_max[k] = std::max(lane_max[k], l[i0 + k]);
  }
  for (; i0 < ni; ++i0) lane_max[0] = std::max(lane_max[0], l[i0]);
  const float m = *std::max_element(lane_max, lane_max + kLanes);
  const auto p0 = b.pair_begin[static_cast<std::size_t>(u)];
  const auto p1 = b.pair_begin[static_cast<std::size_t>(u) + 1];
  // Positive logits before l turns into exp(l - m).
  scratch.pos_logit.resize(static_cast<std::size_t>(std::max<std::int64_t>(p1 - p0, 0)));
  for (auto p = p0; p < p1; ++p) {
    scratch.pos_logit[static_cast<std::size_t>(p - p0)] =
        l[b.pair_item[static_cast<std::size_t>(p)]];
  }
  exp_shifted(l, ni, m);

  const float* c = b.item_count.data();
  double loss = 0;
  if (c_.hard_negatives > 0) {
    std::fill(g, g + ni, 0.0f);
    scratch.order.resize(static_cast<std::size_t>(ni));
    std::iota(scratch.order.begin(), scratch.order.end(), 0);
    std::stable_sort(scratch.order.begin(), scratch.order.end(),
                     [&](std::int32_t a, std::int32_t z) { return l[a] > l[z]; });
    for (auto p = p0; p < p1; ++p) {
      const auto ip = b.pair_item[static_cast<std::size_t>(p)];
      const double n = b.pair_weight[static_cast<std::size_t>(p)];
      // Walk negatives best first, taking up to h columns.
      double remaining = c_.hard_negatives;
      double z = l[ip];
      scratch.terms.clear();
      for (std::int32_t i : scratch.order) {
        if (remaining <= 0) break;
        double w = c[i];
        if (i == ip) w = c_.remove_accidental_hits ? 0.0 : w - 1.0;
        w = std::min(w, remaining);
        if (w <= 0) continue;
        remaining -= w;
        z += w * l[i];
        scratch.terms.emplace_back(i, w);
      }
      loss += n * (std::log(z) + m - scratch.pos_logit[static_cast<std::size_t>(p - p0)]);
      for (const auto& [i, w] : scratch.terms) g[i] += static_cast<float>(n * w * l[i] / z);
      g[ip] += static_cast<float>(n * l[ip] / z - n);
    }
  } else {
    // Z in kLanes partial sums, for the same reason.
    double lane_z[kLanes] = {};
    std::int64_t j = 0;
    for (; j + kLanes <= ni; j += kLanes) {
      for (std::int64_t k = 0; k < kLanes; ++k) {
        lane_z[k] += static_cast<double>(c[j + k]) * l[j + k];
      }
    }
    for (; j < ni; ++j) lane_z[0] += static_cast<double>(c[j]) * l[j];
    const double z = std::accumulate(lane_z, lane_z + kLanes, 0.0);
    double a = 0;
    scratch.terms.clear();
    for (auto p = p0; p < p1; ++p) {
      const auto ip = b.pair_item[static_cast<std::size_t>(p)];
      const double n = b.pair_weight[static_cast<std::size_t>(p)];
      const double masked = c_.remove_accidental_hits ? c[ip] - 1.0 : 0.0;
      const double zp = z - masked * l[ip];
      loss += n * (std::log(zp) + m - scratch.pos_logit[static_cast<std::size_t>(p - p0)]);
      a += n / zp;
      scratch.terms.emplace_back(ip, -masked * l[ip] * n / zp - n);
    }
    for (std::int64_t i = 0; i < ni; ++i) g[i] = static_cast<float>(c[i] * l[i] * a);
    for (const auto& [i, d] : scratch.terms) g[i] += static_cast<float>(d);
  }
  if (c_.temperature != 1.0f) {
    for (std::int64_t i = 0; i < ni; ++i) g[i] *= inv_t;
  }
  return loss;
}

}  // namespace latent::detail
