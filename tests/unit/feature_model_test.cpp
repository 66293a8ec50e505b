// Two-tower over side features (issue 16), end to end through fit(): towers
// learn from features, users and items training did not see get vectors from
// their features (cold start), the model file keeps the towers, and what
// cannot work is refused by name.
#include <algorithm>
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

namespace latent {
namespace {

using test::expect_error;

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

  // A warm start of a model with towers is refused, not trained as id
  // tables (a model with ids and item features has a config like an id
  // model's).
  const FeatureTable items = item_table();
  FitOptions with_items = options({{"epochs", "1"}});
  with_items.item_features = &items;
  const FitResult hybrid = fit(data, with_items);
  FitOptions warm = options({{"epochs", "1"}});
  warm.init = &hybrid.model.model();
  warm.init_name = "--init towers.latent";
  expect_error([&] { (void)fit(data, warm); }, ErrorKind::InvalidArgument,
               {"--init towers.latent", "not supported yet"});

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
