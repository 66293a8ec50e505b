// Cold start over HTTP (issue 16): a model with towers answers new users
// and items given by their features in :recommend, :similar and :predict,
// as the library does; a model without features answers 400 naming the
// feature, and keeps serving.
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "server/server_fixture.hpp"

namespace latent::test {
namespace {

using nlohmann::json;

// The two-group fixture with each user's group and each item's genres.
Recommender feature_model() {
  FeatureTable users;
  users.columns = parse_feature_columns("group:categorical,age:numeric");
  users.source = "users";
  users.values.resize(2);
  for (int u = 1; u <= 30; ++u) {
    users.ids.push_back(fmt::format("u{}", u));
    users.values[0].push_back(u <= 15 ? "g0" : "g1");
    users.values[1].push_back(std::to_string(20 + u));
  }
  FeatureTable items;
  items.columns = parse_feature_columns("genres:multi");
  items.source = "items";
  items.values.resize(1);
  for (int i = 1; i <= 20; ++i) {
    items.ids.push_back(fmt::format("i{}", i));
    items.values[0].push_back(i <= 10 ? "Drama|Crime" : "Comedy");
  }
  FitOptions o;
  o.model = "two-tower";
  o.params = {{"dim", "8"}, {"epochs", "10"}, {"threads", "1"}, {"learning-rate", "0.2"}};
  o.user_features = &users;
  o.item_features = &items;
  return fit(tiny_dataset(), o).model;
}

class ServerFeatures : public ::testing::Test {
 protected:
  ServerFeatures() {
    const auto file = save_version(dir_ / "movies", 1, feature_model());
    oracle_ = std::make_unique<Recommender>(Recommender::load(file));
    server_ = std::make_unique<TestServer>(dir_ / "movies");
  }
  std::vector<std::string> ids(const TopK& top) const {
    std::vector<std::string> out;
    for (int r = 0; r < top.k; ++r) {
      out.emplace_back(oracle_->item_id(top.items[static_cast<std::size_t>(r)]));
    }
    return out;
  }
  TempDir dir_;
  std::unique_ptr<Recommender> oracle_;
  std::unique_ptr<TestServer> server_;
};

TEST_F(ServerFeatures, RecommendForANewUsersFeatures) {
  RecommendOptions options;
  options.k = 4;
  const std::vector<FeatureValue> user{{"group", "g1"}, {"age", "33"}};
  const TopK top = oracle_->recommend_for_features(user, options);
  auto c = server_->client();
  const Reply r = post(c, "/v1/models/movies:recommend",
                       json{{"user_features", {{"group", "g1"}, {"age", 33}}}, {"k", 4}});
  ASSERT_EQ(r.status, 200) << r.text;
  const json& rec = r.body["recommendations"][0];
  EXPECT_EQ(rec["source"], "features");
  EXPECT_EQ(rec["items"].get<std::vector<std::string>>(), ids(top));
}

TEST_F(ServerFeatures, SimilarToANewItemsFeatures) {
  SimilarOptions options;
  options.k = 3;
  const std::vector<FeatureValue> item{{"genres", "Drama|Crime"}};
  const TopK top = oracle_->similar_to_features(item, options);
  auto c = server_->client();
  // A multi column's value may be a list.
  const Reply r = post(c, "/v1/models/movies:similar",
                       json{{"item_features", {{"genres", {"Drama", "Crime"}}}}, {"k", 3}});
  ASSERT_EQ(r.status, 200) << r.text;
  EXPECT_EQ(r.body["items"].get<std::vector<std::string>>(), ids(top));
}

TEST_F(ServerFeatures, PredictInstancesMayBeNewUsersFeatures) {
  auto c = server_->client();
  const Reply r = post(
      c, "/v1/models/movies:predict",
      json{{"instances",
            json::array({"u3", {{"group", "g0"}}, {{"input_1", "nobody"}, {"group", "g1"}}})}});
  ASSERT_EQ(r.status, 200) << r.text;
  ASSERT_EQ(r.body["predictions"].size(), 3u);
  RecommendOptions options;
  options.k = 10;
  const std::vector<FeatureValue> g0{{"group", "g0"}}, g1{{"group", "g1"}};
  EXPECT_EQ(r.body["predictions"][1]["output_2"].get<std::vector<std::string>>(),
            ids(oracle_->recommend_for_features(g0, options)));
  EXPECT_EQ(r.body["predictions"][2]["output_2"].get<std::vector<std::string>>(),
            ids(oracle_->recommend_for_features(g1, options)));
  const std::int32_t u3 = oracle_->user_row("u3");
  EXPECT_EQ(r.body["predictions"][0]["output_2"].get<std::vector<std::string>>(),
            ids(oracle_->recommend({&u3, 1}, options)));
}

TEST_F(ServerFeatures, BadFeaturesAreA400NamingThem) {
  auto c = server_->client();
  const auto expect_400 = [&](const std::string& path, const json& body, const std::string& part) {
    const Reply r = post(c, path, body);
    EXPECT_EQ(r.status, 400) << r.text;
    EXPECT_NE(r.body.value("error", "").find(part), std::string::npos) << r.text;
  };
  expect_400("/v1/models/movies:recommend", json{{"user_features", {{"zip", "02138"}}}},
             "\"zip\" is not one of the model's user features: group, age");
  expect_400("/v1/models/movies:recommend", json{{"user_features", {{"age", "old"}}}}, "old");
  expect_400("/v1/models/movies:recommend", json{{"user_features", {{"age", {{"x", 1}}}}}},
             "user_features\".age");
  expect_400("/v1/models/movies:recommend", json{{"user_features", "g1"}}, "must be an object");
  expect_400("/v1/models/movies:recommend",
             json{{"user_features", {{"group", "g1"}}}, {"items", {"i1"}}}, "send one");
  expect_400("/v1/models/movies:similar",
             json{{"item", "i1"}, {"item_features", {{"genres", "Comedy"}}}}, "item_features");
  expect_400("/v1/models/movies:similar", json{{"item_features", {{"genres", {1, 2}}}}},
             "must be a string");
  // And it keeps serving.
  const Reply ok = post(c, "/v1/models/movies:similar", json{{"item", "i1"}});
  EXPECT_EQ(ok.status, 200) << ok.text;
}

TEST(ServerFeaturesWithoutThem, AModelWithoutFeaturesNamesTheFeature) {
  TempDir dir;
  save_version(dir / "movies", 1, tiny_model());
  TestServer server(dir / "movies");
  auto c = server.client();
  Reply r = post(c, "/v1/models/movies:recommend", json{{"user_features", {{"age", 30}}}});
  EXPECT_EQ(r.status, 400) << r.text;
  EXPECT_NE(r.body.value("error", "").find("no user features (such as \"age\")"), std::string::npos)
      << r.text;
  r = post(c, "/v1/models/movies:recommend",
           json{{"users", {"u1"}}, {"context", {{"timestamp", 30}}}});
  EXPECT_EQ(r.status, 400) << r.text;
  EXPECT_NE(r.body.value("error", "").find("no context features (such as \"timestamp\")"),
            std::string::npos)
      << r.text;
  r = post(c, "/v1/models/movies:predict", json{{"instances", {{{"age", 30}}}}});
  EXPECT_EQ(r.status, 400) << r.text;
  EXPECT_NE(r.body.value("error", "").find("\"age\" is not an input of this model"),
            std::string::npos)
      << r.text;
  r = post(c, "/v1/models/movies:similar", json{{"item_features", {{"genres", "Drama"}}}});
  EXPECT_EQ(r.status, 400) << r.text;
  EXPECT_NE(r.body.value("error", "").find("no item features (such as \"genres\")"),
            std::string::npos)
      << r.text;
  EXPECT_EQ(post(c, "/v1/models/movies:predict", json{{"instances", {"u1"}}}).status, 200);
}

}  // namespace
}  // namespace latent::test

namespace latent::test {
namespace {

// The ids of `top`'s items, best first.
std::vector<std::string> item_ids(const Recommender& r, const TopK& top) {
  std::vector<std::string> out;
  for (int k = 0; k < top.k; ++k)
    out.emplace_back(r.item_id(top.items[static_cast<std::size_t>(k)]));
  return out;
}

// Items i1..i10 are rated early (times below 1000), i11..i20 late (from
// 1,000,000): a model with the time as its queries' context; with_device
// adds a second context column, a device column of the data that tells the
// eras apart as well ("phone" early, "tv" late).
Recommender context_model(bool with_device = false) {
  ColumnData c;
  ContextColumn device{"device", {}};
  for (int u = 1; u <= 30; ++u) {
    for (int j = 0; j < 8; ++j) {
      const int era = j % 2;
      c.users.push_back(fmt::format("u{}", u));
      c.items.push_back(fmt::format("i{}", 1 + era * 10 + (u + j) % 10));
      c.timestamps.push_back(era * 1'000'000 + u * 10 + j);
      device.values.emplace_back(era == 0 ? "phone" : "tv");
    }
  }
  if (with_device) c.context.push_back(std::move(device));
  FitOptions o;
  o.model = "two-tower";
  o.params = {{"dim", "8"}, {"epochs", "20"}, {"threads", "1"}, {"learning-rate", "0.2"}};
  o.context_features =
      parse_feature_columns(with_device ? "timestamp:timestamp:buckets=4,device:categorical"
                                        : "timestamp:timestamp:buckets=4");
  return fit(dataset_from_columns(c), o).model;
}

TEST(ServerContext, AKnownUsersInstanceMayCarryTheRequestsTime) {
  TempDir dir;
  const auto file = save_version(dir / "movies", 1, context_model());
  const Recommender oracle = Recommender::load(file);
  TestServer server(dir / "movies");
  auto c = server.client();
  const Reply r = post(c, "/v1/models/movies:predict",
                       json{{"instances", json::array({{{"input_1", "u3"}, {"timestamp", 1000400}},
                                                       {{"input_1", "u3"}, {"timestamp", "200"}},
                                                       "u3"})}});
  ASSERT_EQ(r.status, 200) << r.text;
  RecommendOptions options;
  options.k = 10;
  const std::int32_t u3 = oracle.user_row("u3");
  const auto ids = [&](const TopK& top) { return item_ids(oracle, top); };
  const auto at = [&](std::size_t q) {
    return r.body["predictions"][q]["output_2"].get<std::vector<std::string>>();
  };
  const std::vector<FeatureValue> late{{"timestamp", "1000400"}}, early{{"timestamp", "200"}};
  EXPECT_EQ(at(0), ids(oracle.recommend_in_context(u3, late, options)));
  EXPECT_EQ(at(1), ids(oracle.recommend_in_context(u3, early, options)));
  EXPECT_NE(at(0), at(1));
  EXPECT_EQ(at(2), ids(oracle.recommend({&u3, 1}, options)));
  // A time that is not one is a 400 naming it, and the server goes on.
  const Reply bad =
      post(c, "/v1/models/movies:predict",
           json{{"instances", json::array({{{"input_1", "u3"}, {"timestamp", "soon"}}})}});
  EXPECT_EQ(bad.status, 400) << bad.text;
  EXPECT_NE(bad.body.value("error", "").find("soon"), std::string::npos) << bad.text;
  EXPECT_EQ(post(c, "/v1/models/movies:predict", json{{"instances", {"u1"}}}).status, 200);
}

// :recommend's "context" is the request's: each listed user's query in it,
// and a new user's features with it; what cannot take it is a 400.
TEST(ServerContext, RecommendTakesTheRequestsContext) {
  TempDir dir;
  const auto file = save_version(dir / "movies", 1, context_model());
  const Recommender oracle = Recommender::load(file);
  TestServer server(dir / "movies");
  auto c = server.client();
  RecommendOptions options;
  options.k = 5;
  const auto ids = [&](const TopK& top) { return item_ids(oracle, top); };
  const std::vector<FeatureValue> late{{"timestamp", "1000400"}};
  const Reply r =
      post(c, "/v1/models/movies:recommend",
           json{{"users", {"u3", "u7"}}, {"context", {{"timestamp", 1000400}}}, {"k", 5}});
  ASSERT_EQ(r.status, 200) << r.text;
  for (std::size_t q = 0; q < 2; ++q) {
    const auto& rec = r.body["recommendations"][q];
    EXPECT_EQ(rec["source"], "context");
    const std::int32_t row = oracle.user_row(rec["user"].get<std::string>());
    EXPECT_EQ(rec["items"].get<std::vector<std::string>>(),
              ids(oracle.recommend_in_context(row, late, options)));
  }
  // A new user's query: its features (none here but the context) and the time.
  const Reply cold = post(
      c, "/v1/models/movies:recommend",
      json{{"user_features", json::object()}, {"context", {{"timestamp", 1000400}}}, {"k", 5}});
  ASSERT_EQ(cold.status, 200) << cold.text;
  EXPECT_EQ(cold.body["recommendations"][0]["items"].get<std::vector<std::string>>(),
            ids(oracle.recommend_for_features(late, options)));

  const auto error_of = [&](const json& body) {
    const Reply bad = post(c, "/v1/models/movies:recommend", body);
    EXPECT_EQ(bad.status, 400) << bad.text;
    return bad.body.value("error", "");
  };
  EXPECT_NE(error_of(json{{"users", {"u3"}}, {"context", {{"weather", "rain"}}}})
                .find("\"weather\" is not one of the model's context features: timestamp"),
            std::string::npos);
  EXPECT_NE(error_of(json{{"users", {"u3"}}, {"context", {{"timestamp", "soon"}}}}).find("soon"),
            std::string::npos);
  EXPECT_NE(error_of(json{{"items", {"i1"}}, {"context", {{"timestamp", 5}}}}).find("fold-in"),
            std::string::npos);
  EXPECT_NE(error_of(json{{"users", {"u3"}}, {"context", 5}}).find("must be an object"),
            std::string::npos);
  // An empty context is a missing one: the stored vectors' answer.
  const Reply none = post(c, "/v1/models/movies:recommend",
                          json{{"users", {"u3"}}, {"context", json::object()}, {"k", 5}});
  ASSERT_EQ(none.status, 200) << none.text;
  const std::int32_t u3 = oracle.user_row("u3");
  EXPECT_EQ(none.body["recommendations"][0]["source"], "model");
  EXPECT_EQ(none.body["recommendations"][0]["items"].get<std::vector<std::string>>(),
            ids(oracle.recommend({&u3, 1}, options)));
}

TEST(ServerContext, EveryContextColumnOfTheModelMayBeGiven) {
  TempDir dir;
  const auto file = save_version(dir / "movies", 1, context_model(true));
  const Recommender oracle = Recommender::load(file);
  TestServer server(dir / "movies");
  auto c = server.client();
  const Reply r =
      post(c, "/v1/models/movies:predict",
           json{{"instances",
                 json::array({{{"input_1", "u3"}, {"device", "tv"}},
                              {{"input_1", "u3"}, {"device", "phone"}, {"timestamp", 200}}})}});
  ASSERT_EQ(r.status, 200) << r.text;
  RecommendOptions options;
  options.k = 10;
  const std::int32_t u3 = oracle.user_row("u3");
  const auto ids = [&](const TopK& top) { return item_ids(oracle, top); };
  const auto at = [&](std::size_t q) {
    return r.body["predictions"][q]["output_2"].get<std::vector<std::string>>();
  };
  EXPECT_EQ(at(0), ids(oracle.recommend_in_context(u3, std::vector<FeatureValue>{{"device", "tv"}},
                                                   options)));
  EXPECT_EQ(at(1), ids(oracle.recommend_in_context(
                       u3, std::vector<FeatureValue>{{"device", "phone"}, {"timestamp", "200"}},
                       options)));
  EXPECT_NE(at(0), at(1));
  const Reply bad = post(c, "/v1/models/movies:recommend",
                         json{{"users", {"u3"}}, {"context", {{"page", "home"}}}});
  EXPECT_EQ(bad.status, 400) << bad.text;
  EXPECT_NE(bad.body.value("error", "")
                .find("\"page\" is not one of the model's context "
                      "features: timestamp, device"),
            std::string::npos)
      << bad.text;
}

}  // namespace
}  // namespace latent::test
