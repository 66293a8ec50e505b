#include "server.hpp"

#include <httplib.h>

#include <sys/socket.h>

#include <chrono>
#include <thread>

#include <fmt/format.h>

#include <latent/error.hpp>

namespace latent::server {

void ServerOptions::validate() const {
  if (port < 0 || port > 65535) throw Error(ErrorKind::InvalidArgument, fmt::format("--rest_api_port {} is not a port", port));
  if (threads < 1) throw Error(ErrorKind::InvalidArgument, fmt::format("--rest_api_num_threads must be >= 1, got {}", threads));
  if (max_body_bytes < 1) throw Error(ErrorKind::InvalidArgument, "--max_body_bytes must be >= 1");
  if (keep_alive_seconds < 1) throw Error(ErrorKind::InvalidArgument, "--rest_api_timeout_seconds must be >= 1");
}

namespace {

void send(const HttpResponse& from, httplib::Response& to) {
  to.status = from.status;
  to.set_content(from.body, from.content_type.c_str());
}

}  // namespace

Server::Server(RestApi& api, ServerOptions options)
    : api_(api), options_(std::move(options)), http_(std::make_unique<httplib::Server>()) {
  options_.validate();
  const int threads = options_.threads;
  http_->new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<std::size_t>(threads)); };
  http_->set_payload_max_length(options_.max_body_bytes);
  // httplib closes a keep-alive connection after 5 requests by default;
  // clients that keep connections open (wrk, TF clients) should not pay a
  // reconnect every 5 requests.
  http_->set_keep_alive_max_count(1u << 30);
  http_->set_keep_alive_timeout(options_.keep_alive_seconds);
  http_->set_tcp_nodelay(true);
  // httplib listens with a backlog of 5: when dozens of clients connect at
  // once (a connection pool starting, wrk -c64) the kernel drops the
  // handshakes beyond it and those clients' first requests wait for a
  // 200 ms+ retransmission. Remember the listening socket so bind() can
  // raise the backlog (listen() again on a listening socket updates it).
  http_->set_socket_options([this](int sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);  // httplib's default option
    listen_socket_ = sock;
  });
  auto handler = [this](const httplib::Request& req, httplib::Response& res) {
    send(api_.handle(req.method, req.path, req.body), res);
  };
  http_->Get(".*", handler);
  http_->Post(".*", handler);
  http_->Put(".*", handler);
  http_->Delete(".*", handler);
  http_->Patch(".*", handler);
  // Responses httplib makes itself (413, 400 for an unparsable request, 404
  // for a method it does not route) get a JSON body too; ours already have one.
  const std::size_t max_body = options_.max_body_bytes;
  http_->set_error_handler([max_body](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return;
    std::string message;
    if (res.status == 413) {
      message = fmt::format("request body larger than {} bytes (--max_body_bytes)", max_body);
    } else {
      message = fmt::format("{} {}: HTTP {}", req.method, req.path, res.status);
    }
    send(error_response(res.status, message), res);
  });
  http_->set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr e) {
    send(exception_response(e), res);
  });
}

Server::~Server() { stop(); }

int Server::bind() {
  if (options_.port == 0) {
    port_ = http_->bind_to_any_port(options_.host);
  } else {
    port_ = http_->bind_to_port(options_.host, options_.port) ? options_.port : -1;
  }
  if (port_ <= 0) {
    throw Error(ErrorKind::IO, fmt::format("cannot listen on {}:{} (in use, or not an address of this machine)",
                                           options_.host, options_.port));
  }
  if (listen_socket_ >= 0) ::listen(listen_socket_, SOMAXCONN);
  return port_;
}

void Server::run() {
  run_started_ = true;
  if (!stop_requested_) http_->listen_after_bind();
  run_finished_ = true;
}

void Server::stop() {
  stop_requested_ = true;
  while (run_started_ && !run_finished_ && !http_->is_running()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  http_->stop();
}

}  // namespace latent::server
