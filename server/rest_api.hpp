#pragma once
// RestApi: routes one HTTP request (method, path, body) to the model store
// and the library, and shapes the JSON answer. No sockets here (server.hpp
// does those), so every route and every error is a plain function call.
//
// TensorFlow Serving's REST API, with its JSON shapes:
//   GET  /v1/models/NAME[/versions/V]            {"model_version_status": [...]}
//   GET  /v1/models/NAME[/versions/V]/metadata   {"model_spec", "metadata": {"signature_def"}}
//   POST /v1/models/NAME[/versions/V]:predict    row {"instances": [...]} -> {"predictions": [...]}
//                                                or columnar {"inputs": ...} -> {"outputs": ...}
// answered like a saved TFRS BruteForce index: input_1 = user ids (strings),
// output_1 = scores [-1, k] float, output_2 = item ids [-1, k] string.
// latent's own, on the same URL scheme:
//   POST ...:recommend   {"users": [...], "k", "exclude_seen", "allow", "deny", "exact",
//                        "ef"}, or
//                        {"items": [...]} (a new user, by fold-in), or both with one user
//   POST ...:similar     {"item": ID, "k"}
//   POST ...:embeddings  {"users": [...], "items": [...]}
//   GET  /metrics (Prometheus text), GET /healthz
//   GET  /openapi.yaml: this list with every JSON shape and status, as an
//        OpenAPI 3.0 description (docs/openapi.yaml, embedded at build time)
// Every error is {"error": "..."} with a 4xx status naming the field and
// value (a 405 also names the path's methods in HttpResponse::allow); an
// unexpected exception is a 500 with the same shape. HEAD is routed
// wherever GET is (the transport drops the content). A body that
// is not JSON (a number beyond a double included) or nests arrays and
// objects deeper than 64 levels is a 400.

#include <cstddef>
#include <exception>
#include <string>
#include <string_view>

#include "metrics.hpp"
#include "model_store.hpp"
#include "query_batcher.hpp"

namespace latent::server {

struct Limits {
  int max_k = 1000;            // k above this is a 400
  std::size_t max_ids = 1000;  // ids in one list of a request (users, items, allow, deny)
  int predict_k = 10;          // k of :predict, as the saved index's signature says
  int search_threads =
      1;  // threads per request's search (the I/O threads run requests in parallel)
  // Models with at least this many items merge concurrent :predict and
  // :recommend (users, no allow/deny) requests into one search (QueryBatcher)
  // that uses every core. Small catalogs answer each request on its own thread.
  std::int64_t batch_min_items = 100000;
  // Throws InvalidArgument naming the flag for a value out of range.
  void validate() const;
};

struct HttpResponse {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
  std::string allow = {};  // a 405's Allow header: the methods the path takes
};

// {"error": message} with `status`.
HttpResponse error_response(int status, std::string_view message);
// The response for an exception caught while handling a request: a
// latent::Error of kind InvalidArgument, NotFound or Unsupported (this model
// cannot do that) is the client's (400),
// anything else is a 500 whose message says it is internal.
HttpResponse exception_response(std::exception_ptr error);

class RestApi {
 public:
  RestApi(const ModelStore& store, Metrics& metrics, Limits limits);

  // Never throws. Records the request in metrics (endpoint, status, time).
  HttpResponse handle(std::string_view method, std::string_view path, std::string_view body) const;

  // True when handle() for this request may block waiting for a merged
  // search (a :predict or :recommend on a model of at least
  // Limits::batch_min_items items): the transport runs such requests off
  // its I/O threads so that waiting requests can merge. Cheap: no body.
  bool may_wait_for_merged_search(std::string_view method, std::string_view path) const;

  // The metrics this API renders (the transport adds its connection counts).
  Metrics& metrics() const noexcept { return metrics_; }

 private:
  HttpResponse route(std::string_view method, std::string_view path, std::string_view body,
                     Endpoint& endpoint) const;

  const ModelStore& store_;
  Metrics& metrics_;
  Limits limits_;
  mutable QueryBatcher batcher_;
};

}  // namespace latent::server
