#pragma once
// Params: a model's hyper-parameters by name, one name per idea across all
// models (the CLI flag without "--": "dim", "epochs", "learning-rate",
// "regularization", "alpha", "seed", "threads", ...). Values arrive as text
// (from the command line, a tuning grid or Python) and each model reads the
// ones it knows with their types; finish() then reports any name the model
// did not read, so a misspelt or inapplicable parameter is an error, never
// silently ignored.

#include <map>
#include <string>
#include <vector>

namespace latent {

class Params {
 public:
  Params() = default;
  Params(std::initializer_list<std::pair<const std::string, std::string>> values)
      : values_(values) {}

  void set(const std::string& name, std::string value) { values_[name] = std::move(value); }
  bool has(const std::string& name) const { return values_.count(name) != 0; }
  const std::map<std::string, std::string>& values() const noexcept { return values_; }

  // Reads `name` into `out` when given (out keeps its default otherwise) and
  // marks it known. Throws InvalidArgument naming the parameter and value
  // when the text is not a T (int, float, double, bool, std::uint64_t,
  // std::string).
  template <typename T>
  void read(const std::string& name, T& out);

  // Throws InvalidArgument when a given parameter was never read, listing the
  // parameters `model` takes.
  void finish(const std::string& model) const;

 private:
  std::map<std::string, std::string> values_;
  std::vector<std::string> known_;
};

}  // namespace latent
