// The deduplicated in-batch softmax must give exactly the loss and the
// vectors' gradients of TFRS's plain B x B computation, for every Retrieval
// option.

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

struct Gradients {
  double loss = 0;
  std::vector<float> gu, gi;  // batch users x dim, batch items x dim
};

// A skewed random batch of B pairs over num_users x num_items with vectors of width dim: the
// oracle's and InBatchSoftmax::gradients's loss and vector gradients.
struct BatchCase {
  Interactions x;
  std::vector<float> users, items;  // num_users x dim, num_items x dim
  std::vector<float> log_q;
  int num_users, num_items, dim;

  BatchCase(const Case& k, int nu, int ni, int B, int d) : num_users(nu), num_items(ni), dim(d) {
    Rng rng(123);
    x.num_users = nu;
    x.num_items = ni;
    for (int b = 0; b < B; ++b) {
      // Skewed so users and items repeat, and some (user, item) pairs too.
      x.users.push_back(1 + static_cast<int>(rng.below(3) *
                                             rng.below(static_cast<std::uint64_t>(nu)) % (nu - 1)));
      x.items.push_back(
          1 + static_cast<int>(rng.below(static_cast<std::uint64_t>(ni - 1)) * rng.below(2)));
      if (k.weighted) x.weights.push_back(0.25f * static_cast<float>(rng.below(8)));
    }
    users.resize(static_cast<std::size_t>(nu * d));
    items.resize(static_cast<std::size_t>(ni * d));
    for (float& v : users) v = 2.0f * rng.uniform() - 1.0f;
    for (float& v : items) v = 2.0f * rng.uniform() - 1.0f;
    if (k.logq) {
      for (int i = 0; i < ni; ++i) log_q.push_back(std::log(0.05f + 0.1f * static_cast<float>(i)));
    }
  }

  float score(int u, int i) const {
    float s = 0;
    for (int j = 0; j < dim; ++j)
      s += users[static_cast<std::size_t>(u * dim + j)] *
           items[static_cast<std::size_t>(i * dim + j)];
    return s;
  }

  Gradients run(const TwoTowerConfig& c, float scale, int threads) const {
    detail::Batch batch(num_users, num_items);
    std::vector<std::size_t> positions(x.size());
    std::iota(positions.begin(), positions.end(), std::size_t{0});
    batch.build(x, positions);
    std::vector<float> ud, id, batch_log_q;
    for (auto u : batch.users) {
      ud.insert(ud.end(), users.begin() + u * dim, users.begin() + (u + 1) * dim);
    }
    for (auto i : batch.items) {
      id.insert(id.end(), items.begin() + i * dim, items.begin() + (i + 1) * dim);
      if (!log_q.empty()) batch_log_q.push_back(log_q[static_cast<std::size_t>(i)]);
    }
    std::vector<std::int64_t> rows(batch.users.size());
    std::iota(rows.begin(), rows.end(), std::int64_t{0});
    Gradients r;
    r.gu.assign(ud.size(), NAN);
    r.gi.assign(id.size(), NAN);
    detail::InBatchSoftmax softmax(c);
    r.loss = softmax.gradients(batch, rows, ud.data(), id.data(), dim, batch_log_q, scale,
                               r.gu.data(), r.gi.data(), threads);
    // In the users' and items' own rows, for comparing.
    Gradients out;
    out.loss = r.loss;
    out.gu.assign(users.size(), 0.0f);
    out.gi.assign(items.size(), 0.0f);
    for (std::size_t k = 0; k < batch.users.size(); ++k) {
      std::copy_n(r.gu.begin() + static_cast<std::ptrdiff_t>(k) * dim, dim,
                  out.gu.begin() + batch.users[k] * dim);
    }
    for (std::size_t k = 0; k < batch.items.size(); ++k) {
      std::copy_n(r.gi.begin() + static_cast<std::ptrdiff_t>(k) * dim, dim,
                  out.gi.begin() + batch.items[k] * dim);
    }
    return out;
  }

  // The oracle's loss and gradients of the vectors: dL/dU = G I, dL/dI = G^T U.
  Gradients want(const TwoTowerConfig& c, float scale) const {
    std::vector<float> s(static_cast<std::size_t>(num_users * num_items));
    for (int u = 0; u < num_users; ++u)
      for (int i = 0; i < num_items; ++i)
        s[static_cast<std::size_t>(u * num_items + i)] = score(u, i);
    const Oracle o = plain_softmax(x, s, num_items, c, log_q);
    Gradients r;
    r.loss = scale * o.loss;
    r.gu.assign(users.size(), 0.0f);
    r.gi.assign(items.size(), 0.0f);
    for (int u = 0; u < num_users; ++u) {
      for (int i = 0; i < num_items; ++i) {
        const double g = scale * o.grad[static_cast<std::size_t>(u * num_items + i)];
        for (int j = 0; j < dim; ++j) {
          r.gu[static_cast<std::size_t>(u * dim + j)] +=
              static_cast<float>(g * items[static_cast<std::size_t>(i * dim + j)]);
          r.gi[static_cast<std::size_t>(i * dim + j)] +=
              static_cast<float>(g * users[static_cast<std::size_t>(u * dim + j)]);
        }
      }
    }
    return r;
  }
};

TwoTowerConfig config_of(const Case& k) {
  TwoTowerConfig c;
  c.temperature = k.temperature;
  c.remove_accidental_hits = k.remove_hits;
  c.hard_negatives = k.hard_negatives;
  return c;
}

void expect_near(const Gradients& got, const Gradients& want) {
  EXPECT_NEAR(got.loss, want.loss, 1e-4 * std::max(1.0, std::abs(want.loss)));
  for (std::size_t j = 0; j < want.gu.size(); ++j) {
    EXPECT_NEAR(got.gu[j], want.gu[j], 1e-4 * std::max(1.0f, std::abs(want.gu[j])))
        << "user cell " << j;
  }
  for (std::size_t j = 0; j < want.gi.size(); ++j) {
    EXPECT_NEAR(got.gi[j], want.gi[j], 1e-4 * std::max(1.0f, std::abs(want.gi[j])))
        << "item cell " << j;
  }
}

class InBatchSoftmaxTest : public ::testing::TestWithParam<Case> {};

TEST_P(InBatchSoftmaxTest, MatchesPlainBatchComputation) {
  const Case k = GetParam();
  const BatchCase batch_case(k, 6, 9, 40, 3);
  const TwoTowerConfig c = config_of(k);
  expect_near(batch_case.run(c, 1.0f, 2), batch_case.want(c, 1.0f));
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

// Many rows: several blocks of rows and several parts of them, whose item gradients are summed.
TEST(InBatchSoftmax, ManyRowsMatchThePlainComputationScaled) {
  const Case k{0.5f, true, true, 0, true};
  const BatchCase batch_case(k, 900, 60, 2000, 4);
  const TwoTowerConfig c = config_of(k);
  expect_near(batch_case.run(c, 0.25f, 2), batch_case.want(c, 0.25f));
}

// The parts of the rows, not the threads, fix the order of the sums: the same bits for any
// thread count.
TEST(InBatchSoftmax, SameGradientsForAnyThreadCount) {
  const Case k{1.0f, false, false, 0};
  const BatchCase batch_case(k, 900, 60, 2000, 4);
  const TwoTowerConfig c = config_of(k);
  const Gradients one = batch_case.run(c, 1.0f, 1);
  for (int threads : {2, 3, 8}) {
    const Gradients many = batch_case.run(c, 1.0f, threads);
    EXPECT_EQ(many.loss, one.loss) << threads << " threads";
    EXPECT_EQ(many.gu, one.gu) << threads << " threads";
    EXPECT_EQ(many.gi, one.gi) << threads << " threads";
  }
}

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
