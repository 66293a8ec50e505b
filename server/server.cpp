#include "server.hpp"

#include <malloc.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <mutex>
#include <optional>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include <fmt/format.h>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <latent/error.hpp>

namespace latent::server {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = net::ip::tcp;

int default_io_threads() {
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

std::size_t default_max_connections() {
  constexpr std::size_t kMost = std::size_t{1} << 20;  // for an unlimited (or huge) ulimit -n
  rlimit limit{};
  std::size_t soft = 1024;
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0)
    soft = limit.rlim_cur == RLIM_INFINITY ? kMost : std::min<std::size_t>(limit.rlim_cur, kMost);
  return std::max<std::size_t>({soft - std::min(soft, kReservedFds), soft / 2, 1});
}

void ServerOptions::validate() const {
  if (port < 0 || port > 65535)
    throw Error(ErrorKind::InvalidArgument, fmt::format("--rest_api_port {} is not a port", port));
  if (threads < 1) {
    throw Error(ErrorKind::InvalidArgument,
                fmt::format("--rest_api_num_threads (I/O threads) must be >= 1, got {}", threads));
  }
  if (max_body_bytes < 1) throw Error(ErrorKind::InvalidArgument, "--max_body_bytes must be >= 1");
  if (keep_alive_seconds < 1)
    throw Error(ErrorKind::InvalidArgument, "--rest_api_timeout_seconds must be >= 1");
  if (max_connections < 1)
    throw Error(ErrorKind::InvalidArgument, "--max_connections must be >= 1");
}

namespace {

std::string_view view(beast::string_view s) { return {s.data(), s.size()}; }

// accept() failed for want of a descriptor or kernel memory: retrying at
// once fails again (the listening socket stays readable) and spins.
bool out_of_resources(const beast::error_code& ec) {
  if (ec.category() != boost::system::system_category()) return false;
  const int e = ec.value();
  return e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM;
}

// The path of a request target: the query string dropped, %XX decoded (as
// the routes are matched on decoded paths).
std::string decoded_path(std::string_view target) {
  target = target.substr(0, target.find('?'));
  std::string path;
  path.reserve(target.size());
  const auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (std::size_t i = 0; i < target.size(); ++i) {
    if (target[i] == '%' && i + 2 < target.size() && hex(target[i + 1]) >= 0 &&
        hex(target[i + 2]) >= 0) {
      path.push_back(static_cast<char>(hex(target[i + 1]) * 16 + hex(target[i + 2])));
      i += 2;
    } else {
      path.push_back(target[i]);
    }
  }
  return path;
}

}  // namespace

struct Server::Impl {
  static constexpr int kSearchWaiters = 128;

  Impl(RestApi& rest_api, const ServerOptions& server_options)
      : api(rest_api),
        options(server_options),
        counters(rest_api.metrics().connections),
        ioc(server_options.threads) {
    counters.limit = options.max_connections;
  }

  // These run on the acceptor's strand.
  void accept();
  void admit(tcp::socket socket);
  void pause_accepting(const beast::error_code& ec);
  // Claims the longest-idle session and closes it on its strand (if it is
  // still idle there); false when no session is idle. Any thread.
  bool close_longest_idle();
  // From ~Session.
  void on_closed();
  void log(const std::string& line) const {
    if (options.log) return options.log(line);
    std::fprintf(stderr, "%s\n", line.c_str());
  }

  RestApi& api;
  const ServerOptions& options;
  ConnectionCounters& counters;
  std::atomic<std::size_t> open{0};
  // The most connections open since the heap was last trimmed.
  std::atomic<std::size_t> peak_since_trim{0};
  // Tickets ordering idle sessions: lower went idle first.
  std::atomic<std::uint64_t> next_idle_ticket{1};
  std::atomic<bool> accept_paused{false};
  // On the acceptor's strand: the last accept() that failed for lack of
  // descriptors (an episode ends after kFdErrorQuiet without one).
  std::optional<std::chrono::steady_clock::time_point> last_fd_error;
  // Sessions alive, so stop() can close the idle ones. Declared before the
  // io_context: destroying it destroys pending handlers, and with them
  // sessions that unregister here.
  std::mutex mutex;
  std::unordered_map<Session*, std::weak_ptr<Session>> sessions;
  std::atomic<bool> stopping{false};
  // Requests that may wait for a merged search run here: a waiting thread
  // sleeps (it is not runnable), and this many requests can wait for one
  // search at a time. Started by the first such request (a server of small
  // catalogs never needs the threads' stacks); joined by ~thread_pool
  // after the io_context is gone.
  net::thread_pool& waiters() {
    std::call_once(waiters_started, [this] { waiter_pool.emplace(kSearchWaiters); });
    return *waiter_pool;
  }
  std::once_flag waiters_started;
  std::optional<net::thread_pool> waiter_pool;
  net::io_context ioc;
  tcp::acceptor acceptor{net::make_strand(ioc)};
  // Resumes accepting after a pause (on the acceptor's strand).
  net::steady_timer accept_timer{acceptor.get_executor()};
};

// One connection: read a request (header, then "100 Continue" if asked,
// then the body), answer it, and read the next, all on the connection's
// strand, one step at a time.
class Server::Session : public std::enable_shared_from_this<Session> {
 public:
  Session(Impl& server, tcp::socket socket) : server_(server), stream_(std::move(socket)) {
    // Constructed on the acceptor's strand: connections accepted earlier
    // count as idle for longer.
    idle_ticket_ = server_.next_idle_ticket.fetch_add(1);
  }
  ~Session() {
    {
      std::lock_guard lock(server_.mutex);
      server_.sessions.erase(this);
    }
    server_.on_closed();
  }

  // Nonzero while the session waits for a request's header: the order in
  // which sessions went idle (lower: longer idle).
  std::uint64_t idle_ticket() const noexcept {
    return idle_ticket_.load(std::memory_order_relaxed);
  }
  // Takes the session's ticket so no other caller picks it too.
  bool claim(std::uint64_t ticket) noexcept {
    return idle_ticket_.compare_exchange_strong(ticket, 0);
  }

  // Closes the connection to make room for a new one, if it still waits
  // for a request's header when this runs on its strand.
  void close_for_new() {
    net::post(stream_.get_executor(), [self = shared_from_this()] {
      if (!self->idle_) return;
      self->server_.counters.closed_idle_for_new.fetch_add(1, std::memory_order_relaxed);
      self->close();
    });
  }

  void start() {
    {
      std::lock_guard lock(server_.mutex);
      server_.sessions.emplace(this, weak_from_this());
    }
    // A stop() that began before the registration above did not see this
    // session, but its flag is visible now.
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->read_header(); });
  }

  // Closes the connection if it waits for a next request (on its strand;
  // callable from any thread).
  void stop_if_idle() {
    net::post(stream_.get_executor(), [self = shared_from_this()] {
      if (self->idle_) self->close();
    });
  }

 private:
  using Parser = http::request_parser<http::string_body>;
  static constexpr std::uint32_t kHeaderLimit =
      8192;  // request line and fields, as Beast's default

  std::chrono::seconds timeout() const {
    return std::chrono::seconds(server_.options.keep_alive_seconds);
  }

  void read_header() {
    if (server_.stopping) return close();
    parser_.emplace();
    parser_->header_limit(kHeaderLimit);
    parser_->body_limit(server_.options.max_body_bytes);
    idle_ = true;
    // A new session keeps the ticket of its accept.
    std::uint64_t none = 0;
    idle_ticket_.compare_exchange_strong(none, server_.next_idle_ticket.fetch_add(1));
    stream_.expires_after(timeout());
    http::async_read_header(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_header(ec); });
  }

  void on_header(beast::error_code ec) {
    idle_ = false;
    idle_ticket_ = 0;
    if (ec) return on_read_error(ec);
    const auto expect = parser_->get()[http::field::expect];
    if (!parser_->is_done() && beast::iequals(expect, "100-continue")) {
      // The client waits for this before it sends the body.
      auto go_on = std::make_shared<http::response<http::empty_body>>(http::status::continue_, 11);
      stream_.expires_after(timeout());
      http::async_write(stream_, *go_on,
                        [self = shared_from_this(), go_on](beast::error_code wec, std::size_t) {
                          if (wec) return self->close();
                          self->read_body();
                        });
      return;
    }
    read_body();
  }

  void read_body() {
    if (parser_->is_done()) return answer();
    stream_.expires_after(timeout());
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, std::size_t) {
                       if (ec) return self->on_read_error(ec);
                       self->answer();
                     });
  }

  void on_read_error(beast::error_code ec) {
    if (ec == http::error::body_limit) {
      return reply_and_close(
          error_response(413, fmt::format("request body larger than {} bytes (--max_body_bytes)",
                                          server_.options.max_body_bytes)));
    }
    if (ec == http::error::header_limit) {
      return reply_and_close(
          error_response(431, fmt::format("request header larger than {} bytes", kHeaderLimit)));
    }
    if (ec == http::error::buffer_overflow) {
      // buffer_ (bounded by kHeaderLimit) filled up with what the parser
      // holds on to until it is complete: a chunk-size line or the trailer.
      return reply_and_close(error_response(
          431, fmt::format("chunk header or trailer of the request body larger than {} bytes",
                           kHeaderLimit)));
    }
    // Beast's parser rejected what arrived: a bad request line, field,
    // length or chunk.
    const bool unparsable =
        ec.category() == http::make_error_code(http::error::bad_method).category() &&
        ec != http::error::end_of_stream && ec != http::error::partial_message;
    if (unparsable)
      return reply_and_close(
          error_response(400, fmt::format("malformed HTTP request: {}", ec.message())));
    // The peer closed (maybe mid-request), went idle past the timeout, or
    // stop() closed an idle connection: nothing to answer.
    close();
  }

  // Runs the request on this I/O thread, or, when it may wait for a merged
  // search, on a waiter thread (the I/O thread goes on serving other
  // connections, and concurrent requests can wait together to be merged).
  void answer() {
    const auto& request = parser_->get();
    std::string path = decoded_path(view(request.target()));
    if (!server_.api.may_wait_for_merged_search(view(request.method_string()), path)) {
      return respond(handle(path));
    }
    net::post(server_.waiters(), [self = shared_from_this(), path = std::move(path),
                                  work = net::make_work_guard(stream_.get_executor())]() {
      // An exception here would end the waiter thread and the process
      // (handle() does not throw, but the copies may fail to allocate).
      try {
        HttpResponse out = self->handle(path);
        net::post(self->stream_.get_executor(),
                  [self, out = std::move(out)]() mutable { self->respond(std::move(out)); });
      } catch (...) {
        net::post(self->stream_.get_executor(), [self] { self->close(); });
      }
    });
  }

  HttpResponse handle(const std::string& path) const {
    const auto& request = parser_->get();
    return server_.api.handle(view(request.method_string()), path, request.body());
  }

  void respond(HttpResponse out) {
    const auto& request = parser_->get();
    write(std::move(out), request.version(), request.keep_alive() && !server_.stopping,
          /*unread=*/false, /*head=*/request.method() == http::verb::head);
  }

  // For a request that could not be read in full: answer, then close
  // without reading the rest of it.
  void reply_and_close(HttpResponse out) { write(std::move(out), 11, false, /*unread=*/true); }

  // `head`: the answer to a HEAD request, its header only (Content-Length
  // as for GET), as content would be read as the next answer.
  void write(HttpResponse out, unsigned version, bool keep_alive, bool unread = false,
             bool head = false) {
    response_.emplace(static_cast<http::status>(out.status), version);
    response_->set(http::field::content_type, out.content_type);
    if (!out.allow.empty()) response_->set(http::field::allow, out.allow);
    response_->body() = std::move(out.body);
    response_->keep_alive(keep_alive);
    response_->prepare_payload();
    if (head) response_->body().clear();
    stream_.expires_after(timeout());
    http::async_write(
        stream_, *response_,
        [self = shared_from_this(), keep_alive, unread](beast::error_code ec, std::size_t) {
          self->response_.reset();
          if (ec) return self->close();
          if (keep_alive) return self->read_header();
          if (unread) return self->linger();
          self->close();
        });
  }

  // After answering a request that was not read in full: end our side,
  // then discard what the client still sends (the rest of a refused body)
  // until it closes, so the kernel does not reset the connection while the client
  // has yet to read the answer. Bounded by the idle timeout.
  void linger() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.expires_after(timeout());
    scratch_ = std::make_unique<char[]>(kScratchBytes);
    discard();
  }

  void discard() {
    stream_.async_read_some(net::buffer(scratch_.get(), kScratchBytes),
                            [self = shared_from_this()](beast::error_code ec, std::size_t) {
                              if (ec) return self->close();
                              self->discard();
                            });
  }

  void close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.close();
  }

  Impl& server_;
  beast::tcp_stream stream_;
  // Bounded: the parser keeps in it only what it cannot parse yet. The
  // header has its own limit, but a chunk-size line and the trailer fields
  // after the last chunk have none in Beast, which keeps reading until they
  // end (and throws std::length_error for a trailer field over 64 KiB).
  // Bodies pass through it into the request, in reads of up to this size.
  beast::flat_buffer buffer_{kHeaderLimit};
  std::optional<Parser> parser_;
  std::optional<http::response<http::string_body>> response_;
  // Where linger() discards what arrives; only lingering sessions have one
  // (16 KiB in each session was most of the memory of idle connections).
  static constexpr std::size_t kScratchBytes = 16384;
  std::unique_ptr<char[]> scratch_;
  bool idle_ = false;
  std::atomic<std::uint64_t> idle_ticket_{0};
};

Server::Server(RestApi& api, ServerOptions options) : api_(api), options_(std::move(options)) {
  options_.validate();
  impl_ = std::make_unique<Impl>(api_, options_);
}

Server::~Server() { stop(); }

int Server::bind() {
  auto& acceptor = impl_->acceptor;
  beast::error_code ec;
  tcp::resolver resolver(impl_->ioc);
  const auto endpoints =
      resolver.resolve(options_.host, std::to_string(options_.port),
                       tcp::resolver::passive | tcp::resolver::numeric_service, ec);
  if (!ec) {
    for (const auto& entry : endpoints) {
      ec = {};
      acceptor.open(entry.endpoint().protocol(), ec);
      if (!ec) acceptor.set_option(net::socket_base::reuse_address(true), ec);
      if (!ec) acceptor.bind(entry.endpoint(), ec);
      // A full backlog: dozens of clients connecting at once (a connection
      // pool starting, wrk -c64) must not see dropped handshakes.
      if (!ec) acceptor.listen(net::socket_base::max_listen_connections, ec);
      if (!ec) break;
      beast::error_code ignored;
      acceptor.close(ignored);
    }
  }
  if (ec || !acceptor.is_open()) {
    throw Error(ErrorKind::IO,
                fmt::format("cannot listen on {}:{} (in use, or not an address of this machine)",
                            options_.host, options_.port));
  }
  port_ = acceptor.local_endpoint().port();
  return port_;
}

void Server::Impl::accept() {
  if (stopping || !acceptor.is_open()) return;
  acceptor.async_accept(net::make_strand(ioc), [this](beast::error_code ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted) return;  // stop() closed the acceptor
    if (out_of_resources(ec)) return pause_accepting(ec);
    if (!ec) admit(std::move(socket));
    accept();
  });
}

void Server::Impl::admit(tcp::socket socket) {
  beast::error_code ignored;
  if (open.load() >= options.max_connections && !close_longest_idle()) {
    // Every connection is busy: refuse this one with a best-effort 503 (a
    // new socket's send buffer is empty, so the write does not block).
    counters.rejected.fetch_add(1, std::memory_order_relaxed);
    const std::string body = fmt::format(
        R"({{"error": "too many connections: all {} (--max_connections) are busy; retry later"}})",
        options.max_connections);
    const std::string response = fmt::format(
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
        "Connection: close\r\nContent-Length: {}\r\n\r\n{}",
        body.size(), body);
    socket.non_blocking(true, ignored);
    socket.write_some(net::buffer(response), ignored);
    socket.shutdown(tcp::socket::shutdown_send, ignored);
    socket.close(ignored);
    return;
  }
  const std::size_t now_open = open.fetch_add(1) + 1;
  counters.open.fetch_add(1, std::memory_order_relaxed);
  counters.accepted.fetch_add(1, std::memory_order_relaxed);
  std::size_t peak = peak_since_trim.load();
  while (peak < now_open && !peak_since_trim.compare_exchange_weak(peak, now_open)) {
  }
  socket.set_option(tcp::no_delay(true), ignored);
  std::make_shared<Session>(*this, std::move(socket))->start();
}

void Server::Impl::pause_accepting(const beast::error_code& ec) {
  counters.accept_fd_errors.fetch_add(1, std::memory_order_relaxed);
  const auto now = std::chrono::steady_clock::now();
  if (!last_fd_error || now - *last_fd_error >= kFdErrorQuiet) {
    counters.accept_pauses.fetch_add(1, std::memory_order_relaxed);
    log(fmt::format(
        "latent serve: cannot accept connections: {} ({} open, --max_connections {}); closing "
        "idle connections and retrying when one closes or after {} ms (lower --max_connections or "
        "raise ulimit -n); logged once per episode",
        ec.message(), open.load(), options.max_connections, kAcceptRetry.count()));
  }
  last_fd_error = now;
  // Resumed by the timer, or earlier by on_closed() cancelling it.
  accept_paused = true;
  accept_timer.expires_after(kAcceptRetry);
  accept_timer.async_wait([this](beast::error_code) {
    accept_paused = false;
    accept();
  });
  close_longest_idle();
}

bool Server::Impl::close_longest_idle() {
  std::shared_ptr<Session> victim;
  {
    std::lock_guard lock(mutex);
    // A scan is O(sessions), and runs only at the limit. A session that
    // goes busy (or is destroyed) under the scan is skipped on a retry.
    for (int attempt = 0; attempt < 8 && !victim; ++attempt) {
      Session* oldest = nullptr;
      std::uint64_t oldest_ticket = std::numeric_limits<std::uint64_t>::max();
      for (const auto& entry : sessions) {
        const std::uint64_t ticket = entry.first->idle_ticket();
        if (ticket != 0 && ticket < oldest_ticket) {
          oldest = entry.first;
          oldest_ticket = ticket;
        }
      }
      if (oldest == nullptr) return false;
      if (oldest->claim(oldest_ticket)) victim = sessions[oldest].lock();
    }
  }
  if (!victim) return false;
  victim->close_for_new();
  return true;
}

void Server::Impl::on_closed() {
  const std::size_t now_open = open.fetch_sub(1) - 1;
  counters.open.fetch_sub(1, std::memory_order_relaxed);
  // glibc keeps freed memory for reuse (in one arena per I/O thread);
  // after a crowd of connections leaves, give it back.
  std::size_t peak = peak_since_trim.load();
  if (peak >= kTrimAbovePeak && now_open <= peak / 2 &&
      peak_since_trim.compare_exchange_strong(peak, now_open)) {
    ::malloc_trim(0);
  }
  if (accept_paused && !stopping) {
    net::post(acceptor.get_executor(), [this] { accept_timer.cancel(); });
  }
}

namespace {

// io_context::run(), resumed after an exception out of a handler (Beast's
// parser throws from inside its read operations, e.g. std::bad_alloc): the
// throwing handler, and with it the only reference to its session, is
// destroyed while unwinding, which closes that connection; the others go
// on being served. Nothing is logged, as a client could flood the log.
void run_handlers(net::io_context& ioc) {
  for (;;) {
    try {
      ioc.run();
      return;
    } catch (...) {  // NOLINT(bugprone-empty-catch): the connection is closed, see above
    }
  }
}

}  // namespace

void Server::run() {
  Impl& impl = *impl_;
  // On the acceptor's strand like stop()'s close, so a stop() racing this
  // start is seen either way round.
  net::post(impl.acceptor.get_executor(), [&impl] { impl.accept(); });
  std::vector<std::thread> threads;
  for (int t = 1; t < options_.threads; ++t)
    threads.emplace_back([&impl] { run_handlers(impl.ioc); });
  run_handlers(impl.ioc);
  for (auto& t : threads) t.join();
}

void Server::stop() {
  Impl& impl = *impl_;
  impl.stopping = true;
  net::post(impl.acceptor.get_executor(), [&impl] {
    beast::error_code ignored;
    impl.acceptor.close(ignored);
    impl.accept_timer.cancel();
  });
  std::vector<std::shared_ptr<Session>> sessions;
  {
    std::lock_guard lock(impl.mutex);
    for (const auto& [raw, weak] : impl.sessions) {
      if (auto session = weak.lock()) sessions.push_back(std::move(session));
    }
  }
  for (auto& session : sessions) session->stop_if_idle();
}

}  // namespace latent::server
