// The test-only model of cooccurrence_model.cpp, registered by its one
// line, reaches every front end generated from the registry: the CLI's
// --help and `latent models`, training and recommending through the CLI,
// and tune's default grid. (The contract suite runs on it too; the Python
// module built with it is checked by tests/python_registry.)
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <latent/model_spec.hpp>
#include <latent/recommender.hpp>
#include <latent/tune.hpp>

#include "app.hpp"
#include "model_help.hpp"
#include "test_support.hpp"

namespace latent::test {
namespace {

// Runs the CLI in process; returns (exit code, stdout).
std::pair<int, std::string> run(std::vector<std::string> args) {
  args.insert(args.begin(), "latent");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  ::testing::internal::CaptureStdout();
  const int code = cli::run(static_cast<int>(argv.size()), argv.data());
  return {code, ::testing::internal::GetCapturedStdout()};
}

void expect_contains(const std::string& text, const std::string& part) {
  EXPECT_NE(text.find(part), std::string::npos) << "\"" << part << "\" missing from:\n" << text;
}

TEST(Registry, TheTestModelIsRegistered) {
  const ModelSpec& spec = model_spec("cooccurrence");
  EXPECT_EQ(spec.params.size(), 3u);
  EXPECT_EQ(model_names().back(), "cooccurrence");  // after the built-in ones
}

TEST(Registry, TrainHelpListsItsParametersWithDefaults) {
  const auto app = cli::make_app();
  const std::string help = app->get_subcommand("train")->help();
  expect_contains(help, "cooccurrence: Test-only item co-occurrence model");
  expect_contains(help, "--shrink FLOAT");
  expect_contains(help, "default 2, >= 0");
  expect_contains(help, "--power FLOAT");
  expect_contains(help, "default 1, [0, 4]");
  expect_contains(help, "--no-binary");  // a Bool that defaults to true is turned off by a flag
  expect_contains(help, "Model: als, bpr, ease, gf-cf, popularity, two-tower, cooccurrence");
  // The same flags for tune and evaluate.
  expect_contains(app->get_subcommand("tune")->help(), "--shrink FLOAT");
  expect_contains(cli::model_params_markdown(),
                  "| cooccurrence | `--shrink` (`shrink`) | float | 2 | >= 0 |");
}

TEST(Registry, TrainsAndRecommendsThroughTheCli) {
  TempDir dir;
  const std::string csv = (dir / "pairs.csv").string();
  write_bytes(csv, "user,item\na,1\na,2\nb,1\nb,2\nb,3\nc,3\nc,4\nd,3\nd,4\nd,1\n");
  const std::string model = (dir / "m.latent").string();
  const auto [code, out] = run({"train", "--data", csv, "--model", "cooccurrence", "--shrink", "1",
                                "--no-binary", "--quiet", "--out", model});
  ASSERT_EQ(code, 0) << out;
  const Recommender loaded = Recommender::load(model);
  EXPECT_EQ(loaded.model().kind, "cooccurrence");
  EXPECT_EQ(loaded.model().config["shrink"], 1.0);
  EXPECT_EQ(loaded.model().config["binary"], false);
  // a has 1 and 2; 3 co-occurs with them (through b) more than 4 does.
  const auto [rc, recs] = run({"recommend", model, "--user", "a", "--k", "2", "--exclude-seen"});
  ASSERT_EQ(rc, 0);
  EXPECT_EQ(recs, "user,item,score,rank\na,3,0.833333,1\na,4,0.25,2\n");
  // A parameter of another model is an error naming it, before any data is read.
  EXPECT_EQ(
      run({"train", "--data", "/nonexistent", "--model", "cooccurrence", "--alpha", "1"}).first, 1);
  // Fold-in of a new user goes through the spec's own fold-in.
  const auto [fc, folded] = run({"recommend", model, "--items", "4", "--k", "1", "--exclude-seen"});
  ASSERT_EQ(fc, 0);
  expect_contains(folded, ",3,");
}

TEST(Registry, TuneUsesItsDefaultGrid) {
  const SearchSpace space = search_space_for("cooccurrence", {{"power", "1"}}, {});
  ASSERT_EQ(space.values.size(), 1u);  // power is fixed, so only shrink is searched
  EXPECT_EQ(space.values.at("shrink"), (std::vector<std::string>{"0", "2", "10"}));
  TuneOptions o;
  o.model = "cooccurrence";
  o.space = default_search_space("cooccurrence");
  EXPECT_NO_THROW(check_tune_options(o));
}

TEST(Registry, BadSpecsAreRefused) {
  ModelSpec s = model_spec("cooccurrence");
  expect_error([&] { register_model(s); }, ErrorKind::InvalidArgument,
               {"cooccurrence", "registered"});
  s.name = "bad name";
  expect_error([&] { register_model(s); }, ErrorKind::InvalidArgument, {"bad name"});
  s.name = "other";
  s.params[0].default_value = "-1";
  expect_error([&] { register_model(s); }, ErrorKind::InvalidArgument, {"other", "shrink"});
  s = model_spec("cooccurrence");
  s.name = "other";
  s.search_space.values["alpha"] = {"1"};
  expect_error([&] { register_model(s); }, ErrorKind::InvalidArgument, {"unknown parameter alpha"});
  s.search_space = {};
  s.params[0].name = "seed";
  expect_error([&] { register_model(s); }, ErrorKind::InvalidArgument, {"seed", "common"});
  EXPECT_EQ(find_model_spec("other"), nullptr);
}

}  // namespace
}  // namespace latent::test
