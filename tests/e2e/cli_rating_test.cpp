// End-to-end tests of the ranking task through the CLI (issue 16): train
// with --rating-weight on a given split (--split-in), read the test RMSE,
// score pairs with latent predict, and the errors of what cannot work.

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <latent/model_file.hpp>

#include "e2e/cli_runner.hpp"

namespace latent::test {
namespace {

std::string bundled() { return bundled_data().string(); }

// The rating column (the third) of a split file's rows.
std::vector<double> ratings_of(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::string line;
  std::getline(in, line);  // user,item,rating,timestamp
  std::vector<double> r;
  while (std::getline(in, line)) {
    std::stringstream fields(line);
    std::string user, item, rating;
    std::getline(fields, user, ',');
    std::getline(fields, item, ',');
    std::getline(fields, rating, ',');
    r.push_back(std::stod(rating));
  }
  return r;
}

TEST(CliRating, TheRankingTaskPredictsTestRatingsBetterThanTheirMean) {
  TempDir dir;
  const auto split = dir.path() / "split";
  const CliResult made = run_cli({"split", "--data", bundled(), "--split", "random",
                                  "--test-fraction", "0.2", "--out-dir", split.string()});
  ASSERT_EQ(made.exit_code, 0) << made.err;
  const std::string model = (dir.path() / "m.latent").string();
  const std::string metrics = (dir.path() / "m.json").string();
  const CliResult train = run_cli({"train",
                                   "--data",
                                   bundled(),
                                   "--split-in",
                                   split.string(),
                                   "--retrieval-weight",
                                   "0",
                                   "--rating-weight",
                                   "1",
                                   "--rating-layers",
                                   "64,16",
                                   "--dim",
                                   "32",
                                   "--learning-rate",
                                   "0.1",
                                   "--batch-size",
                                   "1024",
                                   "--epochs",
                                   "3",
                                   "--threads",
                                   "2",
                                   "--out",
                                   model,
                                   "--metrics-out",
                                   metrics,
                                   "-q"});
  ASSERT_EQ(train.exit_code, 0) << train.err;

  // The baseline: every test rating predicted by the training ratings' mean.
  const std::vector<double> train_r = ratings_of(split / "train.csv");
  const std::vector<double> test_r = ratings_of(split / "test.csv");
  double mean = 0;
  for (double r : train_r) mean += r / static_cast<double>(train_r.size());
  double sse = 0;
  for (double r : test_r) sse += (r - mean) * (r - mean);
  const double mean_rmse = std::sqrt(sse / static_cast<double>(test_r.size()));

  std::ifstream in(metrics);
  const nlohmann::json j = nlohmann::json::parse(in);
  EXPECT_EQ(j["test_pairs"].get<std::size_t>(), test_r.size());
  ASSERT_TRUE(j.contains("test_rmse")) << j.dump();
  const double rmse = j["test_rmse"].get<double>();
  EXPECT_LT(rmse, mean_rmse - 0.03) << "the mean's RMSE is " << mean_rmse;
  EXPECT_TRUE(j["epochs"].back().contains("train_rmse"));

  const ModelData m = load_model(model);
  EXPECT_EQ(model_format_version(m), 5);
  ASSERT_TRUE(m.rating_head);
  EXPECT_EQ(m.rating_head->hidden, (std::vector<std::int32_t>{64, 16}));
  const CliResult info = run_cli({"info", model});
  EXPECT_NE(info.out.find("rating head: 64 -> 64 -> 16 -> 1"), std::string::npos) << info.out;

  // predict scores the test file's pairs; its RMSE is the one training reported.
  const CliResult predicted = run_cli({"predict", model, "--pairs", (split / "test.csv").string()});
  ASSERT_EQ(predicted.exit_code, 0) << predicted.err;
  const auto rows = lines(predicted.out);
  ASSERT_EQ(rows.size(), test_r.size() + 1);
  EXPECT_EQ(rows[0], "user,item,rating");
  double predicted_sse = 0;
  for (std::size_t k = 0; k < test_r.size(); ++k) {
    const double p = std::stod(rows[k + 1].substr(rows[k + 1].rfind(',') + 1));
    predicted_sse += (p - test_r[k]) * (p - test_r[k]);
  }
  EXPECT_NEAR(std::sqrt(predicted_sse / static_cast<double>(test_r.size())), rmse, 1e-3);
  // One pair by flags gives the file's score of that pair.
  const std::string first = rows[1];
  const std::string user = first.substr(0, first.find(','));
  const std::string item =
      first.substr(first.find(',') + 1, first.rfind(',') - first.find(',') - 1);
  const CliResult one = run_cli({"predict", model, "--user", user, "--item", item});
  ASSERT_EQ(one.exit_code, 0) << one.err;
  EXPECT_EQ(lines(one.out).at(1), first);
}

// evaluate reports the rating task's test RMSE beside the ranking metrics
// (the very figure train reports on the same split), and tune chooses by it:
// the smallest validation RMSE wins, features included.
TEST(CliRating, EvaluateReportsAndTuneChoosesByTheRmse) {
  TempDir dir;
  const std::vector<std::string> model_flags{
      "--rating-weight", "1",           "--rating-layers", "32", "--dim",     "16",
      "--batch-size",    "1024",        "--epochs",        "2",  "--threads", "2",
      "--item-features", "genres:multi"};
  const TrainedAndEvaluated r = train_and_evaluate(dir.path(), bundled(), model_flags);
  ASSERT_EQ(r.trained.exit_code, 0) << r.trained.err;
  ASSERT_EQ(r.evaluated.exit_code, 0) << r.evaluated.err;
  const double trained_rmse = r.metrics.at("test_rmse").get<double>();
  EXPECT_NE(r.evaluated.out.find("rmse "), std::string::npos) << r.evaluated.out;
  const nlohmann::json& ej = r.evaluation;
  EXPECT_NEAR(ej.at("rmse").get<double>(), trained_rmse, 1e-6) << ej.dump();
  EXPECT_EQ(ej.at("rated_pairs").get<std::size_t>(), ratings_of(r.split / "test.csv").size());

  std::vector<std::string> tune{"tune",
                                "--data",
                                bundled(),
                                "--split-in",
                                r.split.string(),
                                "--metric",
                                "rmse",
                                "--grid",
                                "learning-rate=0.01,0.1,0.3",
                                "--json",
                                (dir.path() / "t.json").string()};
  tune.insert(tune.end(), model_flags.begin(), model_flags.end());
  const CliResult tuned = run_cli(tune);
  ASSERT_EQ(tuned.exit_code, 0) << tuned.err;
  EXPECT_NE(tuned.out.find("test rmse "), std::string::npos) << tuned.out;
  std::ifstream t(dir.path() / "t.json");
  const nlohmann::json tj = nlohmann::json::parse(t);
  ASSERT_EQ(tj.at("trials").size(), 3u);
  double smallest = INFINITY;
  for (const auto& trial : tj.at("trials")) {
    EXPECT_NEAR(trial.at("value").get<double>(), trial.at("validation").at("rmse").get<double>(),
                1e-12);
    smallest = std::min(smallest, trial.at("value").get<double>());
  }
  EXPECT_EQ(tj.at("best").at("value").get<double>(), smallest);
  EXPECT_TRUE(tj.at("best").at("test").contains("rmse")) << tj.at("best").dump();

  // What cannot be chosen by the RMSE fails before any data is read.
  const CliResult no_task = run_cli({"tune", "--data", "/nonexistent", "--metric", "rmse"});
  EXPECT_EQ(no_task.exit_code, 1);
  EXPECT_NE(no_task.err.find("rating-weight 0 trains no rating task"), std::string::npos)
      << no_task.err;
  const CliResult als =
      run_cli({"tune", "--data", "/nonexistent", "--model", "als", "--metric", "rmse"});
  EXPECT_EQ(als.exit_code, 1);
  EXPECT_NE(als.err.find("model als predicts no ratings"), std::string::npos) << als.err;
}

TEST(CliRating, AModelWithoutARatingHeadPredictsItsRankingScores) {
  TempDir dir;
  const std::string model = (dir.path() / "m.latent").string();
  const CliResult train = run_cli({"train", "--data", bundled(), "--rating-above", "3", "--epochs",
                                   "1", "--threads", "2", "--out", model, "-q"});
  ASSERT_EQ(train.exit_code, 0) << train.err;
  const CliResult top = run_cli({"recommend", model, "--user", "1", "--k", "1"});
  ASSERT_EQ(top.exit_code, 0) << top.err;
  // user,item,score,rank
  const std::string row = lines(top.out).at(1);
  const std::string item = row.substr(2, row.find(',', 2) - 2);
  const CliResult one = run_cli({"predict", model, "--user", "1", "--item", item});
  ASSERT_EQ(one.exit_code, 0) << one.err;
  EXPECT_EQ(lines(one.out).at(0), "user,item,score");
  const std::string score = lines(one.out).at(1).substr(3 + item.size());
  EXPECT_NEAR(std::stod(score), std::stod(row.substr(3 + item.size())), 1e-4) << one.out;
}

TEST(CliRating, WhatCannotWorkIsRefused) {
  TempDir dir;
  // Pairs without ratings.
  const auto data = dir.path() / "clicks.csv";
  {
    std::ofstream out(data);
    out << "user,item\n";
    for (int u = 1; u <= 20; ++u)
      out << u << "," << u % 7 << "\n" << u << "," << u % 5 + 10 << "\n";
  }
  const CliResult unrated = run_cli({"train", "--data", data.string(), "--rating-weight", "1"});
  EXPECT_EQ(unrated.exit_code, 1);
  EXPECT_NE(unrated.err.find("needs ratings"), std::string::npos) << unrated.err;
  const CliResult nothing = run_cli({"train", "--data", data.string(), "--retrieval-weight", "0"});
  EXPECT_EQ(nothing.exit_code, 1);
  EXPECT_NE(nothing.err.find("nothing to train"), std::string::npos) << nothing.err;
  const CliResult negative = run_cli({"train", "--data", data.string(), "--rating-weight", "-1"});
  EXPECT_EQ(negative.exit_code, 1);
  EXPECT_NE(negative.err.find("rating-weight"), std::string::npos) << negative.err;
  const CliResult both = run_cli({"train", "--data", data.string(), "--split-in",
                                  dir.path().string(), "--test-fraction", "0.2"});
  EXPECT_EQ(both.exit_code, 1);
  EXPECT_NE(both.err.find("excludes"), std::string::npos) << both.err;
  const CliResult missing_split =
      run_cli({"train", "--data", data.string(), "--split-in", (dir.path() / "none").string()});
  EXPECT_EQ(missing_split.exit_code, 1);
  EXPECT_NE(missing_split.err.find("train.csv"), std::string::npos) << missing_split.err;

  const std::string model = (dir.path() / "m.latent").string();
  ASSERT_EQ(
      run_cli({"train", "--data", data.string(), "--epochs", "1", "--out", model, "-q"}).exit_code,
      0);
  const CliResult no_pairs = run_cli({"predict", model});
  EXPECT_EQ(no_pairs.exit_code, 1);
  EXPECT_NE(no_pairs.err.find("--pairs FILE"), std::string::npos) << no_pairs.err;
  const CliResult uneven = run_cli({"predict", model, "--user", "1", "--user", "2", "--item", "3"});
  EXPECT_EQ(uneven.exit_code, 1);
  EXPECT_NE(uneven.err.find("2 --user for 1 --item"), std::string::npos) << uneven.err;
  const CliResult unknown = run_cli({"predict", model, "--user", "1", "--item", "nope"});
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_NE(unknown.err.find("\"nope\""), std::string::npos) << unknown.err;
  const auto pairs = dir.path() / "pairs.csv";
  {
    std::ofstream out(pairs);
    out << "user,item\n1,1\n1,404\n";
  }
  const CliResult bad_file = run_cli({"predict", model, "--pairs", pairs.string()});
  EXPECT_EQ(bad_file.exit_code, 1);
  EXPECT_NE(bad_file.err.find("line 3"), std::string::npos) << bad_file.err;
  EXPECT_NE(bad_file.err.find("\"404\""), std::string::npos) << bad_file.err;
}

}  // namespace
}  // namespace latent::test
