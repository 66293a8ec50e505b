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
// Connections are capped at max_connections. A connection is idle while it
// waits for a request's header (a keep-alive connection between requests,
// or a new one that has not sent a complete header yet); once its header
// is read it is busy (body arriving, request running, answer being
// written) until it waits for the next header. At the cap, a new
// connection is admitted by closing the longest-idle connection (as
// nginx's reusable keep-alive connections); when none is idle it gets a
// 503 {"error"} and is closed (as Envoy's overload rejection). Busy
// connections are never closed to make room.
//
// When accept() fails for lack of file descriptors (EMFILE, ENFILE) or
// memory (ENOBUFS, ENOMEM), accepting pauses instead of retrying at once
// (the listening socket stays readable, so an immediate retry spins): the
// longest-idle connection is closed, and accepting resumes when a
// connection closes or after kAcceptRetry, whichever is first. This is
// logged once per episode (an episode ends after kFdErrorQuiet without such
// a failure).
//
// Memory: a connection holds a few KiB (its read buffer grows up to the
// 8 KiB header limit); when the number of open connections halves from a
// peak of at least kTrimAbovePeak, the freed heap is handed back to the
// system (malloc_trim), which glibc otherwise keeps for reuse.
//
// stop() (e.g. from a SIGTERM handler thread) stops accepting, closes idle
// keep-alive connections, lets requests in flight finish (also those whose
// body is still arriving) and returns run() once every connection is closed.

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "rest_api.hpp"

namespace latent::server {

// The number of cores (at least 1).
int default_io_threads();
// File descriptors kept for everything but connections (the listening
// socket, model files being loaded, logs, libraries).
inline constexpr std::size_t kReservedFds = 64;
// The default --max_connections: the open-file soft limit (ulimit -n)
// minus kReservedFds, and at least half of the limit.
std::size_t default_max_connections();

struct ServerOptions {
  std::string host = "0.0.0.0";
  int port = 8501;                       // 0: any free port (see port())
  int threads = default_io_threads();    // I/O threads, which also run the requests
  std::size_t max_body_bytes = 1 << 20;  // larger bodies get 413
  int keep_alive_seconds = 5;            // idle keep-alive connections close after this
  std::size_t max_connections = default_max_connections();  // see above
  // Where transport events (out of descriptors) are logged, one line each;
  // empty: stderr.
  std::function<void(const std::string&)> log;
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

  static constexpr std::chrono::milliseconds kAcceptRetry{100};
  static constexpr std::chrono::seconds kFdErrorQuiet{10};
  static constexpr std::size_t kTrimAbovePeak = 128;

 private:
  struct Impl;
  class Session;
  RestApi& api_;
  ServerOptions options_;
  std::unique_ptr<Impl> impl_;
  int port_ = 0;
};

}  // namespace latent::server
