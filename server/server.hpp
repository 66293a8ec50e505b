#pragma once
// Server: the HTTP side of `latent serve`. cpp-httplib accepts connections
// and parses requests on a pool of worker threads (one per open keep-alive
// connection, so the pool bounds concurrent connections); every request
// goes to RestApi. Bodies above max_body_bytes are refused with 413 before
// they are read in full; anything httplib itself rejects (bad request
// line, unknown method) still answers {"error": ...}.
//
// stop() (e.g. from a SIGTERM handler thread) stops accepting, lets
// requests in flight finish and returns run() once every worker is done.

#include <atomic>
#include <cstddef>
#include <memory>
#include <string>

#include "rest_api.hpp"

namespace httplib {
class Server;
}

namespace latent::server {

struct ServerOptions {
  std::string host = "0.0.0.0";
  int port = 8501;                        // 0: any free port (see port())
  int threads = 128;                      // worker pool = max concurrent connections
  std::size_t max_body_bytes = 1 << 20;   // larger bodies get 413
  int keep_alive_seconds = 5;             // idle keep-alive connections close after this
  void validate() const;
};

class Server {
 public:
  Server(RestApi& api, ServerOptions options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds the listening socket; throws Error(IO) naming host:port when it
  // cannot. Returns the bound port.
  int bind();
  int port() const noexcept { return port_; }
  // Serves until stop(); call bind() first.
  void run();
  // Thread-safe; in-flight requests finish, then run() returns.
  void stop();

 private:
  RestApi& api_;
  ServerOptions options_;
  std::unique_ptr<httplib::Server> http_;
  int port_ = 0;
  int listen_socket_ = -1;
  // httplib's stop() is a no-op before listening starts: these make a stop()
  // that races run()'s start still end it.
  std::atomic<bool> run_started_{false};
  std::atomic<bool> run_finished_{false};
  std::atomic<bool> stop_requested_{false};
};

}  // namespace latent::server
