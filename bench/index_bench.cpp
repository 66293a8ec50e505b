// latent_bench_index: latent's approximate index (HnswIndex, issue 13)
// against its exact search on one catalog: recall@10, queries/s on one
// thread, build time, bytes per item. bench/index_bench.py runs it beside
// hnswlib and faiss (bench/index_peers.py) on the same vectors; alone:
//
//   cmake --build build --target latent_bench_index
//   build/bench/latent_bench_index --model MODEL.latent --queries 10000 --json out.json
//
// Items: a latent model's item vectors (row 0, the OOV row, is never a
// result) or --items X.npy (float32, n x d; a zero row 0 is put before them,
// so item i of the file is row i + 1). Queries: --queries random users of the
// model (their user vectors; seed --seed) or --query-vectors Q.npy.
//
// What it measures:
//   - the exact search (latent::top_k, one thread, all queries in one call,
//     as `recommend` ranks many users): queries/s, and the top-k every
//     recall is measured against; also --exact-single queries one call each
//     (what one request to `latent serve` costs without an index);
//   - HnswIndex::build with --m, --ef-construction on --build-threads;
//   - for each --ef, HnswIndex::search on one thread (SearchOptions.threads
//     1, exclude_items {0}, k --k): recall@k against the exact top-k
//     (the mean over queries of the share of the exact top-k found) and
//     queries/s;
//   - every search of all the queries in one call (exact and HNSW, filtered
//     or not) timed as the fastest of --passes passes (5; fewer once 5 s
//     have gone on them);
//   - filtered (with --model, unless --no-filtered): the same with each
//     query excluding its user's seen items (the model's seen CSR), against
//     the exact search with the same exclusion;
//   - with --norm-bound-ab, for each --ef: HnswIndex::search against
//     search_every_link (the walk without the norm bound), --passes passes
//     of each in turn, each keeping its fastest, and whether their results
//     are the same (they must be);
//   - bytes per item: the graph (HnswIndex::bytes() / items) and the raw
//     float vectors (d x 4), which the model holds and the index reads.
//
// --index-file F loads the graph from F when it exists (its build time is
// then not measured: null in the JSON), else builds it and saves it there:
// for trying search changes without rebuilding a million-item graph.
//
// --export DIR writes what the peers need: items.npy (rows 1.. of the item
// vectors, so file row i is latent row i + 1), queries.npy and truth.npy
// (int32, queries x k: the exact top-k as latent rows, no exclusion but row 0).
//
// Not a test: it is built with the benchmarks and runs only when invoked.

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <latent/error.hpp>
#include <latent/hnsw_index.hpp>
#include <latent/index.hpp>
#include <latent/model_file.hpp>
#include <latent/npy.hpp>
#include <latent/system_info.hpp>
#include <latent/vector_index.hpp>

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

double peak_rss_mb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;
}

// numpy's .npy, version 1.0, little-endian int32, C order (latent's own
// writer is float32 only).
void write_npy_int32(const std::string& path, const std::vector<std::int32_t>& v, std::int64_t rows,
                     std::int64_t cols) {
  std::string header =
      fmt::format("{{'descr': '<i4', 'fortran_order': False, 'shape': ({}, {}), }}", rows, cols);
  // magic (6) + version (2) + length (2) + header + '\n', to a multiple of 64
  const std::size_t total = (10 + header.size() + 1 + 63) / 64 * 64;
  header.append(total - 10 - header.size() - 1, ' ');
  header += '\n';
  std::ofstream out(path, std::ios::binary);
  const char magic[8] = {'\x93', 'N', 'U', 'M', 'P', 'Y', 1, 0};
  out.write(magic, 8);
  const auto len = static_cast<std::uint16_t>(header.size());
  const char len_bytes[2] = {static_cast<char>(len & 0xff), static_cast<char>(len >> 8)};
  out.write(len_bytes, 2);
  out.write(header.data(), static_cast<std::streamsize>(header.size()));
  out.write(reinterpret_cast<const char*>(v.data()),
            static_cast<std::streamsize>(v.size() * sizeof(std::int32_t)));
  if (!out) throw std::runtime_error("cannot write " + path);
}

// The mean over queries of |approx top-k ∩ exact top-k| / |exact top-k|
// (queries whose exact top-k is empty are left out).
double recall_at_k(const latent::TopK& exact, const latent::TopK& approx) {
  double sum = 0;
  std::int64_t counted = 0;
  for (std::int64_t q = 0; q < exact.queries; ++q) {
    const auto* e = exact.items.data() + q * exact.k;
    const auto* a = approx.items.data() + q * approx.k;
    std::int64_t want = 0, found = 0;
    for (std::int32_t i = 0; i < exact.k; ++i) {
      if (e[i] < 0) continue;
      ++want;
      if (std::find(a, a + approx.k, e[i]) != a + approx.k) ++found;
    }
    if (want == 0) continue;
    sum += static_cast<double>(found) / static_cast<double>(want);
    ++counted;
  }
  return counted > 0 ? sum / static_cast<double>(counted) : 1.0;
}

std::vector<int> parse_list(const std::string& text) {
  std::vector<int> out;
  std::size_t at = 0;
  while (at <= text.size()) {
    const std::size_t comma = std::min(text.find(',', at), text.size());
    out.push_back(std::stoi(text.substr(at, comma - at)));
    at = comma + 1;
  }
  return out;
}

struct Options {
  std::string model;
  std::string items_npy;
  std::string queries_npy;
  std::int64_t queries = 10000;
  std::uint64_t seed = 1;
  int m = 16;
  int ef_construction = 200;
  int build_threads = 2;
  std::string ef = "10,20,40,80,160,320";
  int passes = 5;
  int k = 10;
  bool no_filtered = false;
  std::int64_t exact_single = 100;
  int hnsw_single_ef = 0;
  std::int64_t hnsw_single = 1000;
  std::string export_dir;
  std::string index_file;
  std::string json;
  bool norm_bound_ab = false;
};

struct Timed {
  latent::TopK top;
  double seconds = 0;
};

// The fastest of up to `passes` passes over the queries, stopping early once
// kPassBudget seconds have gone on passes: a pass of 10,000 queries at
// 100,000 queries/s lasts 0.1 s, and on a shared machine one such pass
// varied by 30% from the next (docs/benchmarks.md). bench/index_peers.py
// times the peers the same way.
constexpr double kPassBudget = 5.0;
Timed timed_search(const latent::VectorIndex& index, const latent::Matrix& items,
                   const latent::Matrix& queries, const latent::SearchOptions& options,
                   int passes = 1) {
  Timed t;
  double spent = 0;
  for (int pass = 0; pass < passes && (pass == 0 || spent < kPassBudget); ++pass) {
    const auto t0 = Clock::now();
    latent::TopK top = index.search(items, queries, options);
    const double seconds = seconds_since(t0);
    spent += seconds;
    if (pass == 0 || seconds < t.seconds) t.seconds = seconds;
    if (pass == 0) t.top = std::move(top);
  }
  return t;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"latent's approximate index against its exact search: recall, speed, memory"};
  app.add_option("--model", o.model, "A latent model file: its item and user vectors, seen items");
  app.add_option("--items", o.items_npy, "Item vectors as float32 .npy (instead of --model)");
  app.add_option("--query-vectors", o.queries_npy,
                 "Query vectors as float32 .npy (instead of the model's users)");
  app.add_option("--queries", o.queries, "Random users of the model to query")
      ->capture_default_str();
  app.add_option("--seed", o.seed, "Seed of the query users")->capture_default_str();
  app.add_option("--m", o.m, "HNSW links per item (2m on level 0)")->capture_default_str();
  app.add_option("--ef-construction", o.ef_construction, "HNSW build effort")
      ->capture_default_str();
  app.add_option("--build-threads", o.build_threads, "Threads building the graph")
      ->capture_default_str();
  app.add_option("--ef", o.ef, "Search efforts to measure, comma-separated")->capture_default_str();
  app.add_option("--passes", o.passes,
                 "Time each search as the fastest of this many passes over the queries "
                 "(fewer once 5 s have gone on them)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--k", o.k, "Results per query")->capture_default_str();
  app.add_flag("--no-filtered", o.no_filtered, "Skip the case excluding each user's seen items");
  app.add_option("--exact-single", o.exact_single,
                 "Queries searched exactly one call each (0: skip)")
      ->capture_default_str();
  app.add_option("--hnsw-single-ef", o.hnsw_single_ef,
                 "Also search --hnsw-single queries one call each at this ef (0: skip): what "
                 "one request costs")
      ->capture_default_str();
  app.add_option("--hnsw-single", o.hnsw_single, "Queries for --hnsw-single-ef")
      ->capture_default_str();
  app.add_option("--index-file", o.index_file,
                 "Load the graph from this file when it exists, else build and save it there");
  app.add_option("--export", o.export_dir, "Write items.npy, queries.npy, truth.npy here");
  app.add_option("--json", o.json, "Also write the figures as JSON to this file");
  app.add_flag("--norm-bound-ab", o.norm_bound_ab,
               "For each --ef, also time the search against the same walk scoring every link "
               "(HnswIndex::search_every_link), their passes in turn, and check their results "
               "are the same");
  CLI11_PARSE(app, argc, argv);

  try {
    if (o.model.empty() == o.items_npy.empty()) {
      throw std::invalid_argument("give either --model or --items");
    }
    if (!o.items_npy.empty() && o.queries_npy.empty()) {
      throw std::invalid_argument("--items needs --query-vectors");
    }
    const std::vector<int> efs = parse_list(o.ef);
    const latent::SystemInfo sys = latent::system_info();

    // The catalog and the queries.
    latent::ModelData model;
    latent::Matrix items;
    latent::Matrix queries;
    std::vector<std::int32_t> query_users;  // model user rows, when queries are users
    auto t0 = Clock::now();
    if (!o.model.empty()) {
      model = latent::load_model(o.model);
      items = std::move(model.item_embeddings);
    } else {
      const latent::Matrix raw = latent::read_npy(o.items_npy);
      items = latent::Matrix(raw.rows() + 1, raw.cols());
      std::copy(raw.data(), raw.data() + raw.size(), items.data() + raw.cols());
    }
    const std::int64_t dim = items.cols();
    if (!o.queries_npy.empty()) {
      queries = latent::read_npy(o.queries_npy);
    } else {
      const std::int64_t users = model.user_embeddings.rows();
      std::vector<std::int32_t> all(static_cast<std::size_t>(std::max<std::int64_t>(users - 1, 0)));
      std::iota(all.begin(), all.end(), 1);  // row 0 is the OOV user
      std::mt19937_64 rng(o.seed);
      const auto n = std::min<std::int64_t>(o.queries, static_cast<std::int64_t>(all.size()));
      for (std::int64_t i = 0; i < n; ++i) {  // a partial Fisher-Yates shuffle
        std::uniform_int_distribution<std::int64_t> pick(i,
                                                         static_cast<std::int64_t>(all.size()) - 1);
        std::swap(all[static_cast<std::size_t>(i)], all[static_cast<std::size_t>(pick(rng))]);
      }
      query_users.assign(all.begin(), all.begin() + n);
      queries = latent::Matrix(n, dim);
      for (std::int64_t q = 0; q < n; ++q) {
        const auto row = model.user_embeddings.row(query_users[static_cast<std::size_t>(q)]);
        std::copy(row.begin(), row.end(), queries.row(q).begin());
      }
    }
    const std::int64_t n_items = items.rows() - 1;
    const std::int64_t n_queries = queries.rows();
    fmt::print(stderr, "loaded {} items x {} and {} queries in {:.1f} s\n", n_items, dim, n_queries,
               seconds_since(t0));

    const std::vector<std::int32_t> exclude0{0};
    latent::SearchOptions base;
    base.k = o.k;
    base.threads = 1;
    base.exclude_items = exclude0;
    const bool filtered = !o.no_filtered && !query_users.empty() && model.seen.nnz() > 0;
    latent::SearchOptions seen_options = base;
    if (filtered) {
      seen_options.exclude_rows = &model.seen;
      seen_options.exclude_row_of = query_users;
    }

    // The exact search: the reference and the baseline.
    const latent::ExactIndex exact_index;
    fmt::print(stderr, "exact search, 1 thread...\n");
    const Timed exact = timed_search(exact_index, items, queries, base, o.passes);
    Timed exact_seen;
    if (filtered) exact_seen = timed_search(exact_index, items, queries, seen_options, o.passes);
    double single_seconds = 0;
    const std::int64_t singles = std::min(o.exact_single, n_queries);
    if (singles > 0) {
      for (std::int64_t q = 0; q < singles; ++q) {
        const latent::Matrix one(1, dim,
                                 std::vector<float>(queries.row(q).begin(), queries.row(q).end()));
        single_seconds += timed_search(exact_index, items, one, base).seconds;
      }
    }

    if (!o.export_dir.empty()) {
      latent::NpyWriter writer(o.export_dir + "/items.npy", n_items, dim);
      writer.write_rows(items.values().subspan(static_cast<std::size_t>(dim)));
      writer.finish();
      latent::write_npy(o.export_dir + "/queries.npy", queries);
      write_npy_int32(o.export_dir + "/truth.npy", exact.top.items, n_queries, o.k);
    }

    // The graph.
    latent::HnswParams params;
    params.m = o.m;
    params.ef_construction = o.ef_construction;
    params.threads = o.build_threads;
    fmt::print(stderr, "building the graph (m {}, ef_construction {}, {} threads)...\n", o.m,
               o.ef_construction, o.build_threads);
    t0 = Clock::now();
    const bool reuse = !o.index_file.empty() && std::filesystem::exists(o.index_file);
    const auto index = reuse ? latent::HnswIndex::load(o.index_file, items)
                             : latent::HnswIndex::build(items, params);
    const double build_seconds = reuse ? std::nan("") : seconds_since(t0);
    if (!reuse && !o.index_file.empty()) index->save(o.index_file, items);
    const double graph_per_item =
        static_cast<double>(index->bytes()) / static_cast<double>(n_items);
    const double vectors_per_item = static_cast<double>(dim) * sizeof(float);

    struct Row {
      int ef;
      double recall, seconds;
    };
    std::vector<Row> rows, seen_rows;
    for (const int ef : efs) {
      latent::SearchOptions options = base;
      options.ef = ef;
      if (o.norm_bound_ab) {
        // Passes of the two walks in turn, each keeping its fastest: the
        // machine's drift, which moves separate runs by a third, hits both.
        double best[2] = {0, 0};
        bool same = true;
        latent::TopK first;
        for (int pass = 0; pass < 2 * o.passes; ++pass) {
          const bool every = pass % 2 == 1;
          const auto start = Clock::now();
          latent::TopK top = every ? index->search_every_link(items, queries, options)
                                   : index->search(items, queries, options);
          const double seconds = seconds_since(start);
          if (pass < 2 || seconds < best[pass % 2]) best[pass % 2] = seconds;
          if (pass == 0) first = std::move(top);
          if (pass == 1) same = top.items == first.items && top.scores == first.scores;
        }
        fmt::print(
            "norm bound, ef {}: {:.0f} queries/s, every link scored {:.0f}: {:.2f}x, "
            "{} results\n",
            ef, static_cast<double>(n_queries) / best[0], static_cast<double>(n_queries) / best[1],
            best[1] / best[0], same ? "the same" : "DIFFERENT");
      }
      const Timed t = timed_search(*index, items, queries, options, o.passes);
      rows.push_back({ef, recall_at_k(exact.top, t.top), t.seconds});
      fmt::print(stderr, "  ef {}: recall {:.4f}, {:.0f} queries/s\n", ef, rows.back().recall,
                 static_cast<double>(n_queries) / t.seconds);
      if (filtered) {
        options = seen_options;
        options.ef = ef;
        const Timed f = timed_search(*index, items, queries, options, o.passes);
        seen_rows.push_back({ef, recall_at_k(exact_seen.top, f.top), f.seconds});
      }
    }

    // One query per call, as a server answers one request: the per-call
    // costs (the search's scratch state) are paid by every query.
    const std::int64_t hnsw_singles = o.hnsw_single_ef > 0 ? std::min(o.hnsw_single, n_queries) : 0;
    double hnsw_single_seconds = 0, hnsw_single_recall = 0;
    if (hnsw_singles > 0) {
      latent::TopK found;
      found.queries = hnsw_singles;
      found.k = o.k;
      latent::TopK wanted = found;
      latent::SearchOptions options = base;
      options.ef = o.hnsw_single_ef;
      for (std::int64_t q = 0; q < hnsw_singles; ++q) {
        const latent::Matrix one(1, dim,
                                 std::vector<float>(queries.row(q).begin(), queries.row(q).end()));
        const Timed t = timed_search(*index, items, one, options);
        hnsw_single_seconds += t.seconds;
        found.items.insert(found.items.end(), t.top.items.begin(), t.top.items.end());
        wanted.items.insert(wanted.items.end(), exact.top.items.begin() + q * o.k,
                            exact.top.items.begin() + (q + 1) * o.k);
      }
      hnsw_single_recall = recall_at_k(wanted, found);
    }

    // The table.
    const auto qps = [&](double seconds) { return static_cast<double>(n_queries) / seconds; };
    fmt::print("cpu: {}; {}\n", sys.cpu, sys.summary());
    fmt::print(
        "{} items x {}, {} queries, k {}; search on 1 thread, the fastest of {} passes; graph "
        "built on {} threads\n",
        n_items, dim, n_queries, o.k, o.passes, o.build_threads);
    fmt::print("{:<44}{:>10}{:>12}{:>10}{:>14}{:>12}\n", "setting", "recall", "queries/s",
               "build s", "bytes/item", "x exact");
    const double exact_qps = qps(exact.seconds);
    fmt::print("{:<44}{:>10.4f}{:>12.0f}{:>10}{:>14.0f}{:>11.2f}x\n",
               "exact (top_k, all queries in one call)", 1.0, exact_qps, "-", vectors_per_item,
               1.0);
    if (singles > 0) {
      const double s_qps = static_cast<double>(singles) / single_seconds;
      fmt::print("{:<44}{:>10.4f}{:>12.1f}{:>10}{:>14.0f}{:>11.3f}x\n",
                 fmt::format("exact, one query per call ({} queries)", singles), 1.0, s_qps, "-",
                 vectors_per_item, s_qps / exact_qps);
    }
    for (const Row& r : rows) {
      fmt::print("{:<44}{:>10.4f}{:>12.0f}{:>10.1f}{:>14.0f}{:>11.2f}x\n",
                 fmt::format("latent hnsw m {} efc {} ef {}", o.m, o.ef_construction, r.ef),
                 r.recall, qps(r.seconds), build_seconds, graph_per_item + vectors_per_item,
                 qps(r.seconds) / exact_qps);
    }
    if (hnsw_singles > 0) {
      const double s_qps = static_cast<double>(hnsw_singles) / hnsw_single_seconds;
      fmt::print(
          "{:<44}{:>10.4f}{:>12.0f}{:>10.1f}{:>14.0f}{:>11.2f}x\n",
          fmt::format("latent hnsw ef {}, one query per call ({})", o.hnsw_single_ef, hnsw_singles),
          hnsw_single_recall, s_qps, build_seconds, graph_per_item + vectors_per_item,
          s_qps / exact_qps);
    }
    if (filtered) {
      fmt::print("seen items excluded (mean {:.1f} per query user):\n", [&] {
        double total = 0;
        for (const auto u : query_users) total += model.seen.row(u).size();
        return total / static_cast<double>(query_users.size());
      }());
      const double exact_seen_qps = qps(exact_seen.seconds);
      fmt::print("{:<44}{:>10.4f}{:>12.0f}{:>10}{:>14.0f}{:>11.2f}x\n", "exact, seen excluded", 1.0,
                 exact_seen_qps, "-", vectors_per_item, 1.0);
      for (const Row& r : seen_rows) {
        fmt::print("{:<44}{:>10.4f}{:>12.0f}{:>10.1f}{:>14.0f}{:>11.2f}x\n",
                   fmt::format("latent hnsw ef {}, seen excluded", r.ef), r.recall, qps(r.seconds),
                   build_seconds, graph_per_item + vectors_per_item,
                   qps(r.seconds) / exact_seen_qps);
      }
    }
    fmt::print("bytes/item: graph {:.1f} + vectors {:.0f}; peak RSS {:.0f} MiB\n", graph_per_item,
               vectors_per_item, peak_rss_mb());

    if (!o.json.empty()) {
      const auto rows_json = [&](const std::vector<Row>& v) {
        nlohmann::json a = nlohmann::json::array();
        for (const Row& r : v) {
          a.push_back({{"ef", r.ef},
                       {"recall", r.recall},
                       {"seconds", r.seconds},
                       {"queries_per_second", qps(r.seconds)}});
        }
        return a;
      };
      nlohmann::json j = {
          {"items", n_items},
          {"dim", dim},
          {"queries", n_queries},
          {"k", o.k},
          {"m", o.m},
          {"ef_construction", o.ef_construction},
          {"build_threads", o.build_threads},
          {"passes", o.passes},
          {"build_seconds", build_seconds},
          {"graph_bytes", index->bytes()},
          {"graph_bytes_per_item", graph_per_item},
          {"vector_bytes_per_item", vectors_per_item},
          {"exact", {{"seconds", exact.seconds}, {"queries_per_second", exact_qps}}},
          {"exact_single",
           {{"queries", singles},
            {"seconds", single_seconds},
            {"queries_per_second",
             singles > 0 ? static_cast<double>(singles) / single_seconds : 0.0}}},
          {"hnsw", rows_json(rows)},
          {"hnsw_single",
           {{"ef", o.hnsw_single_ef},
            {"queries", hnsw_singles},
            {"recall", hnsw_single_recall},
            {"seconds", hnsw_single_seconds},
            {"queries_per_second",
             hnsw_singles > 0 ? static_cast<double>(hnsw_singles) / hnsw_single_seconds : 0.0}}},
          {"peak_rss_mb", peak_rss_mb()},
          {"system", sys.to_json()},
      };
      if (filtered) {
        j["exact_seen"] = {{"seconds", exact_seen.seconds},
                           {"queries_per_second", qps(exact_seen.seconds)}};
        j["hnsw_seen"] = rows_json(seen_rows);
      }
      std::ofstream(o.json) << j.dump(2) << "\n";
    }
  } catch (const std::exception& e) {
    fmt::print(stderr, "latent_bench_index: {}\n", e.what());
    return 1;
  }
  return 0;
}
