#include <latent/error.hpp>
#include <latent/rating_head.hpp>

#include <cmath>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

namespace latent {
namespace {

constexpr std::int32_t kDim = 3;

// Four users' and three items' vectors, and five rated pairs over them.
struct Pairs {
  std::vector<float> users, items;
  std::vector<std::int32_t> user_index{0, 1, 1, 3, 2};
  std::vector<std::int32_t> item_index{0, 2, 1, 1, 0};
  std::vector<float> ratings{4, 1, 3, 5, 2};
  std::vector<float> weights;  // empty: 1 each
};

Pairs random_pairs(Rng& rng) {
  Pairs p;
  p.users.resize(4 * kDim);
  p.items.resize(3 * kDim);
  for (float& v : p.users) v = 2.0f * rng.uniform() - 1.0f;
  for (float& v : p.items) v = 2.0f * rng.uniform() - 1.0f;
  return p;
}

// The trainer's loss on `p` (a forward pass; the gradients it leaves are
// not used).
double loss(RatingHeadTrainer& t, const Pairs& p) {
  std::vector<float> gu(p.users.size()), gi(p.items.size());
  double sse = 0;
  return t.train(p.users, p.user_index, p.items, p.item_index, p.ratings, p.weights, 1.0f,
                 gu.data(), gi.data(), sse, 1);
}

void expect_gradient(RatingHeadTrainer& t, const Pairs& p, float& value, float analytic,
                     const std::string& what) {
  const float h = 1e-2f, saved = value;
  value = saved + h;
  const double up = loss(t, p);
  value = saved - h;
  const double down = loss(t, p);
  value = saved;
  const double numeric = (up - down) / (2.0 * h);
  EXPECT_NEAR(analytic, numeric, 2e-3 + 2e-2 * std::abs(numeric)) << what;
}

TEST(RatingHead, GradientsMatchFiniteDifferences) {
  for (const auto& weights : {std::vector<float>{}, std::vector<float>{1, 0.5f, 2, 0, 1.5f}}) {
    Rng rng(5);
    RatingHeadTrainer t(RatingHead::initial(kDim, {6, 4}, rng));
    Pairs p = random_pairs(rng);
    p.weights = weights;
    std::vector<float> gu(p.users.size(), 0.0f), gi(p.items.size(), 0.0f);
    double sse = 0;
    t.train(p.users, p.user_index, p.items, p.item_index, p.ratings, p.weights, 1.0f, gu.data(),
            gi.data(), sse, 1);
    const std::vector<std::vector<float>> dw{t.weight_gradient(0), t.weight_gradient(1),
                                             t.weight_gradient(2)};
    const std::vector<std::vector<float>> db{t.bias_gradient(0), t.bias_gradient(1),
                                             t.bias_gradient(2)};
    const std::string name = weights.empty() ? "unweighted" : "weighted";
    for (std::size_t k = 0; k < p.users.size(); ++k) {
      expect_gradient(t, p, p.users[k], gu[k], fmt::format("{}: user value {}", name, k));
    }
    for (std::size_t k = 0; k < p.items.size(); ++k) {
      expect_gradient(t, p, p.items[k], gi[k], fmt::format("{}: item value {}", name, k));
    }
    for (std::size_t l = 0; l < 3; ++l) {
      for (std::size_t k = 0; k < dw[l].size(); ++k) {
        expect_gradient(t, p, t.weights(l)[k], dw[l][k], fmt::format("{}: w{}[{}]", name, l, k));
      }
      for (std::size_t k = 0; k < db[l].size(); ++k) {
        expect_gradient(t, p, t.biases(l)[k], db[l][k], fmt::format("{}: b{}[{}]", name, l, k));
      }
    }
  }
}

TEST(RatingHead, TheLossIsTheMeanSquaredErrorOfPredict) {
  Rng rng(9);
  RatingHeadTrainer t(RatingHead::initial(kDim, {5}, rng));
  const Pairs p = random_pairs(rng);
  const Matrix users(4, kDim, p.users), items(3, kDim, p.items);
  const std::vector<float> predicted =
      t.head().predict(users, p.user_index, items, p.item_index, 1);
  double mse = 0;
  for (std::size_t k = 0; k < predicted.size(); ++k) {
    mse += std::pow(predicted[k] - p.ratings[k], 2) / static_cast<double>(predicted.size());
  }
  RatingHeadTrainer& trainer = t;
  EXPECT_NEAR(loss(trainer, p), mse, 1e-5);
  // rmse() is its root, over the same pairs; NaN for none; a rating per pair.
  EXPECT_NEAR(t.head().rmse(users, p.user_index, items, p.item_index, p.ratings, 1), std::sqrt(mse),
              1e-6);
  EXPECT_TRUE(std::isnan(t.head().rmse(users, {}, items, {}, {}, 1)));
  const std::vector<float> too_few(p.ratings.begin(), p.ratings.end() - 1);
  EXPECT_THROW(t.head().rmse(users, p.user_index, items, p.item_index, too_few, 1), Error);
}

TEST(RatingHead, StepsFitTheRatings) {
  Rng rng(3);
  RatingHeadTrainer t(RatingHead::initial(kDim, {16, 8}, rng));
  const Pairs p = random_pairs(rng);
  OptimizerSettings adam;
  adam.optimizer = Optimizer::Adam;
  adam.learning_rate = 0.01f;
  const double first = loss(t, p);
  for (int s = 0; s < 500; ++s) {
    loss(t, p);
    t.step(adam, 1);
  }
  // Five pairs, hundreds of parameters: the network fits them.
  EXPECT_LT(loss(t, p), 0.01 * first);
}

TEST(RatingHead, ScaleScalesEveryGradient) {
  Rng rng(2);
  const RatingHead head = RatingHead::initial(kDim, {4}, rng);
  const Pairs p = random_pairs(rng);
  std::vector<std::vector<float>> gu(2, std::vector<float>(p.users.size(), 0.0f));
  std::vector<float> gi(p.items.size(), 0.0f);
  std::vector<std::vector<float>> dw(2);
  for (int s = 0; s < 2; ++s) {
    RatingHeadTrainer t(head);
    double sse = 0;
    t.train(p.users, p.user_index, p.items, p.item_index, p.ratings, p.weights,
            s == 0 ? 1.0f : 0.25f, gu[static_cast<std::size_t>(s)].data(), gi.data(), sse, 1);
    dw[static_cast<std::size_t>(s)] = t.weight_gradient(0);
  }
  for (std::size_t k = 0; k < gu[0].size(); ++k) EXPECT_NEAR(gu[1][k], 0.25f * gu[0][k], 1e-6);
  for (std::size_t k = 0; k < dw[0].size(); ++k) EXPECT_NEAR(dw[1][k], 0.25f * dw[0][k], 1e-6);
}

TEST(RatingHead, BadShapesAreRefused) {
  Rng rng(1);
  RatingHead h = RatingHead::initial(kDim, {4}, rng);
  EXPECT_NO_THROW(h.validate("rating_head"));
  RatingHead wrong = h;
  wrong.weights[1] = Matrix(5, 1);
  try {
    wrong.validate("rating_head");
    FAIL() << "a layer of the wrong shape was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::InvalidArgument);
    EXPECT_NE(std::string(e.what()).find("layer 1's weights are 5 x 1, expected 4 x 1"),
              std::string::npos)
        << e.what();
  }
  RatingHead nan = h;
  nan.biases[0].storage()[2] = std::nanf("");
  EXPECT_THROW(nan.validate("rating_head"), Error);
  RatingHead missing = h;
  missing.weights.pop_back();
  EXPECT_THROW(missing.validate("rating_head"), Error);
  EXPECT_THROW(RatingHead::initial(0, {4}, rng), Error);
  EXPECT_THROW(RatingHead::initial(kDim, {0}, rng), Error);
  EXPECT_THROW(RatingHead::from_shape_json({{"dim", 3}}), Error);
  EXPECT_THROW(RatingHead::from_shape_json({{"dim", "3"}, {"hidden", {4}}}), Error);
  const RatingHead back = RatingHead::from_shape_json(h.shape_json());
  EXPECT_EQ(back.dim, h.dim);
  EXPECT_EQ(back.hidden, h.hidden);
  // A pair outside the vectors is refused, not read out of bounds.
  const Matrix users(2, kDim), items(2, kDim);
  const std::vector<std::int32_t> rows{0, 2};
  EXPECT_THROW(h.predict(users, rows, items, std::vector<std::int32_t>{0, 1}, 1), Error);
}

// A batch's gradients are the same on any number of threads (two-tower
// declares itself thread-deterministic), for batch sizes whose split across
// threads gives GEMM calls of other shapes than one thread's.
TEST(RatingHead, GradientsAreTheSameOnAnyNumberOfThreads) {
  for (const std::int64_t n : {512, 1916, 2048, 4093}) {
    constexpr std::int32_t d = 64;
    Rng rng(9);
    const RatingHead initial = RatingHead::initial(d, {256, 64}, rng);
    std::vector<float> users(static_cast<std::size_t>(n) * d), items(users.size());
    std::vector<std::int32_t> index(static_cast<std::size_t>(n));
    std::vector<float> ratings(index.size());
    for (float& v : users) v = rng.uniform() - 0.5f;
    for (float& v : items) v = rng.uniform() - 0.5f;
    for (std::size_t k = 0; k < index.size(); ++k) {
      index[k] = static_cast<std::int32_t>(k);
      ratings[k] = 1.0f + 4.0f * rng.uniform();
    }
    std::vector<std::vector<float>> gradients[2];
    std::vector<float> gu[2], gi[2];
    for (const int threads : {1, 2}) {
      RatingHeadTrainer t(initial);
      std::vector<float>& u = gu[threads - 1];
      std::vector<float>& i = gi[threads - 1];
      u.assign(users.size(), 0.0f);
      i.assign(items.size(), 0.0f);
      double sse = 0;
      t.train(users, index, items, index, ratings, {}, 1.0f, u.data(), i.data(), sse, threads);
      for (std::size_t l = 0; l < 3; ++l) {
        gradients[threads - 1].push_back(t.weight_gradient(l));
        gradients[threads - 1].push_back(t.bias_gradient(l));
      }
    }
    EXPECT_EQ(gu[0], gu[1]) << n << " pairs";
    EXPECT_EQ(gi[0], gi[1]) << n << " pairs";
    EXPECT_EQ(gradients[0], gradients[1]) << n << " pairs";
  }
}

}  // namespace
}  // namespace latent
