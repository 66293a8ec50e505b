// `latent train --init MODEL [--update all|users]`: a warm start through the
// CLI, the saved model's kind and parameters taken over, and the refusals,
// which write nothing.

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <fmt/format.h>

#include <gtest/gtest.h>

#include "e2e/cli_runner.hpp"
#include "fixtures/tiny_dataset.hpp"

namespace latent::test {
namespace {

class CliWarmStart : public ::testing::Test {
 protected:
  void SetUp() override {
    write_bytes(old_csv_, two_group_csv());
    // New data: user 99 (group 0) and item 21, which users 1..10 have too.
    std::string csv = "user,item\n";
    for (int u = 1; u <= 10; ++u) csv += fmt::format("{},21\n", u);
    for (int i = 1; i <= 5; ++i) csv += fmt::format("99,{}\n", i);
    csv += "99,21\n";
    write_bytes(new_csv_, csv);
    write_bytes(users_csv_, "user,item\n99,1\n99,2\n99,3\n3,4\n");
    auto r = run_cli({"train", "--data", old_csv_.string(), "--model", "als", "--dim", "8",
                      "--regularization", "2", "--out", saved_.string(), "--quiet"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  TempDir dir_;
  std::filesystem::path old_csv_ = dir_ / "old.csv";
  std::filesystem::path new_csv_ = dir_ / "new.csv";
  std::filesystem::path users_csv_ = dir_ / "users.csv";
  std::filesystem::path saved_ = dir_ / "als.latent";
};

TEST_F(CliWarmStart, TakesTheSavedKindAndRecommendsTheNewIds) {
  const auto out = (dir_ / "als2.latent").string();
  auto r = run_cli(
      {"train", "--init", saved_.string(), "--data", new_csv_.string(), "--out", out, "--quiet"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto info = run_cli({"info", out, "--json"});
  ASSERT_EQ(info.exit_code, 0) << info.err;
  EXPECT_NE(info.out.find("\"kind\": \"als\""), std::string::npos) << info.out;
  EXPECT_NE(info.out.find("\"warm_start\""), std::string::npos) << info.out;
  auto rec = run_cli({"recommend", out, "--user", "99", "--k", "3", "--exclude-seen"});
  ASSERT_EQ(rec.exit_code, 0) << rec.err;
  EXPECT_EQ(lines(rec.out).size(), 4u) << rec.out;
  auto similar = run_cli({"similar", out, "--item", "21", "--k", "3"});
  ASSERT_EQ(similar.exit_code, 0) << similar.err;
  EXPECT_EQ(lines(similar.out).size(), 4u) << similar.out;
  // User 3 keeps what they saw before (items 1, 4, 5, 7, 8, 10) beside
  // their new item 21: --exclude-seen leaves all of them out.
  auto now = run_cli({"recommend", out, "--user", "3", "--k", "20", "--exclude-seen"});
  ASSERT_EQ(now.exit_code, 0) << now.err;
  const auto rows = lines(now.out);
  ASSERT_GT(rows.size(), 1u);
  for (std::size_t k = 1; k < rows.size(); ++k) {
    const auto a = rows[k].find(',');
    const std::string item = rows[k].substr(a + 1, rows[k].find(',', a + 1) - a - 1);
    for (const char* seen : {"1", "4", "5", "7", "8", "10", "21"}) EXPECT_NE(item, seen) << now.out;
  }
}

TEST_F(CliWarmStart, UpdateUsersKeepsTheItems) {
  const auto out = (dir_ / "users.latent").string();
  auto r = run_cli({"train", "--init", saved_.string(), "--update", "users", "--data",
                    users_csv_.string(), "--out", out, "--quiet"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto emb_a = dir_ / "a", emb_b = dir_ / "b";
  ASSERT_EQ(run_cli({"embeddings", saved_.string(), "--out-dir", emb_a.string()}).exit_code, 0);
  ASSERT_EQ(run_cli({"embeddings", out, "--out-dir", emb_b.string()}).exit_code, 0);
  EXPECT_EQ(read_bytes(emb_a / "item_embeddings.npy"), read_bytes(emb_b / "item_embeddings.npy"));
}

TEST_F(CliWarmStart, RefusalsAreClearAndWriteNothing) {
  const auto out = dir_ / "never.latent";
  auto other = run_cli({"train", "--init", saved_.string(), "--model", "bpr", "--data",
                        new_csv_.string(), "--out", out.string()});
  EXPECT_NE(other.exit_code, 0);
  EXPECT_NE(other.err.find(fmt::format("--init {} holds a model of kind als", saved_.string())),
            std::string::npos)
      << other.err;
  auto dim = run_cli({"train", "--init", saved_.string(), "--dim", "4", "--data", new_csv_.string(),
                      "--out", out.string()});
  EXPECT_NE(dim.exit_code, 0);
  EXPECT_NE(dim.err.find("parameter dim = 4"), std::string::npos) << dim.err;
  auto not_model = run_cli(
      {"train", "--init", old_csv_.string(), "--data", new_csv_.string(), "--out", out.string()});
  EXPECT_NE(not_model.exit_code, 0);
  EXPECT_NE(not_model.err.find(old_csv_.string()), std::string::npos) << not_model.err;
  auto new_item = run_cli({"train", "--init", saved_.string(), "--update", "users", "--data",
                           new_csv_.string(), "--out", out.string()});
  EXPECT_NE(new_item.exit_code, 0);
  EXPECT_NE(new_item.err.find("\"21\""), std::string::npos) << new_item.err;
  auto bad_update = run_cli({"train", "--init", saved_.string(), "--update", "items", "--data",
                             new_csv_.string(), "--out", out.string()});
  EXPECT_NE(bad_update.exit_code, 0);
  EXPECT_NE(bad_update.err.find("all, users"), std::string::npos) << bad_update.err;
  EXPECT_FALSE(std::filesystem::exists(out));
}

// A two-tower model with item features and layers continues through the
// CLI given the same feature flags; without them it is refused by name.
TEST_F(CliWarmStart, TowersContinueGivenTheirFeatures) {
  const auto items = dir_ / "items.csv";
  std::string csv = "item,group\n";
  for (int i = 1; i <= 21; ++i) csv += fmt::format("{},g{}\n", i, i % 2);
  write_bytes(items, csv);
  const std::vector<std::string> features{"--item-features", "group:categorical",
                                          "--item-features-file", items.string()};
  const auto towers = (dir_ / "towers.latent").string();
  std::vector<std::string> train{"train", "--data", old_csv_.string(), "--model", "two-tower",
                                 "--dim", "8",      "--layers",        "8",       "--out",
                                 towers,  "--quiet"};
  train.insert(train.end(), features.begin(), features.end());
  auto r = run_cli(train);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto out = dir_ / "towers2.latent";
  std::vector<std::string> warm{"train",           "--init", towers,       "--data",
                                new_csv_.string(), "--out",  out.string(), "--quiet"};
  auto missing = run_cli(warm);
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_NE(missing.err.find("item tower takes the item features group:categorical"),
            std::string::npos)
      << missing.err;
  EXPECT_FALSE(std::filesystem::exists(out));
  warm.insert(warm.end(), features.begin(), features.end());
  auto continued = run_cli(warm);
  ASSERT_EQ(continued.exit_code, 0) << continued.err;
  auto info = run_cli({"info", out.string(), "--json"});
  ASSERT_EQ(info.exit_code, 0) << info.err;
  EXPECT_NE(info.out.find("\"new_users\": 1"), std::string::npos) << info.out;
  auto rec = run_cli({"recommend", out.string(), "--user", "99", "--k", "3"});
  ASSERT_EQ(rec.exit_code, 0) << rec.err;
  EXPECT_EQ(lines(rec.out).size(), 4u) << rec.out;
}

TEST_F(CliWarmStart, AContextModelContinuesGivenItsContext) {
  // The old pairs have times (1, 2, ...); the new ones a million seconds on.
  std::string timed = "user,item,timestamp\n";
  const auto rows = lines(read_bytes(new_csv_));
  for (std::size_t k = 1; k < rows.size(); ++k) {
    timed += fmt::format("{},{}\n", rows[k], 1'000'000 + static_cast<std::int64_t>(k) * 1000);
  }
  write_bytes(new_csv_, timed);
  const std::vector<std::string> context{"--context-features", "timestamp:timestamp"};
  const auto saved = (dir_ / "context.latent").string();
  std::vector<std::string> train{"train", "--data", old_csv_.string(), "--model", "two-tower",
                                 "--dim", "8",      "--out",           saved,     "--quiet"};
  train.insert(train.end(), context.begin(), context.end());
  auto r = run_cli(train);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto out = dir_ / "context2.latent";
  std::vector<std::string> warm{"train",           "--init", saved,        "--data",
                                new_csv_.string(), "--out",  out.string(), "--quiet"};
  auto missing = run_cli(warm);
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_NE(missing.err.find("user tower takes the context features timestamp:timestamp"),
            std::string::npos)
      << missing.err;
  EXPECT_FALSE(std::filesystem::exists(out));
  warm.insert(warm.end(), context.begin(), context.end());
  auto continued = run_cli(warm);
  ASSERT_EQ(continued.exit_code, 0) << continued.err;
  auto info = run_cli({"info", out.string(), "--json"});
  ASSERT_EQ(info.exit_code, 0) << info.err;
  EXPECT_NE(info.out.find("\"new_users\": 1"), std::string::npos) << info.out;
  EXPECT_NE(info.out.find("\"context_features\": \"timestamp:timestamp\""), std::string::npos)
      << info.out;
  auto rec = run_cli(
      {"recommend", out.string(), "--user", "99", "--context", "timestamp=1000500", "--k", "3"});
  ASSERT_EQ(rec.exit_code, 0) << rec.err;
  EXPECT_EQ(lines(rec.out).size(), 4u) << rec.out;
}

}  // namespace
}  // namespace latent::test
