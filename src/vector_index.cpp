#include <latent/vector_index.hpp>

#include <algorithm>
#include <limits>
#include <numeric>
#include <span>

#include <fmt/format.h>

#include <latent/error.hpp>

namespace latent {

std::vector<SimilarPair> similar_pairs_by_search(const VectorIndex& index, const Matrix& unit,
                                                 float threshold,
                                                 std::span<const std::int32_t> exclude_items,
                                                 int ef, int threads,
                                                 const WorkProgress& progress) {
  if (!(threshold >= -1.0f && threshold <= 1.0f)) {
    throw Error(ErrorKind::InvalidArgument,
                fmt::format("similar_pairs: threshold must be in [-1, 1], got {}", threshold));
  }
  if (!std::is_sorted(exclude_items.begin(), exclude_items.end())) {
    throw Error(ErrorKind::InvalidArgument, "similar_pairs: exclude_items must be sorted");
  }
  if (ef < 0) throw Error(ErrorKind::InvalidArgument, fmt::format("ef must be >= 0, got {}", ef));
  const std::int64_t n = unit.rows();
  if (n > std::numeric_limits<std::int32_t>::max()) {
    throw Error(ErrorKind::InvalidArgument,
                fmt::format("similar_pairs: {} rows exceed the int32 row index", n));
  }
  std::vector<std::int32_t> pending;
  for (std::int32_t r = 0; r < n; ++r) {
    if (!std::binary_search(exclude_items.begin(), exclude_items.end(), r)) pending.push_back(r);
  }
  const auto eligible = static_cast<std::int64_t>(pending.size());
  if (eligible < 2) return {};

  // Each row is searched without itself: row r of `self` holds r.
  std::vector<std::int64_t> indptr(static_cast<std::size_t>(n) + 1);
  std::iota(indptr.begin(), indptr.end(), 0);
  std::vector<std::int32_t> diagonal(static_cast<std::size_t>(n));
  std::iota(diagonal.begin(), diagonal.end(), 0);
  const auto rows32 = static_cast<std::int32_t>(n);
  const CsrMatrix self(rows32, rows32, std::move(indptr), std::move(diagonal));

  // Rows a time: enough to keep every thread busy, few enough to bound the
  // lists' memory (rows x k).
  constexpr std::int64_t kListEntries = std::int64_t{1} << 22;
  const std::int64_t dim = unit.cols();
  std::vector<SimilarPair> found;
  std::int64_t done = 0;
  for (std::int64_t want = 32; !pending.empty(); want *= 2) {
    // A list reaching past half the catalog: read every item instead.
    const bool scan = 2 * want >= eligible - 1;
    const auto k = static_cast<std::int32_t>(scan ? eligible - 1 : want);
    const auto block =
        static_cast<std::size_t>(std::clamp<std::int64_t>(kListEntries / k, 1, 4096));
    std::vector<std::int32_t> again;
    for (std::size_t first = 0; first < pending.size(); first += block) {
      const auto rows = std::span<const std::int32_t>(pending).subspan(
          first, std::min(block, pending.size() - first));
      Matrix queries(static_cast<std::int64_t>(rows.size()), dim);
      for (std::size_t q = 0; q < rows.size(); ++q) {
        std::copy_n(unit.row(rows[q]).data(), dim,
                    queries.row(static_cast<std::int64_t>(q)).data());
      }
      SearchOptions options;
      options.k = k;
      options.exclude_items = exclude_items;
      options.exclude_rows = &self;
      options.exclude_row_of = rows;
      options.threads = threads;
      options.ef = ef;
      const TopK top = scan ? top_k(queries, unit, options) : index.search(unit, queries, options);
      for (std::size_t q = 0; q < rows.size(); ++q) {
        const std::int32_t a = rows[q];
        const std::int32_t* items = top.items.data() + q * static_cast<std::size_t>(k);
        const float* scores = top.scores.data() + q * static_cast<std::size_t>(k);
        // Similarities as similar_pairs decides them: clamped at 1, as
        // rounding can push near-parallel rows past it.
        const auto similarity = [&](std::int32_t j) { return std::min(scores[j], 1.0f); };
        if (!scan && items[k - 1] >= 0 && similarity(k - 1) > threshold) {
          again.push_back(a);  // there may be more above the threshold
          continue;
        }
        for (std::int32_t j = 0; j < k && items[j] >= 0 && similarity(j) > threshold; ++j) {
          found.push_back({std::min(a, items[j]), std::max(a, items[j]), similarity(j)});
        }
        ++done;
      }
      if (progress) progress(done, eligible);
    }
    pending = std::move(again);
  }

  // A pair found from both of its rows is kept once (with the same
  // similarity: one fixed-order dot product, symmetric).
  std::sort(found.begin(), found.end(), [](const SimilarPair& x, const SimilarPair& y) {
    return x.a != y.a ? x.a < y.a : x.b < y.b;
  });
  found.erase(std::unique(found.begin(), found.end(),
                          [](const SimilarPair& x, const SimilarPair& y) {
                            return x.a == y.a && x.b == y.b;
                          }),
              found.end());
  std::sort(found.begin(), found.end(), similar_pair_order);
  return found;
}

}  // namespace latent
