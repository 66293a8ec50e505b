#pragma once
// What every search of item vectors shares with top_k (index.cpp), so that
// an approximate index answers under the same contract: the same argument
// checks, and the same score for a (query, item) pair.

#include <cstdint>

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

}  // namespace latent::detail
