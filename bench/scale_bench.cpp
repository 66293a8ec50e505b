// latent_bench_scale: training and serving speed and peak memory at the
// MovieLens-20M scale, on synthetic data of that shape (138,000 users,
// 26,000 items, 10 million distinct pairs, Zipf item popularity, lognormal
// user activity; latent::synthesize with its defaults and seed 42).
//
// bench/scale_bench.py runs it beside the `implicit` library on the same
// data in one run, and once more on the BLAS kernels OpenBLAS picks by
// itself (before latent chose them by the CPU's features). Alone, from the
// repository root, on a quiet machine (check `uptime`):
//
//   cmake --build build --target latent_bench_scale
//   build/bench/latent_bench_scale --threads 2 --json scale.json
//
// A quick smaller run: add `--users 13800 --items 2600 --pairs 1000000`.
//
// What it measures, with 64 factors and --threads threads:
//   - ALS (conjugate gradient, 3 steps): seconds per iteration, the median
//     of the iterations of a 5-iteration train_als run;
//   - BPR: seconds per epoch, the median over a 3-epoch train_bpr run;
//   - top-10 for 10,000 random users with their seen items excluded: the
//     median of 5 latent::top_k calls (queries: those users' ALS factors;
//     items: the ALS item factors; the seen-items CSR is built once, outside
//     the timing, as implicit takes it as an input);
//   - the process's peak RSS (getrusage ru_maxrss) after all of it.
//
// "memory by phase" prints the process peak after each phase, so the phase
// that set the peak is the one where it rose. Measured (Debian 12, 2 cores):
// ALS sets it, at 266 MiB: the 76 MiB Interactions the caller holds, both
// SparseRows sides (38 MiB each: all r are 1, so only the columns are
// kept), the factors (40 MiB) and the CG scratch, which gathers a whole
// row's factor vectors per thread (the most popular item has ~127,000
// users: 2 x 31 MiB). BPR stays below it by sampling positives from the
// caller's arrays instead of a 40 MB user-per-pair array of its own (with
// that array it set the peak, at 271.8 MiB).
//
// Not a test: it is built with the benchmarks and runs only when invoked.

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <numeric>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <latent/als.hpp>
#include <latent/bpr.hpp>
#include <latent/error.hpp>
#include <latent/index.hpp>
#include <latent/interactions.hpp>
#include <latent/openmp_wait.hpp>
#include <latent/random.hpp>
#include <latent/synth.hpp>
#include <latent/system_info.hpp>

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// Peak resident set size so far, in MiB (ru_maxrss is in KiB on Linux).
double peak_rss_mb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;
}

// Current resident set size in MiB, from /proc/self/statm.
double current_rss_mb() {
  std::ifstream statm("/proc/self/statm");
  long pages = 0;
  long resident = 0;
  statm >> pages >> resident;
  return static_cast<double>(resident) * static_cast<double>(sysconf(_SC_PAGESIZE)) /
         (1024.0 * 1024.0);
}

double load_average() {
  std::ifstream in("/proc/loadavg");
  double one = 0;
  in >> one;
  return one;
}

struct Options {
  latent::SynthConfig data;
  int threads = 2;
  int dim = 64;
  int als_iterations = 5;
  int bpr_epochs = 3;
  int queries = 10'000;
  int top_k_runs = 5;
  std::string json;
};

struct Phase {
  std::string name;
  double seconds;
  double peak_mb;     // process peak after the phase
  double current_mb;  // resident after the phase
};

}  // namespace

int main(int argc, char** argv) {
  latent::wait_for_work_passively(argv);  // as the CLI does
  Options o;
  o.data.seed = 42;
  CLI::App app{
      "latent scale benchmark: ALS, BPR and top-10 on MovieLens-20M-shaped synthetic data"};
  app.add_option("--threads", o.threads, "Threads for training and search")->capture_default_str();
  app.add_option("--users", o.data.users, "Synthetic users")->capture_default_str();
  app.add_option("--items", o.data.items, "Synthetic items")->capture_default_str();
  app.add_option("--pairs", o.data.pairs, "Synthetic distinct pairs")->capture_default_str();
  app.add_option("--seed", o.data.seed, "Seed of the data, the factors and the query users")
      ->capture_default_str();
  app.add_option("--dim", o.dim, "Latent factors")->capture_default_str();
  app.add_option("--als-iterations", o.als_iterations, "ALS iterations")->capture_default_str();
  app.add_option("--bpr-epochs", o.bpr_epochs, "BPR epochs")->capture_default_str();
  app.add_option("--queries", o.queries, "Users to recommend for")->capture_default_str();
  app.add_option("--top-k-runs", o.top_k_runs, "Repetitions of the top-10 search")
      ->capture_default_str();
  app.add_option("--json", o.json, "Also write the figures as JSON to this file");
  CLI11_PARSE(app, argc, argv);

  try {
    std::vector<Phase> phases;
    const auto phase_done = [&](const std::string& name, double seconds) {
      phases.push_back({name, seconds, peak_rss_mb(), current_rss_mb()});
    };

    const double load = load_average();
    fmt::print(
        "latent scale benchmark: {} users, {} items, {} pairs, zipf {}, activity sigma {}, "
        "seed {}; dim {}, {} threads\n",
        o.data.users, o.data.items, o.data.pairs, o.data.zipf, o.data.activity_sigma, o.data.seed,
        o.dim, o.threads);
    const latent::SystemInfo sys = latent::system_info();
    fmt::print("cpu: {}; {}\n", sys.cpu, sys.summary());
    for (const auto& w : sys.warnings) fmt::print("warning: {}\n", w);
    if (load > 1.0) {
      fmt::print(
          "warning: 1-minute load average {:.2f}: other processes share the CPU, "
          "timings will be slow\n",
          load);
    }
    std::fflush(stdout);

    auto t0 = Clock::now();
    latent::Interactions data = latent::synthesize(o.data);
    phase_done("synthesize", seconds_since(t0));
    fmt::print("synthesize: {:.2f} s\n", phases.back().seconds);
    std::fflush(stdout);

    latent::AlsConfig als;
    als.dim = o.dim;
    als.epochs = o.als_iterations;
    als.solver = latent::AlsSolver::ConjugateGradient;
    als.seed = o.data.seed;
    als.threads = o.threads;
    t0 = Clock::now();
    latent::AlsResult als_result = latent::train_als(data, als);
    phase_done("als", seconds_since(t0));
    const double als_s = median(als_result.seconds);
    fmt::print("ALS: {} iterations in {:.2f} s\n", als_result.seconds.size(),
               phases.back().seconds);
    std::fflush(stdout);

    // The query users: distinct, uniformly random rows 1..users.
    const std::int64_t n_queries = std::min<std::int64_t>(o.queries, o.data.users);
    std::vector<std::int32_t> all_users(static_cast<std::size_t>(o.data.users));
    std::iota(all_users.begin(), all_users.end(), std::int32_t{1});
    latent::Rng rng(o.data.seed);
    for (std::int64_t q = 0; q < n_queries; ++q) {
      const auto pick =
          q + static_cast<std::int64_t>(rng.below(static_cast<std::uint64_t>(o.data.users - q)));
      std::swap(all_users[static_cast<std::size_t>(q)], all_users[static_cast<std::size_t>(pick)]);
    }
    const std::vector<std::int32_t> query_users(all_users.begin(), all_users.begin() + n_queries);
    std::vector<std::int32_t>().swap(all_users);
    latent::Matrix queries(n_queries, o.dim);
    for (std::int64_t q = 0; q < n_queries; ++q) {
      const auto src = als_result.user_factors.row(query_users[static_cast<std::size_t>(q)]);
      std::copy(src.begin(), src.end(), queries.row(q).begin());
    }
    // Only the query users' rows are needed from here on: a service keeps
    // what it serves, and BPR should not train beside 34 MB of dead weight.
    als_result.user_factors = latent::Matrix();

    latent::BprConfig bpr;
    bpr.dim = o.dim;
    bpr.epochs = o.bpr_epochs;
    bpr.seed = o.data.seed;
    bpr.threads = o.threads;
    t0 = Clock::now();
    double bpr_s = 0;
    double bpr_accuracy = 0;
    {
      const latent::BprResult bpr_result = latent::train_bpr(data, bpr);
      bpr_s = median(bpr_result.seconds);
      bpr_accuracy = bpr_result.accuracy.empty() ? 0 : bpr_result.accuracy.back();
    }
    phase_done("bpr", seconds_since(t0));
    fmt::print("BPR: {} epochs in {:.2f} s\n", o.bpr_epochs, phases.back().seconds);
    std::fflush(stdout);

    t0 = Clock::now();
    const latent::CsrMatrix seen = latent::CsrMatrix::from_interactions(data);
    const std::vector<std::int32_t> oov{0};
    latent::SearchOptions search;
    search.k = 10;
    search.exclude_items = oov;
    search.exclude_rows = &seen;
    search.exclude_row_of = query_users;
    search.threads = o.threads;
    phase_done("top-10 setup (seen-items CSR)", seconds_since(t0));

    std::vector<double> top_k_seconds;
    std::int64_t returned = 0;
    for (int run = 0; run < o.top_k_runs; ++run) {
      t0 = Clock::now();
      const latent::TopK top = latent::top_k(queries, als_result.item_factors, search);
      top_k_seconds.push_back(seconds_since(t0));
      returned = static_cast<std::int64_t>(
          std::count_if(top.items.begin(), top.items.end(), [](std::int32_t i) { return i > 0; }));
    }
    phase_done("top-10", std::accumulate(top_k_seconds.begin(), top_k_seconds.end(), 0.0));
    const double top_s = median(top_k_seconds);
    const double peak_mb = peak_rss_mb();

    fmt::print("\nmemory by phase (MiB; the peak only rises in the phase that set it):\n");
    for (const auto& p : phases) {
      fmt::print("  {:<40} {:7.2f} s   peak {:7.1f}   resident after {:7.1f}\n", p.name, p.seconds,
                 p.peak_mb, p.current_mb);
    }

    fmt::print("\nALS (CG) per iteration                  {:8.3f} s\n", als_s);
    fmt::print("BPR per epoch                           {:8.3f} s\n", bpr_s);
    fmt::print("top-10 for {} users, seen excluded  {:8.3f} s\n", n_queries, top_s);
    fmt::print("peak memory (ru_maxrss)                 {:8.1f} MiB\n", peak_mb);
    fmt::print("\nBPR training accuracy after epoch {}: {:.3f}; top-10 lists filled: {} of {}\n",
               o.bpr_epochs, bpr_accuracy, returned, n_queries * 10);

    if (!o.json.empty()) {
      nlohmann::json j;
      j["data"] = {{"users", o.data.users},
                   {"items", o.data.items},
                   {"pairs", o.data.pairs},
                   {"zipf", o.data.zipf},
                   {"activity_sigma", o.data.activity_sigma},
                   {"seed", o.data.seed}};
      j["dim"] = o.dim;
      j["threads"] = o.threads;
      j["load_average_at_start"] = load;
      j["als_seconds_per_iteration"] = als_result.seconds;
      j["bpr_seconds_per_epoch_median"] = bpr_s;
      j["top10_seconds"] = top_k_seconds;
      j["peak_rss_mb"] = peak_mb;
      j["als_seconds_per_iteration_median"] = als_s;
      j["top10_seconds_median"] = top_s;
      j["system"] = sys.to_json();
      nlohmann::json by_phase = nlohmann::json::array();
      for (const auto& p : phases) {
        by_phase.push_back({{"phase", p.name},
                            {"seconds", p.seconds},
                            {"peak_mb", p.peak_mb},
                            {"resident_mb", p.current_mb}});
      }
      j["phases"] = by_phase;
      std::ofstream out(o.json);
      out << j.dump(2) << "\n";
      if (!out) throw latent::Error(latent::ErrorKind::IO, o.json + ": cannot write");
    }
  } catch (const latent::Error& e) {
    fmt::print(stderr, "latent_bench_scale: error: {}\n", e.what());
    return 1;
  }
  return 0;
}
