// Each endpoint of `latent serve` and each of its JSON shapes, over HTTP,
// checked against the library's own answers for the same model file.
#include <set>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include <fmt/format.h>

#include <latent/synth.hpp>

#include "server/server_fixture.hpp"

namespace latent::test {
namespace {

using nlohmann::json;

class RestApiTest : public ::testing::Test {
 protected:
  RestApiTest() {
    model_file_ = save_version(dir_ / "movies", 1, tiny_model());
    oracle_ = std::make_unique<Recommender>(Recommender::load(model_file_));
    server_ = std::make_unique<TestServer>(dir_ / "movies");
  }

  // The library's top-k for `users` of the served file.
  TopK expected(const std::vector<std::string>& users, const RecommendOptions& options) const {
    std::vector<std::int32_t> rows;
    for (const auto& u : users) rows.push_back(oracle_->user_row(u));
    return oracle_->recommend(rows, options);
  }

  // Checks a JSON list of item ids and one of scores against row q of top.
  void expect_row(const json& items, const json& scores, const TopK& top, std::size_t q) const {
    ASSERT_EQ(items.size(), static_cast<std::size_t>(top.k));
    ASSERT_EQ(scores.size(), static_cast<std::size_t>(top.k));
    for (int r = 0; r < top.k; ++r) {
      const std::size_t idx = q * static_cast<std::size_t>(top.k) + static_cast<std::size_t>(r);
      EXPECT_EQ(items[static_cast<std::size_t>(r)].get<std::string>(),
                oracle_->item_id(top.items[idx]));
      EXPECT_EQ(as_float(scores[static_cast<std::size_t>(r)]), top.scores[idx]) << "rank " << r;
    }
  }

  TempDir dir_;
  std::filesystem::path model_file_;
  std::unique_ptr<Recommender> oracle_;
  std::unique_ptr<TestServer> server_;
};

TEST_F(RestApiTest, ModelStatusHasTfServingShape) {
  auto c = server_->client();
  for (const char* path : {"/v1/models/movies", "/v1/models/movies/versions/1"}) {
    const Reply r = get(c, path);
    ASSERT_EQ(r.status, 200) << path << ": " << r.text;
    const json expected =
        json::parse(R"({"model_version_status": [{"version": "1", "state": "AVAILABLE",
        "status": {"error_code": "OK", "error_message": ""}}]})");
    EXPECT_EQ(r.body, expected) << path;
  }
}

TEST_F(RestApiTest, MetadataDescribesABruteForceIndexSignature) {
  auto c = server_->client();
  for (const char* path : {"/v1/models/movies/metadata", "/v1/models/movies/versions/1/metadata"}) {
    const Reply r = get(c, path);
    ASSERT_EQ(r.status, 200) << r.text;
    EXPECT_EQ(r.body["model_spec"]["name"], "movies");
    EXPECT_EQ(r.body["model_spec"]["version"], "1");
    const json& sig = r.body["metadata"]["signature_def"]["signature_def"]["serving_default"];
    EXPECT_EQ(sig["method_name"], "tensorflow/serving/predict");
    EXPECT_EQ(sig["inputs"]["input_1"]["dtype"], "DT_STRING");
    EXPECT_EQ(sig["inputs"]["input_1"]["tensor_shape"]["dim"],
              json::parse(R"([{"size": "-1", "name": ""}])"));
    EXPECT_EQ(sig["outputs"]["output_1"]["dtype"], "DT_FLOAT");
    EXPECT_EQ(sig["outputs"]["output_2"]["dtype"], "DT_STRING");
    const json dims = json::parse(R"([{"size": "-1", "name": ""}, {"size": "10", "name": ""}])");
    EXPECT_EQ(sig["outputs"]["output_1"]["tensor_shape"]["dim"], dims);
    EXPECT_EQ(sig["outputs"]["output_2"]["tensor_shape"]["dim"], dims);
    EXPECT_EQ(r.body["metadata"]["latent"]["kind"], "als");
    EXPECT_EQ(r.body["metadata"]["latent"]["users"], 30);
  }
}

TEST_F(RestApiTest, PredictRowFormatAnswersLikeTheLibrary) {
  RecommendOptions options;
  options.k = 10;
  const TopK top = expected({"u1", "u16", "u7"}, options);
  auto c = server_->client();
  // Plain ids, one {"input_1": id} object, and an integer id (read as its text).
  for (const auto& instances : {json::parse(R"(["u1", "u16", "u7"])"),
                                json::parse(R"([{"input_1": "u1"}, "u16", {"input_1": "u7"}])")}) {
    const Reply r = post(c, "/v1/models/movies:predict", json{{"instances", instances}});
    ASSERT_EQ(r.status, 200) << r.text;
    ASSERT_EQ(r.body.size(), 1u) << r.text;
    const json& p = r.body["predictions"];
    ASSERT_EQ(p.size(), 3u);
    for (std::size_t q = 0; q < 3; ++q) {
      ASSERT_EQ(p[q].size(), 2u);
      expect_row(p[q]["output_2"], p[q]["output_1"], top, q);
    }
  }
  const Reply versioned = post(c, "/v1/models/movies/versions/1:predict",
                               json{{"signature_name", "serving_default"}, {"instances", {"u7"}}});
  ASSERT_EQ(versioned.status, 200) << versioned.text;
  expect_row(versioned.body["predictions"][0]["output_2"],
             versioned.body["predictions"][0]["output_1"], top, 2);
}

TEST_F(RestApiTest, PredictColumnarFormatAnswersLikeTheLibrary) {
  RecommendOptions options;
  const TopK top = expected({"u3", "u20"}, options);
  auto c = server_->client();
  for (const auto& inputs :
       {json::parse(R"(["u3", "u20"])"), json::parse(R"({"input_1": ["u3", "u20"]})")}) {
    const Reply r = post(c, "/v1/models/movies:predict", json{{"inputs", inputs}});
    ASSERT_EQ(r.status, 200) << r.text;
    const json& out = r.body["outputs"];
    ASSERT_EQ(out["output_1"].size(), 2u);
    for (std::size_t q = 0; q < 2; ++q) expect_row(out["output_2"][q], out["output_1"][q], top, q);
  }
}

TEST_F(RestApiTest, RecommendBatchWithFilters) {
  const auto allow_rows = std::vector<std::int32_t>{
      oracle_->item_row("i1"), oracle_->item_row("i2"), oracle_->item_row("i3"),
      oracle_->item_row("i11"), oracle_->item_row("i12")};
  RecommendOptions options;
  options.k = 3;
  options.exclude_seen = true;
  options.allow = allow_rows;
  options.deny = {oracle_->item_row("i2")};
  const TopK top = expected({"u1", "u16"}, options);
  auto c = server_->client();
  const Reply r = post(c, "/v1/models/movies:recommend",
                       json{{"users", {"u1", "u16"}},
                            {"k", 3},
                            {"exclude_seen", true},
                            {"allow", {"i1", "i2", "i3", "i11", "i12"}},
                            {"deny", {"i2"}}});
  ASSERT_EQ(r.status, 200) << r.text;
  EXPECT_EQ(r.body["model_version"], "1");
  const json& recs = r.body["recommendations"];
  ASSERT_EQ(recs.size(), 2u);
  for (std::size_t q = 0; q < 2; ++q) {
    EXPECT_EQ(recs[q]["source"], "model");
    EXPECT_EQ(recs[q]["user"], q == 0 ? "u1" : "u16");
    // Fewer than k items may pass the filters: the answer is shorter, never padded.
    std::size_t valid = 0;
    while (valid < 3 && top.items[q * 3 + valid] >= 0) ++valid;
    ASSERT_EQ(recs[q]["items"].size(), valid);
    for (std::size_t i = 0; i < valid; ++i) {
      EXPECT_EQ(recs[q]["items"][i], oracle_->item_id(top.items[q * 3 + i]));
      EXPECT_NE(recs[q]["items"][i], "i2");
    }
  }
}

// An ALS model of a synthetic catalog (3,000 items) with a deliberately
// sparse graph (m 2), so that the index's effort changes some answers.
Recommender indexed_synth_model() {
  SynthConfig config;
  config.users = 300;
  config.items = 3000;
  config.pairs = 15000;
  const Interactions data = synthesize(config);
  std::vector<std::string> user_ids, item_ids;
  for (std::size_t i = 0; i < data.users.size(); ++i) {
    user_ids.push_back(fmt::format("u{}", data.users[i]));
    item_ids.push_back(fmt::format("i{}", data.items[i]));
  }
  Dataset d;
  d.users = Vocabulary::from_ids(user_ids);
  d.items = Vocabulary::from_ids(item_ids);
  d.interactions.num_users = d.users.size();
  d.interactions.num_items = d.items.size();
  for (std::size_t i = 0; i < user_ids.size(); ++i) {
    d.interactions.users.push_back(d.users.lookup(user_ids[i]));
    d.interactions.items.push_back(d.items.lookup(item_ids[i]));
  }
  FitOptions options;
  options.model = "als";
  options.params = {{"dim", "16"}, {"threads", "1"}};
  Recommender model = fit(d, options).model;
  HnswParams params;
  params.m = 2;
  params.ef_construction = 8;
  params.threads = 1;
  model.build_index(params);
  model.build_similar_index(params);
  return model;
}

// Query q's items in a TopK, as the model's item ids.
std::vector<std::string> item_ids(const Recommender& model, const TopK& top, std::int64_t q) {
  std::vector<std::string> out;
  for (int i = 0; i < top.k; ++i) {
    const std::int32_t item = top.items[static_cast<std::size_t>(q * top.k + i)];
    if (item >= 0) out.emplace_back(model.item_id(item));
  }
  return out;
}

// The model above served with both its indexes, and loaded as the oracle.
class RestApiIndex : public ::testing::Test {
 protected:
  TempDir dir_;
  const std::filesystem::path file_ = save_version(dir_ / "movies", 1, indexed_synth_model());
  const Recommender oracle_ = Recommender::load(file_);
  TestServer server_{dir_ / "movies"};
};

// On a model with an index, :recommend's "exact" searches every item and
// "ef" sets the index's effort: each answer is the library's with the same
// options, and the cheapest effort differs from the exact search for some
// user (so a server ignoring "ef" would fail here).
TEST_F(RestApiIndex, RecommendTakesExactAndEfOnAnIndexedModel) {
  const Recommender& oracle = oracle_;
  ASSERT_NE(oracle.index(), nullptr) << oracle.index_problem();
  auto c = server_.client();
  std::vector<std::string> users;
  std::vector<std::int32_t> rows;
  for (std::int32_t r = 1; r <= 60; ++r) {
    users.emplace_back(oracle.model().users.id(r));
    rows.push_back(r);
  }
  const auto answer = [&](const json& extra) {
    json body = {{"users", users}, {"k", 10}};
    body.update(extra);
    const Reply r = post(c, "/v1/models/movies:recommend", body);
    EXPECT_EQ(r.status, 200) << r.text;
    std::vector<std::vector<std::string>> out;
    for (const auto& rec : r.body["recommendations"]) {
      out.push_back(rec["items"].get<std::vector<std::string>>());
    }
    return out;
  };
  const auto library = [&](bool exact, int ef) {
    RecommendOptions options;
    options.k = 10;
    options.exact = exact;
    options.ef = ef;
    const TopK top = oracle.recommend(rows, options);
    std::vector<std::vector<std::string>> out;
    for (std::int64_t q = 0; q < top.queries; ++q) out.push_back(item_ids(oracle, top, q));
    return out;
  };
  const auto exact = library(true, 0);
  const auto cheapest = library(false, 1);
  EXPECT_NE(cheapest, exact) << "the fixture's graph is too good to tell ef apart";
  EXPECT_EQ(answer({{"exact", true}}), exact);
  EXPECT_EQ(answer({{"ef", 1}}), cheapest);
  EXPECT_EQ(answer({{"ef", 3000}}), library(false, 3000));
  EXPECT_EQ(answer(json::object()), library(false, 0));

  for (const auto& [body, message] : std::vector<std::pair<json, std::string>>{
           {{{"users", {users[0]}}, {"ef", 0}}, "\"ef\" must be in [1, 100000], got 0"},
           {{{"users", {users[0]}}, {"ef", "9"}}, "\"ef\" must be an integer, got a string"},
           {{{"users", {users[0]}}, {"exact", 1}}, "\"exact\" must be true or false"}}) {
    const Reply r = post(c, "/v1/models/movies:recommend", body);
    EXPECT_EQ(r.status, 400) << body.dump();
    EXPECT_NE(r.body["error"].get<std::string>().find(message), std::string::npos) << r.text;
  }
}

// :similar the same way, through the similar-items index.
TEST_F(RestApiIndex, SimilarTakesExactAndEfOnAnIndexedModel) {
  const Recommender& oracle = oracle_;
  ASSERT_NE(oracle.similar_index(), nullptr) << oracle.similar_index_problem();
  auto c = server_.client();
  std::vector<std::int32_t> rows;
  for (std::int32_t r = 1; r <= 40; ++r) rows.push_back(r);
  const auto answer = [&](const json& extra) {
    std::vector<std::vector<std::string>> out;
    for (const std::int32_t row : rows) {
      json body = {{"item", oracle.item_id(row)}, {"k", 10}};
      body.update(extra);
      const Reply r = post(c, "/v1/models/movies:similar", body);
      EXPECT_EQ(r.status, 200) << r.text;
      out.push_back(r.body["items"].get<std::vector<std::string>>());
    }
    return out;
  };
  const auto library = [&](bool exact, int ef) {
    SimilarOptions options;
    options.k = 10;
    options.exact = exact;
    options.ef = ef;
    std::vector<std::vector<std::string>> out;
    for (const std::int32_t row : rows)
      out.push_back(item_ids(oracle, oracle.similar_items(row, options), 0));
    return out;
  };
  const auto exact = library(true, 0);
  const auto cheapest = library(false, 1);
  EXPECT_NE(cheapest, exact) << "the fixture's graph is too good to tell ef apart";
  EXPECT_EQ(answer({{"exact", true}}), exact);
  EXPECT_EQ(answer({{"ef", 1}}), cheapest);
  EXPECT_EQ(answer(json::object()), library(false, 0));

  const std::string item(oracle.item_id(1));
  for (const auto& [body, message] : std::vector<std::pair<json, std::string>>{
           {{{"item", item}, {"ef", 0}}, "\"ef\" must be in [1, 100000], got 0"},
           {{{"item", item}, {"exact", "yes"}}, "\"exact\" must be true or false"}}) {
    const Reply r = post(c, "/v1/models/movies:similar", body);
    EXPECT_EQ(r.status, 400) << body.dump();
    EXPECT_NE(r.body["error"].get<std::string>().find(message), std::string::npos) << r.text;
  }
}

// Without an index "exact" and "ef" change nothing: every search is exact.
TEST_F(RestApiTest, RecommendWithoutAnIndexIgnoresExactAndEf) {
  RecommendOptions options;
  options.k = 3;
  const TopK top = expected({"u1"}, options);
  auto c = server_->client();
  for (const json& extra : {json{{"ef", 1}}, json{{"exact", true}}}) {
    json body = {{"users", {"u1"}}, {"k", 3}};
    body.update(extra);
    const Reply r = post(c, "/v1/models/movies:recommend", body);
    ASSERT_EQ(r.status, 200) << r.text;
    expect_row(r.body["recommendations"][0]["items"], r.body["recommendations"][0]["scores"], top,
               0);
  }
}

TEST_F(RestApiTest, RecommendFoldsInANewUsersItems) {
  RecommendOptions options;
  options.k = 5;
  options.exclude_seen = true;
  const std::vector<std::int32_t> items{oracle_->item_row("i11"), oracle_->item_row("i12")};
  const TopK top = oracle_->recommend_for_items(items, options);
  auto c = server_->client();
  for (const json& body : {json{{"items", {"i11", "i12"}}, {"k", 5}, {"exclude_seen", true}},
                           json{{"users", {"newcomer"}},
                                {"items", {"i11", "i12"}},
                                {"k", 5},
                                {"exclude_seen", true}}}) {
    const Reply r = post(c, "/v1/models/movies:recommend", body);
    ASSERT_EQ(r.status, 200) << r.text;
    const json& rec = r.body["recommendations"][0];
    EXPECT_EQ(rec["source"], "fold-in");
    expect_row(rec["items"], rec["scores"], top, 0);
  }
  // A known user with fallback items is answered from the model.
  const Reply known =
      post(c, "/v1/models/movies:recommend", json{{"users", {"u1"}}, {"items", {"i11"}}});
  ASSERT_EQ(known.status, 200) << known.text;
  EXPECT_EQ(known.body["recommendations"][0]["source"], "model");
}

TEST_F(RestApiTest, SimilarItemsLikeTheLibrary) {
  const TopK top = oracle_->similar_items(oracle_->item_row("i4"), 4);
  auto c = server_->client();
  const Reply r = post(c, "/v1/models/movies:similar", json{{"item", "i4"}, {"k", 4}});
  ASSERT_EQ(r.status, 200) << r.text;
  EXPECT_EQ(r.body["item"], "i4");
  expect_row(r.body["items"], r.body["scores"], top, 0);
  // Titles name items too.
  const Reply by_title = post(c, "/v1/models/movies:similar", json{{"item", "Item 4"}, {"k", 4}});
  ASSERT_EQ(by_title.status, 200) << by_title.text;
  EXPECT_EQ(by_title.body["items"], r.body["items"]);
}

TEST_F(RestApiTest, EmbeddingLookup) {
  auto c = server_->client();
  const Reply r =
      post(c, "/v1/models/movies:embeddings", json{{"users", {"u2"}}, {"items", {"i5", "i15"}}});
  ASSERT_EQ(r.status, 200) << r.text;
  EXPECT_EQ(r.body["dim"], oracle_->dim());
  const ModelData& m = oracle_->model();
  auto expect_vector = [&](const json& got, std::span<const float> want) {
    ASSERT_EQ(got.size(), want.size());
    for (std::size_t j = 0; j < want.size(); ++j) EXPECT_EQ(as_float(got[j]), want[j]);
  };
  expect_vector(r.body["user_embeddings"][0], m.user_embeddings.row(oracle_->user_row("u2")));
  expect_vector(r.body["item_embeddings"][0], m.item_embeddings.row(oracle_->item_row("i5")));
  expect_vector(r.body["item_embeddings"][1], m.item_embeddings.row(oracle_->item_row("i15")));
  EXPECT_EQ(r.body["items"], json::parse(R"(["i5", "i15"])"));
}

TEST_F(RestApiTest, HealthAndMetrics) {
  auto c = server_->client();
  const Reply health = get(c, "/healthz");
  ASSERT_EQ(health.status, 200) << health.text;
  EXPECT_EQ(health.body["models"]["movies"], "1");
  for (int i = 0; i < 3; ++i)
    ASSERT_EQ(post(c, "/v1/models/movies:predict", R"({"instances": ["u1"]})").status, 200);
  ASSERT_EQ(post(c, "/v1/models/movies:predict", R"({"instances": ["nobody"]})").status, 400);
  ASSERT_EQ(get(c, "/v1/models/nope").status, 404);
  const auto res = c.Get("/metrics");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200);
  EXPECT_EQ(res->get_header_value("Content-Type"), "text/plain; version=0.0.4");
  const std::string& text = res->body;
  for (const char* line :
       {"latent_http_requests_total{endpoint=\"predict\",code=\"200\"} 3\n",
        "latent_http_requests_total{endpoint=\"predict\",code=\"400\"} 1\n",
        "latent_http_requests_total{endpoint=\"status\",code=\"404\"} 1\n",
        "latent_http_requests_total{endpoint=\"health\",code=\"200\"} 1\n",
        "latent_http_request_errors_total{endpoint=\"predict\",code=\"400\"} 1\n",
        "latent_http_request_duration_seconds_count{endpoint=\"predict\"} 4\n",
        "latent_http_request_duration_seconds_bucket{endpoint=\"predict\",le=\"+Inf\"} 4\n",
        "latent_model_version{model=\"movies\"} 1\n",
        "latent_model_loads_total{model=\"movies\",result=\"success\"} 1\n",
        "latent_model_loads_total{model=\"movies\",result=\"failure\"} 0\n",
        "# TYPE latent_http_request_duration_seconds histogram\n"}) {
    EXPECT_NE(text.find(line), std::string::npos) << "missing: " << line << "in:\n" << text;
  }
  EXPECT_EQ(text.find("latent_http_request_errors_total{endpoint=\"predict\",code=\"200\"}"),
            std::string::npos);
  EXPECT_NE(text.find("latent_model_bytes{model=\"movies\"} " +
                      std::to_string(server::model_bytes(*oracle_)) + "\n"),
            std::string::npos);
  // Prometheus refuses an exposition that repeats a family's HELP or TYPE
  // line or a sample: every line is unique.
  std::set<std::string> seen;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    EXPECT_TRUE(seen.insert(line).second) << "repeated line: " << line;
  }
}

// The OpenAPI description is served as the repository's file, byte for byte
// (test_openapi.py checks the answers against it).
TEST_F(RestApiTest, ServesTheOpenApiDescriptionOfTheRepository) {
  auto c = server_->client();
  const auto r = c.Get("/openapi.yaml");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->get_header_value("Content-Type"), "application/yaml");
  EXPECT_EQ(r->body, read_bytes(source_dir() / "docs" / "openapi.yaml"));
}

TEST(ServerHealth, UnavailableUntilAVersionLoads) {
  TempDir dir;
  std::filesystem::create_directories(dir / "movies");
  TestServer server(dir / "movies");
  auto c = server.client();
  const Reply before = get(c, "/healthz");
  EXPECT_EQ(before.status, 503) << before.text;
  const Reply predict = post(c, "/v1/models/movies:predict", R"({"instances": ["u1"]})");
  EXPECT_EQ(predict.status, 503) << predict.text;
  EXPECT_NE(predict.body.value("error", "").find("no version available"), std::string::npos)
      << predict.text;
  save_version(dir / "movies", 1, tiny_model());
  server.store().poll();
  EXPECT_EQ(get(c, "/healthz").status, 200);
}

}  // namespace
}  // namespace latent::test
