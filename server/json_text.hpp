#pragma once
// Writing JSON text directly, for the hot :predict answer: building a
// nlohmann::json tree of a few dozen nodes and dumping it cost more malloc
// time per request than the search of a small catalog.

#include <cstdio>
#include <string>
#include <string_view>

#include <fmt/format.h>

namespace latent::server {

// Appends `s` as a JSON string: quotes, backslashes and control characters
// escaped, other bytes (UTF-8) as they are.
inline void append_json_string(std::string& out, std::string_view s) {
  out.push_back('"');
  for (const char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          fmt::format_to(std::back_inserter(out), "\\u{:04x}", static_cast<unsigned>(c));
        } else {
          out.push_back(c);
        }
    }
  }
  out.push_back('"');
}

// Appends a finite float32 as its shortest decimal that reads back to the
// same float (0.3, not 0.30000001192092896); non-finite values are null.
inline void append_json_float(std::string& out, float v) {
  if (v - v != 0.0f) {  // inf or nan
    out += "null";
    return;
  }
  fmt::format_to(std::back_inserter(out), "{}", v);
}

}  // namespace latent::server
