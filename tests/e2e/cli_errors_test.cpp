// Bad input to the CLI: one clear error line naming the file, line, column
// or value, a non-zero exit code, and no output file left behind.

#include <fstream>

#include <gtest/gtest.h>

#include "e2e/cli_runner.hpp"

namespace latent::test {
namespace {

void write(const std::filesystem::path& p, const std::string& text) { write_bytes(p, text); }

// Expects failure with exactly one "latent: error:" line containing `needle`.
void expect_error(const CliResult& r, const std::string& needle) {
  EXPECT_NE(r.exit_code, 0);
  EXPECT_LT(r.exit_code, 64) << "crashed or internal error: " << r.err;
  const auto ls = lines(r.err);
  ASSERT_FALSE(ls.empty()) << "no error message";
  EXPECT_EQ(ls.size(), 1u) << r.err;
  EXPECT_NE(r.err.find(needle), std::string::npos)
      << "message: " << r.err << "\nwanted: " << needle;
}

class CliErrors : public ::testing::Test {
 protected:
  void SetUp() override {
    csv_ = (dir_ / "ratings.csv").string();
    write(csv_, "user,item,rating\n1,10,5\n2,10,4\n2,11,2\n3,12,5\n1,12,4\n");
    model_ = (dir_ / "model.latent").string();
    auto r = run_cli(
        {"train", "--data", csv_, "--epochs", "1", "--dim", "8", "--out", model_, "--quiet"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  TempDir dir_;
  std::string csv_;
  std::string model_;
};

TEST_F(CliErrors, MissingDataFile) {
  const auto missing = (dir_ / "nope.csv").string();
  expect_error(run_cli({"train", "--data", missing, "--quiet"}), missing);
}

TEST_F(CliErrors, UnknownColumnNamesTheColumn) {
  expect_error(run_cli({"train", "--data", csv_, "--user-col", "customer", "--quiet"}), "customer");
}

TEST_F(CliErrors, NonNumericRatingNamesFileLineAndValue) {
  const auto bad = (dir_ / "bad.csv").string();
  write(bad, "user,item,rating\n1,10,5\n2,10,abc\n");
  const auto r = run_cli({"train", "--data", bad, "--rating-above", "3", "--quiet"});
  expect_error(r, "abc");
  EXPECT_NE(r.err.find("bad.csv"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("3"), std::string::npos) << r.err;
}

TEST_F(CliErrors, EmptyAfterFiltering) {
  expect_error(run_cli({"train", "--data", csv_, "--rating-above", "10", "--quiet"}),
               "rating > 10");
}

TEST_F(CliErrors, InvalidOptionsNameTheValue) {
  expect_error(run_cli({"train", "--data", csv_, "--dim", "0", "--quiet"}), "dim = \"0\"");
  expect_error(run_cli({"train", "--data", csv_, "--learning-rate", "-1", "--quiet"}), "-1");
  expect_error(run_cli({"train", "--data", csv_, "--model", "svd", "--quiet"}), "two-tower");
  expect_error(run_cli({"train", "--data", csv_, "--optimizer", "sgd", "--quiet"}), "sgd");
  expect_error(run_cli({"train", "--data", csv_, "--test-fraction", "1.5", "--quiet"}), "1.5");
  expect_error(run_cli({"recommend", model_, "--user", "1", "--k", "0"}), "k must be > 0");
  expect_error(run_cli({"pairs", model_, "--threshold", "2"}), "2");
}

// A step size or confidence far too large overflows the vectors to inf or
// NaN; such a model would recommend nothing, so no model is written.
TEST_F(CliErrors, DivergedTrainingIsRefusedAndWritesNoModel) {
  const auto out = (dir_ / "diverged.latent").string();
  auto r = run_cli({"train", "--data", csv_, "--model", "two-tower", "--learning-rate", "1e30",
                    "--epochs", "2", "--dim", "8", "--out", out, "--quiet"});
  expect_error(r, "model \"two-tower\": the training diverged (non-finite values in the");
  EXPECT_NE(r.err.find("lower learning-rate"), std::string::npos) << r.err;
  r = run_cli(
      {"train", "--data", csv_, "--model", "als", "--alpha", "1e38", "--out", out, "--quiet"});
  expect_error(r, "model \"als\": the training diverged");
  EXPECT_NE(r.err.find("lower alpha or raise regularization"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(out));
}

TEST_F(CliErrors, UnknownUserAndItem) {
  expect_error(run_cli({"recommend", model_, "--user", "999"}), "\"999\"");
  expect_error(run_cli({"similar", model_, "--item", "424242"}), "\"424242\"");
}

TEST_F(CliErrors, TruncatedModelFile) {
  const std::string bytes = slurp(model_);
  const auto cut = (dir_ / "cut.latent").string();
  write(cut, bytes.substr(0, bytes.size() / 2));
  expect_error(run_cli({"recommend", cut, "--user", "1"}), cut);
}

TEST_F(CliErrors, CorruptedModelFile) {
  std::string bytes = slurp(model_);
  bytes[bytes.size() - 3] ^= 0x5a;
  const auto bad = (dir_ / "bad.latent").string();
  write(bad, bytes);
  expect_error(run_cli({"info", bad}), "checksum");
}

TEST_F(CliErrors, FutureFormatVersion) {
  std::string bytes = slurp(model_);
  const std::string from = "\"format_version\":\"1\"";
  const auto pos = bytes.find(from);
  ASSERT_NE(pos, std::string::npos);
  bytes.replace(pos, from.size(), "\"format_version\":\"9\"");
  const auto future = (dir_ / "future.latent").string();
  write(future, bytes);
  expect_error(run_cli({"info", future}), "version 9");
}

TEST_F(CliErrors, FailedTrainingLeavesNoModelFile) {
  const auto out = dir_ / "never.latent";
  run_cli({"train", "--data", csv_, "--rating-above", "10", "--out", out.string(), "--quiet"});
  EXPECT_FALSE(std::filesystem::exists(out));
  // An existing model is not touched by a failed run.
  const std::string before = slurp(model_);
  run_cli({"train", "--data", csv_, "--rating-above", "10", "--out", model_, "--quiet"});
  EXPECT_EQ(slurp(model_), before);
}

TEST_F(CliErrors, EveryCommandHasHelp) {
  for (const char* cmd :
       {"train", "recommend", "similar", "pairs", "embeddings", "scores", "info", "quickstart"}) {
    auto r = run_cli({cmd, "--help"});
    EXPECT_EQ(r.exit_code, 0) << cmd;
    EXPECT_NE(r.out.find("Usage"), std::string::npos) << cmd << ": " << r.out;
  }
}

}  // namespace
}  // namespace latent::test
