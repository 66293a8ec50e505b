#pragma once
// ParamTable<Config>: a model's parameters bound to the fields of its typed
// config struct, declared once beside each other (as LightGBM's config.h
// keeps name, type, default, range and description together). From the
// table come the ParamSpecs the front ends show (defaults read from a
// default-constructed Config, so they cannot drift from the struct) and the
// reading of Params into a Config, each value parsed and range-checked with
// an error that names the parameter:
//
//   const ParamTable<AlsConfig>& table() {
//     static const auto t = ParamTable<AlsConfig>()
//         .add("dim", &AlsConfig::dim, "Number of factors", Range::between(1, 4096))
//         .common("seed", &AlsConfig::seed);
//     return t;
//   }
//   AlsConfig c = table().read(params);

#include <functional>
#include <limits>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <latent/error.hpp>
#include <latent/model_spec.hpp>
#include <latent/params.hpp>

namespace latent {

// A numeric parameter's allowed values.
struct Range {
  double min = -std::numeric_limits<double>::infinity();
  double max = std::numeric_limits<double>::infinity();
  bool min_open = false;
  bool max_open = false;

  static Range any() { return {}; }
  static Range at_least(double v) {
    return {v, std::numeric_limits<double>::infinity(), false, false};
  }
  static Range above(double v) { return {v, std::numeric_limits<double>::infinity(), true, false}; }
  static Range between(double lo, double hi) { return {lo, hi, false, false}; }
};

template <class Config>
class ParamTable {
 public:
  // A numeric (int, float, double, std::uint64_t) or bool field.
  template <class T>
  ParamTable&& add(std::string name, T Config::*field, std::string help, Range range = {}) && {
    static_assert(std::is_arithmetic_v<T>, "add() takes numbers and bools; use choice() for enums");
    ParamSpec s;
    s.name = std::move(name);
    s.help = std::move(help);
    if constexpr (std::is_same_v<T, bool>) {
      s.type = ParamType::Bool;
    } else {
      s.type = std::is_floating_point_v<T> ? ParamType::Float : ParamType::Int;
      s.min = range.min;
      s.max = range.max;
      s.min_open = range.min_open;
      s.max_open = range.max_open;
    }
    push(std::move(s), false, field);
    return std::move(*this);
  }

  // An enum field, given and shown by the names in `choices` (parse and
  // format convert between them).
  template <class E>
  ParamTable&& choice(std::string name, E Config::*field, std::string help,
                      std::vector<std::string> choices, E (*parse)(const std::string&),
                      const char* (*format)(E)) && {
    ParamSpec s;
    s.name = std::move(name);
    s.type = ParamType::Choice;
    s.help = std::move(help);
    s.choices = std::move(choices);
    s.default_value = format(Config{}.*field);
    entries_.push_back({std::move(s), false, [field, parse](Config& c, const std::string& text) {
                          c.*field = parse(text);
                        }});
    return std::move(*this);
  }

  // A list of integers (ParamType::IntList), each within `range`; its text
  // is comma-separated ("64,32").
  ParamTable&& list(std::string name, std::vector<std::int32_t> Config::*field, std::string help,
                    Range range = {}) && {
    ParamSpec s;
    s.name = std::move(name);
    s.type = ParamType::IntList;
    s.help = std::move(help);
    s.min = range.min;
    s.max = range.max;
    s.min_open = range.min_open;
    s.max_open = range.max_open;
    s.default_value = fmt::format("{}", fmt::join(Config{}.*field, ","));
    const std::string n = s.name;
    entries_.push_back({std::move(s), false, [field, n](Config& c, const std::string& text) {
                          c.*field = parse_int_list(n, text);
                        }});
    return std::move(*this);
  }
  // A common parameter (common_param_specs(): "seed", "threads") that this
  // model also reads into one of its fields; shown once, with the common ones.
  template <class T>
  ParamTable&& common(const std::string& name, T Config::*field) && {
    for (const auto& c : common_param_specs()) {
      if (c.name == name) {
        push(c, true, field);
        return std::move(*this);
      }
    }
    throw Error(ErrorKind::InvalidArgument, fmt::format("\"{}\" is not a common parameter", name));
  }

  // The model's own parameters (not the common ones), in declaration order.
  std::vector<ParamSpec> specs() const {
    std::vector<ParamSpec> out;
    for (const auto& e : entries_) {
      if (!e.is_common) out.push_back(e.spec);
    }
    return out;
  }

  // A Config with every given parameter of the table parsed, checked against
  // its spec and stored; the others keep their defaults. Then the config's
  // own validate(), when it has one, checks what ranges cannot (relations
  // between fields). Names outside the table are the caller's to reject
  // (check_param_names).
  Config read(const Params& params) const {
    Config c{};
    for (const auto& e : entries_) {
      if (const auto text = params.get(e.spec.name)) {
        e.spec.check(*text);
        e.set(c, *text);
      }
    }
    if constexpr (requires { c.validate(); }) c.validate();
    return c;
  }

 private:
  struct Entry {
    ParamSpec spec;
    bool is_common;
    std::function<void(Config&, const std::string&)> set;
  };

  template <class T>
  void push(ParamSpec s, bool is_common, T Config::*field) {
    if (!is_common) s.default_value = text_of(Config{}.*field);
    std::string name = s.name;
    entries_.push_back({std::move(s), is_common, [field, name](Config& c, const std::string& text) {
                          c.*field = parse_param<T>(name, text);
                        }});
  }

  template <class T>
  static std::string text_of(const T& v) {
    if constexpr (std::is_same_v<T, bool>) {
      return v ? "true" : "false";
    } else {
      return fmt::format("{}", v);
    }
  }

  std::vector<Entry> entries_;
};

}  // namespace latent
