// latent evaluate: split a data set (or take a given test file), train a
// model on the train part, and score its top-K lists on the test part
// (Recall, Precision, NDCG, MAP, HitRate, FactorizedTopK, coverage).
// latent split: write such a split.
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>

#include <latent/dataset.hpp>
#include <latent/error.hpp>
#include <latent/evaluation.hpp>
#include <latent/fit.hpp>
#include <latent/progress.hpp>
#include <latent/split.hpp>

#include "commands.hpp"
#include "flags.hpp"
#include "output.hpp"

namespace latent::cli {

namespace {

std::vector<int> parse_ks(const std::string& text) {
  std::vector<int> ks;
  std::stringstream in(text);
  for (std::string part; std::getline(in, part, ',');) {
    std::size_t used = 0;
    int k = 0;
    try {
      k = std::stoi(part, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != part.size() || part.empty()) {
      throw Error(ErrorKind::InvalidArgument,
                  fmt::format("--k \"{}\": \"{}\" is not an integer", text, part));
    }
    ks.push_back(k);
  }
  return ks;
}

struct EvaluateFlags {
  DataFlags data;
  FeatureFlags features;
  ModelFlags model;
  SplitFlags split;
  std::string test_file;
  RankingFlags ranking;
  std::string ks = "10";
  bool no_exclude_train = false;
  std::string json;
  std::string out;
  int threads = 0;
  ProgressFlags progress;
};

// The data and its split: --data and --test-file read together, or --data
// split as the split flags say.
TrainTestData load_and_split(const EvaluateFlags& f, const LoadOptions& load, std::uint64_t seed) {
  if (f.test_file.empty()) {
    Dataset data = load_dataset(load);
    Split split = f.split.make(data, seed);
    return {std::move(data), std::move(split)};
  }
  TrainTestData loaded = load_train_test(load, f.test_file);
  if (!f.split.split_out.empty()) {
    write_split(f.split.split_out, loaded.split, loaded.data.users, loaded.data.items);
  }
  return loaded;
}

void evaluate_command(const EvaluateFlags& f) {
  FitOptions fit_options;
  fit_options.model = f.model.model;
  fit_options.params = f.model.params();
  check_model_params(fit_options.model, fit_options.params);
  // The features first: a wrong column fails before the data is read.
  const FeatureFlags::Loaded features = f.features.load(f.data.options().data);
  features.give_to(fit_options);
  check_fit_options(fit_options);
  EvaluationOptions eval;
  eval.ks = parse_ks(f.ks);
  eval.exclude_train = !f.no_exclude_train;
  eval.threads = f.threads;

  f.split.spec(0);  // the method name is checked before the data is read
  if (!f.test_file.empty()) f.split.refuse_choosers("--test-file");
  f.ranking.check(f.data);
  const TrainTestData loaded =
      load_and_split(f, features.with_context(f.data.options()), seed_of(fit_options.params));
  const Dataset& data = loaded.data;
  const Split& split = loaded.split;
  eval.also_excluded = f.ranking.also_excluded(data);
  fit_options.split = &split;
  ProgressBar bar = f.progress.bar();
  if (!f.progress.quiet) {
    fmt::print(stderr, "Loaded {}: {} train and {} test pairs\n", data.description,
               split.train.size(), split.test.size());
    fit_options.on_progress = [&](const TrainProgress& p) { bar.on_progress(p); };
    fit_options.on_epoch = [&](const EpochReport& e) { bar.on_epoch(e); };
  }
  const FitResult fitted = fit(data, fit_options);
  const ModelData& m = fitted.model.model();
  const EvaluationResult result = evaluate(m, split.train, split.test, eval);
  fmt::print("{} ({:.2f} s training)\n{}", fitted.model.model().kind, fitted.train_seconds,
             result.to_table());
  if (!f.json.empty()) {
    nlohmann::json j = result.to_json();
    j["model"] = m.kind;
    j["config"] = m.config;
    j["train_seconds"] = fitted.train_seconds;
    j["train_pairs"] = split.train.size();
    j["data"] = data.description;
    Output out(f.json);
    out.print("{}\n", j.dump(2));
    out.commit();
  }
  if (!f.out.empty()) fitted.model.save(f.out);
}

struct SplitCommandFlags {
  DataFlags data;
  SplitFlags split;
  std::uint64_t seed = 42;
  std::string out_dir;
};

void split_command(const SplitCommandFlags& f) {
  const Dataset data = load_dataset(f.data.options());
  const Split split = f.split.make(data, f.seed);
  write_split(f.out_dir, split, data.users, data.items);
  fmt::print("{} train and {} test interactions written to {}/train.csv and test.csv\n",
             split.train.size(), split.test.size(), f.out_dir);
}

}  // namespace

void add_evaluate(CLI::App& app) {
  auto f = std::make_shared<EvaluateFlags>();
  auto* cmd = app.add_subcommand("evaluate",
                                 "Split (or take --test-file), train on the train part, and score "
                                 "top-K lists on the test part");
  f->data.add_to(*cmd);
  f->features.add_to(*cmd);
  f->model.add_to(*cmd);
  f->split.add_to(*cmd, true);
  cmd->add_option("--test-file", f->test_file,
                  "Train on all of --data and score on this file (same format and column flags) "
                  "instead of splitting");
  cmd->add_option("--k", f->ks, "Cut-offs, comma-separated (e.g. 5,10,20)")->capture_default_str();
  cmd->add_flag("--no-exclude-train", f->no_exclude_train,
                "Rank the user's training items too (as TFRS does)");
  f->ranking.add_to(*cmd);
  cmd->add_option("--json", f->json, "Also write the results as JSON to this file");
  cmd->add_option("--out", f->out, "Also save the trained model");
  cmd->add_option("--eval-threads", f->threads, "Threads for scoring (0: all cores)");
  f->progress.add_to(*cmd);
  cmd->callback([f] { evaluate_command(*f); });
}

void add_split(CLI::App& app) {
  auto f = std::make_shared<SplitCommandFlags>();
  auto* cmd = app.add_subcommand("split", "Split a data set and write train.csv and test.csv");
  f->data.add_to(*cmd);
  f->split.add_to(*cmd, false);
  cmd->add_option("--seed", f->seed, "Seed of the split")->capture_default_str();
  cmd->add_option("--context-cols", f->data.load.context_cols,
                  "Columns of --data to keep in both files as each pair's context, comma-"
                  "separated (what --context-features reads after --split-in)")
      ->delimiter(',');
  cmd->add_option("--out-dir", f->out_dir, "Directory for train.csv and test.csv")->required();
  cmd->callback([f] { split_command(*f); });
}

}  // namespace latent::cli
