// End-to-end tests of `latent tune` on a small generated CSV: the trial
// table, the best line, the saved model, determinism and the error paths.

#include <fmt/format.h>

#include <gtest/gtest.h>

#include "e2e/cli_runner.hpp"
#include "fixtures/tiny_dataset.hpp"

namespace latent::test {
namespace {

// The output without timings: the last column of table rows and the
// "(... s training ...)" part of the best line.
std::string without_seconds(const std::string& out) {
  std::string kept;
  for (const auto& line : lines(out)) {
    if (line.rfind("best:", 0) == 0) {
      kept += line.substr(0, line.rfind(" (")) + "\n";
    } else {
      kept += line.substr(0, line.find_last_not_of(' ', line.rfind(' ')) + 1) + "\n";
    }
  }
  return kept;
}

class CliTune : public ::testing::Test {
 protected:
  void SetUp() override {
    csv_ = (dir_ / "events.csv").string();
    write_bytes(csv_, two_group_csv());
  }
  TempDir dir_;
  std::string csv_;
};

TEST_F(CliTune, ListsTrialsReportsBestSavesAndRepeats) {
  const auto model = (dir_ / "best.latent").string();
  const auto json = (dir_ / "tune.json").string();
  const std::vector<std::string> args{"tune",    "--data",    csv_,
                                      "--model", "als",       "--dim",
                                      "8",       "--grid",    "regularization=0.5,2,8",
                                      "--grid",  "alpha=1,5", "--trials",
                                      "4",       "--k",       "5",
                                      "--out",   model,       "--json",
                                      json,      "--quiet"};
  const auto r = run_cli(args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  const auto ls = lines(r.out);
  // Header, 4 of the 6 grid points, the best line.
  ASSERT_EQ(ls.size(), 6u) << r.out;
  for (const char* column : {"trial", "alpha", "regularization", "ndcg@5", "seconds"}) {
    EXPECT_NE(ls[0].find(column), std::string::npos) << ls[0];
  }
  for (int t = 1; t <= 4; ++t) {
    EXPECT_EQ(ls[static_cast<std::size_t>(t)].find_first_not_of(' '),
              ls[static_cast<std::size_t>(t)].find(std::to_string(t)))
        << ls[static_cast<std::size_t>(t)];
  }
  EXPECT_EQ(ls[5].rfind("best: alpha=", 0), 0u) << ls[5];
  for (const char* part : {"dim=8", "regularization=", "validation ndcg@5", "test: ndcg@5",
                           "recall@5", "precision@5", "map@5", "hit_rate@5", "coverage"}) {
    EXPECT_NE(ls[5].find(part), std::string::npos) << part << " missing from " << ls[5];
  }

  const std::string j = read_bytes(json);
  for (const char* part :
       {"\"trials\"", "\"best\"", "\"test\"", "\"validation\"", "\"search_space\""}) {
    EXPECT_NE(j.find(part), std::string::npos) << part;
  }

  const auto info = run_cli({"info", model});
  ASSERT_EQ(info.exit_code, 0) << info.err;
  EXPECT_NE(info.out.find("als"), std::string::npos) << info.out;
  const auto rec = run_cli({"recommend", model, "--user", "3", "--k", "3", "--exclude-seen"});
  ASSERT_EQ(rec.exit_code, 0) << rec.err;
  EXPECT_EQ(lines(rec.out).size(), 4u) << rec.out;

  const auto again = run_cli(args);
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(without_seconds(again.out), without_seconds(r.out));
}

TEST_F(CliTune, SmallGridIsTriedWholeAndFixedParamsStay) {
  const auto r = run_cli({"tune", "--data", csv_, "--model", "ease", "--grid",
                          "regularization=1,10,100", "--trials", "20", "--k", "5", "--quiet"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(lines(r.out).size(), 5u) << r.out;  // header, 3 trials, best

  // A fixed parameter leaves the default grid: ALS then searches alpha only.
  const auto fixed = run_cli({"tune", "--data", csv_, "--model", "als", "--dim", "4",
                              "--regularization", "2", "--grid", "alpha=1,3", "--k", "5"});
  ASSERT_EQ(fixed.exit_code, 0) << fixed.err;
  const auto ls = lines(fixed.out);
  ASSERT_EQ(ls.size(), 4u) << fixed.out;
  EXPECT_EQ(ls[0].find("regularization"), std::string::npos) << ls[0];
  EXPECT_NE(ls[3].find("regularization=2"), std::string::npos) << ls[3];
  EXPECT_NE(fixed.err.find("Tuning als"), std::string::npos) << fixed.err;

  // Nothing to search: one trial with the defaults.
  const auto pop =
      run_cli({"tune", "--data", csv_, "--model", "popularity", "--k", "5", "--quiet"});
  ASSERT_EQ(pop.exit_code, 0) << pop.err;
  const auto pl = lines(pop.out);
  ASSERT_EQ(pl.size(), 3u) << pop.out;
  EXPECT_EQ(pl[2].rfind("best: (defaults)", 0), 0u) << pl[2];
}

TEST_F(CliTune, BadInputGivesOneErrorLine) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases{
      {{"--model", "als", "--metric", "auc"}, "\"auc\""},
      {{"--model", "als", "--grid", "regularization"}, "--grid \"regularization\""},
      {{"--model", "als", "--grid", "regularization="}, "--grid \"regularization=\""},
      {{"--model", "als", "--grid", "regularization=1,,2"}, "empty value"},
      {{"--model", "als", "--grid", "colour=1,2"}, "colour"},
      {{"--model", "ease", "--alpha", "3"}, "alpha"},
      {{"--model", "als", "--grid", "alpha=1,x"}, "\"x\""},
      {{"--model", "als", "--grid", "alpha=1", "--grid", "alpha=2"}, "twice"},
      {{"--model", "als", "--trials", "0"}, "trials"},
      {{"--model", "als", "--k", "500"}, "500"},
      {{"--model", "als", "--validation-fraction", "1.5"}, "1.5"},
      {{"--model", "svd"}, "svd"},
  };
  for (const auto& [extra, expected] : cases) {
    std::vector<std::string> args{"tune", "--data", csv_, "--quiet"};
    args.insert(args.end(), extra.begin(), extra.end());
    const auto r = run_cli(args);
    EXPECT_EQ(r.exit_code, 1) << expected << ": " << r.err;
    EXPECT_EQ(lines(r.err).size(), 1u) << r.err;
    EXPECT_NE(r.err.find(expected), std::string::npos) << expected << " missing from " << r.err;
  }
}

}  // namespace
}  // namespace latent::test
