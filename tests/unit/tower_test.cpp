#include <latent/error.hpp>
#include <latent/tower.hpp>

#include <cmath>
#include <functional>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

namespace latent {
namespace {

// Two feature columns of 3 and 4 rows; four entities.
FeatureRows small_features() {
  FeatureRows f;
  const std::vector<std::vector<std::pair<std::int32_t, float>>> rows = {
      {{1, 1.0f}, {4, 0.5f}, {5, 0.5f}},
      {{0, 1.0f}, {3, 1.0f}},
      {{2, 1.0f}, {6, -0.7f}},
      {{1, 1.0f}, {3, 0.25f}, {6, 0.75f}}};
  for (const auto& r : rows) {
    for (const auto& [i, w] : r) {
      f.index.push_back(i);
      f.weight.push_back(w);
    }
    f.indptr.push_back(static_cast<std::int64_t>(f.index.size()));
  }
  return f;
}

TowerShape shape_with(std::vector<std::int32_t> layers) {
  TowerShape s;
  s.id_rows = 5;
  s.feature_offsets = {0, 3, 7};
  s.embed_dim = 4;
  s.layers = std::move(layers);
  return s;
}

OptimizerSettings adagrad(float learning_rate) {
  OptimizerSettings s;
  s.learning_rate = learning_rate;
  s.initial_accumulator = 0.1f;
  return s;
}

const std::vector<std::int32_t> kIds{1, 3, 3, 0};
const std::vector<std::int64_t> kRows{0, 1, 2, 3};

// sum of out * r over the batch, with r fixed: its gradient is r.
double loss(Tower& t, const FeatureRows& f, const std::vector<float>& r) {
  std::vector<float> out;
  t.forward(kIds, &f, kRows, out, 1);
  double s = 0;
  for (std::size_t k = 0; k < out.size(); ++k) s += static_cast<double>(out[k]) * r[k];
  return s;
}

// The analytic gradient of `value` against a central difference.
void expect_gradient(Tower& t, const FeatureRows& f, const std::vector<float>& r, float& value,
                     float analytic, const std::string& what) {
  const float h = 1e-2f, saved = value;
  value = saved + h;
  const double up = loss(t, f, r);
  value = saved - h;
  const double down = loss(t, f, r);
  value = saved;
  const double numeric = (up - down) / (2.0 * h);
  EXPECT_NEAR(analytic, numeric, 2e-3 + 2e-2 * std::abs(numeric)) << what;
}

TEST(Tower, WithoutLayersTheVectorIsTheSumOfTheEmbeddings) {
  Rng rng(7);
  Tower t(shape_with({}), 0.05f, rng);
  const FeatureRows f = small_features();
  std::vector<float> out;
  t.forward(kIds, &f, kRows, out, 1);
  ASSERT_EQ(out.size(), 4u * 4u);
  for (std::size_t b = 0; b < 4; ++b) {
    for (std::int32_t j = 0; j < 4; ++j) {
      double want = t.id_table().data()[kIds[b] * 4 + j];
      for (auto k = f.indptr[b]; k < f.indptr[b + 1]; ++k) {
        want += f.weight[static_cast<std::size_t>(k)] *
                t.feature_table().data()[f.index[static_cast<std::size_t>(k)] * 4 + j];
      }
      EXPECT_NEAR(out[b * 4 + static_cast<std::size_t>(j)], want, 1e-6);
    }
  }
}

TEST(Tower, GradientsMatchFiniteDifferences) {
  for (const auto& layers : {std::vector<std::int32_t>{}, std::vector<std::int32_t>{3},
                             std::vector<std::int32_t>{6, 3}}) {
    Rng rng(11);
    // A larger init so that the ReLUs see values away from their kink.
    Tower t(shape_with(layers), 0.5f, rng);
    const FeatureRows f = small_features();
    std::vector<float> r(4 * static_cast<std::size_t>(t.output_dim()));
    for (float& v : r) v = 2.0f * rng.uniform() - 1.0f;
    loss(t, f, r);
    t.backward(r, 1);
    const std::string name = fmt::format("{} layers", layers.size());
    for (const std::int32_t row : {0, 1, 3, 4}) {
      const std::vector<float> g = t.id_gradient(row);
      for (std::int32_t j = 0; j < 4; ++j) {
        expect_gradient(t, f, r, t.id_table().data()[row * 4 + j], g[static_cast<std::size_t>(j)],
                        fmt::format("{}: id row {} [{}]", name, row, j));
      }
    }
    for (std::int32_t row = 0; row < 7; ++row) {
      const std::vector<float> g = t.feature_gradient(row);
      for (std::int32_t j = 0; j < 4; ++j) {
        expect_gradient(t, f, r, t.feature_table().data()[row * 4 + j],
                        g[static_cast<std::size_t>(j)],
                        fmt::format("{}: feature row {} [{}]", name, row, j));
      }
    }
    for (std::size_t l = 0; l < t.layer_count(); ++l) {
      const std::vector<float> gw = t.weight_gradient(l), gb = t.bias_gradient(l);
      for (std::size_t k = 0; k < gw.size(); k += 3) {
        expect_gradient(t, f, r, t.weights(l)[k], gw[k], fmt::format("{}: w{}[{}]", name, l, k));
      }
      for (std::size_t k = 0; k < gb.size(); ++k) {
        expect_gradient(t, f, r, t.biases(l)[k], gb[k], fmt::format("{}: b{}[{}]", name, l, k));
      }
    }
  }
}

TEST(Tower, UntouchedRowsHaveNoGradientAndStepsLeaveThemAlone) {
  Rng rng(3);
  Tower t(shape_with({5, 4}), 0.05f, rng);
  const FeatureRows f = small_features();
  std::vector<float> out;
  t.forward(kIds, &f, kRows, out, 1);
  t.backward(std::vector<float>(out.size(), 1.0f), 1);
  EXPECT_EQ(t.id_gradient(2), std::vector<float>(4, 0.0f));  // no entity has id 2
  const std::vector<float> before(t.id_table().data() + 8, t.id_table().data() + 12);
  t.step(adagrad(0.1f), 1);
  EXPECT_EQ(std::vector<float>(t.id_table().data() + 8, t.id_table().data() + 12), before);
}

class TowerOptimizers : public ::testing::TestWithParam<Optimizer> {};

TEST_P(TowerOptimizers, StepsFitTargets) {
  Rng rng(5);
  OptimizerSettings settings = adagrad(0.05f);
  settings.optimizer = GetParam();
  if (GetParam() == Optimizer::Adam) settings.learning_rate = 0.01f;
  Tower t(shape_with({8, 4}), 0.05f, rng);
  const FeatureRows f = small_features();
  std::vector<float> target(16);
  for (float& v : target) v = 2.0f * rng.uniform() - 1.0f;
  const auto mse = [&](std::vector<float>& grad) {
    std::vector<float> out;
    t.forward(kIds, &f, kRows, out, 1);
    double s = 0;
    grad.resize(out.size());
    for (std::size_t k = 0; k < out.size(); ++k) {
      const float d = out[k] - target[k];
      s += static_cast<double>(d) * d;
      grad[k] = 2 * d;
    }
    return s;
  };
  std::vector<float> grad;
  const double first = mse(grad);
  double last = first;
  for (int step = 0; step < 300; ++step) {
    last = mse(grad);
    t.backward(grad, 1);
    t.step(settings, 1);
  }
  EXPECT_LT(last, 0.05 * first) << first << " -> " << last;
}

INSTANTIATE_TEST_SUITE_P(Tower, TowerOptimizers,
                         ::testing::Values(Optimizer::Adagrad, Optimizer::Adam),
                         [](const auto& p) { return std::string(to_string(p.param)); });

TEST(Tower, ParamsGiveTheVectorsOfForward) {
  Rng rng(7);
  Tower t(shape_with({6, 3}), 0.05f, rng);
  const FeatureRows f = small_features();
  std::vector<float> out;
  t.forward(kIds, &f, kRows, out, 1);
  Matrix m = t.params().vectors(kIds, &f, kRows, 1);
  ASSERT_EQ(m.rows(), 4);
  ASSERT_EQ(m.cols(), 3);
  EXPECT_EQ(m.storage(), out);
  EXPECT_NO_THROW(t.params().validate("tower"));
}

// Dropout 0.5 on the second column: in training, each of its tokens is left
// out of a batch about half the time and weighs twice its weight otherwise;
// the first column's tokens and vectors outside training are untouched.
TEST(Tower, DropoutLeavesTokensOutOfTrainingBatchesOnly) {
  FeatureRows f;  // one entity: token 1 of the first column, 3..6 of the second
  f.index = {1, 3, 4, 5, 6};
  f.weight = {1.0f, 0.25f, 0.25f, 0.25f, 0.25f};
  f.indptr = {0, 5};
  const std::vector<std::int32_t> id{2};
  const std::vector<std::int64_t> row{0};
  Rng plain_rng(7), rng(7);
  const Tower plain(shape_with({}), 0.05f, plain_rng);
  Tower t(shape_with({}), 0.05f, rng, {0.0f, 0.5f});
  // The same start as without dropout.
  EXPECT_EQ(t.params().feature_table.storage(), plain.params().feature_table.storage());
  const auto table = t.feature_table().storage();
  const auto ids = t.id_table().storage();
  const std::vector<float> ones(4, 1.0f), zeros(4, 0.0f), twice(4, 0.5f);
  int kept = 0;
  constexpr int kBatches = 1000;
  for (int n = 0; n < kBatches; ++n) {
    std::vector<float> out;
    t.forward(id, &f, row, out, 1);
    t.backward(ones, 1);
    ASSERT_EQ(t.feature_gradient(1), ones);  // no dropout on the first column
    std::vector<double> want(4);
    for (std::size_t j = 0; j < 4; ++j) want[j] = ids[8 + j] + table[4 + j];
    for (std::int32_t token = 3; token <= 6; ++token) {
      const std::vector<float> g = t.feature_gradient(token);
      ASSERT_TRUE(g == zeros || g == twice) << "token " << token;
      if (g == zeros) continue;
      ++kept;
      for (std::size_t j = 0; j < 4; ++j) want[j] += 0.5 * table[token * 4 + j];
    }
    for (std::size_t j = 0; j < 4; ++j) ASSERT_NEAR(out[j], want[j], 1e-6);
  }
  EXPECT_NEAR(static_cast<double>(kept) / (4 * kBatches), 0.5, 0.03);
  // Outside training every token counts, at its weight.
  const Matrix all = t.params().vectors(id, &f, row, 1);
  for (std::size_t j = 0; j < 4; ++j) {
    double want = ids[8 + j] + table[4 + j];
    for (std::int32_t token = 3; token <= 6; ++token) want += 0.25 * table[token * 4 + j];
    EXPECT_NEAR(all.storage()[j], want, 1e-6);
  }
  Rng again(7);
  EXPECT_THROW(Tower(shape_with({}), 0.05f, again, {0.5f}), Error);
  EXPECT_THROW(Tower(shape_with({}), 0.05f, again, {0.0f, 1.0f}), Error);
}

TEST(Tower, TheOovIdAddsNothing) {
  Rng rng(7);
  Tower t(shape_with({}), 0.05f, rng);
  const FeatureRows f = small_features();
  TowerShape no_ids = shape_with({});
  no_ids.id_rows = 0;
  TowerParams features_only{no_ids, Matrix(), t.feature_table(), {}, {}};
  const std::vector<std::int32_t> oov{0};
  const std::vector<std::int64_t> row{2};
  Matrix with_oov = t.params().vectors(oov, &f, row, 1);
  Matrix without = features_only.vectors({}, &f, row, 1);
  EXPECT_EQ(with_oov.storage(), without.storage());
}

TEST(Tower, SavedParamsOfAnotherShapeAreRefused) {
  Rng rng(7);
  Tower t(shape_with({6, 3}), 0.05f, rng);
  TowerParams p = t.params();
  p.weights[1] = Matrix(5, 3);
  EXPECT_THROW(p.validate("user tower"), Error);
  p = t.params();
  p.feature_table.storage()[3] = std::nanf("");
  try {
    p.validate("user tower");
    FAIL() << "a NaN was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("user tower: the feature table"), std::string::npos)
        << e.what();
  }
}

TEST(Tower, BadShapesAreRefused) {
  Rng rng(1);
  TowerShape none;
  none.embed_dim = 4;
  EXPECT_THROW(Tower(none, 0.05f, rng), Error);
  TowerShape zero = shape_with({0});
  EXPECT_THROW(Tower(zero, 0.05f, rng), Error);
  TowerShape empty_column = shape_with({});
  empty_column.feature_offsets = {0, 3, 3};
  EXPECT_THROW(Tower(empty_column, 0.05f, rng), Error);
  // Only features, no ids: a cold-start tower.
  TowerShape features_only = shape_with({4});
  features_only.id_rows = 0;
  Tower t(features_only, 0.05f, rng);
  const FeatureRows f = small_features();
  std::vector<float> out;
  t.forward({}, &f, kRows, out, 1);
  EXPECT_EQ(out.size(), 16u);
}

}  // namespace
}  // namespace latent
