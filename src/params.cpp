#include <latent/params.hpp>

#include <algorithm>
#include <charconv>
#include <cstdint>

#include <fmt/format.h>

#include <latent/error.hpp>

namespace latent {

namespace {

[[noreturn]] void bad_value(const std::string& name, const std::string& text, const char* what) {
  throw Error(ErrorKind::InvalidArgument,
              fmt::format("parameter {} = \"{}\" is not {}", name, text, what));
}

template <typename T>
T parse_number(const std::string& name, const std::string& text, const char* what) {
  T value{};
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || ptr != end) bad_value(name, text, what);
  return value;
}

}  // namespace

template <typename T>
void Params::read(const std::string& name, T& out) {
  known_.push_back(name);
  const auto it = values_.find(name);
  if (it == values_.end()) return;
  const std::string& text = it->second;
  if constexpr (std::is_same_v<T, bool>) {
    if (text == "true" || text == "1") {
      out = true;
    } else if (text == "false" || text == "0") {
      out = false;
    } else {
      bad_value(name, text, "true or false");
    }
  } else if constexpr (std::is_same_v<T, std::string>) {
    out = text;
  } else if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>) {
    out = parse_number<T>(name, text, "a number");
  } else {
    out = parse_number<T>(name, text, "an integer");
  }
}

template void Params::read<int>(const std::string&, int&);
template void Params::read<float>(const std::string&, float&);
template void Params::read<double>(const std::string&, double&);
template void Params::read<bool>(const std::string&, bool&);
template void Params::read<std::uint64_t>(const std::string&, std::uint64_t&);
template void Params::read<std::string>(const std::string&, std::string&);

void Params::finish(const std::string& model) const {
  for (const auto& [name, value] : values_) {
    if (std::find(known_.begin(), known_.end(), name) == known_.end()) {
      throw Error(ErrorKind::InvalidArgument,
                  fmt::format("parameter {} does not apply to model {}; its parameters: {}", name,
                              model, known_.empty() ? "(none)" : fmt::format("{}", fmt::join(known_, ", "))));
    }
  }
}

}  // namespace latent
