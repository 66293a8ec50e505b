#pragma once
// The OpenAPI description of the REST API (docs/openapi.yaml), embedded in
// the binary at build time (cmake/embed_file.cmake) and served by RestApi at
// GET /openapi.yaml, so the served description is exactly the repository's.

#include <string_view>

namespace latent::server {

// The bytes of docs/openapi.yaml (YAML text, UTF-8); static storage.
std::string_view openapi_yaml();

}  // namespace latent::server
