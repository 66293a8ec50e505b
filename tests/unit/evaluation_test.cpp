#include <latent/error.hpp>
#include <latent/evaluation.hpp>
#include <latent/random.hpp>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "test_support.hpp"

namespace latent {
namespace {

using test::expect_error;

Interactions pairs(std::int32_t num_users, std::int32_t num_items,
                   std::initializer_list<std::pair<std::int32_t, std::int32_t>> entries) {
  Interactions x;
  x.num_users = num_users;
  x.num_items = num_items;
  for (const auto& [u, i] : entries) {
    x.users.push_back(u);
    x.items.push_back(i);
  }
  return x;
}

// dim 1: every user's query is 1, so items rank by their value: 1, 2, 3, 4,
// 5. The OOV row scores highest and must never be ranked.
struct Tiny {
  Matrix users{4, 1, 1.0f};
  Matrix items{6, 1, std::vector<float>{100, 5, 4, 3, 2, 1}};
  // User 1 trained on item 1, user 2 on nothing, user 3 on item 5.
  Interactions train = pairs(4, 6, {{1, 1}, {3, 5}});
  // User 1 holds out items 2 and 4 (4 twice), user 2 item 5, user 3 nothing.
  Interactions test = pairs(4, 6, {{1, 2}, {1, 4}, {2, 5}, {1, 4}});
};

constexpr double kTol = 1e-12;
const double kLog3 = std::log2(3.0);

TEST(Evaluation, HandComputedMetricsWithTrainExcluded) {
  Tiny t;
  EvaluationOptions options;
  options.ks = {3, 1};
  const EvaluationResult r = evaluate(t.users, t.items, t.train, t.test, options);
  ASSERT_EQ(r.at_k.size(), 2u);
  EXPECT_EQ(r.users, 2u);  // user 3 has no test items
  EXPECT_EQ(r.test_pairs, 4u);

  // User 1 ranks 2, 3, 4, 5 (item 1 excluded): hits at ranks 1 and 3 of
  // T = {2, 4}. User 2 ranks 1, 2, 3, 4, 5: no hit in the top 3 for T = {5}.
  const MetricsAtK& k1 = r.at_k[0];
  EXPECT_EQ(k1.k, 1);
  EXPECT_NEAR(k1.recall, (0.5 + 0) / 2, kTol);
  EXPECT_NEAR(k1.precision, (1.0 + 0) / 2, kTol);
  EXPECT_NEAR(k1.ndcg, (1.0 + 0) / 2, kTol);
  EXPECT_NEAR(k1.map, (1.0 + 0) / 2, kTol);
  EXPECT_NEAR(k1.hit_rate, 0.5, kTol);

  const MetricsAtK& k3 = r.at_k[1];
  EXPECT_EQ(k3.k, 3);
  EXPECT_NEAR(k3.recall, (1.0 + 0) / 2, kTol);
  EXPECT_NEAR(k3.precision, (2.0 / 3 + 0) / 2, kTol);
  // DCG = 1/log2(2) + 1/log2(4) = 1.5; IDCG over min(3, 2) = 2 ranks.
  EXPECT_NEAR(k3.ndcg, (1.5 / (1 + 1 / kLog3) + 0) / 2, kTol);
  // (1 / min(3, 2)) * (P@1 + P@3) = (1 + 2/3) / 2.
  EXPECT_NEAR(k3.map, ((1 + 2.0 / 3) / 2 + 0) / 2, kTol);
  EXPECT_NEAR(k3.hit_rate, 0.5, kTol);

  // Top-3 lists {2, 3, 4} and {1, 2, 3}: 4 of the 5 known items.
  EXPECT_NEAR(r.coverage, 0.8, kTol);

  // FactorizedTopK over the 4 test pairs, no exclusion: (1, 2) has one item
  // above it (a hit at 3), (1, 4) three (twice), (2, 5) four.
  ASSERT_EQ(r.factorized_top_k.size(), 2u);
  EXPECT_NEAR(r.factorized_top_k[0], 0.0, kTol);
  EXPECT_NEAR(r.factorized_top_k[1], 0.25, kTol);
}

// An item-based model's term joins every score: W[1][4] = 10 lifts item 4
// above all for user 1 (trained on item 1); user 2 has no train items, so
// no term. The ranks and FactorizedTopK follow, as evaluate(ModelData) passes it.
TEST(Evaluation, AnItemBasedModelsTermJoinsTheScores) {
  Tiny t;
  ModelData m;
  m.user_embeddings = t.users;
  m.item_embeddings = t.items;
  m.item_to_item = ItemToItem(6, {0, 0, 1, 1, 1, 1, 1}, {4}, {10.0f});
  m.seen = CsrMatrix::from_interactions(t.train);  // the users' items, as the model keeps them
  EvaluationOptions options;
  options.ks = {1};
  const EvaluationResult with = evaluate(m, t.train, t.test, options);
  const EvaluationResult without = evaluate(t.users, t.items, t.train, t.test, options);
  // User 1 now ranks item 4 first: a hit at 1 of T = {2, 4}; user 2 as before.
  EXPECT_NEAR(with.at_k[0].recall, (0.5 + 0) / 2, kTol);
  EXPECT_NEAR(with.at_k[0].precision, (1.0 + 0) / 2, kTol);
  // Among all items (FactorizedTopK excludes nothing) item 1 is first
  // without the term, item 4 with it for user 1: (1, 4), counted twice, makes
  // FactorizedTopK@1 go from 0 to 2 of the 4 pairs.
  EXPECT_NEAR(without.factorized_top_k[0], 0.0, kTol);
  EXPECT_NEAR(with.factorized_top_k[0], 0.5, kTol);
}

TEST(Evaluation, HandComputedMetricsWithTrainIncluded) {
  Tiny t;
  EvaluationOptions options;
  options.ks = {1, 3};
  options.exclude_train = false;
  const EvaluationResult r = evaluate(t.users, t.items, t.train, t.test, options);
  EXPECT_FALSE(r.exclude_train);
  // User 1 now ranks 1, 2, 3: one hit at rank 2.
  const MetricsAtK& k1 = r.at_k[0];
  EXPECT_NEAR(k1.recall, 0, kTol);
  EXPECT_NEAR(k1.precision, 0, kTol);
  EXPECT_NEAR(k1.ndcg, 0, kTol);
  EXPECT_NEAR(k1.map, 0, kTol);
  EXPECT_NEAR(k1.hit_rate, 0, kTol);
  const MetricsAtK& k3 = r.at_k[1];
  EXPECT_NEAR(k3.recall, 0.5 / 2, kTol);
  EXPECT_NEAR(k3.precision, (1.0 / 3) / 2, kTol);
  EXPECT_NEAR(k3.ndcg, ((1 / kLog3) / (1 + 1 / kLog3)) / 2, kTol);
  EXPECT_NEAR(k3.map, ((1.0 / 2) / 2) / 2, kTol);
  EXPECT_NEAR(k3.hit_rate, 0.5, kTol);
  EXPECT_NEAR(r.coverage, 0.6, kTol);  // {1, 2, 3}
  // FactorizedTopK never excludes: the same as before.
  EXPECT_NEAR(r.factorized_top_k[1], 0.25, kTol);
}

TEST(Evaluation, AlsoExcludedPairsLeaveTheRankingToo) {
  Tiny t;
  const Interactions rated_low = pairs(4, 6, {{1, 3}});  // user 1 saw item 3, not in train
  EvaluationOptions options;
  options.ks = {3};
  options.also_excluded = &rated_low;
  EvaluationResult r = evaluate(t.users, t.items, t.train, t.test, options);
  EXPECT_EQ(r.also_excluded_pairs, 1u);
  EXPECT_EQ(r.to_json()["also_excluded_pairs"], 1);
  EXPECT_NE(r.to_table().find("1 more seen pairs excluded"), std::string::npos);
  // User 1 ranks 2, 4, 5 (items 1 and 3 left out): hits at ranks 1 and 2 of
  // T = {2, 4}, an ideal list. User 2 ranks 1, 2, 3: no hit.
  EXPECT_NEAR(r.at_k[0].ndcg, (1.0 + 0) / 2, kTol);
  EXPECT_NEAR(r.at_k[0].recall, (1.0 + 0) / 2, kTol);

  // Without exclusion nothing is left out, the extra pairs neither.
  options.exclude_train = false;
  r = evaluate(t.users, t.items, t.train, t.test, options);
  EXPECT_EQ(r.also_excluded_pairs, 0u);
  EXPECT_NEAR(r.at_k[0].ndcg, ((1 / kLog3) / (1 + 1 / kLog3)) / 2, kTol);

  // Pairs outside the model's rows are an error naming them.
  const Interactions wrong = pairs(5, 6, {{4, 1}});
  options.exclude_train = true;
  options.also_excluded = &wrong;
  EXPECT_THROW(evaluate(t.users, t.items, t.train, t.test, options), Error);
}

TEST(Evaluation, ReversedQueryAndTestItemsAlsoInTrain) {
  Tiny t;
  t.users.row(3)[0] = -1.0f;  // user 3 ranks 5, 4, 3, 2, 1
  // User 3 trained on item 5 and holds out 5 (seen again) and 3.
  t.test = pairs(4, 6, {{3, 5}, {3, 3}});
  EvaluationOptions options;
  options.ks = {2};
  EvaluationResult r = evaluate(t.users, t.items, t.train, t.test, options);
  EXPECT_EQ(r.users, 1u);
  // Excluded: ranks 4, 3; item 5 can never be hit but stays relevant.
  EXPECT_NEAR(r.at_k[0].recall, 0.5, kTol);
  EXPECT_NEAR(r.at_k[0].precision, 0.5, kTol);
  EXPECT_NEAR(r.at_k[0].ndcg, (1 / kLog3) / (1 + 1 / kLog3), kTol);
  EXPECT_NEAR(r.at_k[0].map, (1.0 / 2) / 2, kTol);
  options.exclude_train = false;
  r = evaluate(t.users, t.items, t.train, t.test, options);
  // Included: ranks 5, 4: a hit at rank 1.
  EXPECT_NEAR(r.at_k[0].recall, 0.5, kTol);
  EXPECT_NEAR(r.at_k[0].ndcg, 1 / (1 + 1 / kLog3), kTol);
  EXPECT_NEAR(r.at_k[0].map, 1.0 / 2, kTol);
}

TEST(Evaluation, FewerRankableItemsThanKAreMisses) {
  Tiny t;
  // User 1 has seen items 1-4; only item 5 is left to rank.
  t.train = pairs(4, 6, {{1, 1}, {1, 2}, {1, 3}, {1, 4}});
  t.test = pairs(4, 6, {{1, 5}});
  EvaluationOptions options;
  options.ks = {3};
  const EvaluationResult r = evaluate(t.users, t.items, t.train, t.test, options);
  EXPECT_NEAR(r.at_k[0].recall, 1.0, kTol);
  EXPECT_NEAR(r.at_k[0].precision, 1.0 / 3, kTol);  // still divided by K
  EXPECT_NEAR(r.at_k[0].ndcg, 1.0, kTol);
  EXPECT_NEAR(r.at_k[0].map, 1.0, kTol);
  EXPECT_NEAR(r.coverage, 0.2, kTol);
}

// The oracle: full score vectors, sorted, metrics straight from the definitions.
EvaluationResult brute_force(const Matrix& users, const Matrix& items, const Interactions& train,
                             const Interactions& test, std::vector<int> ks, bool exclude) {
  std::sort(ks.begin(), ks.end());
  ks.erase(std::unique(ks.begin(), ks.end()), ks.end());
  EvaluationResult r;
  r.at_k.resize(ks.size());
  std::set<std::int32_t> covered;
  std::vector<std::set<std::int32_t>> truth(static_cast<std::size_t>(users.rows()));
  std::vector<std::set<std::int32_t>> seen(static_cast<std::size_t>(users.rows()));
  for (std::size_t e = 0; e < test.size(); ++e) truth[test.users[e]].insert(test.items[e]);
  for (std::size_t e = 0; e < train.size(); ++e) seen[train.users[e]].insert(train.items[e]);
  for (std::int32_t u = 0; u < users.rows(); ++u) {
    if (truth[u].empty()) continue;
    ++r.users;
    std::vector<std::pair<double, std::int32_t>> ranked;
    for (std::int32_t i = 1; i < items.rows(); ++i) {
      if (exclude && seen[u].contains(i)) continue;
      double s = 0;
      for (std::int64_t d = 0; d < users.cols(); ++d) s += users.row(u)[d] * items.row(i)[d];
      ranked.emplace_back(-s, i);
    }
    std::sort(ranked.begin(), ranked.end());
    const double t = static_cast<double>(truth[u].size());
    for (std::size_t c = 0; c < ks.size(); ++c) {
      const int k = ks[c];
      double hits = 0, dcg = 0, ap = 0, idcg = 0;
      for (int rank = 1; rank <= k && rank <= static_cast<int>(ranked.size()); ++rank) {
        const std::int32_t item = ranked[static_cast<std::size_t>(rank - 1)].second;
        if (c + 1 == ks.size()) covered.insert(item);
        if (truth[u].contains(item)) {
          hits += 1;
          dcg += 1 / std::log2(rank + 1.0);
          ap += hits / rank;
        }
      }
      for (int rank = 1; rank <= std::min<double>(k, t); ++rank) idcg += 1 / std::log2(rank + 1.0);
      MetricsAtK& m = r.at_k[c];
      m.k = k;
      m.recall += hits / t;
      m.precision += hits / k;
      m.ndcg += dcg / idcg;
      m.map += ap / std::min<double>(k, t);
      m.hit_rate += hits > 0;
    }
  }
  for (MetricsAtK& m : r.at_k) {
    for (double* v : {&m.recall, &m.precision, &m.ndcg, &m.map, &m.hit_rate}) *v /= r.users;
  }
  r.coverage = static_cast<double>(covered.size()) / static_cast<double>(items.rows() - 1);
  return r;
}

TEST(Evaluation, MatchesABruteForceOracleOnRandomData) {
  Rng rng(17);
  const std::int32_t n_users = 40, n_items = 60, dim = 5;
  Matrix users(n_users, dim), items(n_items, dim);
  // Scores rounded to a coarse grid would tie; distinct random values do not.
  for (float& v : users.storage()) v = rng.uniform() - 0.5f;
  for (float& v : items.storage()) v = rng.uniform() - 0.5f;
  Interactions train, test;
  for (Interactions* x : {&train, &test}) {
    x->num_users = n_users;
    x->num_items = n_items;
  }
  for (std::int32_t u = 1; u < n_users; ++u) {
    for (int j = 0; j < 12; ++j) {
      const auto i = static_cast<std::int32_t>(1 + rng.below(n_items - 1));
      Interactions& x = (u % 7 == 0 || j % 3 != 0) ? train : test;  // some users have no test
      x.users.push_back(u);
      x.items.push_back(i);
    }
  }
  for (const bool exclude : {true, false}) {
    EvaluationOptions options;
    options.ks = {20, 1, 5, 10, 5};
    options.exclude_train = exclude;
    options.threads = 2;
    const EvaluationResult got = evaluate(users, items, train, test, options);
    const EvaluationResult want = brute_force(users, items, train, test, options.ks, exclude);
    ASSERT_EQ(got.at_k.size(), 4u);  // deduplicated
    EXPECT_EQ(got.users, want.users);
    EXPECT_NEAR(got.coverage, want.coverage, 1e-12);
    for (std::size_t c = 0; c < got.at_k.size(); ++c) {
      SCOPED_TRACE(testing::Message() << "k = " << got.at_k[c].k << " exclude " << exclude);
      EXPECT_EQ(got.at_k[c].k, want.at_k[c].k);
      EXPECT_NEAR(got.at_k[c].recall, want.at_k[c].recall, 1e-9);
      EXPECT_NEAR(got.at_k[c].precision, want.at_k[c].precision, 1e-9);
      EXPECT_NEAR(got.at_k[c].ndcg, want.at_k[c].ndcg, 1e-9);
      EXPECT_NEAR(got.at_k[c].map, want.at_k[c].map, 1e-9);
      EXPECT_NEAR(got.at_k[c].hit_rate, want.at_k[c].hit_rate, 1e-9);
    }
    // FactorizedTopK is exactly factorized_top_k's answer for the same ks.
    const TopKAccuracy direct = factorized_top_k(users, items, test, {1, 5, 10, 20}, 1);
    EXPECT_EQ(got.factorized_top_k, direct.accuracy);
    // Same answer on one thread.
    options.threads = 1;
    const EvaluationResult single = evaluate(users, items, train, test, options);
    EXPECT_EQ(single.to_json(), got.to_json());
  }
}

TEST(Evaluation, JsonAndTable) {
  Tiny t;
  EvaluationOptions options;
  options.ks = {1, 3};
  const EvaluationResult r = evaluate(t.users, t.items, t.train, t.test, options);
  const nlohmann::json j = r.to_json();
  EXPECT_EQ(j["users"], 2);
  EXPECT_EQ(j["test_pairs"], 4);
  EXPECT_EQ(j["exclude_train"], true);
  EXPECT_DOUBLE_EQ(j["coverage"].get<double>(), 0.8);
  ASSERT_EQ(j["at_k"].size(), 2u);
  EXPECT_EQ(j["at_k"][1]["k"], 3);
  EXPECT_DOUBLE_EQ(j["at_k"][1]["recall"].get<double>(), 0.5);
  EXPECT_DOUBLE_EQ(j["at_k"][1]["factorized_top_k"].get<double>(), 0.25);
  for (const char* key : {"precision", "ndcg", "map", "hit_rate"}) {
    EXPECT_TRUE(j["at_k"][0].contains(key)) << key;
  }

  const std::string table = r.to_table();
  std::istringstream lines(table);
  std::string header, row1, row3, summary;
  std::getline(lines, header);
  std::getline(lines, row1);
  std::getline(lines, row3);
  std::getline(lines, summary);
  EXPECT_NE(header.find("recall"), std::string::npos) << table;
  EXPECT_NE(header.find("factorized_top_k"), std::string::npos) << table;
  EXPECT_EQ(row1.size(), header.size()) << table;
  EXPECT_EQ(row3.size(), header.size()) << table;
  EXPECT_NE(row3.find("0.5000"), std::string::npos) << table;
  EXPECT_NE(summary.find("users 2"), std::string::npos) << table;
  EXPECT_NE(summary.find("coverage 0.8000"), std::string::npos) << table;
}

TEST(Evaluation, RejectsBadInputsNamingValues) {
  Tiny t;
  EvaluationOptions options;
  options.ks = {};
  expect_error([&] { evaluate(t.users, t.items, t.train, t.test, options); },
               ErrorKind::InvalidArgument, {"ks is empty"});
  options.ks = {3, 0};
  expect_error([&] { evaluate(t.users, t.items, t.train, t.test, options); },
               ErrorKind::InvalidArgument, {"k = 0", "5 known items"});
  options.ks = {6};
  expect_error([&] { evaluate(t.users, t.items, t.train, t.test, options); },
               ErrorKind::InvalidArgument, {"k = 6", "[1, 5]"});
  options.ks = {5};
  EXPECT_NO_THROW(evaluate(t.users, t.items, t.train, t.test, options));

  const Matrix wide(4, 2);
  expect_error([&] { evaluate(wide, t.items, t.train, t.test, options); },
               ErrorKind::InvalidArgument, {"dim 2", "dim 1"});
  const Matrix more_users(5, 1);
  expect_error([&] { evaluate(more_users, t.items, t.train, t.test, options); },
               ErrorKind::InvalidArgument, {"train", "4 user rows", "5 rows"});
  Interactions bad = t.test;
  bad.items[1] = 6;
  expect_error([&] { evaluate(t.users, t.items, t.train, bad, options); },
               ErrorKind::InvalidArgument, {"test interaction 1", "item row 6"});
  expect_error([&] { evaluate(t.users, t.items, t.train, pairs(4, 6, {}), options); },
               ErrorKind::InvalidArgument, {"test set is empty"});
  options.threads = -1;
  expect_error([&] { evaluate(t.users, t.items, t.train, t.test, options); },
               ErrorKind::InvalidArgument, {"threads", "-1"});
}

TEST(FactorizedTopK, CountsStrictlyHigherCandidates) {
  // Items on a line: item r scores r for the user; row 0 is OOV.
  Matrix users(2, 1, std::vector<float>{0.0f, 1.0f});
  Matrix items(6, 1, std::vector<float>{99.0f, 1.0f, 2.0f, 3.0f, 3.0f, 5.0f});
  Interactions pairs;
  pairs.num_users = 2;
  pairs.num_items = 6;
  pairs.users = {1, 1, 1, 1};
  pairs.items = {5, 3, 4, 1};  // ranks: 0 above, 1 above, 1 above (tie), 4 above
  const auto acc = factorized_top_k(users, items, pairs, {1, 2, 5}, 1);
  EXPECT_DOUBLE_EQ(acc.accuracy[0], 0.25);  // only item 5
  EXPECT_DOUBLE_EQ(acc.accuracy[1], 0.75);  // ties with item 4 count as in
  EXPECT_DOUBLE_EQ(acc.accuracy[2], 1.0);
  EXPECT_EQ(acc.pairs, 4u);
}

}  // namespace
}  // namespace latent
