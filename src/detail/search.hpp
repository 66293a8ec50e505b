#pragma once
// What every search of item vectors shares with top_k (index.cpp), so that
// an approximate index answers under the same contract: the same argument
// checks, and the same score for a (query, item) pair.

#include <cstddef>
#include <cstdint>
#include <vector>

#include <latent/index.hpp>
#include <latent/matrix.hpp>

namespace latent::detail {

// top_k's checks of its arguments (k, ef, dims, sorted exclusions, one
// exclusion row per query); `what` starts the InvalidArgument message.
void check_search(const char* what, const Matrix& queries, const Matrix& items,
                  const SearchOptions& options);

// The checks of an item-to-item term over `queries` queries and `items`
// items (check_search makes them for SearchOptions::item_term).
void check_item_term(const char* what, const ItemTerm& term, std::int64_t queries,
                     std::int64_t items);

// A result of `queries` rows of k entries, all padding (item -1, score
// -inf), for a search to fill.
TopK padded_result(std::int64_t queries, int k);

// The score of record of a (query, item) pair: the fixed-order dot product
// top_k ranks and reports, bit for bit, wherever it is computed.
float score_of_record(const float* a, const float* b, std::int64_t dim) noexcept;

// In a heap made by std::make_heap/push_heap with `less` (its top the
// greatest), `value` in the top's place, sunk to where it belongs: what
// pop_heap then push_heap do, in one pass down. A search's bounded set of
// best items replaces its worst this way.
template <class T, class Less>
void replace_top(std::vector<T>& heap, const T& value, Less less) {
  T* h = heap.data();
  const std::size_t size = heap.size();
  if (size == 0) return;
  std::size_t i = 0;
  for (std::size_t child = 1; child < size; child = 2 * i + 1) {
    if (child + 1 < size && less(h[child], h[child + 1])) ++child;  // the greater child
    if (!less(value, h[child])) break;
    h[i] = h[child];
    i = child;
  }
  h[i] = value;
}

}  // namespace latent::detail
