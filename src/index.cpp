#include <latent/index.hpp>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <limits>
#include <utility>
#include <vector>

#include <omp.h>

#if defined(__SSE2__)
#include <immintrin.h>
#endif

#include <fmt/format.h>

#include <latent/error.hpp>

#include "detail/blas.hpp"
#include "detail/parallel.hpp"
#include "detail/search.hpp"

// The canonical dot product below is vectorised per target; contraction
// into FMA would change its rounding, so this file is built without it.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define LATENT_INDEX_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define LATENT_INDEX_CLONES
#endif

namespace latent {
namespace {

// Score tiles are at most kRowBlock x kColBlock floats (1 MB): one tile per
// thread stays in L2 between the sgemm that writes it and the scan that
// reads it. (Measured on the 2-core EPYC: 512 x 512 and 512 x 1024 are as
// fast, 128 x 2048 and 1024 x 256 slower.)
constexpr std::int64_t kRowBlock = 256;
constexpr std::int64_t kColBlock = 1024;
// Up to this many queries, sgemm would spend more time packing the
// item block than multiplying, and the item norms its screening needs cost
// another pass over the items: score with exact_dot directly instead.
constexpr std::int64_t kDirectRows = 4;
// Cap on heap entries per thread (8 MB), so a huge k shrinks the row block
// instead of the heaps growing with k x kRowBlock.
constexpr std::int64_t kMaxHeapEntries = std::int64_t{1} << 20;

constexpr float kNegInf = -std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
// Sentinel item: loses every tie, so any real item (even one scoring -inf)
// beats a sentinel entry.
constexpr std::int32_t kNoItem = std::numeric_limits<std::int32_t>::max();

std::int64_t ceil_div(std::int64_t a, std::int64_t b) { return (a + b - 1) / b; }

// Splits [0, n) into the fewest blocks of at most max_block, of nearly equal
// size (so 257 rows become 129 + 128, not 256 + 1).
struct Blocking {
  std::int64_t n = 0;
  std::int64_t count = 0;
  std::int64_t size = 0;

  Blocking(std::int64_t total, std::int64_t max_block) : n(total) {
    count = total > 0 ? ceil_div(total, max_block) : 0;
    size = count > 0 ? ceil_div(total, count) : 0;
  }
  std::int64_t begin(std::int64_t b) const { return std::min(n, b * size); }
  std::int64_t end(std::int64_t b) const { return std::min(n, (b + 1) * size); }
};

struct Entry {
  float score;
  std::int32_t item;
};

// The result order: higher score first, equal scores by lower item. A total
// order on distinct items, which is what makes results deterministic.
bool better(const Entry& a, const Entry& b) {
  return a.score > b.score || (a.score == b.score && a.item < b.item);
}

// heap[0..k) is a heap whose root is the worst entry kept. Replaces the root
// with e (which must be better than it) and restores the heap.
void replace_root(Entry* heap, std::int64_t k, Entry e) {
  std::int64_t i = 0;
  for (;;) {
    std::int64_t c = 2 * i + 1;
    if (c >= k) break;
    if (c + 1 < k && better(heap[c], heap[c + 1])) ++c;  // the worse child
    if (!better(e, heap[c])) break;
    heap[i] = heap[c];
    i = c;
  }
  heap[i] = e;
}

void reset_heaps(Entry* heaps, std::int64_t entries) {
  std::fill(heaps, heaps + entries, Entry{kNegInf, kNoItem});
}

// The score of record for a (query, item) pair. sgemm's rounding depends on
// where a pair lands in its tile (edge kernels accumulate differently), so
// two identical items can get scores a few ulps apart and a tie would break
// by position instead of by index. This fixed-order dot product (eight
// lanes, vectorised without reassociation) gives one value per pair of rows
// wherever it is computed; sgemm only screens candidates for it.
float exact_dot(const float* a, const float* b, std::int64_t n) {
  float s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  std::int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    for (int l = 0; l < 8; ++l) s[l] += a[i + l] * b[i + l];
  }
  for (; i < n; ++i) s[0] += a[i] * b[i];
  return ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]));
}

// exact_dot(a, b + j * dim, dim) for j in [0, n), into out[j]: the same
// eight lanes in the same order for every pair (a GCC vector of eight
// floats is exactly exact_dot's s[8]), eight rows of b at a time so that the
// additions of different rows overlap instead of each waiting on its own
// previous one (one row alone is bound by the add latency). The file is
// built without floating-point contraction, so every clone rounds like
// exact_dot.
using Lanes = float __attribute__((vector_size(8 * sizeof(float))));

LATENT_INDEX_CLONES void exact_dots(const float* a, const float* b, std::int64_t n,
                                    std::int64_t dim, float* out) {
  constexpr int kRows = 8;
  std::int64_t j = 0;
  for (; j + kRows <= n; j += kRows) {
    const float* rows = b + j * dim;
    Lanes s[kRows] = {};
    std::int64_t i = 0;
    for (; i + 8 <= dim; i += 8) {
      Lanes x, y;
      std::memcpy(&x, a + i, sizeof x);
      for (int r = 0; r < kRows; ++r) {
        std::memcpy(&y, rows + r * dim + i, sizeof y);
        s[r] += x * y;
      }
    }
    for (; i < dim; ++i) {
      for (int r = 0; r < kRows; ++r) s[r][0] += a[i] * rows[r * dim + i];
    }
    for (int r = 0; r < kRows; ++r) {
      const Lanes& t = s[r];
      out[j + r] = ((t[0] + t[4]) + (t[1] + t[5])) + ((t[2] + t[6]) + (t[3] + t[7]));
    }
  }
  for (; j < n; ++j) out[j] = exact_dot(a, b + j * dim, dim);
}

float row_norm(const float* a, std::int64_t n) { return std::sqrt(exact_dot(a, a, n)); }

// A bound on |sgemm score - exact_dot| for rows with these norms. A float
// dot product of length dim in any order errs by at most about dim ulps of
// |a| |b| (Cauchy-Schwarz), exact_dot's by dim / 8 + 3; 2 dim + 8 leaves
// room for the rounding of the norms themselves.
float screening_margin(float norm_a, float norm_b, std::int64_t dim) {
  const double u = std::ldexp(1.0, -24);
  return static_cast<float>((2.0 * static_cast<double>(dim) + 8.0) * u * norm_a * norm_b);
}

// Calls f(j) for the j in [0, n) with scores[j] >= threshold (f may raise
// threshold as it goes). Such scores are rare in practice, so chunks are
// first tested with a branch-free vector compare, and the branchy
// per-score loop runs only for chunks holding a candidate.
template <typename F>
void for_each_at_least(const float* scores, std::int64_t n, const float& threshold, F&& f) {
  constexpr std::int64_t kChunk = 16;
  std::int64_t j = 0;
  for (; j + kChunk <= n; j += kChunk) {
#if defined(__SSE2__)
    // GCC does not vectorise the portable loop below (an OR-reduction of
    // float compares); SSE2 is in every x86-64 CPU, so no dispatch needed.
    const float* p = scores + j;
    const __m128 thr = _mm_set1_ps(threshold);
    const __m128 any = _mm_or_ps(
        _mm_or_ps(_mm_cmpge_ps(_mm_loadu_ps(p), thr), _mm_cmpge_ps(_mm_loadu_ps(p + 4), thr)),
        _mm_or_ps(_mm_cmpge_ps(_mm_loadu_ps(p + 8), thr), _mm_cmpge_ps(_mm_loadu_ps(p + 12), thr)));
    if (_mm_movemask_ps(any) == 0) continue;
#else
    int hit = 0;
    for (std::int64_t t = 0; t < kChunk; ++t) hit |= static_cast<int>(scores[j + t] >= threshold);
    if (hit == 0) continue;
#endif
    for (std::int64_t t = 0; t < kChunk; ++t) {
      if (scores[j + t] >= threshold) f(j + t);
    }
  }
  for (; j < n; ++j) {
    if (scores[j] >= threshold) f(j);
  }
}

// Where one heap's candidates come from.
struct Candidates {
  const float* query;  // dim floats
  const float* items;  // item i at items + i * dim
  std::int64_t dim;
  // Tile scores already come from exact_dot (margin 0), or they come from
  // sgemm and are off by at most margin: screening_margin(|query|, max |item|).
  bool exact;
  float margin;
  // The query's item-to-item term for every item (null: none); tile
  // scores include it already.
  const float* term;
};

// Offers tile scores[0..n), for items first_item.., to one query's heap.
// Almost every score loses to the worst entry kept, so only scores within
// the margin of it reach the exact comparison in the total order. NaN
// (excluded items, NaN embeddings) fails every comparison and is never kept.
void offer(const float* scores, std::int64_t n, std::int64_t first_item, Entry* heap,
           std::int64_t k, const Candidates& c) {
  float threshold = 0;
  auto update_threshold = [&] {
    threshold = heap[0].score - c.margin;
    // inf - inf: embeddings with infinities; screen nothing out.
    if (std::isnan(threshold)) threshold = kNegInf;
  };
  update_threshold();
  auto consider = [&](std::int64_t j) {
    const std::int64_t item = first_item + j;
    float score = scores[j];
    if (!c.exact) {
      score = exact_dot(c.query, c.items + item * c.dim, c.dim);
      if (c.term != nullptr) score += c.term[item];
    }
    const Entry e{score, static_cast<std::int32_t>(item)};
    if (better(e, heap[0])) {
      replace_root(heap, k, e);
      update_threshold();
    }
  };
  for_each_at_least(scores, n, threshold, consider);
}

// Sorts a heap best first (sentinels, if any, end up last).
void sort_best_first(Entry* heap, std::int64_t k) { std::sort(heap, heap + k, better); }

void write_row(const Entry* sorted, std::int64_t count, std::int32_t* items, float* scores) {
  for (std::int64_t i = 0; i < count && sorted[i].item != kNoItem; ++i) {
    items[i] = sorted[i].item;
    scores[i] = sorted[i].score;
  }
}

struct TopKJob {
  const Matrix& queries;
  const Matrix& items;
  const SearchOptions& options;
  std::int64_t k;  // heap size: min(options.k, items)
  Blocking rows;
  Blocking cols;
  TopK& out;
  bool direct;                 // score with exact_dot, not sgemm
  std::vector<float> margins;  // per query, for sgemm tiles: see Candidates
  float max_item_norm = 0;     // for sgemm tiles

  // The item-to-item term of a row block's queries: a row of every item's
  // term per query, and how much further than the margin an sgemm score
  // plus the term can be from the score of record (the rounding of the sum).
  struct RowTerms {
    std::vector<float> values;
    std::vector<float> slack;
  };

  // Fills `terms` for the rows of row block rb (nothing without a term).
  void compute_terms(std::int64_t rb, RowTerms& terms) const {
    if (!options.item_term.active()) return;
    const std::int64_t q0 = rows.begin(rb);
    const std::int64_t nrows = rows.end(rb) - q0;
    const std::int64_t n = items.rows();
    terms.values.resize(static_cast<std::size_t>(nrows * n));
    terms.slack.resize(static_cast<std::size_t>(nrows));
    for (std::int64_t r = 0; r < nrows; ++r) compute_term_row(q0, r, terms);
  }

  void compute_term_row(std::int64_t q0, std::int64_t r, RowTerms& terms) const {
    const std::int64_t n = items.rows();
    float* row = terms.values.data() + r * n;
    options.item_term.term(q0 + r, 0, std::span<float>(row, static_cast<std::size_t>(n)));
    float biggest = 0;
    for (std::int64_t j = 0; j < n; ++j) biggest = std::max(biggest, std::abs(row[j]));
    const std::int64_t dim = queries.cols();
    const float reach = row_norm(queries.data() + (q0 + r) * dim, dim) * max_item_norm + biggest;
    terms.slack[static_cast<std::size_t>(r)] = direct ? 0.0f : std::ldexp(reach, -21);
  }

  // Computes the tile (row block rb) x (column block cb) into `tile` and
  // offers it to heaps (one heap of k entries per row of the block).
  void scan_tile(std::int64_t rb, std::int64_t cb, float* tile, Entry* heaps,
                 const RowTerms& terms) const {
    const std::int64_t q0 = rows.begin(rb);
    const std::int64_t nrows = rows.end(rb) - q0;
    const std::int64_t c0 = cols.begin(cb);
    const std::int64_t c1 = cols.end(cb);
    const std::int64_t width = c1 - c0;
    const std::int64_t dim = queries.cols();
    const float* q = queries.data() + q0 * dim;
    const float* x = items.data() + c0 * dim;
    if (direct) {
      for (std::int64_t r = 0; r < nrows; ++r)
        exact_dots(q + r * dim, x, width, dim, tile + r * width);
    } else {
      detail::sgemm_nt(nrows, width, dim, q, dim, x, dim, tile, width);
    }
    const bool with_terms = options.item_term.active();
    if (with_terms) {
      for (std::int64_t r = 0; r < nrows; ++r) {
        const float* t = terms.values.data() + r * items.rows() + c0;
        float* row = tile + r * width;
        for (std::int64_t j = 0; j < width; ++j) row[j] += t[j];
      }
    }
    mask_excluded(q0, nrows, c0, c1, tile);
    for (std::int64_t r = 0; r < nrows; ++r) {
      const float margin = direct
                               ? 0.0f
                               : margins[static_cast<std::size_t>(q0 + r)] +
                                     (with_terms ? terms.slack[static_cast<std::size_t>(r)] : 0.0f);
      const Candidates c{
          q + r * dim, items.data(), dim,
          direct,      margin,       with_terms ? terms.values.data() + r * items.rows() : nullptr};
      offer(tile + r * width, width, c0, heaps + r * k, k, c);
    }
  }

  // Overwrites excluded items' scores with NaN, which offer() never keeps:
  // cheaper than testing every item against two sorted lists in the scan.
  void mask_excluded(std::int64_t q0, std::int64_t nrows, std::int64_t c0, std::int64_t c1,
                     float* tile) const {
    const std::int64_t width = c1 - c0;
    const auto global = options.exclude_items;
    const auto g0 = std::lower_bound(global.begin(), global.end(), c0);
    const auto g1 = std::lower_bound(g0, global.end(), c1);
    for (std::int64_t r = 0; r < nrows; ++r) {
      float* row = tile + r * width;
      for (auto it = g0; it != g1; ++it) row[*it - c0] = kNaN;
      if (options.exclude_rows == nullptr) continue;
      const auto seen = options.exclude_rows->row(options.exclude_row_of[q0 + r]);
      for (auto it = std::lower_bound(seen.begin(), seen.end(), c0); it != seen.end() && *it < c1;
           ++it) {
        row[*it - c0] = kNaN;
      }
    }
  }

  std::int32_t* out_items(std::int64_t q) const { return out.items.data() + q * out.k; }
  float* out_scores(std::int64_t q) const { return out.scores.data() + q * out.k; }
};

// Many queries: each thread takes whole row blocks and scans all items.
void top_k_by_rows(const TopKJob& job, int threads) {
  const std::int64_t tile_floats = job.rows.size * job.cols.size;
  const std::int64_t heap_entries = job.rows.size * job.k;
  std::vector<std::vector<float>> tiles(threads, std::vector<float>(tile_floats));
  std::vector<std::vector<Entry>> heaps(threads, std::vector<Entry>(heap_entries));
  std::vector<TopKJob::RowTerms> terms(static_cast<std::size_t>(threads));
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1)
  for (std::int64_t rb = 0; rb < job.rows.count; ++rb) {
    const int t = omp_get_thread_num();
    Entry* heap = heaps[t].data();
    const std::int64_t q0 = job.rows.begin(rb);
    const std::int64_t nrows = job.rows.end(rb) - q0;
    reset_heaps(heap, nrows * job.k);
    job.compute_terms(rb, terms[static_cast<std::size_t>(t)]);
    for (std::int64_t cb = 0; cb < job.cols.count; ++cb) {
      job.scan_tile(rb, cb, tiles[t].data(), heap, terms[static_cast<std::size_t>(t)]);
    }
    for (std::int64_t r = 0; r < nrows; ++r) {
      Entry* h = heap + r * job.k;
      sort_best_first(h, job.k);
      write_row(h, job.k, job.out_items(q0 + r), job.out_scores(q0 + r));
    }
  }
}

// Few queries: for each row block, threads split the item blocks, each
// keeping its own heaps, then the per-thread heaps are merged row by row.
void top_k_by_items(const TopKJob& job, int threads) {
  const std::int64_t tile_floats = job.rows.size * job.cols.size;
  const std::int64_t heap_entries = job.rows.size * job.k;
  std::vector<std::vector<float>> tiles(threads, std::vector<float>(tile_floats));
  std::vector<std::vector<Entry>> heaps(threads, std::vector<Entry>(heap_entries));
  std::vector<std::vector<std::int64_t>> cursors(threads, std::vector<std::int64_t>(threads));
  // The row block's item-to-item term, shared by the threads scanning it.
  TopKJob::RowTerms terms;
  if (job.options.item_term.active()) {
    terms.values.resize(static_cast<std::size_t>(job.rows.size * job.items.rows()));
    terms.slack.resize(static_cast<std::size_t>(job.rows.size));
  }
#pragma omp parallel num_threads(threads)
  {
    const int t = omp_get_thread_num();
    const int team = omp_get_num_threads();
    Entry* heap = heaps[t].data();
    for (std::int64_t rb = 0; rb < job.rows.count; ++rb) {
      const std::int64_t q0 = job.rows.begin(rb);
      const std::int64_t nrows = job.rows.end(rb) - q0;
      reset_heaps(heap, nrows * job.k);
      if (job.options.item_term.active()) {
#pragma omp for schedule(static)
        for (std::int64_t r = 0; r < nrows; ++r) job.compute_term_row(q0, r, terms);
      }
#pragma omp for schedule(dynamic, 1) nowait
      for (std::int64_t cb = 0; cb < job.cols.count; ++cb) {
        job.scan_tile(rb, cb, tiles[t].data(), heap, terms);
      }
      for (std::int64_t r = 0; r < nrows; ++r) sort_best_first(heap + r * job.k, job.k);
#pragma omp barrier
      // k-way merge of the sorted per-thread lists; the order is total, so
      // the result does not depend on which thread scanned which block.
      std::int64_t* cursor = cursors[t].data();
#pragma omp for schedule(static)
      for (std::int64_t r = 0; r < nrows; ++r) {
        std::fill(cursor, cursor + team, 0);
        std::int32_t* items = job.out_items(q0 + r);
        float* scores = job.out_scores(q0 + r);
        for (std::int64_t i = 0; i < job.k; ++i) {
          int best = -1;
          for (int u = 0; u < team; ++u) {
            if (cursor[u] == job.k) continue;
            const Entry& e = heaps[u][r * job.k + cursor[u]];
            if (best < 0 || better(e, heaps[best][r * job.k + cursor[best]])) best = u;
          }
          const Entry& e = heaps[best][r * job.k + cursor[best]++];
          if (e.item == kNoItem) break;
          items[i] = e.item;
          scores[i] = e.score;
        }
      }
      // The implicit barrier above keeps every heap intact until merged.
    }
  }
}

void check_dims(const char* what, const Matrix& queries, const Matrix& items) {
  if (queries.cols() != items.cols()) {
    throw Error(ErrorKind::InvalidArgument,
                fmt::format("{}: queries have dim {} but items have dim {}", what, queries.cols(),
                            items.cols()));
  }
  if (items.rows() > std::numeric_limits<std::int32_t>::max() - 1) {
    throw Error(ErrorKind::InvalidArgument,
                fmt::format("{}: {} items exceed the int32 item index", what, items.rows()));
  }
}

void check_sorted(const char* what, std::span<const std::int32_t> exclude) {
  const auto it = std::is_sorted_until(exclude.begin(), exclude.end());
  if (it != exclude.end()) {
    throw Error(ErrorKind::InvalidArgument,
                fmt::format("{}: exclude_items must be sorted ascending, but {} follows {} at "
                            "position {}",
                            what, *it, *(it - 1), it - exclude.begin()));
  }
}

// Enqueues one OpenMP task per tile of rows [first, first + rows) of
// queries x items^T, written to block (rows x items.rows(), row-major).
void spawn_score_tasks(const Matrix& queries, const Matrix& items, const ItemTerm& term,
                       std::int64_t first, std::int64_t rows, float* block) {
  const std::int64_t dim = queries.cols();
  const std::int64_t width = items.rows();
  const Blocking row_tiles(rows, kRowBlock);
  const Blocking col_tiles(width, kColBlock);
  for (std::int64_t rt = 0; rt < row_tiles.count; ++rt) {
    for (std::int64_t ct = 0; ct < col_tiles.count; ++ct) {
      const std::int64_t r0 = row_tiles.begin(rt);
      const std::int64_t nr = row_tiles.end(rt) - r0;
      const std::int64_t c0 = col_tiles.begin(ct);
      const std::int64_t nc = col_tiles.end(ct) - c0;
      const float* a = queries.data() + (first + r0) * dim;
      const float* b = items.data() + c0 * dim;
      float* c = block + r0 * width + c0;
      // The canonical exact_dot, not sgemm: every score here equals the one
      // top_k ranks by, so a row of this matrix gives exactly recommend's
      // top-K (sgemm's last bits depend on where a row sits in a block).
      const ItemTerm* terms = &term;
#pragma omp task firstprivate(a, b, c, nr, nc, dim, width, r0, c0, first, terms)
      {
        for (std::int64_t r = 0; r < nr; ++r) exact_dots(a + r * dim, b, nc, dim, c + r * width);
        // Plus the item-to-item term, summed as top_k sums it.
        if (terms->active()) {
          std::vector<float> t(static_cast<std::size_t>(nc));
          for (std::int64_t r = 0; r < nr; ++r) {
            terms->term(first + r0 + r, c0, t);
            for (std::int64_t j = 0; j < nc; ++j)
              c[r * width + j] += t[static_cast<std::size_t>(j)];
          }
        }
      }
    }
  }
}

}  // namespace

namespace detail {

TopK padded_result(std::int64_t queries, int k) {
  TopK out;
  out.queries = queries;
  out.k = k;
  const auto cells = static_cast<std::size_t>(queries) * static_cast<std::size_t>(k);
  out.items.assign(cells, -1);
  out.scores.assign(cells, kNegInf);
  return out;
}

void check_search(const char* what, const Matrix& queries, const Matrix& items,
                  const SearchOptions& options) {
  if (options.k <= 0) {
    throw Error(ErrorKind::InvalidArgument,
                fmt::format("{}: k must be positive, got k = {}", what, options.k));
  }
  if (options.ef < 0) {
    throw Error(ErrorKind::InvalidArgument,
                fmt::format("{}: ef must be positive (0: the index's default), got ef = {}", what,
                            options.ef));
  }
  check_dims(what, queries, items);
  check_sorted(what, options.exclude_items);
  if (options.exclude_rows == nullptr && !options.exclude_row_of.empty()) {
    throw Error(ErrorKind::InvalidArgument,
                fmt::format("{}: exclude_row_of is set but exclude_rows is null", what));
  }
  if (options.exclude_rows != nullptr &&
      static_cast<std::int64_t>(options.exclude_row_of.size()) != queries.rows()) {
    throw Error(ErrorKind::InvalidArgument,
                fmt::format("{}: exclude_row_of has {} entries but there are {} queries", what,
                            options.exclude_row_of.size(), queries.rows()));
  }
  check_item_term(what, options.item_term, queries.rows(), items.rows());
}

void check_item_term(const char* what, const ItemTerm& term, std::int64_t queries,
                     std::int64_t items) {
  if (term.weights == nullptr) return;
  if (term.items == nullptr || static_cast<std::int64_t>(term.row_of.size()) != queries) {
    throw Error(ErrorKind::InvalidArgument,
                fmt::format("{}: an item-to-item term needs the items of each of the {} queries",
                            what, queries));
  }
  if (!term.weights->empty() && term.weights->items() != items) {
    throw Error(ErrorKind::InvalidArgument,
                fmt::format("{}: item-to-item weights over {} items, but there are {} items", what,
                            term.weights->items(), items));
  }
  if (!term.item_weights.empty() &&
      static_cast<std::int64_t>(term.item_weights.size()) != term.items->nnz()) {
    throw Error(ErrorKind::InvalidArgument,
                fmt::format("{}: {} item weights for {} query items", what,
                            term.item_weights.size(), term.items->nnz()));
  }
  for (const std::int32_t row : term.row_of) {
    if (row < 0 || row >= term.items->rows()) {
      throw Error(ErrorKind::InvalidArgument, fmt::format("{}: query items row {} outside [0, {})",
                                                          what, row, term.items->rows()));
    }
  }
}

// exact_dot's eight lanes as one GCC vector, so that each clone computes it
// in its own registers (exact_dot itself is built for the baseline only):
// the same products, in the same order, the same value.
LATENT_INDEX_CLONES float score_of_record(const float* a, const float* b,
                                          std::int64_t dim) noexcept {
  Lanes s = {};
  std::int64_t i = 0;
  for (; i + 8 <= dim; i += 8) {
    Lanes x, y;
    std::memcpy(&x, a + i, sizeof x);
    std::memcpy(&y, b + i, sizeof y);
    s += x * y;
  }
  for (; i < dim; ++i) s[0] += a[i] * b[i];
  return ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]));
}

}  // namespace detail

TopK top_k(const Matrix& queries, const Matrix& items, const SearchOptions& options) {
  detail::check_search("top_k", queries, items, options);
  const int threads = detail::resolve_threads(options.threads);

  TopK out = detail::padded_result(queries.rows(), options.k);
  const std::int64_t k = std::min<std::int64_t>(options.k, items.rows());
  if (queries.rows() == 0 || k == 0) return out;

  const std::int64_t max_rows = std::clamp<std::int64_t>(kMaxHeapEntries / k, 1, kRowBlock);
  TopKJob job{queries,
              items,
              options,
              k,
              Blocking(queries.rows(), max_rows),
              Blocking(items.rows(), kColBlock),
              out,
              queries.rows() <= kDirectRows,
              {}};
  if (!job.direct) {
    const std::int64_t dim = queries.cols();
    float max_item_norm = 0;
#pragma omp parallel for num_threads(threads) reduction(max : max_item_norm)
    for (std::int64_t i = 0; i < items.rows(); ++i) {
      max_item_norm = std::max(max_item_norm, row_norm(items.data() + i * dim, dim));
    }
    job.max_item_norm = max_item_norm;
    job.margins.resize(static_cast<std::size_t>(queries.rows()));
    for (std::int64_t q = 0; q < queries.rows(); ++q) {
      job.margins[static_cast<std::size_t>(q)] =
          screening_margin(row_norm(queries.data() + q * dim, dim), max_item_norm, dim);
    }
  }
  // Whole row blocks per thread need no merge, but with fewer than two
  // blocks per thread some threads would idle (one query: all but one).
  if (threads == 1 || job.rows.count >= 2 * static_cast<std::int64_t>(threads)) {
    top_k_by_rows(job, threads);
  } else {
    top_k_by_items(job, threads);
  }
  return out;
}

void score_blocks(const Matrix& queries, const Matrix& items, std::int64_t block_rows,
                  const ScoreBlockSink& sink, int threads, const ItemTerm& term) {
  if (block_rows <= 0) {
    throw Error(ErrorKind::InvalidArgument,
                fmt::format("score_blocks: block_rows must be positive, got {}", block_rows));
  }
  check_dims("score_blocks", queries, items);
  detail::check_item_term("score_blocks", term, queries.rows(), items.rows());
  const int team = detail::resolve_threads(threads);
  const std::int64_t nq = queries.rows();
  if (nq == 0) return;
  const std::int64_t rows = std::min(block_rows, nq);
  const auto block_floats = static_cast<std::size_t>(rows * items.rows());
  // Two buffers: the sink reads one block while the other threads compute
  // the next into the other. The sink runs on the calling thread (master),
  // which matters to callers such as Python that tie state to a thread.
  std::vector<float> buffers[2] = {std::vector<float>(block_floats),
                                   std::vector<float>(block_floats)};
  detail::FirstException error;
#pragma omp parallel num_threads(team)
#pragma omp master
  {
    spawn_score_tasks(queries, items, term, 0, rows, buffers[0].data());
#pragma omp taskwait
    int current = 0;
    for (std::int64_t first = 0; first < nq; first += block_rows) {
      const std::int64_t count = std::min(block_rows, nq - first);
      const std::int64_t next = first + block_rows;
      if (next < nq) {
        spawn_score_tasks(queries, items, term, next, std::min(block_rows, nq - next),
                          buffers[1 - current].data());
      }
      try {
        sink(first, count,
             std::span<const float>(buffers[current].data(),
                                    static_cast<std::size_t>(count * items.rows())));
      } catch (...) {
        error.capture();
      }
      // This thread joins the computation of the next block here.
#pragma omp taskwait
      if (error.failed()) break;
      current = 1 - current;
    }
  }
  error.rethrow();
}

std::vector<SimilarPair> similar_pairs(const Matrix& embeddings, float threshold,
                                       std::span<const std::int32_t> exclude_items, int threads,
                                       const WorkProgress& progress) {
  if (!(threshold >= -1.0f && threshold <= 1.0f)) {
    throw Error(ErrorKind::InvalidArgument,
                fmt::format("similar_pairs: threshold must be in [-1, 1], got {}", threshold));
  }
  check_sorted("similar_pairs", exclude_items);
  const int team = detail::resolve_threads(threads);
  const std::int64_t n = embeddings.rows();
  if (n > std::numeric_limits<std::int32_t>::max()) {
    throw Error(ErrorKind::InvalidArgument,
                fmt::format("similar_pairs: {} rows exceed the int32 row index", n));
  }
  if (n < 2) return {};

  const Matrix unit = normalize_rows(embeddings);
  std::vector<char> skip(static_cast<std::size_t>(n), 0);
  for (const std::int32_t e : exclude_items) {
    if (e >= 0 && e < n) skip[static_cast<std::size_t>(e)] = 1;
  }

  // Only tiles holding some (a, b) with a < b: the upper triangle.
  const Blocking row_blocks(n, kRowBlock);
  const Blocking col_blocks(n, kColBlock);
  std::vector<std::pair<std::int64_t, std::int64_t>> tiles;
  for (std::int64_t rb = 0; rb < row_blocks.count; ++rb) {
    for (std::int64_t cb = 0; cb < col_blocks.count; ++cb) {
      if (col_blocks.end(cb) - 1 > row_blocks.begin(rb)) tiles.emplace_back(rb, cb);
    }
  }

  const std::int64_t dim = unit.cols();
  // Unit rows (norm 1 up to rounding; zero rows score 0 exactly).
  const float screen = threshold - screening_margin(1.0f, 1.0f, dim);
  std::vector<std::vector<float>> buffers(
      team, std::vector<float>(static_cast<std::size_t>(row_blocks.size * col_blocks.size)));
  std::vector<std::vector<SimilarPair>> found(team);
  detail::FirstException error;
  std::atomic<std::int64_t> tiles_done{0};
  const auto tiles_total = static_cast<std::int64_t>(tiles.size());
#pragma omp parallel for num_threads(team) schedule(dynamic, 1)
  for (std::size_t i = 0; i < tiles.size(); ++i) {
    if (error.failed()) continue;
    const int t = omp_get_thread_num();
    const auto [rb, cb] = tiles[i];
    const std::int64_t r0 = row_blocks.begin(rb);
    const std::int64_t nr = row_blocks.end(rb) - r0;
    const std::int64_t c0 = col_blocks.begin(cb);
    const std::int64_t c1 = col_blocks.end(cb);
    const std::int64_t width = c1 - c0;
    float* tile = buffers[t].data();
    detail::sgemm_nt(nr, width, dim, unit.data() + r0 * dim, dim, unit.data() + c0 * dim, dim, tile,
                     width);
    try {
      for (std::int64_t r = 0; r < nr; ++r) {
        const std::int64_t a = r0 + r;
        if (skip[static_cast<std::size_t>(a)]) continue;
        const std::int64_t b0 = std::max(c0, a + 1);
        const float* row_a = unit.data() + a * dim;
        for_each_at_least(tile + r * width + (b0 - c0), c1 - b0, screen, [&](std::int64_t j) {
          const std::int64_t b = b0 + j;
          if (skip[static_cast<std::size_t>(b)]) return;
          // Decided on the exact cosine, so the answer does not depend on
          // tiling; clamped because rounding can push near-parallel rows
          // past 1, and threshold 1 must mean "no pairs".
          const float sim = std::min(exact_dot(row_a, unit.data() + b * dim, dim), 1.0f);
          if (sim > threshold) {
            found[t].push_back({static_cast<std::int32_t>(a), static_cast<std::int32_t>(b), sim});
          }
        });
      }
      if (progress) progress(tiles_done.fetch_add(1, std::memory_order_relaxed) + 1, tiles_total);
    } catch (...) {
      error.capture();
    }
  }
  error.rethrow();

  std::size_t total = 0;
  for (const auto& f : found) total += f.size();
  std::vector<SimilarPair> pairs;
  pairs.reserve(total);
  for (auto& f : found) {
    pairs.insert(pairs.end(), f.begin(), f.end());
    std::vector<SimilarPair>().swap(f);  // `f = {}` would keep the capacity
  }
  std::sort(pairs.begin(), pairs.end(), similar_pair_order);
  return pairs;
}

}  // namespace latent
