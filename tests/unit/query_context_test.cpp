// Context features of the queries (issue 16, TFRS's context-features
// tutorial): each pair is a query of its own whose vector the user tower
// makes from the user and the pair's timestamp, in training and in the test
// metrics; the model keeps the users' vectors with the context missing, and
// the context columns in its user tower.
#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <latent/dataset.hpp>
#include <latent/error.hpp>
#include <latent/evaluation.hpp>
#include <latent/features.hpp>
#include <latent/fit.hpp>
#include <latent/model_file.hpp>
#include <latent/random.hpp>
#include <latent/recommender.hpp>
#include <latent/two_tower.hpp>

#include "test_support.hpp"
#include "unit/warm_start_check.hpp"

namespace latent {
namespace {

using test::expect_error;

constexpr int kUsers = 40, kItemsPerEra = 20;

// Items 1..20 are of the early era, 21..40 of the late one; every user has
// 10 pairs in each era, of its items alone, at a time in that era. Only the
// time says which era a pair is of.
ColumnData era_columns() {
  ColumnData c;
  Rng rng(5);
  for (int u = 1; u <= kUsers; ++u) {
    for (int era = 0; era < 2; ++era) {
      for (int j = 0; j < 10; ++j) {
        const int i = 1 + era * kItemsPerEra + static_cast<int>(rng.uniform() * kItemsPerEra);
        c.users.push_back(fmt::format("u{}", u));
        c.items.push_back(fmt::format("i{}", std::min(i, (era + 1) * kItemsPerEra)));
        c.timestamps.push_back(era * 1'000'000 + static_cast<std::int64_t>(rng.uniform() * 1000));
      }
    }
  }
  return c;
}

TwoTowerConfig config() {
  TwoTowerConfig c;
  c.dim = 16;
  c.batch_size = 64;
  c.epochs = 30;
  c.learning_rate = 0.2f;
  c.negatives = Negatives::Catalog;
  c.threads = 2;
  c.seed = 3;
  c.top_ks = {20};
  return c;
}

const std::vector<FeatureColumn> kTimestamp =
    parse_feature_columns("timestamp:timestamp:buckets=4");

double test_top_20(const TwoTowerResult& r) { return r.epochs.back().test.accuracy.at(0); }

TEST(QueryContext, TheTimeOfEachPairTellsItsQueryWhichItemsFit) {
  const Dataset data = dataset_from_columns(era_columns());
  const Split split = random_split(data.interactions, 0.2, 7);
  const QueryContext context = QueryContext::fit(kTimestamp, split.train, &split.test, "eras");
  EXPECT_EQ(context.train.rows(), static_cast<std::int64_t>(split.train.size()));
  EXPECT_EQ(context.test.rows(), static_cast<std::int64_t>(split.test.size()));
  ASSERT_EQ(context.encoder.columns().size(), 1u);
  EXPECT_TRUE(context.encoder.columns()[0].column.context);

  const TwoTowerResult with =
      train_two_tower(split.train, &split.test, config(), {}, {}, {}, {nullptr, nullptr, &context});
  const TwoTowerResult without = train_two_tower(split.train, &split.test, config());
  // Of 40 items, the 20 of the pair's era: with its time the query finds
  // them; without, a user's vector ranks the items of both eras together.
  EXPECT_GE(test_top_20(with), 0.9);
  EXPECT_LE(test_top_20(without), 0.8) << test_top_20(without);
  EXPECT_GT(test_top_20(with), test_top_20(without) + 0.15)
      << test_top_20(with) << " vs " << test_top_20(without);

  // The model keeps a vector per user, made with the context missing, and
  // the user tower reads the context column after the users' (none here).
  EXPECT_EQ(with.user_embeddings.rows(), split.train.num_users);
  ASSERT_TRUE(with.user_tower);
  EXPECT_EQ(with.user_tower->shape.feature_columns(), 1);
  EXPECT_EQ(with.user_tower->shape.id_rows, split.train.num_users);
  FeatureRows missing;
  const std::vector<std::string_view> none(1);
  context.encoder.encode_one(none, missing, "test");
  const std::vector<std::int32_t> ids{5};
  const std::vector<std::int64_t> rows{0};
  const Matrix v = with.user_tower->vectors(ids, &missing, rows, 1);
  const auto kept = with.user_embeddings.row(5);
  for (int j = 0; j < v.cols(); ++j) EXPECT_FLOAT_EQ(v.row(0)[j], kept[j]);
}

TEST(QueryContext, FitKeepsTheContextInTheUserTowerAndTheModelFile) {
  const Dataset data = dataset_from_columns(era_columns());
  FitOptions o;
  o.model = "two-tower";
  o.params = {{"epochs", "20"},
              {"dim", "16"},
              {"learning-rate", "0.2"},
              {"threads", "1"},
              {"negatives", "catalog"}};
  o.test_fraction = 0.2;
  o.context_features = kTimestamp;
  const FitResult fitted = fit(data, o);
  const ModelData& m = fitted.model.model();
  ASSERT_TRUE(m.user_tower);
  ASSERT_EQ(m.user_tower->encoder.columns().size(), 1u);
  EXPECT_TRUE(m.user_tower->encoder.columns()[0].column.context);
  EXPECT_EQ(m.training.at("context_features"), "timestamp:timestamp:buckets=4");
  EXPECT_FALSE(m.item_tower);

  const test::TempDir dir;
  const std::filesystem::path path = dir.path() / "context.latent";
  fitted.model.save(path);
  const Recommender loaded = Recommender::load(path);
  ASSERT_TRUE(loaded.model().user_tower);
  EXPECT_TRUE(loaded.model().user_tower->encoder.columns()[0].column.context);
  // A query of a user training did not see, at a time of the late era,
  // finds the late era's items.
  const std::vector<FeatureValue> late{{"timestamp", "1000500"}};
  EXPECT_EQ(loaded.user_vector_from_features(late), fitted.model.user_vector_from_features(late));
  RecommendOptions ro;
  ro.k = 10;
  ro.exclude_seen = true;
  const TopK top = loaded.recommend_for_features(late, ro);
  int late_items = 0;
  for (std::int32_t k = 0; k < top.k; ++k) {
    const std::string id(loaded.item_id(top.items[static_cast<std::size_t>(k)]));
    late_items += std::stoi(id.substr(1)) > kItemsPerEra ? 1 : 0;
  }
  EXPECT_GE(late_items, 9);
}

// The share of `top`'s items of the late era.
double late_share(const Recommender& r, const TopK& top) {
  int late = 0;
  for (std::int32_t k = 0; k < top.k; ++k) {
    const std::string id(r.item_id(top.items[static_cast<std::size_t>(k)]));
    late += std::stoi(id.substr(1)) > kItemsPerEra ? 1 : 0;
  }
  return static_cast<double>(late) / top.k;
}

TEST(QueryContext, AKnownUsersQueryTakesTheTimeOfTheRequest) {
  const Dataset data = dataset_from_columns(era_columns());
  const std::vector<FeatureValue> early{{"timestamp", "500"}}, late{{"timestamp", "1000500"}};
  for (const char* layers : {"", "16,8"}) {
    SCOPED_TRACE(layers);
    FitOptions o;
    o.params = {{"epochs", "30"},         {"dim", "16"},
                {"learning-rate", "0.2"}, {"threads", "1"},
                {"negatives", "catalog"}, {"layers", layers}};
    o.context_features = kTimestamp;
    const FitResult fitted = fit(data, o);
    const Recommender& r = fitted.model;
    const std::int32_t u = r.user_row("u7");
    // No context given: the stored vector.
    const std::vector<float> none = r.user_vector_in_context(u, {});
    const auto stored = r.model().user_embeddings.row(u);
    for (std::size_t j = 0; j < none.size(); ++j) EXPECT_NEAR(none[j], stored[j], 1e-6);
    RecommendOptions ro;
    ro.k = 10;
    ro.exclude_seen = false;
    EXPECT_GE(late_share(r, r.recommend_in_context(u, late, ro)), 0.9);
    EXPECT_LE(late_share(r, r.recommend_in_context(u, early, ro)), 0.1);
  }
}

TEST(QueryContext, AKnownUsersContextVectorIsTheTowersOwn) {
  // User features and context: a known user's vector in a context is the
  // tower's vector of the user's id, features and that context. Without
  // layers it is the stored vector less the missing context plus the given
  // one; with layers the model keeps the users' feature rows for it.
  const Dataset data = dataset_from_columns(era_columns());
  FeatureTable users;
  users.columns = parse_feature_columns("half:categorical");
  users.values.resize(1);
  for (int u = 1; u <= kUsers; ++u) {
    users.ids.push_back(fmt::format("u{}", u));
    users.values[0].push_back(u <= kUsers / 2 ? "low" : "high");
  }
  FitOptions o;
  o.params = {{"epochs", "3"}, {"dim", "8"}, {"threads", "1"}};
  o.user_features = &users;
  o.context_features = kTimestamp;
  const FitResult fitted = fit(data, o);
  const Recommender& r = fitted.model;
  const FeatureTower& tower = *r.model().user_tower;
  ASSERT_EQ(tower.encoder.columns().size(), 2u);
  const std::int32_t u = r.user_row("u30");
  FeatureRows rows;
  const std::vector<std::string_view> values{"high", "1000500"};
  tower.encoder.encode_one(values, rows, "test");
  const std::vector<std::int32_t> ids{u};
  const std::vector<std::int64_t> first{0};
  const Matrix expected = tower.params.vectors(ids, &rows, first, 1);
  const std::vector<float> got =
      r.user_vector_in_context(u, std::vector<FeatureValue>{{"timestamp", "1000500"}});
  for (std::size_t j = 0; j < got.size(); ++j) EXPECT_NEAR(got[j], expected.row(0)[j], 1e-5);

  // Without user ids too: then the user's row only finds its stored vector.
  o.params.set("user-ids", "false");
  const FitResult no_ids = fit(data, o);
  const FeatureTower& features_only = *no_ids.model.model().user_tower;
  FeatureRows rows_again;
  features_only.encoder.encode_one(values, rows_again, "test");
  const Matrix expected_without = features_only.params.vectors({}, &rows_again, first, 1);
  const std::vector<float> got_without =
      no_ids.model.user_vector_in_context(u, std::vector<FeatureValue>{{"timestamp", "1000500"}});
  ASSERT_EQ(got_without.size(), static_cast<std::size_t>(expected_without.cols()));
  for (std::size_t j = 0; j < got_without.size(); ++j) {
    EXPECT_NEAR(got_without[j], expected_without.row(0)[j], 1e-5);
  }
  o.params.set("user-ids", "true");

  // With layers over the users' own features: the model keeps each user's
  // tokens of them, and the vector is the tower's, before and after a save.
  o.params.set("layers", "8,8");
  const FitResult deep = fit(data, o);
  const FeatureTower& deep_tower = *deep.model.model().user_tower;
  ASSERT_TRUE(deep_tower.known_in_context());
  EXPECT_EQ(deep_tower.own_rows.rows(), static_cast<std::int64_t>(deep.model.model().users.size()));
  FeatureRows deep_rows;
  deep_tower.encoder.encode_one(values, deep_rows, "test");
  const Matrix expected_deep = deep_tower.params.vectors(ids, &deep_rows, first, 1);
  test::TempDir dir;
  save_model(dir / "deep.latent", deep.model.model());
  const ModelData loaded = load_model(dir / "deep.latent");
  ASSERT_TRUE(loaded.user_tower.has_value());
  for (const FeatureTower* t : {&deep_tower, &*loaded.user_tower}) {
    const std::vector<float> got_deep =
        t->vector_in_context(u, deep.model.model().user_embeddings,
                             std::vector<FeatureValue>{{"timestamp", "1000500"}}, "user");
    ASSERT_EQ(got_deep.size(), static_cast<std::size_t>(expected_deep.cols()));
    for (std::size_t j = 0; j < got_deep.size(); ++j) {
      EXPECT_NEAR(got_deep[j], expected_deep.row(0)[j], 1e-5);
    }
  }
  // No context given: the stored vector.
  const std::vector<float> deep_none = deep.model.user_vector_in_context(u, {});
  const auto deep_stored = deep.model.model().user_embeddings.row(u);
  for (std::size_t j = 0; j < deep_none.size(); ++j) {
    EXPECT_NEAR(deep_none[j], deep_stored[j], 1e-5);
  }
  // Several users in several contexts at once, each the tower's vector.
  const std::vector<std::int32_t> users_of{u, r.user_row("u3"), u};
  const std::vector<std::vector<FeatureValue>> contexts{
      {{"timestamp", "1000500"}}, {{"timestamp", "500"}}, {}};
  const std::vector<std::vector<std::string_view>> inputs{
      {"high", "1000500"}, {"low", "500"}, {"high", ""}};
  const Matrix batch = deep_tower.vectors_in_context(users_of, deep.model.model().user_embeddings,
                                                     contexts, "user", 2);
  ASSERT_EQ(batch.rows(), 3);
  for (std::size_t b = 0; b < users_of.size(); ++b) {
    FeatureRows input;
    deep_tower.encoder.encode_one(inputs[b], input, "test");
    const std::vector<std::int32_t> id{users_of[b]};
    const Matrix want = deep_tower.params.vectors(id, &input, first, 1);
    for (std::int64_t j = 0; j < want.cols(); ++j) {
      EXPECT_NEAR(batch.row(static_cast<std::int64_t>(b))[j], want.row(0)[j], 1e-5) << b;
    }
  }
  // A tower that does not keep them (a file of an older latent) refuses.
  FeatureTower older = deep_tower;
  older.own_rows = {};
  EXPECT_FALSE(older.known_in_context());
  expect_error(
      [&] {
        (void)older.vector_in_context(u, deep.model.model().user_embeddings,
                                      std::vector<FeatureValue>{{"timestamp", "1000500"}}, "user");
      },
      ErrorKind::Unsupported, {"known user", "layers", "new user"});
}

// A warm start (latent train --init) of a model with context continues its
// user tower, context rows included, and encodes the new pairs' times as
// the saved model did (its statistics and buckets, not the new data's).
TEST(QueryContext, AWarmStartContinuesTheContextTower) {
  const Dataset data = dataset_from_columns(era_columns());
  FitOptions o;
  // Adagrad restarts its accumulators in a warm start (the model file does
  // not keep them): a rate that layers take calmly from a fresh start.
  o.params = {{"epochs", "8"},  {"dim", "16"},      {"learning-rate", "0.05"},
              {"threads", "1"}, {"layers", "16,8"}, {"negatives", "catalog"}};
  o.context_features = kTimestamp;
  const FitResult base = fit(data, o);
  const ModelData& before = base.model.model();

  // New pairs of the late era, a month on, and of a new user.
  ColumnData c = era_columns();
  for (auto& t : c.timestamps) t += 2'600'000;
  c.users.push_back("u_new");
  c.items.push_back("i30");
  c.timestamps.push_back(3'600'000);
  const Dataset fresh = dataset_from_columns(c);
  FitOptions w;
  w.params = {{"epochs", "1"}, {"threads", "1"}, {"learning-rate", "1e-9"}};
  w.init = &before;
  w.init_name = "--init context.latent";
  w.context_features = kTimestamp;
  const FitResult still = fit(fresh, w);
  const ModelData& after = still.model.model();
  EXPECT_EQ(after.training["warm_start"]["new_users"], 1);
  ASSERT_TRUE(after.user_tower);
  // The saved encoder: the fresh times' own quantiles would be others.
  EXPECT_EQ(after.user_tower->encoder.to_json(), before.user_tower->encoder.to_json());
  EXPECT_NE(QueryContext::fit(kTimestamp, fresh.interactions, nullptr, "fresh").encoder.to_json(),
            before.user_tower->encoder.to_json());
  const TowerParams& p0 = before.user_tower->params;
  const TowerParams& p1 = after.user_tower->params;
  EXPECT_LT(test::largest_difference(p0.feature_table, p1.feature_table), 1e-5f);
  ASSERT_EQ(p0.weights.size(), p1.weights.size());
  for (std::size_t l = 0; l < p0.weights.size(); ++l) {
    EXPECT_LT(test::largest_difference(p0.weights[l], p1.weights[l]), 1e-5f);
    EXPECT_LT(test::largest_difference(p0.biases[l], p1.biases[l]), 1e-5f);
  }
  ASSERT_EQ(p1.id_table.rows(), p0.id_table.rows() + 1);
  for (std::int64_t r = 0; r < p0.id_table.rows(); ++r) {
    for (std::int64_t j = 0; j < p0.id_table.cols(); ++j) {
      EXPECT_NEAR(p0.id_table.row(r)[j], p1.id_table.row(r)[j], 1e-5f);
    }
  }
  // A known user's query in a context is the saved model's.
  const std::vector<FeatureValue> late{{"timestamp", "1000500"}};
  const std::int32_t u = base.model.user_row("u7");
  const std::vector<float> v0 = base.model.user_vector_in_context(u, late);
  const std::vector<float> v1 = still.model.user_vector_in_context(u, late);
  ASSERT_EQ(v0.size(), v1.size());
  for (std::size_t j = 0; j < v0.size(); ++j) EXPECT_NEAR(v0[j], v1[j], 1e-4f);

  // Trained on the same data again from the saved model, it starts where
  // the saved training ended.
  test::expect_continued(base, data, w);
}

// era_columns with each pair's era as a device of its own ("phone" for the
// early era, "tv" for the late one) instead of its time.
ColumnData device_columns() {
  ColumnData c = era_columns();
  ContextColumn device{"device", {}};
  for (const std::int64_t t : c.timestamps)
    device.values.emplace_back(t < 1'000'000 ? "phone" : "tv");
  c.timestamps.clear();
  c.context.push_back(std::move(device));
  return c;
}

TEST(QueryContext, AColumnOfTheDataIsAContextFeatureToo) {
  const Dataset data = dataset_from_columns(device_columns());
  const std::vector<FeatureColumn> device = parse_feature_columns("device:categorical");
  const Split split = random_split(data.interactions, 0.2, 7);
  const QueryContext context = QueryContext::fit(device, split.train, &split.test, "devices");
  EXPECT_EQ(context.train.rows(), static_cast<std::int64_t>(split.train.size()));
  const TwoTowerResult with =
      train_two_tower(split.train, &split.test, config(), {}, {}, {}, {nullptr, nullptr, &context});
  const TwoTowerResult without = train_two_tower(split.train, &split.test, config());
  EXPECT_GE(test_top_20(with), 0.9);
  EXPECT_GT(test_top_20(with), test_top_20(without) + 0.15)
      << test_top_20(with) << " vs " << test_top_20(without);

  // Through fit and a model file: the device of the request picks the era,
  // and the evaluation ranks each test pair on its own device.
  FitOptions o;
  o.params = {{"epochs", "30"},
              {"dim", "16"},
              {"learning-rate", "0.2"},
              {"threads", "1"},
              {"negatives", "catalog"}};
  o.context_features = device;
  o.test_fraction = 0.2;
  const FitResult fitted = fit(data, o);
  EXPECT_EQ(fitted.model.model().training.at("context_features"), "device:categorical");
  const test::TempDir dir;
  fitted.model.save(dir / "device.latent");
  const Recommender r = Recommender::load(dir / "device.latent");
  RecommendOptions ro;
  ro.k = 10;
  ro.exclude_seen = false;
  const std::int32_t u = r.user_row("u7");
  EXPECT_GE(
      late_share(r, r.recommend_in_context(u, std::vector<FeatureValue>{{"device", "tv"}}, ro)),
      0.9);
  EXPECT_LE(
      late_share(r, r.recommend_in_context(u, std::vector<FeatureValue>{{"device", "phone"}}, ro)),
      0.1);
  // A device training never saw is OOV: the query is the user's alone.
  EXPECT_EQ(r.recommend_in_context(u, std::vector<FeatureValue>{{"device", "watch"}}, ro).k, 10);

  const Split again = random_split(data.interactions, 0.2, 42);
  const EvaluationResult e = evaluate(r.model(), again.train, again.test, {});
  EXPECT_TRUE(e.factorized_top_k_in_context);
}

TEST(QueryContext, WhatCannotWorkIsRefusedByName) {
  const Dataset data = dataset_from_columns(era_columns());
  const Split split = random_split(data.interactions, 0.2, 7);
  expect_error(
      [&] {
        (void)QueryContext::fit(parse_feature_columns("hour:numeric"), split.train, nullptr, "x");
      },
      ErrorKind::InvalidArgument, {"hour:numeric", "x's training pairs", "no column \"hour\""});
  Interactions no_time = split.train;
  no_time.timestamps.clear();
  expect_error([&] { (void)QueryContext::fit(kTimestamp, no_time, nullptr, "ratings.csv"); },
               ErrorKind::InvalidArgument, {"ratings.csv", "no timestamps"});

  // Context rows that are not one per pair.
  const QueryContext context = QueryContext::fit(kTimestamp, split.train, nullptr, "eras");
  expect_error(
      [&] {
        (void)train_two_tower(split.train, &split.test, config(), {}, {}, {},
                              {nullptr, nullptr, &context});
      },
      ErrorKind::InvalidArgument, {"0 test rows", "test pairs"});

  // A context column named as a user feature.
  FeatureTable users;
  users.columns = parse_feature_columns("timestamp:numeric");
  users.values.resize(1);
  for (int u = 1; u <= kUsers; ++u) {
    users.ids.push_back(fmt::format("u{}", u));
    users.values[0].push_back("1");
  }
  FitOptions o;
  o.params = {{"epochs", "1"}};
  o.user_features = &users;
  o.context_features = kTimestamp;
  expect_error([&] { (void)fit(data, o); }, ErrorKind::InvalidArgument,
               {"\"timestamp\"", "declared twice"});

  // Context at query time: for a model with context, only its context
  // columns; for a model without, nothing.
  FitOptions with;
  with.params = {{"epochs", "1"}};
  with.context_features = kTimestamp;
  const FitResult fitted = fit(data, with);
  const std::vector<FeatureValue> hour{{"hour", "3"}},
      twice{{"timestamp", "1"}, {"timestamp", "2"}};
  expect_error([&] { (void)fitted.model.user_vector_in_context(1, hour); },
               ErrorKind::InvalidArgument, {"\"hour\"", "context features: timestamp"});
  expect_error([&] { (void)fitted.model.user_vector_in_context(1, twice); },
               ErrorKind::InvalidArgument, {"\"timestamp\"", "twice"});
  expect_error([&] { (void)fitted.model.user_vector_in_context(999, {}); },
               ErrorKind::InvalidArgument, {"999", "out of range"});
  FitOptions plain;
  plain.params = {{"epochs", "1"}};
  const FitResult id_only = fit(data, plain);
  expect_error([&] { (void)id_only.model.user_vector_in_context(1, hour); },
               ErrorKind::InvalidArgument, {"no context features", "\"hour\""});

  // A warm start keeps the saved context columns: not without them, not
  // other ones, and none added to a model trained without.
  FitOptions warm = with;
  warm.init = &fitted.model.model();
  warm.init_name = "--init context.latent";
  warm.context_features = {};
  expect_error(
      [&] { (void)fit(data, warm); }, ErrorKind::InvalidArgument,
      {"--init context.latent", "context features timestamp:timestamp:buckets=4", "give them"});
  warm.context_features = parse_feature_columns("timestamp:timestamp:buckets=8");
  expect_error(
      [&] { (void)fit(data, warm); }, ErrorKind::InvalidArgument,
      {"timestamp:timestamp:buckets=8", "not the trained ones", "timestamp:timestamp:buckets=4"});
  warm.init = &id_only.model.model();
  warm.context_features = kTimestamp;
  expect_error([&] { (void)fit(data, warm); }, ErrorKind::InvalidArgument,
               {"--init context.latent", "no context features", "train afresh"});

  // A model that takes no features.
  FitOptions als;
  als.model = "als";
  als.context_features = kTimestamp;
  expect_error([&] { (void)fit(data, als); }, ErrorKind::InvalidArgument,
               {"als", "context features", "two-tower"});
}

}  // namespace
}  // namespace latent
