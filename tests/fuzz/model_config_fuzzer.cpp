// Fuzz target: the server's model config file parser (protobuf text format,
// parse_model_config) and the checks on its result (check_model_configs).
//
// Input: the text of a model config file. latent::Error (InvalidArgument
// naming the source and line) is the documented failure; anything else is
// a finding, as is a config accepted without a name or base path.

#include <cstddef>
#include <cstdint>
#include <string>

#include <latent/error.hpp>

#include <model_config.hpp>

#include "fuzz/fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using latent::fuzz::check;
  try {
    const auto configs =
        latent::server::parse_model_config(latent::fuzz::as_text(data, size), "fuzz.config");
    for (const auto& c : configs) {
      check(!c.name.empty() && !c.base_path.empty(), "every model has a name and a base path");
    }
    latent::server::check_model_configs(configs);
  } catch (const latent::Error& e) {
    // The documented failure: a message naming the source and line.
    latent::fuzz::expected(e);
  }
  return 0;
}
