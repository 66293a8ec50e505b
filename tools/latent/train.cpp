// latent train: load a data set, train a model, save it.
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>

#include <fmt/format.h>

#include <latent/dataset.hpp>
#include <latent/error.hpp>
#include <latent/fit.hpp>
#include <latent/progress.hpp>

#include "commands.hpp"
#include "output.hpp"

namespace latent::cli {

namespace {

struct TrainFlags {
  LoadOptions load;
  std::string format = "auto";
  std::string delimiter;
  bool no_header = false;
  double rating_above = 0;
  std::string item_key = "id";
  FitOptions fit;
  // Model hyper-parameters by name; only the ones given reach the model,
  // which reports any that do not apply to it.
  std::map<std::string, std::string> params;
  std::string out;
  std::string metrics_out;
  bool quiet = false;
};

// One flag per idea across models. Booleans are flags; the rest take a value.
struct ParamFlag {
  const char* name;
  const char* help;
  bool is_flag = false;
};
constexpr ParamFlag kParamFlags[] = {
    {"dim", "Embedding dimension / number of factors (default 64)"},
    {"epochs", "Passes over the training data (epochs or iterations)"},
    {"learning-rate", "Learning rate"},
    {"optimizer", "Optimizer (two-tower): adagrad, adam"},
    {"initial-accumulator", "Adagrad initial accumulator value (two-tower)"},
    {"batch-size", "Pairs per batch (two-tower)"},
    {"seed", "Seed for initialisation, shuffling and the test split (default 42)"},
    {"threads", "Threads (0: all cores)"},
    {"temperature", "Softmax temperature (two-tower)"},
    {"remove-accidental-hits", "Mask in-batch negatives that are the positive item (two-tower)", true},
    {"logq-correction", "Subtract log(item sampling probability) from the logits (two-tower)", true},
    {"hard-negatives", "Keep only the N highest-scoring in-batch negatives, 0: all (two-tower)"},
};

char parse_delimiter(const std::string& s) {
  if (s.empty()) return 0;
  if (s == "\\t" || s == "tab" || s == "\t") return '\t';
  if (s.size() == 1) return s[0];
  throw Error(ErrorKind::InvalidArgument,
              fmt::format("delimiter \"{}\" must be one character or \"tab\"", s));
}

void run(TrainFlags& f, const CLI::App& cmd) {
  f.load.format = parse_data_format(f.format);
  f.load.delimiter = parse_delimiter(f.delimiter);
  f.load.header = !f.no_header;
  if (cmd.get_option("--rating-above")->count() > 0) f.load.rating_above = f.rating_above;
  f.load.item_key = parse_item_key(f.item_key);
  for (const auto& flag : kParamFlags) {
    const auto* opt = cmd.get_option(std::string("--") + flag.name);
    if (opt->count() > 0) f.fit.params.set(flag.name, flag.is_flag ? "true" : f.params[flag.name]);
  }
  if (cmd.get_option("--no-shuffle")->count() > 0) f.fit.params.set("shuffle", "false");
  if (cmd.get_option("--no-train-metrics")->count() > 0) f.fit.params.set("train-metrics", "false");
  if (f.fit.params.has("seed")) {
    std::uint64_t seed = f.fit.split_seed;
    Params(f.fit.params).read("seed", seed);
    f.fit.split_seed = seed;
  }
  if (!(f.fit.test_fraction >= 0 && f.fit.test_fraction < 1)) {
    throw Error(ErrorKind::InvalidArgument,
                fmt::format("--test-fraction {} is outside [0, 1)", f.fit.test_fraction));
  }
  // Model and parameters are checked on a one-pair data set before the real
  // data is read, so a typo fails in milliseconds, not after loading.
  check_model_params(f.fit.model, f.fit.params);

  const Dataset data = load_dataset(f.load);
  if (!f.quiet) {
    fmt::print(stderr, "Loaded {}: {} pairs, {} users, {} items\n", data.description,
               data.interactions.size(), data.users.num_known(), data.items.num_known());
  }
  ProgressBar bar(stderr);
  if (!f.quiet) {
    f.fit.on_progress = [&](const TrainProgress& p) { bar.on_progress(p); };
    f.fit.on_epoch = [&](const EpochReport& e) { bar.on_epoch(e); };
  }
  const FitResult result = fit(data, f.fit);
  if (!f.out.empty()) {
    result.model.save(f.out);
    if (!f.quiet) fmt::print(stderr, "Saved {} model to {}\n", result.model.model().kind, f.out);
  }
  if (!f.metrics_out.empty()) {
    Output out(f.metrics_out);
    fmt::print(out.file(), "{}\n", result.metrics_json().dump(2));
    out.commit();
  }
}

}  // namespace

void add_train(CLI::App& app) {
  auto f = std::make_shared<TrainFlags>();
  auto* cmd = app.add_subcommand("train", "Train a model on interactions and save it");
  cmd->add_option("--data", f->load.data,
                  "Data: a MovieLens directory (ml-100k, ml-latest) or a CSV/TSV file")
      ->required();
  cmd->add_option("--format", f->format, "Data format: auto, ml-100k, ml-latest, csv")
      ->capture_default_str();
  cmd->add_option("--delimiter", f->delimiter,
                  "CSV field delimiter (one character, or 'tab'); sniffed when omitted");
  cmd->add_flag("--no-header", f->no_header, "The CSV file has no header row");
  cmd->add_option("--user-col", f->load.user_col, "User column: a header name or 0-based number");
  cmd->add_option("--item-col", f->load.item_col, "Item column: a header name or 0-based number");
  cmd->add_option("--rating-col", f->load.rating_col,
                  "Rating column: a header name or 0-based number");
  cmd->add_option("--timestamp-col", f->load.timestamp_col,
                  "Timestamp column: a header name or 0-based number");
  cmd->add_option("--weight-col", f->load.weight_col,
                  "Weight column (scales each pair's loss): a header name or 0-based number");
  cmd->add_option("--items", f->load.items_file,
                  "Item metadata CSV/TSV joined on the item id (titles)");
  cmd->add_option("--items-id-col", f->load.items_id_col, "Item id column of --items");
  cmd->add_option("--items-title-col", f->load.items_title_col, "Title column of --items");
  cmd->add_option("--rating-above", f->rating_above,
                  "Keep rows with rating > T (all rows when omitted)");
  cmd->add_option("--item-key", f->item_key, "Items are keyed by: id, title")
      ->capture_default_str();
  cmd->add_option("--model", f->fit.model, fmt::format("Model: {}", fmt::join(model_names(), ", ")))
      ->capture_default_str();
  for (const auto& flag : kParamFlags) {
    const std::string name = std::string("--") + flag.name;
    if (flag.is_flag) {
      cmd->add_flag(name)->description(flag.help);
    } else {
      cmd->add_option(name, f->params[flag.name], flag.help);
    }
  }
  cmd->add_flag("--no-shuffle")->description("Keep the pair order in every epoch (two-tower)");
  cmd->add_flag("--no-train-metrics")
      ->description("Skip the running top-K accuracy during training (two-tower)");
  cmd->add_option("--test-fraction", f->fit.test_fraction,
                  "Fraction of pairs held out (seeded) for test metrics")
      ->capture_default_str();
  cmd->add_option("--out", f->out, "Model file to write");
  cmd->add_option("--metrics-out", f->metrics_out,
                  "JSON file for per-epoch loss and train/test top-K accuracy");
  cmd->add_flag("-q,--quiet", f->quiet, "No progress output");
  cmd->callback([f, cmd] { run(*f, *cmd); });
}

}  // namespace latent::cli
