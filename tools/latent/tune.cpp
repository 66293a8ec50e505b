// latent tune: split a data set into train and test, search a model's
// hyper-parameters on a validation split of the train part only, retrain
// the best on the whole train part and score it on the test part, which
// took no part in the choice.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>

#include <latent/dataset.hpp>
#include <latent/error.hpp>
#include <latent/evaluation.hpp>
#include <latent/fit.hpp>
#include <latent/progress_meter.hpp>
#include <latent/split.hpp>
#include <latent/tune.hpp>

#include "commands.hpp"
#include "flags.hpp"
#include "output.hpp"

namespace latent::cli {

namespace {

// The library's defaults, which the flags show.
const TuneOptions& tune_defaults() {
  static const TuneOptions defaults;
  return defaults;
}

struct TuneFlags {
  DataFlags data;
  FeatureFlags features;
  ModelFlags model;
  std::vector<std::string> grid;
  int trials = tune_defaults().trials;
  std::string metric = tune_defaults().metric;
  int k = tune_defaults().k;
  SplitFlags split;
  RankingFlags ranking;
  double validation_fraction = tune_defaults().validation.fraction;
  std::string out;
  std::string json;
  int threads = 0;
  bool quiet = false;
};

// "NAME=V1,V2,..." -> (NAME, [V1, V2, ...]).
std::pair<std::string, std::vector<std::string>> parse_grid(const std::string& text) {
  const auto eq = text.find('=');
  const auto bad = [&](const std::string& why) {
    return Error(
        ErrorKind::InvalidArgument,
        fmt::format("--grid \"{}\": {}; expected NAME=V1,V2,... (e.g. regularization=10,50)", text,
                    why));
  };
  if (eq == std::string::npos) throw bad("no '='");
  std::string name = text.substr(0, eq);
  if (name.rfind("--", 0) == 0) name = name.substr(2);  // --grid --alpha=1,2 means alpha
  if (name.empty()) throw bad("no parameter name");
  std::vector<std::string> values;
  std::stringstream in(text.substr(eq + 1));
  for (std::string v; std::getline(in, v, ',');) {
    if (v.empty()) throw bad("an empty value");
    values.push_back(v);
  }
  if (values.empty() || text.back() == ',') throw bad("an empty value");
  return {name, values};
}

// "alpha=7 regularization=50", or "(defaults)" when empty.
std::string params_text(const Params& p) {
  if (p.values().empty()) return "(defaults)";
  std::vector<std::string> parts;
  for (const auto& [name, value] : p.values()) parts.push_back(name + "=" + value);
  return fmt::format("{}", fmt::join(parts, " "));
}

// The library's options from the flags; every one is checked before the
// data is read, so a typo fails at once.
TuneOptions tune_options(const TuneFlags& f) {
  TuneOptions options;
  options.model = f.model.model;
  options.fixed = f.model.params();
  options.set_seed(seed_of(options.fixed));
  options.trials = f.trials;
  options.metric = f.metric;
  options.k = f.k;
  options.eval.threads = f.threads;
  options.validation.fraction = f.validation_fraction;
  SearchSpace overrides;
  for (const auto& g : f.grid) {
    auto [name, values] = parse_grid(g);
    if (overrides.values.count(name) != 0) {
      throw Error(ErrorKind::InvalidArgument, fmt::format("--grid {} is given twice", name));
    }
    overrides.values[name] = std::move(values);
  }
  options.space = search_space_for(options.model, options.fixed, overrides);
  check_tune_options(options);
  f.split.spec(options.seed);  // the method name
  f.ranking.check(f.data);
  return options;
}

// Prints one aligned row per trial as it finishes, the header with the
// first row (so an error before any trial leaves stdout empty).
class TrialTable {
 public:
  explicit TrialTable(const TuneOptions& options)
      : metric_(smaller_is_better(options.metric)
                    ? options.metric
                    : fmt::format("{}@{}", options.metric, options.k)) {
    columns_.emplace_back("trial", 5);
    for (const auto& [name, values] : options.space.values) {
      std::size_t w = name.size();
      for (const auto& v : values) w = std::max(w, v.size());
      columns_.emplace_back(name, w);
    }
    columns_.emplace_back(metric_, std::max<std::size_t>(metric_.size(), 6));
    columns_.emplace_back("seconds", 7);
  }

  void print(const Trial& t) const {
    if (t.index == 0) {
      std::string header;
      for (const auto& [name, w] : columns_) {
        header += fmt::format("{}{:>{}}", header.empty() ? "" : "  ", name, w);
      }
      fmt::print("{}\n", header);
    }
    std::string row = fmt::format("{:>{}}", t.index + 1, columns_[0].second);
    std::size_t c = 1;
    for (const auto& [name, value] : t.params.values()) {
      row += fmt::format("  {:>{}}", value, columns_[c++].second);
    }
    row += fmt::format("  {:>{}.4f}", t.value, columns_[c++].second);
    row += fmt::format("  {:>{}.2f}", t.train_seconds, columns_[c].second);
    fmt::print("{}\n", row);
    std::fflush(stdout);
  }

  const std::string& metric() const { return metric_; }

 private:
  std::string metric_;
  std::vector<std::pair<std::string, std::size_t>> columns_;
};

void print_summary(const TuneReport& report, const TuneOptions& options,
                   const std::string& metric) {
  const Trial& best = report.search.trials[report.search.best];
  const MetricsAtK& tk = report.test.at_k.front();  // ks = {options.k}
  fmt::print(
      "best: {} (trial {}, validation {} {:.4f}); test: ndcg@{k} {:.4f} recall@{k} {:.4f} "
      "precision@{k} {:.4f} map@{k} {:.4f} hit_rate@{k} {:.4f} coverage {:.4f} ({:.2f} s "
      "training on {} pairs)\n",
      params_text(report.search.best_params), best.index + 1, metric, best.value, tk.ndcg,
      tk.recall, tk.precision, tk.map, tk.hit_rate, report.test.coverage, report.best.train_seconds,
      report.best.train_pairs, fmt::arg("k", options.k));
  if (std::isfinite(report.test.rmse)) {
    fmt::print("test rmse {:.4f} of the predicted ratings ({} pairs)\n", report.test.rmse,
               report.test.rated_pairs);
  }
}

void tune_command(const TuneFlags& f) {
  TuneOptions options = tune_options(f);
  // The features first: a wrong column fails before the data is read.
  const FeatureFlags::Loaded features = f.features.load(f.data.options().data);
  features.give_to(options);
  check_tune_options(options);
  const Dataset data = load_dataset(features.with_context(f.data.options()));
  const Split split = f.split.make(data, options.seed);
  options.eval.also_excluded = f.ranking.also_excluded(data);
  const TrialTable table(options);
  if (!f.quiet) {
    fmt::print(stderr,
               "Loaded {}: {} train and {} test pairs (the test pairs are not used for choosing)\n"
               "Tuning {}: {} of {} grid points, by {} on a per-user {} validation split of the "
               "train pairs\n",
               data.description, split.train.size(), split.test.size(), options.model,
               std::min<std::uint64_t>(options.space.size(), static_cast<std::uint64_t>(f.trials)),
               options.space.size(), table.metric(), f.validation_fraction);
  }
  ProgressMeter meter(stderr, "tune", "trials");
  const auto trials = static_cast<std::int64_t>(
      std::min<std::uint64_t>(options.space.size(), static_cast<std::uint64_t>(f.trials)));
  options.on_trial = [&](const Trial& t) {
    meter.clear();
    table.print(t);
    meter.update(t.index + 1, trials);
  };
  const TuneReport report = tune_and_test(data, split, options);
  meter.finish();

  if (!f.json.empty()) {
    nlohmann::json j = report.to_json(data, options);
    j["split"].update({{"method", f.split.method},
                       {"test_fraction", f.split.fraction},
                       {"last_k", f.split.last_k}});
    Output out(f.json);
    out.print("{}\n", j.dump(2));
    out.commit();
  }
  if (!f.out.empty()) {
    report.best.model.save(f.out);
    if (!f.quiet) fmt::print(stderr, "Saved the best {} model to {}\n", options.model, f.out);
  }
  print_summary(report, options, table.metric());
}

}  // namespace

void add_tune(CLI::App& app) {
  auto f = std::make_shared<TuneFlags>();
  auto* cmd = app.add_subcommand(
      "tune",
      "Search a model's hyper-parameters on a validation split of the train part, then retrain "
      "the best and score it on the held-out test part");
  f->data.add_to(*cmd);
  f->features.add_to(*cmd);
  f->model.add_to(*cmd);
  cmd->add_option("--grid", f->grid,
                  "NAME=V1,V2,...: candidate values of one parameter, replacing its default list "
                  "(repeatable; the model flags fix a parameter instead)");
  cmd->add_option("--trials", f->trials,
                  "At most this many fits: the whole grid when it is small enough, else a seeded "
                  "random sample of distinct grid points")
      ->capture_default_str();
  cmd->add_option("--metric", f->metric,
                  "Metric to choose by: ndcg, recall, precision, map, hit_rate (at --k; the "
                  "largest), or rmse (of the rating task's predicted ratings, --rating-weight > 0; "
                  "the smallest)")
      ->capture_default_str();
  cmd->add_option("--k", f->k, "Cut-off of the metric")->capture_default_str();
  f->split.add_to(*cmd, true);
  cmd->add_option("--validation-fraction", f->validation_fraction,
                  "Fraction of each user's train items held out for choosing (seeded, per user)")
      ->capture_default_str();
  f->ranking.add_to(*cmd);
  cmd->add_option("--out", f->out,
                  "Save the best parameters' model, trained on the whole train part");
  cmd->add_option("--json", f->json, "Also write every trial and the best as JSON to this file");
  cmd->add_option("--eval-threads", f->threads, "Threads for scoring (0: all cores)");
  cmd->add_flag("-q,--quiet", f->quiet, "No progress output on stderr");
  cmd->callback([f] { tune_command(*f); });
}

}  // namespace latent::cli
