// Warm start (warm_start.hpp, FitOptions::init): the vocabulary merge, what
// each model does with a saved model and new data, and the refusals.
#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <latent/dataset.hpp>
#include <latent/error.hpp>
#include <latent/evaluation.hpp>
#include <latent/fit.hpp>
#include <latent/split.hpp>
#include <latent/warm_start.hpp>

#include "fixtures/tiny_dataset.hpp"
#include "test_support.hpp"

namespace latent {
namespace {

using test::expect_error;

// New data for a model trained on the tiny two-group fixture: users u1..u10
// again (group 0), and a new user u99 and a new item i21, both of group 0:
// u99 has i1..i5 and i21; u1..u10 each have i21 too.
Dataset new_group0_data(bool with_new_item = true) {
  ColumnData c;
  for (int u = 1; u <= 10; ++u) {
    for (int j = 0; j < 6; ++j) {
      c.users.push_back(fmt::format("u{}", u));
      c.items.push_back(fmt::format("i{}", 1 + (u * 3 + j * 7) % 10));
    }
    if (with_new_item) {
      c.users.push_back(fmt::format("u{}", u));
      c.items.push_back("i21");
    }
  }
  for (int i = 1; i <= 5; ++i) {
    c.users.push_back("u99");
    c.items.push_back(fmt::format("i{}", i));
  }
  if (with_new_item) {
    c.users.push_back("u99");
    c.items.push_back("i21");
  }
  return dataset_from_columns(c);
}

FitResult fit_tiny(const std::string& model, Params params) {
  FitOptions o;
  o.model = model;
  o.params = std::move(params);
  return fit(test::tiny_dataset(), o);
}

FitResult warm(const Recommender& init, const Dataset& data, WarmUpdate update = WarmUpdate::All,
               const std::string& model = "", Params params = {}) {
  FitOptions o;
  o.model = model;
  o.params = std::move(params);
  o.init = &init.model();
  o.update = update;
  return fit(data, o);
}

// Rows 1..n of the saved vocabularies are the same ids in the new model.
void expect_rows_kept(const ModelData& saved, const ModelData& now) {
  ASSERT_GE(now.users.size(), saved.users.size());
  ASSERT_GE(now.items.size(), saved.items.size());
  for (std::int32_t r = 1; r < saved.users.size(); ++r)
    EXPECT_EQ(now.users.id(r), saved.users.id(r));
  for (std::int32_t r = 1; r < saved.items.size(); ++r)
    EXPECT_EQ(now.items.id(r), saved.items.id(r));
}

void expect_same_row(const Matrix& a, const Matrix& b, std::int32_t row) {
  const auto x = a.row(row), y = b.row(row);
  EXPECT_TRUE(std::equal(x.begin(), x.end(), y.begin(), y.end())) << "row " << row;
}

std::vector<std::string> top_items(const Recommender& m, std::string_view user, int k) {
  const std::int32_t row = m.user_row(user);
  const TopK top = m.recommend(std::span(&row, 1), k, true);
  std::vector<std::string> ids;
  for (int j = 0; j < k; ++j) {
    const auto item = top.items[static_cast<std::size_t>(j)];
    if (item > 0) ids.emplace_back(m.item_id(item));
  }
  return ids;
}

const Params kAls{{"dim", "8"}, {"regularization", "1"}, {"epochs", "8"}, {"threads", "1"}};

TEST(MergeVocabularies, SavedIdsKeepTheirRowsAndNewOnesFollowInOrder) {
  const Vocabulary saved = Vocabulary::from_ids({"30", "10", "20"});
  const Vocabulary fresh = Vocabulary::from_ids({"5", "20", "40"});
  const VocabularyMerge m = merge_vocabularies(saved, fresh);
  ASSERT_EQ(m.merged.num_known(), 5);
  EXPECT_EQ(m.merged.id(1), "10");
  EXPECT_EQ(m.merged.id(3), "30");
  EXPECT_EQ(m.merged.id(4), "5");
  EXPECT_EQ(m.merged.id(5), "40");
  EXPECT_EQ(m.merged.kind(), Vocabulary::IdKind::Integer);
  EXPECT_EQ(m.rows, (std::vector<std::int32_t>{0, 4, 2, 5}));

  const VocabularyMerge kept = merge_vocabularies(saved, fresh, false);
  EXPECT_EQ(kept.merged.num_known(), 3);
  EXPECT_EQ(kept.rows, (std::vector<std::int32_t>{0, -1, 2, -1}));
  const VocabularyMerge strings = merge_vocabularies(saved, Vocabulary::from_ids({"x"}));
  EXPECT_EQ(strings.merged.kind(), Vocabulary::IdKind::String);
}

TEST(WarmStart, AlsKeepsOldRowsAppendsNewIdsAndRecommendsThem) {
  const FitResult base = fit_tiny("als", kAls);
  const FitResult w = warm(base.model, new_group0_data());
  const ModelData& before = base.model.model();
  const ModelData& after = w.model.model();
  expect_rows_kept(before, after);
  EXPECT_EQ(after.users.find("u99"), before.users.size());
  EXPECT_EQ(after.items.find("i21"), before.items.size());
  EXPECT_EQ(after.config, before.config);  // the saved parameters are the defaults
  EXPECT_EQ(after.training["warm_start"]["new_users"], 1);
  EXPECT_EQ(after.training["warm_start"]["new_items"], 1);
  // Users and items without new pairs keep their vectors bit for bit.
  expect_same_row(before.user_embeddings, after.user_embeddings, *before.users.find("u30"));
  expect_same_row(before.item_embeddings, after.item_embeddings, *before.items.find("i15"));
  // What users saw before is still seen.
  const std::int32_t u30 = *before.users.find("u30");
  EXPECT_TRUE(std::ranges::equal(before.seen.row(u30), after.seen.row(u30)));
  // The new user gets their group's items, and the new item reaches a
  // group-0 user who had no new pairs.
  for (const auto& id : top_items(w.model, "u99", 3)) EXPECT_EQ(test::item_group(id), 0) << id;
  const auto u12 = top_items(w.model, "u12", 5);
  EXPECT_NE(std::find(u12.begin(), u12.end(), "i21"), u12.end());
  const std::int32_t i21 = w.model.item_row("i21");
  const TopK similar = w.model.similar_items(i21, 3);
  for (auto item : similar.items) EXPECT_EQ(test::item_group(w.model.item_id(item)), 0);
}

TEST(WarmStart, AlsUpdateUsersKeepsTheItemFactorsBitForBit) {
  const FitResult base = fit_tiny("als", kAls);
  const FitResult w = warm(base.model, new_group0_data(false), WarmUpdate::Users);
  const ModelData& before = base.model.model();
  const ModelData& after = w.model.model();
  expect_rows_kept(before, after);
  EXPECT_EQ(after.item_embeddings, before.item_embeddings);
  EXPECT_EQ(after.items.num_known(), before.items.num_known());
  expect_same_row(before.user_embeddings, after.user_embeddings, *before.users.find("u30"));
  EXPECT_EQ(after.users.find("u99"), before.users.size());
  for (const auto& id : top_items(w.model, "u99", 3)) EXPECT_EQ(test::item_group(id), 0) << id;
  // A user with new pairs is solved again: u1's vector is that solve's.
  const std::int32_t u1 = *before.users.find("u1");
  EXPECT_NE(before.user_embeddings.row(u1)[0], after.user_embeddings.row(u1)[0]);
}

TEST(WarmStart, UpdateUsersRefusesItemsTheSavedModelDoesNotHave) {
  const FitResult base = fit_tiny("als", kAls);
  expect_error([&] { warm(base.model, new_group0_data(true), WarmUpdate::Users); },
               ErrorKind::InvalidArgument, {"update users keeps the item side", "1 item", "i21"});
}

TEST(WarmStart, SameDataReproducesAStraightRunsQuality) {
  LoadOptions lo;
  lo.data = test::bundled_data();
  lo.rating_above = 3.0;
  const Dataset data = load_dataset(lo);
  const Split split = per_user_split(data.interactions, 0.2, 7);
  FitOptions o;
  o.model = "als";
  o.params = {{"dim", "32"}, {"threads", "2"}};
  o.split = &split;
  const FitResult straight = fit(data, o);
  FitOptions w = o;
  w.model.clear();
  w.params = {{"threads", "2"}};
  w.init = &straight.model.model();
  const FitResult again = fit(data, w);
  EXPECT_EQ(again.model.model().users.ids().size(), straight.model.model().users.ids().size());
  EvaluationOptions eo;
  const double a = evaluate(straight.model.model(), split.train, split.test, eo).at_k[0].ndcg;
  const double b = evaluate(again.model.model(), split.train, split.test, eo).at_k[0].ndcg;
  // docs/warm-start.md quotes this line.
  std::printf(
      "ALS, ml-latest-small rating > 3, per-user 20%% test: NDCG@10 straight %.4f, "
      "warm start from it on the same data %.4f\n",
      a, b);
  EXPECT_GT(a, 0.1);
  EXPECT_NEAR(b, a, 0.01) << "straight " << a << ", warm " << b;
}

TEST(WarmStart, BprAndTwoTowerContinueFromTheSavedVectors) {
  for (const std::string model : {"bpr", "two-tower"}) {
    SCOPED_TRACE(model);
    const Params p =
        model == "bpr"
            ? Params{{"dim", "8"}, {"epochs", "50"}, {"threads", "1"}}
            : Params{{"dim", "8"}, {"epochs", "3"}, {"threads", "1"}, {"negatives", "in-batch"}};
    const FitResult base = fit_tiny(model, p);
    const FitResult w = warm(base.model, new_group0_data());
    const ModelData& before = base.model.model();
    const ModelData& after = w.model.model();
    expect_rows_kept(before, after);
    EXPECT_EQ(after.users.find("u99"), before.users.size());
    EXPECT_EQ(after.items.find("i21"), before.items.size());
    // Users without new pairs take no step.
    expect_same_row(before.user_embeddings, after.user_embeddings, *before.users.find("u30"));
    EXPECT_EQ(w.epochs.size(), static_cast<std::size_t>(std::stoi(*p.get("epochs"))));
  }
}

TEST(WarmStart, PopularityAddsTheNewCountsToTheSavedOnes) {
  const FitResult base = fit_tiny("popularity", {});
  const FitResult w = warm(base.model, new_group0_data());
  const ModelData& before = base.model.model();
  const ModelData& after = w.model.model();
  expect_rows_kept(before, after);
  const std::int32_t i1 = *before.items.find("i1"), i15 = *before.items.find("i15");
  const std::int32_t i21 = *after.items.find("i21");
  EXPECT_EQ(after.item_embeddings.row(i15)[0], before.item_embeddings.row(i15)[0]);
  EXPECT_GT(after.item_embeddings.row(i1)[0], before.item_embeddings.row(i1)[0]);
  EXPECT_EQ(after.item_embeddings.row(i21)[0], 11.0f);
}

TEST(WarmStart, EaseUpdateUsersKeepsBAndExtendsTheUsersRows) {
  const FitResult base = fit_tiny("ease", {{"regularization", "10"}});
  const FitResult w = warm(base.model, new_group0_data(false), WarmUpdate::Users);
  const ModelData& before = base.model.model();
  const ModelData& after = w.model.model();
  expect_rows_kept(before, after);
  EXPECT_EQ(after.item_to_item, before.item_to_item);
  const std::int32_t u30 = *before.users.find("u30");
  EXPECT_TRUE(std::ranges::equal(before.seen.row(u30), after.seen.row(u30)));
  // u30 had no new pairs and still gets their group's items from their saved row.
  for (const auto& id : top_items(w.model, "u30", 3)) EXPECT_EQ(test::item_group(id), 1) << id;
  for (const auto& id : top_items(w.model, "u99", 3)) EXPECT_EQ(test::item_group(id), 0) << id;
}

TEST(WarmStart, EaseUpdateUsersGivesAUserOfTheNewDataTheirNewRow) {
  const FitResult base = fit_tiny("ease", {{"regularization", "10"}});
  ColumnData c;
  c.users = {"u1", "u99", "u99"};
  c.items = {"i4", "i1", "i2"};
  const FitResult w = warm(base.model, dataset_from_columns(c), WarmUpdate::Users);
  const ModelData& m = w.model.model();
  // u1 saw i1, i2, i4, i5, i8, i9 and now has i4 alone: all stay seen, and
  // only i4 is in their row of the term.
  const std::int32_t u1 = *m.users.find("u1");
  const auto row = m.seen.row(u1);
  ASSERT_EQ(row.size(), 6u);
  ASSERT_EQ(m.seen_weights.size(), static_cast<std::size_t>(m.seen.nnz()));
  for (std::size_t k = 0; k < row.size(); ++k) {
    const float weight =
        m.seen_weights[static_cast<std::size_t>(m.seen.indptr()[static_cast<std::size_t>(u1)]) + k];
    EXPECT_EQ(weight, m.items.id(row[k]) == "i4" ? 1.0f : 0.0f) << m.items.id(row[k]);
  }
  // u2 has no new pairs: their saved row, all 1.
  const std::int32_t u2 = *m.users.find("u2");
  for (auto k = m.seen.indptr()[static_cast<std::size_t>(u2)];
       k < m.seen.indptr()[static_cast<std::size_t>(u2) + 1]; ++k) {
    EXPECT_EQ(m.seen_weights[static_cast<std::size_t>(k)], 1.0f);
  }
}

TEST(WarmStart, RefusalsNameTheModelAndWhy) {
  const FitResult als = fit_tiny("als", kAls);
  const Dataset data = new_group0_data();
  expect_error([&] { warm(als.model, data, WarmUpdate::All, "bpr"); }, ErrorKind::InvalidArgument,
               {"holds a model of kind als", "the model to train is bpr"});
  expect_error(
      [&] {
        warm(als.model, data, WarmUpdate::All, "als", {{"dim", "4"}});
      },
      ErrorKind::InvalidArgument, {"parameter dim = 4", "'s 8", "shape"});
  const FitResult ease = fit_tiny("ease", {{"regularization", "10"}});
  expect_error([&] { warm(ease.model, data); }, ErrorKind::InvalidArgument,
               {"model ease cannot warm-start", "closed form"});
  const FitResult gf = fit_tiny("gf-cf", {{"dim", "4"}});
  expect_error([&] { warm(gf.model, data); }, ErrorKind::InvalidArgument,
               {"model gf-cf cannot warm-start", "closed form"});
  const FitResult bpr = fit_tiny("bpr", {{"dim", "4"}, {"epochs", "2"}});
  expect_error([&] { warm(bpr.model, data, WarmUpdate::Users); }, ErrorKind::InvalidArgument,
               {"model bpr cannot update its users alone"});
  FitOptions o;
  o.model = "als";
  o.update = WarmUpdate::Users;
  expect_error([&] { check_fit_options(o); }, ErrorKind::InvalidArgument,
               {"no initial model was given"});
  expect_error([] { parse_warm_update("items"); }, ErrorKind::InvalidArgument,
               {"\"items\"", "all, users"});
}

}  // namespace
}  // namespace latent
