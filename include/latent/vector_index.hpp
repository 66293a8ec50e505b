#pragma once
// VectorIndex: the search of a model's item vectors by inner product that
// every top-K in latent goes through, as faiss's Index is for faiss: one
// interface (the k best items of each of n queries, with filters), several
// implementations:
//
//   ExactIndex  the blockwise exact search of index.hpp (top_k): what a
//               model without an index uses, and the oracle in tests;
//   HnswIndex   an approximate graph search (hnsw_index.hpp), for catalogs
//               where reading every item per query is too slow.
//
// Shapes: items are the model's item matrix (rows x dim, row 0 the OOV
// row); queries are n x dim; results are TopK (index.hpp), n x k, best
// first, padded with item -1 and score -inf where filters leave fewer than k.
//
// An index does not hold the item vectors: the model owns them and passes
// them to every search, so that a model can be copied or moved with its
// index (which is immutable and shared). They must be the vectors the index
// was built on (an index read from a file is checked against them).

#include <cstdint>
#include <string_view>
#include <vector>

#include <latent/index.hpp>
#include <latent/matrix.hpp>

namespace latent {

class VectorIndex {
 public:
  virtual ~VectorIndex() = default;

  // "exact", "hnsw".
  virtual std::string_view type() const noexcept = 0;

  // The options.k best items of each query row by inner product, never an
  // excluded one (options.exclude_items, exclude_rows), with top_k's ties
  // (the lower item first) and its scores, bit for bit: an approximate index
  // may miss items, never misreport one. options.ef is an approximate
  // index's search effort (0: its default). Thread-safe. Throws
  // InvalidArgument as top_k does (k <= 0, ef < 0, other dims, unsorted
  // exclusions, exclusion rows not matching the queries, items of another
  // shape than the index was built for).
  virtual TopK search(const Matrix& items, const Matrix& queries,
                      const SearchOptions& options) const = 0;
};

class ExactIndex final : public VectorIndex {
 public:
  std::string_view type() const noexcept override { return "exact"; }
  TopK search(const Matrix& items, const Matrix& queries,
              const SearchOptions& options) const override {
    return top_k(queries, items, options);
  }
};

// All pairs (a < b) of rows of `unit` (unit-length vectors, the ones
// `index` was built on) whose cosine is > threshold, found by searching each
// row's neighbours in the index: its k best (k 32 at first, doubled for the
// rows whose k-th neighbour is still above the threshold, until a row's
// list reaches past half the catalog, which is then scanned exactly). An
// approximate index may miss pairs, never misreport one: the similarities
// are similar_pairs' (index.hpp), bit for bit, and so is the order (by
// similarity descending, then (a, b)). With ExactIndex the answer is
// similar_pairs' own, more slowly. Rows in exclude_items (sorted) are
// skipped. `ef`: the index's effort per search (0: its default; at least
// each search's k). threshold in [-1, 1].
std::vector<SimilarPair> similar_pairs_by_search(const VectorIndex& index, const Matrix& unit,
                                                 float threshold,
                                                 std::span<const std::int32_t> exclude_items = {},
                                                 int ef = 0, int threads = 0,
                                                 const WorkProgress& progress = {});

}  // namespace latent
