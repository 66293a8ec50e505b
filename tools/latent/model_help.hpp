#pragma once
// The registered models and their parameters as text, all generated from the
// model specs (model_spec.hpp): the help footer of the commands that train,
// `latent models`, and the parameter table of docs/models.md.

#include <string>

#include <CLI/CLI.hpp>

namespace latent::cli {

// Per model: its summary and one line per parameter (flag, type, default,
// allowed values, help); then the parameters common to every model.
std::string model_params_help();
// docs/models.md's table: one row per parameter, grouped by model.
std::string model_params_markdown();

void add_models(CLI::App& app);

}  // namespace latent::cli
