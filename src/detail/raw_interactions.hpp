#pragma once
// What the loaders read before the vocabularies exist: rows whose users and
// items are codes of IdCodes (distinct ids in order of first appearance),
// later mapped to vocabulary rows (dataset.cpp).
// Header-only because the build compiles src/*.cpp only.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <fmt/format.h>

#include <latent/error.hpp>
#include <latent/interactions.hpp>

namespace latent::detail {

// Distinct ids in first-seen order, each with the file and line where it was
// first seen (for messages). Ids are nearly always small integers, and a
// flat table indexed by the value finds those several times faster than
// hashing the text.
class IdCodes {
 public:
  std::int32_t code(std::string_view id, std::size_t line) {
    if (const auto value = small_integer(id)) {
      if (*value >= by_value_.size()) {
        by_value_.resize(std::max<std::size_t>(*value + 1, 2 * by_value_.size()), kNone);
      }
      std::int32_t& slot = by_value_[*value];
      if (slot == kNone) slot = add(id, line);
      return slot;
    }
    if (const auto it = by_text_.find(id); it != by_text_.end()) return it->second;
    const std::int32_t c = add(id, line);
    by_text_.emplace(ids_.back(), c);
    return c;
  }
  std::size_t size() const noexcept { return ids_.size(); }
  std::string_view id(std::int32_t code) const { return ids_[static_cast<std::size_t>(code)]; }
  std::size_t first_line(std::int32_t code) const {
    return first_lines_[static_cast<std::size_t>(code)];
  }
  // Which file (a caller's numbering) ids first seen from now on are in.
  void set_file(std::uint32_t file) noexcept { file_ = file; }
  std::uint32_t first_file(std::int32_t code) const {
    return first_files_[static_cast<std::size_t>(code)];
  }
  // No ids, keeping the memory for reuse.
  void clear() {
    for (const std::string& id : ids_) {
      if (const auto value = small_integer(id)) by_value_[*value] = kNone;
    }
    by_text_.clear();
    ids_.clear();
    first_lines_.clear();
    first_files_.clear();
  }

 private:
  static constexpr std::int32_t kNone = -1;
  static constexpr std::size_t kMaxSmall = std::size_t{1} << 22;  // a 16 MB table at most

  // The value of a canonical decimal integer below kMaxSmall (no sign, no
  // leading zero, so one spelling per value), else nullopt.
  static std::optional<std::size_t> small_integer(std::string_view id) {
    if (id.empty() || id.size() > 7 || (id[0] == '0' && id.size() > 1)) return std::nullopt;
    std::size_t value = 0;
    for (const char c : id) {
      if (c < '0' || c > '9') return std::nullopt;
      value = value * 10 + static_cast<std::size_t>(c - '0');
    }
    if (value >= kMaxSmall) return std::nullopt;
    return value;
  }

  std::int32_t add(std::string_view id, std::size_t line) {
    ids_.emplace_back(id);
    first_lines_.push_back(line);
    first_files_.push_back(file_);
    return static_cast<std::int32_t>(ids_.size() - 1);
  }

  std::vector<std::int32_t> by_value_;
  std::unordered_map<std::string_view, std::int32_t> by_text_;  // views into ids_
  std::deque<std::string> ids_;  // a deque: growing never moves the strings by_text_ views
  std::vector<std::size_t> first_lines_;
  std::vector<std::uint32_t> first_files_;
  std::uint32_t file_ = 0;
};

// The kept rows with users and items still as IdCodes codes.
struct RawInteractions {
  IdCodes users;
  IdCodes items;  // the ids of every row, kept or not, so the catalog check sees them all
  Interactions kept;
  Interactions dropped;  // the rows the rating filter dropped, users and items only
  std::size_t rows_read = 0;
  // How many of kept's and dropped's rows each file gave, by file number
  // (InteractionFiles::file_number and up); files before the first read are 0.
  std::vector<std::uint64_t> kept_per_file, dropped_per_file;

  // Empty, keeping the memory for reuse.
  void clear() {
    users.clear();
    items.clear();
    for (Interactions* x : {&kept, &dropped}) {
      x->users.clear();
      x->items.clear();
      x->ratings.clear();
      x->timestamps.clear();
      x->weights.clear();
      x->context.clear();
    }
    rows_read = 0;
    kept_per_file.clear();
    dropped_per_file.clear();
  }
};

// Throws `no_rows` when a source had no data rows, InvalidArgument when the
// filter kept none of them.
inline void require_rows(std::size_t rows_read, std::size_t kept, std::string_view source,
                         std::optional<double> rating_above, ErrorKind no_rows) {
  if (rows_read == 0) throw Error(no_rows, fmt::format("{}: no data rows", source));
  if (kept == 0) {
    throw Error(ErrorKind::InvalidArgument,
                fmt::format("{}: no rows left after filtering on rating > {} ({} rows read)",
                            source, rating_above.value_or(0.0), rows_read));
  }
}

}  // namespace latent::detail
