// The contract every model in the registry must keep (after implicit's
// shared model tests): batch equals single, scores sorted, filters hold,
// the OOV row is never recommended, save -> load answers bit-identically,
// unknown ids are errors, and the model learns an obvious structure.

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <numeric>
#include <set>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include <latent/error.hpp>
#include <latent/fit.hpp>

#include "fixtures/tiny_dataset.hpp"
#include "test_support.hpp"

namespace latent::test {
namespace {

// Settings that suit the tiny fixture (180 pairs, 20 items) for each model.
Params fixture_params(const std::string& model) {
  if (model == "two-tower") {
    return {{"dim", "8"},  {"batch-size", "32"}, {"epochs", "30"}, {"learning-rate", "0.2"},
            {"seed", "3"}, {"threads", "2"}};
  }
  if (model == "als") return {{"dim", "8"}, {"regularization", "2"}, {"threads", "2"}};
  if (model == "bpr") return {{"dim", "8"}, {"threads", "1"}};
  return {};
}

class RecommenderContract : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    data_ = tiny_dataset();
    FitOptions options;
    options.model = GetParam();
    options.params = fixture_params(GetParam());
    result_ = std::make_unique<FitResult>(fit(data_, options));
  }
  const Recommender& model() const { return result_->model; }
  const ModelSpec& spec() const { return model_spec(GetParam()); }

  Dataset data_;
  std::unique_ptr<FitResult> result_;
};

TEST_P(RecommenderContract, BatchEqualsSingle) {
  const auto users = model().known_user_rows();
  const TopK all = model().recommend(users, 5, true);
  for (std::size_t q = 0; q < users.size(); ++q) {
    const std::int32_t one[] = {users[q]};
    const TopK single = model().recommend(one, 5, true);
    for (int r = 0; r < 5; ++r) {
      EXPECT_EQ(single.items[static_cast<std::size_t>(r)],
                all.items[q * 5 + static_cast<std::size_t>(r)]);
      EXPECT_EQ(single.scores[static_cast<std::size_t>(r)],
                all.scores[q * 5 + static_cast<std::size_t>(r)]);
    }
  }
}

TEST_P(RecommenderContract, ScoresSortedAndFiltersHold) {
  const auto users = model().known_user_rows();
  const TopK top = model().recommend(users, 8, true);
  for (std::size_t q = 0; q < users.size(); ++q) {
    const auto seen = model().model().seen.row(users[q]);
    for (int r = 0; r < 8; ++r) {
      const auto idx = q * 8 + static_cast<std::size_t>(r);
      EXPECT_NE(top.items[idx], 0) << "OOV item recommended";
      EXPECT_FALSE(std::binary_search(seen.begin(), seen.end(), top.items[idx]));
      if (r > 0) {
        EXPECT_GE(top.scores[idx - 1], top.scores[idx]);
      }
    }
  }
}

TEST_P(RecommenderContract, KIsCappedAtTheCatalogAndPadded) {
  const std::int32_t user[] = {model().user_row("u1")};
  const TopK top = model().recommend(user, 50, true);
  const auto known = static_cast<std::size_t>(model().model().items.num_known());
  ASSERT_EQ(top.k, static_cast<int>(known));  // the k rule: capped at the known items
  const auto seen = model().model().seen.row(user[0]).size();
  const auto eligible = known - seen;
  for (std::size_t r = 0; r < known; ++r) {
    if (r < eligible) {
      EXPECT_GE(top.items[r], 1);
    } else {
      EXPECT_EQ(top.items[r], -1);
    }
  }
}

TEST_P(RecommenderContract, SaveLoadIsBitIdentical) {
  TempDir dir;
  model().save(dir / "m.latent");
  const Recommender loaded = Recommender::load(dir / "m.latent");
  EXPECT_EQ(loaded.model().user_embeddings, model().model().user_embeddings);
  EXPECT_EQ(loaded.model().item_embeddings, model().model().item_embeddings);
  EXPECT_EQ(loaded.model().seen, model().model().seen);
  EXPECT_EQ(loaded.model().item_titles, model().model().item_titles);
  EXPECT_EQ(loaded.model().item_to_item, model().model().item_to_item);
  EXPECT_EQ(loaded.model().item_queries, model().model().item_queries);
  const auto users = model().known_user_rows();
  for (bool exclude : {false, true}) {
    const TopK a = model().recommend(users, 7, exclude);
    const TopK b = loaded.recommend(users, 7, exclude);
    EXPECT_EQ(a.items, b.items);
    EXPECT_EQ(a.scores, b.scores);
  }
  if (!spec().item_similarity) return;
  const TopK sa = model().similar_items(model().item_row("i3"), 4);
  const TopK sb = loaded.similar_items(loaded.item_row("i3"), 4);
  EXPECT_EQ(sa.items, sb.items);
  EXPECT_EQ(sa.scores, sb.scores);
}

// A recommendations index searches the vectors alone: a model that scores
// by an item-to-item term beside them refuses one, and keeps its exact
// search; the others build one that answers as the exact search here.
TEST_P(RecommenderContract, ARecommendationsIndexOnlyForModelsOfVectorsAlone) {
  HnswParams params;
  params.threads = 1;
  Recommender indexed = model();
  if (!model().model().item_to_item.empty()) {
    expect_error([&] { indexed.build_index(params); }, ErrorKind::Unsupported,
                 {"item-to-item term", "exactly"});
    EXPECT_EQ(indexed.index(), nullptr);
    return;
  }
  indexed.build_index(params);
  ASSERT_NE(indexed.index(), nullptr);
  const auto users = model().known_user_rows();
  const TopK a = model().recommend(users, 5, true);
  const TopK b = indexed.recommend(users, 5, true);
  EXPECT_EQ(a.items, b.items);
  EXPECT_EQ(a.scores, b.scores);
}

// Similar items and pairs through their own index (a graph over the unit
// item vectors): on the fixture's 20 items the default effort reaches every
// item, so the answers are the exact search's, bit for bit; the index is
// saved and loaded with the model, and goes when the model is saved without.
TEST_P(RecommenderContract, SimilarItemsAndPairsThroughTheirIndex) {
  HnswParams params;
  params.threads = 1;
  Recommender indexed = model();
  if (!spec().item_similarity) {
    expect_error([&] { indexed.build_similar_index(params); }, ErrorKind::Unsupported,
                 {"has no item similarity"});
    return;
  }
  indexed.build_similar_index(params);
  ASSERT_NE(indexed.similar_index(), nullptr);
  EXPECT_EQ(indexed.index(), nullptr);  // recommendations keep their exact search
  const auto same_answers = [&](const Recommender& r) {
    SimilarOptions options;
    options.k = 6;
    for (std::int32_t row = 1; row < model().model().items.size(); ++row) {
      const TopK a = r.similar_items(row, options);
      const TopK e = model().similar_items(row, 6);
      ASSERT_EQ(a.items, e.items) << "item row " << row;
      ASSERT_EQ(a.scores, e.scores) << "item row " << row;
    }
    const auto a = r.similar_pairs(0.3f, options);
    const auto e = model().similar_pairs(0.3f);
    ASSERT_EQ(a.size(), e.size());
    for (std::size_t i = 0; i < a.size(); ++i) {
      EXPECT_EQ(a[i].a, e[i].a);
      EXPECT_EQ(a[i].b, e[i].b);
      EXPECT_EQ(a[i].similarity, e[i].similarity);
    }
  };
  same_answers(indexed);
  TempDir dir;
  const auto path = dir / "m.latent";
  indexed.save(path);
  EXPECT_TRUE(std::filesystem::exists(similar_index_path_for(path)));
  EXPECT_FALSE(std::filesystem::exists(index_path_for(path)));
  const Recommender loaded = Recommender::load(path);
  ASSERT_NE(loaded.similar_index(), nullptr) << loaded.similar_index_problem();
  same_answers(loaded);
  indexed.drop_index();
  indexed.save(path);
  EXPECT_FALSE(std::filesystem::exists(similar_index_path_for(path)));
}

// A model whose spec says it has no item similarity refuses to make one up.
TEST_P(RecommenderContract, NoItemSimilarityIsRefused) {
  if (spec().item_similarity) GTEST_SKIP() << GetParam() << " has item similarity";
  try {
    model().similar_items(model().item_row("i4"), 5);
    ADD_FAILURE() << "similar_items answered";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Unsupported) << e.what();
  }
  EXPECT_THROW(model().similar_pairs(0.5f), Error);
}

TEST_P(RecommenderContract, SimilarItemsExcludeTheItemAndSort) {
  if (!spec().item_similarity) GTEST_SKIP() << GetParam() << " has no item similarity";
  const auto row = model().item_row("Item 4");  // by title
  EXPECT_EQ(row, model().item_row("i4"));
  const TopK top = model().similar_items(row, 5);
  for (int r = 0; r < 5; ++r) {
    EXPECT_NE(top.items[static_cast<std::size_t>(r)], row);
    EXPECT_NE(top.items[static_cast<std::size_t>(r)], 0);
    EXPECT_LE(top.scores[static_cast<std::size_t>(r)], 1.0f + 1e-6f);
    if (r > 0) {
      EXPECT_GE(top.scores[static_cast<std::size_t>(r) - 1],
                top.scores[static_cast<std::size_t>(r)]);
    }
  }
  for (const auto& p : model().similar_pairs(0.5f)) {
    EXPECT_LT(p.a, p.b);
    EXPECT_GT(p.similarity, 0.5f);
    EXPECT_NE(p.a, 0);
  }
}

TEST_P(RecommenderContract, SimilarItemsFromManyThreadsAtOnce) {
  if (!spec().item_similarity) GTEST_SKIP() << GetParam() << " has no item similarity";
  // The unit-length item vectors are built by the first similar_items()
  // call; concurrent first calls (a server's requests) and copies made
  // before it must all answer like a model that had them from the start.
  const Recommender fresh = Recommender(model().model());
  const Recommender copy = fresh;
  const std::int32_t row = model().item_row("i4");
  const TopK want = model().similar_items(row, 5);
  std::vector<TopK> got(4);
  std::vector<std::thread> threads;
  for (std::size_t t = 0; t < got.size(); ++t) {
    threads.emplace_back([&, t] { got[t] = (t % 2 == 0 ? fresh : copy).similar_items(row, 5); });
  }
  for (auto& t : threads) t.join();
  for (const TopK& top : got) {
    EXPECT_EQ(top.items, want.items);
    EXPECT_EQ(top.scores, want.scores);
  }
}

TEST_P(RecommenderContract, ScoreMatrixRowsGiveRecommend) {
  const auto users = model().known_user_rows();
  const TopK top = model().recommend(users, 3, false);
  const auto cols = static_cast<std::size_t>(model().model().items.size());
  model().scores(
      [&](std::int64_t first, std::int64_t rows, std::span<const float> block) {
        for (std::int64_t r = 0; r < rows; ++r) {
          const auto user = first + r;
          if (user == 0) continue;
          std::vector<std::int32_t> order(cols - 1);
          std::iota(order.begin(), order.end(), 1);
          const float* s = block.data() + static_cast<std::size_t>(r) * cols;
          std::stable_sort(order.begin(), order.end(),
                           [&](std::int32_t a, std::int32_t b) { return s[a] > s[b]; });
          for (std::size_t k = 0; k < 3; ++k) {
            EXPECT_EQ(order[k], top.items[static_cast<std::size_t>(user - 1) * 3 + k]);
          }
        }
      },
      7);
}

TEST_P(RecommenderContract, UnknownIdsAreErrors) {
  EXPECT_THROW(model().user_row("nobody"), Error);
  EXPECT_THROW(model().item_row("i99"), Error);
  const std::int32_t user[] = {1};
  EXPECT_THROW(model().recommend(user, 0, false), Error);
}

TEST_P(RecommenderContract, LearnsTheTwoGroups) {
  if (!spec().personalized) GTEST_SKIP() << GetParam() << " is the same list for everyone";
  int right = 0, total = 0;
  for (const auto row : model().known_user_rows()) {
    const std::int32_t user[] = {row};
    const TopK top = model().recommend(user, 3, true);
    const int group = user_group(model().model().users.id(row));
    for (auto item : top.items) {
      right += item_group(model().item_id(item)) == group;
      ++total;
    }
  }
  EXPECT_GT(right, total * 9 / 10) << right << " of " << total;
}

TEST_P(RecommenderContract, AllowAndDenyListsHold) {
  const auto users = model().known_user_rows();
  RecommendOptions options;
  options.k = 3;
  options.allow = {model().item_row("i2"), model().item_row("i12"), model().item_row("i5"),
                   model().item_row("i15")};
  options.deny = {model().item_row("i5")};
  const TopK top = model().recommend(users, options);
  for (std::size_t q = 0; q < users.size(); ++q) {
    for (std::size_t r = 0; r < 3; ++r) {
      const auto item = top.items[q * 3 + r];
      EXPECT_TRUE(item == options.allow[0] || item == options.allow[1] || item == options.allow[3])
          << item;
    }
  }
  options.allow = {99999};
  EXPECT_THROW(model().recommend(users, options), Error);
}

// An allow list is searched among its items alone; the answer must be the
// full catalog's exact search with every other item excluded, bit for bit,
// seen items and the deny list included, ties in the same order.
TEST_P(RecommenderContract, AnAllowListAnswersAsTheFullSearchExcludingTheRest) {
  const auto users = model().known_user_rows();
  const ModelData& m = model().model();
  RecommendOptions options;
  options.k = 4;
  options.exclude_seen = true;
  for (const char* id : {"i12", "i2", "i3", "i15", "i7", "i2"}) {
    options.allow.push_back(model().item_row(id));
  }
  options.deny = {model().item_row("i7")};
  const TopK got = model().recommend(users, options);

  Matrix queries(static_cast<std::int64_t>(users.size()), m.user_embeddings.cols());
  for (std::size_t q = 0; q < users.size(); ++q) {
    const auto row = m.user_embeddings.row(users[q]);
    std::copy(row.begin(), row.end(), queries.row(static_cast<std::int64_t>(q)).begin());
  }
  std::vector<std::int32_t> excluded;
  for (std::int32_t r = 0; r < m.items.size(); ++r) {
    const bool allowed =
        std::find(options.allow.begin(), options.allow.end(), r) != options.allow.end();
    if (!allowed || r == options.deny[0]) excluded.push_back(r);
  }
  SearchOptions search;
  search.k = 4;
  search.exclude_items = excluded;
  search.exclude_rows = &m.seen;
  search.exclude_row_of = users;
  // An item-based model's term, over each user's seen items.
  if (!m.item_to_item.empty()) search.item_term = {&m.item_to_item, &m.seen, users, m.seen_weights};
  const TopK want = top_k(queries, m.item_embeddings, search);
  EXPECT_EQ(got.items, want.items);
  EXPECT_EQ(got.scores, want.scores);
  // Some user has fewer than k allowed items left: the answer is padded.
  EXPECT_NE(std::find(got.items.begin(), got.items.end(), -1), got.items.end());

  options.allow = {options.deny[0]};  // all allowed items denied: nothing to return
  const TopK none = model().recommend(users, options);
  EXPECT_TRUE(std::all_of(none.items.begin(), none.items.end(), [](auto i) { return i == -1; }));
}

TEST_P(RecommenderContract, FoldInRecommendsForANewUser) {
  EXPECT_THROW(model().fold_in({}), Error);
  const std::int32_t bad[] = {-1};
  EXPECT_THROW(model().fold_in(bad), Error);
  RecommendOptions options;
  options.k = 3;
  options.exclude_seen = true;
  int right = 0, total = 0;
  for (int group = 0; group < 2; ++group) {
    // A newcomer who liked three items of one group.
    std::vector<std::int32_t> liked;
    for (int i = 1; i <= 3; ++i)
      liked.push_back(model().item_row(fmt::format("i{}", group * 10 + i)));
    const TopK top = model().recommend_for_items(liked, options);
    for (auto item : top.items) {
      ASSERT_GE(item, 1);
      EXPECT_EQ(std::find(liked.begin(), liked.end(), item), liked.end())
          << "a given item came back";
      right += item_group(model().item_id(item)) == group;
      ++total;
    }
  }
  if (spec().personalized) {
    EXPECT_GE(right, total - 1) << right << " of " << total;
  }
}

// A warm start as the model's spec declares it (ModelSpec::warm_start,
// update_users), from the fitted model on the same pairs and a newcomer's:
// the saved ids keep their rows, the newcomer is appended and recommended,
// update users keeps the item side bit for bit, and a refused mode is an
// error naming the model.
TEST_P(RecommenderContract, WarmStartsAsItsSpecDeclares) {
  ColumnData c;
  for (std::size_t k = 0; k < data_.interactions.size(); ++k) {
    c.users.emplace_back(data_.users.id(data_.interactions.users[k]));
    c.items.emplace_back(data_.items.id(data_.interactions.items[k]));
  }
  for (const char* item : {"i1", "i2", "i3", "i4"}) {
    c.users.emplace_back("u31");
    c.items.emplace_back(item);
  }
  const Dataset more = dataset_from_columns(c);
  const ModelData& saved = model().model();
  for (const WarmUpdate update : {WarmUpdate::All, WarmUpdate::Users}) {
    SCOPED_TRACE(to_string(update));
    FitOptions options;
    options.model = GetParam();
    options.params = fixture_params(GetParam());
    options.init = &saved;
    options.update = update;
    if (!(update == WarmUpdate::All ? spec().warm_start : spec().update_users)) {
      expect_error([&] { fit(more, options); }, ErrorKind::InvalidArgument,
                   {"model " + GetParam() + " cannot"});
      continue;
    }
    const FitResult warm = fit(more, options);
    const ModelData& m = warm.model.model();
    ASSERT_EQ(m.users.num_known(), saved.users.num_known() + 1);
    ASSERT_EQ(m.items.num_known(), saved.items.num_known());
    for (std::int32_t r = 1; r < saved.users.size(); ++r)
      EXPECT_EQ(m.users.id(r), saved.users.id(r));
    for (std::int32_t r = 1; r < saved.items.size(); ++r)
      EXPECT_EQ(m.items.id(r), saved.items.id(r));
    EXPECT_EQ(m.users.id(saved.users.size()), "u31");
    if (update == WarmUpdate::Users) {
      EXPECT_EQ(m.item_embeddings, saved.item_embeddings);
      EXPECT_EQ(m.item_to_item, saved.item_to_item);
      EXPECT_EQ(m.item_queries, saved.item_queries);
    }
    if (!spec().personalized) continue;
    const std::int32_t newcomer[] = {warm.model.user_row("u31")};
    const TopK top = warm.model.recommend(newcomer, 3, true);
    for (auto item : top.items) {
      ASSERT_GE(item, 1);
      EXPECT_EQ(item_group(warm.model.item_id(item)), 0) << warm.model.item_id(item);
    }
  }
}

TEST_P(RecommenderContract, DeclaredRangesAndChoicesAreEnforced) {
  for (const ParamSpec& p : spec().all_params()) {
    EXPECT_NO_THROW(check_model_params(GetParam(), {{p.name, p.default_value}})) << p.name;
    std::vector<std::string> bad;
    if (p.type == latent::ParamType::Choice) bad.push_back("no-such-choice");
    if (p.type == latent::ParamType::Bool) bad.push_back("maybe");
    if (p.type == latent::ParamType::IntList) {
      bad.push_back("x");
      bad.push_back("8,,4");
      bad.push_back("8.5");
    }
    if (p.type == latent::ParamType::Int || p.type == latent::ParamType::Float ||
        p.type == latent::ParamType::IntList) {
      if (p.type != latent::ParamType::IntList) bad.push_back("x");
      if (std::isfinite(p.min)) bad.push_back(fmt::format("{}", p.min_open ? p.min : p.min - 1));
      if (std::isfinite(p.max)) bad.push_back(fmt::format("{}", p.max_open ? p.max : p.max + 1));
    }
    for (const auto& value : bad) {
      expect_error(
          [&] {
            check_model_params(GetParam(), {{p.name, value}});
          },
          ErrorKind::InvalidArgument, {p.name});
    }
  }
}

TEST_P(RecommenderContract, ThreadCountChangesNothingWhenDeclared) {
  if (!spec().thread_deterministic) GTEST_SKIP() << GetParam() << " is Hogwild";
  FitOptions options;
  options.model = GetParam();
  options.params = fixture_params(GetParam());
  options.params.set("threads", "1");
  const FitResult one = fit(data_, options);
  options.params.set("threads", "2");
  const FitResult two = fit(data_, options);
  EXPECT_EQ(one.model.model().user_embeddings, two.model.model().user_embeddings);
  EXPECT_EQ(one.model.model().item_embeddings, two.model.model().item_embeddings);
}

TEST_P(RecommenderContract, TuningDefaultsChangeNoWeight) {
  if (spec().tuning_defaults.values().empty()) GTEST_SKIP() << "none";
  FitOptions options;
  options.model = GetParam();
  options.params = fixture_params(GetParam());
  for (const auto& [name, value] : spec().tuning_defaults.values()) options.params.set(name, value);
  const FitResult tuned = fit(data_, options);
  EXPECT_EQ(tuned.model.model().user_embeddings, model().model().user_embeddings);
  EXPECT_EQ(tuned.model.model().item_embeddings, model().model().item_embeddings);
}

// Not per model: fit assembles the seen items the same way for every one.
TEST(FitSeenItems, RowsTheRatingFilterDroppedAreSeenNotTrained) {
  Dataset data = tiny_dataset();
  FitOptions options;
  options.model = "popularity";
  const std::int32_t u1 = data.users.lookup("u1");
  const FitResult plain = fit(data, options);
  const TopK before = plain.model.recommend(std::span(&u1, 1), 2, true);
  // u1 rated the two items it would be recommended below the filter.
  data.seen_only.num_users = data.interactions.num_users;
  data.seen_only.num_items = data.interactions.num_items;
  data.seen_only.users = {u1, u1};
  data.seen_only.items = before.items;
  const FitResult fitted = fit(data, options);
  const Recommender& model = fitted.model;
  EXPECT_EQ(fitted.train_pairs, data.interactions.size());
  EXPECT_EQ(model.model().training["seen_only_pairs"], 2);
  const auto seen = model.model().seen.row(u1);
  for (const std::int32_t item : before.items) {
    EXPECT_TRUE(std::binary_search(seen.begin(), seen.end(), item));
  }
  const TopK after = model.recommend(std::span(&u1, 1), 2, true);
  for (const std::int32_t item : after.items) {
    EXPECT_EQ(std::find(before.items.begin(), before.items.end(), item), before.items.end());
  }
  // Only the seen items changed, not the scores.
  const TopK all = model.recommend(std::span(&u1, 1), 20, false);
  const TopK all_before = plain.model.recommend(std::span(&u1, 1), 20, false);
  EXPECT_EQ(all.items, all_before.items);
  EXPECT_EQ(all.scores, all_before.scores);
}

TEST(FitSeenItems, RatedWeightTrainsOnThemAsWeakPositives) {
  Dataset data = tiny_dataset();
  const std::int32_t item = data.items.lookup("i5");
  data.seen_only.num_users = data.interactions.num_users;
  data.seen_only.num_items = data.interactions.num_items;
  // Three users rated i5 below the filter.
  for (const char* user : {"u1", "u2", "u3"}) {
    data.seen_only.users.push_back(data.users.lookup(user));
    data.seen_only.items.push_back(item);
  }
  FitOptions options;
  options.model = "popularity";
  const FitResult plain = fit(data, options);
  options.params.set("rated-weight", "0.5");
  const FitResult rated = fit(data, options);
  EXPECT_EQ(rated.model.model().config["rated_weight"], 0.5);
  EXPECT_EQ(rated.model.model().training["rated_pairs_trained"], 3);
  EXPECT_EQ(rated.train_pairs, plain.train_pairs);  // the split's pairs; the rated ones come on top
  // Popularity counts them at half weight: i5 gains exactly 1.5.
  const auto score = [&](const FitResult& f) {
    return f.model.model().item_embeddings.row(item)[0];
  };
  EXPECT_FLOAT_EQ(score(rated), score(plain) + 1.5f);
  EXPECT_EQ(rated.model.model().seen, plain.model.model().seen);

  // Weight 0 is the default; negative or not a number, an error; BPR
  // trains on distinct pairs and does not take it.
  options.params.set("rated-weight", "0");
  EXPECT_EQ(fit(data, options).model.model().item_embeddings, plain.model.model().item_embeddings);
  options.params.set("rated-weight", "-1");
  EXPECT_THROW(fit(data, options), Error);
  EXPECT_THROW(check_model_params("ease", options.params), Error);
  options.params.set("rated-weight", "0.5");
  EXPECT_EQ(check_model_params("ease", options.params)["rated_weight"], 0.5);
  options.model = "bpr";
  EXPECT_THROW(fit(data, options), Error);
}

INSTANTIATE_TEST_SUITE_P(Registry, RecommenderContract, ::testing::ValuesIn(model_names()),
                         [](const auto& param_info) {
                           std::string name = param_info.param;
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

}  // namespace
}  // namespace latent::test
