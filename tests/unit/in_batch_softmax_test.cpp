// The deduplicated in-batch softmax must give exactly the loss and logit
// gradients of TFRS's plain B x B computation, for every Retrieval option.

#include "detail/in_batch_softmax.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <vector>

#include <gtest/gtest.h>

#include <latent/random.hpp>

namespace latent {
namespace {

struct Oracle {
  double loss = 0;
  std::vector<double> grad;  // num_users x num_items, d loss / d raw score
};

// The B x B computation as tasks.Retrieval does it, on raw scores s(u, i).
Oracle plain_softmax(const Interactions& x, const std::vector<float>& s, int num_items,
                     const TwoTowerConfig& c, const std::vector<float>& log_q) {
  const auto B = x.size();
  Oracle out;
  out.grad.assign(s.size(), 0.0);
  const double min_float = std::numeric_limits<float>::lowest() / 100.0;
  for (std::size_t b = 0; b < B; ++b) {
    std::vector<double> logits(B);
    for (std::size_t j = 0; j < B; ++j) {
      double l = s[static_cast<std::size_t>(x.users[b] * num_items + x.items[j])] / c.temperature;
      if (!log_q.empty()) l -= log_q[static_cast<std::size_t>(x.items[j])];
      if (c.remove_accidental_hits && j != b && x.items[j] == x.items[b]) l += min_float;
      logits[j] = l;
    }
    std::vector<std::size_t> cols(B);
    std::iota(cols.begin(), cols.end(), std::size_t{0});
    if (c.hard_negatives > 0) {
      const auto keep = std::min<std::size_t>(static_cast<std::size_t>(c.hard_negatives) + 1, B);
      std::stable_sort(cols.begin(), cols.end(), [&](std::size_t a, std::size_t z) {
        const double la = a == b ? 1e300 : logits[a];
        const double lz = z == b ? 1e300 : logits[z];
        return la > lz;
      });
      cols.resize(keep);
    }
    double m = -1e300;
    for (auto j : cols) m = std::max(m, logits[j]);
    double z = 0;
    for (auto j : cols) z += std::exp(logits[j] - m);
    const double w = x.weights.empty() ? 1.0 : x.weights[b];
    out.loss += w * (std::log(z) + m - logits[b]);
    for (auto j : cols) {
      const double p = std::exp(logits[j] - m) / z - (j == b ? 1.0 : 0.0);
      out.grad[static_cast<std::size_t>(x.users[b] * num_items + x.items[j])] +=
          w * p / c.temperature;
    }
  }
  return out;
}

struct Case {
  float temperature;
  bool remove_hits;
  bool logq;
  int hard_negatives;
  bool weighted = false;
};

class InBatchSoftmaxTest : public ::testing::TestWithParam<Case> {};

TEST_P(InBatchSoftmaxTest, MatchesPlainBatchComputation) {
  const Case k = GetParam();
  TwoTowerConfig c;
  c.temperature = k.temperature;
  c.remove_accidental_hits = k.remove_hits;
  c.hard_negatives = k.hard_negatives;
  const int num_users = 6, num_items = 9, B = 40;
  Rng rng(123);
  Interactions x;
  x.num_users = num_users;
  x.num_items = num_items;
  for (int b = 0; b < B; ++b) {
    // Skewed so users and items repeat, and some (user, item) pairs too.
    x.users.push_back(1 + static_cast<int>(rng.below(3) * rng.below(3) % (num_users - 1)));
    x.items.push_back(1 + static_cast<int>(rng.below(num_items - 1) * rng.below(2)));
    if (k.weighted) x.weights.push_back(0.25f * static_cast<float>(rng.below(8)));
  }
  std::vector<float> s(static_cast<std::size_t>(num_users * num_items));
  for (float& v : s) v = 4.0f * rng.uniform() - 2.0f;
  std::vector<float> log_q;
  if (k.logq) {
    for (int i = 0; i < num_items; ++i)
      log_q.push_back(std::log(0.05f + 0.1f * static_cast<float>(i)));
  }
  const Oracle want = plain_softmax(x, s, num_items, c, log_q);

  detail::Batch batch(num_users, num_items);
  std::vector<std::size_t> positions(static_cast<std::size_t>(B));
  std::iota(positions.begin(), positions.end(), std::size_t{0});
  batch.build(x, positions);
  const auto nu = batch.users.size(), ni = batch.items.size();
  std::vector<float> logits(nu * ni), grad(nu * ni), batch_log_q;
  for (std::size_t u = 0; u < nu; ++u)
    for (std::size_t i = 0; i < ni; ++i)
      logits[u * ni + i] = s[static_cast<std::size_t>(batch.users[u] * num_items + batch.items[i])];
  for (auto i : batch.items) {
    if (k.logq) batch_log_q.push_back(log_q[static_cast<std::size_t>(i)]);
  }
  detail::InBatchSoftmax softmax(c);
  const double loss = softmax.run(batch, logits.data(), grad.data(), batch_log_q, 2);

  EXPECT_NEAR(loss, want.loss, 1e-4 * std::max(1.0, std::abs(want.loss)));
  std::vector<double> got(s.size(), 0.0);
  for (std::size_t u = 0; u < nu; ++u)
    for (std::size_t i = 0; i < ni; ++i)
      got[static_cast<std::size_t>(batch.users[u] * num_items + batch.items[i])] = grad[u * ni + i];
  for (std::size_t cell = 0; cell < got.size(); ++cell) {
    EXPECT_NEAR(got[cell], want.grad[cell], 1e-4) << "cell " << cell;
  }
}

INSTANTIATE_TEST_SUITE_P(RetrievalOptions, InBatchSoftmaxTest,
                         ::testing::Values(Case{1.0f, false, false, 0}, Case{0.5f, false, false, 0},
                                           Case{1.0f, true, false, 0}, Case{1.0f, false, true, 0},
                                           Case{2.0f, true, true, 0}, Case{1.0f, false, false, 3},
                                           Case{1.0f, true, false, 5}, Case{0.7f, true, true, 7},
                                           Case{1.0f, false, false, 100},
                                           Case{1.0f, false, false, 0, true},
                                           Case{0.5f, true, true, 0, true},
                                           Case{1.0f, true, false, 4, true}));

TEST(Batch, GroupsDistinctUsersItemsAndPairs) {
  Interactions x;
  x.num_users = 4;
  x.num_items = 5;
  x.users = {3, 1, 3, 3};
  x.items = {2, 2, 4, 2};
  detail::Batch b(4, 5);
  std::vector<std::size_t> pos{0, 1, 2, 3};
  b.build(x, pos);
  EXPECT_EQ(b.users, (std::vector<std::int32_t>{3, 1}));
  EXPECT_EQ(b.items, (std::vector<std::int32_t>{2, 4}));
  EXPECT_EQ(b.item_count, (std::vector<float>{3, 1}));
  EXPECT_EQ(b.pair_begin, (std::vector<std::int32_t>{0, 2, 3}));
  EXPECT_EQ(b.pair_item, (std::vector<std::int32_t>{0, 1, 0}));
  EXPECT_EQ(b.pair_count, (std::vector<float>{2, 1, 1}));
}

}  // namespace
}  // namespace latent
