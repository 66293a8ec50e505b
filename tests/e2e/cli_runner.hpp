#pragma once
// Runs the real `latent` binary as a user would, capturing exit code,
// stdout and stderr.

#include <sys/wait.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "test_support.hpp"

namespace latent::test {

struct CliResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

inline std::string shell_quote(const std::string& s) {
  // Single quotes, with each embedded quote closed, escaped and reopened.
  std::string q(1, '\'');
  for (char c : s) {
    if (c == '\'') {
      q.append({'\'', '\\', '\'', '\''});
    } else {
      q.push_back(c);
    }
  }
  q.push_back('\'');
  return q;
}

inline std::string slurp(const std::filesystem::path& p) { return read_bytes(p); }

// `shell_prefix` runs in the same shell first: "ulimit -f 64; " limits the
// size of every file the command writes (how the tests fill a disk).
inline CliResult run_cli(const std::vector<std::string>& args,
                         const std::string& shell_prefix = "") {
  static int counter = 0;
  const auto base = std::filesystem::temp_directory_path() /
                    ("latent-cli-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
  std::string cmd = shell_prefix + shell_quote(cli_path().string());
  for (const auto& a : args) {
    cmd.push_back(' ');
    cmd.append(shell_quote(a));
  }
  cmd.append(" >").append(shell_quote(base.string() + ".out"));
  cmd.append(" 2>").append(shell_quote(base.string() + ".err"));
  CliResult r;
  const int status = std::system(cmd.c_str());
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = slurp(base.string() + ".out");
  r.err = slurp(base.string() + ".err");
  std::filesystem::remove(base.string() + ".out");
  std::filesystem::remove(base.string() + ".err");
  return r;
}

inline std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// One model trained and evaluated on the same split of `data`: `latent
// split` (random, 20% test) into dir/split, `latent train --split-in` with
// --metrics-out, then `latent evaluate --split-in` with --json and
// `evaluate_flags`, both with `model_flags`. A JSON file a run did not
// write is null.
struct TrainedAndEvaluated {
  CliResult trained, evaluated;
  nlohmann::json metrics;     // train's --metrics-out
  nlohmann::json evaluation;  // evaluate's --json
  std::filesystem::path split;
};

inline TrainedAndEvaluated train_and_evaluate(const std::filesystem::path& dir,
                                              const std::string& data,
                                              const std::vector<std::string>& model_flags,
                                              const std::vector<std::string>& evaluate_flags = {}) {
  TrainedAndEvaluated r;
  r.split = dir / "split";
  r.trained = run_cli({"split", "--data", data, "--split", "random", "--test-fraction", "0.2",
                       "--out-dir", r.split.string()});
  if (r.trained.exit_code != 0) return r;
  const auto json_of = [](const std::filesystem::path& p) {
    return std::filesystem::exists(p) ? nlohmann::json::parse(slurp(p)) : nlohmann::json();
  };
  std::vector<std::string> train{"train",
                                 "--data",
                                 data,
                                 "--split-in",
                                 r.split.string(),
                                 "--metrics-out",
                                 (dir / "metrics.json").string(),
                                 "-q"};
  train.insert(train.end(), model_flags.begin(), model_flags.end());
  r.trained = run_cli(train);
  r.metrics = json_of(dir / "metrics.json");
  std::vector<std::string> evaluate{"evaluate",
                                    "--data",
                                    data,
                                    "--split-in",
                                    r.split.string(),
                                    "--json",
                                    (dir / "evaluation.json").string()};
  evaluate.insert(evaluate.end(), model_flags.begin(), model_flags.end());
  evaluate.insert(evaluate.end(), evaluate_flags.begin(), evaluate_flags.end());
  r.evaluated = run_cli(evaluate);
  r.evaluation = json_of(dir / "evaluation.json");
  return r;
}

}  // namespace latent::test
