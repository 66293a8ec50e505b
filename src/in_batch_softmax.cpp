#include "detail/in_batch_softmax.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

#include <omp.h>

#include "detail/blas.hpp"
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
namespace {

// Rows per block: a block's logits and gradient (2 x rows x items floats) stay in a core's
// cache for the batch's items, with at least kMinRows rows for the GEMM kernel's sake.
constexpr std::int64_t kBlockFloats = std::int64_t{1} << 15;  // 128 KB each
constexpr std::int64_t kMinRows = 16, kMaxRows = 256;
// At most this many parts of the rows, each with its own sum of item gradients; fewer when
// those sums would pass kPartFloats. The parts, not the threads, fix the order of the sums.
constexpr std::int64_t kMaxParts = 8;
constexpr std::int64_t kPartFloats = std::int64_t{1} << 23;  // 32 MB

}  // namespace

double InBatchSoftmax::gradients(const Batch& b, std::span<const std::int64_t> users,
                                 const float* ud, const float* id, std::int32_t dim,
                                 std::span<const float> log_q, float scale, float* gu, float* gi,
                                 int threads, const LogitsHook& on_logits) {
  const auto ni = static_cast<std::int64_t>(b.items.size());
  const auto n = static_cast<std::int64_t>(users.size());
  const auto d = static_cast<std::int64_t>(dim);
  const std::int64_t rows =
      std::clamp(kBlockFloats / std::max<std::int64_t>(ni, 1), kMinRows, kMaxRows);
  const std::int64_t blocks = (n + rows - 1) / rows;
  const std::int64_t parts = std::clamp<std::int64_t>(
      std::min(blocks, 1 + kPartFloats / std::max<std::int64_t>(ni * d, 1)), 1, kMaxParts);
  if (n == 0 || ni == 0) {
    std::fill(gi, gi + ni * d, 0.0f);
    return 0;
  }
  partial_.resize(static_cast<std::size_t>((parts - 1) * ni * d));
  part_loss_.assign(static_cast<std::size_t>(parts), 0.0);
  const int team = static_cast<int>(std::min<std::int64_t>(std::max(threads, 1), parts));
  if (scratch_.size() < static_cast<std::size_t>(team))
    scratch_.resize(static_cast<std::size_t>(team));
#pragma omp parallel num_threads(team)
  {
    Scratch& scratch = scratch_[static_cast<std::size_t>(omp_get_thread_num())];
    scratch.logits.resize(static_cast<std::size_t>(rows * ni));
    scratch.grad.resize(static_cast<std::size_t>(rows * ni));
#pragma omp for schedule(static, 1)
    for (std::int64_t p = 0; p < parts; ++p) {
      float* sum = p == 0 ? gi : partial_.data() + (p - 1) * ni * d;
      double loss = 0;
      const std::int64_t first = blocks * p / parts, last = blocks * (p + 1) / parts;
      for (std::int64_t blk = first; blk < last; ++blk) {
        const std::int64_t k0 = blk * rows, k1 = std::min(n, k0 + rows), m = k1 - k0;
        float* l = scratch.logits.data();
        float* g = scratch.grad.data();
        sgemm_nt(m, ni, d, ud + k0 * d, d, id, d, l, ni);
        if (on_logits) on_logits(k0, k1, l);
        for (std::int64_t k = 0; k < m; ++k) {
          loss += row(b, users[static_cast<std::size_t>(k0 + k)], l + k * ni, g + k * ni, ni, log_q,
                      scratch);
        }
        // dL/dU for the block's rows = G I, and its share of dL/dI = G^T U.
        sgemm_nn(m, d, ni, g, ni, id, d, gu + k0 * d, d, scale);
        sgemm_tn(ni, d, m, g, ni, ud + k0 * d, d, sum, d, scale, blk == first ? 0.0f : 1.0f);
      }
      part_loss_[static_cast<std::size_t>(p)] = loss;
    }
  }
  if (parts > 1) {
    // The parts' item gradients, added to part 0's in part order.
    const std::int64_t cells = ni * d;
#pragma omp parallel for num_threads(std::max(threads, 1)) schedule(static)
    for (std::int64_t c = 0; c < cells; ++c) {
      float s = gi[c];
      for (std::int64_t p = 1; p < parts; ++p)
        s += partial_[static_cast<std::size_t>((p - 1) * cells + c)];
      gi[c] = s;
    }
  }
  return scale * std::accumulate(part_loss_.begin(), part_loss_.end(), 0.0);
}

namespace {
constexpr std::int64_t kLanes = 8;
}  // namespace

double InBatchSoftmax::row(const Batch& b, std::int64_t u, float* l, float* g, std::int64_t ni,
                           std::span<const float> log_q, Scratch& scratch) const {
  const float inv_t = 1.0f / c_.temperature;
  // The row's maximum in kLanes running maxima: one chain of dependent
  // max operations would make the row latency-bound (the same maximum).
  // The logits' scaling and correction in the same pass.
  float lane_max[kLanes];
  std::fill_n(lane_max, kLanes, -INFINITY);
  const auto scaled = [&](std::int64_t i) {
    float v = l[i] * inv_t;
    if (!log_q.empty()) v -= log_q[static_cast<std::size_t>(i)];
    l[i] = v;
    return v;
  };
  std::int64_t i0 = 0;
  for (; i0 + kLanes <= ni; i0 += kLanes) {
    for (std::int64_t k = 0; k < kLanes; ++k) lane_max[k] = std::max(lane_max[k], scaled(i0 + k));
  }
  for (; i0 < ni; ++i0) lane_max[0] = std::max(lane_max[0], scaled(i0));
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
