// The hyper-parameter search: grid enumeration and seeded sampling, option
// checks, and a small search whose trials never see the test part.
#include <latent/error.hpp>
#include <latent/fit.hpp>
#include <latent/tune.hpp>

#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "fixtures/tiny_dataset.hpp"

namespace latent {
namespace {

template <typename F>
void expect_invalid(F&& f, std::initializer_list<std::string_view> parts) {
  try {
    f();
    ADD_FAILURE() << "expected InvalidArgument";
  } catch (const Error& e) {
    const std::string_view message = e.what();
    EXPECT_EQ(e.kind(), ErrorKind::InvalidArgument) << message;
    for (const std::string_view part : parts) {
      EXPECT_NE(message.find(part), std::string_view::npos)
          << "\"" << part << "\" missing from: " << message;
    }
  }
}

SearchSpace space_3x4x2() {
  return {{{"a", {"1", "2", "3"}}, {"b", {"w", "x", "y", "z"}}, {"c", {"p", "q"}}}};
}

std::string key(const Params& p) {
  std::string s;
  for (const auto& [name, value] : p.values()) s += name + "=" + value + ";";
  return s;
}

TEST(Tune, GridPointsEnumerateTheProductInNestedLoopOrder) {
  const SearchSpace space = space_3x4x2();
  EXPECT_EQ(space.size(), 24u);
  EXPECT_EQ(key(grid_point(space, 0)), "a=1;b=w;c=p;");
  EXPECT_EQ(key(grid_point(space, 1)), "a=1;b=w;c=q;");  // the last name varies fastest
  EXPECT_EQ(key(grid_point(space, 2)), "a=1;b=x;c=p;");
  EXPECT_EQ(key(grid_point(space, 23)), "a=3;b=z;c=q;");
  std::set<std::string> all;
  for (std::uint64_t i = 0; i < space.size(); ++i) all.insert(key(grid_point(space, i)));
  EXPECT_EQ(all.size(), 24u);
}

TEST(Tune, SmallGridIsTriedWholeInGridOrder) {
  const SearchSpace space = space_3x4x2();
  for (const int trials : {24, 25, 1000}) {
    const auto points = sample_grid(space, trials, 7);
    ASSERT_EQ(points.size(), 24u);
    for (std::size_t i = 0; i < points.size(); ++i)
      EXPECT_EQ(key(points[i]), key(grid_point(space, i)));
  }
  // An empty space is one point: the fixed parameters alone.
  const auto empty = sample_grid(SearchSpace{}, 5, 1);
  ASSERT_EQ(empty.size(), 1u);
  EXPECT_TRUE(empty[0].values().empty());
}

TEST(Tune, LargeGridIsASeededSampleOfDistinctPoints) {
  const SearchSpace space = space_3x4x2();
  const auto a = sample_grid(space, 10, 42);
  const auto b = sample_grid(space, 10, 42);
  const auto c = sample_grid(space, 10, 43);
  ASSERT_EQ(a.size(), 10u);
  std::set<std::string> distinct;
  std::vector<std::string> ka, kb, kc;
  for (std::size_t i = 0; i < a.size(); ++i) {
    distinct.insert(key(a[i]));
    ka.push_back(key(a[i]));
    kb.push_back(key(b[i]));
    kc.push_back(key(c[i]));
    EXPECT_EQ(a[i].values().size(), 3u);
  }
  EXPECT_EQ(distinct.size(), 10u);
  EXPECT_EQ(ka, kb);  // same seed, same points in the same order
  EXPECT_NE(ka, kc);  // another seed, another sample
  // trials = size - 1 still gives distinct points (the sampler never repeats).
  const auto most = sample_grid(space, 23, 5);
  std::set<std::string> most_keys;
  for (const auto& p : most) most_keys.insert(key(p));
  EXPECT_EQ(most_keys.size(), 23u);
}

TEST(Tune, SampleIsRoughlyUniform) {
  // Over many seeds, each of 24 points is drawn about 1000 * 4 / 24 times.
  const SearchSpace space = space_3x4x2();
  std::map<std::string, int> counts;
  for (std::uint64_t seed = 0; seed < 1000; ++seed) {
    for (const auto& p : sample_grid(space, 4, seed)) ++counts[key(p)];
  }
  ASSERT_EQ(counts.size(), 24u);
  for (const auto& [k, n] : counts) {
    EXPECT_GT(n, 100) << k;
    EXPECT_LT(n, 240) << k;
  }
}

TEST(Tune, HugeGridsSampleWithoutEnumerating) {
  SearchSpace space;
  for (int i = 0; i < 12; ++i) {
    std::vector<std::string> values;
    for (int v = 0; v < 30; ++v) values.push_back(std::to_string(v));
    std::string name = "p";  // (GCC 12 warns falsely on "p" + std::to_string(...))
    name += std::to_string(i + 10);
    space.values[name] = values;
  }
  // 30^12 ~ 5.3e17 points, below 2^62.
  const auto points = sample_grid(space, 5, 1);
  ASSERT_EQ(points.size(), 5u);
  space.values["p99"] = {"1", "2", "3", "4", "5", "6", "7", "8", "9"};
  expect_invalid([&] { (void)space.size(); }, {"2^62"});
}

TEST(Tune, SampleGridRejectsBadInput) {
  expect_invalid([] { sample_grid(space_3x4x2(), 0, 1); }, {"trials", "0"});
  expect_invalid(
      [] {
        sample_grid(SearchSpace{{{"alpha", {}}}}, 3, 1);
      },
      {"alpha", "no candidate"});
  expect_invalid(
      [] {
        sample_grid(SearchSpace{{{"alpha", {"1", "2", "1"}}}}, 3, 1);
      },
      {"alpha", "\"1\"", "twice"});
}

TEST(Tune, DefaultSpacesAreValidForEveryModel) {
  for (const auto& model : model_names()) {
    TuneOptions o;
    o.model = model;
    o.space = default_search_space(model);
    EXPECT_NO_THROW(check_tune_options(o)) << model;
    if (model == "popularity") {
      EXPECT_TRUE(o.space.values.empty());
    } else {
      EXPECT_FALSE(o.space.values.empty()) << model;
    }
  }
  expect_invalid([] { default_search_space("svd"); }, {"svd", "als, bpr"});
}

TEST(Tune, MetricsByName) {
  MetricsAtK m;
  m.ndcg = 1;
  m.recall = 2;
  m.precision = 3;
  m.map = 4;
  m.hit_rate = 5;
  EXPECT_EQ(metric_value(m, "ndcg"), 1);
  EXPECT_EQ(metric_value(m, "recall"), 2);
  EXPECT_EQ(metric_value(m, "precision"), 3);
  EXPECT_EQ(metric_value(m, "map"), 4);
  EXPECT_EQ(metric_value(m, "hit_rate"), 5);
  expect_invalid([&] { metric_value(m, "auc"); },
                 {"\"auc\"", "ndcg, recall, precision, map, hit_rate"});
  m.k = 10;
  EvaluationResult r;
  r.at_k = {m};
  r.rmse = 0.9;
  EXPECT_EQ(metric_value(r, "recall", 10), 2);
  EXPECT_EQ(metric_value(r, "rmse", 10), 0.9);
  EXPECT_TRUE(smaller_is_better("rmse"));
  EXPECT_FALSE(smaller_is_better("ndcg"));
}

TEST(Tune, OptionsAreCheckedBeforeTraining) {
  TuneOptions o;
  o.model = "als";
  o.space = SearchSpace{{{"regularization", {"1", "2"}}}};
  expect_invalid(
      [&] {
        TuneOptions x = o;
        x.metric = "auc";
        check_tune_options(x);
      },
      {"auc"});
  expect_invalid(
      [&] {
        TuneOptions x = o;
        x.trials = 0;
        check_tune_options(x);
      },
      {"trials"});
  expect_invalid(
      [&] {
        TuneOptions x = o;
        x.space.values["learning-rate"] = {"0.1"};
        check_tune_options(x);
      },
      {"learning-rate", "als"});
  expect_invalid(
      [&] {
        TuneOptions x = o;
        x.space.values["alpha"] = {"1", "abc"};
        check_tune_options(x);
      },
      {"alpha", "abc"});
  expect_invalid(
      [&] {
        TuneOptions x = o;
        x.fixed.set("regularization", "3");
        check_tune_options(x);
      },
      {"regularization", "both fixed"});
  expect_invalid(
      [&] {
        TuneOptions x = o;
        x.fixed.set("colour", "3");
        check_tune_options(x);
      },
      {"colour"});
  // rmse: a model that predicts ratings, with a rating task in every trial.
  expect_invalid(
      [&] {
        TuneOptions x = o;
        x.metric = "rmse";
        check_tune_options(x);
      },
      {"model als predicts no ratings"});
  TuneOptions t;
  t.model = "two-tower";
  t.metric = "rmse";
  t.space = SearchSpace{{{"rating-weight", {"1", "0"}}}};
  expect_invalid([&] { check_tune_options(t); }, {"rating-weight 0 trains no rating task"});
  t.space = SearchSpace{{{"learning-rate", {"0.1"}}}};
  expect_invalid([&] { check_tune_options(t); }, {"rating-weight 0"});
  t.fixed.set("rating-weight", "0.5");
  EXPECT_NO_THROW(check_tune_options(t));
}

TEST(Tune, SearchesOnTheTrainPartOnly) {
  const Dataset data = test::tiny_dataset();
  SplitSpec outer;
  const Split split = make_split(data.interactions, outer, data.users);
  TuneOptions o;
  o.model = "ease";
  o.space = SearchSpace{{{"regularization", {"0.5", "5", "50"}}}};
  o.k = 5;
  std::vector<int> seen;
  o.on_trial = [&](const Trial& t) { seen.push_back(t.index); };
  const TuneResult r = tune(data, split.train, o);
  ASSERT_EQ(r.trials.size(), 3u);
  EXPECT_EQ(seen, (std::vector<int>{0, 1, 2}));
  EXPECT_EQ(r.grid_size, 3u);
  // Trials fit and score on a partition of the train part: the test part is never used.
  EXPECT_EQ(r.fit_pairs + r.validation_pairs, split.train.size());
  EXPECT_GT(r.validation_pairs, 0u);
  for (const auto& t : r.trials) {
    // k = 5 is scored along with EvaluationOptions' default k = 10.
    ASSERT_EQ(t.result.at_k.size(), 2u);
    EXPECT_EQ(t.result.at_k[0].k, 5);
    EXPECT_EQ(t.value, t.result.at_k[0].ndcg);
    EXPECT_LE(t.value, r.trials[r.best].value);
  }
  EXPECT_EQ(r.best_params.values().at("regularization"),
            r.trials[r.best].params.values().at("regularization"));

  TuneOptions big_k = o;
  big_k.k = 10000;
  expect_invalid([&] { tune(data, split.train, big_k); }, {"10000"});
}

}  // namespace
}  // namespace latent
