// latent models: what every registered model takes, from the model specs.
#include "model_help.hpp"

#include <algorithm>
#include <memory>
#include <vector>

#include <fmt/format.h>

#include <latent/model_spec.hpp>

namespace latent::cli {

namespace {

// "INT", "FLOAT", "" for a switch, "adagrad|adam" for a choice.
std::string value_text(const ParamSpec& p) {
  switch (p.type) {
    case ParamType::Int:
      return "INT";
    case ParamType::Float:
      return "FLOAT";
    case ParamType::Bool:
      return "";
    case ParamType::Choice:
      return fmt::format("{}", fmt::join(p.choices, "|"));
    case ParamType::IntList:
      return "INT,...";
  }
  return "";
}

std::string usage(const ParamSpec& p) {
  const std::string v = value_text(p);
  return v.empty() ? p.flag() : p.flag() + " " + v;
}

// "default 64, [1, 4096]"; a switch says what it turns on or off.
std::string facts(const ParamSpec& p) {
  if (p.type == ParamType::Bool) {
    return p.default_value == "true" ? "on by default; the flag turns it off" : "off by default";
  }
  const std::string range = p.type == ParamType::Choice ? "" : p.range_text();
  return range.empty() ? fmt::format("default {}", p.default_value)
                       : fmt::format("default {}, {}", p.default_value, range);
}

// The models a common parameter applies to, when not all.
std::string applies_to(const ParamSpec& common) {
  std::vector<std::string> yes, no;
  for (const ModelSpec* m : model_specs()) {
    (common_param_applies(common, *m) ? yes : no).push_back(m->name);
  }
  if (no.empty()) return "";
  return fmt::format(" (not {})", fmt::join(no, ", "));
}

void append_rows(std::string& out, const std::vector<ParamSpec>& params) {
  std::size_t width = 0;
  for (const auto& p : params) width = std::max(width, usage(p).size());
  for (const auto& p : params) {
    out += fmt::format("    {:<{}}  {} ({})\n", usage(p), width, p.help, facts(p));
  }
}

}  // namespace

std::string model_params_help() {
  std::string out = "Model parameters (give them as flags with --model NAME):\n";
  for (const ModelSpec* m : model_specs()) {
    out += fmt::format("  {}: {}\n", m->name, m->summary);
    if (m->params.empty()) out += "    (no parameters of its own)\n";
    append_rows(out, m->params);
  }
  out += "  every model:\n";
  std::vector<ParamSpec> common = common_param_specs();
  for (auto& c : common) c.help += applies_to(c);
  append_rows(out, common);
  return out;
}

std::string model_params_markdown() {
  std::string out =
      "| model | flag (Python keyword) | type | default | allowed | what it does |\n"
      "|---|---|---|---|---|---|\n";
  const auto row = [&](const std::string& model, const ParamSpec& p, const std::string& help) {
    const std::string type = p.type == ParamType::Choice ? "choice" : to_string(p.type);
    out += fmt::format("| {} | `{}` (`{}`) | {} | {} | {} | {} |\n", model, p.flag(),
                       p.python_name(), type, p.default_value, p.range_text(), help);
  };
  for (const ModelSpec* m : model_specs()) {
    for (const auto& p : m->params) row(m->name, p, p.help);
  }
  for (const auto& c : common_param_specs()) row("every model", c, c.help + applies_to(c));
  return out;
}

void add_models(CLI::App& app) {
  auto markdown = std::make_shared<bool>(false);
  auto json = std::make_shared<bool>(false);
  auto* cmd = app.add_subcommand("models", "List the models and their parameters with defaults");
  cmd->add_flag("--markdown", *markdown, "As the Markdown table of docs/models.md");
  cmd->add_flag("--json", *json, "As JSON (one object per model)");
  cmd->callback([=] {
    if (*json) {
      nlohmann::json j = nlohmann::json::array();
      for (const ModelSpec* m : model_specs()) j.push_back(m->to_json());
      fmt::print("{}\n", j.dump(2));
    } else {
      fmt::print("{}", *markdown ? model_params_markdown() : model_params_help());
    }
  });
}

}  // namespace latent::cli
