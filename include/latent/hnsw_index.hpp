#pragma once
// HnswIndex: approximate maximum-inner-product search over a model's item
// vectors with a hierarchical navigable small-world graph (Malkov and
// Yashunin, 2016).
//
// Recommender vectors are not normalised, and the items with the largest
// norms dominate the top-K by inner product, so the graph links items by
// inner product itself (ip-NSW: Morozov and Babenko, "Non-metric similarity
// graphs for maximum inner product search", NeurIPS 2018), not by Euclidean
// distance or cosine. The usual alternative, a MIPS-to-L2 transform (one
// more coordinate, sqrt(M^2 - |x|^2)), was measured and lost badly: on an
// ALS model of the MovieLens-20M shape its graph found 0.30 of the exact top
// 10 at ef 64, the inner-product graph 0.998 (docs/benchmarks.md). The graph
// is built by hnswlib (Debian's libhnswlib-dev), given the items longest
// vector first (they win the top-K lists, and linked first they become the
// graph's hubs: a better graph than row order's), every item the graph left
// unreachable from its entry point linked in (short vectors are nobody's
// neighbour by inner product), then kept as plain arrays
// of links over the model's own item rows: the index holds no copy of the
// vectors, and its search is latent's own, because it needs what hnswlib
// 0.6.2's lacks: filters (excluded items are walked through, never
// returned), an effort per query, and the score of record for every result
// (an approximate index may miss an item, never misreport one). At full
// effort (ef at least the items) it answers as the exact search.
//
// Saved as a companion file of the model (MODEL.index by convention:
// index_path_for), versioned and checksummed, and refused unless the
// model's item vectors are the ones it was built on.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <vector>

#include <nlohmann/json.hpp>

#include <latent/index.hpp>
#include <latent/vector_index.hpp>

namespace latent {

namespace detail {
class ScalarCodes;
}

struct HnswParams {
  int m = 16;                 // links per item on the upper levels, 2m on level 0
  int ef_construction = 200;  // candidates kept while linking each item
  int ef_search = 64;         // candidates kept per query, by default (SearchOptions::ef)
  std::uint64_t seed = 42;    // the levels items are drawn to
  int threads = 0;            // building (0: all); with more than one the graph
                              // depends on the threads' timing
};

// Throws InvalidArgument naming the first bad parameter.
void check_hnsw_params(const HnswParams& params);

class HnswIndex final : public VectorIndex {
 public:
  // The graph over rows 1.. of items (row 0, the OOV row, is never a
  // result). Throws InvalidArgument for bad
  // parameters or an item with a non-finite value (naming its row).
  // `progress` hears of the items linked so far, from the building threads.
  static std::unique_ptr<HnswIndex> build(const Matrix& items, const HnswParams& params,
                                          const WorkProgress& progress = {});

  // Writes the index to `path` atomically: a failed write leaves what was
  // there. Throws IO naming the file.
  // `items`: the vectors it was built on, whose fingerprint the file keeps.
  void save(const std::filesystem::path& path, const Matrix& items) const;
  // Reads an index saved for exactly these item vectors. Throws NotFound or
  // IO for a missing or unreadable file, Corruption for a truncated or
  // damaged one (checksum, an inconsistent graph), Unsupported for another
  // format version, InvalidArgument when it was built for other item vectors;
  // each message names the file.
  static std::unique_ptr<HnswIndex> load(const std::filesystem::path& path, const Matrix& items);

  std::string_view type() const noexcept override { return "hnsw"; }
  // The walk skips a link whose norm alone bounds its score (|query| times
  // |item|, Cauchy-Schwarz) below the worst of a full set of kept items:
  // it could be neither kept nor explored, so the results are those of the
  // same walk scoring every link, at less cost.
  TopK search(const Matrix& items, const Matrix& queries,
              const SearchOptions& options) const override;
  // That walk, scoring every link it meets: the same results as search(),
  // more slowly. For tests and the benchmark's comparison.
  TopK search_every_link(const Matrix& items, const Matrix& queries,
                         const SearchOptions& options) const;

  const HnswParams& params() const noexcept { return params_; }
  // The index's memory: the links and levels, and the vectors' one-byte
  // codes it walks the graph by (the float vectors are the model's).
  std::int64_t bytes() const noexcept;
  int max_level() const noexcept { return max_level_; }
  // What `latent info --json` and Python's index_info() show: type, m,
  // ef_construction, ef, levels, bytes.
  nlohmann::json describe() const;

  // The parts of the graph, as built or read from a file.
  struct Graph {
    std::int32_t entry = 0;  // an item row on the top level (0: no items)
    std::int32_t max_level = -1;
    std::vector<std::int32_t> levels;  // per item row (0 for row 0)
    // Per item row: a count, then up to 2m linked rows (level 0).
    std::vector<std::int32_t> level0;
    // Levels 1..levels[r] of each row r in turn: a count, then up to m rows.
    std::vector<std::int32_t> upper;
  };

 private:
  HnswIndex(const Matrix& items, const HnswParams& params, Graph graph);

  TopK search_walk(const Matrix& items, const Matrix& queries, const SearchOptions& options,
                   bool norm_bound) const;
  const std::int32_t* links(std::int32_t row, int level) const noexcept;
  // The best items for one query (dim floats), best first, into `out` (up
  // to k), skipping `excluded` items; the caller's visited marks and
  // generation make each search forget the last one.
  struct Scratch;
  void search_one(const Matrix& items, const float* query, std::int64_t k, int ef,
                  const SearchOptions& options, bool norm_bound, std::int64_t q, Scratch& scratch,
                  std::int32_t* out_items, float* out_scores) const;

  std::int64_t dim_ = 0;  // of the items it was built on; rows: levels_.size()
  HnswParams params_;
  std::int32_t entry_ = 0;
  int max_level_ = -1;
  std::vector<std::int32_t> levels_;
  std::vector<std::int32_t> level0_;
  std::vector<std::int32_t> upper_;
  std::vector<std::int64_t> upper_offset_;  // per row, into upper_
  // The items' vectors a byte per value: the graph is walked by their
  // approximate scores, the results ranked by the float vectors'.
  std::shared_ptr<const detail::ScalarCodes> codes_;
};

// The companion file an index of the model at `model` is saved to and
// looked for at: MODEL.index.
std::filesystem::path index_path_for(const std::filesystem::path& model);
// The companion file of the model's similar-items index (the graph over its
// unit item vectors, which ranks by cosine): MODEL.similar.index.
std::filesystem::path similar_index_path_for(const std::filesystem::path& model);

}  // namespace latent
