#pragma once
// Which models a server serves: a name and a base path per model, from the
// command line (--model_name, --model_base_path) or from a TensorFlow
// Serving model config file (--model_config_file), so users keep theirs:
//
//   model_config_list {
//     config { name: 'movies' base_path: '/models/movies' model_platform: 'latent' }
//     config { name: "books"  base_path: "/models/books" }
//   }
//
// The file is protobuf text format; this reader accepts the subset above
// (fields name, base_path, model_platform; '#' comments; single or double
// quoted strings; optional ':' before '{' and ',' or ';' between fields)
// and rejects anything else with the file and line, so a typo never goes
// unnoticed.

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace latent::server {

struct ModelConfig {
  std::string name;
  std::filesystem::path base_path;  // holds version folders 1/, 2/, ...
};

// Parses the text of a model config file; `source` names it in errors.
// Throws Error(InvalidArgument) naming source:line for a syntax error, an
// unknown field, a missing name or base_path, or a duplicate model name.
std::vector<ModelConfig> parse_model_config(std::string_view text, const std::string& source);

// Reads and parses a file; Error(IO) when it cannot be read.
std::vector<ModelConfig> read_model_config(const std::filesystem::path& path);

// Throws InvalidArgument for an empty or non-URL-safe name (names appear in
// URLs: letters, digits, '-', '_', '.') or duplicate names.
void check_model_configs(const std::vector<ModelConfig>& configs);

}  // namespace latent::server
