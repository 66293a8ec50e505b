// train_two_tower_distributed on one rank (a Communicator of one process,
// which every collective serves as MPI would with one rank) against
// train_two_tower: when each step of the distributed code takes the same
// pairs as one process's (the pairs a whole number of batches), every
// model must come out bit for bit the same. That pins the distributed
// path's own work, not the ranks' traffic: its global batches, the rating
// task's pairs and denominator, the user tower stepped on the batch's
// summed gradients, the rating head's gradients summed in place, and the
// final check that the ranks agree, and with context features each step's
// queries made from its pairs' times. tests/mpi runs it on several ranks.
#include <latent/communicator.hpp>
#include <latent/dataset.hpp>
#include <latent/features.hpp>
#include <latent/random.hpp>
#include <latent/rank_pairs.hpp>
#include <latent/two_tower.hpp>

#include <string>

#include <fmt/format.h>
#include <gtest/gtest.h>

namespace latent {
namespace {

constexpr int kUsers = 40;
constexpr int kItems = 30;
constexpr int kPairs = 480;  // 15 batches of 32

// Users who like items of their own group, with ratings and times.
Dataset rated_data() {
  ColumnData c;
  Rng rng(3);
  for (int k = 0; k < kPairs; ++k) {
    const int u = 1 + k % kUsers;
    const int i = 1 + (static_cast<int>(rng.uniform() * 10) * 3 + u % 3) % kItems;
    c.users.push_back(fmt::format("u{}", u));
    c.items.push_back(fmt::format("i{}", i));
    c.ratings.push_back(1 + static_cast<int>(rng.uniform() * 5));
    c.timestamps.push_back(static_cast<std::int64_t>(rng.uniform() * 1000) * 86400);
  }
  return dataset_from_columns(c);
}

FeatureTable item_table() {
  FeatureTable t;
  t.columns = parse_feature_columns("group:categorical,year:numeric");
  t.source = "items.csv";
  t.values.resize(2);
  for (int i = 1; i <= kItems; ++i) {
    t.ids.push_back(fmt::format("i{}", i));
    t.values[0].push_back(std::to_string(i % 3));
    t.values[1].push_back(std::to_string(1990 + i % 7));
  }
  return t;
}

TwoTowerConfig config() {
  TwoTowerConfig c;
  c.dim = 8;
  c.batch_size = 32;
  c.epochs = 3;
  c.learning_rate = 0.1f;
  c.threads = 2;
  c.seed = 5;
  return c;
}

void expect_same(const TwoTowerResult& one, const TwoTowerResult& ranks, const std::string& what) {
  EXPECT_EQ(one.user_embeddings, ranks.user_embeddings) << what;
  EXPECT_EQ(one.item_embeddings, ranks.item_embeddings) << what;
  ASSERT_EQ(one.rating_head.has_value(), ranks.rating_head.has_value()) << what;
  if (one.rating_head) {
    for (std::size_t l = 0; l < one.rating_head->weights.size(); ++l) {
      EXPECT_EQ(one.rating_head->weights[l], ranks.rating_head->weights[l]) << what;
      EXPECT_EQ(one.rating_head->biases[l], ranks.rating_head->biases[l]) << what;
    }
  }
  ASSERT_EQ(one.epochs.size(), ranks.epochs.size()) << what;
  for (std::size_t e = 0; e < one.epochs.size(); ++e) {
    EXPECT_EQ(one.epochs[e].loss, ranks.epochs[e].loss) << what << ", epoch " << e + 1;
    if (one.rating_head) {
      EXPECT_EQ(one.epochs[e].train_rmse, ranks.epochs[e].train_rmse) << what;
    }
  }
}

TEST(TwoTowerDistributed, OneRankTrainsAsOneProcess) {
  const Dataset data = rated_data();
  ASSERT_EQ(data.interactions.size(), static_cast<std::size_t>(kPairs));
  const SideFeatures items = SideFeatures::fit(item_table(), data.items);
  struct Variant {
    std::string name;
    TwoTowerConfig config;
    bool features;
    bool context = false;
  };
  std::vector<Variant> variants;
  variants.push_back({"ids", config(), false});
  TwoTowerConfig c = config();
  c.rating_weight = 1;
  c.rating_layers = {16, 8};
  variants.push_back({"ids, rating task", c, false});
  c.negatives = Negatives::InBatch;
  variants.push_back({"ids, in-batch, rating task", c, false});
  c = config();
  c.layers = {16, 8};
  c.rating_weight = 0.5f;
  c.rating_layers = {16};
  variants.push_back({"layers, item features, rating task", c, true});
  c = config();
  c.item_ids = false;
  variants.push_back({"item features alone", c, true});
  // Context features: each step's queries made from its pairs' times.
  variants.push_back({"ids, context", config(), false, true});
  c = config();
  c.negatives = Negatives::InBatch;
  c.user_ids = false;
  variants.push_back({"context alone, in-batch", c, false, true});
  c = config();
  c.layers = {16, 8};
  c.rating_weight = 0.5f;
  variants.push_back({"context, layers, item features, rating task", c, true, true});
  const QueryContext context = QueryContext::fit(
      parse_feature_columns("timestamp:timestamp:buckets=8"), data.interactions, nullptr, "pairs");
  for (const Variant& v : variants) {
    const TwoTowerFeatures features{nullptr, v.features ? &items : nullptr,
                                    v.context ? &context : nullptr};
    const TwoTowerResult one =
        train_two_tower(data.interactions, nullptr, v.config, {}, {}, {}, features);
    Communicator comm;  // one process: one rank
    const RankPairs mine{data.interactions, {data.interactions.size()}};
    const TwoTowerResult ranks =
        train_two_tower_distributed(comm, mine, v.config, {}, {}, features);
    expect_same(one, ranks, v.name);
    EXPECT_EQ(one.user_tower.has_value(), ranks.user_tower.has_value()) << v.name;
    EXPECT_EQ(one.item_tower.has_value(), ranks.item_tower.has_value()) << v.name;
    if (one.user_tower && ranks.user_tower) {
      EXPECT_EQ(one.user_tower->feature_table, ranks.user_tower->feature_table) << v.name;
      EXPECT_EQ(one.user_tower->weights, ranks.user_tower->weights) << v.name;
    }
  }
}

}  // namespace
}  // namespace latent
