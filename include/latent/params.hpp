#pragma once
// Params: hyper-parameters by name, as text, the way they arrive from the
// command line, a tuning grid or Python keyword arguments. Names are the CLI
// flags without "--" ("dim", "learning-rate", ...), one name per idea across
// models. Each model's ParamSpec table (model_spec.hpp) says which names it
// takes, their types, defaults and ranges; parse_param turns one value's text
// into its type.

#include <cstdint>
#include <initializer_list>
#include <map>
#include <optional>
#include <string>
#include <utility>

namespace latent {

class Params {
 public:
  Params() = default;
  Params(std::initializer_list<std::pair<const std::string, std::string>> values)
      : values_(values) {}

  void set(const std::string& name, std::string value) { values_[name] = std::move(value); }
  bool has(const std::string& name) const { return values_.count(name) != 0; }
  // The text given for `name`, or nullopt.
  std::optional<std::string> get(const std::string& name) const;
  const std::map<std::string, std::string>& values() const noexcept { return values_; }

 private:
  std::map<std::string, std::string> values_;
};

// `text` as a T (int, float, double, bool, std::int64_t, std::uint64_t,
// std::string): the
// whole text must parse ("true"/"false"/"1"/"0" for bool). Throws
// InvalidArgument naming the parameter and the text otherwise.
template <typename T>
T parse_param(const std::string& name, const std::string& text);

}  // namespace latent
