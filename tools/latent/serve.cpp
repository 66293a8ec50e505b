// latent serve: the models of version folders over TensorFlow Serving's REST
// API (flag names as tensorflow_model_server's), with hot reload.
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>

#include <fmt/format.h>

#include <latent/error.hpp>

#include <model_config.hpp>
#include <model_store.hpp>
#include <rest_api.hpp>
#include <server.hpp>

#include "commands.hpp"

namespace latent::cli {

namespace {

int signal_pipe[2] = {-1, -1};

extern "C" void on_signal(int sig) {
  const char byte = static_cast<char>(sig);
  [[maybe_unused]] const auto n = ::write(signal_pipe[1], &byte, 1);
}

struct ServeFlags {
  std::string model_name;
  std::string model_base_path;
  std::string model_config_file;
  double poll_seconds = 1.0;
  server::ServerOptions server;
  server::Limits limits;
};

std::vector<server::ModelConfig> model_configs(const ServeFlags& f) {
  if (!f.model_config_file.empty()) {
    if (!f.model_base_path.empty()) {
      throw Error(ErrorKind::InvalidArgument,
                  "give --model_config_file or --model_base_path, not both");
    }
    return server::read_model_config(f.model_config_file);
  }
  if (f.model_base_path.empty()) {
    throw Error(ErrorKind::InvalidArgument,
                "give --model_base_path DIR (with --model_name) or --model_config_file FILE");
  }
  return {server::ModelConfig{f.model_name, f.model_base_path}};
}

void serve(const ServeFlags& f) {
  if (!(f.poll_seconds >= 0)) {
    throw Error(
        ErrorKind::InvalidArgument,
        fmt::format("--file_system_poll_wait_seconds must be >= 0, got {}", f.poll_seconds));
  }
  f.limits.validate();
  f.server.validate();
  // SIGTERM and SIGINT write a byte to a pipe (all a signal handler may
  // safely do; libraries' threads such as OpenBLAS's exist before this, so
  // the signal may land on any thread); one thread waits on the pipe and
  // stops the server.
  if (::pipe(signal_pipe) != 0) throw Error(ErrorKind::IO, "cannot create the signal pipe");
  struct sigaction action {};
  action.sa_handler = on_signal;
  sigemptyset(&action.sa_mask);
  ::sigaction(SIGTERM, &action, nullptr);
  ::sigaction(SIGINT, &action, nullptr);

  server::ModelStore store(model_configs(f));
  store.poll();
  server::Metrics metrics;
  server::RestApi api(store, metrics, f.limits);
  server::Server http(api, f.server);
  const int port = http.bind();
  fmt::print("latent serve: listening on {}:{} (models: {})\n", f.server.host, port,
             fmt::join(store.model_names(), ", "));
  rlimit files{};
  if (::getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur != RLIM_INFINITY &&
      f.server.max_connections > server::default_max_connections()) {
    fmt::print(
        "latent serve: --max_connections {} is above what the open-file limit (ulimit -n {}) "
        "leaves for connections; when descriptors run out, accepting pauses and idle "
        "connections are closed\n",
        f.server.max_connections, files.rlim_cur);
  }
  std::fflush(stdout);
  if (f.poll_seconds > 0) {
    store.start_polling(
        std::chrono::milliseconds(std::max(1LL, static_cast<long long>(f.poll_seconds * 1000))));
  }
  std::thread waiter([&] {
    char sig = 0;
    while (::read(signal_pipe[0], &sig, 1) < 0 && errno == EINTR) {
    }
    if (sig == 0) return;  // woken by the main thread below: run() ended on its own
    fmt::print("latent serve: {} received, finishing requests in flight\n",
               sig == SIGTERM ? "SIGTERM" : "SIGINT");
    std::fflush(stdout);
    http.stop();
  });
  http.run();
  const char wake = 0;
  [[maybe_unused]] const auto n = ::write(signal_pipe[1], &wake, 1);
  waiter.join();
  store.stop_polling();
  fmt::print("latent serve: stopped\n");
}

}  // namespace

void add_serve(CLI::App& app) {
  auto f = std::make_shared<ServeFlags>();
  auto* cmd = app.add_subcommand("serve",
                                 "Serve models over TensorFlow Serving's REST API (+ recommend, "
                                 "similar, embeddings), with hot reload");
  cmd->add_option("--model_name", f->model_name, "Name of the model in URLs (/v1/models/NAME)")
      ->default_val("default");
  cmd->add_option(
      "--model_base_path", f->model_base_path,
      "Directory of numbered version folders (1/, 2/, ...) each holding one *.latent model file");
  cmd->add_option("--model_config_file", f->model_config_file,
                  "TF Serving model config (protobuf text: model_config_list { config { name: "
                  "'...' base_path: '...' } })");
  cmd->add_option("--rest_api_port", f->server.port,
                  "HTTP port (0: any free port, printed at start)")
      ->capture_default_str();
  cmd->add_option("--rest_api_host", f->server.host, "Address to listen on")->capture_default_str();
  // These two defaults depend on the machine (cores, ulimit -n): their help
  // says how they are chosen instead of printing this machine's values, so
  // that --help, and docs/cli.md made from it, read the same everywhere.
  cmd->add_option("--rest_api_num_threads", f->server.threads,
                  "HTTP I/O threads (default: one per core); they serve every connection (an open "
                  "keep-alive "
                  "connection costs no thread) and run the requests, except those that may wait "
                  "for a merged "
                  "search (--batch_min_items), which wait on threads of their own");
  cmd->add_option("--rest_api_timeout_seconds", f->server.keep_alive_seconds,
                  "Idle keep-alive connections close after this")
      ->capture_default_str();
  cmd->add_option("--max_connections", f->server.max_connections,
                  fmt::format("Most connections open at once (default: the open-file limit, "
                              "ulimit -n, minus {} kept for model files and logs, at least half of "
                              "it). At the limit a new connection closes the longest-idle one "
                              "(waiting for a request); if every one is busy it gets a 503",
                              server::kReservedFds));
  cmd->add_option("--file_system_poll_wait_seconds", f->poll_seconds,
                  "Seconds between scans for new versions (0: load once, never poll)")
      ->capture_default_str();
  cmd->add_option("--max_body_bytes", f->server.max_body_bytes, "Larger request bodies get 413")
      ->capture_default_str();
  cmd->add_option("--max_k", f->limits.max_k, "Largest k a request may ask for")
      ->capture_default_str();
  cmd->add_option("--max_ids_per_request", f->limits.max_ids,
                  "Most ids in one list of a request (users, items, allow, deny, instances)")
      ->capture_default_str();
  cmd->add_option("--predict_k", f->limits.predict_k,
                  "k of :predict (the saved index's k; TF Serving clients cannot pass one)")
      ->capture_default_str();
  cmd->add_option("--search_threads", f->limits.search_threads,
                  "Threads per request's search (requests already run in parallel)")
      ->capture_default_str();
  cmd->add_option(
         "--batch_min_items", f->limits.batch_min_items,
         "Models with at least this many items answer concurrent requests with one merged search")
      ->capture_default_str();
  cmd->callback([f] { serve(*f); });
}

}  // namespace latent::cli
