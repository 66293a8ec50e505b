// End-to-end tests of the classic models, evaluation and fold-in through
// the CLI, on a small generated CSV (always) and MovieLens 100K (when present).

#include <fmt/format.h>

#include <gtest/gtest.h>

#include "e2e/cli_runner.hpp"
#include "fixtures/tiny_dataset.hpp"

namespace latent::test {
namespace {

// The item field of a "user,item,score,rank" line (ids here have no commas).
std::string item_of(const std::string& line) {
  const auto a = line.find(',');
  return line.substr(a + 1, line.find(',', a + 1) - a - 1);
}

class CliModels : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    csv_ = (dir_ / "events.csv").string();
    write_bytes(csv_, two_group_csv());
  }
  std::vector<std::string> small_params() const {
    if (GetParam() == "two-tower")
      return {"--dim", "8", "--epochs", "20", "--batch-size", "32", "--learning-rate", "0.2"};
    if (GetParam() == "als") return {"--dim", "8", "--regularization", "2"};
    if (GetParam() == "bpr") return {"--dim", "8", "--threads", "1"};
    if (GetParam() == "gf-cf") return {"--dim", "4"};
    return {};
  }
  TempDir dir_;
  std::string csv_;
};

TEST_P(CliModels, TrainsRecommendsFoldsInAndFilters) {
  const auto model = (dir_ / "m.latent").string();
  std::vector<std::string> args{"train",    "--data", csv_,  "--model",
                                GetParam(), "--out",  model, "--quiet"};
  for (const auto& a : small_params()) args.push_back(a);
  auto r = run_cli(args);
  ASSERT_EQ(r.exit_code, 0) << r.err;

  auto rec =
      run_cli({"recommend", model, "--user", "3", "--k", "4", "--exclude-seen", "--deny", "5"});
  ASSERT_EQ(rec.exit_code, 0) << rec.err;
  EXPECT_EQ(lines(rec.out).size(), 5u) << rec.out;
  for (const auto& l : lines(rec.out)) EXPECT_NE(item_of(l), "5") << rec.out;

  auto allow =
      run_cli({"recommend", model, "--user", "3", "--k", "2", "--allow", "12", "--allow", "14"});
  ASSERT_EQ(allow.exit_code, 0) << allow.err;
  const auto allowed = lines(allow.out);
  for (std::size_t i = 1; i < allowed.size(); ++i) {
    EXPECT_TRUE(item_of(allowed[i]) == "12" || item_of(allowed[i]) == "14") << allowed[i];
  }

  auto newcomer = run_cli({"recommend", model, "--items", "11", "--items", "12", "--items", "13",
                           "--k", "3", "--exclude-seen"});
  ASSERT_EQ(newcomer.exit_code, 0) << newcomer.err;
  const auto ls = lines(newcomer.out);
  ASSERT_EQ(ls.size(), 4u) << newcomer.out;
  for (std::size_t i = 1; i < ls.size(); ++i) {
    EXPECT_NE(item_of(ls[i]), "11");
    EXPECT_NE(item_of(ls[i]), "12");
    EXPECT_EQ(ls[i].rfind("[UNK],", 0), 0u) << ls[i];
  }

  auto unknown = run_cli({"recommend", model, "--items", "11", "--items", "999"});
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_NE(unknown.err.find("\"999\""), std::string::npos) << unknown.err;
}

TEST_P(CliModels, EvaluatesOnEverySplit) {
  for (const std::vector<std::string>& split :
       {std::vector<std::string>{"--split", "per-user", "--test-fraction", "0.2"},
        std::vector<std::string>{"--split", "random", "--test-fraction", "0.2"},
        std::vector<std::string>{"--split", "last-k", "--last-k", "1"}}) {
    const auto json = (dir_ / "eval.json").string();
    std::vector<std::string> args{"evaluate", "--data", csv_,     "--model", GetParam(),
                                  "--k",      "1,5",    "--json", json,      "--quiet"};
    args.insert(args.end(), split.begin(), split.end());
    for (const auto& a : small_params()) args.push_back(a);
    auto r = run_cli(args);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("ndcg"), std::string::npos) << r.out;
    const std::string j = read_bytes(json);
    EXPECT_NE(j.find("\"recall\""), std::string::npos) << j;
    EXPECT_NE(j.find("\"model\": \"" + GetParam() + "\""), std::string::npos) << j;
  }
}

INSTANTIATE_TEST_SUITE_P(Registry, CliModels,
                         ::testing::Values("als", "bpr", "ease", "gf-cf", "popularity",
                                           "two-tower"),
                         [](const auto& param_info) {
                           std::string name = param_info.param;
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

// --verbose: the kernels and threads in use first, then a line for every
// epoch (in a log, not a terminal, the bar otherwise writes the first, the
// last and one per 10 s).
TEST(CliProgress, VerboseSaysTheKernelsAndShowsEveryEpoch) {
  TempDir dir;
  const auto csv = (dir / "events.csv").string();
  write_bytes(csv, two_group_csv());
  for (const char* command : {"train", "evaluate"}) {
    auto r = run_cli({command, "--data", csv, "--model", "bpr", "--dim", "4", "--epochs", "25",
                      "--threads", "1", "--verbose"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.err.find("latent: OpenBLAS "), r.err.find("latent: ")) << r.err;
    EXPECT_NE(r.err.find(" kernels"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find(" threads\n"), std::string::npos) << r.err;
    for (int epoch = 1; epoch <= 25; ++epoch) {
      EXPECT_NE(r.err.find(fmt::format("Epoch {}/25", epoch)), std::string::npos)
          << command << " epoch " << epoch << "\n"
          << r.err;
    }
  }
  const auto both = run_cli({"train", "--data", csv, "--model", "bpr", "-q", "-v"});
  EXPECT_EQ(both.exit_code, 1);
  EXPECT_NE(both.err.find("excludes"), std::string::npos) << both.err;
}

TEST(CliEvaluate, SplitFilesRoundTripAndBadInput) {
  TempDir dir;
  const auto csv = (dir / "events.csv").string();
  write_bytes(csv, two_group_csv());
  const auto split_dir = (dir / "split").string();
  auto s = run_cli(
      {"split", "--data", csv, "--split", "per-user", "--seed", "3", "--out-dir", split_dir});
  ASSERT_EQ(s.exit_code, 0) << s.err;
  auto a = run_cli(
      {"evaluate", "--data", csv, "--model", "popularity", "--split-in", split_dir, "--quiet"});
  auto b = run_cli({"evaluate", "--data", csv, "--model", "popularity", "--seed", "3", "--quiet"});
  ASSERT_EQ(a.exit_code, 0) << a.err;
  EXPECT_EQ(a.out, b.out);  // the written split is the split

  auto unknown = run_cli({"evaluate", "--data", csv, "--model", "svd", "--quiet"});
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_NE(unknown.err.find("als, bpr, ease, gf-cf, popularity, two-tower"), std::string::npos)
      << unknown.err;
  auto inapplicable =
      run_cli({"train", "--data", csv, "--model", "ease", "--alpha", "3", "--quiet"});
  EXPECT_EQ(inapplicable.exit_code, 1);
  EXPECT_NE(inapplicable.err.find("alpha"), std::string::npos) << inapplicable.err;
  auto big_k =
      run_cli({"evaluate", "--data", csv, "--model", "popularity", "--k", "50", "--quiet"});
  EXPECT_EQ(big_k.exit_code, 1);
  EXPECT_NE(big_k.err.find("50"), std::string::npos) << big_k.err;
  auto memory = run_cli(
      {"train", "--data", csv, "--model", "ease", "--memory-limit-gb", "0.0000001", "--quiet"});
  EXPECT_EQ(memory.exit_code, 1);
  EXPECT_NE(memory.err.find("memory"), std::string::npos) << memory.err;
  auto bad_range =
      run_cli({"train", "--data", csv, "--model", "als", "--regularization", "-1", "--quiet"});
  EXPECT_EQ(bad_range.exit_code, 1);
  EXPECT_NE(bad_range.err.find("-1"), std::string::npos) << bad_range.err;
}

TEST(CliEvaluate, RatingsBelowTheFilterAreSeenAndCanBeLeftOut) {
  TempDir dir;
  const auto csv = (dir / "ratings.csv").string();
  // u1 watched b and rated it 1: not trained on, but seen.
  write_bytes(csv,
              "user,item,rating\nu1,a,5\nu1,b,1\nu1,d,4\nu2,a,5\nu2,b,5\nu2,d,4\n"
              "u3,b,4\nu3,c,5\nu3,d,5\nu4,a,4\nu4,c,4\nu4,d,5\n");
  const auto model = (dir / "m.latent").string();
  auto t = run_cli({"train", "--data", csv, "--rating-above", "3", "--model", "popularity", "--out",
                    model, "--quiet"});
  ASSERT_EQ(t.exit_code, 0) << t.err;
  auto r = run_cli({"recommend", model, "--user", "u1", "--k", "4", "--exclude-seen"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "user,item,score,rank\nu1,c,2,1\n");
  r = run_cli({"recommend", model, "--user", "u1", "--k", "4"});
  EXPECT_NE(r.out.find("u1,b,"), std::string::npos) << r.out;

  const std::vector<std::string> evaluate = {"evaluate", "--data",  csv,          "--rating-above",
                                             "3",        "--model", "popularity", "--k",
                                             "1",        "--quiet"};
  auto usual = run_cli(evaluate);
  ASSERT_EQ(usual.exit_code, 0) << usual.err;
  EXPECT_EQ(usual.out.find("seen pairs excluded"), std::string::npos) << usual.out;
  auto with_rated = evaluate;
  with_rated.push_back("--exclude-rated");
  auto rated = run_cli(with_rated);
  ASSERT_EQ(rated.exit_code, 0) << rated.err;
  EXPECT_NE(rated.out.find("1 more seen pairs excluded"), std::string::npos) << rated.out;

  // --rated-weight trains on them too: b's count, 2, gains u1's 0.5.
  const auto weak = (dir / "weak.latent").string();
  t = run_cli({"train", "--data", csv, "--rating-above", "3", "--model", "popularity",
               "--rated-weight", "0.5", "--out", weak, "--quiet"});
  ASSERT_EQ(t.exit_code, 0) << t.err;
  r = run_cli({"recommend", weak, "--user", "u2", "--k", "4"});
  EXPECT_NE(r.out.find("u2,b,2.5,"), std::string::npos) << r.out;
  auto bpr = run_cli({"train", "--data", csv, "--rating-above", "3", "--model", "bpr",
                      "--rated-weight", "0.5", "--out", weak, "--quiet"});
  EXPECT_EQ(bpr.exit_code, 1);
  EXPECT_NE(bpr.err.find("rated-weight does not apply to model bpr"), std::string::npos) << bpr.err;

  auto no_filter =
      run_cli({"evaluate", "--data", csv, "--model", "popularity", "--exclude-rated", "--quiet"});
  EXPECT_EQ(no_filter.exit_code, 1);
  EXPECT_NE(no_filter.err.find("--rating-above"), std::string::npos) << no_filter.err;
  auto tune =
      run_cli({"tune", "--data", csv, "--model", "popularity", "--exclude-rated", "--quiet"});
  EXPECT_EQ(tune.exit_code, 1);
  EXPECT_NE(tune.err.find("--rating-above"), std::string::npos) << tune.err;
}

}  // namespace
}  // namespace latent::test
