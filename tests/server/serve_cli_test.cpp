// `latent serve` as users run it: the CLI binary, TF Serving's flag names,
// and a graceful stop on SIGTERM with requests in flight.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <regex>

#include "server/serve_process.hpp"
#include "server/server_fixture.hpp"

extern char** environ;

namespace latent::test {
namespace {

using nlohmann::json;

TEST(ServeCli, SigtermLetsRequestsInFlightFinishAndExitsZero) {
  TempDir dir;
  save_version(dir / "movies", 1, tiny_model());
  ServeProcess serve(dir, {"--model_name", "movies", "--model_base_path", (dir / "movies").string(),
                           "--rest_api_port", "0", "--rest_api_host", "127.0.0.1"});
  ASSERT_GT(serve.pid(), 0);
  const int port = serve.port();
  ASSERT_GT(port, 0) << serve.output();

  // A request in flight: headers sent, the server has answered
  // "100 Continue" (so a worker holds it), the body not yet sent.
  const std::string body = R"({"instances": ["u1", "u16"]})";
  const int slow = connect_loopback(port);
  ASSERT_GE(slow, 0);
  send_all(slow, fmt::format("POST /v1/models/movies:predict HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                             "Content-Type: application/json\r\nContent-Length: {}\r\n"
                             "Expect: 100-continue\r\n\r\n",
                             body.size()));
  const std::string continued = receive_until(
      slow, [](const std::string& t) { return t.find("\r\n\r\n") != std::string::npos; });
  ASSERT_NE(continued.find("100 Continue"), std::string::npos) << continued;

  // Clients sending requests while the signal arrives: every answer they
  // get is a complete 200; once the server stops accepting they get
  // transport errors, never an HTTP error.
  std::atomic<int> ok{0}, http_errors{0};
  std::atomic<bool> give_up{false};
  std::vector<std::thread> clients;
  struct JoinAll {  // also when an assertion returns early
    std::vector<std::thread>& threads;
    std::atomic<bool>& stop;
    ~JoinAll() {
      stop = true;
      for (auto& t : threads) {
        if (t.joinable()) t.join();
      }
    }
  } join_all{clients, give_up};
  for (int t = 0; t < 3; ++t) {
    clients.emplace_back([&] {
      httplib::Client c("127.0.0.1", port);
      c.set_read_timeout(30, 0);
      while (!give_up) {
        const Reply r = post(c, "/v1/models/movies:predict", R"({"instances": ["u2"]})");
        if (r.status == 0) break;
        if (r.status == 200 && r.body["predictions"][0]["output_2"].size() == 10) {
          ++ok;
        } else {
          ++http_errors;
        }
      }
    });
  }
  ASSERT_TRUE(eventually([&] { return ok.load() >= 30; }));
  ASSERT_EQ(::kill(serve.pid(), SIGTERM), 0);
  ASSERT_TRUE(eventually([&] {
    return serve.output().find("SIGTERM received") != std::string::npos;
  })) << serve.output();
  // It stops accepting new connections...
  EXPECT_TRUE(eventually([&] {
    const int fd = connect_loopback(port);
    if (fd >= 0) ::close(fd);
    return fd < 0;
  })) << "still accepting connections after SIGTERM";
  for (auto& t : clients) t.join();
  EXPECT_EQ(http_errors.load(), 0);

  // ...and still finishes the request in flight.
  send_all(slow, body);
  const std::string response = receive_until(slow, [](const std::string& t) {
    const auto end = t.find("\r\n\r\n");
    if (end == std::string::npos) return false;
    std::smatch m;
    const std::string head = t.substr(0, end);
    if (!std::regex_search(head, m, std::regex("Content-Length: ([0-9]+)", std::regex::icase)))
      return false;
    return t.size() >= end + 4 + std::stoul(m[1]);
  });
  ::close(slow);
  ASSERT_EQ(response.rfind("HTTP/1.1 200", 0), 0u) << response;
  const json answer = json::parse(response.substr(response.find("\r\n\r\n") + 4));
  EXPECT_EQ(answer["predictions"].size(), 2u);
  EXPECT_EQ(serve.wait_exit(), 0) << serve.output();
  EXPECT_NE(serve.output().find("latent serve: stopped"), std::string::npos) << serve.output();
}

TEST(ServeCli, BadFlagsAndMissingPathsFailWithOneLine) {
  TempDir dir;
  const std::string missing = (dir / "nope").string();
  {
    ServeProcess serve(dir, {"--model_base_path", missing, "--rest_api_port", "0"});
    EXPECT_EQ(serve.wait_exit(), 1);
    EXPECT_NE(serve.output().find("base path " + missing + " is not a directory"),
              std::string::npos)
        << serve.output();
  }
  {
    ServeProcess serve(dir, {"--rest_api_port", "0"});
    EXPECT_EQ(serve.wait_exit(), 1);
    EXPECT_NE(serve.output().find("--model_base_path"), std::string::npos) << serve.output();
  }
  {
    std::filesystem::create_directories(dir / "m");
    ServeProcess serve(dir, {"--model_base_path", (dir / "m").string(), "--max_k", "0"});
    EXPECT_EQ(serve.wait_exit(), 1);
    EXPECT_NE(serve.output().find("--max_k must be >= 1"), std::string::npos) << serve.output();
  }
}

TEST(ServeCli, ServesEveryModelOfAConfigFile) {
  TempDir dir;
  save_version(dir / "a", 1, tiny_model("als"));
  save_version(dir / "b", 3, tiny_model("popularity"));
  {
    std::ofstream config(dir / "models.config");
    config << "model_config_list {\n  config { name: 'als' base_path: '" << (dir / "a").string()
           << "' model_platform: 'latent' }\n  config { name: 'pop' base_path: '"
           << (dir / "b").string() << "' }\n}\n";
  }
  ServeProcess serve(dir, {"--model_config_file", (dir / "models.config").string(),
                           "--rest_api_port", "0", "--rest_api_host", "127.0.0.1"});
  const int port = serve.port();
  ASSERT_GT(port, 0) << serve.output();
  httplib::Client c("127.0.0.1", port);
  EXPECT_EQ(get(c, "/v1/models/als").body["model_version_status"][0]["version"], "1");
  EXPECT_EQ(get(c, "/v1/models/pop").body["model_version_status"][0]["version"], "3");
  EXPECT_EQ(post(c, "/v1/models/pop:predict", R"({"instances": ["u1"]})").status, 200);
  ::kill(serve.pid(), SIGTERM);
  EXPECT_EQ(serve.wait_exit(), 0) << serve.output();
}

}  // namespace
}  // namespace latent::test
