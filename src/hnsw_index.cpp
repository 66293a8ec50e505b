#include <latent/hnsw_index.hpp>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <exception>
#include <limits>
#include <numeric>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include <omp.h>

#include <fmt/format.h>
#include <hnswlib/hnswlib.h>
#include <xxhash.h>

#include <latent/atomic_output.hpp>
#include <latent/error.hpp>
#include <latent/random.hpp>

#include "detail/file_bytes.hpp"
#include "detail/kernels.hpp"
#include "detail/parallel.hpp"
#include "detail/scalar_codes.hpp"
#include "detail/search.hpp"

namespace latent {

namespace {

constexpr char kMagic[8] = {'L', 'A', 'T', 'E', 'N', 'T', 'I', 'X'};
constexpr std::uint32_t kFormatVersion = 1;
constexpr char kType[12] = {'h', 'n', 's', 'w'};

// The file's fixed-size start; the arrays follow it, then the checksum of
// everything before it (XXH64, seed 0).
struct FileHeader {
  char magic[8];
  std::uint32_t version;
  char type[12];
  std::uint64_t rows;
  std::uint64_t dim;
  std::uint64_t items_hash;  // XXH64 of the item matrix the graph was built on
  std::uint32_t m;
  std::uint32_t ef_construction;
  std::uint32_t ef_search;
  std::uint32_t reserved;
  std::uint64_t seed;
  std::int32_t entry;
  std::int32_t max_level;
  std::uint64_t level0_size;  // int32 entries
  std::uint64_t upper_size;
};
static_assert(sizeof(FileHeader) == 96, "the file header is 96 bytes, no padding");

std::uint64_t items_hash(const Matrix& items) {
  return XXH64(items.data(), static_cast<std::size_t>(items.size()) * sizeof(float), 0);
}

// A result candidate: the score of record and the item row. Higher score
// first, equal scores by lower row: top_k's total order.
struct Scored {
  float score;
  std::int32_t row;
};
bool better(const Scored& a, const Scored& b) {
  return a.score > b.score || (a.score == b.score && a.row < b.row);
}
struct WorseFirst {  // for a heap whose top is the worst kept
  bool operator()(const Scored& a, const Scored& b) const { return better(a, b); }
};
struct BestFirst {  // for a heap whose top is the best to explore next
  bool operator()(const Scored& a, const Scored& b) const { return better(b, a); }
};

bool sorted_contains(std::span<const std::int32_t> sorted, std::int32_t row) {
  return std::binary_search(sorted.begin(), sorted.end(), row);
}

// Links into the level-0 graph every item that no search could reach from
// the entry point. By inner product a short vector is nobody's near
// neighbour: hnswlib's neighbour selection keeps each list's best 2m and can
// drop such an item from every list that linked to it (a quarter of the
// items of an ALS model of MovieLens latest-small), and then it would never
// be found, not even at full effort, though a user's seen items excluded can
// make it a top-10. Each is appended to the list of a reachable item with
// room: among its own neighbours, then theirs, else any. Nothing is removed,
// so the graph's search paths stay as built. `level0`: per row a count, then
// up to 2m rows. Returns how many items were linked.
std::int64_t link_unreachable(std::vector<std::int32_t>& level0, std::int64_t rows, int m,
                              std::int32_t entry) {
  const std::int64_t stride = 2 * static_cast<std::int64_t>(m) + 1;
  const auto list = [&](std::int64_t r) { return level0.data() + r * stride; };
  std::vector<char> reached(static_cast<std::size_t>(rows));
  std::vector<std::int32_t> stack;
  const auto reach_from = [&](std::int32_t start) {
    reached[static_cast<std::size_t>(start)] = 1;
    stack.push_back(start);
    while (!stack.empty()) {
      const std::int32_t* links = list(stack.back());
      stack.pop_back();
      for (std::int32_t j = 1; j <= links[0]; ++j) {
        if (!reached[static_cast<std::size_t>(links[j])]) {
          reached[static_cast<std::size_t>(links[j])] = 1;
          stack.push_back(links[j]);
        }
      }
    }
  };
  const auto open = [&](std::int32_t r) {
    return reached[static_cast<std::size_t>(r)] && list(r)[0] < 2 * m;
  };
  reach_from(entry);
  std::int64_t linked = 0;
  std::int64_t spare = 1;  // where the search for any reachable item with room goes on
  for (std::int64_t u = 1; u < rows; ++u) {
    if (reached[static_cast<std::size_t>(u)]) continue;
    const std::int32_t* own = list(u);
    std::int32_t from = -1;
    for (std::int32_t j = 1; j <= own[0] && from < 0; ++j) {
      if (open(own[j])) from = own[j];
    }
    for (std::int32_t j = 1; j <= own[0] && from < 0; ++j) {
      const std::int32_t* theirs = list(own[j]);
      for (std::int32_t i = 1; i <= theirs[0] && from < 0; ++i) {
        if (open(theirs[i])) from = theirs[i];
      }
    }
    for (std::int64_t tried = 0; tried < rows && from < 0; ++tried) {
      if (open(static_cast<std::int32_t>(spare))) {
        from = static_cast<std::int32_t>(spare);
      } else {
        spare = spare + 1 < rows ? spare + 1 : 1;
      }
    }
    if (from < 0) break;  // every reachable list is full (never at 2m links per item)
    std::int32_t* l = list(from);
    l[++l[0]] = static_cast<std::int32_t>(u);
    ++linked;
    reach_from(static_cast<std::int32_t>(u));
  }
  return linked;
}

}  // namespace

void check_hnsw_params(const HnswParams& p) {
  const auto bad = [](std::string_view name, auto value, std::string_view rule) {
    throw Error(ErrorKind::InvalidArgument,
                fmt::format("hnsw: {} must be {}, got {}", name, rule, value));
  };
  if (p.m < 2 || p.m > 256) bad("m", p.m, "in [2, 256]");
  if (p.ef_construction < 1 || p.ef_construction > 100000)
    bad("ef_construction", p.ef_construction, "in [1, 100000]");
  if (p.ef_search < 1 || p.ef_search > 100000) bad("ef_search", p.ef_search, "in [1, 100000]");
  if (p.threads < 0) bad("threads", p.threads, ">= 0 (0: all cores)");
}

std::filesystem::path index_path_for(const std::filesystem::path& model) {
  std::filesystem::path p = model;
  p += ".index";
  return p;
}

std::filesystem::path similar_index_path_for(const std::filesystem::path& model) {
  std::filesystem::path p = model;
  p += ".similar.index";
  return p;
}

HnswIndex::HnswIndex(const Matrix& items, const HnswParams& params, Graph graph)
    : dim_(items.cols()),
      params_(params),
      entry_(graph.entry),
      max_level_(graph.max_level),
      levels_(std::move(graph.levels)),
      level0_(std::move(graph.level0)),
      upper_(std::move(graph.upper)) {
  upper_offset_.assign(levels_.size(), 0);
  std::int64_t offset = 0;
  for (std::size_t r = 0; r < levels_.size(); ++r) {
    upper_offset_[r] = offset;
    offset += static_cast<std::int64_t>(levels_[r]) * (params_.m + 1);
  }
  codes_ = std::make_shared<const detail::ScalarCodes>(items);
}

inline const std::int32_t* HnswIndex::links(std::int32_t row, int level) const noexcept {
  if (level == 0) return level0_.data() + static_cast<std::int64_t>(row) * (2 * params_.m + 1);
  return upper_.data() + upper_offset_[static_cast<std::size_t>(row)] +
         static_cast<std::int64_t>(level - 1) * (params_.m + 1);
}

nlohmann::json HnswIndex::describe() const {
  return {{"type", std::string(type())},
          {"m", params_.m},
          {"ef_construction", params_.ef_construction},
          {"ef", params_.ef_search},
          {"levels", max_level_ + 1},
          {"bytes", bytes()}};
}

std::int64_t HnswIndex::bytes() const noexcept {
  return static_cast<std::int64_t>((levels_.size() + level0_.size() + upper_.size()) *
                                       sizeof(std::int32_t) +
                                   upper_offset_.size() * sizeof(std::int64_t)) +
         codes_->bytes();
}

std::unique_ptr<HnswIndex> HnswIndex::build(const Matrix& items, const HnswParams& params,
                                            const WorkProgress& progress) {
  check_hnsw_params(params);
  const std::int64_t rows = items.rows();
  const std::int64_t dim = items.cols();
  if (rows > std::numeric_limits<std::int32_t>::max() - 1) {
    throw Error(ErrorKind::InvalidArgument,
                fmt::format("hnsw: {} items exceed the int32 item index", rows));
  }
  Graph g;
  g.levels.assign(static_cast<std::size_t>(rows), 0);
  g.level0.assign(static_cast<std::size_t>(rows) * (2 * params.m + 1), 0);
  const std::int64_t n = rows - 1;  // row 0, OOV, is not in the graph
  if (n <= 0 || dim == 0) return std::unique_ptr<HnswIndex>(new HnswIndex(items, params, g));

  for (std::int64_t r = 1; r < rows; ++r) {
    for (const float v : items.row(r)) {
      if (!std::isfinite(v)) {
        throw Error(ErrorKind::InvalidArgument,
                    fmt::format("hnsw: item row {} has a non-finite value ({}); an index needs "
                                "finite vectors",
                                r, v));
      }
    }
  }

  // The graph of inner products itself (ip-NSW), not of Euclidean distances
  // after a MIPS-to-L2 transform: on a MovieLens-20M-shaped ALS model the
  // transform's graph found 0.30 of the exact top 10 at ef 64, this one 0.998.
  hnswlib::InnerProductSpace space(static_cast<std::size_t>(dim));
  hnswlib::HierarchicalNSW<float> hnsw(
      &space, static_cast<std::size_t>(n), static_cast<std::size_t>(params.m),
      static_cast<std::size_t>(params.ef_construction), static_cast<std::size_t>(params.seed));
  // Items are linked longest vector first (ties in a seeded random order),
  // not in row order: the long vectors are the ones that win top-K lists by
  // inner product, and linked first they become the graph's hubs, which
  // every later item links to. Measured on the 1M-item benchmark catalog
  // (docs/benchmarks.md), recall@10 at ef 10: two-tower 0.959 against 0.939
  // in row order (and 0.949 in random order); ALS 0.831 against 0.818.
  std::vector<std::int32_t> order(static_cast<std::size_t>(n));
  std::iota(order.begin(), order.end(), 1);
  Rng(params.seed ^ 0x5851F42D4C957F2DULL).shuffle(std::span<std::int32_t>(order));
  {
    std::vector<float> norm(static_cast<std::size_t>(rows), 0.0f);
    for (std::int64_t r = 1; r < rows; ++r) {
      double s2 = 0;
      for (const float v : items.row(r)) s2 += static_cast<double>(v) * v;
      norm[static_cast<std::size_t>(r)] = static_cast<float>(s2);
    }
    std::stable_sort(order.begin(), order.end(), [&](std::int32_t a, std::int32_t b) {
      return norm[static_cast<std::size_t>(a)] > norm[static_cast<std::size_t>(b)];
    });
  }
  const auto add = [&](std::int64_t i) {
    const std::int32_t r = order[static_cast<std::size_t>(i)];
    hnsw.addPoint(items.row(r).data(), static_cast<hnswlib::labeltype>(r));
  };
  add(0);  // the entry point, before any thread races for it
  std::atomic<std::int64_t> done{1};
  std::exception_ptr failure;
  const int threads = detail::resolve_threads(params.threads);
#pragma omp parallel for num_threads(threads) schedule(dynamic, 64)
  for (std::int64_t i = 1; i < n; ++i) {
    try {
      add(i);
      const std::int64_t now = done.fetch_add(1, std::memory_order_relaxed) + 1;
      if (progress && (now % 4096 == 0 || now == n)) progress(now, n);
    } catch (...) {
#pragma omp critical(latent_hnsw_build_failure)
      if (!failure) failure = std::current_exception();
    }
  }
  if (failure) std::rethrow_exception(failure);
  if (progress && n < 4096) progress(n, n);

  // The graph, by item row (hnswlib numbers items in insertion order).
  const auto count = static_cast<std::int64_t>(hnsw.cur_element_count);
  std::vector<std::int32_t> row_of(static_cast<std::size_t>(count));
  for (std::int64_t i = 0; i < count; ++i) {
    row_of[static_cast<std::size_t>(i)] =
        static_cast<std::int32_t>(hnsw.getExternalLabel(static_cast<hnswlib::tableint>(i)));
  }
  const auto copy_list = [&](hnswlib::linklistsizeint* list, std::int32_t* out) {
    const auto size = static_cast<std::int32_t>(hnsw.getListCount(list));
    const auto* ids = reinterpret_cast<const hnswlib::tableint*>(list + 1);
    out[0] = size;
    for (std::int32_t j = 0; j < size; ++j) out[1 + j] = row_of[ids[j]];
  };
  for (std::int64_t i = 0; i < count; ++i) {
    const std::int32_t r = row_of[static_cast<std::size_t>(i)];
    const auto id = static_cast<hnswlib::tableint>(i);
    g.levels[static_cast<std::size_t>(r)] = hnsw.element_levels_[static_cast<std::size_t>(i)];
    copy_list(hnsw.get_linklist0(id),
              g.level0.data() + static_cast<std::int64_t>(r) * (2 * params.m + 1));
  }
  std::vector<std::int64_t> offset(static_cast<std::size_t>(rows), 0);
  std::int64_t total = 0;
  for (std::int64_t r = 0; r < rows; ++r) {
    offset[static_cast<std::size_t>(r)] = total;
    total += static_cast<std::int64_t>(g.levels[static_cast<std::size_t>(r)]) * (params.m + 1);
  }
  g.upper.assign(static_cast<std::size_t>(total), 0);
  for (std::int64_t i = 0; i < count; ++i) {
    const std::int32_t r = row_of[static_cast<std::size_t>(i)];
    for (int level = 1; level <= g.levels[static_cast<std::size_t>(r)]; ++level) {
      copy_list(hnsw.get_linklist(static_cast<hnswlib::tableint>(i), level),
                g.upper.data() + offset[static_cast<std::size_t>(r)] +
                    static_cast<std::int64_t>(level - 1) * (params.m + 1));
    }
  }
  g.entry = row_of[hnsw.enterpoint_node_];
  g.max_level = hnsw.maxlevel_;
  link_unreachable(g.level0, rows, params.m, g.entry);
  return std::unique_ptr<HnswIndex>(new HnswIndex(items, params, std::move(g)));
}

// Per-thread search state: visited marks by generation, so that a search
// forgets the last one without clearing the array. A byte per item (1 MB for
// a million) stays in a core's L2 cache where 4 bytes would not; the marks
// are cleared once every 255 searches.
struct HnswIndex::Scratch {
  std::vector<std::uint8_t> visited;
  std::vector<std::uint8_t> excluded;  // the query's seen items, by the same generation
  std::uint8_t generation = 0;
  std::vector<Scored> explore;           // heap, best on top
  std::vector<Scored> kept;              // heap, worst on top: the eligible results
  std::vector<std::int32_t> batch_rows;  // one item's unvisited links
  std::vector<float> batch_scores;
  detail::ScalarCodes::Query query;

  void next(std::size_t rows, std::size_t max_links) {
    if (visited.size() != rows || generation == 255) {
      visited.assign(rows, 0);
      excluded.assign(rows, 0);
      generation = 0;
    }
    ++generation;
    explore.clear();
    kept.clear();
    batch_rows.resize(max_links);
    batch_scores.resize(max_links);
  }
};

void HnswIndex::search_one(const Matrix& items, const float* query, std::int64_t k, int ef,
                           const SearchOptions& options, bool norm_bound, std::int64_t q,
                           Scratch& s, std::int32_t* out_items, float* out_scores) const {
  const std::int64_t dim = items.cols();
  const float* base = items.data();
  s.next(levels_.size(), static_cast<std::size_t>(2 * params_.m));
  // The query's own exclusions (its seen items) marked for this search;
  // the exclusions of every query (OOV, a deny or allow list) by lookup.
  if (options.exclude_rows != nullptr) {
    for (const std::int32_t row :
         options.exclude_rows->row(options.exclude_row_of[static_cast<std::size_t>(q)])) {
      if (row >= 0 && static_cast<std::size_t>(row) < s.excluded.size()) {
        s.excluded[static_cast<std::size_t>(row)] = s.generation;
      }
    }
  }
  const auto eligible = [&](const Scored& c) {
    return s.excluded[static_cast<std::size_t>(c.row)] != s.generation &&
           !sorted_contains(options.exclude_items, c.row);
  };
  // The walk ranks by the items' one-byte codes (a quarter of the memory
  // traffic of their float vectors); the results are scored again by the
  // record at the end. All of an item's unvisited links are gathered and
  // their codes prefetched before any is scored, so the fetches overlap.
  const detail::ScalarCodes& codes = *codes_;
  codes.prepare(query, s.query);
  // A link whose norm bounds its score below `floor` can be neither kept
  // nor explored (the kept set only gets better), so it is marked and
  // skipped unscored: the walk is the one that scores every link, at less
  // cost. By inner product most of a long vector's links lead to short ones
  // (on the 1M-item two-tower catalog, a third of the links met at ef 10 and
  // seven in ten at ef 40 are skipped).
  // A limit of 0 skips nothing, and then no norm is read (not prefetched,
  // it would cost a cache miss per link: the unit-vector graph's case).
  const auto skip_below = [&](float floor) {
    return norm_bound ? codes.norm_limit(s.query, floor) : 0;
  };
  const auto unvisited = [&](const std::int32_t* list, float floor) {
    const int limit = skip_below(floor);
    // The links' marks first, all at once: they are spread over a byte per
    // item, and fetched one by one behind the branch on each they stall the
    // walk (measured 1.1x queries/s at ef 10 on the 1M-item two-tower catalog).
    for (std::int32_t j = 1; j <= list[0]; ++j) {
      __builtin_prefetch(s.visited.data() + list[j]);
      if (limit > 0) codes.prefetch_norm(list[j]);
    }
    // Then the links to score, gathered without a branch per link: whether
    // a link was visited, or is below the norm bound, is a coin toss the
    // branch predictor loses (measured 1.03x queries/s at ef 10).
    const std::uint8_t generation = s.generation;
    std::int32_t* rows = s.batch_rows.data();
    std::int64_t n = 0;
    for (std::int32_t j = 1; j <= list[0]; ++j) {
      const std::int32_t row = list[j];
      std::uint8_t& mark = s.visited[static_cast<std::size_t>(row)];
      const bool fresh = mark != generation;
      mark = generation;
      rows[n] = row;
      n += (limit > 0 ? fresh & (codes.norm_byte(row) >= limit) : fresh) ? 1 : 0;
    }
    for (std::int64_t i = 0; i < n; ++i) codes.prefetch(rows[i]);
    codes.scores(s.query, rows, n, s.batch_scores.data());
    return n;
  };

  // Upper levels: greedy steps towards the query (a link the norm bound puts
  // below the current item's score is no step).
  Scored cur{0, entry_};
  codes.scores(s.query, &entry_, 1, &cur.score);
  const Scored top = cur;
  for (int level = max_level_; level > 0; --level) {
    for (bool moved = true; moved;) {
      moved = false;
      const std::int32_t* list = links(cur.row, level);
      const int limit = skip_below(cur.score);
      if (limit > 0) {
        for (std::int32_t j = 1; j <= list[0]; ++j) codes.prefetch_norm(list[j]);
      }
      std::int64_t n = 0;
      for (std::int32_t j = 1; j <= list[0]; ++j) {
        if (limit > 0 && codes.norm_byte(list[j]) < limit) continue;
        codes.prefetch(list[j]);
        s.batch_rows[static_cast<std::size_t>(n++)] = list[j];
      }
      codes.scores(s.query, s.batch_rows.data(), n, s.batch_scores.data());
      for (std::int64_t j = 0; j < n; ++j) {
        const Scored c{s.batch_scores[static_cast<std::size_t>(j)],
                       s.batch_rows[static_cast<std::size_t>(j)]};
        if (better(c, cur)) {
          cur = c;
          moved = true;
        }
      }
    }
  }
  // Level 0: a best-first search keeping the ef best eligible items;
  // excluded items are walked through (they lead somewhere) but never kept.
  const auto width = static_cast<std::size_t>(std::max<std::int64_t>(ef, k));
  const auto keep = [&](const Scored& c) {
    if (s.kept.size() < width) {
      s.kept.push_back(c);
      std::push_heap(s.kept.begin(), s.kept.end(), WorseFirst{});
    } else if (better(c, s.kept.front())) {
      // (measured 1.03-1.05x queries/s on the 1M-item catalogs over a
      // push_heap and a pop_heap)
      detail::replace_top(s.kept, c, WorseFirst{});
    }
  };
  const auto explore = [&](const Scored& c) {
    s.explore.push_back(c);
    std::push_heap(s.explore.begin(), s.explore.end(), BestFirst{});
  };
  // It starts from where the descent ended and from the entry point, from
  // which the build made every item reachable: at full effort (ef at least
  // the items) the search visits them all and answers as the exact one.
  for (const Scored& start : {cur, top}) {
    if (s.visited[static_cast<std::size_t>(start.row)] == s.generation) continue;
    s.visited[static_cast<std::size_t>(start.row)] = s.generation;
    if (!std::isnan(start.score)) {
      explore(start);
      if (eligible(start)) keep(start);
    }
  }
  while (!s.explore.empty()) {
    const Scored c = s.explore.front();
    // Nothing left to explore can beat a full set of kept items.
    if (s.kept.size() == width && better(s.kept.front(), c)) break;
    std::pop_heap(s.explore.begin(), s.explore.end(), BestFirst{});
    s.explore.pop_back();
    const float floor =
        s.kept.size() == width ? s.kept.front().score : -std::numeric_limits<float>::infinity();
    const std::int64_t n = unvisited(links(c.row, 0), floor);
    for (std::int64_t i = 0; i < n; ++i) {
      const Scored next{s.batch_scores[static_cast<std::size_t>(i)],
                        s.batch_rows[static_cast<std::size_t>(i)]};
      if (std::isnan(next.score)) continue;
      if (s.kept.size() < width || better(next, s.kept.front())) {
        explore(next);
        if (eligible(next)) keep(next);
      }
    }
  }
  // The results, by the score of record (their vectors fetched together).
  for (const Scored& c : s.kept) {
    const char* v = reinterpret_cast<const char*>(base + static_cast<std::int64_t>(c.row) * dim);
    for (std::int64_t b = 0; b < dim * static_cast<std::int64_t>(sizeof(float)); b += 64) {
      __builtin_prefetch(v + b);
    }
  }
  for (Scored& c : s.kept) {
    c.score = detail::score_of_record(query, base + static_cast<std::int64_t>(c.row) * dim, dim);
  }
  std::erase_if(s.kept, [](const Scored& c) { return std::isnan(c.score); });
  std::sort(s.kept.begin(), s.kept.end(), better);
  const auto found = std::min<std::int64_t>(k, static_cast<std::int64_t>(s.kept.size()));
  for (std::int64_t i = 0; i < found; ++i) {
    out_items[i] = s.kept[static_cast<std::size_t>(i)].row;
    out_scores[i] = s.kept[static_cast<std::size_t>(i)].score;
  }
}

TopK HnswIndex::search(const Matrix& items, const Matrix& queries,
                       const SearchOptions& options) const {
  return search_walk(items, queries, options, true);
}

TopK HnswIndex::search_every_link(const Matrix& items, const Matrix& queries,
                                  const SearchOptions& options) const {
  return search_walk(items, queries, options, false);
}

TopK HnswIndex::search_walk(const Matrix& items, const Matrix& queries,
                            const SearchOptions& options, bool norm_bound) const {
  detail::check_search("hnsw search", queries, items, options);
  if (items.rows() != static_cast<std::int64_t>(levels_.size()) || items.cols() != dim_) {
    throw Error(ErrorKind::InvalidArgument,
                fmt::format("hnsw search: the index was built for {} items of dimension {}, not "
                            "{} of dimension {}",
                            levels_.size(), dim_, items.rows(), items.cols()));
  }
  TopK out = detail::padded_result(queries.rows(), options.k);
  const std::int64_t k = std::min<std::int64_t>(options.k, items.rows());
  if (queries.rows() == 0 || k == 0 || max_level_ < 0) {
    return max_level_ < 0 ? top_k(queries, items, options) : out;
  }
  const int ef = options.ef > 0 ? options.ef : params_.ef_search;
  const std::int64_t dim = items.cols();
  const int threads = static_cast<int>(
      std::min<std::int64_t>(detail::resolve_threads(options.threads), queries.rows()));
  // Queries the graph cannot answer in full go to the exact search: a
  // non-finite query (every score NaN), or a result short of k eligible
  // items (most of the catalog excluded, or the graph did not reach them).
  std::vector<char> exact(static_cast<std::size_t>(queries.rows()), 0);
#pragma omp parallel num_threads(threads)
  {
    // Kept by each thread across searches: a server's thread answering one
    // request at a time must not allocate and clear a mark per item (4 MB
    // for a million) for each of them.
    thread_local Scratch scratch;
#pragma omp for schedule(dynamic, 16)
    for (std::int64_t q = 0; q < queries.rows(); ++q) {
      const float* query = queries.data() + q * dim;
      std::int32_t* row_items = out.items.data() + q * options.k;
      float* row_scores = out.scores.data() + q * options.k;
      if (!std::all_of(query, query + dim, [](float v) { return std::isfinite(v); })) {
        exact[static_cast<std::size_t>(q)] = 1;
        continue;
      }
      search_one(items, query, k, ef, options, norm_bound, q, scratch, row_items, row_scores);
      if (row_items[k - 1] < 0) exact[static_cast<std::size_t>(q)] = 1;
    }
  }
  for (std::int64_t q = 0; q < queries.rows(); ++q) {
    if (!exact[static_cast<std::size_t>(q)]) continue;
    const Matrix one(1, dim,
                     std::vector<float>(queries.data() + q * dim, queries.data() + (q + 1) * dim));
    SearchOptions single = options;
    if (options.exclude_rows != nullptr)
      single.exclude_row_of = options.exclude_row_of.subspan(static_cast<std::size_t>(q), 1);
    const TopK t = top_k(one, items, single);
    std::copy(t.items.begin(), t.items.end(), out.items.begin() + q * options.k);
    std::copy(t.scores.begin(), t.scores.end(), out.scores.begin() + q * options.k);
  }
  return out;
}

// ----- the companion file -----

void HnswIndex::save(const std::filesystem::path& path, const Matrix& items) const {
  if (items.rows() != static_cast<std::int64_t>(levels_.size()) || items.cols() != dim_) {
    throw Error(ErrorKind::InvalidArgument,
                fmt::format("hnsw save: the index was built for {} items of dimension {}, not {} "
                            "of dimension {}",
                            levels_.size(), dim_, items.rows(), items.cols()));
  }
  FileHeader h{};
  std::memcpy(h.magic, kMagic, sizeof kMagic);
  h.version = kFormatVersion;
  std::memcpy(h.type, kType, sizeof kType);
  h.rows = static_cast<std::uint64_t>(items.rows());
  h.dim = static_cast<std::uint64_t>(items.cols());
  h.items_hash = items_hash(items);
  h.m = static_cast<std::uint32_t>(params_.m);
  h.ef_construction = static_cast<std::uint32_t>(params_.ef_construction);
  h.ef_search = static_cast<std::uint32_t>(params_.ef_search);
  h.seed = params_.seed;
  h.entry = entry_;
  h.max_level = max_level_;
  h.level0_size = level0_.size();
  h.upper_size = upper_.size();

  AtomicOutput out(path);
  XXH64_state_t* state = XXH64_createState();
  if (state == nullptr) throw std::bad_alloc();
  const std::unique_ptr<XXH64_state_t, decltype(&XXH64_freeState)> owned(state, &XXH64_freeState);
  XXH64_reset(state, 0);
  const auto write = [&](const void* data, std::size_t bytes) {
    XXH64_update(state, data, bytes);
    if (bytes > 0 && std::fwrite(data, 1, bytes, out.file()) != bytes) {
      throw Error(ErrorKind::IO,
                  fmt::format("{}: write failed: {}", path.string(), std::strerror(errno)));
    }
  };
  write(&h, sizeof h);
  write(levels_.data(), levels_.size() * sizeof(std::int32_t));
  write(level0_.data(), level0_.size() * sizeof(std::int32_t));
  write(upper_.data(), upper_.size() * sizeof(std::int32_t));
  const std::uint64_t checksum = XXH64_digest(state);
  if (std::fwrite(&checksum, sizeof checksum, 1, out.file()) != 1) {
    throw Error(ErrorKind::IO,
                fmt::format("{}: write failed: {}", path.string(), std::strerror(errno)));
  }
  out.commit();
}

std::unique_ptr<HnswIndex> HnswIndex::load(const std::filesystem::path& path, const Matrix& items) {
  const detail::FileBytes file(path);
  const std::string_view bytes = file.bytes();
  const std::string name = path.string();
  const auto corrupt = [&](const std::string& why) {
    return Error(ErrorKind::Corruption, fmt::format("{}: not a valid latent index: {}", name, why));
  };
  FileHeader h{};
  if (bytes.size() < sizeof h + sizeof(std::uint64_t) ||
      std::memcmp(bytes.data(), kMagic, sizeof kMagic) != 0) {
    if (bytes.size() >= sizeof kMagic && std::memcmp(bytes.data(), kMagic, sizeof kMagic) == 0) {
      throw corrupt(fmt::format("truncated: {} bytes", bytes.size()));
    }
    throw corrupt("it does not start with a latent index header (build one with `latent index`)");
  }
  std::memcpy(&h, bytes.data(), sizeof h);
  if (h.version != kFormatVersion) {
    throw Error(ErrorKind::Unsupported,
                fmt::format("{}: index format version {}; this build reads version {} (rebuild the "
                            "index with this build's `latent index`)",
                            name, h.version, kFormatVersion));
  }
  if (std::memcmp(h.type, kType, sizeof kType) != 0) {
    throw Error(ErrorKind::Unsupported,
                fmt::format("{}: an index of type \"{}\"; this build reads hnsw", name,
                            std::string(h.type, strnlen(h.type, sizeof h.type))));
  }
  // Sizes before anything is read past the header, each against what the
  // file holds before any of them is multiplied or added (no overflow).
  const std::uint64_t ints =
      (bytes.size() - sizeof h - sizeof(std::uint64_t)) / sizeof(std::int32_t);
  const auto m = static_cast<std::uint64_t>(h.m);
  const bool sizes_fit =
      (bytes.size() - sizeof h - sizeof(std::uint64_t)) % sizeof(std::int32_t) == 0 && h.m >= 2 &&
      h.m <= 256 && h.rows <= ints && h.level0_size <= ints && h.upper_size <= ints &&
      h.level0_size == h.rows * (2 * m + 1) && h.rows + h.level0_size + h.upper_size == ints;
  if (!sizes_fit) {
    throw corrupt(
        fmt::format("its sizes do not add up ({} bytes for {} items)", bytes.size(), h.rows));
  }
  std::uint64_t stored = 0;
  std::memcpy(&stored, bytes.data() + bytes.size() - sizeof stored, sizeof stored);
  if (XXH64(bytes.data(), bytes.size() - sizeof stored, 0) != stored) {
    throw corrupt("checksum mismatch (the file is damaged)");
  }
  if (h.rows != static_cast<std::uint64_t>(items.rows()) ||
      h.dim != static_cast<std::uint64_t>(items.cols())) {
    throw Error(ErrorKind::InvalidArgument,
                fmt::format("{}: built for {} items of dimension {}, but the model has {} of "
                            "dimension {}: rebuild it with `latent index`",
                            name, h.rows, h.dim, items.rows(), items.cols()));
  }
  if (h.items_hash != items_hash(items)) {
    throw Error(ErrorKind::InvalidArgument,
                fmt::format("{}: built for other item vectors than this model's (the model was "
                            "retrained or replaced since): rebuild it with `latent index`",
                            name));
  }
  HnswParams params;
  params.m = static_cast<int>(h.m);
  params.ef_construction = static_cast<int>(h.ef_construction);
  params.ef_search = static_cast<int>(h.ef_search);
  params.seed = h.seed;
  try {
    check_hnsw_params(params);
  } catch (const Error& e) {
    throw corrupt(e.what());
  }

  Graph g;
  const auto rows = static_cast<std::int64_t>(h.rows);
  const char* p = bytes.data() + sizeof h;
  const auto take = [&](std::vector<std::int32_t>& v, std::uint64_t n) {
    v.resize(static_cast<std::size_t>(n));
    if (n > 0) std::memcpy(v.data(), p, n * sizeof(std::int32_t));  // data() may be null
    p += n * sizeof(std::int32_t);
  };
  take(g.levels, h.rows);
  take(g.level0, h.level0_size);
  take(g.upper, h.upper_size);
  g.entry = h.entry;
  g.max_level = h.max_level;

  // The graph is checked whole before any search walks it: every count
  // within its level's capacity, every link an item row, every level within
  // the top, the entry on the top level.
  std::uint64_t upper_needed = 0;
  for (std::int64_t r = 0; r < rows; ++r) {
    const std::int32_t level = g.levels[static_cast<std::size_t>(r)];
    if (level < 0 || level > h.max_level || (r == 0 && level != 0)) {
      throw corrupt(fmt::format("item row {} has level {} (top level {})", r, level, h.max_level));
    }
    upper_needed += static_cast<std::uint64_t>(level) * (m + 1);
  }
  if (upper_needed != h.upper_size)
    throw corrupt("its upper levels do not match the items' levels");
  if (rows > 1 ? (h.max_level < 0 || h.max_level > 64 || h.entry < 1 || h.entry >= rows ||
                  g.levels[static_cast<std::size_t>(h.entry)] != h.max_level)
               : (h.max_level != -1 || h.entry != 0)) {
    throw corrupt(
        fmt::format("entry item {} on level {} is not on the top level", h.entry, h.max_level));
  }
  const auto check_lists = [&](const std::vector<std::int32_t>& lists, std::int64_t capacity,
                               const char* where) {
    for (std::size_t at = 0; at < lists.size(); at += static_cast<std::size_t>(capacity + 1)) {
      const std::int32_t count = lists[at];
      if (count < 0 || count > capacity) {
        throw corrupt(fmt::format("a {} list holds {} links (at most {})", where, count, capacity));
      }
      for (std::int32_t j = 1; j <= count; ++j) {
        const std::int32_t row = lists[at + static_cast<std::size_t>(j)];
        if (row < 1 || row >= rows) {
          throw corrupt(
              fmt::format("a {} link points at item row {} (items 1..{})", where, row, rows - 1));
        }
      }
    }
  };
  check_lists(g.level0, 2 * params.m, "level-0");
  check_lists(g.upper, params.m, "upper-level");
  // An upper-level link must lead to an item on that level (the search
  // reads the target's list of the same level).
  std::size_t at = 0;
  for (std::int64_t r = 0; r < rows; ++r) {
    for (std::int32_t level = 1; level <= g.levels[static_cast<std::size_t>(r)]; ++level) {
      for (std::int32_t j = 1; j <= g.upper[at]; ++j) {
        const std::int32_t to = g.upper[at + static_cast<std::size_t>(j)];
        if (g.levels[static_cast<std::size_t>(to)] < level) {
          throw corrupt(
              fmt::format("item row {} links to item row {} on level {}, which that "
                          "item is not on",
                          r, to, level));
        }
      }
      at += static_cast<std::size_t>(params.m + 1);
    }
  }
  return std::unique_ptr<HnswIndex>(new HnswIndex(items, params, std::move(g)));
}

}  // namespace latent
