#include <latent/vocabulary.hpp>

#include <algorithm>
#include <charconv>

#include <fmt/format.h>

#include <latent/error.hpp>

#include "detail/utf8.hpp"

namespace latent {

bool is_integer_id(std::string_view s) noexcept {
  if (!s.empty() && s.front() == '-') s.remove_prefix(1);
  if (s.empty() || s.size() > 18) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::string id_problem(std::string_view id) {
  if (const auto nul = id.find('\0'); nul != std::string_view::npos) {
    return fmt::format("holds a NUL byte at offset {}", nul);
  }
  if (const auto bad = detail::first_invalid_utf8(id); bad != std::string_view::npos) {
    return fmt::format("is not valid UTF-8 (byte 0x{:02X} at offset {})",
                       static_cast<unsigned char>(id[bad]), bad);
  }
  return {};
}

std::string printable_id(std::string_view id) {
  std::string out;
  while (!id.empty()) {
    const std::size_t bad = detail::first_invalid_utf8(id);
    const std::string_view good = id.substr(0, bad);
    for (const char c : good) {
      const auto b = static_cast<unsigned char>(c);
      if (b < 0x20 || b == 0x7F) {
        out += fmt::format("\\x{:02X}", b);
      } else {
        out += c;
      }
    }
    if (bad == std::string_view::npos) break;
    out += fmt::format("\\x{:02X}", static_cast<unsigned char>(id[bad]));
    id.remove_prefix(bad + 1);
  }
  return out;
}

namespace {

void check_ids(const std::vector<std::string>& ids, ErrorKind kind) {
  for (const auto& id : ids) {
    if (std::string problem = id_problem(id); !problem.empty()) {
      throw Error(kind, fmt::format("id \"{}\" {}", printable_id(id), problem));
    }
  }
}

long long to_integer(std::string_view s) {
  long long v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}
}  // namespace

Vocabulary Vocabulary::from_ids(std::vector<std::string> ids) {
  check_ids(ids, ErrorKind::InvalidArgument);
  Vocabulary v;
  const bool integer =
      std::all_of(ids.begin(), ids.end(), [](const std::string& s) { return is_integer_id(s); });
  v.kind_ = integer ? IdKind::Integer : IdKind::String;
  if (integer) {
    // Canonical form so that "007" and "7" are one id.
    std::vector<long long> nums;
    nums.reserve(ids.size());
    for (const auto& s : ids) nums.push_back(to_integer(s));
    std::sort(nums.begin(), nums.end());
    nums.erase(std::unique(nums.begin(), nums.end()), nums.end());
    ids.clear();
    for (long long n : nums) ids.push_back(std::to_string(n));
  } else {
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  }
  v.ids_ = std::move(ids);
  v.build_index();
  return v;
}

Vocabulary Vocabulary::from_ordered(std::vector<std::string> ids, IdKind kind) {
  check_ids(ids, ErrorKind::Corruption);
  Vocabulary v;
  v.kind_ = kind;
  v.ids_ = std::move(ids);
  v.build_index();
  if (v.index_.size() != v.ids_.size()) {
    throw Error(ErrorKind::Corruption, "vocabulary has duplicate ids");
  }
  return v;
}

void Vocabulary::build_index() {
  index_.clear();
  index_.reserve(ids_.size());
  for (std::size_t i = 0; i < ids_.size(); ++i) {
    index_.emplace(std::string_view(ids_[i]), static_cast<std::int32_t>(i + 1));
  }
}

std::optional<std::int32_t> Vocabulary::find(std::string_view id) const {
  auto it = index_.find(id);
  if (it == index_.end() && kind_ == IdKind::Integer && is_integer_id(id)) {
    // Accept non-canonical spellings of integer ids ("042" for 42).
    const std::string canon = std::to_string(to_integer(id));
    it = index_.find(canon);
  }
  if (it == index_.end()) return std::nullopt;
  return it->second;
}

std::int32_t Vocabulary::lookup(std::string_view id) const { return find(id).value_or(kOov); }

std::string_view Vocabulary::id(std::int32_t row) const {
  if (row == kOov) return kOovToken;
  if (row < 0 || row > num_known()) {
    throw Error(ErrorKind::InvalidArgument,
                fmt::format("vocabulary row {} out of range [0, {})", row, size()));
  }
  return ids_[static_cast<std::size_t>(row - 1)];
}

}  // namespace latent
