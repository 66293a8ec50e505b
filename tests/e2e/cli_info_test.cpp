// latent info: readable for a person (one field per line, the first ids of
// each vocabulary, the history as a table), one JSON document with --json.

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "e2e/cli_runner.hpp"

namespace latent::test {
namespace {

class CliInfo : public ::testing::Test {
 protected:
  void SetUp() override {
    csv_ = (dir_ / "ratings.csv").string();
    write_bytes(csv_,
                "user,item,rating\nu1,\"Item, with comma\",5\nu2,b,4\nu2,c,2\nu3,c,5\nu1,b,4\n"
                "u3,b,5\nu4,c,4\n");
    model_ = (dir_ / "m.latent").string();
    const auto r = run_cli({"train", "--data", csv_, "--model", "bpr", "--epochs", "30", "--dim",
                            "4", "--out", model_, "--quiet"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  TempDir dir_;
  std::string csv_;
  std::string model_;
};

TEST_F(CliInfo, ReadsLikeAPage) {
  const auto r = run_cli({"info", model_});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const auto& line : lines(r.out)) EXPECT_LT(line.size(), 160u) << line;
  EXPECT_NE(r.out.find("users: 4 (+1 OOV row), items: 3 (+1 OOV row), dim: 5\n"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("user ids: \"[UNK]\", \"u1\", \"u2\", \"u3\", \"u4\"\n"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("\"Item, with comma\""), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("config:\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("  epochs          30\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("  learning_rate   0.02\n"), std::string::npos) << r.out;  // not 0.0199999
  EXPECT_NE(r.out.find("  epoch     seconds  sampled_accuracy\n"), std::string::npos) << r.out;
  // 30 epochs: the first five, a line saying how many are left out, the last five.
  EXPECT_NE(r.out.find("(20 epochs not shown; all of them: latent info --json)"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("\n     30  "), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("\n     15  "), std::string::npos) << r.out;
}

// An item-based model says what its item-to-item term holds: EASE's is
// dense, items x items (4 rows with OOV: 16 weights of 4 bytes).
TEST_F(CliInfo, ShowsAnItemToItemTerm) {
  const std::string ease = (dir_ / "ease.latent").string();
  ASSERT_EQ(
      run_cli({"train", "--data", csv_, "--model", "ease", "--out", ease, "--quiet"}).exit_code, 0);
  auto r = run_cli({"info", ease});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("dim: 0\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("item-to-item term: dense weights, 16 (0.0 MiB)\n"), std::string::npos)
      << r.out;
  r = run_cli({"info", ease, "--json"});
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["item_to_item"]["storage"], "dense");
  EXPECT_EQ(j["item_to_item"]["bytes"], 64);
  EXPECT_EQ(j["format_version"], 3);
  // A model without one says nothing of it.
  EXPECT_EQ(run_cli({"info", model_}).out.find("item-to-item"), std::string::npos);
  EXPECT_TRUE(
      nlohmann::json::parse(run_cli({"info", model_, "--json"}).out)["item_to_item"].is_null());
}

TEST_F(CliInfo, JsonIsOneDocumentWithEverything) {
  const auto r = run_cli({"info", model_, "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["kind"], "bpr");
  EXPECT_EQ(j["users"]["known"], 4);
  EXPECT_EQ(j["users"]["oov_rows"], 1);
  EXPECT_EQ(j["items"]["first_ids"][1], "Item, with comma");
  EXPECT_EQ(j["config"]["epochs"], 30);
  EXPECT_EQ(j["training"]["epochs"].size(), 30u);
  EXPECT_EQ(j["seen_pairs"], 7);
}

TEST(CliInfoSystem, DescribesTheMachine) {
  auto r = run_cli({"info", "--system"}, "env -u OMP_WAIT_POLICY -u GOMP_SPINCOUNT ");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* part : {"cpu: ", "dense products: OpenBLAS", "latent's own loops: ", "threads: ",
                           "waiting threads: spin 10000 times, then sleep"}) {
    EXPECT_NE(r.out.find(part), std::string::npos) << part << "\n" << r.out;
  }
  // It reports the kernels OpenBLAS really runs: the user's OPENBLAS_CORETYPE is theirs to set.
  r = run_cli({"info", "--system"}, "OPENBLAS_CORETYPE=Prescott ");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("Prescott kernels (as OPENBLAS_CORETYPE asks)"), std::string::npos) << r.out;

  // Left to itself, latent runs kernels that fit the CPU, whoever chose them: no warning.
  r = run_cli({"info", "--system", "--json"}, "env -u OPENBLAS_CORETYPE ");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_TRUE(j.contains("blas_kernels"));
  EXPECT_TRUE(j["blas_chosen_by"] == "OpenBLAS" || j["blas_chosen_by"] == "latent") << j;
  EXPECT_EQ(j["warnings"], nlohmann::json::array()) << j;
}

TEST(CliInfoSystem, ModelOrSystemNotNeitherNorBoth) {
  auto r = run_cli({"info"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("give a model file (or --system for this machine)"), std::string::npos)
      << r.err;
  r = run_cli({"info", "m.latent", "--system"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("not both"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace latent::test
