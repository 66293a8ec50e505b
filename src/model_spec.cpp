#include <latent/model_spec.hpp>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <deque>
#include <limits>
#include <optional>

#include <fmt/format.h>

#include <latent/error.hpp>

#include "models/builtin.hpp"

namespace latent {

const char* to_string(ParamType type) noexcept {
  switch (type) {
    case ParamType::Int:
      return "int";
    case ParamType::Float:
      return "float";
    case ParamType::Bool:
      return "bool";
    case ParamType::Choice:
      return "choice";
    case ParamType::IntList:
      return "ints";
  }
  return "?";
}

std::vector<std::int32_t> parse_int_list(const std::string& name, const std::string& text) {
  std::vector<std::int32_t> out;
  if (text.empty()) return out;
  std::size_t begin = 0;
  while (true) {
    const std::size_t end = std::min(text.find(',', begin), text.size());
    const std::string part = text.substr(begin, end - begin);
    const auto v = part.empty() || part.find_first_not_of("-0123456789") != std::string::npos
                       ? std::nullopt
                       : std::optional<std::int64_t>(std::strtoll(part.c_str(), nullptr, 10));
    if (!v || *v < std::numeric_limits<std::int32_t>::min() ||
        *v > std::numeric_limits<std::int32_t>::max() || part == "-") {
      throw Error(ErrorKind::InvalidArgument,
                  fmt::format("parameter {} = \"{}\": \"{}\" is not an integer (a list is "
                              "comma-separated integers, such as 64,32)",
                              name, text, part));
    }
    out.push_back(static_cast<std::int32_t>(*v));
    if (end == text.size()) break;
    begin = end + 1;
  }
  return out;
}

namespace {

std::string number_text(double v) { return fmt::format("{}", v); }

bool numeric(ParamType t) {
  return t == ParamType::Int || t == ParamType::Float || t == ParamType::IntList;
}

}  // namespace

std::string ParamSpec::range_text() const {
  if (type == ParamType::Choice) return fmt::format("{}", fmt::join(choices, ", "));
  if (!numeric(type)) return "";
  const bool has_min = std::isfinite(min);
  const bool has_max = std::isfinite(max);
  if (has_min && has_max) {
    return fmt::format("{}{}, {}{}", min_open ? "(" : "[", number_text(min), number_text(max),
                       max_open ? ")" : "]");
  }
  if (has_min) return fmt::format("{} {}", min_open ? ">" : ">=", number_text(min));
  if (has_max) return fmt::format("{} {}", max_open ? "<" : "<=", number_text(max));
  return "";
}

std::string ParamSpec::python_name() const {
  std::string s = name;
  std::replace(s.begin(), s.end(), '-', '_');
  return s;
}

std::string ParamSpec::flag() const {
  return type == ParamType::Bool && default_value == "true" ? "--no-" + name : "--" + name;
}

void ParamSpec::check(const std::string& text) const {
  switch (type) {
    case ParamType::Bool:
      (void)parse_param<bool>(name, text);
      return;
    case ParamType::Choice:
      if (std::find(choices.begin(), choices.end(), text) == choices.end()) {
        throw Error(
            ErrorKind::InvalidArgument,
            fmt::format("parameter {} = \"{}\" is not one of {}", name, text, range_text()));
      }
      return;
    case ParamType::IntList:
      for (const std::int32_t v : parse_int_list(name, text)) check_range(v, text, true);
      return;
    case ParamType::Int:
    case ParamType::Float:
      break;
  }
  double v = 0;
  if (type == ParamType::Float) {
    v = parse_param<double>(name, text);
  } else if (!text.empty() && text[0] == '-') {
    v = static_cast<double>(parse_param<std::int64_t>(name, text));
  } else {
    v = static_cast<double>(parse_param<std::uint64_t>(name, text));
  }
  check_range(v, text, false);
}

void ParamSpec::check_range(double v, const std::string& text, bool element) const {
  const bool below = min_open ? !(v > min) : !(v >= min);
  const bool above = max_open ? !(v < max) : !(v <= max);
  if (!std::isfinite(v) || below || above) {
    const std::string range = range_text();
    const std::string value =
        element ? fmt::format("\"{}\": {}", text, v) : fmt::format("\"{}\"", text);
    throw Error(ErrorKind::InvalidArgument,
                fmt::format("parameter {} = {} is outside {} ({})", name, value,
                            range.empty() ? "the finite numbers" : range, help));
  }
}

nlohmann::json ParamSpec::to_json() const {
  nlohmann::json j{{"name", name},
                   {"python_name", python_name()},
                   {"flag", flag()},
                   {"type", to_string(type)},
                   {"default", default_value},
                   {"help", help},
                   {"range", range_text()}};
  if (type == ParamType::Choice) j["choices"] = choices;
  return j;
}

const std::vector<ParamSpec>& common_param_specs() {
  static const std::vector<ParamSpec> specs = [] {
    std::vector<ParamSpec> v(3);
    v[0].name = "seed";
    v[0].type = ParamType::Int;
    v[0].default_value = "42";
    v[0].help = "Seed of the test split, and of the model's initialisation and sampling";
    v[0].min = 0;  // and at most 2^64 - 1, which parsing as std::uint64_t enforces
    v[1].name = "threads";
    v[1].type = ParamType::Int;
    v[1].default_value = "0";
    v[1].help = "Training threads (0: all cores)";
    v[1].min = 0;
    v[1].max = 4096;
    v[2].name = "rated-weight";
    v[2].type = ParamType::Float;
    v[2].default_value = "0";
    v[2].help =
        "Train on the pairs rated at or below --rating-above too, as weak positives of this "
        "weight (0: not at all; they are seen items either way)";
    v[2].min = 0;
    return v;
  }();
  return specs;
}

bool common_param_applies(const ParamSpec& common, const ModelSpec& model) {
  return common.name != "rated-weight" || model.weighs_pairs;
}

const ParamSpec* ModelSpec::param(std::string_view n) const {
  for (const auto& p : params) {
    if (p.name == n) return &p;
  }
  for (const auto& c : common_param_specs()) {
    if (c.name == n && common_param_applies(c, *this)) return &c;
  }
  return nullptr;
}

std::vector<ParamSpec> ModelSpec::all_params() const {
  std::vector<ParamSpec> out = params;
  for (const auto& c : common_param_specs()) {
    if (common_param_applies(c, *this)) out.push_back(c);
  }
  return out;
}

nlohmann::json ModelSpec::to_json() const {
  nlohmann::json ps = nlohmann::json::array();
  for (const auto& p : params) ps.push_back(p.to_json());
  nlohmann::json common = nlohmann::json::array();
  for (const auto& c : common_param_specs()) {
    if (common_param_applies(c, *this)) common.push_back(c.name);
  }
  nlohmann::json space = nlohmann::json::object();
  for (const auto& [n, values] : search_space.values) space[n] = values;
  return {{"name", name},
          {"summary", summary},
          {"params", ps},
          {"common_params", common},
          {"search_space", space},
          {"weighs_pairs", weighs_pairs},
          {"thread_deterministic", thread_deterministic},
          {"personalized", personalized},
          {"item_similarity", item_similarity},
          {"warm_start", warm_start},
          {"update_users", update_users},
          {"warm_start_note", warm_start_note},
          {"distributed", static_cast<bool>(train_distributed)},
          {"distributed_note", distributed_note}};
}

void check_param_names(const ModelSpec& model, const Params& params) {
  for (const auto& [name, value] : params.values()) {
    if (model.param(name) != nullptr) continue;
    std::vector<std::string> names;
    for (const auto& p : model.all_params()) names.push_back(p.name);
    const ParamSpec* common = nullptr;
    for (const auto& c : common_param_specs()) {
      if (c.name == name) common = &c;
    }
    throw Error(
        ErrorKind::InvalidArgument,
        fmt::format("parameter {} does not apply to model {}{}; its parameters: {}", name,
                    model.name, common != nullptr ? " (it does not train on pair weights)" : "",
                    fmt::join(names, ", ")));
  }
}

namespace {

[[noreturn]] void bad_spec(const std::string& model, const std::string& why) {
  throw Error(ErrorKind::InvalidArgument, fmt::format("model spec \"{}\": {}", model, why));
}

// Everything but uniqueness, which needs the registry.
void check_spec(const ModelSpec& s) {
  if (s.name.empty() || s.name.find_first_of(" \t\n=,") != std::string::npos) {
    bad_spec(s.name, "the name must be non-empty, without blanks, '=' or ','");
  }
  if (!s.configure || !s.train || !s.fold_in)
    bad_spec(s.name, "configure, train and fold_in are required");
  for (const auto& p : s.params) {
    if (p.name.empty() || p.name.rfind("no-", 0) == 0) {
      bad_spec(s.name, fmt::format("parameter name \"{}\" is empty or starts with no-", p.name));
    }
    if (p.help.empty()) bad_spec(s.name, fmt::format("parameter {} has no help", p.name));
    for (const auto& c : common_param_specs()) {
      if (c.name == p.name) bad_spec(s.name, fmt::format("parameter {} is a common one", p.name));
    }
    try {
      p.check(p.default_value);
    } catch (const Error& e) {
      bad_spec(s.name, fmt::format("the default of {}: {}", p.name, e.what()));
    }
  }
  for (const auto& [n, values] : s.search_space.values) {
    if (s.param(n) == nullptr)
      bad_spec(s.name, fmt::format("search space names unknown parameter {}", n));
  }
  for (const auto& n : s.warm_start_fixed) {
    if (s.param(n) == nullptr)
      bad_spec(s.name, fmt::format("warm_start_fixed names unknown parameter {}", n));
  }
}

// A deque: references to its specs stay valid as models are added.
std::deque<ModelSpec>& registry() {
  static std::deque<ModelSpec> specs = [] {
    std::deque<ModelSpec> d;
    for (auto&& s : builtin_model_specs()) {
      check_spec(s);
      d.push_back(std::move(s));
    }
    return d;
  }();
  return specs;
}

}  // namespace

std::vector<float> MeanOfItems::query(const ModelData& model,
                                      std::span<const std::int32_t> item_rows) const {
  const Matrix& items = model.item_embeddings;
  const auto d = static_cast<std::size_t>(items.cols());
  std::vector<float> q(d, 0.0f);
  for (auto r : item_rows) {
    const auto v = items.row(r);
    for (std::size_t j = 0; j < d; ++j) q[j] += v[j];
  }
  for (float& v : q) v /= static_cast<float>(item_rows.size());
  return q;
}

std::vector<float> SumOfItemQueries::query(const ModelData& model,
                                           std::span<const std::int32_t> item_rows) const {
  const Matrix& queries = model.item_queries;
  std::vector<std::int32_t> rows(item_rows.begin(), item_rows.end());
  std::sort(rows.begin(), rows.end());
  rows.erase(std::unique(rows.begin(), rows.end()), rows.end());
  const auto d = static_cast<std::size_t>(model.item_embeddings.cols());
  std::vector<float> q(d, 0.0f);
  if (queries.rows() != model.item_embeddings.rows() ||
      static_cast<std::size_t>(queries.cols()) != d) {
    throw Error(ErrorKind::Corruption,
                fmt::format("a {} model needs item query vectors to fold in new users, and this "
                            "one has none",
                            model.kind));
  }
  for (auto r : rows) {
    const auto v = queries.row(r);
    for (std::size_t j = 0; j < d; ++j) q[j] += v[j];
  }
  return q;
}

std::vector<const ModelSpec*> model_specs() {
  std::vector<const ModelSpec*> out;
  for (const auto& s : registry()) out.push_back(&s);
  return out;
}

std::vector<std::string> model_names() {
  std::vector<std::string> out;
  for (const auto& s : registry()) out.push_back(s.name);
  return out;
}

const ModelSpec* find_model_spec(std::string_view name) noexcept {
  for (const auto& s : registry()) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

const ModelSpec& model_spec(std::string_view name) {
  if (const ModelSpec* s = find_model_spec(name)) return *s;
  throw Error(ErrorKind::InvalidArgument, fmt::format("unknown model \"{}\"; valid models: {}",
                                                      name, fmt::join(model_names(), ", ")));
}

void register_model(ModelSpec spec) {
  check_spec(spec);
  if (find_model_spec(spec.name) != nullptr)
    bad_spec(spec.name, "a model of this name is registered");
  registry().push_back(std::move(spec));
}

}  // namespace latent
