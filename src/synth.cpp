#include <latent/synth.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>
#include <numeric>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include <latent/error.hpp>
#include <latent/random.hpp>

#include "detail/atomic_file.hpp"
#include "detail/require.hpp"

namespace latent {

namespace {

constexpr std::int64_t kMaxRows = std::numeric_limits<std::int32_t>::max() - 1;

using detail::require;

// Uniform double in (0, 1]: never 0, so its logarithm is finite.
double open_uniform(Rng& rng) { return static_cast<double>((rng.next() >> 11) + 1) * 0x1.0p-53; }

// Walker's alias method over fixed weights: one draw is one bounded integer
// and one uniform, whatever the number of outcomes.
class AliasTable {
 public:
  explicit AliasTable(const std::vector<double>& weights) {
    const std::size_t n = weights.size();
    prob_.assign(n, 1.0);
    alias_.resize(n);
    std::iota(alias_.begin(), alias_.end(), std::int32_t{0});
    const double total = std::accumulate(weights.begin(), weights.end(), 0.0);
    std::vector<double> scaled(n);
    std::vector<std::int32_t> small, large;
    for (std::size_t i = 0; i < n; ++i) {
      scaled[i] = weights[i] * static_cast<double>(n) / total;
      (scaled[i] < 1.0 ? small : large).push_back(static_cast<std::int32_t>(i));
    }
    while (!small.empty() && !large.empty()) {
      const std::int32_t s = small.back();
      small.pop_back();
      const std::int32_t l = large.back();
      const auto su = static_cast<std::size_t>(s);
      const auto lu = static_cast<std::size_t>(l);
      prob_[su] = scaled[su];
      alias_[su] = l;
      scaled[lu] -= 1.0 - scaled[su];
      if (scaled[lu] < 1.0) {
        large.pop_back();
        small.push_back(l);
      }
    }
    // What is left has probability 1 up to rounding (prob_ is already 1).
  }

  std::int32_t draw(Rng& rng) const {
    const auto i = static_cast<std::size_t>(rng.below(prob_.size()));
    const double u = static_cast<double>(rng.next() >> 11) * 0x1.0p-53;
    return u < prob_[i] ? static_cast<std::int32_t>(i) : alias_[i];
  }

 private:
  std::vector<double> prob_;
  std::vector<std::int32_t> alias_;
};

// Pairs per user: 1 each, plus `pairs - users` apportioned in proportion to
// the activity weights with at most `items - 1` extra per user. The cap is
// water-filling: the largest scale s whose floors sum(floor(min(cap, s w)))
// stay within the budget, then the largest remainders get one more each.
std::vector<std::int64_t> apportion(const std::vector<double>& w, std::int64_t pairs,
                                    std::int64_t items) {
  const auto users = static_cast<std::int64_t>(w.size());
  const std::int64_t extra = pairs - users;
  const std::int64_t cap = items - 1;
  std::vector<std::int64_t> count(w.size(), 1);
  if (extra == 0) return count;
  if (extra == users * cap) {
    for (auto& c : count) c += cap;
    return count;
  }
  const auto floor_sum = [&](double s) {
    std::int64_t total = 0;
    for (double wu : w) {
      total += static_cast<std::int64_t>(std::floor(std::min(static_cast<double>(cap), s * wu)));
    }
    return total;
  };
  const double min_w = *std::min_element(w.begin(), w.end());
  double lo = 0;                                         // floor_sum(lo) <= extra
  double hi = (static_cast<double>(cap) + 1.0) / min_w;  // floor_sum(hi) = users * cap > extra
  for (int step = 0; step < 200 && hi - lo > lo * 1e-15; ++step) {
    const double mid = lo + (hi - lo) / 2;
    (floor_sum(mid) <= extra ? lo : hi) = mid;
  }
  std::vector<double> frac(w.size());
  std::int64_t left = extra;
  for (std::size_t u = 0; u < w.size(); ++u) {
    const double x = std::min(static_cast<double>(cap), lo * w[u]);
    const auto base = static_cast<std::int64_t>(std::floor(x));
    count[u] += base;
    left -= base;
    frac[u] = x - static_cast<double>(base);
  }
  std::vector<std::int32_t> order(w.size());
  std::iota(order.begin(), order.end(), std::int32_t{0});
  std::stable_sort(order.begin(), order.end(), [&](std::int32_t a, std::int32_t b) {
    return frac[static_cast<std::size_t>(a)] > frac[static_cast<std::size_t>(b)];
  });
  // Usually one partial pass; more only if rounding left a larger remainder.
  while (left > 0) {
    for (std::int32_t u : order) {
      if (left == 0) break;
      auto& c = count[static_cast<std::size_t>(u)];
      if (c <= cap) {
        ++c;
        --left;
      }
    }
  }
  return count;
}

// One user's distinct items, drawn by popularity without replacement.
// Rejecting repeats of the alias draws is successive sampling; when a user
// needs a large part of the catalog, repeats dominate, and the remaining
// items are instead chosen in one pass by Efraimidis-Spirakis keys E / w
// (E exponential), which continues the same successive sampling exactly.
class UserSampler {
 public:
  UserSampler(const std::vector<double>& row_weight, const AliasTable& table,
              const std::vector<std::int32_t>& rank_to_row)
      : row_weight_(row_weight),
        table_(table),
        rank_to_row_(rank_to_row),
        taken_(row_weight.size(), 0) {}

  // Appends n distinct item rows, ascending, to out.
  void sample(std::int64_t n, Rng& rng, std::vector<std::int32_t>& out) {
    chosen_.clear();
    const auto items = static_cast<std::int64_t>(row_weight_.size()) - 1;
    if (n * 4 <= items) {
      std::int64_t budget = 4 * n + 256;
      while (static_cast<std::int64_t>(chosen_.size()) < n && budget-- > 0) {
        const std::int32_t row = rank_to_row_[static_cast<std::size_t>(table_.draw(rng))];
        if (taken_[static_cast<std::size_t>(row)] == 0) {
          taken_[static_cast<std::size_t>(row)] = 1;
          chosen_.push_back(row);
        }
      }
    }
    const auto missing = n - static_cast<std::int64_t>(chosen_.size());
    if (missing > 0) take_by_keys(missing, rng);
    std::sort(chosen_.begin(), chosen_.end());
    for (std::int32_t row : chosen_) {
      out.push_back(row);
      taken_[static_cast<std::size_t>(row)] = 0;
    }
  }

 private:
  void take_by_keys(std::int64_t m, Rng& rng) {
    keyed_.clear();
    for (std::size_t row = 1; row < row_weight_.size(); ++row) {
      if (taken_[row] != 0) continue;
      keyed_.emplace_back(-std::log(open_uniform(rng)) / row_weight_[row],
                          static_cast<std::int32_t>(row));
    }
    const auto mid = keyed_.begin() + static_cast<std::ptrdiff_t>(m);
    std::nth_element(keyed_.begin(), mid - 1, keyed_.end());
    for (auto it = keyed_.begin(); it != mid; ++it) {
      taken_[static_cast<std::size_t>(it->second)] = 1;
      chosen_.push_back(it->second);
    }
  }

  const std::vector<double>& row_weight_;
  const AliasTable& table_;
  const std::vector<std::int32_t>& rank_to_row_;
  std::vector<char> taken_;  // per item row, all 0 between users
  std::vector<std::int32_t> chosen_;
  std::vector<std::pair<double, std::int32_t>> keyed_;
};

}  // namespace

void SynthConfig::validate() const {
  require(users >= 1 && users <= kMaxRows,
          fmt::format("users {} is outside [1, {}]", users, kMaxRows));
  require(items >= 1 && items <= kMaxRows,
          fmt::format("items {} is outside [1, {}]", items, kMaxRows));
  // users * items fits in int64: both are below 2^31.
  require(pairs >= users && pairs <= users * items,
          fmt::format("pairs {} is outside [{}, {}]: every one of the {} users needs at least "
                      "one item and can have at most all {} items",
                      pairs, users, users * items, users, items));
  require(std::isfinite(zipf) && zipf >= 0 && zipf <= 10,
          fmt::format("zipf {} is outside [0, 10]", zipf));
  require(std::isfinite(activity_sigma) && activity_sigma >= 0 && activity_sigma <= 10,
          fmt::format("activity_sigma {} is outside [0, 10]", activity_sigma));
}

Interactions synthesize(const SynthConfig& config) {
  config.validate();
  const auto n_items = static_cast<std::size_t>(config.items);
  const auto n_users = static_cast<std::size_t>(config.users);
  // Separate streams, so that changing one knob (say zipf) leaves the
  // draws of the others as they were.
  Rng perm_rng = Rng::stream(config.seed, 0);
  Rng activity_rng = Rng::stream(config.seed, 1);
  Rng pick_rng = Rng::stream(config.seed, 2);

  std::vector<double> rank_weight(n_items);
  for (std::size_t r = 0; r < n_items; ++r) {
    rank_weight[r] = std::pow(static_cast<double>(r + 1), -config.zipf);
  }
  std::vector<std::int32_t> rank_to_row(n_items);
  std::iota(rank_to_row.begin(), rank_to_row.end(), std::int32_t{1});
  perm_rng.shuffle(std::span<std::int32_t>(rank_to_row));
  std::vector<double> row_weight(n_items + 1, 0.0);
  for (std::size_t r = 0; r < n_items; ++r) {
    row_weight[static_cast<std::size_t>(rank_to_row[r])] = rank_weight[r];
  }
  const AliasTable table(rank_weight);
  std::vector<double>().swap(rank_weight);  // "= {}" would keep the capacity

  // Box-Muller, two normals per pair of uniforms.
  std::vector<double> activity(n_users);
  for (std::size_t u = 0; u < n_users; u += 2) {
    const double radius = std::sqrt(-2.0 * std::log(open_uniform(activity_rng)));
    const double angle = 2.0 * std::numbers::pi * open_uniform(activity_rng);
    activity[u] = std::exp(config.activity_sigma * radius * std::cos(angle));
    if (u + 1 < n_users) {
      activity[u + 1] = std::exp(config.activity_sigma * radius * std::sin(angle));
    }
  }
  const std::vector<std::int64_t> count = apportion(activity, config.pairs, config.items);
  std::vector<double>().swap(activity);

  Interactions out;
  out.num_users = static_cast<std::int32_t>(config.users + 1);
  out.num_items = static_cast<std::int32_t>(config.items + 1);
  out.users.reserve(static_cast<std::size_t>(config.pairs));
  out.items.reserve(static_cast<std::size_t>(config.pairs));
  UserSampler sampler(row_weight, table, rank_to_row);
  for (std::size_t u = 0; u < n_users; ++u) {
    sampler.sample(count[u], pick_rng, out.items);
    out.users.resize(out.items.size(), static_cast<std::int32_t>(u + 1));
  }
  return out;
}

void write_synth_csv(const std::filesystem::path& path, const Interactions& data) {
  if (data.users.size() != data.items.size()) {
    throw Error(ErrorKind::InvalidArgument, fmt::format("{}: {} users for {} items", path.string(),
                                                        data.users.size(), data.items.size()));
  }
  detail::AtomicFile file(path);
  std::string buffer = "user,item\n";
  constexpr std::size_t kFlushAt = 1 << 20;
  buffer.reserve(kFlushAt + 64);
  for (std::size_t k = 0; k < data.users.size(); ++k) {
    const fmt::format_int user(data.users[k]);
    const fmt::format_int item(data.items[k]);
    buffer.append(user.data(), user.size());
    buffer.push_back(',');
    buffer.append(item.data(), item.size());
    buffer.push_back('\n');
    if (buffer.size() >= kFlushAt) {
      file.write(buffer);
      buffer.clear();
    }
  }
  file.write(buffer);
  file.commit();
}

}  // namespace latent
