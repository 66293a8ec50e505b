#pragma once
// Metrics: request counts by endpoint and HTTP status, a latency histogram
// per endpoint, and the model store's versions and loads, rendered in the
// Prometheus text exposition format (version 0.0.4) for GET /metrics.
//
// record() is called once per request from many threads, so it takes no
// lock: counts per (endpoint, status code) and histogram buckets are
// relaxed atomics. (Requests run on the I/O threads and on the pool of
// threads that wait for merged searches; a lock holder preempted among
// those would stall every request behind it.)

#include <array>
#include <atomic>
#include <cstdint>
#include <string>

#include "model_store.hpp"
#include "query_batcher.hpp"

namespace latent::server {

// What a request asked for; the label of its metrics.
enum class Endpoint {
  Status,
  Metadata,
  Predict,
  Recommend,
  Similar,
  Embeddings,
  Metrics,
  Health,
  OpenApi,
  Other,
  kCount
};
const char* to_string(Endpoint endpoint) noexcept;

// The HTTP server's connections (server.cpp updates them, relaxed).
struct ConnectionCounters {
  std::atomic<std::uint64_t> open{0};      // connections open now
  std::atomic<std::uint64_t> limit{0};     // --max_connections
  std::atomic<std::uint64_t> accepted{0};  // connections admitted
  // Idle connections (waiting for a request's header) closed to admit a
  // new one at the limit or when the process ran out of descriptors.
  std::atomic<std::uint64_t> closed_idle_for_new{0};
  // New connections refused (503, closed) at the limit when none was idle.
  std::atomic<std::uint64_t> rejected{0};
  // accept() failures for lack of file descriptors (EMFILE, ENFILE, ...;
  // each pauses accepting until a connection closes or a timer fires), and
  // the episodes of them (each logged once).
  std::atomic<std::uint64_t> accept_fd_errors{0};
  std::atomic<std::uint64_t> accept_pauses{0};
};

class Metrics {
 public:
  // Upper bounds of the latency buckets, in seconds (+Inf is implicit).
  static constexpr std::array<double, 14> kBuckets = {
      0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5};

  void record(Endpoint endpoint, int status, double seconds);

  // The exposition text: latent_http_requests_total{endpoint,code},
  // latent_http_request_errors_total{endpoint,code} (status >= 400),
  // latent_http_request_duration_seconds (histogram by endpoint), and per
  // model latent_model_version (served version, 0 = none),
  // latent_model_loads_total{result}, latent_model_bytes.
  // latent_search_batches_total and latent_search_batched_queries_total
  // count the batcher's merged searches and the user rows they answered.
  // latent_http_connections (open now), latent_http_connections_limit,
  // latent_http_connections_accepted_total, ..._closed_idle_total,
  // ..._rejected_total, latent_http_accept_fd_errors_total and
  // latent_http_accept_pauses_total come from `connections`.
  std::string render(const ModelStore& store, const QueryBatcher& batcher) const;

  ConnectionCounters connections;

 private:
  struct Histogram {
    std::array<std::atomic<std::uint64_t>, kBuckets.size() + 1> counts{};
    std::atomic<std::uint64_t> sum_nanos{0};
  };
  static constexpr int kMinCode = 100;
  static constexpr int kMaxCode = 599;
  static constexpr std::size_t kEndpoints = static_cast<std::size_t>(Endpoint::kCount);
  std::array<Histogram, kEndpoints> latency_;
  // Requests per endpoint and status code (kMinCode..kMaxCode).
  std::array<std::array<std::atomic<std::uint64_t>, kMaxCode - kMinCode + 1>, kEndpoints> codes_{};
};

}  // namespace latent::server
