// :predict of (user, item) pairs (issue 16): a model trained with the
// rating task answers each pair's predicted rating, as TF Serving answers a
// TFRS ranking model; bad pairs are a 400 and the server keeps serving.
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "server/server_fixture.hpp"

namespace latent::test {
namespace {

using nlohmann::json;

// The two-group fixture with ratings: a user's own group's items get 5,
// the others 1. (Whether the head learns ratings is the CLI tests' part.)
Recommender rating_model() {
  Dataset d = tiny_dataset();
  const Interactions& x = d.interactions;
  for (std::size_t k = 0; k < x.size(); ++k) {
    const bool first_users = std::stoi(std::string(d.users.id(x.users[k])).substr(1)) <= 15;
    const bool first_items = std::stoi(std::string(d.items.id(x.items[k])).substr(1)) <= 10;
    d.interactions.ratings.push_back(first_users == first_items ? 5.0f : 1.0f);
  }
  FitOptions o;
  o.model = "two-tower";
  o.params = {{"dim", "8"},           {"epochs", "10"},        {"threads", "1"},
              {"rating-weight", "1"}, {"rating-layers", "16"}, {"learning-rate", "0.2"}};
  return fit(d, o).model;
}

class ServerPredictPairs : public ::testing::Test {
 protected:
  ServerPredictPairs() {
    const auto file = save_version(dir_ / "movies", 1, rating_model());
    oracle_ = std::make_unique<Recommender>(Recommender::load(file));
    server_ = std::make_unique<TestServer>(dir_ / "movies");
  }
  float expected(const std::string& user, const std::string& item) const {
    const std::vector<std::int32_t> u{oracle_->user_row(user)}, i{oracle_->item_row(item)};
    return oracle_->predict(u, i, 1).at(0);
  }
  TempDir dir_;
  std::unique_ptr<Recommender> oracle_;
  std::unique_ptr<TestServer> server_;
};

TEST_F(ServerPredictPairs, RowsAndColumnsGiveThePredictedRatings) {
  ASSERT_TRUE(oracle_->predicts_ratings());
  auto c = server_->client();
  const Reply rows = post(
      c, "/v1/models/movies:predict",
      json{{"instances",
            {{{"input_1", "u1"}, {"input_2", "i2"}}, {{"input_1", "u20"}, {"input_2", "i2"}}}}});
  ASSERT_EQ(rows.status, 200) << rows.text;
  ASSERT_EQ(rows.body["predictions"].size(), 2u);
  EXPECT_NEAR(rows.body["predictions"][0][0].get<double>(), expected("u1", "i2"), 1e-5);
  EXPECT_NEAR(rows.body["predictions"][1][0].get<double>(), expected("u20", "i2"), 1e-5);

  const Reply columns =
      post(c, "/v1/models/movies:predict",
           json{{"inputs", {{"input_1", {"u3", "u30"}}, {"input_2", {"i15", "i15"}}}}});
  ASSERT_EQ(columns.status, 200) << columns.text;
  EXPECT_NEAR(columns.body["outputs"][0][0].get<double>(), expected("u3", "i15"), 1e-5);
  EXPECT_NEAR(columns.body["outputs"][1][0].get<double>(), expected("u30", "i15"), 1e-5);
  // Top-k requests are answered as before.
  const Reply top = post(c, "/v1/models/movies:predict", json{{"instances", {"u1"}}});
  ASSERT_EQ(top.status, 200) << top.text;
  EXPECT_TRUE(top.body["predictions"][0].contains("output_2"));
}

TEST_F(ServerPredictPairs, BadPairsAre400AndTheServerKeepsServing) {
  auto c = server_->client();
  const auto expect_400 = [&](const json& body, const std::string& part) {
    const Reply r = post(c, "/v1/models/movies:predict", body);
    EXPECT_EQ(r.status, 400) << body.dump() << " -> " << r.text;
    EXPECT_NE(r.body.value("error", "").find(part), std::string::npos) << r.text;
  };
  expect_400(json{{"instances", {{{"input_1", "u1"}, {"input_2", "nope"}}}}}, "\"nope\"");
  expect_400(json{{"instances", {{{"input_1", "ghost"}, {"input_2", "i1"}}}}}, "\"ghost\"");
  expect_400(json{{"instances", {{{"input_1", "u1"}, {"input_2", "i1"}}, "u2"}}},
             "instances[1]: a request of pairs");
  expect_400(json{{"instances", {{{"input_1", "u1"}, {"input_2", {1, 2}}}}}},
             "instances[0].input_2 must be a string or integer id");
  expect_400(json{{"inputs", {{"input_1", {"u1", "u2"}}, {"input_2", {"i1"}}}}},
             "2 users for 1 items");
  expect_400(json{{"inputs", {{"input_1", {"u1"}}, {"input_2", {"i1"}}, {"x", 1}}}},
             "exactly \"input_1\"");
  const Reply ok = post(c, "/v1/models/movies:predict",
                        json{{"instances", {{{"input_1", "u1"}, {"input_2", "i1"}}}}});
  EXPECT_EQ(ok.status, 200) << ok.text;
}

TEST(ServerPredictPairsWithoutRatings, AModelWithoutARatingHeadGivesItsRankingScores) {
  TempDir dir;
  const auto file = save_version(dir.path() / "movies", 1, tiny_model("als"));
  const Recommender oracle = Recommender::load(file);
  TestServer server(dir.path() / "movies");
  auto c = server.client();
  const Reply r = post(c, "/v1/models/movies:predict",
                       json{{"instances", {{{"input_1", "u1"}, {"input_2", "i3"}}}}});
  ASSERT_EQ(r.status, 200) << r.text;
  const std::vector<std::int32_t> u{oracle.user_row("u1")}, i{oracle.item_row("i3")};
  EXPECT_NEAR(r.body["predictions"][0][0].get<double>(), oracle.predict(u, i, 1).at(0), 1e-5);
}

}  // namespace
}  // namespace latent::test
