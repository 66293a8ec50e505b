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
    fmt::print("    ({:.1f} ms)\n", std::chrono::duration<double, std::milli>(Clock::now() - t_).count());
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

void run(const QuickstartFlags& f) {
  const auto t0 = Clock::now();
  Steps step;
  std::filesystem::path dir = f.out_dir;
  const bool keep = !dir.empty();
  if (!keep) {
    dir = std::filesystem::temp_directory_path() / fmt::format("latent-quickstart-{}", ::getpid());
  }
  std::filesystem::create_directories(dir);
  struct Cleanup {
    std::filesystem::path dir;
    bool keep;
    ~Cleanup() {
      std::error_code ec;
      if (!keep) std::filesystem::remove_all(dir, ec);
    }
  } cleanup{dir, keep};

  step.begin("Load ratings, join titles, keep rating > 3");
  LoadOptions load;
  load.data = f.data;
  load.rating_above = 3.0;
  load.item_key = ItemKey::Title;
  const Dataset data = load_dataset(load);
  fmt::print("    {}\n    {} ratings read, {} kept as (user, title) pairs\n", data.description,
             data.rows_read, data.interactions.size());
  step.end();

  step.begin("Vocabularies (one OOV row each, like Keras StringLookup)");
  fmt::print("    users: {} ids -> {} rows; titles: {} ids -> {} rows\n", data.users.num_known(),
             data.users.size(), data.items.num_known(), data.items.size());
  step.end();

  step.begin("Train the two-tower model (dim 64, in-batch softmax, Adagrad 0.5, batch 4096, 3 epochs)");
  FitOptions options;
  // The tutorial's settings, whatever latent's defaults are.
  options.params = {{"dim", "64"},        {"optimizer", "adagrad"}, {"learning-rate", "0.5"},
                    {"batch-size", "4096"}, {"epochs", "3"},          {"negatives", "in-batch"},
                    {"threads", std::to_string(f.threads)}};
  ProgressBar bar(stdout);
  options.on_progress = [&](const TrainProgress& p) { bar.on_progress(p); };
  options.on_epoch = [&](const EpochReport& e) { bar.on_epoch(e); };
  const FitResult fitted = fit(data, options);
  const Recommender& model = fitted.model;
  step.end();

  step.begin(fmt::format("Top-10 movies for user {}", f.user));
  const std::int32_t user = model.user_row(f.user);
  const std::int32_t users[] = {user};
  const TopK top = model.recommend(users, 10, false, f.threads);
  print_top(model, top, 0);
  step.end();

  step.begin(fmt::format("Top-10 for user {} without the movies they already rated", f.user));
  const TopK unseen = model.recommend(users, 10, true, f.threads);
  print_top(model, unseen, 0);
  const auto& pair_users = data.interactions.users;
  const auto trained = std::count(pair_users.begin(), pair_users.end(), user);
  fmt::print("    user {} rated {} movies ({} above 3, trained on; the rest seen only), none of "
             "them above\n",
             f.user, model.model().seen.row(user).size(), trained);
  step.end();

  step.begin("Embedding matrices and one movie's embedding");
  const ModelData& m = model.model();
  fmt::print("    user embeddings {}x{}, item embeddings {}x{}\n", m.user_embeddings.rows(),
             m.user_embeddings.cols(), m.item_embeddings.rows(), m.item_embeddings.cols());
  const std::int32_t movie = top.items[0];
  const auto v = m.item_embeddings.row(movie);
  fmt::print("    \"{}\": [{:.4f}, ...] ({} values)\n", model.item_id(movie),
             fmt::join(v.first(std::min<std::size_t>(6, v.size())), ", "), v.size());
  step.end();

  step.begin("Similar movies: top-5 for that movie, and all pairs with cosine > 0.8");
  const TopK similar = model.similar_items(movie, 5, f.threads);
  print_top(model, similar, 0);
  const auto pairs = model.similar_pairs(0.8f, f.threads);
  fmt::print("    {} pairs with cosine > 0.8", pairs.size());
  if (!pairs.empty()) {
    fmt::print("; closest: \"{}\" ~ \"{}\" ({:.4f})", model.item_id(pairs[0].a),
               model.item_id(pairs[0].b), pairs[0].similarity);
  }
  fmt::print("\n");
  step.end();

  step.begin("Full user x item score matrix; its row for the user gives the same top-10");
  std::vector<float> user_scores;
  std::int64_t rows = 0;
  model.scores(
      [&](std::int64_t first, std::int64_t n, std::span<const float> block) {
        rows += n;
        if (user >= first && user < first + n) {
          const auto cols = static_cast<std::size_t>(m.items.size());
          const auto off = static_cast<std::size_t>(user - first) * cols;
          user_scores.assign(block.begin() + static_cast<std::ptrdiff_t>(off),
                             block.begin() + static_cast<std::ptrdiff_t>(off + cols));
        }
      },
      1024, f.threads);
  std::vector<std::int32_t> order(user_scores.size() - 1);
  std::iota(order.begin(), order.end(), 1);  // column 0 is the OOV item
  std::partial_sort(order.begin(), order.begin() + 10, order.end(), [&](std::int32_t a, std::int32_t b) {
    return user_scores[static_cast<std::size_t>(a)] > user_scores[static_cast<std::size_t>(b)] ||
           (user_scores[static_cast<std::size_t>(a)] == user_scores[static_cast<std::size_t>(b)] && a < b);
  });
  const bool matrix_matches = std::equal(order.begin(), order.begin() + 10, top.items.begin());
  fmt::print("    scores {}x{}; top-10 from the matrix {} recommend\n", rows, m.items.size(),
             matrix_matches ? "equals" : "DIFFERS FROM");
  step.end();

  step.begin("Save, load, and recommend again");
  const auto path = dir / "model.latent";
  model.save(path);
  const Recommender loaded = Recommender::load(path);
  const bool identical = same_top(loaded.recommend(users, 10, false, f.threads), top) &&
                         same_top(loaded.recommend(users, 10, true, f.threads), unseen);
  fmt::print("    {} ({} bytes); loaded model's top-10 is {}\n", path.string(),
             std::filesystem::file_size(path), identical ? "identical" : "DIFFERENT");
  step.end();

  fmt::print("\nquickstart finished in {:.2f} s\n",
             std::chrono::duration<double>(Clock::now() - t0).count());
  if (!matrix_matches || !identical) {
    throw Error(ErrorKind::Corruption, "quickstart self-check failed (see above)");
  }
}

}  // namespace

void add_quickstart(CLI::App& app) {
  auto f = std::make_shared<QuickstartFlags>();
  auto* cmd = app.add_subcommand("quickstart",
                                 "Run the TFRS MovieLens retrieval tutorial end to end and print each step");
  cmd->add_option("--data", f->data, "MovieLens directory (ml-100k or ml-latest layout)")
      ->capture_default_str();
  cmd->add_option("--user", f->user, "User to recommend for")->capture_default_str();
  cmd->add_option("--out-dir", f->out_dir, "Keep the saved model here (default: a temp dir, removed)");
  cmd->add_option("--threads", f->threads, "Threads (0: all cores)")->capture_default_str();
  cmd->callback([f] { run(*f); });
}

}  // namespace latent::cli
