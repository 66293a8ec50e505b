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
    similar_index_ = model_ + ".similar.index";
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
  CliResult similar(std::vector<std::string> extra) {
    std::vector<std::string> args{"similar", model_, "--item", "12", "--k", "10"};
    args.insert(args.end(), extra.begin(), extra.end());
    return run_cli(args);
  }
  CliResult pairs(std::vector<std::string> extra) {
    std::vector<std::string> args{"pairs", model_, "--threshold", "0.995"};
    args.insert(args.end(), extra.begin(), extra.end());
    return run_cli(args);
  }
  std::string csv_, model_, index_, similar_index_;
};

TEST_F(CliIndex, BuiltShownAndSearched) {
  auto r = run_cli({"index", model_, "--threads", "1", "--check-users", "300"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("hnsw index for recommend of ", 0), 0u) << r.out;
  EXPECT_NE(r.out.find(" items (m 16, ef_construction 200, ef 64) built in "), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("hnsw index for similar items and pairs of "), std::string::npos) << r.out;
  EXPECT_NE(
      r.out.find("recommend: recall@10 against the exact search on 300 of the model's users: "),
      std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("similar: recall@10 against the exact search on 300 of the model's items: "),
            std::string::npos)
      << r.out;
  ASSERT_TRUE(fs::exists(index_));
  ASSERT_TRUE(fs::exists(similar_index_));

  r = run_cli({"info", model_});
  EXPECT_NE(r.out.find("index: hnsw (m 16, ef_construction 200, ef 64, "), std::string::npos)
      << r.out;
  const auto j = nlohmann::json::parse(run_cli({"info", model_, "--json"}).out);
  EXPECT_EQ(j["index"]["type"], "hnsw");
  EXPECT_EQ(j["index"]["file"], index_);
  EXPECT_EQ(j["similar_index"]["type"], "hnsw");
  EXPECT_EQ(j["similar_index"]["file"], similar_index_);
  EXPECT_NE(r.out.find("similar-items index: hnsw (m 16, ef_construction 200, ef 64, "),
            std::string::npos)
      << r.out;

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

TEST_F(CliIndex, SimilarItemsAndPairsSearchTheirIndex) {
  ASSERT_EQ(run_cli({"index", model_, "--threads", "1", "--check-users", "0"}).exit_code, 0);
  // At full effort the index gives the exact search's lines.
  const auto exact = similar({"--exact"});
  ASSERT_EQ(exact.exit_code, 0) << exact.err;
  EXPECT_EQ(lines(exact.out).size(), 11u);
  const auto full = similar({"--ef", "5000"});
  ASSERT_EQ(full.exit_code, 0) << full.err;
  EXPECT_EQ(full.out, exact.out);
  const auto usual = similar({});
  ASSERT_EQ(usual.exit_code, 0) << usual.err;
  EXPECT_EQ(lines(usual.out).size(), 11u);
  EXPECT_TRUE(usual.err.empty()) << usual.err;

  const auto all_pairs = pairs({"--exact"});
  ASSERT_EQ(all_pairs.exit_code, 0) << all_pairs.err;
  EXPECT_GT(lines(all_pairs.out).size(), 10u);
  const auto found = pairs({"--ef", "3000"});
  ASSERT_EQ(found.exit_code, 0) << found.err;
  EXPECT_EQ(found.out, all_pairs.out);
  const auto out = (dir_ / "pairs.csv").string();
  const auto written = pairs({"--out", out});
  ASSERT_EQ(written.exit_code, 0) << written.err;
  EXPECT_NE(written.out.find("found through the similar-items index"), std::string::npos)
      << written.out;

  for (const char* bad : {"0", "-1"}) {
    auto r = similar({"--ef", bad});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(
        r.err.find("--ef must be positive (candidates kept per item), got " + std::string(bad)),
        std::string::npos)
        << r.err;
    r = pairs({"--ef", bad});
    EXPECT_EQ(r.exit_code, 1);
  }

  // A damaged one: said, and the exact search answers.
  std::string bytes = read_bytes(similar_index_);
  bytes[bytes.size() / 2] ^= 0x5a;
  write_bytes(similar_index_, bytes);
  const auto damaged = similar({});
  ASSERT_EQ(damaged.exit_code, 0) << damaged.err;
  EXPECT_NE(damaged.err.find("latent: warning: similar items search every item: their index is "
                             "not used: " +
                             similar_index_ + ": not a valid latent index: checksum mismatch"),
            std::string::npos)
      << damaged.err;
  EXPECT_EQ(damaged.out, exact.out);

  // --no-similar: the recommendations' index alone, the other removed.
  const auto r = run_cli({"index", model_, "--threads", "1", "--check-users", "0", "--no-similar"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(fs::exists(similar_index_));
  EXPECT_TRUE(fs::exists(index_));
  EXPECT_NE(run_cli({"info", model_}).out.find("similar-items index: none"), std::string::npos);
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
  EXPECT_NE(run_cli({"info", model_}).out.find("index: not used (recommendations read every item)"),
            std::string::npos);

  // Retrained into the same file: the old model's index goes with it.
  ASSERT_EQ(run_cli({"index", model_, "--threads", "1", "--check-users", "0"}).exit_code, 0);
  ASSERT_TRUE(fs::exists(similar_index_));
  train();
  EXPECT_FALSE(fs::exists(index_));
  EXPECT_FALSE(fs::exists(similar_index_));
  EXPECT_TRUE(recommend({}).err.empty());
}

TEST_F(CliIndex, TrainBuildsItWithTheModel) {
  const auto other = (dir_ / "with-index.latent").string();
  const auto r = run_cli({"train", "--data", csv_, "--model", "bpr", "--dim", "8", "--epochs", "2",
                          "--threads", "1", "--index", "--out", other});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("Building the approximate indexes"), std::string::npos) << r.err;
  ASSERT_TRUE(fs::exists(other + ".index"));
  ASSERT_TRUE(fs::exists(other + ".similar.index"));
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
  ASSERT_TRUE(fs::exists(similar_index_));
  r = run_cli({"index", model_, "--remove"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("recommendations search every item again"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("similar items and pairs search every item again"), std::string::npos)
      << r.out;
  EXPECT_FALSE(fs::exists(index_));
  EXPECT_FALSE(fs::exists(similar_index_));
  r = run_cli({"index", model_, "--remove"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("has no index"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace latent::test
