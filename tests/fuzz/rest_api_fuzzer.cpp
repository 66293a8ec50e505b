// Fuzz target: the server's request routing and request JSON
// (RestApi::handle), over a ModelStore serving three tiny models built once
// at start-up: "movies" (ALS, with titles), "ease" and "pop" (popularity),
// each kind with its own fold-in.
//
// Input: the request line "METHOD PATH", a newline, then the body, e.g.
//   POST /v1/models/movies:recommend
//   {"users": ["u1"], "k": 3}
// handle() never throws (rest_api.hpp). Findings besides crashes: a 500
// (an exception the API did not turn into a client error), a JSON response
// that is not JSON, and an error response without its "error" message.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include <latent/fit.hpp>
#include <latent/recommender.hpp>

#include <metrics.hpp>
#include <model_store.hpp>
#include <rest_api.hpp>

#include "fixtures/tiny_dataset.hpp"
#include "fuzz/fuzz_support.hpp"

namespace {

namespace fs = std::filesystem;

struct Service {
  latent::server::ModelStore store;
  latent::server::Metrics metrics;
  latent::server::RestApi api;

  explicit Service(std::vector<latent::server::ModelConfig> configs)
      : store(std::move(configs)), api(store, metrics, limits()) {
    store.poll();
  }
  static latent::server::Limits limits() {
    latent::server::Limits l;
    l.max_k = 50;
    l.max_ids = 20;
    return l;
  }
};

std::unique_ptr<Service> service;

// BASE/1/model.latent holding a model of `kind` fitted on the fixture.
latent::server::ModelConfig served(const std::string& name, const std::string& kind) {
  latent::FitOptions options;
  options.model = kind;
  if (kind == "als") {
    options.params = {{"dim", "8"}, {"regularization", "2"}, {"threads", "1"}, {"seed", "1"}};
  } else if (kind == "ease") {
    options.params = {{"threads", "1"}};
  }
  const fs::path base = latent::fuzz::scratch_dir() / name;
  fs::create_directories(base / "1");
  latent::fit(latent::test::tiny_dataset(), options).model.save(base / "1" / "model.latent");
  return {name, base};
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  service = std::make_unique<Service>(std::vector<latent::server::ModelConfig>{
      served("movies", "als"), served("ease", "ease"), served("pop", "popularity")});
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using latent::fuzz::check;
  const auto [line, body] = latent::fuzz::split_once(latent::fuzz::as_text(data, size), "\n");
  const auto [method, path] = latent::fuzz::split_once(line, " ");
  const latent::server::HttpResponse r = service->api.handle(method, path, body);
  check(r.status != 500, "no request is an internal error (500)");
  check(r.status >= 200 && r.status < 600, "an HTTP status");
  if (r.content_type == "application/json") {
    const auto json = nlohmann::json::parse(r.body, nullptr, /*allow_exceptions=*/false);
    check(!json.is_discarded(), "a JSON response is JSON");
    if (r.status >= 400) {
      check(json.is_object() && json.contains("error") && json["error"].is_string(),
            "an error response says what is wrong");
    }
  }
  return 0;
}
