// Every bad request gets {"error": "..."} with the right 4xx status, names
// what was wrong, and the server keeps serving.
#include <gtest/gtest.h>

#include <stdexcept>

#include <fmt/format.h>

#include <latent/error.hpp>

#include "server/server_fixture.hpp"

namespace latent::test {
namespace {

using nlohmann::json;

struct BadRequest {
  const char* what;
  const char* method;
  std::string path;
  std::string body;
  int status;
  std::string message_part;
};

class ServerErrors : public ::testing::Test {
 protected:
  ServerErrors() {
    save_version(dir_ / "movies", 1, tiny_model());
    server::Limits limits;
    limits.max_k = 50;
    limits.max_ids = 4;
    server_ = std::make_unique<TestServer>(dir_ / "movies", limits);
  }
  TempDir dir_;
  std::unique_ptr<TestServer> server_;
};

TEST_F(ServerErrors, EachBadRequestIsAJsonErrorWithItsStatus) {
  const std::string predict = "/v1/models/movies:predict";
  const std::string recommend = "/v1/models/movies:recommend";
  const std::vector<BadRequest> cases = {
      {"malformed JSON", "POST", predict, R"({"instances": ["u1")", 400, "malformed JSON"},
      {"invalid UTF-8", "POST", predict, "{\"instances\": [\"u\xff\xfe\"]}", 400, "malformed JSON"},
      {"not an object", "POST", predict, R"(["u1"])", 400, "must be a JSON object, got an array"},
      {"instances not a list", "POST", predict, R"({"instances": "u1"})", 400,
       "\"instances\" must be a list"},
      {"id of a wrong type", "POST", predict, R"({"instances": [1.5]})", 400,
       "instances[0] must be a string or integer id"},
      {"object instance without input_1", "POST", predict, R"({"instances": [{"user": "u1"}]})",
       400, "input_1"},
      {"both formats", "POST", predict, R"({"instances": ["u1"], "inputs": ["u1"]})", 400,
       "both \"instances\""},
      {"neither format", "POST", predict, R"({})", 400, "needs \"instances\""},
      {"unknown field", "POST", predict, R"({"instances": ["u1"], "kk": 3})", 400,
       "unknown field \"kk\""},
      {"unknown signature", "POST", predict, R"({"signature_name": "other", "instances": ["u1"]})",
       400, "signature_name"},
      {"unknown user", "POST", predict, R"({"instances": ["u1", "nobody"]})", 400,
       "unknown user id \"nobody\""},
      {"unknown user hints fold-in", "POST", recommend, R"({"users": ["nobody"]})", 400, "fold-in"},
      {"too many ids", "POST", predict, R"({"instances": ["u1", "u2", "u3", "u4", "u5"]})", 400,
       "limit is 4"},
      {"too many items", "POST", recommend, R"({"items": ["i1", "i2", "i3", "i4", "i5"]})", 400,
       "\"items\" has 5 ids"},
      {"k zero", "POST", recommend, R"({"users": ["u1"], "k": 0})", 400,
       "\"k\" must be in [1, 50]"},
      {"k negative", "POST", recommend, R"({"users": ["u1"], "k": -3})", 400, "got -3"},
      {"k above the maximum", "POST", recommend, R"({"users": ["u1"], "k": 51})", 400, "got 51"},
      {"k a string", "POST", recommend, R"({"users": ["u1"], "k": "10"})", 400,
       "\"k\" must be an integer, got a string"},
      {"exclude_seen not a bool", "POST", recommend, R"({"users": ["u1"], "exclude_seen": 1})", 400,
       "true or false"},
      {"unknown allow item", "POST", recommend, R"({"users": ["u1"], "allow": ["zz"]})", 400,
       "\"allow\": unknown item \"zz\""},
      {"items with two users", "POST", recommend, R"({"users": ["u1", "u2"], "items": ["i1"]})",
       400, "at most one user"},
      {"no users nor items", "POST", recommend, R"({"k": 3})", 400, "give \"users\""},
      {"similar unknown item", "POST", "/v1/models/movies:similar", R"({"item": "zz"})", 400,
       "unknown item \"zz\""},
      {"similar without item", "POST", "/v1/models/movies:similar", R"({"k": 3})", 400,
       "give \"item\""},
      {"embeddings unknown user", "POST", "/v1/models/movies:embeddings", R"({"users": ["x"]})",
       400, "unknown user id \"x\""},
      {"unknown model", "POST", "/v1/models/books:predict", R"({"instances": ["u1"]})", 404,
       "model \"books\" is not served here (models: movies)"},
      {"unknown model status", "GET", "/v1/models/books", "", 404, "not served here"},
      {"unknown version", "POST", "/v1/models/movies/versions/7:predict",
       R"({"instances": ["u1"]})", 404,
       "version 7 of model \"movies\" is not available (serving version 1)"},
      {"unknown version status", "GET", "/v1/models/movies/versions/7", "", 404,
       "has no version 7"},
      {"version not a number", "GET", "/v1/models/movies/versions/x1", "", 400,
       "version \"x1\" is not a positive integer"},
      {"labels", "GET", "/v1/models/movies/labels/stable", "", 400, "labels are not supported"},
      // POSTs too (their path used to be parsed, and throw, before routing:
      // the connection was closed without an answer).
      {"predict version not a number", "POST", "/v1/models/movies/versions/x1:predict",
       R"({"instances": ["u1"]})", 400, "version \"x1\" is not a positive integer"},
      {"recommend version 0", "POST", "/v1/models/movies/versions/0:recommend",
       R"({"users": ["u1"]})", 400, "version \"0\" is not a positive integer"},
      {"predict by label", "POST", "/v1/models/movies/labels/stable:predict",
       R"({"instances": ["u1"]})", 400, "labels are not supported"},
      {"unknown verb", "POST", "/v1/models/movies:classify", "{}", 404,
       "unknown method \":classify\""},
      {"GET on predict", "GET", predict, "", 405, "takes POST"},
      {"POST on status", "POST", "/v1/models/movies", "{}", 405, "takes GET"},
      {"unknown path", "GET", "/v2/anything", "", 404, "no endpoint GET /v2/anything"},
      {"body too large", "POST", predict, std::string(70 * 1024, ' '), 413,
       "larger than 65536 bytes"},
      {"number too large", "POST", predict, R"({"instances":["1"],"k":1e999})", 400,
       "malformed JSON: [json.exception.out_of_range.406] number overflow parsing '1e999'"},
      {"negative number too large", "POST", recommend, R"({"users": ["u1"], "k": -1e400})", 400,
       "malformed JSON"},
      {"nested too deep", "POST", predict,
       R"({"instances": )" + std::string(1000, '[') + std::string(1000, ']') + "}", 400,
       "nested deeper than 64 levels"},
  };
  auto c = server_->client();
  for (const auto& bad : cases) {
    SCOPED_TRACE(bad.what);
    const Reply r =
        std::string(bad.method) == "GET" ? get(c, bad.path) : post(c, bad.path, bad.body);
    EXPECT_EQ(r.status, bad.status) << r.text;
    ASSERT_TRUE(r.body.is_object()) << r.text;
    ASSERT_EQ(r.body.size(), 1u) << r.text;
    ASSERT_TRUE(r.body.contains("error") && r.body["error"].is_string()) << r.text;
    EXPECT_NE(r.body["error"].get<std::string>().find(bad.message_part), std::string::npos)
        << "\"" << bad.message_part << "\" missing from: " << r.text;
    // Still serving, on a fresh connection too.
    EXPECT_EQ(post(c, predict, R"({"instances": ["u1"]})").status, 200);
  }
  auto fresh = server_->client();
  EXPECT_EQ(get(fresh, "/healthz").status, 200);
}

// RFC 9110: a 405 names the methods the path takes in Allow, and says only
// what is true: a path with an unknown ":verb" is a 404 whatever the method
// (a 405 with "Allow: POST" would send the client to another 404).
TEST_F(ServerErrors, WrongMethodsAre405sWithAnAllowHeader) {
  struct Case {
    const char* method;
    const char* path;
    const char* allow;
  };
  const Case cases[] = {
      {"GET", "/v1/models/movies:predict", "POST"},
      {"PUT", "/v1/models/movies/versions/1:recommend", "POST"},
      {"DELETE", "/v1/models/movies", "GET, HEAD"},
      {"POST", "/v1/models/movies/versions/1/metadata", "GET, HEAD"},
      {"POST", "/metrics", "GET, HEAD"},
      {"PATCH", "/healthz", "GET, HEAD"},
      {"POST", "/openapi.yaml", "GET, HEAD"},
      // The method is checked before the version and the label.
      {"POST", "/v1/models/movies/labels/stable", "GET, HEAD"},
      {"GET", "/v1/models/movies/labels/stable:similar", "POST"},
      {"POST", "/v1/models/movies/versions/x", "GET, HEAD"},
  };
  auto c = server_->client();
  for (const auto& want : cases) {
    SCOPED_TRACE(fmt::format("{} {}", want.method, want.path));
    const auto r = c.send([&] {
      httplib::Request req;
      req.method = want.method;
      req.path = want.path;
      return req;
    }());
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 405) << r->body;
    EXPECT_EQ(r->get_header_value("Allow"), want.allow);
  }
  for (const char* method : {"GET", "POST"}) {
    SCOPED_TRACE(method);
    const auto r = c.send([&] {
      httplib::Request req;
      req.method = method;
      req.path = "/v1/models/movies:classify";
      return req;
    }());
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 404) << r->body;
    EXPECT_FALSE(r->has_header("Allow"));
  }
  // Other errors carry no Allow.
  const auto ok = c.Get("/v1/models/nope");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 404);
  EXPECT_FALSE(ok->has_header("Allow"));
}

TEST(ServerJsonDepth, DeeplyNestedBodiesAre400sNotAStackOverflow) {
  TempDir dir;
  save_version(dir / "movies", 1, tiny_model());
  auto options = TestServer::loopback();
  options.max_body_bytes = 1 << 20;
  TestServer server(dir / "movies", server::Limits{}, options);
  auto c = server.client();
  const std::vector<std::string> bodies = {
      std::string(100000, '['),
      std::string(100000, '[') + std::string(100000, ']'),
      R"({"instances": ["u1"], "k": )" + std::string(100000, '{'),
      // Brackets in strings do not count; 64 levels are allowed.
      R"({"instances": ["u1", ")" + std::string(100, '[') + R"("], "x": )" + std::string(62, '[') +
          std::string(62, ']') + "}",
  };
  for (std::size_t i = 0; i < bodies.size(); ++i) {
    SCOPED_TRACE(i);
    const Reply r = post(c, "/v1/models/movies:predict", bodies[i]);
    EXPECT_EQ(r.status, 400) << r.text.substr(0, 200);
    ASSERT_TRUE(r.body.is_object() && r.body.contains("error")) << r.text.substr(0, 200);
    const std::string error = r.body["error"].get<std::string>();
    if (i + 1 < bodies.size()) {
      EXPECT_NE(error.find("nested deeper than 64 levels"), std::string::npos) << error;
    } else {
      EXPECT_EQ(error.find("nested deeper"), std::string::npos) << error;
      EXPECT_NE(error.find("unknown field \"x\""), std::string::npos) << error;
    }
  }
  EXPECT_EQ(post(c, "/v1/models/movies:predict", R"({"instances": ["u1"]})").status, 200);
}

TEST(ServerExceptions, AHandlerExceptionIsA500JsonError) {
  const auto internal =
      server::exception_response(std::make_exception_ptr(std::runtime_error("boom")));
  EXPECT_EQ(internal.status, 500);
  EXPECT_EQ(json::parse(internal.body), json::parse(R"({"error": "internal error: boom"})"));
  const auto io =
      server::exception_response(std::make_exception_ptr(Error(ErrorKind::IO, "disk gone")));
  EXPECT_EQ(io.status, 500);
  EXPECT_NE(json::parse(io.body)["error"].get<std::string>().find("disk gone"), std::string::npos);
  const auto user = server::exception_response(
      std::make_exception_ptr(Error(ErrorKind::InvalidArgument, "k must be > 0")));
  EXPECT_EQ(user.status, 400);
  const auto unknown = server::exception_response(std::make_exception_ptr(42));
  EXPECT_EQ(unknown.status, 500);
  EXPECT_TRUE(json::parse(unknown.body).contains("error"));
}

// What a served model cannot do is the request's problem: a 400 naming it.
TEST(ServerUnsupported, SimilarItemsOfAPopularityModelIsA400) {
  TempDir dir;
  save_version(dir / "movies", 1, tiny_model("popularity"));
  TestServer server(dir / "movies");
  auto c = server.client();
  const Reply r = post(c, "/v1/models/movies:similar", R"({"item": "i1"})");
  EXPECT_EQ(r.status, 400) << r.text;
  EXPECT_NE(r.text.find("a popularity model has no item similarity"), std::string::npos) << r.text;
}

TEST(ServerLimits, InvalidLimitsAreRejectedNamingTheFlag) {
  server::Limits limits;
  limits.predict_k = 0;
  expect_error([&] { limits.validate(); }, ErrorKind::InvalidArgument, {"--predict_k"});
  limits = {};
  limits.max_k = 0;
  expect_error([&] { limits.validate(); }, ErrorKind::InvalidArgument, {"--max_k"});
  server::ServerOptions options;
  options.threads = 0;
  expect_error([&] { options.validate(); }, ErrorKind::InvalidArgument, {"--rest_api_num_threads"});
}

}  // namespace
}  // namespace latent::test
