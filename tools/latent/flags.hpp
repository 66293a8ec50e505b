#pragma once
// Flags shared by the commands that load data and train: where the data is
// and how to read it (DataFlags), and which model with which
// hyper-parameters (ModelFlags, one flag per idea across models).

#include <map>
#include <string>

#include <CLI/CLI.hpp>

#include <latent/dataset.hpp>
#include <latent/params.hpp>

namespace latent::cli {

struct DataFlags {
  LoadOptions load;
  std::string format = "auto";
  std::string delimiter;
  bool no_header = false;
  double rating_above = 0;
  std::string item_key = "id";
  CLI::Option* rating_above_option = nullptr;

  void add_to(CLI::App& cmd);
  // The LoadOptions the flags describe; throws for invalid names.
  LoadOptions options() const;
};

struct ModelFlags {
  std::string model = "two-tower";
  std::map<std::string, std::string> values;
  std::map<std::string, CLI::Option*> options;

  void add_to(CLI::App& cmd);
  // The parameters given on the command line (and only those).
  Params params() const;
  // The --seed value when given, else `fallback`.
  std::uint64_t seed_or(std::uint64_t fallback) const;
};

}  // namespace latent::cli
