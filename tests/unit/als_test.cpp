#include <latent/als.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <latent/error.hpp>
#include <latent/index.hpp>
#include <latent/random.hpp>

#include "fixtures/tiny_dataset.hpp"
#include "test_support.hpp"

namespace latent {
namespace {

// Settings for the tiny problems below (the defaults are tuned for real data
// sets, whose regularization would flatten a 30-user fixture to zero).
AlsConfig small_config(AlsSolver solver = AlsSolver::Cholesky) {
  AlsConfig c;
  c.dim = 8;
  c.regularization = 2.0f;
  c.alpha = 4.0f;
  c.epochs = 10;
  c.solver = solver;
  c.threads = 2;
  c.seed = 5;
  return c;
}

// A random problem with duplicate pairs, weights (some zero) and a user and
// an item without interactions (the last rows).
Interactions random_problem(std::uint64_t seed, bool weighted = true, int pairs = 360,
                            std::int32_t users = 40, std::int32_t items = 30) {
  Rng rng(seed);
  Interactions x;
  x.num_users = users + 1;
  x.num_items = items + 1;
  for (int k = 0; k < pairs; ++k) {
    x.users.push_back(1 +
                      static_cast<std::int32_t>(rng.below(static_cast<std::uint64_t>(users - 1))));
    // Popular low items, as in real data.
    const auto a = rng.below(static_cast<std::uint64_t>(items - 1));
    const auto b = rng.below(static_cast<std::uint64_t>(items - 1));
    x.items.push_back(1 + static_cast<std::int32_t>(std::min(a, b)));
    if (weighted) x.weights.push_back(rng.below(5) == 0 ? 0.0f : 0.5f + 2.0f * rng.uniform());
  }
  return x;
}

std::string message_of(const AlsConfig& c) { return test::validation_message(c); }

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

// Summed r of every (row, col) pair of the interactions, seen from one side.
std::vector<std::vector<std::pair<std::int32_t, double>>> summed_rows(const Interactions& x,
                                                                      bool by_user) {
  std::vector<std::vector<std::pair<std::int32_t, double>>> rows(
      static_cast<std::size_t>(by_user ? x.num_users : x.num_items));
  for (std::size_t k = 0; k < x.size(); ++k) {
    const auto row = by_user ? x.users[k] : x.items[k];
    const auto col = by_user ? x.items[k] : x.users[k];
    const double r = x.weights.empty() ? 1.0 : x.weights[k];
    auto& v = rows[static_cast<std::size_t>(row)];
    auto it = std::find_if(v.begin(), v.end(), [&](const auto& e) { return e.first == col; });
    if (it == v.end()) {
      v.emplace_back(col, r);
    } else {
      it->second += r;
    }
  }
  return rows;
}

// Brute force: the normal equations (Y^T C Y + reg I) x = Y^T C p of one row
// built in double over every column (not through Y^T Y), solved by Gaussian
// elimination with partial pivoting.
std::vector<double> oracle_solve(const Matrix& y,
                                 const std::vector<std::pair<std::int32_t, double>>& row,
                                 double reg, double alpha) {
  const auto d = static_cast<std::size_t>(y.cols());
  std::vector<double> c(static_cast<std::size_t>(y.rows()), 1.0), p(c.size(), 0.0);
  for (const auto& [col, r] : row) {
    if (r > 0) {
      c[static_cast<std::size_t>(col)] = 1.0 + alpha * r;
      p[static_cast<std::size_t>(col)] = 1.0;
    }
  }
  std::vector<std::vector<double>> a(d, std::vector<double>(d + 1, 0.0));
  for (std::int64_t j = 0; j < y.rows(); ++j) {
    const auto yj = y.row(j);
    for (std::size_t i = 0; i < d; ++i) {
      for (std::size_t k = 0; k < d; ++k) a[i][k] += c[static_cast<std::size_t>(j)] * yj[i] * yj[k];
      a[i][d] += c[static_cast<std::size_t>(j)] * p[static_cast<std::size_t>(j)] * yj[i];
    }
  }
  for (std::size_t i = 0; i < d; ++i) a[i][i] += reg;
  for (std::size_t col = 0; col < d; ++col) {
    std::size_t pivot = col;
    for (std::size_t i = col + 1; i < d; ++i) {
      if (std::abs(a[i][col]) > std::abs(a[pivot][col])) pivot = i;
    }
    std::swap(a[col], a[pivot]);
    for (std::size_t i = col + 1; i < d; ++i) {
      const double f = a[i][col] / a[col][col];
      for (std::size_t k = col; k <= d; ++k) a[i][k] -= f * a[col][k];
    }
  }
  std::vector<double> x(d);
  for (std::size_t i = d; i-- > 0;) {
    double s = a[i][d];
    for (std::size_t k = i + 1; k < d; ++k) s -= a[i][k] * x[k];
    x[i] = s / a[i][i];
  }
  return x;
}

// The objective of als.hpp over every non-OOV cell, in double, divided by
// the total confidence.
// Rendle et al.'s frequency-scaled regularization as als.hpp states it,
// written out independently of the library: reg * (w / sqrt(|U| |I|))^nu,
// w = (rows of the other side) + alpha * (the row's summed r).
double oracle_row_reg(const Interactions& x, double summed_r, bool user_row, double reg,
                      double alpha, double nu) {
  const double users = x.num_users - 1;
  const double items = x.num_items - 1;
  const double w = (user_row ? items : users) + alpha * summed_r;
  return reg * std::pow(w / std::sqrt(users * items), nu);
}

double summed_r_of(const std::vector<std::pair<std::int32_t, double>>& row) {
  double s = 0;
  for (const auto& [col, r] : row) s += r > 0 ? r : 0;
  return s;
}

double oracle_loss(const Matrix& users, const Matrix& items, const Interactions& x, double reg,
                   double alpha, double nu = 0) {
  const auto rows = summed_rows(x, true);
  double loss = 0, confidence = 0;
  for (std::int32_t u = 1; u < x.num_users; ++u) {
    for (std::int32_t i = 1; i < x.num_items; ++i) {
      double r = 0;
      for (const auto& [col, v] : rows[static_cast<std::size_t>(u)]) {
        if (col == i) r = v;
      }
      const double c = 1.0 + alpha * r;
      const double p = r > 0 ? 1.0 : 0.0;
      double s = 0;
      for (std::int64_t d = 0; d < users.cols(); ++d) {
        s += static_cast<double>(users.row(u)[static_cast<std::size_t>(d)]) *
             items.row(i)[static_cast<std::size_t>(d)];
      }
      loss += c * (p - s) * (p - s);
      confidence += c;
    }
  }
  const auto by_item = summed_rows(x, false);
  const auto norms = [&](const Matrix& f, bool user_rows) {
    double total = 0;
    for (std::int64_t row = 1; row < f.rows(); ++row) {
      double sq = 0;
      for (float v : f.row(row)) sq += static_cast<double>(v) * v;
      const auto& entries = (user_rows ? rows : by_item)[static_cast<std::size_t>(row)];
      total += oracle_row_reg(x, summed_r_of(entries), user_rows, reg, alpha, nu) * sq;
    }
    return total;
  };
  return (loss + norms(users, true) + norms(items, false)) / confidence;
}

double max_abs_diff(std::span<const float> a, std::span<const float> b) {
  double m = 0;
  for (std::size_t k = 0; k < a.size(); ++k)
    m = std::max(m, std::abs(static_cast<double>(a[k]) - b[k]));
  return m;
}

double max_abs(std::span<const float> a) {
  double m = 0;
  for (float v : a) m = std::max(m, std::abs(static_cast<double>(v)));
  return m;
}

TEST(AlsConfig, InvalidValuesAreNamed) {
  EXPECT_EQ(message_of(AlsConfig{}), "");
  AlsConfig c;
  c.dim = 0;
  EXPECT_TRUE(contains(message_of(c), "dim 0"));
  c = {};
  c.regularization = -1.5f;
  EXPECT_TRUE(contains(message_of(c), "regularization -1.5"));
  c = {};
  c.regularization = 0;
  EXPECT_TRUE(contains(message_of(c), "regularization 0"));
  c = {};
  c.regularization = NAN;
  EXPECT_TRUE(contains(message_of(c), "regularization"));
  c = {};
  c.alpha = -2;
  EXPECT_TRUE(contains(message_of(c), "alpha -2"));
  c = {};
  c.alpha = INFINITY;
  EXPECT_TRUE(contains(message_of(c), "alpha"));
  c = {};
  c.epochs = 0;
  EXPECT_TRUE(contains(message_of(c), "epochs 0"));
  c = {};
  c.cg_steps = 0;
  EXPECT_TRUE(contains(message_of(c), "cg_steps 0"));
  c = {};
  c.threads = -1;
  EXPECT_TRUE(contains(message_of(c), "threads -1"));
  c = {};
  c.regularization_exponent = -0.5f;
  EXPECT_TRUE(contains(message_of(c), "regularization_exponent -0.5 is outside [0, 1]"));
  c.regularization_exponent = 1.5f;
  EXPECT_TRUE(contains(message_of(c), "regularization_exponent 1.5"));
  c.regularization_exponent = NAN;
  EXPECT_TRUE(contains(message_of(c), "regularization_exponent nan"));
  c.regularization_exponent = 1;
  EXPECT_EQ(message_of(c), "");
  c = {};
  c.alpha = 0;  // c = 1 everywhere: plain (weighted) least squares, still valid
  EXPECT_EQ(message_of(c), "");
}

TEST(AlsConfig, SolverNamesAndJson) {
  EXPECT_EQ(parse_als_solver("cg"), AlsSolver::ConjugateGradient);
  EXPECT_EQ(parse_als_solver("cholesky"), AlsSolver::Cholesky);
  EXPECT_STREQ(to_string(AlsSolver::ConjugateGradient), "cg");
  EXPECT_STREQ(to_string(AlsSolver::Cholesky), "cholesky");
  try {
    parse_als_solver("lu");
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::InvalidArgument);
    EXPECT_TRUE(contains(e.what(), "\"lu\""));
    EXPECT_TRUE(contains(e.what(), "cg, cholesky"));
  }
  AlsConfig c;
  c.solver = AlsSolver::Cholesky;
  const auto j = c.to_json();
  EXPECT_EQ(j.at("dim"), 64);
  EXPECT_EQ(j.at("solver"), "cholesky");
  EXPECT_EQ(j.at("epochs"), 15);
  EXPECT_EQ(j.at("cg_steps"), 3);
  EXPECT_EQ(j.at("seed"), 42);
  EXPECT_EQ(j.at("regularization_exponent"), 0.0);
  EXPECT_FLOAT_EQ(j.at("regularization").get<float>(), c.regularization);
  EXPECT_FLOAT_EQ(j.at("alpha").get<float>(), c.alpha);
}

TEST(AlsTrain, BadInputIsRejectedWithTheValue) {
  const auto expect_error = [](const Interactions& x, const std::string& part) {
    try {
      train_als(x, small_config());
      ADD_FAILURE() << "no error for " << part;
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::InvalidArgument);
      EXPECT_TRUE(contains(e.what(), part)) << e.what();
    }
  };
  Interactions x;
  x.num_users = 3;
  x.num_items = 3;
  expect_error(x, "no training pairs");
  x.users = {1, 2};
  x.items = {1, 3};
  expect_error(x, "item row 3");
  x.items = {1, 0};
  expect_error(x, "item row 0");
  x.items = {1, 2};
  x.weights = {1.0f};
  expect_error(x, "1 weights for 2 training pairs");
  x.weights = {1.0f, -1.0f};
  expect_error(x, "weight -1");
  x.weights = {1.0f, NAN};
  expect_error(x, "weight nan");
  x.weights = {1.0f, 3e38f};
  x.users = {1, 1, 2};
  x.items = {1, 2, 2};
  x.weights = {1.0f, 3e38f, 3e38f};
  expect_error(x, "overflows");
  AlsConfig bad = small_config();
  bad.dim = -3;
  x.weights.clear();
  EXPECT_THROW(train_als(x, bad), Error);
}

TEST(AlsTrain, SameSeedSameFactorsForAnyThreadCount) {
  // Enough distinct pairs that training does use two threads.
  const Interactions x = random_problem(1, true, 20000, 1000, 400);
  for (const auto solver : {AlsSolver::ConjugateGradient, AlsSolver::Cholesky}) {
    auto c = small_config(solver);
    c.epochs = 2;
    c.threads = 1;
    const auto a = train_als(x, c);
    c.seed = 6;
    const auto other = train_als(x, c);
    c.seed = 5;
    c.threads = 2;
    const auto b = train_als(x, c);
    EXPECT_EQ(a.user_factors, b.user_factors);
    EXPECT_EQ(a.item_factors, b.item_factors);
    EXPECT_NE(a.item_factors, other.item_factors);
    EXPECT_EQ(a.user_factors.rows(), 1001);
    EXPECT_EQ(a.item_factors.rows(), 401);
    EXPECT_EQ(a.item_factors.cols(), 8);
  }
}

TEST(AlsTrain, OovRowsAndRowsWithoutPairsAreZero) {
  const Interactions x = random_problem(2);
  for (const auto solver : {AlsSolver::ConjugateGradient, AlsSolver::Cholesky}) {
    const auto res = train_als(x, small_config(solver));
    for (float v : res.user_factors.row(0)) EXPECT_EQ(v, 0.0f);
    for (float v : res.item_factors.row(0)) EXPECT_EQ(v, 0.0f);
    for (float v : res.user_factors.row(40)) EXPECT_EQ(v, 0.0f);
    for (float v : res.item_factors.row(30)) EXPECT_EQ(v, 0.0f);
    EXPECT_GT(max_abs(res.user_factors.row(1)), 0.0);
  }
}

TEST(AlsTrain, LossFallsForBothSolversAndMatchesTheBruteForceObjective) {
  const Interactions x = random_problem(3);
  for (const auto solver : {AlsSolver::ConjugateGradient, AlsSolver::Cholesky}) {
    auto c = small_config(solver);
    c.dim = solver == AlsSolver::Cholesky ? 8 : 20;
    c.compute_loss = true;
    c.epochs = 12;
    std::vector<int> seen_iterations;
    std::vector<double> seen_losses;
    const auto res = train_als(x, c, [&](int iteration, double seconds, double loss) {
      seen_iterations.push_back(iteration);
      seen_losses.push_back(loss);
      EXPECT_GE(seconds, 0.0);
    });
    ASSERT_EQ(res.loss.size(), 12u);
    ASSERT_EQ(res.seconds.size(), 12u);
    EXPECT_EQ(seen_iterations, (std::vector<int>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}));
    EXPECT_EQ(seen_losses, res.loss);
    // Exact alternating minimisation never increases the objective; three
    // warm-started CG steps almost never do.
    const double slack = solver == AlsSolver::Cholesky ? 1e-6 : 1e-3;
    for (std::size_t k = 1; k < res.loss.size(); ++k) {
      EXPECT_LE(res.loss[k], res.loss[k - 1] * (1 + slack)) << to_string(solver) << " " << k;
    }
    EXPECT_LT(res.loss.back(), 0.8 * res.loss.front());
    EXPECT_NEAR(res.loss.back(),
                oracle_loss(res.user_factors, res.item_factors, x, c.regularization, c.alpha),
                1e-5 * res.loss.back());
  }
  // Without compute_loss: no losses, NaN in the callback, times all the same.
  auto c = small_config();
  int calls = 0;
  const auto res = train_als(x, c, [&](int, double, double loss) {
    ++calls;
    EXPECT_TRUE(std::isnan(loss));
  });
  EXPECT_EQ(calls, c.epochs);
  EXPECT_TRUE(res.loss.empty());
  EXPECT_EQ(res.seconds.size(), static_cast<std::size_t>(c.epochs));
}

TEST(AlsTrain, RowsEqualTheBruteForceNormalEquationsForEveryWidth) {
  // The last half-iteration solves every item given the returned user
  // factors, so each item row must be the oracle's answer: exactly for
  // Cholesky, and for CG with more steps than dimensions. The widths cover
  // the kernels' register-resident sizes (16, 48, 64), padded rows (5, 20)
  // and rows wider than the fixed kernels (80).
  const Interactions x = random_problem(4);
  const auto by_item = summed_rows(x, false);
  for (const int dim : {5, 16, 20, 48, 64, 80}) {
    for (const auto solver : {AlsSolver::Cholesky, AlsSolver::ConjugateGradient}) {
      auto c = small_config(solver);
      c.dim = dim;
      c.epochs = 2;
      c.cg_steps = dim + 20;
      const auto res = train_als(x, c);
      const double tolerance = solver == AlsSolver::Cholesky ? 1e-4 : 1e-3;
      for (std::int32_t item : {1, 2, 7, 28}) {
        const auto want = oracle_solve(res.user_factors, by_item[static_cast<std::size_t>(item)],
                                       c.regularization, c.alpha);
        const auto got = res.item_factors.row(item);
        double worst = 0, scale = 1;
        for (std::size_t d = 0; d < want.size(); ++d) {
          worst = std::max(worst, std::abs(got[d] - want[d]));
          scale = std::max(scale, std::abs(want[d]));
        }
        EXPECT_LT(worst, tolerance * scale)
            << to_string(solver) << " dim " << dim << " item " << item;
      }
    }
  }
}

TEST(AlsTrain, FrequencyScaledRowsEqualTheBruteForceNormalEquations) {
  // With nu > 0 each row has its own regularization (Rendle et al. 2021):
  // the last half-iteration's item rows must solve the oracle's normal
  // equations with that row's value, and not with the plain one. Weighted
  // and unweighted data, both solvers, a register-resident and a padded width.
  for (const bool weighted : {true, false}) {
    const Interactions x = random_problem(4, weighted);
    const auto by_item = summed_rows(x, false);
    for (const double nu : {0.5, 1.0}) {
      for (const int dim : {16, 20}) {
        for (const auto solver : {AlsSolver::Cholesky, AlsSolver::ConjugateGradient}) {
          auto c = small_config(solver);
          c.dim = dim;
          c.epochs = 2;
          c.cg_steps = dim + 20;
          c.regularization_exponent = static_cast<float>(nu);
          const auto res = train_als(x, c);
          const double tolerance = solver == AlsSolver::Cholesky ? 1e-4 : 1e-3;
          for (std::int32_t item : {1, 2, 7, 20}) {
            const auto& entries = by_item[static_cast<std::size_t>(item)];
            const double reg =
                oracle_row_reg(x, summed_r_of(entries), false, c.regularization, c.alpha, nu);
            const auto want = oracle_solve(res.user_factors, entries, reg, c.alpha);
            const auto plain = oracle_solve(res.user_factors, entries, c.regularization, c.alpha);
            const auto got = res.item_factors.row(item);
            double worst = 0, from_plain = 0, scale = 1;
            for (std::size_t d = 0; d < want.size(); ++d) {
              worst = std::max(worst, std::abs(got[d] - want[d]));
              from_plain = std::max(from_plain, std::abs(got[d] - plain[d]));
              scale = std::max(scale, std::abs(want[d]));
            }
            const auto where = fmt::format("{} weighted {} nu {} dim {} item {} (reg {})",
                                           to_string(solver), weighted, nu, dim, item, reg);
            EXPECT_LT(worst, tolerance * scale) << where;
            EXPECT_GT(from_plain, 10 * tolerance * scale) << where;
          }
        }
      }
    }
  }
}

TEST(AlsTrain, FrequencyScaledLossMatchesTheBruteForceObjective) {
  const Interactions x = random_problem(3);
  for (const auto solver : {AlsSolver::ConjugateGradient, AlsSolver::Cholesky}) {
    auto c = small_config(solver);
    c.compute_loss = true;
    c.regularization_exponent = 1.0f;
    const auto res = train_als(x, c);
    const double slack = solver == AlsSolver::Cholesky ? 1e-6 : 1e-3;
    for (std::size_t k = 1; k < res.loss.size(); ++k) {
      EXPECT_LE(res.loss[k], res.loss[k - 1] * (1 + slack)) << to_string(solver) << " " << k;
    }
    EXPECT_NEAR(res.loss.back(),
                oracle_loss(res.user_factors, res.item_factors, x, c.regularization, c.alpha, 1.0),
                1e-5 * res.loss.back());
  }
}

TEST(AlsTrain, ExponentZeroIsThePlainModelBitForBit) {
  // nu = 0 must leave the plain model exactly as it was: the golden tests
  // pin its figures; here, an explicit 0 equals the default, and a tiny nu
  // (same regularization to 1e-6, but through the per-row path) differs
  // only in rounding.
  const Interactions x = random_problem(9, true, 2000, 200, 100);
  for (const auto solver : {AlsSolver::ConjugateGradient, AlsSolver::Cholesky}) {
    auto c = small_config(solver);
    const auto plain = train_als(x, c);
    c.regularization_exponent = 0.0f;
    const auto zero = train_als(x, c);
    EXPECT_EQ(plain.user_factors, zero.user_factors);
    EXPECT_EQ(plain.item_factors, zero.item_factors);
    c.regularization_exponent = 1e-7f;
    const auto tiny = train_als(x, c);
    EXPECT_LT(max_abs_diff(tiny.item_factors.values(), plain.item_factors.values()),
              1e-3 * max_abs(plain.item_factors.values()));
  }
}

TEST(AlsRowRegularization, FollowsTheFormulaAndRejectsOverflow) {
  AlsConfig c;
  c.regularization = 3.0f;
  c.alpha = 10.0f;
  EXPECT_EQ(als_row_regularization(c, 1e30, 5, 100, 400), 3.0f);  // nu = 0: untouched
  c.regularization_exponent = 1.0f;
  // A user with 6 items among 400, of 100 users: w = 400 + 60, scale 200.
  EXPECT_FLOAT_EQ(als_row_regularization(c, 6, 400, 100, 400), 3.0f * 460.0f / 200.0f);
  c.regularization_exponent = 0.5f;
  EXPECT_FLOAT_EQ(als_row_regularization(c, 6, 400, 100, 400), 3.0f * std::sqrt(2.3f));
  c.regularization_exponent = 1.0f;
  c.regularization = 3e38f;
  try {
    als_row_regularization(c, 6, 400, 100, 400);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::InvalidArgument);
    EXPECT_TRUE(contains(e.what(), "not a positive float")) << e.what();
  }
}

TEST(AlsTrain, CgWithManyStepsConvergesToCholesky) {
  const Interactions x = random_problem(5);
  auto c = small_config(AlsSolver::Cholesky);
  c.epochs = 4;
  const auto exact = train_als(x, c);
  c.solver = AlsSolver::ConjugateGradient;
  c.cg_steps = 40;
  const auto cg = train_als(x, c);
  EXPECT_LT(max_abs_diff(cg.user_factors.values(), exact.user_factors.values()),
            1e-3 * max_abs(exact.user_factors.values()));
  EXPECT_LT(max_abs_diff(cg.item_factors.values(), exact.item_factors.values()),
            1e-3 * max_abs(exact.item_factors.values()));
}

TEST(AlsTrain, DefaultCgAndCholeskyAgreeOnATinyProblem) {
  // Three CG steps per half-iteration (the default) reach the same model:
  // compare the rotation-free part, the predicted scores.
  const Dataset d = test::tiny_dataset();
  auto c = small_config(AlsSolver::Cholesky);
  c.dim = 4;
  c.regularization = 5.0f;
  c.epochs = 25;
  c.compute_loss = true;
  const auto exact = train_als(d.interactions, c);
  c.solver = AlsSolver::ConjugateGradient;
  const auto cg = train_als(d.interactions, c);
  EXPECT_NEAR(cg.loss.back(), exact.loss.back(), 1e-4 * exact.loss.back());
  double worst = 0;
  for (std::int32_t u = 1; u < d.interactions.num_users; ++u) {
    for (std::int32_t i = 1; i < d.interactions.num_items; ++i) {
      double a = 0, b = 0;
      for (std::size_t k = 0; k < 4; ++k) {
        a += static_cast<double>(exact.user_factors.row(u)[k]) * exact.item_factors.row(i)[k];
        b += static_cast<double>(cg.user_factors.row(u)[k]) * cg.item_factors.row(i)[k];
      }
      worst = std::max(worst, std::abs(a - b));
    }
  }
  EXPECT_LT(worst, 0.005);
}

TEST(AlsTrain, DuplicatePairsAddTheirWeightAndZeroWeightIsUnobserved) {
  Interactions base = random_problem(6, false);
  base.weights.assign(base.size(), 1.0f);
  // Pair 0 twice == pair 0 with r = 2; an extra pair with r = 0 == absent.
  Interactions dup = base;
  dup.users.push_back(base.users[0]);
  dup.items.push_back(base.items[0]);
  dup.weights.push_back(1.0f);
  dup.users.push_back(3);
  dup.items.push_back(30);  // item 30 has no other pair
  dup.weights.push_back(0.0f);
  Interactions doubled = base;
  doubled.weights[0] = 2.0f;
  const auto c = small_config();
  const auto a = train_als(dup, c);
  const auto b = train_als(doubled, c);
  EXPECT_EQ(a.user_factors, b.user_factors);
  EXPECT_EQ(a.item_factors, b.item_factors);
  for (float v : a.item_factors.row(30)) EXPECT_EQ(v, 0.0f);
  // No weights at all == all weights 1.
  Interactions unweighted = base;
  unweighted.weights.clear();
  EXPECT_EQ(train_als(unweighted, c).item_factors, train_als(base, c).item_factors);
}

TEST(AlsFoldIn, ReproducesTrainedRows) {
  const Interactions x = random_problem(7);
  auto c = small_config();
  c.epochs = 200;  // this problem leaves a plateau only after ~100 iterations
  c.threads = 1;
  const auto res = train_als(x, c);
  // Exact: the last half-iteration solved the items given the final users,
  // so folding an item in from its users gives its trained row.
  // Folds rows of one side in from the other side's factors and compares
  // them with the trained rows.
  const auto expect_fold_in_gives = [&](const Matrix& from, const Matrix& trained, bool by_user,
                                        std::initializer_list<std::int32_t> rows) {
    const Matrix gramian = als_gramian(from);
    const auto entries = summed_rows(x, by_user);
    for (std::int32_t row : rows) {
      std::vector<std::int32_t> cols;
      std::vector<float> r;
      for (const auto& [col, v] : entries[static_cast<std::size_t>(row)]) {
        cols.push_back(col);
        r.push_back(static_cast<float>(v));
      }
      const auto got = als_fold_in(from, gramian, cols, r, c.regularization, c.alpha);
      EXPECT_LT(max_abs_diff(got, trained.row(row)), 1e-4 * (1 + max_abs(trained.row(row))))
          << (by_user ? "user " : "item ") << row;
    }
  };
  expect_fold_in_gives(res.user_factors, res.item_factors, false, {1, 5, 20});
  // After convergence, a user folded in from their items gets (nearly) the
  // row training gave them.
  expect_fold_in_gives(res.item_factors, res.user_factors, true, {1, 9, 33});
}

TEST(AlsFoldIn, FrequencyScaledRowsNeedTheirOwnRegularization) {
  const Interactions x = random_problem(7);
  auto c = small_config();
  c.epochs = 200;
  c.threads = 1;
  c.regularization_exponent = 1.0f;
  const auto res = train_als(x, c);
  const Matrix gramian = als_gramian(res.user_factors);
  const auto entries = summed_rows(x, false);
  for (std::int32_t item : {1, 5, 20}) {
    std::vector<std::int32_t> cols;
    std::vector<float> r;
    double summed = 0;
    for (const auto& [col, v] : entries[static_cast<std::size_t>(item)]) {
      cols.push_back(col);
      r.push_back(static_cast<float>(v));
      summed += v;
    }
    const float reg =
        als_row_regularization(c, summed, x.num_users - 1, x.num_users - 1, x.num_items - 1);
    const auto got = als_fold_in(res.user_factors, gramian, cols, r, reg, c.alpha);
    const auto trained = res.item_factors.row(item);
    EXPECT_LT(max_abs_diff(got, trained), 1e-4 * (1 + max_abs(trained))) << "item " << item;
    const auto plain = als_fold_in(res.user_factors, gramian, cols, r, c.regularization, c.alpha);
    EXPECT_GT(max_abs_diff(plain, trained), 1e-2 * max_abs(trained)) << "item " << item;
  }
}

TEST(AlsFoldIn, RepeatsAddUpOovIsIgnoredEmptyMeansOnes) {
  const Dataset d = test::tiny_dataset();
  const auto res = train_als(d.interactions, small_config());
  const Matrix yty = als_gramian(res.item_factors);
  const std::vector<std::int32_t> once{3, 5};
  const std::vector<float> twice_r{2.0f, 1.0f};
  const std::vector<std::int32_t> repeated{0, 3, 5, 3};
  const std::vector<float> ones{1.0f, 1.0f, 1.0f, 1.0f};
  const auto a = als_fold_in(res.item_factors, yty, once, twice_r, 0.5f, 4.0f);
  const auto b = als_fold_in(res.item_factors, yty, repeated, ones, 0.5f, 4.0f);
  EXPECT_LT(max_abs_diff(a, b), 1e-6);
  const auto c = als_fold_in(res.item_factors, yty, repeated, {}, 0.5f, 4.0f);
  EXPECT_EQ(b, c);
  // No items: zero.
  const auto none = als_fold_in(res.item_factors, yty, {}, {}, 0.5f, 4.0f);
  EXPECT_EQ(none, std::vector<float>(8, 0.0f));
}

TEST(AlsFoldIn, BadInputIsRejected) {
  const Dataset d = test::tiny_dataset();
  const auto res = train_als(d.interactions, small_config());
  const Matrix yty = als_gramian(res.item_factors);
  const std::vector<std::int32_t> items{1, 2};
  const std::vector<float> r{1.0f, 1.0f};
  const auto expect_error = [&](const Matrix& g, std::span<const std::int32_t> i,
                                std::span<const float> v, float reg, float alpha,
                                const std::string& part) {
    try {
      als_fold_in(res.item_factors, g, i, v, reg, alpha);
      ADD_FAILURE() << "no error for " << part;
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::InvalidArgument);
      EXPECT_TRUE(contains(e.what(), part)) << e.what();
    }
  };
  expect_error(Matrix(7, 8), items, r, 1, 1, "yty is 7 x 8");
  const std::vector<std::int32_t> far{1, 21};
  expect_error(yty, far, r, 1, 1, "item row 21");
  const std::vector<float> one_r{1.0f};
  expect_error(yty, items, one_r, 1, 1, "1 r values for 2 items");
  const std::vector<float> negative{1.0f, -3.0f};
  expect_error(yty, items, negative, 1, 1, "r -3");
  expect_error(yty, items, r, 0, 1, "regularization 0");
  expect_error(yty, items, r, 1, -1, "alpha -1");
  Matrix not_gram(8, 8);
  for (std::int64_t k = 0; k < 8; ++k) not_gram.data()[k * 9] = -100.0f;
  expect_error(not_gram, items, r, 1, 1, "not positive definite");
}

TEST(AlsGramian, EqualsBruteForce) {
  const auto res = train_als(random_problem(8), small_config());
  const Matrix g = als_gramian(res.item_factors);
  ASSERT_EQ(g.rows(), 8);
  ASSERT_EQ(g.cols(), 8);
  for (std::int64_t a = 0; a < 8; ++a) {
    for (std::int64_t b = 0; b < 8; ++b) {
      double s = 0;
      for (std::int64_t r = 0; r < res.item_factors.rows(); ++r) {
        s += static_cast<double>(res.item_factors.row(r)[static_cast<std::size_t>(a)]) *
             res.item_factors.row(r)[static_cast<std::size_t>(b)];
      }
      EXPECT_NEAR(g.row(a)[static_cast<std::size_t>(b)], s, 1e-5 * (1 + std::abs(s)));
    }
  }
}

TEST(AlsTrain, LearnsTheTwoGroupsOfTheTinyDataset) {
  const Dataset d = test::tiny_dataset();
  for (const auto solver : {AlsSolver::ConjugateGradient, AlsSolver::Cholesky}) {
    const auto res = train_als(d.interactions, small_config(solver));
    // Each user saw 6 of their group's 10 items: the 4 others must be the
    // top 4 of what is left.
    const CsrMatrix seen = CsrMatrix::from_interactions(d.interactions);
    std::vector<std::int32_t> users;
    for (std::int32_t u = 1; u < d.users.size(); ++u) users.push_back(u);
    Matrix queries(static_cast<std::int64_t>(users.size()), 8);
    for (std::size_t q = 0; q < users.size(); ++q) {
      std::copy_n(res.user_factors.row(users[q]).data(), 8,
                  queries.row(static_cast<std::int64_t>(q)).data());
    }
    const std::vector<std::int32_t> oov{0};
    SearchOptions o;
    o.k = 4;
    o.exclude_items = oov;
    o.exclude_rows = &seen;
    o.exclude_row_of = users;
    o.threads = 1;
    const TopK top = top_k(queries, res.item_factors, o);
    for (std::size_t q = 0; q < users.size(); ++q) {
      const int group = test::user_group(d.users.id(users[q]));
      for (int k = 0; k < 4; ++k) {
        const auto item = top.items[q * 4 + static_cast<std::size_t>(k)];
        ASSERT_GT(item, 0);
        EXPECT_EQ(test::item_group(d.items.id(item)), group)
            << to_string(solver) << " user " << d.users.id(users[q]);
      }
    }
  }
}

}  // namespace
}  // namespace latent
