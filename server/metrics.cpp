#include "metrics.hpp"

#include <algorithm>
#include <tuple>
#include <vector>

#include <fmt/format.h>

namespace latent::server {

const char* to_string(Endpoint endpoint) noexcept {
  switch (endpoint) {
    case Endpoint::Status:
      return "status";
    case Endpoint::Metadata:
      return "metadata";
    case Endpoint::Predict:
      return "predict";
    case Endpoint::Recommend:
      return "recommend";
    case Endpoint::Similar:
      return "similar";
    case Endpoint::Embeddings:
      return "embeddings";
    case Endpoint::Metrics:
      return "metrics";
    case Endpoint::Health:
      return "health";
    case Endpoint::OpenApi:
      return "openapi";
    case Endpoint::Other:
    case Endpoint::kCount:
      break;
  }
  return "other";
}

void Metrics::record(Endpoint endpoint, int status, double seconds) {
  auto& h = latency_[static_cast<std::size_t>(endpoint)];
  std::size_t bucket = 0;
  while (bucket < kBuckets.size() && seconds > kBuckets[bucket]) ++bucket;
  h.counts[bucket].fetch_add(1, std::memory_order_relaxed);
  h.sum_nanos.fetch_add(static_cast<std::uint64_t>(seconds * 1e9), std::memory_order_relaxed);
  const int code = std::clamp(status, kMinCode, kMaxCode);  // HTTP statuses are in range
  codes_[static_cast<std::size_t>(endpoint)][static_cast<std::size_t>(code - kMinCode)].fetch_add(
      1, std::memory_order_relaxed);
}

namespace {

// Prometheus label values escape backslash, double quote and newline.
std::string label(std::string_view value) {
  std::string out;
  for (char c : value) {
    if (c == '\\' || c == '"') out.push_back('\\');
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out.push_back(c);
  }
  return out;
}

}  // namespace

std::string Metrics::render(const ModelStore& store, const QueryBatcher& batcher) const {
  std::vector<std::tuple<Endpoint, int, std::uint64_t>> codes;  // the nonzero counts
  for (std::size_t e = 0; e < kEndpoints; ++e) {
    for (std::size_t c = 0; c < codes_[e].size(); ++c) {
      const auto n = codes_[e][c].load(std::memory_order_relaxed);
      if (n > 0) codes.emplace_back(static_cast<Endpoint>(e), static_cast<int>(c) + kMinCode, n);
    }
  }
  std::string out;
  auto it = std::back_inserter(out);
  fmt::format_to(
      it,
      "# HELP latent_http_requests_total HTTP requests answered, by endpoint and status code.\n");
  fmt::format_to(it, "# TYPE latent_http_requests_total counter\n");
  for (const auto& [endpoint, code, n] : codes) {
    fmt::format_to(it, "latent_http_requests_total{{endpoint=\"{}\",code=\"{}\"}} {}\n",
                   to_string(endpoint), code, n);
  }
  fmt::format_to(
      it, "# HELP latent_http_request_errors_total HTTP requests answered with status >= 400.\n");
  fmt::format_to(it, "# TYPE latent_http_request_errors_total counter\n");
  for (const auto& [endpoint, code, n] : codes) {
    if (code < 400) continue;
    fmt::format_to(it, "latent_http_request_errors_total{{endpoint=\"{}\",code=\"{}\"}} {}\n",
                   to_string(endpoint), code, n);
  }
  fmt::format_to(
      it,
      "# HELP latent_http_request_duration_seconds Time from a parsed request to its response.\n");
  fmt::format_to(it, "# TYPE latent_http_request_duration_seconds histogram\n");
  for (std::size_t e = 0; e < latency_.size(); ++e) {
    const auto& h = latency_[e];
    const char* name = to_string(static_cast<Endpoint>(e));
    std::uint64_t cumulative = 0;
    for (std::size_t b = 0; b < kBuckets.size(); ++b) {
      cumulative += h.counts[b].load(std::memory_order_relaxed);
      fmt::format_to(
          it, "latent_http_request_duration_seconds_bucket{{endpoint=\"{}\",le=\"{}\"}} {}\n", name,
          kBuckets[b], cumulative);
    }
    cumulative += h.counts[kBuckets.size()].load(std::memory_order_relaxed);
    fmt::format_to(
        it, "latent_http_request_duration_seconds_bucket{{endpoint=\"{}\",le=\"+Inf\"}} {}\n", name,
        cumulative);
    fmt::format_to(it, "latent_http_request_duration_seconds_sum{{endpoint=\"{}\"}} {}\n", name,
                   static_cast<double>(h.sum_nanos.load(std::memory_order_relaxed)) * 1e-9);
    fmt::format_to(it, "latent_http_request_duration_seconds_count{{endpoint=\"{}\"}} {}\n", name,
                   cumulative);
  }
  const auto names = store.model_names();
  fmt::format_to(it,
                 "# HELP latent_model_version The version each model serves (0: none loaded).\n");
  fmt::format_to(it, "# TYPE latent_model_version gauge\n");
  for (const auto& n : names)
    fmt::format_to(it, "latent_model_version{{model=\"{}\"}} {}\n", label(n),
                   store.counters(n).served_version);
  fmt::format_to(
      it, "# HELP latent_model_loads_total Version loads (hot reloads included), by result.\n");
  fmt::format_to(it, "# TYPE latent_model_loads_total counter\n");
  for (const auto& n : names) {
    const auto c = store.counters(n);
    fmt::format_to(it, "latent_model_loads_total{{model=\"{}\",result=\"success\"}} {}\n", label(n),
                   c.loads_succeeded);
    fmt::format_to(it, "latent_model_loads_total{{model=\"{}\",result=\"failure\"}} {}\n", label(n),
                   c.loads_failed);
  }
  fmt::format_to(it,
                 "# HELP latent_model_bytes Bytes of the served version's arrays (embeddings, seen "
                 "items, ids).\n");
  fmt::format_to(it, "# TYPE latent_model_bytes gauge\n");
  for (const auto& n : names)
    fmt::format_to(it, "latent_model_bytes{{model=\"{}\"}} {}\n", label(n),
                   store.counters(n).model_bytes);
  fmt::format_to(
      it,
      "# HELP latent_search_batches_total Searches that answered concurrent requests together.\n");
  fmt::format_to(it, "# TYPE latent_search_batches_total counter\n");
  fmt::format_to(it, "latent_search_batches_total {}\n", batcher.searches());
  fmt::format_to(
      it, "# HELP latent_search_batched_queries_total User rows answered by those searches.\n");
  fmt::format_to(it, "# TYPE latent_search_batched_queries_total counter\n");
  fmt::format_to(it, "latent_search_batched_queries_total {}\n", batcher.queries());
  const auto counter = [&](const char* name, const char* type, const char* help,
                           const std::atomic<std::uint64_t>& value) {
    fmt::format_to(it, "# HELP {} {}\n# TYPE {} {}\n{} {}\n", name, help, name, type, name,
                   value.load(std::memory_order_relaxed));
  };
  const auto& c = connections;
  counter("latent_http_connections", "gauge", "HTTP connections open.", c.open);
  counter("latent_http_connections_limit", "gauge",
          "Most HTTP connections open at once (--max_connections).", c.limit);
  counter("latent_http_connections_accepted_total", "counter", "HTTP connections admitted.",
          c.accepted);
  counter("latent_http_connections_closed_idle_total", "counter",
          "Idle keep-alive connections closed to admit a new one (at the limit, or out of file "
          "descriptors).",
          c.closed_idle_for_new);
  counter("latent_http_connections_rejected_total", "counter",
          "New connections refused at the limit (none was idle): 503 and closed.", c.rejected);
  counter("latent_http_accept_fd_errors_total", "counter",
          "accept() failures for lack of file descriptors (EMFILE, ENFILE, ENOBUFS, ENOMEM).",
          c.accept_fd_errors);
  counter("latent_http_accept_pauses_total", "counter",
          "Episodes of such failures (each logged once; during one, accepting pauses after each "
          "failure until a connection closes or 100 ms pass).",
          c.accept_pauses);
  return out;
}

}  // namespace latent::server
