// End-to-end tests of the latent CLI on MovieLens 100K, the TFRS tutorial's
// data set: shapes, recommendations, exports, and save/load identity.
// MovieLens 100K is read from ../shared/data (never copied into the project).

#include <algorithm>
#include <numeric>
#include <set>

#include <gtest/gtest.h>

#include <latent/npy.hpp>
#include <latent/recommender.hpp>

#include "e2e/cli_runner.hpp"

namespace latent::test {
namespace {

// ctest starts this suite once per test, and each start trains the model.
// Under a sanitizer a training run is some 50x slower (about 2 minutes),
// so a sanitizer build trains one epoch instead of the default three.
#ifdef LATENT_SANITIZER_BUILD
constexpr const char* kEpochs = "1";
#else
constexpr const char* kEpochs = "3";
#endif

class CliMl100k : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!have_ml100k()) return;
    dir_ = new TempDir();
    model_ = (dir_->path() / "model.latent").string();
    train_ =
        run_cli({"train", "--data", ml100k_dir().string(), "--rating-above", "3", "--item-key",
                 "title", "--seed", "7", "--threads", "2", "--epochs", kEpochs, "--out", model_,
                 "--metrics-out", (dir_->path() / "metrics.json").string(), "--quiet"});
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  void SetUp() override {
    LATENT_REQUIRE_ML100K();
    ASSERT_EQ(train_.exit_code, 0) << train_.err;
  }

  static TempDir* dir_;
  static std::string model_;
  static CliResult train_;
};
TempDir* CliMl100k::dir_ = nullptr;
std::string CliMl100k::model_;
CliResult CliMl100k::train_;

// Parses "user,item,score,rank" CSV (items may be quoted titles).
struct Row {
  std::string user, item;
  double score;
  int rank;
};
std::vector<Row> parse_recs(const std::string& csv) {
  std::vector<Row> rows;
  auto ls = lines(csv);
  EXPECT_FALSE(ls.empty());
  EXPECT_EQ(ls[0], "user,item,score,rank");
  for (std::size_t i = 1; i < ls.size(); ++i) {
    const std::string& l = ls[i];
    Row r;
    const auto c1 = l.find(',');
    r.user = l.substr(0, c1);
    std::size_t pos = c1 + 1;
    if (l[pos] == '"') {
      std::string item;
      ++pos;
      while (true) {
        if (l[pos] == '"' && pos + 1 < l.size() && l[pos + 1] == '"') {
          item += '"';
          pos += 2;
        } else if (l[pos] == '"') {
          ++pos;
          break;
        } else {
          item += l[pos++];
        }
      }
      r.item = item;
      ++pos;  // comma
    } else {
      const auto c2 = l.find(',', pos);
      r.item = l.substr(pos, c2 - pos);
      pos = c2 + 1;
    }
    const auto c3 = l.find(',', pos);
    r.score = std::stod(l.substr(pos, c3 - pos));
    r.rank = std::stoi(l.substr(c3 + 1));
    rows.push_back(r);
  }
  return rows;
}

TEST_F(CliMl100k, ModelHasTheTutorialShapes) {
  auto r = run_cli({"info", model_});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("users: 942 (+1 OOV row), items: 1664 (+1 OOV row), dim: 64"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("kind: two-tower"), std::string::npos);
}

TEST_F(CliMl100k, MetricsJsonHasEveryEpoch) {
  const std::string json = slurp(dir_->path() / "metrics.json");
  EXPECT_NE(json.find(std::string("\"epoch\": ") + kEpochs), std::string::npos) << json;
  EXPECT_NE(json.find("\"top_100\""), std::string::npos);
  EXPECT_NE(json.find("\"train_seconds\""), std::string::npos);
}

TEST_F(CliMl100k, RecommendsTenForUser42WithAndWithoutSeenItems) {
  auto all = run_cli({"recommend", model_, "--user", "42", "--k", "10"});
  ASSERT_EQ(all.exit_code, 0) << all.err;
  auto recs = parse_recs(all.out);
  ASSERT_EQ(recs.size(), 10u);
  for (std::size_t i = 0; i < recs.size(); ++i) {
    EXPECT_EQ(recs[i].user, "42");
    EXPECT_EQ(recs[i].rank, static_cast<int>(i) + 1);
    if (i > 0) {
      EXPECT_GE(recs[i - 1].score, recs[i].score);
    }
  }

  auto unseen = run_cli({"recommend", model_, "--user", "42", "--k", "10", "--exclude-seen"});
  ASSERT_EQ(unseen.exit_code, 0) << unseen.err;
  const Recommender model = Recommender::load(model_);
  const auto seen = model.model().seen.row(model.user_row("42"));
  ASSERT_FALSE(seen.empty());
  for (const auto& r : parse_recs(unseen.out)) {
    const auto row = model.item_row(r.item);
    EXPECT_FALSE(std::binary_search(seen.begin(), seen.end(), row)) << r.item << " was seen";
  }
}

TEST_F(CliMl100k, AllUsersToCsvFile) {
  const auto out = dir_->path() / "all.csv";
  auto r = run_cli(
      {"recommend", model_, "--all-users", "--k", "5", "--exclude-seen", "--out", out.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto recs = parse_recs(slurp(out));
  EXPECT_EQ(recs.size(), 942u * 5u);
  std::set<std::string> users;
  for (const auto& row : recs) users.insert(row.user);
  EXPECT_EQ(users.size(), 942u);
}

TEST_F(CliMl100k, EmbeddingsExportShapesAndIds) {
  const auto out = dir_->path() / "emb";
  auto r = run_cli({"embeddings", model_, "--out-dir", out.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const Matrix users = read_npy(out / "user_embeddings.npy");
  const Matrix items = read_npy(out / "item_embeddings.npy");
  EXPECT_EQ(users.rows(), 943);
  EXPECT_EQ(users.cols(), 64);
  EXPECT_EQ(items.rows(), 1665);
  EXPECT_EQ(items.cols(), 64);
  const auto user_ids = lines(slurp(out / "users.tsv"));
  const auto item_ids = lines(slurp(out / "items.tsv"));
  ASSERT_EQ(user_ids.size(), 943u);
  ASSERT_EQ(item_ids.size(), 1665u);
  EXPECT_EQ(user_ids[0], "[UNK]");
  // Row order matches the model: the exported row equals the model's row.
  const Recommender model = Recommender::load(model_);
  const auto row = model.item_row("Star Wars (1977)");
  EXPECT_EQ(item_ids[static_cast<std::size_t>(row)], "Star Wars (1977)");
  EXPECT_TRUE(std::equal(items.row(row).begin(), items.row(row).end(),
                         model.model().item_embeddings.row(row).begin()));

  auto one = run_cli({"embeddings", model_, "--item", "Star Wars (1977)"});
  ASSERT_EQ(one.exit_code, 0) << one.err;
  EXPECT_NE(one.out.find("64 dims"), std::string::npos) << one.out;
}

TEST_F(CliMl100k, ScoreMatrixTopKEqualsRecommend) {
  const auto out = dir_->path() / "scores.npy";
  auto r = run_cli({"scores", model_, "--out", out.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const Matrix scores = read_npy(out);
  ASSERT_EQ(scores.rows(), 943);
  ASSERT_EQ(scores.cols(), 1665);
  const Recommender model = Recommender::load(model_);
  for (const std::string user : {"1", "42", "943"}) {
    const auto row = model.user_row(user);
    std::vector<std::int32_t> order(1664);
    std::iota(order.begin(), order.end(), 1);
    const auto s = scores.row(row);
    std::stable_sort(order.begin(), order.end(),
                     [&](std::int32_t a, std::int32_t b) { return s[a] > s[b]; });
    const std::int32_t rows[] = {row};
    const TopK top = model.recommend(rows, 10, false);
    EXPECT_TRUE(std::equal(top.items.begin(), top.items.end(), order.begin())) << "user " << user;
    for (std::size_t rank = 0; rank < 10; ++rank) {
      EXPECT_EQ(top.scores[rank], s[order[rank]]);
    }
  }
}

TEST_F(CliMl100k, SimilarAndPairs) {
  auto r = run_cli({"similar", model_, "--item", "Star Wars (1977)", "--k", "5"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto ls = lines(r.out);
  ASSERT_EQ(ls.size(), 6u);
  EXPECT_EQ(ls[0], "item,similar_item,similarity,rank");
  EXPECT_EQ(r.out.find("Star Wars (1977),Star Wars (1977)"), std::string::npos);

  const auto out = dir_->path() / "pairs.csv";
  auto p = run_cli({"pairs", model_, "--threshold", "0.8", "--out", out.string()});
  ASSERT_EQ(p.exit_code, 0) << p.err;
  auto pl = lines(slurp(out));
  ASSERT_GE(pl.size(), 1u);
  EXPECT_EQ(pl[0], "item_a,item_b,similarity");
  for (std::size_t i = 1; i < pl.size(); ++i) {
    // The CSV rounds to 6 decimals: a pair just above the threshold (the
    // one-epoch model of a sanitizer build had one) prints 0.800000.
    const double sim = std::stod(pl[i].substr(pl[i].rfind(',') + 1));
    EXPECT_GE(sim, 0.8 - 0.5e-6) << pl[i];
  }
}

TEST_F(CliMl100k, SameSeedTrainsTheSameModel) {
  const auto again = (dir_->path() / "again.latent").string();
  auto r = run_cli({"train", "--data", ml100k_dir().string(), "--rating-above", "3", "--item-key",
                    "title", "--seed", "7", "--threads", "2", "--epochs", kEpochs, "--out", again,
                    "--quiet"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const Recommender a = Recommender::load(model_);
  const Recommender b = Recommender::load(again);
  EXPECT_EQ(a.model().user_embeddings, b.model().user_embeddings);
  EXPECT_EQ(a.model().item_embeddings, b.model().item_embeddings);
}

TEST_F(CliMl100k, QuickstartRunsTheTutorial) {
  auto r = run_cli({"quickstart", "--data", ml100k_dir().string()});
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  EXPECT_NE(r.out.find("users: 942 ids -> 943 rows; titles: 1664 ids -> 1665 rows"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("user embeddings 943x64, item embeddings 1665x64"), std::string::npos);
  EXPECT_NE(r.out.find("scores 943x1665; top-10 from the matrix equals recommend"),
            std::string::npos);
  EXPECT_NE(r.out.find("loaded model's top-10 is identical"), std::string::npos);
  // The tutorial's own movie: movie_model.predict(["Star Wars (1977)"]).
  EXPECT_NE(r.out.find("and the embedding of \"Star Wars (1977)\""), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Movies similar to \"Star Wars (1977)\" (top-5)"), std::string::npos);
}

TEST(CliBundled, QuickstartRunsOnTheBundledDataSet) {
  auto r = run_cli({"quickstart"});
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  EXPECT_NE(r.out.find("loaded model's top-10 is identical"), std::string::npos) << r.out;
  // Its title of the tutorial's movie, and the movie's sequels among the most similar.
  const std::string star_wars = "Star Wars: Episode IV - A New Hope (1977)";
  EXPECT_NE(r.out.find("Movies similar to \"" + star_wars + "\" (top-5)"), std::string::npos);
  const auto similar = r.out.substr(r.out.find("Movies similar to"));
  EXPECT_NE(similar.substr(0, 600).find("Star Wars: Episode V - The Empire Strikes Back (1980)"),
            std::string::npos)
      << similar;
}

}  // namespace
}  // namespace latent::test
