// End-to-end tests of `latent index` and of the commands that use a model's
// index: built, shown, searched (and --exact / --ef), refused when damaged
// with the exact search still answering, removed, and replaced with the model.

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "e2e/cli_runner.hpp"

namespace latent::test {
namespace {

namespace fs = std::filesystem;

class CliIndex : public ::testing::Test {
 protected:
  void SetUp() override {
    csv_ = (dir_ / "d.csv").string();
    model_ = (dir_ / "m.latent").string();
    index_ = model_ + ".index";
    ASSERT_EQ(run_cli({"synth", "--out", csv_, "--users", "800", "--items", "3000", "--pairs",
                       "30000", "--seed", "4"})
                  .exit_code,
              0);
    train();
  }
  void train() {
    const auto r = run_cli({"train", "--data", csv_, "--model", "als", "--dim", "16", "--epochs",
                            "3", "--threads", "1", "--out", model_, "--quiet"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  CliResult recommend(std::vector<std::string> extra) {
    std::vector<std::string> args{"recommend", model_, "--user",        "7", "--user", "300",
                                  "--k",       "10",   "--exclude-seen"};
    args.insert(args.end(), extra.begin(), extra.end());
    return run_cli(args);
  }
  TempDir dir_;
  std::string csv_, model_, index_;
};

TEST_F(CliIndex, BuiltShownAndSearched) {
  auto r = run_cli({"index", model_, "--threads", "1", "--check-users", "300"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("hnsw index of ", 0), 0u) << r.out;
  EXPECT_NE(r.out.find(" items (m 16, ef_construction 200, ef 64) built in "), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("recall@10 against the exact search on 300 of the model's users: "),
            std::string::npos)
      << r.out;
  ASSERT_TRUE(fs::exists(index_));

  r = run_cli({"info", model_});
  EXPECT_NE(r.out.find("index: hnsw (m 16, ef_construction 200, ef 64, "), std::string::npos)
      << r.out;
  const auto j = nlohmann::json::parse(run_cli({"info", model_, "--json"}).out);
  EXPECT_EQ(j["index"]["type"], "hnsw");
  EXPECT_EQ(j["index"]["file"], index_);

  // At full effort the index gives the exact search's lines, scores included.
  const auto exact = recommend({"--exact"});
  ASSERT_EQ(exact.exit_code, 0) << exact.err;
  const auto full = recommend({"--ef", "5000"});
  ASSERT_EQ(full.exit_code, 0) << full.err;
  EXPECT_EQ(full.out, exact.out);
  const auto usual = recommend({});
  ASSERT_EQ(usual.exit_code, 0) << usual.err;
  EXPECT_EQ(lines(usual.out).size(), 21u);
  EXPECT_TRUE(usual.err.empty()) << usual.err;

  for (const char* bad : {"0", "-1"}) {
    r = recommend({"--ef", bad});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(
        r.err.find("--ef must be positive (candidates kept per user), got " + std::string(bad)),
        std::string::npos)
        << r.err;
  }
}

TEST_F(CliIndex, ADamagedIndexIsRefusedAndTheExactSearchAnswers) {
  ASSERT_EQ(run_cli({"index", model_, "--threads", "1", "--check-users", "0"}).exit_code, 0);
  std::string bytes = read_bytes(index_);
  bytes[bytes.size() / 2] ^= 0x5a;
  write_bytes(index_, bytes);
  const auto damaged = recommend({});
  ASSERT_EQ(damaged.exit_code, 0) << damaged.err;
  EXPECT_NE(damaged.err.find("latent: warning: searching every item: the index is not used: " +
                             index_ + ": not a valid latent index: checksum mismatch"),
            std::string::npos)
      << damaged.err;
  EXPECT_EQ(damaged.out, recommend({"--exact"}).out);
  EXPECT_NE(run_cli({"info", model_}).out.find("index: not used (every search reads every item)"),
            std::string::npos);

  // Retrained into the same file: the old model's index goes with it.
  ASSERT_EQ(run_cli({"index", model_, "--threads", "1", "--check-users", "0"}).exit_code, 0);
  train();
  EXPECT_FALSE(fs::exists(index_));
  EXPECT_TRUE(recommend({}).err.empty());
}

TEST_F(CliIndex, TrainBuildsItWithTheModel) {
  const auto other = (dir_ / "with-index.latent").string();
  const auto r = run_cli({"train", "--data", csv_, "--model", "bpr", "--dim", "8", "--epochs", "2",
                          "--threads", "1", "--index", "--out", other});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("Building the approximate index"), std::string::npos) << r.err;
  ASSERT_TRUE(fs::exists(other + ".index"));
  EXPECT_NE(run_cli({"info", other}).out.find("index: hnsw (m 16"), std::string::npos);
}

TEST_F(CliIndex, RemovedAndBadRequestsLeaveNothingBehind) {
  auto r = run_cli({"index", model_, "--type", "ivf-pq"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("--type ivf-pq: this build has one index type, hnsw"), std::string::npos)
      << r.err;
  r = run_cli({"index", model_, "--m", "1"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("m must be in [2, 256], got 1"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(index_));
  r = run_cli({"index", (dir_ / "missing.latent").string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("missing.latent"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists((dir_ / "missing.latent.index")));

  ASSERT_EQ(run_cli({"index", model_, "--threads", "1", "--check-users", "0"}).exit_code, 0);
  r = run_cli({"index", model_, "--remove"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("searches every item again"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(index_));
  r = run_cli({"index", model_, "--remove"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("has no index"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace latent::test
