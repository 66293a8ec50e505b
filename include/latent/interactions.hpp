#pragma once
// Interactions: user x item events as parallel arrays (one entry per event,
// in input order), indexed by Vocabulary rows; CsrMatrix: the deduplicated
// user -> items sparse matrix built from them (what "seen items" means).

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace latent {

// A column of text values, one per pair, beyond the ids, ratings, times and
// weights: the raw values of a context feature (the device, the page) as
// they were read, for the query tower (features.hpp, QueryContext).
struct ContextColumn {
  std::string name;                 // the column's name in the data
  std::vector<std::string> values;  // one per pair
  bool operator==(const ContextColumn&) const = default;
};

struct Interactions {
  std::int32_t num_users = 0;            // user vocabulary rows (including OOV)
  std::int32_t num_items = 0;            // item vocabulary rows (including OOV)
  std::vector<std::int32_t> users;       // size() entries, user rows
  std::vector<std::int32_t> items;       // size() entries, item rows
  std::vector<float> ratings;            // empty, or size() entries
  std::vector<std::int64_t> timestamps;  // empty, or size() entries
  std::vector<float> weights;            // empty (all 1), or size() entries >= 0
  std::vector<ContextColumn> context;    // each of size() entries

  // The context column named `name`, or nullptr.
  const ContextColumn* context_column(std::string_view name) const noexcept;

  std::size_t size() const noexcept { return users.size(); }
  bool empty() const noexcept { return users.empty(); }

  // Entries at the given positions, in that order.
  Interactions select(std::span<const std::size_t> positions) const;
};

// The (user, item) pairs of a followed by those of b (no ratings,
// timestamps, weights or context), on a's vocabulary sizes: e.g. a user's training
// items together with the items they rated below the filter, to leave out of
// a ranking. Throws InvalidArgument when the two sizes differ.
Interactions pairs_of_both(const Interactions& a, const Interactions& b);

// Checks that the arrays are parallel (optional ones empty or full) and
// every entry's rows lie in [0, num_users) x [0, num_items), before rows are
// used as indices. Throws InvalidArgument starting with `what`.
void check_interactions(const Interactions& x, std::string_view what);

// What every trainer requires of its training pairs, checked once at its
// entry: at least one pair (unless allow_empty), parallel arrays of one
// length, vocabularies with at least one known row each, every pair on
// known rows (row 0, OOV, is not trainable), and weights, when present,
// finite and >= 0. Throws InvalidArgument naming the pair and the value.
void check_training_pairs(const Interactions& train, bool allow_empty = false);

// Seeded global random split: round(fraction * size()) events go to test.
// fraction must be in [0, 1).
struct Split {
  Interactions train;
  Interactions test;
};
Split random_split(const Interactions& all, double test_fraction, std::uint64_t seed);

class CsrMatrix {
 public:
  CsrMatrix() = default;
  // Rows from users, columns from items; duplicate pairs are kept once and
  // every row's columns come out sorted ascending.
  static CsrMatrix from_interactions(const Interactions& x);
  // Validating constructor for stored data: indptr has rows + 1 entries,
  // non-decreasing from 0 to indices.size(); columns in [0, cols), sorted.
  CsrMatrix(std::int32_t rows, std::int32_t cols, std::vector<std::int64_t> indptr,
            std::vector<std::int32_t> indices);

  std::int32_t rows() const noexcept { return rows_; }
  std::int32_t cols() const noexcept { return cols_; }
  std::int64_t nnz() const noexcept { return static_cast<std::int64_t>(indices_.size()); }
  // Sorted column indices of row r (empty for rows outside [0, rows)).
  std::span<const std::int32_t> row(std::int32_t r) const noexcept;
  const std::vector<std::int64_t>& indptr() const noexcept { return indptr_; }
  const std::vector<std::int32_t>& indices() const noexcept { return indices_; }

  bool operator==(const CsrMatrix&) const = default;

 private:
  std::int32_t rows_ = 0;
  std::int32_t cols_ = 0;
  std::vector<std::int64_t> indptr_{0};
  std::vector<std::int32_t> indices_;
};

// What each entry of `rows` weighs in `pairs` (on the same rows): with
// `weighted` and pairs.weights given, the sum of the weights of its pairs;
// otherwise 1 when it has a pair (duplicates count once); 0 when it has
// none. One value per rows.indices() entry. Throws InvalidArgument when a
// pair is not an entry of rows.
std::vector<float> entry_weights(const CsrMatrix& rows, const Interactions& pairs, bool weighted);

}  // namespace latent
