#pragma once
// Writing JSON text directly, for the hot :predict answer: building a
// nlohmann::json tree of a few dozen nodes and dumping it cost more malloc
// time per request than the search of a small catalog.

#include <cstdio>
#include <string>
#include <string_view>

#include <fmt/format.h>

namespace latent::server {

// Length of the valid UTF-8 sequence starting at s[i], or 0 if it is not
// one (RFC 3629: no overlong forms, surrogates or code points > U+10FFFF).
inline std::size_t utf8_sequence(std::string_view s, std::size_t i) {
  const auto b = [&](std::size_t j) {
    return j < s.size() ? static_cast<unsigned char>(s[j]) : 0u;
  };
  const unsigned c = b(i);
  const auto cont = [&](std::size_t j, unsigned lo = 0x80, unsigned hi = 0xBF) {
    return b(j) >= lo && b(j) <= hi;
  };
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) return cont(i + 1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    const bool second = c == 0xE0   ? cont(i + 1, 0xA0)
                        : c == 0xED ? cont(i + 1, 0x80, 0x9F)
                                    : cont(i + 1);
    return second && cont(i + 2) ? 3 : 0;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    const bool second = c == 0xF0   ? cont(i + 1, 0x90)
                        : c == 0xF4 ? cont(i + 1, 0x80, 0x8F)
                                    : cont(i + 1);
    return second && cont(i + 2) && cont(i + 3) ? 4 : 0;
  }
  return 0;
}

// Appends `s` as a JSON string: quotes, backslashes and control characters
// escaped, valid UTF-8 as it is, any other byte as U+FFFD (ids come from
// users' files, which may be Latin-1), as the nlohmann answers do.
inline void append_json_string(std::string& out, std::string_view s) {
  out.push_back('"');
  for (std::size_t i = 0; i < s.size();) {
    const char c = s[i];
    const std::size_t n = utf8_sequence(s, i);
    if (n == 0) {
      out += "\xEF\xBF\xBD";
      ++i;
      continue;
    }
    if (n > 1) {
      out.append(s.substr(i, n));
      i += n;
      continue;
    }
    ++i;
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
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
