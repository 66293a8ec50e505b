#pragma once
// ItemToItem: the part of a model's score that the items a user has seen
// add to other items directly, beside the dot product of a user vector and
// an item vector:
//
//   score(u, j) = dot(user(u), item(j)) + sum over u's items i of W[i][j]
//
// Item-based models have one: GF-CF's normalised co-occurrences (Shen et
// al., "How powerful is graph convolution for recommendation?", CIKM 2021),
// and any model whose item-item weights are too many to fold into vectors.
// W is sparse, one row per item row of the vocabulary (row 0, OOV, and
// column 0 hold nothing), so a catalog's term costs its non-zeros, never
// items x items.
//
// A query's term is summed in one fixed order (its items ascending, each
// row's entries in column order), so the same items give the same floats
// wherever the term is computed: top_k, score_blocks and a loaded model
// agree bit for bit.

#include <cstdint>
#include <span>
#include <vector>

#include <latent/interactions.hpp>

namespace latent {

class ItemToItem {
 public:
  ItemToItem() = default;  // none: the model scores by its vectors alone

  // W as compressed rows over `items` rows and columns: row i's entries are
  // [indptr[i], indptr[i + 1]) of indices (columns) and values. Checked as
  // stored data (CsrMatrix's way): throws Corruption naming the first
  // problem: indptr not items + 1 entries
  // non-decreasing from 0 to the entries, indices and values of different
  // lengths, a row's columns not ascending and distinct, a column outside
  // [1, items), an entry in row 0, a value not finite.
  ItemToItem(std::int32_t items, std::vector<std::int64_t> indptr,
             std::vector<std::int32_t> indices, std::vector<float> values);

  bool empty() const noexcept { return items_ == 0; }
  std::int32_t items() const noexcept { return items_; }
  std::int64_t nnz() const noexcept { return static_cast<std::int64_t>(indices_.size()); }
  const std::vector<std::int64_t>& indptr() const noexcept { return indptr_; }
  const std::vector<std::int32_t>& indices() const noexcept { return indices_; }
  const std::vector<float>& values() const noexcept { return values_; }

  // The term of a query whose items are `query_items` (ascending, distinct,
  // in [0, items())) for the columns [first, first + out.size()): out[c] =
  // the sum of W[i][first + c] over the query's items. Overwrites out.
  void term(std::span<const std::int32_t> query_items, std::int64_t first,
            std::span<float> out) const;

  bool operator==(const ItemToItem&) const = default;

 private:
  std::int32_t items_ = 0;
  std::vector<std::int64_t> indptr_;
  std::vector<std::int32_t> indices_;
  std::vector<float> values_;
};

// The item-to-item term of a batch of queries: query q's items are
// items->row(row_of[q]) (a user's seen items, or a new user's items).
// Either weights is null (no term) or all three are set, row_of with one
// entry per query.
struct ItemTerm {
  const ItemToItem* weights = nullptr;
  const CsrMatrix* items = nullptr;
  std::span<const std::int32_t> row_of;

  bool active() const noexcept { return weights != nullptr && !weights->empty(); }
  // Query q's term for the columns [first, first + out.size()).
  void term(std::int64_t q, std::int64_t first, std::span<float> out) const {
    weights->term(items->row(row_of[static_cast<std::size_t>(q)]), first, out);
  }
};

}  // namespace latent
