// `latent evaluate --test-file`: train on all of --data, score on a given
// test file (NGCF's and LightGCN's protocol), here on a tiny user-lines pair
// (the training file gzip-compressed) whose figures are worked out by hand.

#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "e2e/cli_runner.hpp"
#include "gzip_bytes.hpp"

namespace latent::test {
namespace {

class CliTestFile : public ::testing::Test {
 protected:
  void SetUp() override {
    train_ = (dir_ / "train.txt.gz").string();
    test_ = (dir_ / "test.txt").string();
    // Popularity: a and b 3 pairs, c 2, d 1, e none (only in the test
    // file); ties go to the lower row, so every user's ranking, its
    // training items left out, is a b c d e in that order.
    write_bytes(train_, gzip("u1 a b c\nu2 a b\nu3 a d\nu4 b c\n"));
    write_bytes(test_, "u1 d\nu2 c e\nu3 b\nu4 a\n");
  }
  std::vector<std::string> evaluate(std::vector<std::string> more) {
    std::vector<std::string> args = {"evaluate",   "--data",  train_,       "--format",
                                     "user-lines", "--model", "popularity", "-q"};
    args.insert(args.end(), more.begin(), more.end());
    return args;
  }
  TempDir dir_;
  std::string train_, test_;
};

TEST_F(CliTestFile, TrainsOnTheDataAndScoresTheTestFile) {
  const auto json = (dir_ / "eval.json").string();
  const CliResult r = run_cli(evaluate({"--test-file", test_, "--k", "1,2", "--json", json}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // Top 1: d, c, b, a: a hit for everyone. Top 2 of u2: c d, one of its two
  // test items: recall (1 + 1/2 + 1 + 1) / 4 = 0.875 at both k, and NDCG@2
  // (3 + 1 / (1 + 1/log2(3))) / 4 = 0.9033.
  EXPECT_NE(r.out.find("     1  0.8750     1.0000  1.0000"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("     2  0.8750     0.5000  0.9033"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("users 4, test pairs 5, coverage 1.0000, train items excluded"),
            std::string::npos)
      << r.out;
  const nlohmann::json j = nlohmann::json::parse(slurp(json));
  EXPECT_EQ(j["data"], "user-lines at " + train_ + " with test file " + test_);
  EXPECT_EQ(j["train_pairs"], 9);
  EXPECT_EQ(j["test_pairs"], 5);
  EXPECT_EQ(j["users"], 4);
  EXPECT_NEAR(j["at_k"][1]["ndcg"].get<double>(), 0.9032867981913646, 1e-12);
}

TEST_F(CliTestFile, WritesTheSplitItReadWithSplitOut) {
  const auto out = dir_ / "split";
  const CliResult r =
      run_cli(evaluate({"--test-file", test_, "--k", "2", "--split-out", out.string()}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(slurp(out / "test.csv"), "user,item\nu1,d\nu2,c\nu2,e\nu3,b\nu4,a\n");
}

TEST_F(CliTestFile, SplitFlagsAndUntrainedUsersAreErrors) {
  for (const std::string flag : {"--split", "--test-fraction", "--last-k", "--split-in"}) {
    const std::string value = flag == "--split"           ? "random"
                              : flag == "--test-fraction" ? "0.3"
                              : flag == "--last-k"        ? "2"
                                                          : dir_.path().string();
    const CliResult r = run_cli(evaluate({"--test-file", test_, flag, value}));
    EXPECT_EQ(r.exit_code, 1) << flag;
    EXPECT_EQ(r.err, "latent: error: " + flag +
                         " chooses how to split --data, and --test-file gives the test part "
                         "instead of a split: use one or the other\n");
  }
  const auto stranger = (dir_ / "stranger.txt").string();
  write_bytes(stranger, "u1 d\nu9 a\n");
  const CliResult r = run_cli(evaluate({"--test-file", stranger}));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "latent: error: " + stranger +
                       ": line 2: user \"u9\" is not in the training file " + train_ +
                       " (1 such test user in all; every test user needs training data)\n");
  const auto missing = (dir_ / "missing.txt").string();
  EXPECT_NE(run_cli(evaluate({"--test-file", missing})).err.find(missing + ": no such file"),
            std::string::npos);
}

}  // namespace
}  // namespace latent::test
