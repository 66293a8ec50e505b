// End-to-end tests of side features through the CLI (issue 16): train with
// --user-features / --item-features from MovieLens's own attributes or a
// file, then cold-start queries (recommend --user-features, similar
// --item-features), and the errors of what cannot work.

#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <latent/model_file.hpp>

#include "e2e/cli_runner.hpp"

namespace latent::test {
namespace {

std::string bundled() { return bundled_data().string(); }

// Rows of a CSV result without its header.
std::size_t result_rows(const std::string& out) {
  const auto l = lines(out);
  return l.empty() ? 0 : l.size() - 1;
}

TEST(CliFeatures, ItemsFromMovieLensAttributesGiveColdStartSimilarItems) {
  TempDir dir;
  const std::string model = (dir.path() / "m.latent").string();
  const CliResult train =
      run_cli({"train", "--data", bundled(), "--rating-above", "3", "--item-features",
               "genres:multi,year:numeric:buckets=5", "--no-item-ids", "--epochs", "2", "--threads",
               "2", "--out", model});
  ASSERT_EQ(train.exit_code, 0) << train.err;
  EXPECT_NE(train.err.find("Item features genres:multi,year:numeric:buckets=5 from"),
            std::string::npos)
      << train.err;
  const ModelData m = load_model(model);
  EXPECT_EQ(model_format_version(m), 4);
  ASSERT_TRUE(m.item_tower);

  const CliResult similar = run_cli({"similar", model, "--item-features", "genres=Comedy|Romance",
                                     "--item-features", "year=1999", "--k", "7"});
  ASSERT_EQ(similar.exit_code, 0) << similar.err;
  EXPECT_EQ(result_rows(similar.out), 7u) << similar.out;
  // Known users and items are served as before.
  const CliResult known = run_cli({"recommend", model, "--user", "1", "--k", "5"});
  ASSERT_EQ(known.exit_code, 0) << known.err;
  EXPECT_EQ(result_rows(known.out), 5u);

  // The model has no user features, and no item feature "director".
  const CliResult no_users = run_cli({"recommend", model, "--user-features", "age=30"});
  EXPECT_EQ(no_users.exit_code, 1);
  EXPECT_NE(no_users.err.find("no user features"), std::string::npos) << no_users.err;
  EXPECT_NE(no_users.err.find("\"age\""), std::string::npos) << no_users.err;
  const CliResult unknown = run_cli({"similar", model, "--item-features", "director=Ozu"});
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_NE(unknown.err.find("\"director\" is not one of the model's item features: genres, year"),
            std::string::npos)
      << unknown.err;
  const CliResult bad_year = run_cli({"similar", model, "--item-features", "year=recent"});
  EXPECT_EQ(bad_year.exit_code, 1);
  EXPECT_NE(bad_year.err.find("recent"), std::string::npos) << bad_year.err;
  const CliResult not_pair = run_cli({"similar", model, "--item-features", "year"});
  EXPECT_EQ(not_pair.exit_code, 1);
  EXPECT_NE(not_pair.err.find("NAME=VALUE"), std::string::npos) << not_pair.err;
}

TEST(CliFeatures, UsersFromAFileGiveColdStartRecommendations) {
  TempDir dir;
  const std::string users = (dir.path() / "users.csv").string();
  {
    std::ofstream out(users);
    out << "segment,userId\n";
    for (int u = 1; u <= 610; ++u) out << "s" << u % 4 << "," << u << "\n";
  }
  const std::string model = (dir.path() / "m.latent").string();
  const CliResult train =
      run_cli({"train", "--data", bundled(), "--rating-above", "3", "--user-features",
               "segment:categorical", "--user-features-file", users, "--user-features-id", "userId",
               "--layers", "32,16", "--epochs", "1", "--threads", "2", "--out", model});
  ASSERT_EQ(train.exit_code, 0) << train.err;
  EXPECT_EQ(load_model(model).user_embeddings.cols(), 16);
  const CliResult cold =
      run_cli({"recommend", model, "--user-features", "segment=s2", "--k", "4", "--exclude-seen"});
  ASSERT_EQ(cold.exit_code, 0) << cold.err;
  EXPECT_EQ(result_rows(cold.out), 4u) << cold.out;
  // A segment training never saw is OOV, not an error.
  const CliResult oov = run_cli({"recommend", model, "--user-features", "segment=s9"});
  EXPECT_EQ(oov.exit_code, 0) << oov.err;
}

TEST(CliFeatures, WhatCannotWorkIsRefusedBeforeTraining) {
  TempDir dir;
  const auto train = [&](std::vector<std::string> extra) {
    std::vector<std::string> args{
        "train", "--data", bundled(), "--epochs", "1", "--out", (dir.path() / "m.latent").string()};
    args.insert(args.end(), extra.begin(), extra.end());
    return run_cli(args);
  };
  const auto expect_refused = [&](const std::vector<std::string>& extra,
                                  const std::vector<std::string>& parts) {
    const CliResult r = train(extra);
    EXPECT_EQ(r.exit_code, 1) << r.err;
    for (const auto& p : parts) EXPECT_NE(r.err.find(p), std::string::npos) << r.err;
    EXPECT_FALSE(std::filesystem::exists(dir.path() / "m.latent"));
  };
  expect_refused({"--user-features", "age:numeric"}, {"MovieLens latest has no users'"});
  expect_refused({"--item-features", "genre:multi"}, {"genre", "genres"});
  expect_refused({"--item-features", "genres:vector"}, {"vector", "categorical"});
  expect_refused({"--item-features", "genres:multi", "--model", "als"},
                 {"als", "takes no side features", "two-tower"});
  expect_refused({"--user-features-file", "users.csv"}, {"--user-features-file", "need"});
  expect_refused({"--no-user-ids"}, {"user-ids", "no features"});
  expect_refused({"--item-features", "genres:multi", "--item-features-file",
                  (dir.path() / "missing.csv").string()},
                 {"missing.csv"});
}

TEST(CliFeatures, Ml100kUsersAndItemsFromTheirAttributes) {
  LATENT_REQUIRE_ML100K();
  TempDir dir;
  const std::string model = (dir.path() / "m.latent").string();
  const CliResult train = run_cli(
      {"train", "--data", ml100k_dir().string(), "--rating-above", "3", "--user-features",
       "age:numeric:buckets=8,gender:categorical,occupation:categorical,zip:categorical:hash=500",
       "--item-features", "genres:multi,release_date:timestamp,title:text", "--epochs", "1",
       "--threads", "2", "--out", model});
  ASSERT_EQ(train.exit_code, 0) << train.err;
  EXPECT_NE(train.err.find("942 of the 942 users have a row"), std::string::npos) << train.err;
  const CliResult cold = run_cli({"recommend", model, "--user-features", "age=24",
                                  "--user-features", "occupation=student", "--k", "3"});
  ASSERT_EQ(cold.exit_code, 0) << cold.err;
  EXPECT_EQ(result_rows(cold.out), 3u) << cold.out;
  const CliResult similar = run_cli({"similar", model, "--item-features", "title=A New Toy Story",
                                     "--item-features", "genres=Animation|Children's", "--k", "3"});
  ASSERT_EQ(similar.exit_code, 0) << similar.err;
  EXPECT_EQ(result_rows(similar.out), 3u) << similar.out;
}

}  // namespace
}  // namespace latent::test

namespace latent::test {
namespace {

TEST(CliFeatures, EvaluateTrainsWithTheFeaturesAndRefusesThemForOtherModels) {
  const CliResult ok =
      run_cli({"evaluate", "--data", bundled_data().string(), "--rating-above", "3",
               "--item-features", "genres:multi", "--epochs", "1", "--threads", "2", "-q"});
  ASSERT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_NE(ok.out.find("ndcg"), std::string::npos) << ok.out;
  const CliResult als = run_cli({"evaluate", "--data", bundled_data().string(), "--model", "als",
                                 "--item-features", "genres:multi"});
  EXPECT_EQ(als.exit_code, 1);
  EXPECT_NE(als.err.find("takes no side features"), std::string::npos) << als.err;
  const CliResult missing = run_cli(
      {"evaluate", "--data", bundled_data().string(), "--item-features", "director:categorical"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("director"), std::string::npos) << missing.err;
}

}  // namespace
}  // namespace latent::test

namespace latent::test {
namespace {

// latent evaluate's FactorizedTopK of a model with context queries each
// test pair in the pair's time, as latent train's test metrics do; the
// ranking metrics rank each user's test items with the stored vector.
// Trains and evaluates a model with context on one split; evaluate's
// FactorizedTopK at 10 and 100 is train's last test top_10 and top_100.
void expect_evaluate_in_context(const std::string& data, std::vector<std::string> model_flags) {
  TempDir dir;
  model_flags.insert(model_flags.end(), {"--context-features", "timestamp:timestamp", "--dim", "16",
                                         "--epochs", "2", "--threads", "2"});
  const TrainedAndEvaluated r =
      train_and_evaluate(dir.path(), data, model_flags, {"--k", "10,100", "-q"});
  ASSERT_EQ(r.trained.exit_code, 0) << r.trained.err;
  ASSERT_EQ(r.evaluated.exit_code, 0) << r.evaluated.err;
  const nlohmann::json& last = r.metrics.at("epochs").back().at("test");
  EXPECT_NE(r.evaluated.out.find("factorized_top_k: each test pair's user in the pair's context"),
            std::string::npos)
      << r.evaluated.out;
  const nlohmann::json& ej = r.evaluation;
  EXPECT_TRUE(ej.at("factorized_top_k_in_context").get<bool>());
  const auto& at_k = ej.at("at_k");
  ASSERT_EQ(at_k.size(), 2u);
  // The same model (same seed and split): the same accuracy, but for pairs
  // whose scores tie within rounding (the queries are summed in another order).
  EXPECT_NEAR(at_k[0].at("factorized_top_k").get<double>(), last.at("top_10").get<double>(), 1e-3)
      << ej.dump() << r.metrics.dump();
  EXPECT_NEAR(at_k[1].at("factorized_top_k").get<double>(), last.at("top_100").get<double>(), 1e-3)
      << ej.dump() << r.metrics.dump();
}

TEST(CliFeatures, EvaluateQueriesEachTestPairInItsContext) {
  expect_evaluate_in_context(bundled(), {});
}

// With layers over user features besides the context, the model keeps the
// users' feature tokens and evaluate runs them through the layers with each
// test pair's time.
TEST(CliFeatures, EvaluateQueriesInContextThroughLayersOverUserFeatures) {
  LATENT_REQUIRE_ML100K();
  expect_evaluate_in_context(
      ml100k_dir().string(),
      {"--user-features", "age:numeric,occupation:categorical", "--layers", "32,16"});
}

TEST(CliFeatures, ContextFeaturesTakeEachRatingsTime) {
  TempDir dir;
  const std::string model = (dir.path() / "m.latent").string();
  const CliResult train = run_cli({"train", "--data", bundled(), "--rating-above", "3",
                                   "--context-features", "timestamp:timestamp", "--test-fraction",
                                   "0.2", "--epochs", "1", "--threads", "2", "-q", "--out", model});
  ASSERT_EQ(train.exit_code, 0) << train.err;
  const CliResult info = run_cli({"info", model, "--json"});
  ASSERT_EQ(info.exit_code, 0) << info.err;
  EXPECT_NE(info.out.find("\"context_features\": \"timestamp:timestamp\""), std::string::npos)
      << info.out;
  // A known user is served from its stored vector (the context missing); a
  // new one from the time given.
  const CliResult known = run_cli({"recommend", model, "--user", "1", "--k", "3"});
  ASSERT_EQ(known.exit_code, 0) << known.err;
  EXPECT_EQ(result_rows(known.out), 3u) << known.out;
  const CliResult at_time =
      run_cli({"recommend", model, "--user-features", "timestamp=2015-06-01", "--k", "3"});
  ASSERT_EQ(at_time.exit_code, 0) << at_time.err;
  EXPECT_EQ(result_rows(at_time.out), 3u) << at_time.out;
  // A known user at a given time: that user's lists, which the time changes.
  const auto in_context = [&](const char* time) {
    const CliResult r = run_cli({"recommend", model, "--user", "1", "--user", "2", "--context",
                                 std::string("timestamp=") + time, "--k", "3"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.out;
  };
  const std::string early = in_context("1997-01-01"), late = in_context("2017-01-01");
  const auto l = lines(early);
  ASSERT_EQ(l.size(), 7u) << early;
  EXPECT_EQ(l[1].substr(0, 2), "1,") << early;
  EXPECT_EQ(l[4].substr(0, 2), "2,") << early;
  EXPECT_NE(early, late);
  const CliResult no_user =
      run_cli({"recommend", model, "--all-users", "--context", "timestamp=5"});
  EXPECT_EQ(no_user.exit_code, 1);
  EXPECT_NE(no_user.err.find("--context NAME=VALUE is the context of the users of --user"),
            std::string::npos)
      << no_user.err;

  // What cannot work is refused before training, and no model is written.
  const std::string refused = (dir.path() / "refused.latent").string();
  const auto expect_refused = [&](std::vector<std::string> args,
                                  const std::vector<std::string>& parts) {
    args.insert(args.end(), {"--epochs", "1", "-q", "--out", refused});
    const CliResult r = run_cli(args);
    EXPECT_EQ(r.exit_code, 1) << r.err;
    for (const auto& p : parts) EXPECT_NE(r.err.find(p), std::string::npos) << r.err;
    EXPECT_FALSE(std::filesystem::exists(refused));
  };
  expect_refused({"train", "--data", bundled(), "--context-features", "hour:numeric"},
                 {"ratings.csv", "context column \"hour\" not found", "timestamp"});
  expect_refused(
      {"train", "--data", bundled(), "--model", "als", "--context-features", "timestamp:timestamp"},
      {"als", "context features", "two-tower"});
  const std::filesystem::path pairs = dir.path() / "pairs.csv";
  std::ofstream(pairs) << "user,item\n1,10\n1,11\n2,10\n2,12\n3,11\n";
  expect_refused({"train", "--data", pairs.string(), "--context-features", "timestamp:timestamp"},
                 {"pairs.csv", "no timestamps"});
}

// Items 1-20 are watched on the phone, 21-40 on the tv: only the device
// column of each pair says which.
std::filesystem::path write_device_pairs(const std::filesystem::path& dir) {
  const std::filesystem::path path = dir / "devices.csv";
  std::ofstream out(path);
  out << "user,item,device\n";
  for (int u = 1; u <= 40; ++u) {
    for (int j = 0; j < 20; ++j) {
      const int item = 1 + (u * 7 + j * 3) % 20 + (j % 2) * 20;
      out << u << ',' << item << ',' << (item > 20 ? "tv" : "phone") << '\n';
    }
  }
  return path;
}

// The share of a recommend result's items above 20 (the tv's).
double tv_share(const std::string& csv) {
  const auto l = lines(csv);
  int tv = 0, rows = 0;
  for (std::size_t k = 1; k < l.size(); ++k) {
    const auto first = l[k].find(',');
    const auto second = l[k].find(',', first + 1);
    tv += std::stoi(l[k].substr(first + 1, second - first - 1)) > 20 ? 1 : 0;
    ++rows;
  }
  return rows == 0 ? -1.0 : static_cast<double>(tv) / rows;
}

TEST(CliFeatures, ContextFeaturesReadAColumnOfTheData) {
  TempDir dir;
  const std::string data = write_device_pairs(dir.path()).string();
  const std::string model = (dir.path() / "m.latent").string();
  const std::vector<std::string> settings = {"--context-features",
                                             "device:categorical",
                                             "--epochs",
                                             "30",
                                             "--dim",
                                             "16",
                                             "--learning-rate",
                                             "0.2",
                                             "--negatives",
                                             "catalog",
                                             "--threads",
                                             "1",
                                             "-q"};
  std::vector<std::string> args = {"train", "--data", data, "--out", model};
  args.insert(args.end(), settings.begin(), settings.end());
  const CliResult train = run_cli(args);
  ASSERT_EQ(train.exit_code, 0) << train.err;
  const auto on = [&](const std::string& m, const char* device) {
    const CliResult r = run_cli(
        {"recommend", m, "--user", "3", "--context", std::string("device=") + device, "--k", "10"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return tv_share(r.out);
  };
  EXPECT_GE(on(model, "tv"), 0.9);
  EXPECT_LE(on(model, "phone"), 0.1);

  // latent split keeps the column in its files, and training on them
  // reads it from there.
  const std::string split_dir = (dir.path() / "split").string();
  const CliResult split = run_cli({"split", "--data", data, "--test-fraction", "0.2",
                                   "--context-cols", "device", "--out-dir", split_dir});
  ASSERT_EQ(split.exit_code, 0) << split.err;
  std::ifstream train_csv(dir.path() / "split" / "train.csv");
  std::string header;
  std::getline(train_csv, header);
  EXPECT_EQ(header, "user,item,device");
  const std::string from_split = (dir.path() / "from-split.latent").string();
  args = {"train", "--data", data, "--split-in", split_dir, "--out", from_split};
  args.insert(args.end(), settings.begin(), settings.end());
  const CliResult again = run_cli(args);
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_GE(on(from_split, "tv"), 0.9);

  // A split written without the column cannot give it.
  const std::string bare_dir = (dir.path() / "bare").string();
  ASSERT_EQ(run_cli({"split", "--data", data, "--out-dir", bare_dir}).exit_code, 0);
  args = {"train", "--data", data, "--split-in", bare_dir, "--out", from_split};
  args.insert(args.end(), settings.begin(), settings.end());
  const CliResult bare = run_cli(args);
  EXPECT_EQ(bare.exit_code, 1);
  EXPECT_NE(bare.err.find("no column \"device\""), std::string::npos) << bare.err;
  EXPECT_NE(bare.err.find("--context-cols"), std::string::npos) << bare.err;
}

}  // namespace
}  // namespace latent::test
