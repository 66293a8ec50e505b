// latent train: load a data set, train a model, save it.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>

#include <latent/communicator.hpp>
#include <latent/dataset.hpp>
#include <latent/error.hpp>
#include <latent/fit.hpp>
#include <latent/model_file.hpp>
#include <latent/model_spec.hpp>
#include <latent/progress.hpp>
#include <latent/rank_agreement.hpp>
#include <latent/split.hpp>
#include <latent/tensorboard.hpp>
#include <latent/warm_start.hpp>

#include "app.hpp"
#include "commands.hpp"
#include "flags.hpp"
#include "output.hpp"

namespace latent::cli {

namespace {

struct TrainFlags {
  DataFlags data;
  FeatureFlags features;
  ModelFlags model;
  double test_fraction = 0;
  std::string split_in;
  std::string out;
  std::string metrics_out;
  std::string tensorboard;
  bool index = false;
  std::string init;
  std::string update = "all";
  bool distributed = false;
  ProgressFlags progress;
};

// The fit options of the flags, checked before any data is read.
FitOptions fit_options_of(const TrainFlags& f, std::optional<ModelData>& init) {
  FitOptions fit_options;
  fit_options.model = f.model.model;
  fit_options.params = f.model.params();
  fit_options.test_fraction = f.test_fraction;
  fit_options.update = parse_warm_update(f.update);
  // A warm start: read before the data, so a wrong file fails at once.
  if (!f.init.empty()) {
    init = load_model(f.init);
    fit_options.init = &*init;
    fit_options.init_name = fmt::format("--init {}", f.init);
    if (!f.model.model_given()) fit_options.model.clear();  // the saved model's kind
  }
  // The model, its parameters and the fraction are checked before the data
  // is read, so a typo fails at once, not after loading.
  check_fit_options(fit_options);
  return fit_options;
}

// Progress on the terminal (unless quiet) and in the TensorBoard log.
void report_progress(FitOptions& fit_options, bool quiet, ProgressBar& bar,
                     std::optional<TensorBoardLog>& board) {
  if (!quiet) fit_options.on_progress = [&bar](const TrainProgress& p) { bar.on_progress(p); };
  if (!quiet || board) {
    fit_options.on_epoch = [&bar, &board, quiet](const EpochReport& e) {
      if (!quiet) bar.on_epoch(e);
      if (board) board->add_epoch(e);
    };
  }
}

// How many of the users and items the feature files gave a row.
void report_features(const FitResult& result) {
  for (const char* side : {"user", "item"}) {
    const auto& t = result.model.model().training;
    const std::string key = fmt::format("{}_features", side);
    if (!t.contains(key)) continue;
    fmt::print(stderr, "{} features {} from {}: {} of the {} {}s have a row\n",
               side == std::string("user") ? "User" : "Item", t[key]["columns"].get<std::string>(),
               t[key]["source"].get<std::string>(),
               t[key]["known_with_features"].get<std::int64_t>(),
               t[key]["known"].get<std::int64_t>(), side);
  }
}

// What becomes of a trained model: its indexes, the TensorBoard projector,
// the model file, the metrics.
void keep(const TrainFlags& f, const FitOptions& fit_options, FitResult& result,
          std::optional<TensorBoardLog>& board) {
  const bool quiet = f.progress.quiet;
  if (f.index) {
    // Built before anything is saved: the model and its index are written together.
    if (!quiet) fmt::print(stderr, "Building the approximate indexes (latent index's defaults)\n");
    HnswParams params;
    if (const auto threads = fit_options.params.get("threads")) {
      params.threads = parse_param<int>("threads", *threads);
    }
    result.model.build_index(params);
    const ModelSpec* spec = find_model_spec(result.model.model().kind);
    if (spec == nullptr || spec->item_similarity) result.model.build_similar_index(params);
  }
  if (board) {
    // Written (to temporary files) before anything is saved, so that a
    // failure here leaves no model file either.
    for (const auto& note : board->add_projector(result.model.model())) {
      if (!quiet) fmt::print(stderr, "latent: note: {}\n", note);
    }
  }
  if (!f.out.empty()) {
    result.model.save(f.out);
    if (!quiet) fmt::print(stderr, "Saved {} model to {}\n", result.model.model().kind, f.out);
  } else if (f.metrics_out.empty() && f.tensorboard.empty()) {
    // Nothing kept at all: say so, --quiet or not, rather than drop the model silently.
    fmt::print(stderr, "latent: warning: the model was not saved; give --out FILE to keep it\n");
  }
  if (!f.metrics_out.empty()) {
    Output out(f.metrics_out);
    out.print("{}\n", result.metrics_json().dump(2));
    out.commit();
  }
  if (board) {
    board->commit();
    if (!quiet) {
      fmt::print(stderr, "Wrote TensorBoard logs to {} (view: tensorboard --logdir {})\n",
                 f.tensorboard, f.tensorboard);
    }
  }
}

void run(const TrainFlags& f) {
  const bool quiet = f.progress.quiet;
  std::optional<ModelData> init;
  FitOptions fit_options = fit_options_of(f, init);
  // Made before the data is read too: a log directory that cannot be made
  // fails at once. Removed again if anything below fails.
  std::optional<TensorBoardLog> board;
  if (!f.tensorboard.empty()) board.emplace(f.tensorboard);

  // The features first: a wrong column fails before the data is read.
  const FeatureFlags::Loaded features = f.features.load(f.data.options().data);
  features.give_to(fit_options);
  check_fit_options(fit_options);
  const Dataset data = load_dataset(features.with_context(f.data.options()));
  if (!quiet) {
    fmt::print(stderr, "Loaded {}: {} pairs, {} users, {} items\n", data.description,
               data.interactions.size(), data.users.num_known(), data.items.num_known());
  }
  ProgressBar bar = f.progress.bar();
  report_progress(fit_options, quiet, bar, board);
  // A given split: train on its train part, test metrics on its test part.
  std::optional<Split> split;
  if (!f.split_in.empty()) {
    split = read_split(f.split_in, data.users, data.items);
    fit_options.split = &*split;
  }
  FitResult result = fit(data, fit_options);
  if (!quiet) report_features(result);
  keep(f, fit_options, result, board);
}

// The command line as every rank must share it: each given flag as "--NAME"
// and its value (CLI11's config of the command, one "name=value" a line).
std::vector<std::string> given_flags(const CLI::App& cmd) {
  std::vector<std::string> flags;
  std::istringstream config(cmd.config_to_str());
  for (std::string line; std::getline(config, line);) {
    const auto eq = line.find('=');
    if (line.empty() || eq == std::string::npos) continue;
    flags.push_back("--" + line.substr(0, eq));
    std::string value = line.substr(eq + 1);
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
      value = value.substr(1, value.size() - 2);
    }
    flags.push_back(value);
  }
  return flags;
}

// A run of several ranks (mpirun, or --distributed: communicator.hpp). The
// ranks first agree that they run the same build with the same flags on the
// same files; then each reads its share of the files, they train together
// (fit_distributed), and rank 0 alone reports progress and keeps the model
// as one process would. The final barrier holds the others until rank 0 has
// saved: a failure there stops every rank with its error.
void run_ranks(Communicator& comm, const TrainFlags& f, const CLI::App& cmd) {
  const LoadOptions load = f.data.options();
  RankFingerprint mine{binary_identity(), given_flags(cmd), {}};
  for (const auto& file : data_files(load.data)) mine.files.push_back(file.string());
  // The feature files every rank reads whole: one a rank lacks shows here.
  for (const std::string& file : {f.features.user_file, f.features.item_file}) {
    if (!file.empty() && std::filesystem::is_regular_file(file)) mine.files.push_back(file);
  }
  check_ranks_agree(comm, mine);
  if (!f.init.empty()) {
    throw CollectiveError(ErrorKind::Unsupported,
                          fmt::format("a warm start (--init) does not run on {} ranks: not "
                                      "yet; run latent train as one process for it",
                                      comm.size()));
  }
  const bool root = comm.rank() == 0;
  const bool quiet = f.progress.quiet || !root;
  std::optional<ModelData> no_init;
  if (!f.split_in.empty()) {
    throw CollectiveError(ErrorKind::Unsupported,
                          fmt::format("a given split (--split-in) does not run on {} ranks yet; "
                                      "run latent train as one process for it",
                                      comm.size()));
  }
  // Every rank reads the whole feature files (the same files: their names
  // are among the flags every rank shares).
  FeatureFlags::Loaded features;
  FitOptions fit_options = [&] {
    try {
      FitOptions o = fit_options_of(f, no_init);
      features = f.features.load(load.data);
      features.give_to(o);
      check_fit_options(o);
      return o;
    } catch (const Error& e) {
      throw CollectiveError(e.kind(), e.what());  // the same flags on every rank
    }
  }();
  std::optional<TensorBoardLog> board;
  if (root && !f.tensorboard.empty()) board.emplace(f.tensorboard);
  ProgressBar bar = f.progress.bar();
  report_progress(fit_options, quiet, bar, board);
  if (!quiet) {
    fmt::print(stderr, "Training {} on {} ranks, each reading its share of {}\n", f.model.model,
               comm.size(), load.data.string());
  }
  std::optional<FitResult> result = fit_distributed(comm, features.with_context(load), fit_options);
  if (result && !quiet) report_features(*result);
  if (result) keep(f, fit_options, *result, board);
  comm.barrier();
}

void run_command(const TrainFlags& f, const CLI::App& cmd) {
  Communicator comm = Communicator::world(f.distributed);
  if (!comm.distributed()) {
    run(f);
    return;
  }
  const int code = run_on_every_rank(
      comm, [&] { run_ranks(comm, f, cmd); },
      [](const std::string& message) { fmt::print(stderr, "latent: error: {}\n", message); });
  if (code != 0) throw Reported{code};
}

}  // namespace

void add_train(CLI::App& app) {
  auto f = std::make_shared<TrainFlags>();
  auto* cmd = app.add_subcommand("train", "Train a model on interactions and save it");
  f->data.add_to(*cmd);
  f->features.add_to(*cmd);
  f->model.add_to(*cmd);
  auto* test_fraction = cmd->add_option("--test-fraction", f->test_fraction,
                                        "Fraction of pairs held out (seeded) for test metrics")
                            ->capture_default_str();
  cmd->add_option("--split-in", f->split_in,
                  "Train on DIR/train.csv and report test metrics on DIR/test.csv (latent split "
                  "or evaluate --split-out writes them; ids of --data) instead of --test-fraction")
      ->excludes(test_fraction);
  cmd->add_option("--out", f->out, "Model file to write");
  cmd->add_option("--metrics-out", f->metrics_out,
                  "JSON file for per-epoch loss and train/test top-K accuracy");
  cmd->add_option("--tensorboard", f->tensorboard,
                  "Directory for TensorBoard logs: per-epoch scalars (DIR/train, "
                  "DIR/validation) and the embedding projector's files");
  cmd->add_option("--init", f->init,
                  "Warm start from this saved model: its ids keep their rows and vectors, new ids "
                  "are appended, its parameters are the defaults (docs/warm-start.md)");
  cmd->add_option("--update", f->update,
                  "With --init: all (train the model on the new data) or users (recompute only "
                  "the users, keeping the items: ALS, EASE)")
      ->capture_default_str();
  cmd->add_flag("--index", f->index,
                "Also build the approximate indexes (latent index with its defaults; "
                "docs/big-catalogs.md) and save them beside the model (--out)");
  cmd->add_flag("--distributed", f->distributed,
                "Train as one rank of an MPI run (mpirun, srun): without it, a run that Open "
                "MPI's mpirun started with more than one rank is one too (docs/distributed.md)");
  f->progress.add_to(*cmd);
  cmd->callback([f, cmd] { run_command(*f, *cmd); });
}

}  // namespace latent::cli
