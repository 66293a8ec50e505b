// latent tune: split a data set into train and test, search a model's
// hyper-parameters on a validation split of the train part only, retrain
// the best on the whole train part and score it on the test part, which
// took no part in the choice.
#include <algorithm>
#include <cstdio>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>

#include <latent/dataset.hpp>
#include <latent/error.hpp>
#include <latent/evaluation.hpp>
#include <latent/fit.hpp>
#include <latent/split.hpp>
#include <latent/tune.hpp>

#include "commands.hpp"
#include "flags.hpp"
#include "output.hpp"

namespace latent::cli {

namespace {

struct TuneFlags {
  DataFlags data;
  ModelFlags model;
  std::vector<std::string> grid;
  int trials = 20;
  std::string metric = "ndcg";
  int k = 10;
  SplitFlags split;
  RankingFlags ranking;
  double validation_fraction = 0.2;
  std::string out;
  std::string json;
  int threads = 0;
  bool quiet = false;
};

// "NAME=V1,V2,..." -> (NAME, [V1, V2, ...]).
std::pair<std::string, std::vector<std::string>> parse_grid(const std::string& text) {
  const auto eq = text.find('=');
  const auto bad = [&](const std::string& why) {
    return Error(ErrorKind::InvalidArgument,
                 fmt::format("--grid \"{}\": {}; expected NAME=V1,V2,... (e.g. regularization=10,50)",
                             text, why));
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

nlohmann::json params_json(const Params& p) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [name, value] : p.values()) j[name] = value;
  return j;
}

const MetricsAtK& at_k(const EvaluationResult& r, int k) {
  for (const auto& m : r.at_k) {
    if (m.k == k) return m;
  }
  return r.at_k.back();  // unreachable: k is always evaluated
}

void tune_command(const TuneFlags& f) {
  const std::uint64_t seed = f.model.seed_or(42);
  TuneOptions options;
  options.model = f.model.model;
  options.fixed = f.model.params();
  options.trials = f.trials;
  options.seed = seed;
  options.metric = f.metric;
  options.k = f.k;
  options.eval.threads = f.threads;
  // The validation split gets its own seed: with the outer split's, each
  // user's validation draw would follow the same random stream as their
  // test draw.
  options.validation = SplitSpec{SplitMethod::PerUser, f.validation_fraction, 1, seed + 1};
  if (!(f.validation_fraction > 0 && f.validation_fraction < 1)) {
    throw Error(ErrorKind::InvalidArgument,
                fmt::format("--validation-fraction {} is outside (0, 1)", f.validation_fraction));
  }
  // The default grid, less what the user fixed, with each --grid replacing
  // (or adding) one name.
  options.space = default_search_space(options.model);
  for (const auto& [name, value] : options.fixed.values()) options.space.values.erase(name);
  std::set<std::string> given;
  for (const auto& g : f.grid) {
    auto [name, values] = parse_grid(g);
    if (!given.insert(name).second) {
      throw Error(ErrorKind::InvalidArgument, fmt::format("--grid {} is given twice", name));
    }
    options.space.values[name] = std::move(values);
  }
  f.split.spec(seed);  // the method name is checked before the data is read
  // Every option is checked before the data is read, so a typo fails at once.
  check_tune_options(options);
  f.ranking.check(f.data);

  const Dataset data = load_dataset(f.data.options());
  const Split split = f.split.make(data, seed);
  options.eval.also_excluded = f.ranking.also_excluded(data);
  const std::uint64_t grid_size = options.space.size();
  const std::size_t n_trials = std::min<std::uint64_t>(grid_size, static_cast<std::uint64_t>(f.trials));
  const std::string metric_name = fmt::format("{}@{}", f.metric, f.k);
  if (!f.quiet) {
    fmt::print(stderr,
               "Loaded {}: {} train and {} test pairs (the test pairs are not used for choosing)\n"
               "Tuning {}: {} of {} grid points, by {} on a per-user {} validation split of the "
               "train pairs\n",
               data.description, split.train.size(), split.test.size(), options.model, n_trials,
               grid_size, metric_name, f.validation_fraction);
  }

  // One aligned row per trial, printed as it finishes.
  std::vector<std::pair<std::string, std::size_t>> columns{{"trial", 5}};
  for (const auto& [name, values] : options.space.values) {
    std::size_t w = name.size();
    for (const auto& v : values) w = std::max(w, v.size());
    columns.emplace_back(name, w);
  }
  columns.emplace_back(metric_name, std::max<std::size_t>(metric_name.size(), 6));
  columns.emplace_back("seconds", 7);
  std::string header;
  for (const auto& [name, w] : columns) header += fmt::format("{}{:>{}}", header.empty() ? "" : "  ", name, w);
  options.on_trial = [&](const Trial& t) {
    // The header comes with the first row, so an error before any trial
    // leaves stdout empty.
    if (t.index == 0) fmt::print("{}\n", header);
    std::string row = fmt::format("{:>{}}", t.index + 1, columns[0].second);
    std::size_t c = 1;
    for (const auto& [name, value] : t.params.values()) {
      row += fmt::format("  {:>{}}", value, columns[c++].second);
    }
    row += fmt::format("  {:>{}.4f}", t.value, columns[c++].second);
    row += fmt::format("  {:>{}.2f}", t.train_seconds, columns[c].second);
    fmt::print("{}\n", row);
    std::fflush(stdout);
  };
  const TuneResult tuned = tune(data, split.train, options);
  const Trial& best = tuned.trials[tuned.best];

  // The honest figure: the best parameters retrained on the whole train
  // part and scored on the test part.
  FitOptions fo;
  fo.model = options.model;
  fo.params = tuned.best_params;
  fo.split = &split;
  const FitResult fitted = fit(data, fo);
  const ModelData& m = fitted.model.model();
  EvaluationOptions eval = options.eval;
  eval.ks = {f.k};
  const EvaluationResult test =
      evaluate(m.user_embeddings, m.item_embeddings, split.train, split.test, eval);
  const MetricsAtK& tk = at_k(test, f.k);

  if (!f.json.empty()) {
    nlohmann::json trials = nlohmann::json::array();
    for (const auto& t : tuned.trials) {
      trials.push_back({{"trial", t.index + 1},
                        {"params", params_json(t.params)},
                        {"value", t.value},
                        {"train_seconds", t.train_seconds},
                        {"validation", t.result.to_json()}});
    }
    nlohmann::json space = nlohmann::json::object();
    for (const auto& [name, values] : options.space.values) space[name] = values;
    nlohmann::json j{
        {"model", options.model},
        {"data", data.description},
        {"metric", f.metric},
        {"k", f.k},
        {"seed", seed},
        {"split", {{"method", f.split.method}, {"test_fraction", f.split.fraction}, {"last_k", f.split.last_k},
                   {"train_pairs", split.train.size()}, {"test_pairs", split.test.size()}}},
        {"validation", {{"method", "per-user"}, {"fraction", f.validation_fraction},
                        {"seed", options.validation.seed}, {"fit_pairs", tuned.fit_pairs},
                        {"validation_pairs", tuned.validation_pairs}}},
        {"fixed", params_json(options.fixed)},
        {"search_space", space},
        {"grid_size", grid_size},
        {"trials", trials},
        {"best", {{"trial", best.index + 1},
                  {"params", params_json(tuned.best_params)},
                  {"value", best.value},
                  {"config", m.config},
                  {"train_seconds", fitted.train_seconds},
                  {"test", test.to_json()}}}};
    Output out(f.json);
    fmt::print(out.file(), "{}\n", j.dump(2));
    out.commit();
  }
  if (!f.out.empty()) {
    fitted.model.save(f.out);
    if (!f.quiet) fmt::print(stderr, "Saved the best {} model to {}\n", options.model, f.out);
  }
  fmt::print(
      "best: {} (trial {}, validation {} {:.4f}); test: ndcg@{k} {:.4f} recall@{k} {:.4f} "
      "precision@{k} {:.4f} map@{k} {:.4f} hit_rate@{k} {:.4f} coverage {:.4f} ({:.2f} s "
      "training on {} pairs)\n",
      params_text(tuned.best_params), best.index + 1, metric_name, best.value, tk.ndcg, tk.recall,
      tk.precision, tk.map, tk.hit_rate, test.coverage, fitted.train_seconds, split.train.size(),
      fmt::arg("k", f.k));
}

}  // namespace

void add_tune(CLI::App& app) {
  auto f = std::make_shared<TuneFlags>();
  auto* cmd = app.add_subcommand(
      "tune",
      "Search a model's hyper-parameters on a validation split of the train part, then retrain "
      "the best and score it on the held-out test part");
  f->data.add_to(*cmd);
  f->model.add_to(*cmd);
  cmd->add_option("--grid", f->grid,
                  "NAME=V1,V2,...: candidate values of one parameter, replacing its default list "
                  "(repeatable; the model flags fix a parameter instead)");
  cmd->add_option("--trials", f->trials,
                  "At most this many fits: the whole grid when it is small enough, else a seeded "
                  "random sample of distinct grid points")
      ->capture_default_str();
  cmd->add_option("--metric", f->metric,
                  fmt::format("Metric to maximise: {}", fmt::join(tune_metric_names(), ", ")))
      ->capture_default_str();
  cmd->add_option("--k", f->k, "Cut-off of the metric")->capture_default_str();
  f->split.add_to(*cmd, true);
  cmd->add_option("--validation-fraction", f->validation_fraction,
                  "Fraction of each user's train items held out for choosing (seeded, per user)")
      ->capture_default_str();
  f->ranking.add_to(*cmd);
  cmd->add_option("--out", f->out, "Save the best parameters' model, trained on the whole train part");
  cmd->add_option("--json", f->json, "Also write every trial and the best as JSON to this file");
  cmd->add_option("--eval-threads", f->threads, "Threads for scoring (0: all cores)");
  cmd->add_flag("-q,--quiet", f->quiet, "No progress output on stderr");
  cmd->callback([f] { tune_command(*f); });
}

}  // namespace latent::cli
