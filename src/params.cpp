#include <latent/params.hpp>

#include <charconv>
#include <cstdint>
#include <type_traits>

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

std::optional<std::string> Params::get(const std::string& name) const {
  const auto it = values_.find(name);
  if (it == values_.end()) return std::nullopt;
  return it->second;
}

template <typename T>
T parse_param(const std::string& name, const std::string& text) {
  if constexpr (std::is_same_v<T, bool>) {
    if (text == "true" || text == "1") return true;
    if (text == "false" || text == "0") return false;
    bad_value(name, text, "true or false");
  } else if constexpr (std::is_same_v<T, std::string>) {
    return text;
  } else if constexpr (std::is_floating_point_v<T>) {
    return parse_number<T>(name, text, "a number");
  } else {
    return parse_number<T>(name, text, "an integer");
  }
}

template int parse_param<int>(const std::string&, const std::string&);
template float parse_param<float>(const std::string&, const std::string&);
template double parse_param<double>(const std::string&, const std::string&);
template bool parse_param<bool>(const std::string&, const std::string&);
template std::int64_t parse_param<std::int64_t>(const std::string&, const std::string&);
template std::uint64_t parse_param<std::uint64_t>(const std::string&, const std::string&);
template std::string parse_param<std::string>(const std::string&, const std::string&);

}  // namespace latent
