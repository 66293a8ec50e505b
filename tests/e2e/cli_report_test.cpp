// `latent report` through the CLI on the tiny two-group data set: the page
// and its JSON, titles with markup kept as data, evaluation files checked
// and named, and no output left behind by a failure. (The page drawn in a
// browser: report_render.py.)

#include <filesystem>
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <gtest/gtest.h>

#include "e2e/cli_runner.hpp"
#include "fixtures/tiny_dataset.hpp"

namespace latent::test {
namespace {

class CliReport : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto csv = (dir_ / "events.csv").string();
    write_bytes(csv, two_group_csv());
    std::string items = "item,title\n";
    for (int i = 1; i <= 20; ++i) {
      items += i == 3 ? "3,\"</script><script>alert(1)</script> & \"\"3\"\"\"\n"
                      : fmt::format("{},Item {}\n", i, i);
    }
    const auto items_file = (dir_ / "items.csv").string();
    write_bytes(items_file, items);
    data_ = {"--data",         csv,    "--items",           items_file,
             "--items-id-col", "item", "--items-title-col", "title"};
    auto args = data_;
    args.insert(args.begin(), "train");
    for (const char* a : {"--model", "two-tower", "--dim", "8", "--epochs", "3", "--batch-size",
                          "32", "--test-fraction", "0.2", "--quiet", "--out"}) {
      args.emplace_back(a);
    }
    args.push_back(model_);
    const auto r = run_cli(args);
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  std::string evaluation(const std::string& model) {
    const auto json = (dir_ / (model + ".json")).string();
    auto args = data_;
    args.insert(args.begin(), "evaluate");
    for (const char* a : {"--k", "2,5", "--quiet", "--model"}) args.emplace_back(a);
    args.push_back(model);
    args.emplace_back("--json");
    args.push_back(json);
    const auto r = run_cli(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return json;
  }
  TempDir dir_;
  std::vector<std::string> data_;
  std::string model_ = (dir_ / "m.latent").string();
};

TEST_F(CliReport, WritesThePageAndItsData) {
  const auto als = evaluation("als");
  const auto pop = evaluation("popularity");
  const auto page = dir_ / "report.html";
  const auto json = dir_ / "report.json";
  const auto r =
      run_cli({"report", model_, "--evaluation", als, "--evaluation", pop, "--out", page.string(),
               "--json", json.string(), "--k", "3", "--max-map-items", "12"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("3 epochs, 2 evaluations, coverage@3"), std::string::npos) << r.out;
  const auto report = nlohmann::json::parse(read_bytes(json));
  EXPECT_EQ(report["history"].size(), 3u);
  EXPECT_EQ(report["evaluations"][0]["label"], "als");
  EXPECT_EQ(report["evaluations"][1]["result"]["model"], "popularity");
  EXPECT_EQ(report["coverage"]["k"], 3);
  EXPECT_EQ(report["coverage"]["users"], 30);
  EXPECT_EQ(report["map"]["items"], 12);
  EXPECT_EQ(report["map"]["capped"], true);
  EXPECT_EQ(report["popularity"]["known_items"], 20);

  const std::string html = read_bytes(page);
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  // The title's markup is data: only the page's own two </script> tags.
  std::size_t count = 0;
  for (auto at = html.find("</script"); at != std::string::npos; at = html.find("</script", at + 1))
    ++count;
  EXPECT_EQ(count, 2u);
  EXPECT_NE(html.find("\\u003c/script\\u003e\\u003cscript\\u003ealert(1)"), std::string::npos);
  EXPECT_EQ(html.find("<script src"), std::string::npos);
  EXPECT_EQ(html.find("<link"), std::string::npos);
}

TEST_F(CliReport, RefusesAFileThatIsNotAnEvaluationNamingIt) {
  const auto page = dir_ / "report.html";
  const auto bad = (dir_ / "events.csv").string();  // a CSV, not evaluate's JSON
  auto r = run_cli({"report", model_, "--evaluation", bad, "--out", page.string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find(fmt::format("evaluation file {}: not valid JSON", bad)), std::string::npos)
      << r.err;
  EXPECT_FALSE(std::filesystem::exists(page));

  const auto metrics = (dir_ / "metrics.json").string();  // JSON, but train's metrics
  write_bytes(metrics, R"({"model": "als", "epochs": []})");
  r = run_cli({"report", model_, "--evaluation", metrics, "--out", page.string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find(fmt::format("evaluation file {}: not a result of `latent evaluate --json`",
                                   metrics)),
            std::string::npos)
      << r.err;
  EXPECT_FALSE(std::filesystem::exists(page));
}

TEST_F(CliReport, FailuresNameTheFileAndLeaveNothing) {
  const auto missing_dir = dir_ / "no" / "such" / "report.html";
  auto r = run_cli({"report", model_, "--out", missing_dir.string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find(missing_dir.string()), std::string::npos) << r.err;

  // A file-size limit hit halfway through the page: an error naming it,
  // and neither the page nor a temporary file left.
  const auto page = dir_ / "report.html";
  r = run_cli({"report", model_, "--out", page.string()}, "ulimit -f 4; ");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find(page.string()), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(page));
  for (const auto& entry : std::filesystem::directory_iterator(dir_.path())) {
    EXPECT_EQ(entry.path().filename().string().find(".report.html"), std::string::npos)
        << entry.path();
  }

  r = run_cli({"report", (dir_ / "none.latent").string(), "--out", page.string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("none.latent"), std::string::npos) << r.err;
  r = run_cli({"report", model_, "--out", page.string(), "--max-map-items", "0"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("--max-map-items must be >= 1"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace latent::test
