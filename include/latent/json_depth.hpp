#pragma once
// A guard to run before nlohmann::json::parse on untrusted text (model file
// metadata, request bodies): its parser, serializer and destructor recurse
// once per nesting level, so a few hundred thousand '[' overflow the stack.
// A checksum does not help against a file crafted on purpose; a depth bound
// does. The one home of that bound for the library and the server.

#include <cstddef>
#include <string_view>

namespace latent {

// Deep enough for every JSON latent writes (a model file header is 3 levels,
// its config and training metadata 4 or 5), shallow enough for any stack.
inline constexpr std::size_t kMaxJsonDepth = 64;

// The deepest nesting of arrays and objects in `text`, counting brackets
// outside strings; stops scanning and returns max_depth + 1 as soon as the
// nesting exceeds max_depth. Linear in text.size(), no allocation.
//
// Exact for valid JSON. For invalid JSON the parser stops at the first
// error, before which it sees the same strings and brackets as this scan,
// so it never nests deeper than the value returned.
inline std::size_t json_depth(std::string_view text, std::size_t max_depth = kMaxJsonDepth) {
  std::size_t depth = 0;
  std::size_t deepest = 0;
  bool in_string = false;
  bool escaped = false;
  for (const char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > max_depth) return max_depth + 1;
      if (depth > deepest) deepest = depth;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return deepest;
}

}  // namespace latent
