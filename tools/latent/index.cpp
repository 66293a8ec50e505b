// `latent index`: builds a model's approximate index (HnswIndex) into its
// companion file, checks what it finds against the exact search on some of
// the model's users, and says so; or removes it. Also the one way the other
// commands load a model for queries, so that an index that cannot be used
// is said once, the same way.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <memory>
#include <numeric>
#include <set>
#include <string>
#include <string_view>

#include <omp.h>

#include <fmt/format.h>

#include <latent/error.hpp>
#include <latent/model_spec.hpp>
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
  if (!model.similar_index_problem().empty()) {
    fmt::print(stderr,
               "latent: warning: similar items search every item: their index is not used: {}\n",
               model.similar_index_problem());
  }
  return model;
}

namespace {

struct IndexFlags {
  std::string model;
  std::string type = "hnsw";
  HnswParams params;
  bool remove = false;
  bool similar = true;
  int check_users = 1000;
};

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// `count` distinct rows of `rows`, seeded.
std::vector<std::int32_t> sample(std::vector<std::int32_t> rows, int count, std::uint64_t seed) {
  Rng rng(seed);
  const auto n = std::min<std::size_t>(static_cast<std::size_t>(std::max(count, 0)), rows.size());
  for (std::size_t i = 0; i < n; ++i) std::swap(rows[i], rows[i + rng.below(rows.size() - i)]);
  rows.resize(n);
  return rows;
}

// Recall@10 of an index's answers against the exact search's for `n`
// queries (search(exact) answers them all, n x 10), and the time of each on
// one thread, said in a line about `what`. Whether the exact search was the
// faster.
bool check(std::size_t n, std::string_view what, int ef,
           const std::function<TopK(bool exact)>& search) {
  if (n == 0) return false;
  auto t0 = std::chrono::steady_clock::now();
  const TopK approx = search(false);
  const double approx_s = seconds_since(t0);
  t0 = std::chrono::steady_clock::now();
  const TopK exact = search(true);
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
      "{}: recall@10 against the exact search on {} of the model's {}s: {:.3f} (ef {}); "
      "{:.3f} ms per {} against {:.3f} ms exact, on one thread\n",
      what, n, what == "similar" ? "item" : "user",
      total ? static_cast<double>(hits) / static_cast<double>(total) : 1.0, ef,
      1e3 * approx_s / static_cast<double>(n), what == "similar" ? "item" : "user",
      1e3 * exact_s / static_cast<double>(n));
  return approx_s >= exact_s;
}

// The k-10 lists of the index and of the exact search, seen items excluded
// as recommend does, for up to `count` of the model's users.
bool check_recommend(const Recommender& model, int count, std::uint64_t seed) {
  const std::vector<std::int32_t> users = sample(model.known_user_rows(), count, seed);
  return check(users.size(), "recommend", model.index()->params().ef_search, [&](bool exact) {
    RecommendOptions options;
    options.k = 10;
    options.exclude_seen = true;
    options.threads = 1;
    options.exact = exact;
    return model.recommend(users, options);
  });
}

// The same for similar_items of up to `count` of the model's items.
bool check_similar(const Recommender& model, int count, std::uint64_t seed) {
  std::vector<std::int32_t> all(static_cast<std::size_t>(model.model().items.num_known()));
  std::iota(all.begin(), all.end(), 1);
  const std::vector<std::int32_t> items = sample(std::move(all), count, seed);
  return check(items.size(), "similar", model.similar_index()->params().ef_search, [&](bool exact) {
    SimilarOptions options;
    options.k = 10;
    options.threads = 1;
    options.exact = exact;
    TopK out;
    out.k = effective_k(10, model.model().items.num_known());
    for (const std::int32_t item : items) {
      const TopK one = model.similar_items(item, options);
      out.items.insert(out.items.end(), one.items.begin(), one.items.end());
      out.scores.insert(out.scores.end(), one.scores.begin(), one.scores.end());
      ++out.queries;
    }
    return out;
  });
}

void remove_file(const std::filesystem::path& file, std::string_view searches) {
  std::error_code ec;
  if (std::filesystem::remove(file, ec)) {
    fmt::print("removed {}: {} search every item again\n", file.string(), searches);
  } else if (ec) {
    throw Error(ErrorKind::IO, fmt::format("{}: cannot remove: {}", file.string(), ec.message()));
  }
}

void say_built(const HnswIndex& index, std::string_view what, std::int32_t items, double seconds,
               int threads, const std::filesystem::path& file) {
  fmt::print(
      "hnsw index for {} of {} items (m {}, ef_construction {}, ef {}) built in {:.2f} s on {} "
      "thread{}: {:.1f} MiB in memory (links, one-byte codes and norms), written to {}\n",
      what, items, index.params().m, index.params().ef_construction, index.params().ef_search,
      seconds, threads, threads == 1 ? "" : "s", index.bytes() / 1048576.0, file.string());
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
  const std::filesystem::path similar_companion = similar_index_path_for(f.model);
  if (f.remove) {
    load_model(f.model);  // a model path, not any file next to one
    const bool any =
        std::filesystem::exists(companion) || std::filesystem::exists(similar_companion);
    remove_file(companion, "recommendations");
    remove_file(similar_companion, "similar items and pairs");
    if (!any) {
      fmt::print("{} has no index ({} and {} do not exist)\n", f.model, companion.string(),
                 similar_companion.string());
    }
    return;
  }
  Recommender model = Recommender::load(f.model);
  const ModelSpec* spec = find_model_spec(model.model().kind);
  const bool similar = f.similar && (spec == nullptr || spec->item_similarity);
  const int threads = f.params.threads > 0 ? f.params.threads : omp_get_max_threads();
  const std::int32_t items = model.model().items.num_known();
  // Both graphs are built before either file is written: a failure (or an
  // interrupt) while building leaves the model's files as they were.
  const auto build = [&](std::string_view what, auto&& build_one) {
    ProgressMeter meter(stderr, fmt::format("index ({})", what), "items");
    const auto t0 = std::chrono::steady_clock::now();
    build_one([&](std::int64_t done, std::int64_t total) { meter.update(done, total); });
    meter.finish();
    return seconds_since(t0);
  };
  const double build_s = build(
      "recommend", [&](const WorkProgress& progress) { model.build_index(f.params, progress); });
  double similar_s = 0;
  if (similar) {
    similar_s = build("similar", [&](const WorkProgress& progress) {
      model.build_similar_index(f.params, progress);
    });
  }
  model.index()->save(companion, model.model().item_embeddings);
  say_built(*model.index(), "recommend", items, build_s, threads, companion);
  if (similar) {
    model.similar_index()->save(similar_companion, model.normalized_items());
    say_built(*model.similar_index(), "similar items and pairs", items, similar_s, threads,
              similar_companion);
  } else {
    if (f.similar) {
      fmt::print("no index for similar items: a {} model has no item similarity\n",
                 model.model().kind);
    }
    // One left by an earlier `latent index` would go on answering similar
    // items: what was asked for is what the model has.
    std::error_code ec;
    if (std::filesystem::remove(similar_companion, ec)) {
      fmt::print("removed {}: similar items and pairs search every item\n",
                 similar_companion.string());
    }
  }
  bool exact_faster = check_recommend(model, f.check_users, f.params.seed);
  if (similar) exact_faster = check_similar(model, f.check_users, f.params.seed) || exact_faster;
  if (exact_faster) {
    fmt::print(
        "note: on this catalog the exact search is faster; an index pays on large ones "
        "(docs/big-catalogs.md), and latent index {} --remove goes back to it\n",
        f.model);
  }
}

}  // namespace

void add_index(CLI::App& app) {
  auto f = std::make_shared<IndexFlags>();
  auto* cmd = app.add_subcommand(
      "index",
      "Build approximate indexes of a model's items (MODEL.index for recommendations, "
      "MODEL.similar.index for similar items and pairs; used by the CLI, serve and Python when "
      "present), or remove them");
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
                  "Users (and items, for similar items) to measure recall@10 on after "
                  "building (0: none)")
      ->capture_default_str();
  cmd->add_flag("--similar,!--no-similar", f->similar,
                "Also build the index of similar items and pairs (a second graph, over the unit "
                "item vectors, as they rank by cosine; about as long to build as the first)")
      ->capture_default_str();
  cmd->add_flag("--remove", f->remove, "Remove the model's indexes instead");
  cmd->callback([f] { run(*f); });
}

}  // namespace latent::cli
