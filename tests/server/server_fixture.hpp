#pragma once
// An in-process `latent serve` for tests: tiny models written into version
// folders, the real ModelStore, RestApi and HTTP server on a loopback port,
// and an httplib::Client to call it.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include <latent/fit.hpp>
#include <latent/recommender.hpp>

#include <metrics.hpp>
#include <model_store.hpp>
#include <rest_api.hpp>
#include <server.hpp>

#include "fixtures/tiny_dataset.hpp"
#include "test_support.hpp"

namespace latent::test {

// A model trained on the two-group fixture; `seed` varies the answers, so
// two versions can be told apart by what they recommend.
inline Recommender tiny_model(const std::string& kind = "als", int seed = 1) {
  FitOptions options;
  options.model = kind;
  if (kind == "als") {
    options.params = {
        {"dim", "8"}, {"regularization", "2"}, {"threads", "1"}, {"seed", std::to_string(seed)}};
  }
  return fit(tiny_dataset(), options).model;
}

// Saves `model` as BASE/VERSION/model.latent.
inline std::filesystem::path save_version(const std::filesystem::path& base, int version,
                                          const Recommender& model) {
  const auto dir = base / std::to_string(version);
  std::filesystem::create_directories(dir);
  model.save(dir / "model.latent");
  return dir / "model.latent";
}

// Polls `done` until it holds or `seconds` pass; true when it held. Tests
// wait for events this way, never with a sleep that stands for an assertion.
inline bool eventually(const std::function<bool()>& done, double seconds = 30) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return done();
}

class TestServer {
 public:
  explicit TestServer(const std::filesystem::path& base, server::Limits limits = {},
                      server::ServerOptions options = loopback())
      : store_({server::ModelConfig{"movies", base}},
               [this](const std::string& line) { log(line); }),
        api_(store_, metrics_, limits),
        http_(api_, options) {
    store_.poll();
    port_ = http_.bind();
    thread_ = std::thread([this] { http_.run(); });
  }
  ~TestServer() {
    http_.stop();
    thread_.join();
    store_.stop_polling();
  }

  static server::ServerOptions loopback() {
    server::ServerOptions o;
    o.host = "127.0.0.1";
    o.port = 0;
    o.threads = 16;
    o.max_body_bytes = 64 * 1024;
    return o;
  }

  server::ModelStore& store() { return store_; }
  const server::ConnectionCounters& connections() const { return metrics_.connections; }
  int port() const { return port_; }
  httplib::Client client() const {
    httplib::Client c("127.0.0.1", port_);
    c.set_read_timeout(30, 0);
    return c;
  }
  std::vector<std::string> logs() const {
    std::lock_guard lock(log_mutex_);
    return logs_;
  }

 private:
  void log(const std::string& line) {
    std::lock_guard lock(log_mutex_);
    logs_.push_back(line);
  }
  mutable std::mutex log_mutex_;
  std::vector<std::string> logs_;
  server::ModelStore store_;
  server::Metrics metrics_;
  server::RestApi api_;
  server::Server http_;
  int port_ = 0;
  std::thread thread_;
};

struct Reply {
  int status = 0;  // 0: no HTTP response (transport error)
  nlohmann::json body;
  std::string text;
};

inline Reply to_reply(const httplib::Result& r) {
  Reply out;
  if (!r) return out;
  out.status = r->status;
  out.text = r->body;
  out.body = nlohmann::json::parse(r->body, nullptr, /*allow_exceptions=*/false);
  return out;
}

inline Reply post(httplib::Client& c, const std::string& path, const std::string& body) {
  return to_reply(c.Post(path.c_str(), body, "application/json"));
}
inline Reply post(httplib::Client& c, const std::string& path, const char* body) {
  return post(c, path, std::string(body));
}
inline Reply post(httplib::Client& c, const std::string& path, const nlohmann::json& body) {
  return post(c, path, body.dump());
}
inline Reply get(httplib::Client& c, const std::string& path) {
  return to_reply(c.Get(path.c_str()));
}

// Raw sockets, for what an HTTP client library will not send.

// A connected socket to 127.0.0.1:port, or -1.
inline int connect_loopback(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

inline void send_all(int fd, const std::string& s) {
  std::size_t sent = 0;
  while (sent < s.size()) {
    const auto n = ::send(fd, s.data() + sent, s.size() - sent, MSG_NOSIGNAL);
    ASSERT_GT(n, 0);
    sent += static_cast<std::size_t>(n);
  }
}

// Reads until `done(text)` or the peer closes.
inline std::string receive_until(int fd, const std::function<bool(const std::string&)>& done) {
  std::string text;
  char buf[4096];
  while (!done(text)) {
    const auto n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    text.append(buf, static_cast<std::size_t>(n));
  }
  return text;
}

// The float a JSON number stands for (responses print float32 values).
inline float as_float(const nlohmann::json& v) { return static_cast<float>(v.get<double>()); }

}  // namespace latent::test
