// `latent index`: builds a model's approximate index (HnswIndex) into its
// companion file, checks what it finds against the exact search on some of
// the model's users, and says so; or removes it. Also the one way the other
// commands load a model for queries, so that an index that cannot be used
// is said once, the same way.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <numeric>
#include <set>
#include <string>

#include <omp.h>

#include <fmt/format.h>

#include <latent/error.hpp>
#include <latent/progress_meter.hpp>
#include <latent/random.hpp>
#include <latent/recommender.hpp>

#include "commands.hpp"

namespace latent::cli {

Recommender load_for_queries(const std::filesystem::path& path) {
  Recommender model = Recommender::load(path);
  if (!model.index_problem().empty()) {
    fmt::print(stderr, "latent: warning: searching every item: the index is not used: {}\n",
               model.index_problem());
  }
  return model;
}

namespace {

struct IndexFlags {
  std::string model;
  std::string type = "hnsw";
  HnswParams params;
  bool remove = false;
  int check_users = 1000;
};

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Recall@10 of the index against the exact search for up to `count` of the
// model's users (seeded, distinct), seen items excluded as recommend does,
// and the time per user of each on one thread.
void check(const Recommender& model, const std::string& model_path, int count, std::uint64_t seed) {
  std::vector<std::int32_t> users = model.known_user_rows();
  if (users.empty() || count <= 0) return;
  Rng rng(seed);
  const auto n = std::min<std::size_t>(static_cast<std::size_t>(count), users.size());
  for (std::size_t i = 0; i < n; ++i) {
    std::swap(users[i], users[i + rng.below(users.size() - i)]);
  }
  users.resize(n);
  RecommendOptions options;
  options.k = 10;
  options.exclude_seen = true;
  options.threads = 1;
  auto t0 = std::chrono::steady_clock::now();
  const TopK approx = model.recommend(users, options);
  const double approx_s = seconds_since(t0);
  options.exact = true;
  t0 = std::chrono::steady_clock::now();
  const TopK exact = model.recommend(users, options);
  const double exact_s = seconds_since(t0);
  std::int64_t hits = 0, total = 0;
  for (std::size_t q = 0; q < n; ++q) {
    const auto row = [&](const TopK& t) {
      const auto first = t.items.begin() + static_cast<std::ptrdiff_t>(q) * t.k;
      std::set<std::int32_t> s(first, first + t.k);
      s.erase(-1);
      return s;
    };
    const auto truth = row(exact);
    for (const auto item : row(approx)) hits += static_cast<std::int64_t>(truth.count(item));
    total += static_cast<std::int64_t>(truth.size());
  }
  fmt::print(
      "recall@10 against the exact search on {} of the model's users: {:.3f} (ef {}); "
      "{:.3f} ms per user against {:.3f} ms exact, on one thread\n",
      n, total ? static_cast<double>(hits) / static_cast<double>(total) : 1.0,
      model.index()->params().ef_search, 1e3 * approx_s / static_cast<double>(n),
      1e3 * exact_s / static_cast<double>(n));
  if (approx_s >= exact_s) {
    fmt::print(
        "note: on this catalog the exact search is faster; an index pays on large ones "
        "(docs/big-catalogs.md), and latent index {} --remove goes back to it\n",
        model_path);
  }
}

void run(const IndexFlags& f) {
  // Both before the model is read.
  if (f.type != "hnsw") {
    throw Error(ErrorKind::InvalidArgument,
                fmt::format("--type {}: this build has one index type, hnsw (faiss's IVF-PQ and "
                            "others are not built in)",
                            f.type));
  }
  check_hnsw_params(f.params);
  const std::filesystem::path companion = index_path_for(f.model);
  if (f.remove) {
    load_model(f.model);  // a model path, not any file next to one
    std::error_code ec;
    if (std::filesystem::remove(companion, ec)) {
      fmt::print("removed {}: {} searches every item again\n", companion.string(), f.model);
    } else if (ec) {
      throw Error(ErrorKind::IO,
                  fmt::format("{}: cannot remove: {}", companion.string(), ec.message()));
    } else {
      fmt::print("{} has no index ({} does not exist)\n", f.model, companion.string());
    }
    return;
  }
  Recommender model = Recommender::load(f.model);
  ProgressMeter meter(stderr, "index", "items");
  const auto t0 = std::chrono::steady_clock::now();
  model.build_index(f.params,
                    [&](std::int64_t done, std::int64_t total) { meter.update(done, total); });
  const double build_s = seconds_since(t0);
  meter.finish();
  model.index()->save(companion, model.model().item_embeddings);
  const HnswIndex& index = *model.index();
  const int threads = f.params.threads > 0 ? f.params.threads : omp_get_max_threads();
  fmt::print(
      "hnsw index of {} items (m {}, ef_construction {}, ef {}) built in {:.2f} s on {} "
      "thread{}: {:.1f} MiB in memory (links and one-byte codes), written to {}\n",
      model.model().items.num_known(), index.params().m, index.params().ef_construction,
      index.params().ef_search, build_s, threads, threads == 1 ? "" : "s",
      index.bytes() / 1048576.0, companion.string());
  check(model, f.model, f.check_users, f.params.seed);
}

}  // namespace

void add_index(CLI::App& app) {
  auto f = std::make_shared<IndexFlags>();
  auto* cmd = app.add_subcommand(
      "index",
      "Build an approximate index of a model's items (MODEL.index, used by recommend, serve "
      "and Python when present), or remove it");
  cmd->add_option("model", f->model, "Model file")->required();
  cmd->add_option("--type", f->type, "Index type (this build: hnsw)")->capture_default_str();
  cmd->add_option("--m", f->params.m,
                  "Links per item (2x on the bottom level): more, better "
                  "recall and more memory")
      ->capture_default_str();
  cmd->add_option("--ef-construction", f->params.ef_construction,
                  "Candidates kept while linking each item: more, a better graph, slower build")
      ->capture_default_str();
  cmd->add_option("--ef", f->params.ef_search,
                  "Candidates kept per query by default (recommend --ef overrides it): more, "
                  "better recall, slower queries")
      ->capture_default_str();
  cmd->add_option("--seed", f->params.seed, "Seed of the graph's levels")->capture_default_str();
  cmd->add_option("--threads", f->params.threads,
                  "Build threads (0: all cores; with more than one the graph depends on timing)")
      ->capture_default_str();
  cmd->add_option("--check-users", f->check_users,
                  "Users to measure recall@10 on after building (0: none)")
      ->capture_default_str();
  cmd->add_flag("--remove", f->remove, "Remove the model's index instead");
  cmd->callback([f] { run(*f); });
}

}  // namespace latent::cli
