// latent quickstart: the TensorFlow Recommenders MovieLens retrieval
// tutorial, end to end, on the bundled data set or a MovieLens directory.
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <memory>
#include <numeric>
#include <string>

#include <unistd.h>

#include <fmt/format.h>

#include <latent/dataset.hpp>
#include <latent/error.hpp>
#include <latent/fit.hpp>
#include <latent/progress.hpp>
#include <latent/recommender.hpp>

#include "commands.hpp"

namespace latent::cli {

namespace {

struct QuickstartFlags {
  std::string data = LATENT_BUNDLED_DATA;
  std::string user = "42";
  std::string out_dir;
  int threads = 0;
};

using Clock = std::chrono::steady_clock;

class Steps {
 public:
  void begin(std::string_view title) {
    ++n_;
    t_ = Clock::now();
    fmt::print("\n[{}] {}\n", n_, title);
  }
  void end() const {
    fmt::print("    ({:.1f} ms)\n",
               std::chrono::duration<double, std::milli>(Clock::now() - t_).count());
  }

 private:
  int n_ = 0;
  Clock::time_point t_;
};

void print_top(const Recommender& model, const TopK& top, std::size_t query) {
  for (int r = 0; r < top.k; ++r) {
    const auto idx = query * static_cast<std::size_t>(top.k) + static_cast<std::size_t>(r);
    if (top.items[idx] < 0) break;
    fmt::print("    {:2}. {:<60} {:8.4f}\n", r + 1, model.item_id(top.items[idx]), top.scores[idx]);
  }
}

bool same_top(const TopK& a, const TopK& b) { return a.items == b.items && a.scores == b.scores; }

// Where the model is saved: --out-dir, kept; else a temporary directory,
// removed however run() ends, so a failed self-check leaves nothing behind.
class ModelDir {
 public:
  explicit ModelDir(const std::string& out_dir) : path_(out_dir), keep_(!path_.empty()) {
    if (!keep_) {
      path_ =
          std::filesystem::temp_directory_path() / fmt::format("latent-quickstart-{}", ::getpid());
    }
    std::filesystem::create_directories(path_);
  }
  ~ModelDir() {
    std::error_code ec;
    if (!keep_) std::filesystem::remove_all(path_, ec);
  }
  ModelDir(const ModelDir&) = delete;
  ModelDir& operator=(const ModelDir&) = delete;

  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
  bool keep_;
};

// What steps 4 and 5 recommend; the later steps check their results against it.
struct UserTops {
  std::int32_t user = 0;  // vocabulary row of --user
  TopK top;               // top-10, rated movies included
  TopK unseen;            // top-10 without the movies the user rated
};

Dataset load_ratings(const std::string& path, Steps& step) {
  step.begin("Load ratings, join titles, keep rating > 3");
  LoadOptions load;
  load.data = path;
  load.rating_above = 3.0;
  load.item_key = ItemKey::Title;
  Dataset data = load_dataset(load);
  fmt::print("    {}\n    {} ratings read, {} kept as (user, title) pairs\n", data.description,
             data.rows_read, data.interactions.size());
  step.end();
  return data;
}

void show_vocabularies(const Dataset& data, Steps& step) {
  step.begin("Vocabularies (one OOV row each, like Keras StringLookup)");
  fmt::print("    users: {} ids -> {} rows; titles: {} ids -> {} rows\n", data.users.num_known(),
             data.users.size(), data.items.num_known(), data.items.size());
  step.end();
}

FitResult train_tutorial_model(const Dataset& data, int threads, Steps& step) {
  step.begin(
      "Train the two-tower model (dim 64, in-batch softmax, Adagrad 0.5, batch 4096, 3 epochs)");
  FitOptions options;
  // The tutorial's settings, whatever latent's defaults are.
  options.params = {{"dim", "64"},
                    {"optimizer", "adagrad"},
                    {"learning-rate", "0.5"},
                    {"batch-size", "4096"},
                    {"epochs", "3"},
                    {"negatives", "in-batch"},
                    {"threads", std::to_string(threads)}};
  ProgressBar bar(stdout);
  options.on_progress = [&](const TrainProgress& p) { bar.on_progress(p); };
  options.on_epoch = [&](const EpochReport& e) { bar.on_epoch(e); };
  FitResult fitted = fit(data, options);
  step.end();
  return fitted;
}

UserTops recommend_for_user(const Recommender& model, const Dataset& data, const QuickstartFlags& f,
                            Steps& step) {
  UserTops tops;
  step.begin(fmt::format("Top-10 movies for user {}", f.user));
  tops.user = model.user_row(f.user);
  const std::int32_t users[] = {tops.user};
  tops.top = model.recommend(users, 10, false, f.threads);
  print_top(model, tops.top, 0);
  step.end();

  step.begin(fmt::format("Top-10 for user {} without the movies they already rated", f.user));
  tops.unseen = model.recommend(users, 10, true, f.threads);
  print_top(model, tops.unseen, 0);
  const auto& pair_users = data.interactions.users;
  const auto trained = std::count(pair_users.begin(), pair_users.end(), tops.user);
  fmt::print(
      "    user {} rated {} movies ({} above 3, trained on; the rest seen only), none of "
      "them above\n",
      f.user, model.model().seen.row(tops.user).size(), trained);
  step.end();
  return tops;
}

// The movie the tutorial looks at (movie_model.predict(["Star Wars (1977)"])
// and its similar movies): its title in MovieLens 100K or in MovieLens
// latest; in other data, the user's top recommendation.
std::int32_t tutorial_movie(const Recommender& model, const UserTops& tops) {
  for (const char* title : {"Star Wars (1977)", "Star Wars: Episode IV - A New Hope (1977)"}) {
    if (const auto row = model.model().items.find(title)) return *row;
  }
  return tops.top.items[0];
}

void show_embeddings(const Recommender& model, std::int32_t movie, Steps& step) {
  step.begin(fmt::format("Embedding matrices, and the embedding of \"{}\" (movie_model.predict)",
                         model.item_id(movie)));
  const ModelData& m = model.model();
  fmt::print("    user embeddings {}x{}, item embeddings {}x{}\n", m.user_embeddings.rows(),
             m.user_embeddings.cols(), m.item_embeddings.rows(), m.item_embeddings.cols());
  const auto v = m.item_embeddings.row(movie);
  fmt::print("    \"{}\": [{:.4f}, ...] ({} values)\n", model.item_id(movie),
             fmt::join(v.first(std::min<std::size_t>(6, v.size())), ", "), v.size());
  step.end();
}

void show_similar_movies(const Recommender& model, std::int32_t movie, int threads, Steps& step) {
  step.begin(fmt::format("Movies similar to \"{}\" (top-5), and all pairs with cosine > 0.8",
                         model.item_id(movie)));
  const TopK similar = model.similar_items(movie, 5, threads);
  print_top(model, similar, 0);
  const auto pairs = model.similar_pairs(0.8f, threads);
  fmt::print("    {} pairs with cosine > 0.8", pairs.size());
  if (!pairs.empty()) {
    fmt::print("; closest: \"{}\" ~ \"{}\" ({:.4f})", model.item_id(pairs[0].a),
               model.item_id(pairs[0].b), pairs[0].similarity);
  }
  fmt::print("\n");
  step.end();
}

// Columns of a score row, the best 10 first, ties to the lower column;
// column 0, the OOV item, is never among them.
std::vector<std::int32_t> top_10_columns(const std::vector<float>& scores) {
  std::vector<std::int32_t> order(scores.size() - 1);
  std::iota(order.begin(), order.end(), 1);
  std::partial_sort(
      order.begin(), order.begin() + 10, order.end(), [&](std::int32_t a, std::int32_t b) {
        return scores[static_cast<std::size_t>(a)] > scores[static_cast<std::size_t>(b)] ||
               (scores[static_cast<std::size_t>(a)] == scores[static_cast<std::size_t>(b)] &&
                a < b);
      });
  return order;
}

// The score matrix is produced block by block, so only the user's row is kept.
bool check_score_matrix(const Recommender& model, const UserTops& tops, int threads, Steps& step) {
  step.begin("Full user x item score matrix; its row for the user gives the same top-10");
  const auto cols = static_cast<std::size_t>(model.model().items.size());
  std::vector<float> user_scores;
  std::int64_t rows = 0;
  model.scores(
      [&](std::int64_t first, std::int64_t n, std::span<const float> block) {
        rows += n;
        if (tops.user >= first && tops.user < first + n) {
          const auto off = static_cast<std::size_t>(tops.user - first) * cols;
          user_scores.assign(block.begin() + static_cast<std::ptrdiff_t>(off),
                             block.begin() + static_cast<std::ptrdiff_t>(off + cols));
        }
      },
      1024, threads);
  const std::vector<std::int32_t> order = top_10_columns(user_scores);
  const bool matches = std::equal(order.begin(), order.begin() + 10, tops.top.items.begin());
  fmt::print("    scores {}x{}; top-10 from the matrix {} recommend\n", rows, cols,
             matches ? "equals" : "DIFFERS FROM");
  step.end();
  return matches;
}

bool check_save_and_load(const Recommender& model, const std::filesystem::path& dir,
                         const UserTops& tops, int threads, Steps& step) {
  step.begin("Save, load, and recommend again");
  const auto path = dir / "model.latent";
  model.save(path);
  const Recommender loaded = Recommender::load(path);
  const std::int32_t users[] = {tops.user};
  const bool identical = same_top(loaded.recommend(users, 10, false, threads), tops.top) &&
                         same_top(loaded.recommend(users, 10, true, threads), tops.unseen);
  fmt::print("    {} ({} bytes); loaded model's top-10 is {}\n", path.string(),
             std::filesystem::file_size(path), identical ? "identical" : "DIFFERENT");
  step.end();
  return identical;
}

void run(const QuickstartFlags& f) {
  const auto t0 = Clock::now();
  Steps step;
  const ModelDir dir(f.out_dir);
  const Dataset data = load_ratings(f.data, step);
  show_vocabularies(data, step);
  const FitResult fitted = train_tutorial_model(data, f.threads, step);
  const Recommender& model = fitted.model;
  const UserTops tops = recommend_for_user(model, data, f, step);
  const std::int32_t movie = tutorial_movie(model, tops);
  show_embeddings(model, movie, step);
  show_similar_movies(model, movie, f.threads, step);
  const bool matrix_matches = check_score_matrix(model, tops, f.threads, step);
  const bool identical = check_save_and_load(model, dir.path(), tops, f.threads, step);

  fmt::print("\nquickstart finished in {:.2f} s\n",
             std::chrono::duration<double>(Clock::now() - t0).count());
  if (!matrix_matches || !identical) {
    throw Error(ErrorKind::Corruption, "quickstart self-check failed (see above)");
  }
}

}  // namespace

void add_quickstart(CLI::App& app) {
  auto f = std::make_shared<QuickstartFlags>();
  auto* cmd = app.add_subcommand(
      "quickstart", "Run the TFRS MovieLens retrieval tutorial end to end and print each step");
  // The default is a path of the machine that built the binary: the help
  // names it instead of printing it, so --help (and docs/cli.md) read the
  // same on every machine.
  cmd->add_option("--data", f->data,
                  "MovieLens directory (ml-100k or ml-latest layout; default: the bundled "
                  "data/ml-latest-small of the source tree latent was built from)");
  cmd->add_option("--user", f->user, "User to recommend for")->capture_default_str();
  cmd->add_option("--out-dir", f->out_dir,
                  "Keep the saved model here (default: a temp dir, removed)");
  cmd->add_option("--threads", f->threads, "Threads (0: all cores)")->capture_default_str();
  cmd->callback([f] { run(*f); });
}

}  // namespace latent::cli
