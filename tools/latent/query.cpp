// Commands that read a saved model: recommend, similar, pairs, embeddings,
// predict, scores (info is in info.cpp).
#include <cmath>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include <latent/atomic_output.hpp>
#include <latent/error.hpp>
#include <latent/npy.hpp>
#include <latent/progress_meter.hpp>
#include <latent/recommender.hpp>
#include <latent/split.hpp>

#include "commands.hpp"
#include "flags.hpp"
#include "output.hpp"

namespace latent::cli {

namespace {

struct RecommendFlags {
  std::string model;
  std::vector<std::string> users;
  std::vector<std::string> items;          // fold-in: a new user's items
  std::vector<std::string> user_features;  // cold start: a new user's NAME=VALUE
  std::vector<std::string> context;        // the request's context, NAME=VALUE
  std::vector<std::string> allow;
  std::vector<std::string> deny;
  bool all_users = false;
  int k = kDefaultK;
  bool exclude_seen = false;
  std::string out;
  int threads = 0;
  bool exact = false;
  std::optional<int> ef;  // unset: the index's own
};

std::vector<std::int32_t> item_rows(const Recommender& model, const std::vector<std::string>& ids) {
  std::vector<std::int32_t> rows;
  for (const auto& id : ids) rows.push_back(model.item_row(id));
  return rows;
}

// Writes top's rows as "user,item,score,rank" lines; rows[q] is query q's
// user row (0, the OOV row, for a new user's fold-in).
void print_top(Output& out, const Recommender& model, std::span<const std::int32_t> rows,
               const TopK& top) {
  for (std::size_t q = 0; q < rows.size(); ++q) {
    const std::string user = csv_field(model.model().users.id(rows[q]));
    for (int r = 0; r < top.k; ++r) {
      const auto idx = q * static_cast<std::size_t>(top.k) + static_cast<std::size_t>(r);
      if (top.items[idx] < 0) break;
      out.print("{},{},{:.6g},{}\n", user, csv_field(model.item_id(top.items[idx])),
                top.scores[idx], r + 1);
    }
  }
}

// model.recommend over rows, a chunk of users at a time, each chunk written
// as soon as it is ranked: memory holds one chunk's lists whatever the
// number of users (all of MovieLens-20M's, k 1000), and a terminal shows how
// far it is. The chunks are large enough to keep every thread busy.
using TopKSink = std::function<void(std::span<const std::int32_t> rows, const TopK& top)>;
void recommend_in_chunks(const Recommender& model, std::span<const std::int32_t> rows,
                         const RecommendOptions& options, const TopKSink& write) {
  constexpr std::size_t kChunk = 8192;
  ProgressMeter meter(stderr, "recommend", "users");
  for (std::size_t first = 0; first < rows.size(); first += kChunk) {
    const auto chunk = rows.subspan(first, std::min(kChunk, rows.size() - first));
    const TopK top = model.recommend(chunk, options);
    meter.clear();  // standard output may be the same terminal
    write(chunk, top);
    meter.update(static_cast<std::int64_t>(first + chunk.size()),
                 static_cast<std::int64_t>(rows.size()));
  }
  meter.finish();
}

void recommend(const RecommendFlags& f) {
  effective_k(f.k, 1);  // the k rule's error, before the model is read
  const int sources = static_cast<int>(!f.users.empty()) + static_cast<int>(f.all_users) +
                      static_cast<int>(!f.items.empty()) +
                      static_cast<int>(!f.user_features.empty());
  if (sources != 1) {
    throw Error(ErrorKind::InvalidArgument,
                "give one of --user ID (repeatable), --all-users, --items ID (repeatable, a "
                "new user's items), or --user-features NAME=VALUE (repeatable, a new user's "
                "features)");
  }
  std::vector<FeatureValue> user_features =
      parse_feature_values(f.user_features, "--user-features");
  const std::vector<FeatureValue> context = parse_feature_values(f.context, "--context");
  if (!context.empty() && f.users.empty() && user_features.empty()) {
    throw Error(ErrorKind::InvalidArgument,
                "--context NAME=VALUE is the context of the users of --user or of the new user of "
                "--user-features");
  }
  // A new user's context columns are among the tower's features.
  if (!user_features.empty()) {
    user_features.insert(user_features.end(), context.begin(), context.end());
  }
  if (f.ef && *f.ef <= 0) {
    throw Error(ErrorKind::InvalidArgument,
                fmt::format("--ef must be positive (candidates kept per user), got {}", *f.ef));
  }
  const Recommender model = load_for_queries(f.model);
  RecommendOptions options;
  options.k = f.k;
  options.exclude_seen = f.exclude_seen;
  options.threads = f.threads;
  options.exact = f.exact;
  options.ef = f.ef.value_or(0);
  options.allow = item_rows(model, f.allow);
  options.deny = item_rows(model, f.deny);
  Output out(f.out);
  // The header goes out with the first lists, so that an error in ranking
  // them leaves standard output empty, as an unknown id does.
  bool header = false;
  const auto write = [&](std::span<const std::int32_t> rows, const TopK& top) {
    if (!std::exchange(header, true)) out.print("user,item,score,rank\n");
    print_top(out, model, rows, top);
  };
  const std::int32_t new_user = 0;  // shown as the OOV row
  if (!f.items.empty()) {
    write({&new_user, 1}, model.recommend_for_items(item_rows(model, f.items), options));
  } else if (!user_features.empty()) {
    write({&new_user, 1}, model.recommend_for_features(user_features, options));
  } else if (!context.empty()) {
    for (const auto& u : f.users) {
      const std::int32_t row = model.user_row(u);
      write({&row, 1}, model.recommend_in_context(row, context, options));
    }
  } else {
    std::vector<std::int32_t> rows;
    if (f.all_users) {
      rows = model.known_user_rows();
    } else {
      for (const auto& u : f.users) rows.push_back(model.user_row(u));
    }
    recommend_in_chunks(model, rows, options, write);
  }
  write({}, TopK{});  // the header alone when there was nothing to rank
  out.commit();
}

// similar and pairs.
struct SimilarFlags {
  std::string model;
  std::string item;
  std::vector<std::string> item_features;  // cold start: a new item's NAME=VALUE
  int k = kDefaultK;
  float threshold = 0.8f;
  std::string out;
  int threads = 0;
  bool exact = false;
  std::optional<int> ef;  // unset: the index's own
};

SimilarOptions similar_options(const SimilarFlags& f) {
  if (f.ef && *f.ef <= 0) {
    throw Error(ErrorKind::InvalidArgument,
                fmt::format("--ef must be positive (candidates kept per item), got {}", *f.ef));
  }
  SimilarOptions options;
  options.k = f.k;
  options.threads = f.threads;
  options.exact = f.exact;
  options.ef = f.ef.value_or(0);
  return options;
}

// --exact and --ef of similar and pairs.
void add_similar_effort(CLI::App& cmd, SimilarFlags& f, std::string_view per) {
  cmd.add_flag("--exact", f.exact,
               "Search every item even when the model has a similar-items index (latent index)");
  cmd.add_option("--ef", f.ef,
                 fmt::format("With a similar-items index: candidates kept per {} (default: the "
                             "index's own; more finds more of the exact answer, slower)",
                             per));
}

void similar(const SimilarFlags& f) {
  effective_k(f.k, 1);  // the k rule's error, before the model is read
  const SimilarOptions options = similar_options(f);
  if (f.item.empty() == f.item_features.empty()) {
    throw Error(ErrorKind::InvalidArgument,
                "give one of --item ID and --item-features NAME=VALUE (repeatable, a new item's "
                "features)");
  }
  const std::vector<FeatureValue> item_features =
      parse_feature_values(f.item_features, "--item-features");
  const Recommender model = load_for_queries(f.model);
  const auto row = item_features.empty() ? model.item_row(f.item) : 0;
  const TopK top = item_features.empty() ? model.similar_items(row, options)
                                         : model.similar_to_features(item_features, options);
  fmt::print("item,similar_item,similarity,rank\n");
  const std::string name = csv_field(model.item_id(row));
  for (int r = 0; r < top.k && top.items[static_cast<std::size_t>(r)] >= 0; ++r) {
    fmt::print("{},{},{:.6f},{}\n", name,
               csv_field(model.item_id(top.items[static_cast<std::size_t>(r)])),
               top.scores[static_cast<std::size_t>(r)], r + 1);
  }
}

void pairs(const SimilarFlags& f) {
  check_similarity_threshold(f.threshold);  // before the model is read
  const SimilarOptions options = similar_options(f);
  const Recommender model = load_for_queries(f.model);
  const bool by_index = model.similar_index() != nullptr && !f.exact;
  ProgressMeter meter(stderr, "pairs", by_index ? "items" : "tiles");
  const auto found = model.similar_pairs(
      f.threshold, options,
      [&](std::int64_t done, std::int64_t total) { meter.update(done, total); });
  meter.finish();
  Output out(f.out);
  out.print("item_a,item_b,similarity\n");
  for (const auto& p : found) {
    out.print("{},{},{:.6f}\n", csv_field(model.item_id(p.a)), csv_field(model.item_id(p.b)),
              p.similarity);
  }
  out.commit();
  if (!f.out.empty()) {
    fmt::print("{} pairs with cosine > {} written to {}{}\n", found.size(), f.threshold, f.out,
               by_index ? " (found through the similar-items index: --exact finds every one)" : "");
  }
}

void write_ids(const std::filesystem::path& path, const Vocabulary& vocab) {
  Output out(path);
  out.print("{}\n", Vocabulary::kOovToken);
  for (const auto& id : vocab.ids()) out.print("{}\n", id);
  out.commit();
}

struct EmbeddingsFlags {
  std::string model;
  std::string out_dir;
  std::string item;
  std::string user;
};

void print_vector(std::string_view label, std::span<const float> v) {
  fmt::print("{} ({} dims):\n[{:.6f}]\n", label, v.size(), fmt::join(v, ", "));
}

void embeddings(const EmbeddingsFlags& f) {
  if (f.out_dir.empty() && f.item.empty() && f.user.empty()) {
    throw Error(ErrorKind::InvalidArgument, "give --out-dir DIR, --item ID or --user ID");
  }
  const Recommender model = load_for_queries(f.model);
  const ModelData& m = model.model();
  if (!f.item.empty()) {
    const auto row = model.item_row(f.item);
    print_vector(fmt::format("item \"{}\" (row {})", model.item_id(row), row),
                 m.item_embeddings.row(row));
  }
  if (!f.user.empty()) {
    const auto row = model.user_row(f.user);
    print_vector(fmt::format("user \"{}\" (row {})", f.user, row), m.user_embeddings.row(row));
  }
  if (!f.out_dir.empty()) {
    OutputDirectory out(f.out_dir);
    const std::filesystem::path& dir = out.path();
    write_npy(dir / "user_embeddings.npy", m.user_embeddings);
    write_npy(dir / "item_embeddings.npy", m.item_embeddings);
    write_ids(dir / "users.tsv", m.users);
    write_ids(dir / "items.tsv", m.items);
    out.commit();
    fmt::print("user_embeddings.npy {}x{}, item_embeddings.npy {}x{}, users.tsv, items.tsv in {}\n",
               m.user_embeddings.rows(), m.user_embeddings.cols(), m.item_embeddings.rows(),
               m.item_embeddings.cols(), f.out_dir);
  }
}

struct PredictFlags {
  std::string model;
  std::string pairs;               // CSV with user and item columns
  std::vector<std::string> users;  // or --user U --item I, pair by pair
  std::vector<std::string> items;
  std::string out;
  int threads = 0;
};

// Scores (user, item) pairs: predicted ratings for a model trained with the
// rating task, else the scores its top-k lists rank by.
void predict(const PredictFlags& f) {
  if (f.pairs.empty() == f.users.empty()) {
    throw Error(ErrorKind::InvalidArgument,
                "give the pairs to score as --pairs FILE or as --user U --item I (repeatable), "
                "not both");
  }
  const Recommender model = load_for_queries(f.model);
  std::vector<std::int32_t> users, items;
  if (!f.pairs.empty()) {
    const Interactions x = read_pairs(f.pairs, model.model().users, model.model().items);
    users = x.users;
    items = x.items;
  } else {
    if (f.users.size() != f.items.size()) {
      throw Error(ErrorKind::InvalidArgument,
                  fmt::format("{} --user for {} --item: give one --item per --user", f.users.size(),
                              f.items.size()));
    }
    for (std::size_t k = 0; k < f.users.size(); ++k) {
      users.push_back(model.user_row(f.users[k]));
      items.push_back(model.item_row(f.items[k]));
    }
  }
  const std::vector<float> scores = model.predict(users, items, f.threads);
  Output out(f.out);
  out.print("user,item,{}\n", model.predicts_ratings() ? "rating" : "score");
  for (std::size_t k = 0; k < scores.size(); ++k) {
    out.print("{},{},{:.6g}\n", csv_field(model.model().users.id(users[k])),
              csv_field(model.item_id(items[k])), scores[k]);
  }
  out.commit();
}

void scores(const std::string& path, const std::string& out_path, int threads) {
  const Recommender model = load_for_queries(path);
  const ModelData& m = model.model();
  NpyWriter writer(out_path, m.users.size(), m.items.size());
  ProgressMeter meter(stderr, "scores", "users");
  std::int64_t rows = 0;
  model.scores(
      [&](std::int64_t, std::int64_t n, std::span<const float> block) {
        writer.write_rows(block);
        meter.update(rows += n, static_cast<std::int64_t>(m.users.size()));
      },
      1024, threads);
  meter.finish();
  writer.finish();
  fmt::print("scores {}x{} (users x items, row 0 and column 0 are OOV) written to {}\n",
             m.users.size(), m.items.size(), out_path);
}

}  // namespace

void add_recommend(CLI::App& app) {
  auto f = std::make_shared<RecommendFlags>();
  auto* cmd = app.add_subcommand("recommend", "Top-K items for users of a saved model");
  cmd->add_option("model", f->model, "Model file")->required();
  // One id per occurrence, exactly as typed: without allow_extra_args(false)
  // CLI11 would read "[UNK]" or "[REC] (2007)" as a bracketed list.
  cmd->add_option("--user", f->users, "Raw user id (repeatable)")->allow_extra_args(false);
  cmd->add_option("--user-features", f->user_features,
                  "A new user's feature, NAME=VALUE (repeatable: --user-features age=25 "
                  "--user-features gender=M), for a model trained with --user-features")
      ->allow_extra_args(false);
  cmd->add_option("--context", f->context,
                  "The request's context, NAME=VALUE (repeatable: --context "
                  "timestamp=2015-06-01), for a model trained with --context-features: the "
                  "query of each --user, or of the new user of --user-features")
      ->allow_extra_args(false);
  cmd->add_option("--items", f->items,
                  "Items (ids or titles, repeatable) of a user who was not in training: "
                  "recommend for them by fold-in, without retraining")
      ->allow_extra_args(false);
  cmd->add_option("--allow", f->allow, "Only recommend these items (repeatable)")
      ->allow_extra_args(false);
  cmd->add_option("--deny", f->deny, "Never recommend these items (repeatable)")
      ->allow_extra_args(false);
  cmd->add_flag("--all-users", f->all_users, "Recommend for every user of the model");
  cmd->add_option("--k", f->k, "Items per user")->capture_default_str();
  cmd->add_flag("--exclude-seen", f->exclude_seen,
                "Drop items the user interacted with in training (with --items: those items)");
  cmd->add_option("--out", f->out, "CSV file (user,item,score,rank); stdout when omitted");
  cmd->add_option("--threads", f->threads, "Threads (0: all cores)")->capture_default_str();
  cmd->add_flag("--exact", f->exact,
                "Search every item even when the model has an index (latent index)");
  cmd->add_option("--ef", f->ef,
                  "With an index: candidates kept per user, at least k (default: the index's "
                  "own; more finds more of the exact top-k, slower)");
  cmd->callback([f] { recommend(*f); });
}

void add_similar(CLI::App& app) {
  auto f = std::make_shared<SimilarFlags>();
  auto* cmd = app.add_subcommand("similar", "Items most similar to an item, by cosine");
  cmd->add_option("model", f->model, "Model file")->required();
  cmd->add_option("--item", f->item, "Item id or title");
  cmd->add_option("--item-features", f->item_features,
                  "A new item's feature instead, NAME=VALUE (repeatable: --item-features "
                  "genres=Comedy --item-features year=1999), for a model trained with "
                  "--item-features")
      ->allow_extra_args(false);
  cmd->add_option("--k", f->k, "Number of similar items")->capture_default_str();
  cmd->add_option("--threads", f->threads, "Threads (0: all cores)")->capture_default_str();
  add_similar_effort(*cmd, *f, "query");
  cmd->callback([f] { similar(*f); });
}

void add_pairs(CLI::App& app) {
  auto f = std::make_shared<SimilarFlags>();
  auto* cmd =
      app.add_subcommand("pairs", "All item pairs with cosine similarity above a threshold");
  cmd->add_option("model", f->model, "Model file")->required();
  cmd->add_option("--threshold", f->threshold, "Cosine threshold in [-1, 1]")
      ->capture_default_str();
  cmd->add_option("--out", f->out, "CSV file (item_a,item_b,similarity); stdout when omitted");
  cmd->add_option("--threads", f->threads, "Threads (0: all cores)")->capture_default_str();
  add_similar_effort(*cmd, *f, "item searched");
  cmd->callback([f] { pairs(*f); });
}

void add_embeddings(CLI::App& app) {
  auto f = std::make_shared<EmbeddingsFlags>();
  auto* cmd = app.add_subcommand("embeddings", "Export embedding matrices, or print one embedding");
  cmd->add_option("model", f->model, "Model file")->required();
  cmd->add_option("--out-dir", f->out_dir,
                  "Write user/item_embeddings.npy and users/items.tsv (ids in row order) here");
  cmd->add_option("--item", f->item, "Print the embedding of this item id or title");
  cmd->add_option("--user", f->user, "Print the embedding of this user id");
  cmd->callback([f] { embeddings(*f); });
}

void add_predict(CLI::App& app) {
  auto f = std::make_shared<PredictFlags>();
  auto* cmd = app.add_subcommand(
      "predict",
      "Score (user, item) pairs: the predicted rating of a model trained with --rating-weight, "
      "else the score its recommendations rank by");
  cmd->add_option("model", f->model, "Model file")->required();
  cmd->add_option("--pairs", f->pairs,
                  "CSV file with a header naming a user and an item column (what latent split "
                  "writes; other columns are ignored)");
  cmd->add_option("--user", f->users, "A user id (repeatable; with as many --item)");
  cmd->add_option("--item", f->items, "An item id or title (repeatable; one per --user)");
  cmd->add_option("--out", f->out, "CSV file (user,item,rating or score); stdout when omitted");
  cmd->add_option("--threads", f->threads, "Threads (0: all cores)")->capture_default_str();
  cmd->callback([f] { predict(*f); });
}

void add_scores(CLI::App& app) {
  auto model = std::make_shared<std::string>();
  auto out = std::make_shared<std::string>();
  auto threads = std::make_shared<int>(0);
  auto* cmd = app.add_subcommand("scores", "Write the full user x item score matrix (.npy)");
  cmd->add_option("model", *model, "Model file")->required();
  cmd->add_option("--out", *out, ".npy file to write")->required();
  cmd->add_option("--threads", *threads, "Threads (0: all cores)")->capture_default_str();
  cmd->callback([=] { scores(*model, *out, *threads); });
}

}  // namespace latent::cli
