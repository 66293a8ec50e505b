#include <latent/ease.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <vector>

#include <gtest/gtest.h>

#include <latent/error.hpp>
#include <latent/random.hpp>

#include "fixtures/tiny_dataset.hpp"
#include "test_support.hpp"

namespace latent {
namespace {

std::string message_of(const EaseConfig& c) { return test::validation_message(c); }

TEST(EaseConfig, InvalidValuesAreNamed) {
  EaseConfig c;
  c.regularization = 0;
  EXPECT_NE(message_of(c).find("regularization 0"), std::string::npos);
  c = {};
  c.regularization = NAN;
  EXPECT_NE(message_of(c).find("regularization nan"), std::string::npos);
  c = {};
  c.memory_limit_gb = -1;
  EXPECT_NE(message_of(c).find("memory limit -1"), std::string::npos);
  c = {};
  c.threads = -1;
  EXPECT_NE(message_of(c).find("threads -1"), std::string::npos);
  EXPECT_EQ(message_of(EaseConfig{}), "");
  EXPECT_EQ(EaseConfig{}.to_json().at("memory_limit_gb"), 0.0);
}

// A random binary user x item matrix with a duplicate pair.
Interactions random_interactions(std::int32_t users, std::int32_t items, std::uint64_t seed) {
  Interactions x;
  x.num_users = users;
  x.num_items = items;
  Rng rng(seed);
  for (std::int32_t u = 1; u < users; ++u) {
    for (std::int32_t i = 1; i < items; ++i) {
      if (rng.uniform() < 0.4f) {
        x.users.push_back(u);
        x.items.push_back(i);
      }
    }
  }
  x.users.push_back(x.users.front());  // duplicates count once
  x.items.push_back(x.items.front());
  return x;
}

// W[i][j] of a dense term.
float weight(const ItemToItem& w, std::int64_t i, std::int64_t j) {
  return w.values()[static_cast<std::size_t>(i * w.items() + j)];
}

// B of Steck 2019 in double precision, from a plain Gauss-Jordan inverse.
std::vector<double> brute_force_b(const Interactions& x, double lambda) {
  const auto n = static_cast<std::size_t>(x.num_items);
  std::vector<double> X(static_cast<std::size_t>(x.num_users) * n, 0.0);
  for (std::size_t k = 0; k < x.size(); ++k) {
    double& cell =
        X[static_cast<std::size_t>(x.users[k]) * n + static_cast<std::size_t>(x.items[k])];
    cell = x.weights.empty() ? 1.0 : cell + x.weights[k];  // weights of duplicates add up
  }
  // Augmented [G + lambda I | I].
  std::vector<double> a(n * 2 * n, 0.0);
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = 0; j < n; ++j) {
      double g = 0;
      for (std::size_t u = 0; u < static_cast<std::size_t>(x.num_users); ++u) {
        g += X[u * n + i] * X[u * n + j];
      }
      a[i * 2 * n + j] = g + (i == j ? lambda : 0.0);
    }
    a[i * 2 * n + n + i] = 1.0;
  }
  for (std::size_t c = 0; c < n; ++c) {
    std::size_t pivot = c;
    for (std::size_t r = c + 1; r < n; ++r) {
      if (std::abs(a[r * 2 * n + c]) > std::abs(a[pivot * 2 * n + c])) pivot = r;
    }
    for (std::size_t j = 0; j < 2 * n; ++j) std::swap(a[c * 2 * n + j], a[pivot * 2 * n + j]);
    const double d = a[c * 2 * n + c];
    for (std::size_t j = 0; j < 2 * n; ++j) a[c * 2 * n + j] /= d;
    for (std::size_t r = 0; r < n; ++r) {
      if (r == c) continue;
      const double f = a[r * 2 * n + c];
      for (std::size_t j = 0; j < 2 * n; ++j) a[r * 2 * n + j] -= f * a[c * 2 * n + j];
    }
  }
  std::vector<double> b(n * n);
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = 0; j < n; ++j) {
      const double p = a[i * 2 * n + n + j], pjj = a[j * 2 * n + n + j];
      b[i * n + j] = i == j ? 0.0 : -p / pjj;
    }
  }
  return b;
}

TEST(Ease, EqualsTheClosedFormInDoublePrecision) {
  const Interactions x = random_interactions(15, 9, 3);
  for (float lambda : {0.5f, 3.0f, 250.0f}) {
    EaseConfig c;
    c.regularization = lambda;
    c.threads = 2;
    const ItemToItem w = train_ease(x, c);
    ASSERT_TRUE(w.is_dense());
    ASSERT_EQ(w.items(), 9);
    const auto b = brute_force_b(x, lambda);
    double max_b = 0;
    for (double v : b) max_b = std::max(max_b, std::abs(v));
    ASSERT_GT(max_b, 1e-4);
    for (std::size_t i = 0; i < 9; ++i) {
      for (std::size_t k = 0; k < 9; ++k) {
        EXPECT_NEAR(weight(w, static_cast<std::int64_t>(i), static_cast<std::int64_t>(k)),
                    b[i * 9 + k], 2e-5 * max_b)
            << "lambda " << lambda << " at " << i << ", " << k;
      }
    }
  }
}

TEST(Ease, WeightsAreTheValuesOfXAndDuplicatesAddUp) {
  Interactions x = random_interactions(15, 9, 5);
  Rng rng(11);
  for (std::size_t k = 0; k < x.size(); ++k) x.weights.push_back(0.1f + 2.0f * rng.uniform());
  EaseConfig c;
  c.regularization = 2.0f;
  c.threads = 2;
  const ItemToItem w = train_ease(x, c);
  const auto b = brute_force_b(x, 2.0);
  double max_b = 0;
  for (double v : b) max_b = std::max(max_b, std::abs(v));
  for (std::int64_t i = 0; i < 9; ++i) {
    for (std::int64_t k = 0; k < 9; ++k) {
      EXPECT_NEAR(weight(w, i, k), b[static_cast<std::size_t>(i * 9 + k)], 2e-5 * max_b);
    }
  }

  // Weights of 1 on distinct pairs are the unweighted model, bit for bit.
  x.users.pop_back();
  x.items.pop_back();
  x.weights.assign(x.size(), 1.0f);
  Interactions plain = x;
  plain.weights.clear();
  EXPECT_EQ(train_ease(x, c), train_ease(plain, c));
}

TEST(Ease, ZeroDiagonalZeroOovAndSameForEveryThreadCount) {
  const Interactions x = random_interactions(40, 30, 9);
  EaseConfig c;
  c.regularization = 10.0f;
  c.threads = 1;
  const ItemToItem one = train_ease(x, c);
  c.threads = 2;
  const ItemToItem two = train_ease(x, c);
  EXPECT_EQ(one, two);
  for (std::int64_t i = 0; i < one.items(); ++i) {
    EXPECT_EQ(weight(one, i, i), 0.0f);
    EXPECT_EQ(weight(one, i, 0), 0.0f);
    EXPECT_EQ(weight(one, 0, i), 0.0f);
  }
}

// Large enough for LAPACK to split its solve over threads, were it to use
// them (OpenBLAS's threaded Cholesky rounds differently per thread count).
TEST(Ease, TheSolveGivesTheSameWeightsOnAnyThreadCount) {
  Interactions x;
  x.num_users = 400;
  x.num_items = 1200;
  Rng rng(21);
  for (std::int32_t u = 1; u < x.num_users; ++u) {
    for (int k = 0; k < 40; ++k) {
      x.users.push_back(u);
      x.items.push_back(1 + static_cast<std::int32_t>(rng.uniform() * 1199.0f) % 1199);
    }
  }
  EaseConfig c;
  c.regularization = 20.0f;
  c.threads = 1;
  const ItemToItem one = train_ease(x, c);
  c.threads = 2;
  EXPECT_EQ(train_ease(x, c), one);
}

TEST(Ease, RefusesBeforeAllocatingWhenOverTheMemoryLimit) {
  Interactions x;
  x.num_users = 2;
  x.num_items = 100001;
  x.users = {1};
  x.items = {7};
  EaseConfig c;
  c.memory_limit_gb = 1.5;
  const auto t0 = std::chrono::steady_clock::now();
  try {
    train_ease(x, c);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::InvalidArgument);
    const std::string m = e.what();
    EXPECT_NE(m.find("100001 items"), std::string::npos) << m;
    EXPECT_NE(m.find("40000800004 bytes"), std::string::npos) << m;
    EXPECT_NE(m.find("1.5 GB"), std::string::npos) << m;
    // And what to use instead.
    EXPECT_NE(m.find("--model gf-cf"), std::string::npos) << m;
  }
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 0.5);
  // 1,001 items need 4,008,004 bytes: refused below that, accepted at it.
  x.num_items = 1001;
  c.memory_limit_gb = 0.004008;
  EXPECT_THROW(train_ease(x, c), Error);
  c.memory_limit_gb = 0.004008004;
  EXPECT_EQ(train_ease(x, c).items(), 1001);
}

TEST(Ease, LearnsTheTwoGroups) {
  const Dataset d = test::tiny_dataset();
  const ItemToItem w = train_ease(d.interactions, EaseConfig{});
  const CsrMatrix seen = CsrMatrix::from_interactions(d.interactions);
  const auto n = static_cast<std::size_t>(d.items.size());
  for (std::int32_t u = 1; u < d.users.size(); ++u) {
    std::vector<float> scores(n);
    w.term(seen.row(u), {}, 0, scores);  // x_u B
    const int group = test::user_group(d.users.id(u));
    float worst_own = INFINITY, best_other = -INFINITY;
    for (std::int32_t i = 1; i < d.items.size(); ++i) {
      const float s = scores[static_cast<std::size_t>(i)];
      if (test::item_group(d.items.id(i)) != group) {
        best_other = std::max(best_other, s);
      } else if (!std::binary_search(seen.row(u).begin(), seen.row(u).end(), i)) {
        worst_own = std::min(worst_own, s);
      }
    }
    EXPECT_GT(worst_own, best_other) << "user " << d.users.id(u);
  }
}

TEST(Ease, RejectsPairsOutsideTheVocabularies) {
  Dataset d = test::tiny_dataset();
  d.interactions.items[3] = 0;
  EXPECT_THROW(train_ease(d.interactions, EaseConfig{}), Error);
  Interactions empty;
  empty.num_users = 3;
  empty.num_items = 3;
  EXPECT_THROW(train_ease(empty, EaseConfig{}), Error);
}

}  // namespace
}  // namespace latent
