#pragma once
// Exact maximum-inner-product search and the blockwise score computations
// built on it: top-K per query (exact, multi-threaded, blocked GEMM + heap),
// the full query x item score matrix streamed block by block, and all item
// pairs above a cosine threshold without ever holding an items x items
// matrix. (Cosine neighbours of one item are top_k over normalize_rows of the
// items: Recommender::similar_items.)
//
// All matrices are row-major float32 with the same number of columns (dim).

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include <latent/item_to_item.hpp>
#include <latent/matrix.hpp>

namespace latent {

struct TopK {
  std::int64_t queries = 0;
  std::int32_t k = 0;
  // queries x k, best first. A row with fewer than k eligible items is
  // padded with item -1 and score -infinity.
  std::vector<std::int32_t> items;
  std::vector<float> scores;
};

struct SearchOptions {
  std::int32_t k = 10;
  // Items never returned (e.g. the OOV row 0); sorted ascending.
  std::span<const std::int32_t> exclude_items;
  // Per-query exclusion (e.g. seen items): query q excludes
  // exclude_rows->row(exclude_row_of[q]). Both null/empty to disable.
  const CsrMatrix* exclude_rows = nullptr;
  std::span<const std::int32_t> exclude_row_of;
  int threads = 0;  // 0: all hardware threads
  // Search effort of an approximate index (vector_index.hpp): candidates
  // kept per query, at least k. 0: the index's default. Exact search ignores it.
  int ef = 0;
  // A model's item-to-item term, added to every score (none by default).
  // Only the exact search takes it.
  ItemTerm item_term;
};

// Ties are broken by the lower item index, so results are deterministic
// (and the same for every thread count): every returned score comes from
// one fixed-order dot product (plus the item-to-item term, summed in its
// fixed order), so identical items score identically.
// Items scoring NaN are never returned.
// Throws InvalidArgument for k <= 0, mismatched dims, unsorted
// exclude_items, exclude_row_of not matching the queries, threads < 0.
TopK top_k(const Matrix& queries, const Matrix& items, const SearchOptions& options);

// Calls sink(first_row, block) for consecutive row blocks of
// queries x items^T (plus the item-to-item term, when given), where block
// is rows x items.rows() row-major; blocks
// cover all query rows in order. Memory: block_rows x items.rows() floats
// per thread. The sink runs on the calling thread while other threads
// compute the next block; an exception from it stops the scan and is
// rethrown. Values are the same fixed-order dot products top_k ranks by,
// bit for bit, so the top-K of a row of this matrix is top_k's answer.
using ScoreBlockSink =
    std::function<void(std::int64_t first_row, std::int64_t rows, std::span<const float> block)>;
void score_blocks(const Matrix& queries, const Matrix& items, std::int64_t block_rows,
                  const ScoreBlockSink& sink, int threads = 0, const ItemTerm& term = {});

struct SimilarPair {
  std::int32_t a;  // a < b
  std::int32_t b;
  float similarity;
};

// The order similar pairs are returned in: by similarity descending, then (a, b).
inline bool similar_pair_order(const SimilarPair& x, const SimilarPair& y) noexcept {
  if (x.similarity != y.similarity) return x.similarity > y.similarity;
  if (x.a != y.a) return x.a < y.a;
  return x.b < y.b;
}

// How far a long computation is: `done` of `total` units. Called from the
// computation's worker threads, possibly at once: it must be thread-safe.
using WorkProgress = std::function<void(std::int64_t done, std::int64_t total)>;

// All pairs (a < b) of rows whose cosine similarity is > threshold, sorted
// by similarity descending then (a, b). Rows in exclude_items (sorted) are
// skipped. threshold in [-1, 1]. Memory: one block of block_rows x rows.
// Similarities are one fixed-order dot product of the unit rows, at most 1.
// `progress`, when given, hears of every finished tile of the product.
std::vector<SimilarPair> similar_pairs(const Matrix& embeddings, float threshold,
                                       std::span<const std::int32_t> exclude_items = {},
                                       int threads = 0, const WorkProgress& progress = {});

}  // namespace latent
