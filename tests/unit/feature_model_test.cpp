// Two-tower over side features (issue 16), end to end through fit(): towers
// learn from features, users and items training did not see get vectors from
// their features (cold start), the model file keeps the towers, and what
// cannot work is refused by name.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <latent/dataset.hpp>
#include <latent/error.hpp>
#include <latent/features.hpp>
#include <latent/fit.hpp>
#include <latent/model_file.hpp>
#include <latent/random.hpp>
#include <latent/recommender.hpp>

#include "test_support.hpp"
#include "unit/warm_start_check.hpp"

namespace latent {
namespace {

using test::expect_error;
using test::largest_difference;

constexpr int kUsers = 60, kItems = 45;
const char* const kGroups[] = {"a", "b", "c"};

// User u belongs to group u % 3, item i to category (i - 1) % 3; each user
// has 8 items of their own group's category.
std::string group_of_user(int u) { return kGroups[u % 3]; }
std::string category_of_item(int i) { return kGroups[(i - 1) % 3]; }

Dataset grouped_data() {
  ColumnData c;
  Rng rng(11);
  for (int u = 1; u <= kUsers; ++u) {
    for (int j = 0; j < 8; ++j) {
      int i = 1 + static_cast<int>(rng.uniform() * (kItems / 3)) * 3 + (u % 3);
      if (i > kItems) i -= 3;
      c.users.push_back(fmt::format("u{}", u));
      c.items.push_back(fmt::format("i{}", i));
    }
  }
  return dataset_from_columns(c);
}

// Item features of every item and of two items no user has ("new_a" and
// "new_b"); a year that says nothing, to be learned around.
FeatureTable item_table() {
  FeatureTable t;
  t.columns = parse_feature_columns("category:categorical,year:numeric:buckets=4");
  t.source = "items.csv";
  t.values.resize(2);
  for (int i = 1; i <= kItems; ++i) {
    t.ids.push_back(fmt::format("i{}", i));
    t.values[0].push_back(category_of_item(i));
    t.values[1].push_back(std::to_string(1990 + i % 7));
  }
  for (const char* g : {"a", "b"}) {
    t.ids.push_back(fmt::format("new_{}", g));
    t.values[0].push_back(g);
    t.values[1].push_back("1993");
  }
  return t;
}

FeatureTable user_table() {
  FeatureTable t;
  t.columns = parse_feature_columns("group:categorical,age:numeric");
  t.source = "users.csv";
  t.values.resize(2);
  for (int u = 1; u <= kUsers; ++u) {
    t.ids.push_back(fmt::format("u{}", u));
    t.values[0].push_back(group_of_user(u));
    t.values[1].push_back(std::to_string(20 + u % 30));
  }
  return t;
}

FitOptions options(Params params) {
  FitOptions o;
  o.model = "two-tower";
  params.set("epochs", "20");
  params.set("learning-rate", "0.2");
  params.set("dim", "16");
  params.set("threads", "1");
  o.params = std::move(params);
  return o;
}

// The share of the top 10 whose item is of `category`.
double share_of(const Recommender& r, const TopK& top, const std::string& category) {
  int hits = 0;
  for (std::int32_t k = 0; k < top.k; ++k) {
    const std::string id(r.item_id(top.items[static_cast<std::size_t>(k)]));
    hits += category_of_item(std::stoi(id.substr(1))) == category ? 1 : 0;
  }
  return static_cast<double>(hits) / top.k;
}

TEST(FeatureModel, ItemsWithoutIdsGetVectorsFromTheirFeatures) {
  const FeatureTable items = item_table();
  FitOptions o = options({{"item-ids", "false"}});
  o.item_features = &items;
  const FitResult fitted = fit(grouped_data(), o);
  const Recommender& r = fitted.model;
  ASSERT_TRUE(r.model().item_tower);
  EXPECT_FALSE(r.model().user_tower);
  // A new item of category b is like the items of category b.
  SimilarOptions so;
  so.k = 10;
  const std::vector<FeatureValue> new_b{{"category", "b"}, {"year", "1993"}};
  EXPECT_EQ(share_of(r, r.similar_to_features(new_b, so), "b"), 1.0);
  // And known users of group b rank it above a new item of category a.
  const std::vector<float> vb = r.item_vector_from_features(new_b);
  const std::vector<float> va =
      r.item_vector_from_features(std::vector<FeatureValue>{{"category", "a"}});
  int right = 0, asked = 0;
  for (int u = 1; u <= kUsers; ++u) {
    if (group_of_user(u) == "c") continue;
    ++asked;
    const auto user = r.model().user_embeddings.row(r.user_row(fmt::format("u{}", u)));
    double sa = 0, sb = 0;
    for (std::size_t j = 0; j < user.size(); ++j) {
      sa += static_cast<double>(user[j]) * va[j];
      sb += static_cast<double>(user[j]) * vb[j];
    }
    right += (group_of_user(u) == "a") == (sa > sb) ? 1 : 0;
  }
  EXPECT_GE(right, asked * 9 / 10) << right << " of " << asked;
  // A known item's vector is its row of the embeddings, the tower's output.
  EXPECT_EQ(r.model().training.at("item_features").at("columns"),
            "category:categorical,year:numeric:buckets=4");
}

TEST(FeatureModel, NewUsersGetRecommendationsFromTheirFeatures) {
  const FeatureTable users = user_table();
  for (const char* layers : {"", "32,12"}) {
    SCOPED_TRACE(layers);
    FitOptions o = options({{"user-ids", "false"}, {"layers", layers}});
    o.user_features = &users;
    const FitResult fitted = fit(grouped_data(), o);
    const Recommender& r = fitted.model;
    EXPECT_EQ(r.dim(), std::string(layers).empty() ? 16 : 12);
    RecommendOptions ro;
    ro.k = 10;
    ro.exclude_seen = true;  // a new user has seen nothing
    for (const char* g : {"a", "b", "c"}) {
      const std::vector<FeatureValue> user{{"group", g}, {"age", "31"}};
      EXPECT_GE(share_of(r, r.recommend_for_features(user, ro), g), 0.9) << g;
    }
  }
}

// dropout= on a column changes training alone: the same seed trains the
// same model again, the model file keeps the declaration, and the features
// still say what the items are.
TEST(FeatureModel, ColumnDropoutTrainsReproduciblyAndIsKept) {
  FeatureTable items = item_table();
  items.columns =
      parse_feature_columns("category:categorical:dropout=0.1,year:numeric:buckets=4:dropout=0.5");
  FitOptions o = options({{"item-ids", "false"}});
  o.item_features = &items;
  const FitResult a = fit(grouped_data(), o);
  const FitResult b = fit(grouped_data(), o);
  const auto va = a.model.model().item_embeddings.values();
  const auto vb = b.model.model().item_embeddings.values();
  EXPECT_TRUE(std::equal(va.begin(), va.end(), vb.begin(), vb.end()));
  const FeatureTable plain = item_table();
  o.item_features = &plain;
  const FitResult without = fit(grouped_data(), o);
  const auto vw = without.model.model().item_embeddings.values();
  EXPECT_FALSE(std::equal(va.begin(), va.end(), vw.begin(), vw.end()));
  EXPECT_EQ(a.model.model().training.at("item_features").at("columns"),
            "category:categorical:dropout=0.1,year:numeric:buckets=4:dropout=0.5");
  SimilarOptions so;
  so.k = 10;
  const std::vector<FeatureValue> new_b{{"category", "b"}, {"year", "1993"}};
  EXPECT_EQ(share_of(a.model, a.model.similar_to_features(new_b, so), "b"), 1.0);
  const test::TempDir dir;
  a.model.save(dir.path() / "dropout.latent");
  const Recommender loaded = Recommender::load(dir.path() / "dropout.latent");
  EXPECT_EQ(loaded.item_vector_from_features(new_b), a.model.item_vector_from_features(new_b));
  EXPECT_EQ(loaded.model().item_tower->encoder.columns()[1].column.dropout, 0.5f);
}

TEST(FeatureModel, TheModelFileKeepsTheTowers) {
  const FeatureTable users = user_table();
  const FeatureTable items = item_table();
  FitOptions o = options({{"layers", "24,8"}, {"epochs", "2"}});
  o.user_features = &users;
  o.item_features = &items;
  const FitResult fitted = fit(grouped_data(), o);
  const test::TempDir dir;
  const std::filesystem::path path = dir.path() / "towers.latent";
  fitted.model.save(path);
  const Recommender loaded = Recommender::load(path);
  EXPECT_EQ(model_format_version(loaded.model()), 4);
  EXPECT_EQ(loaded.dim(), 8);
  const std::vector<FeatureValue> item{{"category", "c"}, {"year", "1995"}};
  const std::vector<FeatureValue> user{{"group", "c"}};
  EXPECT_EQ(loaded.item_vector_from_features(item), fitted.model.item_vector_from_features(item));
  EXPECT_EQ(loaded.user_vector_from_features(user), fitted.model.user_vector_from_features(user));
  const auto a = loaded.model().item_embeddings.values();
  const auto b = fitted.model.model().item_embeddings.values();
  EXPECT_TRUE(std::equal(a.begin(), a.end(), b.begin(), b.end()));
}

TEST(FeatureModel, IdOnlyModelsAreWhatTheyWere) {
  // Without features, layers or switched-off ids, nothing of the towers is
  // made, and the file is of the version older builds read.
  const FitResult fitted = fit(grouped_data(), options({{"epochs", "1"}}));
  EXPECT_FALSE(fitted.model.model().user_tower);
  EXPECT_FALSE(fitted.model.model().item_tower);
  EXPECT_EQ(model_format_version(fitted.model.model()), 1);
  EXPECT_FALSE(fitted.model.model().config.contains("layers"));
}

// A warm start continues the towers and the rating network where the saved
// model left them: with a learning rate too small to move them, every saved
// parameter stays (within 1e-5), the new user's and item's id rows are
// fresh, and the features are encoded as they were. With the usual rate it
// goes on training: its loss starts where the saved model's ended.
TEST(FeatureModel, AWarmStartContinuesTheTowersAndTheRatingNetwork) {
  Dataset data = grouped_data();
  data.interactions.ratings.assign(data.interactions.size(), 4.0f);
  for (std::size_t k = 0; k < data.interactions.size(); k += 3) data.interactions.ratings[k] = 2;
  const FeatureTable items = item_table();
  const FeatureTable users = user_table();
  FitOptions o = options({{"layers", "16,8"}, {"rating-weight", "1"}, {"rating-layers", "8"}});
  o.item_features = &items;
  o.user_features = &users;
  const FitResult base = fit(data, o);
  const ModelData& before = base.model.model();

  // New pairs: a new user (without a row in the user features) and the new
  // item "new_a" (with one in the item features).
  ColumnData c;
  for (int u = 1; u <= 6; ++u) {
    for (const char* i : {"i1", "i4", "new_a"}) {
      c.users.push_back(fmt::format("u{}", u));
      c.items.push_back(i);
      c.ratings.push_back(4);
    }
  }
  c.users.push_back("u_new");
  c.items.push_back("i7");
  c.ratings.push_back(5);
  const Dataset fresh = dataset_from_columns(c);

  FitOptions w;
  w.params = {{"epochs", "1"}, {"threads", "1"}, {"learning-rate", "1e-9"}};
  w.init = &before;
  w.init_name = "--init towers.latent";
  w.item_features = &items;
  w.user_features = &users;
  const FitResult still = fit(fresh, w);
  const ModelData& after = still.model.model();
  EXPECT_EQ(after.config["layers"], before.config["layers"]);  // the saved ones, not given
  EXPECT_EQ(after.training["warm_start"]["new_users"], 1);
  EXPECT_EQ(after.training["warm_start"]["new_items"], 1);
  ASSERT_TRUE(after.user_tower && after.item_tower && after.rating_head);
  for (const auto side : {&ModelData::user_tower, &ModelData::item_tower}) {
    const TowerParams& p0 = (before.*side)->params;
    const TowerParams& p1 = (after.*side)->params;
    EXPECT_LT(largest_difference(p0.feature_table, p1.feature_table), 1e-5f);
    for (std::size_t l = 0; l < p0.weights.size(); ++l) {
      EXPECT_LT(largest_difference(p0.weights[l], p1.weights[l]), 1e-5f);
      EXPECT_LT(largest_difference(p0.biases[l], p1.biases[l]), 1e-5f);
    }
    // The saved ids' rows, then one fresh (random, not zero) row.
    ASSERT_EQ(p1.id_table.rows(), p0.id_table.rows() + 1);
    for (std::int64_t r = 0; r < p0.id_table.rows(); ++r) {
      for (std::int64_t j = 0; j < p0.id_table.cols(); ++j) {
        EXPECT_NEAR(p0.id_table.row(r)[j], p1.id_table.row(r)[j], 1e-5f);
      }
    }
    const auto last = p1.id_table.row(p1.id_table.rows() - 1);
    EXPECT_TRUE(std::any_of(last.begin(), last.end(), [](float v) { return v != 0; }));
    // The encoder is the saved one: its vocabularies and statistics.
    EXPECT_EQ((after.*side)->encoder.to_json(), (before.*side)->encoder.to_json());
  }
  for (std::size_t l = 0; l < before.rating_head->weights.size(); ++l) {
    EXPECT_LT(largest_difference(before.rating_head->weights[l], after.rating_head->weights[l]),
              1e-5f);
  }
  // The saved items' vectors are the saved ones, as their tower makes them.
  for (std::int32_t r = 1; r < before.items.size(); ++r) {
    for (std::int64_t j = 0; j < before.item_embeddings.cols(); ++j) {
      EXPECT_NEAR(before.item_embeddings.row(r)[j], after.item_embeddings.row(r)[j], 1e-4f);
    }
  }

  // Trained on the same data again from the saved model, it starts where
  // the saved training ended.
  test::expect_continued(base, data, w);

  // An id model warm-started with item features (no layers): the items'
  // id rows start from the saved vectors, the features' rows fresh.
  const FitResult ids = fit(data, options({{"epochs", "3"}}));
  FitOptions add = w;
  add.init = &ids.model.model();
  add.user_features = nullptr;
  const FitResult hybrid = fit(fresh, add);
  ASSERT_TRUE(hybrid.model.model().item_tower);
  ASSERT_FALSE(hybrid.model.model().user_tower);
  const Matrix& saved_items = ids.model.model().item_embeddings;
  const Matrix& id_rows = hybrid.model.model().item_tower->params.id_table;
  for (std::int64_t r = 1; r < saved_items.rows(); ++r) {
    for (std::int64_t j = 0; j < saved_items.cols(); ++j) {
      EXPECT_NEAR(saved_items.row(r)[j], id_rows.row(r)[j], 1e-5f);
    }
  }
}

TEST(FeatureModel, WhatCannotWorkIsRefusedByName) {
  const Dataset data = grouped_data();
  const FeatureTable users = user_table();
  const FitResult plain = fit(data, options({{"epochs", "1"}}));
  const std::vector<FeatureValue> age{{"age", "30"}};
  expect_error([&] { (void)plain.model.user_vector_from_features(age); },
               ErrorKind::InvalidArgument, {"no user features", "\"age\""});
  expect_error([&] { (void)plain.model.similar_to_features(age, {}); }, ErrorKind::InvalidArgument,
               {"no item features", "\"age\""});

  // Layers without features: towers over ids alone, which know no features.
  const FitResult deep = fit(data, options({{"layers", "8"}, {"epochs", "1"}}));
  ASSERT_TRUE(deep.model.model().user_tower);
  expect_error([&] { (void)deep.model.user_vector_from_features(age); }, ErrorKind::InvalidArgument,
               {"no user features", "\"age\""});

  FitOptions o = options({{"user-ids", "false"}, {"epochs", "1"}});
  o.user_features = &users;
  const FitResult fitted = fit(data, o);
  const std::vector<FeatureValue> zip{{"zip", "02138"}};
  expect_error([&] { (void)fitted.model.user_vector_from_features(zip); },
               ErrorKind::InvalidArgument, {"\"zip\"", "group, age"});
  const std::vector<FeatureValue> bad_age{{"age", "old"}};
  expect_error([&] { (void)fitted.model.user_vector_from_features(bad_age); },
               ErrorKind::InvalidArgument, {"age", "old"});
  const std::vector<FeatureValue> twice{{"age", "3"}, {"age", "4"}};
  expect_error([&] { (void)fitted.model.user_vector_from_features(twice); },
               ErrorKind::InvalidArgument, {"age", "twice"});

  // A warm start of a model with towers needs their features, not trained
  // as id tables (a model with ids and item features has a config like an
  // id model's), and the same columns; a model with context is refused.
  const FeatureTable items = item_table();
  FitOptions with_items = options({{"epochs", "1"}});
  with_items.item_features = &items;
  const FitResult hybrid = fit(data, with_items);
  FitOptions warm = options({{"epochs", "1"}});
  warm.init = &hybrid.model.model();
  warm.init_name = "--init towers.latent";
  expect_error([&] { (void)fit(data, warm); }, ErrorKind::InvalidArgument,
               {"--init towers.latent", "item tower takes the item features",
                "category:categorical,year:numeric:buckets=4"});
  FeatureTable fewer = items;
  fewer.columns.pop_back();
  fewer.values.pop_back();
  warm.item_features = &fewer;
  expect_error([&] { (void)fit(data, warm); }, ErrorKind::InvalidArgument,
               {"items.csv", "category:categorical", "not the trained ones"});
  warm.item_features = nullptr;
  const FitResult deep_ids = fit(data, options({{"layers", "8"}, {"epochs", "1"}}));
  warm.init = &deep_ids.model.model();
  warm.item_features = &items;
  expect_error([&] { (void)fit(data, warm); }, ErrorKind::InvalidArgument,
               {"item tower takes no item features", "train afresh"});

  FitOptions als = o;
  als.model = "als";
  als.params = {};
  expect_error([&] { (void)fit(data, als); }, ErrorKind::InvalidArgument,
               {"als", "takes no side features", "users.csv", "two-tower"});
  expect_error(
      [&] {
        (void)fit(data, options({{"item-ids", "false"}}));
      },
      ErrorKind::InvalidArgument, {"item-ids", "no features"});
  FitOptions bad_layers = options({{"layers", "16,0"}});
  expect_error([&] { (void)fit(data, bad_layers); }, ErrorKind::InvalidArgument, {"layers"});
  // A malformed value is an error wherever it is in the table.
  FeatureTable broken = users;
  broken.values[1][4] = "forty";
  o.user_features = &broken;
  expect_error([&] { (void)fit(data, o); }, ErrorKind::InvalidArgument, {"users.csv", "forty"});
}

}  // namespace
}  // namespace latent
