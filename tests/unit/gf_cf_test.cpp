#include <latent/gf_cf.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <span>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <zlib.h>

#include <latent/error.hpp>
#include <latent/random.hpp>

#include "detail/blas.hpp"
#include "fixtures/tiny_dataset.hpp"
#include "test_support.hpp"

namespace latent {
namespace {

// ---- Dense references, in double precision ---------------------------------------------

// A dense row-major matrix of doubles.
struct Dense {
  std::size_t rows = 0, cols = 0;
  std::vector<double> a;
  Dense(std::size_t r, std::size_t c) : rows(r), cols(c), a(r * c, 0.0) {}
  double& at(std::size_t r, std::size_t c) { return a[r * cols + c]; }
  double at(std::size_t r, std::size_t c) const { return a[r * cols + c]; }
};

// The binary R of the distinct pairs, its degrees, and R~ = D_U^-1/2 R D_I^-1/2.
struct Reference {
  Dense r, normalized;
  std::vector<double> user_degree, item_degree;
  explicit Reference(const Interactions& x)
      : r(static_cast<std::size_t>(x.num_users), static_cast<std::size_t>(x.num_items)),
        normalized(r.rows, r.cols),
        user_degree(r.rows, 0.0),
        item_degree(r.cols, 0.0) {
    for (std::size_t k = 0; k < x.size(); ++k) {
      r.at(static_cast<std::size_t>(x.users[k]), static_cast<std::size_t>(x.items[k])) = 1.0;
    }
    for (std::size_t u = 0; u < r.rows; ++u) {
      for (std::size_t i = 0; i < r.cols; ++i) {
        user_degree[u] += r.at(u, i);
        item_degree[i] += r.at(u, i);
      }
    }
    for (std::size_t u = 0; u < r.rows; ++u) {
      for (std::size_t i = 0; i < r.cols; ++i) {
        if (r.at(u, i) != 0) normalized.at(u, i) = 1.0 / std::sqrt(user_degree[u] * item_degree[i]);
      }
    }
  }
  // R~^T R~ (items x items).
  Dense gram() const {
    Dense g(r.cols, r.cols);
    for (std::size_t i = 0; i < r.cols; ++i) {
      for (std::size_t j = 0; j < r.cols; ++j) {
        for (std::size_t u = 0; u < r.rows; ++u) {
          g.at(i, j) += normalized.at(u, i) * normalized.at(u, j);
        }
      }
    }
    return g;
  }
};

// Eigenvalues (descending) and eigenvectors (rows of `vectors`, same order)
// of a symmetric matrix by cyclic Jacobi rotations.
struct Eigen {
  std::vector<double> values;
  Dense vectors{0, 0};
};
Eigen jacobi(Dense a) {
  const std::size_t n = a.rows;
  Dense v(n, n);  // columns: eigenvectors
  for (std::size_t i = 0; i < n; ++i) v.at(i, i) = 1.0;
  for (int sweep = 0; sweep < 100; ++sweep) {
    double off = 0;
    for (std::size_t p = 0; p < n; ++p) {
      for (std::size_t q = p + 1; q < n; ++q) off += a.at(p, q) * a.at(p, q);
    }
    if (off < 1e-30) break;
    for (std::size_t p = 0; p < n; ++p) {
      for (std::size_t q = p + 1; q < n; ++q) {
        if (std::abs(a.at(p, q)) < 1e-300) continue;
        const double theta = (a.at(q, q) - a.at(p, p)) / (2 * a.at(p, q));
        const double t = (theta >= 0 ? 1.0 : -1.0) / (std::abs(theta) + std::hypot(theta, 1.0));
        const double c = 1 / std::hypot(t, 1.0), s = t * c;
        for (std::size_t k = 0; k < n; ++k) {  // A <- A J
          const double akp = a.at(k, p), akq = a.at(k, q);
          a.at(k, p) = c * akp - s * akq;
          a.at(k, q) = s * akp + c * akq;
        }
        for (std::size_t k = 0; k < n; ++k) {  // A <- J^T A
          const double apk = a.at(p, k), aqk = a.at(q, k);
          a.at(p, k) = c * apk - s * aqk;
          a.at(q, k) = s * apk + c * aqk;
        }
        for (std::size_t k = 0; k < n; ++k) {  // V <- V J
          const double vkp = v.at(k, p), vkq = v.at(k, q);
          v.at(k, p) = c * vkp - s * vkq;
          v.at(k, q) = s * vkp + c * vkq;
        }
      }
    }
  }
  std::vector<std::size_t> order(n);
  for (std::size_t i = 0; i < n; ++i) order[i] = i;
  std::sort(order.begin(), order.end(),
            [&](std::size_t x, std::size_t y) { return a.at(x, x) > a.at(y, y); });
  Eigen e;
  e.vectors = Dense(n, n);
  for (std::size_t c = 0; c < n; ++c) {
    e.values.push_back(a.at(order[c], order[c]));
    for (std::size_t k = 0; k < n; ++k) e.vectors.at(c, k) = v.at(k, order[c]);
  }
  return e;
}

// The projector onto the span of the first k eigenvectors (items x items).
Dense projector(const Eigen& e, std::size_t k) {
  const std::size_t n = e.vectors.cols;
  Dense p(n, n);
  for (std::size_t c = 0; c < k; ++c) {
    for (std::size_t i = 0; i < n; ++i) {
      for (std::size_t j = 0; j < n; ++j) p.at(i, j) += e.vectors.at(c, i) * e.vectors.at(c, j);
    }
  }
  return p;
}

// The number of eigenvalues of R~^T R~ that are not zero: the rank of R~.
std::size_t rank_of(const Eigen& e) {
  return static_cast<std::size_t>(
      std::count_if(e.values.begin(), e.values.end(), [](double v) { return v > 1e-10; }));
}

// V V^T as the model holds it: item_queries[i] . item_vectors[j] =
// alpha d_i^-1/2 d_j^1/2 (V V^T)[i][j], so undo the alpha and the degrees.
Dense model_projector(const GfCfModel& m, const Reference& ref, double alpha) {
  const auto n = static_cast<std::size_t>(m.item_vectors.rows());
  Dense p(n, n);
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = 0; j < n; ++j) {
      if (ref.item_degree[i] == 0 || ref.item_degree[j] == 0) continue;
      double dot = 0;
      for (std::int64_t c = 0; c < m.item_vectors.cols(); ++c) {
        dot += static_cast<double>(m.item_queries.row(static_cast<std::int64_t>(i))[c]) *
               m.item_vectors.row(static_cast<std::int64_t>(j))[c];
      }
      p.at(i, j) = dot / alpha * std::sqrt(ref.item_degree[i] / ref.item_degree[j]);
    }
  }
  return p;
}

void expect_near(const Dense& got, const Dense& want, double tolerance, const std::string& what) {
  ASSERT_EQ(got.rows, want.rows);
  ASSERT_EQ(got.cols, want.cols);
  int reported = 0;
  for (std::size_t i = 0; i < got.rows; ++i) {
    for (std::size_t j = 0; j < got.cols; ++j) {
      if (std::abs(got.at(i, j) - want.at(i, j)) > tolerance && reported++ < 5) {
        ADD_FAILURE() << what << " at " << i << ", " << j << ": " << got.at(i, j) << " vs "
                      << want.at(i, j);
      }
    }
  }
}

Dense dense_of(const ItemToItem& w) {
  const auto n = static_cast<std::size_t>(w.items());
  Dense p(n, n);
  for (std::size_t i = 0; i < n; ++i) {
    for (auto k = w.indptr()[i]; k < w.indptr()[i + 1]; ++k) {
      p.at(i, static_cast<std::size_t>(w.indices()[static_cast<std::size_t>(k)])) =
          w.values()[static_cast<std::size_t>(k)];
    }
  }
  return p;
}

// ---- Data --------------------------------------------------------------------------------

// Binary pairs over known rows: user u has item i with probability
// chance(u, i).
template <typename Chance>
Interactions drawn_interactions(std::int32_t users, std::int32_t items, std::uint64_t seed,
                                Chance chance) {
  Interactions x;
  x.num_users = users;
  x.num_items = items;
  Rng rng(seed);
  for (std::int32_t u = 1; u < users; ++u) {
    for (std::int32_t i = 1; i < items; ++i) {
      if (rng.uniform() < chance(u, i)) {
        x.users.push_back(u);
        x.items.push_back(i);
      }
    }
  }
  return x;
}

// Random pairs, about `density` of the cells, with a duplicate pair
// (counted once).
Interactions random_interactions(std::int32_t users, std::int32_t items, double density,
                                 std::uint64_t seed) {
  Interactions x = drawn_interactions(
      users, items, seed, [&](std::int32_t, std::int32_t) { return static_cast<float>(density); });
  x.users.push_back(x.users.front());
  x.items.push_back(x.items.front());
  return x;
}

// Users and items in `groups` blocks: a user picks items of its own group
// with probability 0.6, others with 0.05. R~ then has `groups` singular
// values well above the rest (the top one is 1).
Interactions grouped_interactions(std::int32_t users, std::int32_t items, int groups,
                                  std::uint64_t seed) {
  return drawn_interactions(users, items, seed, [&](std::int32_t u, std::int32_t i) {
    return u % groups == i % groups ? 0.6f : 0.05f;
  });
}

GfCfConfig config_with(int dim, int oversampling = 64) {
  GfCfConfig c;
  c.dim = dim;
  c.oversampling = oversampling;
  c.ideal_weight = 0.3f;  // what the projector checks below scale by
  c.threads = 2;
  return c;
}

// ---- Tests -------------------------------------------------------------------------------

TEST(GfCfConfig, InvalidValuesAreNamed) {
  const auto message_of = [](const GfCfConfig& c) { return test::validation_message(c); };
  GfCfConfig c;
  c.dim = -1;
  EXPECT_NE(message_of(c).find("dim -1"), std::string::npos);
  c = {};
  c.dim = 5000;
  EXPECT_NE(message_of(c).find("dim 5000"), std::string::npos);
  c = {};
  c.ideal_weight = -0.5f;
  EXPECT_NE(message_of(c).find("ideal_weight -0.5"), std::string::npos);
  c = {};
  c.ideal_weight = NAN;
  EXPECT_NE(message_of(c).find("ideal_weight nan"), std::string::npos);
  c = {};
  c.power_iterations = -1;
  EXPECT_NE(message_of(c).find("power_iterations -1"), std::string::npos);
  c = {};
  c.oversampling = -3;
  EXPECT_NE(message_of(c).find("oversampling -3"), std::string::npos);
  c = {};
  c.threads = -1;
  EXPECT_NE(message_of(c).find("threads -1"), std::string::npos);
  EXPECT_EQ(message_of(GfCfConfig{}), "");
  c = {};
  c.ideal_weight = 0;  // the linear filter alone
  EXPECT_EQ(message_of(c), "");

  const nlohmann::json j = GfCfConfig{}.to_json();
  EXPECT_EQ(j.at("dim"), 0);  // auto
  EXPECT_FLOAT_EQ(j.at("ideal_weight").get<float>(), 0.5f);
  EXPECT_EQ(j.at("power_iterations"), 2);
  EXPECT_EQ(j.at("oversampling"), 64);
  EXPECT_EQ(j.at("seed"), 42);
  EXPECT_FALSE(j.contains("threads"));  // does not change the model
  // train_gf_cf validates too.
  c = {};
  c.dim = -1;
  test::expect_error([&] { train_gf_cf(test::tiny_dataset().interactions, c); },
                     ErrorKind::InvalidArgument, {"dim -1"});
}

// dim 0 takes K from the catalog's size: items / 128 within [64, 512]
// (then the rank's clamp, as any dim).
TEST(GfCf, AutoDimFollowsTheCatalogSize) {
  EXPECT_EQ(auto_gf_cf_dim(1683), 64);    // MovieLens 100K
  EXPECT_EQ(auto_gf_cf_dim(40982), 320);  // Gowalla
  EXPECT_EQ(auto_gf_cf_dim(1000001), 512);
  const Interactions x = random_interactions(40, 30, 0.3, 3);
  EXPECT_EQ(train_gf_cf(x, GfCfConfig{}).item_vectors.cols(), 29);
}

TEST(GfCf, ItemToItemIsTheDenseProduct) {
  const Interactions x = random_interactions(40, 30, 0.3, 3);
  const Reference ref(x);
  const GfCfModel m = train_gf_cf(x, config_with(8));
  ASSERT_EQ(m.item_to_item.items(), 30);
  const Dense want = ref.gram();
  expect_near(dense_of(m.item_to_item), want, 1e-7, "P");
  // Stored exactly where two items share a user: the diagonal of every item
  // with pairs, nothing in row or column 0.
  std::int64_t nonzero = 0;
  for (double v : want.a) nonzero += v != 0;
  EXPECT_EQ(m.item_to_item.nnz(), nonzero);
  for (std::int32_t i = 1; i < 30; ++i) {
    const auto row = m.item_to_item.indptr()[static_cast<std::size_t>(i)];
    const auto end = m.item_to_item.indptr()[static_cast<std::size_t>(i) + 1];
    EXPECT_TRUE(std::find(m.item_to_item.indices().begin() + row,
                          m.item_to_item.indices().begin() + end,
                          i) != m.item_to_item.indices().begin() + end)
        << "diagonal of item " << i;
  }
}

TEST(GfCf, FullRankIdealFilterIsTheRowSpaceProjector) {
  const Interactions x = random_interactions(40, 30, 0.3, 5);
  const Reference ref(x);
  const Eigen e = jacobi(ref.gram());
  ASSERT_EQ(rank_of(e), 29u);  // the 29 known items
  // dim 256 is clamped to min(39 known users, 29 known items).
  const GfCfModel m = train_gf_cf(x, config_with(256));
  ASSERT_EQ(m.item_vectors.cols(), 29);
  ASSERT_EQ(m.item_queries.cols(), 29);
  ASSERT_EQ(m.user_vectors.cols(), 29);
  ASSERT_EQ(m.item_vectors.rows(), 30);
  ASSERT_EQ(m.user_vectors.rows(), 40);
  expect_near(model_projector(m, ref, 0.3), projector(e, 29), 1e-5, "V V^T");
}

TEST(GfCf, TopKSubspaceIsExactWhenTheSamplesSpanTheRank) {
  const Interactions x = random_interactions(40, 30, 0.3, 7);
  const Reference ref(x);
  const Eigen e = jacobi(ref.gram());
  ASSERT_GT(e.values[7] - e.values[8], 1e-3);  // the top-8 subspace is well defined
  // l = 8 + 64, clamped to 29: the whole row space.
  const GfCfModel m = train_gf_cf(x, config_with(8));
  ASSERT_EQ(m.item_vectors.cols(), 8);
  expect_near(model_projector(m, ref, 0.3), projector(e, 8), 1e-5, "V V^T");
}

TEST(GfCf, RandomizedSvdFindsTheDominantSubspace) {
  // 4 groups: 4 singular values far above the others; l = 4 + 8 of 149.
  const Interactions x = grouped_interactions(200, 150, 4, 11);
  const Reference ref(x);
  const Eigen e = jacobi(ref.gram());
  ASSERT_NEAR(e.values[0], 1.0, 1e-9);  // the normalised graph's top singular value
  ASSERT_GT(e.values[3], 2 * e.values[4]);
  GfCfConfig c = config_with(4, 8);
  for (int power : {1, 2}) {
    c.power_iterations = power;
    const GfCfModel m = train_gf_cf(x, c);
    expect_near(model_projector(m, ref, 0.3), projector(e, 4), power == 1 ? 3e-3 : 3e-4,
                "V V^T, power iterations " + std::to_string(power));
  }
}

TEST(GfCf, UserVectorsAreSumsOfItemQueries) {
  const Interactions x = random_interactions(40, 30, 0.3, 13);
  GfCfConfig c = config_with(10);
  c.ideal_weight = 0.7f;
  const GfCfModel m = train_gf_cf(x, c);
  const Reference ref(x);
  const CsrMatrix seen = CsrMatrix::from_interactions(x);
  for (std::int32_t u = 0; u < 40; ++u) {
    std::vector<float> sum(10, 0.0f);
    for (const auto i : seen.row(u)) {
      for (std::size_t k = 0; k < 10; ++k) sum[k] += m.item_queries.row(i)[k];
    }
    for (std::size_t k = 0; k < 10; ++k) EXPECT_FLOAT_EQ(m.user_vectors.row(u)[k], sum[k]);
  }
  // item_queries = alpha D^-1/2 V, item_vectors = D^1/2 V.
  for (std::int32_t i = 1; i < 30; ++i) {
    for (std::size_t k = 0; k < 10; ++k) {
      EXPECT_NEAR(m.item_queries.row(i)[k] * ref.item_degree[static_cast<std::size_t>(i)] / 0.7,
                  m.item_vectors.row(i)[k], 1e-5);
    }
  }
}

TEST(GfCf, ScoresAreTheFormulaOfThePaper) {
  const Interactions x = random_interactions(40, 30, 0.3, 17);
  const Reference ref(x);
  const Eigen e = jacobi(ref.gram());
  ASSERT_GT(e.values[11] - e.values[12], 1e-3);
  const float alpha = 0.3f;
  const GfCfModel m = train_gf_cf(x, config_with(12));
  // x_u R~^T R~ + alpha x_u D^-1/2 V V^T D^1/2, with V V^T the exact
  // top-12 projector.
  const Dense p = ref.gram();
  const Dense vvt = projector(e, 12);
  const CsrMatrix seen = CsrMatrix::from_interactions(x);
  std::vector<std::int32_t> rows(40);
  for (std::int32_t u = 0; u < 40; ++u) rows[static_cast<std::size_t>(u)] = u;
  const ItemTerm term{&m.item_to_item, &seen, rows, {}};
  ASSERT_TRUE(term.active());
  std::vector<float> linear(30);
  for (std::int32_t u = 0; u < 40; ++u) {
    term.term(u, 0, linear);
    for (std::size_t j = 0; j < 30; ++j) {
      double want = 0;
      for (std::size_t i = 0; i < 30; ++i) {
        if (ref.r.at(static_cast<std::size_t>(u), i) == 0) continue;
        want += p.at(i, j);
        if (ref.item_degree[j] > 0) {
          want +=
              alpha / std::sqrt(ref.item_degree[i]) * vvt.at(i, j) * std::sqrt(ref.item_degree[j]);
        }
      }
      double ideal = 0;
      for (std::int64_t c = 0; c < 12; ++c) {
        ideal += static_cast<double>(m.user_vectors.row(u)[static_cast<std::size_t>(c)]) *
                 m.item_vectors.row(static_cast<std::int64_t>(j))[static_cast<std::size_t>(c)];
      }
      EXPECT_NEAR(linear[j] + ideal, want, 1e-4) << "user " << u << " item " << j;
    }
  }
}

TEST(GfCf, SameModelForEveryThreadCountAndSeed) {
  // Enough work that 2 and 3 threads run (small problems run on one), and
  // enough items for several blocks of every parallel loop (P's rows, the
  // double-precision Gram matrix, the final product).
  const Interactions x = random_interactions(300, 9000, 0.004, 19);
  GfCfConfig c = config_with(16, 16);
  c.threads = 1;
  const GfCfModel one = train_gf_cf(x, c);
  c.threads = 2;
  const GfCfModel two = train_gf_cf(x, c);
  EXPECT_EQ(one.item_to_item, two.item_to_item);
  EXPECT_EQ(one.item_vectors, two.item_vectors);
  EXPECT_EQ(one.item_queries, two.item_queries);
  EXPECT_EQ(one.user_vectors, two.user_vectors);
  c.threads = 3;
  EXPECT_EQ(train_gf_cf(x, c).item_vectors, one.item_vectors);
  c.seed = 43;
  const GfCfModel other = train_gf_cf(x, c);
  EXPECT_EQ(other.item_to_item, one.item_to_item);
  EXPECT_NE(other.item_vectors, one.item_vectors);  // l = 32 of a rank near 299
}

TEST(GfCf, RowsWithoutPairsAreZeroAndFinite) {
  Interactions x = random_interactions(40, 30, 0.3, 23);
  // No pairs for items 5 and 17 nor for user 7.
  Interactions kept;
  kept.num_users = x.num_users;
  kept.num_items = x.num_items;
  for (std::size_t k = 0; k < x.size(); ++k) {
    if (x.items[k] == 5 || x.items[k] == 17 || x.users[k] == 7) continue;
    kept.users.push_back(x.users[k]);
    kept.items.push_back(x.items[k]);
  }
  const Reference ref(kept);
  const Eigen e = jacobi(ref.gram());
  ASSERT_EQ(rank_of(e), 27u);
  const GfCfModel m = train_gf_cf(kept, config_with(256));
  ASSERT_EQ(m.item_vectors.cols(), 29);  // clamped by the vocabularies, not the rank
  for (const Matrix* mat : {&m.item_vectors, &m.item_queries, &m.user_vectors}) {
    for (float v : mat->values()) ASSERT_TRUE(std::isfinite(v));
  }
  for (std::int32_t i : {0, 5, 17}) {
    for (float v : m.item_vectors.row(i)) EXPECT_EQ(v, 0.0f) << "item " << i;
    for (float v : m.item_queries.row(i)) EXPECT_EQ(v, 0.0f) << "item " << i;
    EXPECT_EQ(m.item_to_item.indptr()[static_cast<std::size_t>(i)],
              m.item_to_item.indptr()[static_cast<std::size_t>(i) + 1]);
  }
  for (std::int32_t u : {0, 7}) {
    for (float v : m.user_vectors.row(u)) EXPECT_EQ(v, 0.0f) << "user " << u;
  }
  for (float v : m.item_to_item.values()) ASSERT_TRUE(std::isfinite(v));
  // The two components beyond the rank are zero columns, not noise, and
  // the rest span the row space.
  for (std::int64_t i = 0; i < 30; ++i) {
    EXPECT_EQ(m.item_vectors.row(i)[27], 0.0f);
    EXPECT_EQ(m.item_vectors.row(i)[28], 0.0f);
  }
  expect_near(model_projector(m, ref, 0.3), projector(e, 27), 1e-5, "V V^T");
  expect_near(dense_of(m.item_to_item), ref.gram(), 1e-7, "P");
}

TEST(GfCf, OnePairAndTinyVocabularies) {
  Interactions x;
  x.num_users = 2;
  x.num_items = 2;
  x.users = {1};
  x.items = {1};
  const GfCfModel m = train_gf_cf(x, GfCfConfig{});
  ASSERT_EQ(m.item_vectors.cols(), 1);
  EXPECT_EQ(m.item_to_item.nnz(), 1);
  EXPECT_FLOAT_EQ(m.item_to_item.values()[0], 1.0f);
  EXPECT_NEAR(std::abs(m.item_vectors.row(1)[0]), 1.0f, 1e-6);
  EXPECT_NEAR(m.user_vectors.row(1)[0] * m.item_vectors.row(1)[0], 0.5f, 1e-6);  // alpha
}

TEST(GfCf, LearnsTheTwoGroups) {
  const Dataset d = test::tiny_dataset();
  const GfCfModel m = train_gf_cf(d.interactions, GfCfConfig{});
  const CsrMatrix seen = CsrMatrix::from_interactions(d.interactions);
  const auto n = static_cast<std::size_t>(d.items.size());
  std::vector<float> linear(n);
  for (std::int32_t u = 1; u < d.users.size(); ++u) {
    m.item_to_item.term(seen.row(u), {}, 0, linear);
    const int group = test::user_group(d.users.id(u));
    float worst_own = INFINITY, best_other = -INFINITY;
    for (std::int32_t i = 1; i < d.items.size(); ++i) {
      float s = linear[static_cast<std::size_t>(i)];
      for (std::int64_t c = 0; c < m.item_vectors.cols(); ++c) {
        s += m.user_vectors.row(u)[static_cast<std::size_t>(c)] *
             m.item_vectors.row(i)[static_cast<std::size_t>(c)];
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

TEST(GfCf, RejectsPairsOutsideTheVocabularies) {
  Dataset d = test::tiny_dataset();
  d.interactions.items[3] = 0;
  test::expect_error([&] { train_gf_cf(d.interactions, GfCfConfig{}); }, ErrorKind::InvalidArgument,
                     {});
  d = test::tiny_dataset();
  d.interactions.users[2] = d.interactions.num_users;
  EXPECT_THROW(train_gf_cf(d.interactions, GfCfConfig{}), Error);
  Interactions empty;
  empty.num_users = 3;
  empty.num_items = 3;
  EXPECT_THROW(train_gf_cf(empty, GfCfConfig{}), Error);
}

// ---- Gowalla (NGCF's split), by hand: not part of the suite ---------------------------------

// The training file's lines "user item item ..." (ids from 0) as pairs on
// rows id + 1.
Interactions read_gowalla_train(const std::filesystem::path& path) {
  gzFile f = gzopen(path.c_str(), "rb");
  EXPECT_NE(f, nullptr) << path;
  std::string text;
  char buffer[1 << 16];
  for (int n; (n = gzread(f, buffer, sizeof buffer)) > 0;) text.append(buffer, buffer + n);
  gzclose(f);
  Interactions x;
  std::size_t pos = 0;
  while (pos < text.size()) {
    const std::size_t end = std::min(text.find('\n', pos), text.size());
    const char* p = text.data() + pos;
    char* next = nullptr;
    const long user = std::strtol(p, &next, 10);
    for (p = next; p < text.data() + end;) {
      const long item = std::strtol(p, &next, 10);
      if (next == p) break;
      x.users.push_back(static_cast<std::int32_t>(user + 1));
      x.items.push_back(static_cast<std::int32_t>(item + 1));
      x.num_items = std::max(x.num_items, static_cast<std::int32_t>(item + 2));
      p = next;
    }
    x.num_users = std::max(x.num_users, static_cast<std::int32_t>(user + 2));
    pos = end + 1;
  }
  return x;
}

// Recall@20 over every test user of Gowalla: the hits among the top 20
// unseen items by the full score, over the user's test items.
double recall_at_20(const GfCfModel& m, const Interactions& train, const Interactions& test) {
  const CsrMatrix seen = CsrMatrix::from_interactions(train);
  const CsrMatrix wanted = CsrMatrix::from_interactions(test);
  const std::int64_t n = m.item_vectors.rows(), k = m.item_vectors.cols();
  constexpr std::int64_t kBlock = 512;
  std::vector<float> scores(static_cast<std::size_t>(kBlock * n));
  double recall = 0;
  std::int64_t users = 0;
  for (std::int64_t u0 = 1; u0 < wanted.rows(); u0 += kBlock) {
    const std::int64_t count = std::min<std::int64_t>(kBlock, wanted.rows() - u0);
    detail::sgemm_nt(count, n, k, m.user_vectors.row(u0).data(), k, m.item_vectors.data(), k,
                     scores.data(), n);
#pragma omp parallel for reduction(+ : recall, users) schedule(dynamic, 8)
    for (std::int64_t b = 0; b < count; ++b) {
      const auto u = static_cast<std::int32_t>(u0 + b);
      if (wanted.row(u).empty()) continue;
      std::span<float> row(scores.data() + b * n, static_cast<std::size_t>(n));
      std::vector<float> linear(static_cast<std::size_t>(n));
      m.item_to_item.term(seen.row(u), {}, 0, linear);
      for (std::size_t j = 0; j < row.size(); ++j) row[j] += linear[j];
      row[0] = -INFINITY;
      for (const auto i : seen.row(u)) row[static_cast<std::size_t>(i)] = -INFINITY;
      std::vector<std::int32_t> order(static_cast<std::size_t>(n));
      for (std::int32_t j = 0; j < n; ++j) order[static_cast<std::size_t>(j)] = j;
      std::nth_element(order.begin(), order.begin() + 20, order.end(),
                       [&](std::int32_t x, std::int32_t y) {
                         return row[static_cast<std::size_t>(x)] > row[static_cast<std::size_t>(y)];
                       });
      int hits = 0;
      for (std::size_t r = 0; r < 20; ++r) {
        hits += std::binary_search(wanted.row(u).begin(), wanted.row(u).end(), order[r]);
      }
      recall += static_cast<double>(hits) / static_cast<double>(wanted.row(u).size());
      ++users;
    }
  }
  return recall / static_cast<double>(users);
}

// Times the defaults on Gowalla's training pairs and ranks its test pairs
// (the paper: Recall@20 0.1849). Run by hand:
//   latent_unit_tests --gtest_also_run_disabled_tests --gtest_filter='GfCfGowalla.*'
TEST(GfCfGowalla, DISABLED_TrainsWithTheDefaults) {
  LATENT_REQUIRE_GOWALLA();
  const Interactions x = read_gowalla_train(test::gowalla_dir() / "train.txt.gz");
  ASSERT_EQ(x.size(), 810128u);
  const auto t0 = std::chrono::steady_clock::now();
  const GfCfModel m = train_gf_cf(x, GfCfConfig{});
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("GF-CF on Gowalla (%d users, %d items, %zu pairs): %.2f s, P %lld non-zeros\n",
              x.num_users - 1, x.num_items - 1, x.size(), seconds,
              static_cast<long long>(m.item_to_item.nnz()));
  EXPECT_EQ(m.item_vectors.cols(), 256);
  Interactions test = read_gowalla_train(test::gowalla_dir() / "test.txt.gz");
  ASSERT_EQ(test.size(), 217242u);
  test.num_users = x.num_users;
  test.num_items = x.num_items;
  const double recall = recall_at_20(m, x, test);
  std::printf("Recall@20 over all test users: %.4f\n", recall);
  EXPECT_GT(recall, 0.18);
}

}  // namespace
}  // namespace latent
