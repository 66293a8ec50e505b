#include <latent/bpr.hpp>

#include <algorithm>
#include <cmath>
#include <set>

#include <gtest/gtest.h>

#include <latent/error.hpp>
#include <latent/random.hpp>

#include "detail/bpr_sampler.hpp"
#include "fixtures/tiny_dataset.hpp"
#include "test_support.hpp"

namespace latent {
namespace {

BprConfig small_config() {
  BprConfig c;
  c.dim = 8;
  c.learning_rate = 0.05f;
  c.regularization = 0.001f;
  c.epochs = 150;
  c.threads = 1;
  c.seed = 7;
  return c;
}

std::string message_of(const BprConfig& c) { return test::validation_message(c); }

TEST(BprConfig, InvalidValuesAreNamed) {
  auto c = small_config();
  c.dim = 0;
  EXPECT_NE(message_of(c).find("dim 0"), std::string::npos);
  c = small_config();
  c.learning_rate = -0.5f;
  EXPECT_NE(message_of(c).find("learning rate -0.5"), std::string::npos);
  c = small_config();
  c.learning_rate = NAN;
  EXPECT_NE(message_of(c).find("learning rate"), std::string::npos);
  c = small_config();
  c.regularization = -1.0f;
  EXPECT_NE(message_of(c).find("regularization -1"), std::string::npos);
  c = small_config();
  c.epochs = 0;
  EXPECT_NE(message_of(c).find("epochs 0"), std::string::npos);
  c = small_config();
  c.threads = -2;
  EXPECT_NE(message_of(c).find("threads -2"), std::string::npos);
  EXPECT_EQ(message_of(small_config()), "");
  EXPECT_EQ(message_of(BprConfig{}), "");
  EXPECT_EQ(BprConfig{}.to_json().at("dim"), 64);
}

TEST(Bpr, SameSeedSameModelOtherSeedOtherModel) {
  const Dataset d = test::tiny_dataset();
  auto c = small_config();
  c.epochs = 5;
  const auto a = train_bpr(d.interactions, c);
  const auto b = train_bpr(d.interactions, c);
  EXPECT_EQ(a.user_factors, b.user_factors);
  EXPECT_EQ(a.item_factors, b.item_factors);
  EXPECT_EQ(a.accuracy, b.accuracy);
  c.seed = 8;
  const auto other = train_bpr(d.interactions, c);
  EXPECT_NE(a.item_factors, other.item_factors);
}

TEST(Bpr, ShapesBiasColumnAndZeroOovRows) {
  const Dataset d = test::tiny_dataset();
  auto c = small_config();
  c.epochs = 3;
  c.threads = 2;
  const auto r = train_bpr(d.interactions, c);
  ASSERT_EQ(r.user_factors.rows(), d.users.size());
  ASSERT_EQ(r.item_factors.rows(), d.items.size());
  ASSERT_EQ(r.user_factors.cols(), c.dim + 1);
  ASSERT_EQ(r.item_factors.cols(), c.dim + 1);
  for (float v : r.user_factors.row(0)) EXPECT_EQ(v, 0.0f);
  for (float v : r.item_factors.row(0)) EXPECT_EQ(v, 0.0f);
  for (std::int32_t u = 1; u < d.users.size(); ++u) EXPECT_EQ(r.user_factors.row(u)[8], 1.0f);
  for (float v : r.item_factors.values()) ASSERT_TRUE(std::isfinite(v));
  EXPECT_EQ(r.seconds.size(), 3u);
  EXPECT_EQ(r.accuracy.size(), 3u);
}

TEST(Bpr, AccuracyRisesAndTheTwoGroupsAreLearned) {
  const Dataset d = test::tiny_dataset();
  std::vector<int> seen_epochs;
  const auto r = train_bpr(d.interactions, small_config(),
                           [&](int epoch, double, double) { seen_epochs.push_back(epoch); });
  ASSERT_EQ(seen_epochs.size(), 150u);
  EXPECT_EQ(seen_epochs.back(), 150);
  double first = 0, last = 0;
  for (int e = 0; e < 10; ++e) {
    first += r.accuracy[static_cast<std::size_t>(e)] / 10;
    last += r.accuracy[r.accuracy.size() - 1 - static_cast<std::size_t>(e)] / 10;
  }
  EXPECT_LT(first, 0.75);
  EXPECT_GT(last, 0.95);

  // Every user's unseen items of their own group outscore every item of
  // the other group.
  const CsrMatrix seen = CsrMatrix::from_interactions(d.interactions);
  const auto dim = r.user_factors.cols();
  for (std::int32_t u = 1; u < d.users.size(); ++u) {
    const int group = test::user_group(d.users.id(u));
    float worst_own = INFINITY, best_other = -INFINITY;
    for (std::int32_t i = 1; i < d.items.size(); ++i) {
      float s = 0;
      for (std::int64_t k = 0; k < dim; ++k) {
        s += r.user_factors.row(u)[static_cast<std::size_t>(k)] *
             r.item_factors.row(i)[static_cast<std::size_t>(k)];
      }
      if (test::item_group(d.items.id(i)) != group) {
        best_other = std::max(best_other, s);
      } else if (!std::binary_search(seen.row(u).begin(), seen.row(u).end(), i)) {
        worst_own = std::min(worst_own, s);
      }
    }
    EXPECT_GT(worst_own, best_other) << "user " << d.users.id(u);
  }
}

TEST(Bpr, SamplerNeverReturnsAPositiveAndReachesEveryNegative) {
  // User 1 has 45 of the 49 items (most first draws are positives), user 2
  // has all of them, user 3 none.
  Interactions x;
  x.num_users = 4;
  x.num_items = 50;
  for (std::int32_t i = 1; i < 50; ++i) {
    if (i != 3 && i != 17 && i != 30 && i != 49) {
      x.users.push_back(1);
      x.items.push_back(i);
    }
    x.users.push_back(2);
    x.items.push_back(i);
  }
  x.users.push_back(3);  // a duplicate pair of user 1
  x.items.push_back(1);
  x.users.back() = 1;
  const std::vector<std::int32_t> ones(3000, 1);
  std::set<std::int32_t> drawn;
  for (auto j : detail::bpr_sample_negatives(x, ones, 5)) drawn.insert(j);
  EXPECT_EQ(drawn, (std::set<std::int32_t>{3, 17, 30, 49}));
  const std::vector<std::int32_t> twos(10, 2);
  for (auto j : detail::bpr_sample_negatives(x, twos, 5)) EXPECT_EQ(j, -1);
  const std::vector<std::int32_t> threes(3000, 3);
  drawn.clear();
  for (auto j : detail::bpr_sample_negatives(x, threes, 5)) drawn.insert(j);
  EXPECT_EQ(drawn.size(), 49u);
  EXPECT_EQ(*drawn.begin(), 1);
  EXPECT_EQ(*drawn.rbegin(), 49);
}

TEST(Bpr, SamplerIsExactOnRandomData) {
  // Dense enough that the sampler's filter answers "maybe" often.
  Interactions x;
  x.num_users = 101;
  x.num_items = 301;
  Rng rng(3);
  for (std::int32_t u = 1; u < x.num_users; ++u) {
    const float density = 0.05f + 0.9f * rng.uniform();
    for (std::int32_t i = 1; i < x.num_items; ++i) {
      if (rng.uniform() < density) {
        x.users.push_back(u);
        x.items.push_back(i);
      }
    }
  }
  const CsrMatrix seen = CsrMatrix::from_interactions(x);
  std::vector<std::int32_t> users;
  for (int n = 0; n < 200; ++n) {
    for (std::int32_t u = 1; u < x.num_users; ++u) users.push_back(u);
  }
  const auto negatives = detail::bpr_sample_negatives(x, users, 9);
  ASSERT_EQ(negatives.size(), users.size());
  for (std::size_t k = 0; k < users.size(); ++k) {
    const auto row = seen.row(users[k]);
    ASSERT_GE(negatives[k], 1);
    ASSERT_LT(negatives[k], x.num_items);
    ASSERT_FALSE(std::binary_search(row.begin(), row.end(), negatives[k]))
        << "user " << users[k] << " item " << negatives[k];
  }
}

TEST(Bpr, UserWithEveryItemIsSkippedNotLooped) {
  Interactions x;
  x.num_users = 3;
  x.num_items = 4;
  x.users = {1, 1, 1, 2};
  x.items = {1, 2, 3, 1};
  auto c = small_config();
  c.epochs = 2;
  const auto r = train_bpr(x, c);
  for (float v : r.item_factors.values()) EXPECT_TRUE(std::isfinite(v));
}

TEST(Bpr, RejectsPairsOutsideTheVocabularies) {
  Dataset d = test::tiny_dataset();
  d.interactions.items[3] = 0;  // OOV item
  EXPECT_THROW(train_bpr(d.interactions, small_config()), Error);
  d = test::tiny_dataset();
  d.interactions.users[4] = d.interactions.num_users;
  try {
    train_bpr(d.interactions, small_config());
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("training pair 4"), std::string::npos) << e.what();
  }
  Interactions empty;
  empty.num_users = 3;
  empty.num_items = 3;
  EXPECT_THROW(train_bpr(empty, small_config()), Error);
}

}  // namespace
}  // namespace latent
