#pragma once
// Server: the HTTP side of `latent serve`, an event loop on Boost.Beast and
// Boost.Asio. A fixed number of I/O threads (ServerOptions::threads) run one
// io_context; each connection is a session on its own strand that reads a
// request, answers it with RestApi (on the I/O thread that read it) and
// reads the next. Open keep-alive connections cost no thread, so 64 clients
// do not mean 64 runnable threads competing for the cores.
//
// Bodies above max_body_bytes are refused with 413 before they are read
// (Beast's body_limit); a header, or a chunked body's chunk-size line or
// trailer, over 8 KiB answers 431; a request Beast cannot parse answers
// 400; all are {"error": ...} and close that connection. An exception out
// of a handler closes its connection, not the server. "Expect: 100-continue" gets its
// "100 Continue" once the header is accepted.
//
// stop() (e.g. from a SIGTERM handler thread) stops accepting, closes idle
// keep-alive connections, lets requests in flight finish (also those whose
// body is still arriving) and returns run() once every connection is closed.

#include <cstddef>
#include <memory>
#include <string>

#include "rest_api.hpp"

namespace latent::server {

// The number of cores (at least 1).
int default_io_threads();

struct ServerOptions {
  std::string host = "0.0.0.0";
  int port = 8501;                       // 0: any free port (see port())
  int threads = default_io_threads();    // I/O threads, which also run the requests
  std::size_t max_body_bytes = 1 << 20;  // larger bodies get 413
  int keep_alive_seconds = 5;            // idle keep-alive connections close after this
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
  // Serves on options.threads threads (this one included) until stop();
  // call bind() first.
  void run();
  // Thread-safe, also before or while run() starts; in-flight requests
  // finish, then run() returns.
  void stop();

 private:
  struct Impl;
  class Session;
  RestApi& api_;
  ServerOptions options_;
  std::unique_ptr<Impl> impl_;
  int port_ = 0;
};

}  // namespace latent::server
