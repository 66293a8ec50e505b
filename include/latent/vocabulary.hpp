#pragma once
// Vocabulary: raw ids (integers or strings such as titles) <-> dense row
// indices, with one out-of-vocabulary (OOV) row at index 0, as Keras
// IntegerLookup / StringLookup(mask_token=None) lay them out. A vocabulary of
// n known ids therefore has size() == n + 1 rows.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace latent {

class Vocabulary {
 public:
  static constexpr std::int32_t kOov = 0;
  static constexpr std::string_view kOovToken = "[UNK]";

  enum class IdKind : std::uint8_t { Integer, String };

  Vocabulary() = default;
  // The index holds views into ids_: copies rebuild it, moves keep it valid.
  Vocabulary(const Vocabulary& other) : ids_(other.ids_), kind_(other.kind_) { build_index(); }
  Vocabulary& operator=(const Vocabulary& other) {
    if (this != &other) {
      ids_ = other.ids_;
      kind_ = other.kind_;
      build_index();
    }
    return *this;
  }
  Vocabulary(Vocabulary&&) noexcept = default;
  Vocabulary& operator=(Vocabulary&&) noexcept = default;

  // Distinct ids, deduplicated and sorted: numerically when every id is a
  // decimal integer (IdKind::Integer), bytewise otherwise (like np.unique).
  static Vocabulary from_ids(std::vector<std::string> ids);

  // Ids exactly in the given order (rows 1..n); duplicates are an error.
  // Used when reading a saved vocabulary back.
  static Vocabulary from_ordered(std::vector<std::string> ids, IdKind kind);

  // Rows including the OOV row.
  std::int32_t size() const noexcept { return static_cast<std::int32_t>(ids_.size()) + 1; }
  // Known ids, without the OOV row.
  std::int32_t num_known() const noexcept { return static_cast<std::int32_t>(ids_.size()); }
  IdKind kind() const noexcept { return kind_; }

  // Row of `id`, or kOov when unknown.
  std::int32_t lookup(std::string_view id) const;
  // Row of `id`, or nullopt when unknown.
  std::optional<std::int32_t> find(std::string_view id) const;
  // Id of a row; row 0 is kOovToken. Throws InvalidArgument when out of range.
  std::string_view id(std::int32_t row) const;
  // Known ids in row order (row r is ids()[r - 1]).
  std::span<const std::string> ids() const noexcept { return ids_; }

 private:
  void build_index();

  std::vector<std::string> ids_;
  IdKind kind_ = IdKind::Integer;
  std::unordered_map<std::string_view, std::int32_t> index_;
};

// Why `id` cannot be an id ("is not valid UTF-8 (byte 0xEB at offset 2)",
// "holds a NUL byte at offset 1"), or an empty string when it can. Ids reach
// JSON answers, Python strs and C strings, so they are valid UTF-8 without
// NUL bytes; every vocabulary refuses other ids.
std::string id_problem(std::string_view id);
// `id` for an error message: bytes that are not printable ASCII or valid
// UTF-8 as \xHH.
std::string printable_id(std::string_view id);

// True when `s` is an optional '-' followed by 1..18 decimal digits.
bool is_integer_id(std::string_view s) noexcept;

}  // namespace latent
