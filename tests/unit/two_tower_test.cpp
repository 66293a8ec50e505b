#include <latent/two_tower.hpp>

#include <cmath>

#include <gtest/gtest.h>

#include <latent/error.hpp>

#include "fixtures/tiny_dataset.hpp"
#include "test_support.hpp"

namespace latent {
namespace {

TwoTowerConfig small_config() {
  TwoTowerConfig c;
  c.dim = 8;
  c.batch_size = 32;
  c.epochs = 5;
  c.learning_rate = 0.2f;
  c.threads = 2;
  c.seed = 11;
  return c;
}

std::string message_of(const TwoTowerConfig& c) { return test::validation_message(c); }

TEST(TwoTowerConfig, InvalidValuesAreNamed) {
  auto c = small_config();
  c.dim = 0;
  EXPECT_NE(message_of(c).find("dim 0"), std::string::npos);
  c = small_config();
  c.learning_rate = -0.5f;
  EXPECT_NE(message_of(c).find("-0.5"), std::string::npos);
  c = small_config();
  c.learning_rate = NAN;
  EXPECT_NE(message_of(c).find("learning rate"), std::string::npos);
  c = small_config();
  c.batch_size = 0;
  EXPECT_NE(message_of(c).find("batch size 0"), std::string::npos);
  c = small_config();
  c.temperature = 0;
  EXPECT_NE(message_of(c).find("temperature"), std::string::npos);
  c = small_config();
  c.hard_negatives = -1;
  EXPECT_NE(message_of(c).find("hard negatives -1"), std::string::npos);
  c = small_config();
  c.top_ks = {10, 5};
  EXPECT_NE(message_of(c).find("ascending"), std::string::npos);
  c = small_config();
  c.validation_freq = 0;
  EXPECT_NE(message_of(c).find("validation frequency 0"), std::string::npos);
  EXPECT_EQ(message_of(small_config()), "");
}

TEST(TwoTower, SameSeedSameModelOtherSeedOtherModel) {
  const Dataset d = test::tiny_dataset();
  const auto a = train_two_tower(d.interactions, nullptr, small_config());
  const auto b = train_two_tower(d.interactions, nullptr, small_config());
  auto other = small_config();
  other.seed = 12;
  const auto c = train_two_tower(d.interactions, nullptr, other);
  EXPECT_EQ(a.user_embeddings, b.user_embeddings);
  EXPECT_EQ(a.item_embeddings, b.item_embeddings);
  EXPECT_NE(a.item_embeddings, c.item_embeddings);
}

TEST(TwoTower, LossFallsAndMetricsRiseForEveryOptimizerAndOption) {
  const Dataset d = test::tiny_dataset();
  for (int variant = 0; variant < 5; ++variant) {
    auto c = small_config();
    c.epochs = 20;
    if (variant == 1) {
      c.optimizer = Optimizer::Adam;
      c.learning_rate = 0.05f;
    }
    if (variant == 2) c.remove_accidental_hits = true;
    if (variant == 3) c.logq_correction = true;
    if (variant == 4) {
      c.hard_negatives = 4;
      c.temperature = 0.5f;
    }
    const auto r = train_two_tower(d.interactions, nullptr, c);
    ASSERT_EQ(r.epochs.size(), 20u);
    // With hard negatives the loss covers the hardest negatives of the
    // moment, which get harder as training goes: only the metrics tell.
    if (c.hard_negatives == 0) {
      EXPECT_LT(r.epochs.back().loss, 0.8 * r.epochs.front().loss) << "variant " << variant;
    }
    ASSERT_TRUE(r.epochs.back().has_train);
    // top_10 of 20 items: the right group's 10 items rank first once learned.
    EXPECT_GT(r.epochs.back().train.accuracy[2], 0.9) << "variant " << variant;
    for (float v : r.item_embeddings.values()) ASSERT_TRUE(std::isfinite(v));
  }
}

// The running metrics rank every training pair against the catalog when
// the softmax already scores the catalog; with in-batch negatives that
// product would cost far more than the batch itself, so they rank a sample
// of each batch's users, and the report says how many pairs.
TEST(TwoTower, RunningMetricsAreSampledOnlyWithInBatchNegatives) {
  const Dataset d = test::tiny_dataset();
  auto c = small_config();
  c.epochs = 20;
  c.negatives = Negatives::Catalog;
  const auto full = train_two_tower(d.interactions, nullptr, c);
  ASSERT_TRUE(full.epochs.back().has_train);
  EXPECT_FALSE(full.epochs.back().train.sampled);
  EXPECT_EQ(full.epochs.back().train.pairs, d.interactions.size());

  c.negatives = Negatives::InBatch;
  const auto sampled = train_two_tower(d.interactions, nullptr, c);
  const TopKAccuracy& m = sampled.epochs.back().train;
  ASSERT_TRUE(sampled.epochs.back().has_train);
  EXPECT_TRUE(m.sampled);
  EXPECT_GT(m.pairs, 0u);
  EXPECT_LT(m.pairs, d.interactions.size());
  // Still a measurement: the learned model ranks the sampled pairs' items
  // as it ranks all of them.
  EXPECT_GT(m.accuracy[2], 0.9);
  for (double a : m.accuracy) {
    EXPECT_GE(a, 0.0);
    EXPECT_LE(a, 1.0);
  }
}

// As Keras fit's validation_freq: the test metrics of every Nth epoch, and
// always of the last (the model's reported figures); the same weights.
TEST(TwoTower, ValidationFrequencyPicksTheEpochsWithTestMetrics) {
  const Dataset d = test::tiny_dataset();
  auto c = small_config();
  c.epochs = 7;
  const auto every = train_two_tower(d.interactions, &d.interactions, c);
  c.validation_freq = 3;
  const auto some = train_two_tower(d.interactions, &d.interactions, c);
  ASSERT_EQ(some.epochs.size(), 7u);
  for (std::size_t e = 0; e < 7; ++e) {
    const bool want = e + 1 == 3 || e + 1 == 6 || e + 1 == 7;
    EXPECT_EQ(some.epochs[e].has_test, want) << "epoch " << e + 1;
    EXPECT_TRUE(every.epochs[e].has_test) << "epoch " << e + 1;
  }
  EXPECT_EQ(some.epochs.back().test.accuracy, every.epochs.back().test.accuracy);
  EXPECT_EQ(some.user_embeddings, every.user_embeddings);
}

TEST(TwoTower, RejectsPairsOutsideTheVocabularies) {
  Dataset d = test::tiny_dataset();
  d.interactions.items[3] = 0;  // OOV item
  EXPECT_THROW(train_two_tower(d.interactions, nullptr, small_config()), Error);
  d = test::tiny_dataset();
  d.interactions.weights.assign(d.interactions.size(), 1.0f);
  d.interactions.weights[5] = -2.0f;
  EXPECT_THROW(train_two_tower(d.interactions, nullptr, small_config()), Error);
  Interactions empty;
  empty.num_users = 3;
  empty.num_items = 3;
  EXPECT_THROW(train_two_tower(empty, nullptr, small_config()), Error);
}

TEST(TwoTower, UnitWeightsEqualNoWeights) {
  Dataset d = test::tiny_dataset();
  const auto plain = train_two_tower(d.interactions, nullptr, small_config());
  d.interactions.weights.assign(d.interactions.size(), 1.0f);
  const auto weighted = train_two_tower(d.interactions, nullptr, small_config());
  EXPECT_EQ(plain.item_embeddings, weighted.item_embeddings);
  // One batch: its loss is computed before any update, so weights of 2
  // give exactly twice the loss.
  auto one_batch = small_config();
  one_batch.batch_size = 1000;
  one_batch.epochs = 1;
  d.interactions.weights.clear();
  const auto once = train_two_tower(d.interactions, nullptr, one_batch);
  d.interactions.weights.assign(d.interactions.size(), 2.0f);
  const auto doubled = train_two_tower(d.interactions, nullptr, one_batch);
  EXPECT_NEAR(doubled.epochs[0].loss, 2 * once.epochs[0].loss, 1e-4 * once.epochs[0].loss);
}

}  // namespace
}  // namespace latent
