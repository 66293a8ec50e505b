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
// W has one row per item row of the vocabulary (row 0, OOV, and column 0
// hold nothing) and is stored either sparse, so that a catalog's term costs
// its non-zeros (GF-CF), or dense, items x items floats, for a model whose
// weights are all non-zero (EASE's B, Steck 2019).
//
// A query's items may carry weights (a user's row of X in EASE: the sum of
// the weights of their training pairs); without them each counts once:
//
//   score(u, j) = dot(user(u), item(j)) + sum over u's items i of x_ui W[i][j]
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

  // W dense: row i is values[i * items, (i + 1) * items). Checked the same
  // way: throws Corruption when values is not items x items, row 0 or
  // column 0 holds a non-zero, or a value is not finite.
  static ItemToItem dense(std::int32_t items, std::vector<float> values);

  bool empty() const noexcept { return items_ == 0; }
  bool is_dense() const noexcept { return dense_; }
  std::int32_t items() const noexcept { return items_; }
  // Stored weights: the sparse entries, or items x items.
  std::int64_t nnz() const noexcept { return static_cast<std::int64_t>(values_.size()); }
  // Sparse only (empty when dense).
  const std::vector<std::int64_t>& indptr() const noexcept { return indptr_; }
  const std::vector<std::int32_t>& indices() const noexcept { return indices_; }
  const std::vector<float>& values() const noexcept { return values_; }

  // The term of a query whose items are `query_items` (ascending, distinct,
  // in [0, items())) for the columns [first, first + out.size()): out[c] =
  // the sum of x_i W[i][first + c] over the query's items, x_i being
  // query_weights[i's position] or, when query_weights is empty, 1.
  // Overwrites out.
  void term(std::span<const std::int32_t> query_items, std::span<const float> query_weights,
            std::int64_t first, std::span<float> out) const;

  bool operator==(const ItemToItem&) const = default;

 private:
  std::int32_t items_ = 0;
  bool dense_ = false;
  std::vector<std::int64_t> indptr_;
  std::vector<std::int32_t> indices_;
  std::vector<float> values_;
};

// The item-to-item term of a batch of queries: query q's items are
// items->row(row_of[q]) (a user's seen items, or a new user's items), each
// weighing item_weights at its entry of items (parallel to
// items->indices(); empty: 1 each). Either weights is null (no term) or
// weights, items and row_of are set, row_of with one entry per query.
struct ItemTerm {
  const ItemToItem* weights = nullptr;
  const CsrMatrix* items = nullptr;
  std::span<const std::int32_t> row_of;
  std::span<const float> item_weights;

  bool active() const noexcept { return weights != nullptr && !weights->empty(); }
  // Query q's term for the columns [first, first + out.size()).
  void term(std::int64_t q, std::int64_t first, std::span<float> out) const {
    const std::int32_t row = row_of[static_cast<std::size_t>(q)];
    std::span<const float> x;
    if (!item_weights.empty()) {
      const auto begin = items->indptr()[static_cast<std::size_t>(row)];
      const auto end = items->indptr()[static_cast<std::size_t>(row) + 1];
      x = item_weights.subspan(static_cast<std::size_t>(begin),
                               static_cast<std::size_t>(end - begin));
    }
    weights->term(items->row(row), x, first, out);
  }
};

}  // namespace latent
