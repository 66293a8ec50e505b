// The report's library part: PCA against known and brute-force answers,
// popularity and coverage on a tiny model worked out by hand, evaluation
// file validation, and escaping of ids and titles in the page.
#include <latent/report.hpp>

#include <cmath>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <latent/evaluation.hpp>
#include <latent/random.hpp>

#include "test_support.hpp"

namespace latent {
namespace {

using test::expect_error;
using test::TempDir;

Matrix rows_of(const std::vector<std::vector<float>>& rows) {
  Matrix m(static_cast<std::int64_t>(rows.size()), static_cast<std::int64_t>(rows[0].size()));
  for (std::size_t r = 0; r < rows.size(); ++r) {
    for (std::size_t c = 0; c < rows[r].size(); ++c) {
      m.row(static_cast<std::int64_t>(r))[c] = rows[r][c];
    }
  }
  return m;
}

TEST(PrincipalComponents, KnownAxesAndVariances) {
  // Points at +-3u and +-v around a centre, with u = (2,3,6)/7 and
  // v = (-3,6,-2)/7 orthonormal: the covariance is 4.5 uu' + 0.5 vv'.
  // (Each has one largest entry, so the sign rule picks them as written.)
  const double u[3] = {2.0 / 7, 3.0 / 7, 6.0 / 7};
  const double v[3] = {-3.0 / 7, 6.0 / 7, -2.0 / 7};
  const double centre[3] = {5, -1, 2};
  std::vector<std::vector<float>> rows;
  for (const auto& [a, b] :
       std::vector<std::pair<double, double>>{{3, 0}, {-3, 0}, {0, 1}, {0, -1}}) {
    std::vector<float> row(3);
    for (int j = 0; j < 3; ++j) row[j] = static_cast<float>(centre[j] + a * u[j] + b * v[j]);
    rows.push_back(row);
  }
  const Projection p = principal_components(rows_of(rows), 2);
  ASSERT_EQ(p.variance.size(), 2u);
  EXPECT_NEAR(p.variance[0], 4.5, 1e-5);
  EXPECT_NEAR(p.variance[1], 0.5, 1e-5);
  EXPECT_NEAR(p.total_variance, 5.0, 1e-5);
  for (int j = 0; j < 3; ++j) {
    EXPECT_NEAR(p.axes.row(0)[j], u[j], 1e-5);  // signed: largest entry positive
    EXPECT_NEAR(p.axes.row(1)[j], v[j], 1e-5);
  }
  const float expected[4][2] = {{3, 0}, {-3, 0}, {0, 1}, {0, -1}};
  for (int r = 0; r < 4; ++r) {
    EXPECT_NEAR(p.points.row(r)[0], expected[r][0], 1e-5) << r;
    EXPECT_NEAR(p.points.row(r)[1], expected[r][1], 1e-5) << r;
  }
}

TEST(PrincipalComponents, AxesAreEigenvectorsOfTheBruteForceCovariance) {
  const std::int64_t n = 60;
  const std::int64_t d = 7;
  Rng rng(7);
  Matrix x(n, d);
  for (std::int64_t r = 0; r < n; ++r) {
    for (std::int64_t j = 0; j < d; ++j) {
      // Columns of decreasing spread, so the eigenvalues are well apart.
      x.row(r)[j] = (rng.uniform() - 0.5f) * static_cast<float>(d - j) + 0.1f * x.row(r)[0];
    }
  }
  std::vector<double> mean(d, 0.0);
  for (std::int64_t r = 0; r < n; ++r)
    for (std::int64_t j = 0; j < d; ++j) mean[j] += x.row(r)[j] / static_cast<double>(n);
  std::vector<std::vector<double>> cov(d, std::vector<double>(d, 0.0));
  for (std::int64_t r = 0; r < n; ++r)
    for (std::int64_t i = 0; i < d; ++i)
      for (std::int64_t j = 0; j < d; ++j)
        cov[i][j] += (x.row(r)[i] - mean[i]) * (x.row(r)[j] - mean[j]) / static_cast<double>(n);

  const Projection p = principal_components(x, 2);
  double trace = 0;
  for (std::int64_t i = 0; i < d; ++i) trace += cov[i][i];
  EXPECT_NEAR(p.total_variance, trace, 1e-4);
  for (int k = 0; k < 2; ++k) {
    const auto a = p.axes.row(k);
    for (std::int64_t i = 0; i < d; ++i) {
      double ca = 0;
      for (std::int64_t j = 0; j < d; ++j) ca += cov[i][j] * a[j];
      EXPECT_NEAR(ca, p.variance[k] * a[i], 1e-4) << "axis " << k << " entry " << i;
    }
  }
  double axes_dot = 0;
  for (std::int64_t j = 0; j < d; ++j) axes_dot += p.axes.row(0)[j] * p.axes.row(1)[j];
  EXPECT_NEAR(axes_dot, 0.0, 1e-6);
  EXPECT_GE(p.variance[0], p.variance[1]);
  // No unit direction holds more variance than the first axis.
  for (int trial = 0; trial < 20; ++trial) {
    std::vector<double> w(d);
    double norm = 0;
    for (auto& value : w) {
      value = rng.uniform() - 0.5;
      norm += value * value;
    }
    double q = 0;
    for (std::int64_t i = 0; i < d; ++i)
      for (std::int64_t j = 0; j < d; ++j) q += w[i] * cov[i][j] * w[j];
    EXPECT_LE(q / norm, p.variance[0] + 1e-6);
  }
}

TEST(PrincipalComponents, DegenerateInputs) {
  // Identical rows: no variance, yet unit orthogonal axes and points at 0.
  const Projection same = principal_components(rows_of({{1, 2, 3}, {1, 2, 3}}), 2);
  EXPECT_EQ(same.variance, (std::vector<double>{0.0, 0.0}));
  double dot01 = 0;
  double norm0 = 0;
  for (int j = 0; j < 3; ++j) {
    dot01 += same.axes.row(0)[j] * same.axes.row(1)[j];
    norm0 += same.axes.row(0)[j] * same.axes.row(0)[j];
  }
  EXPECT_NEAR(dot01, 0.0, 1e-6);
  EXPECT_NEAR(norm0, 1.0, 1e-6);
  EXPECT_EQ(same.points.row(1)[0], 0.0f);
  // One column: one component.
  const Projection line = principal_components(rows_of({{1}, {3}}), 1);
  EXPECT_NEAR(line.variance[0], 1.0, 1e-9);
  EXPECT_NEAR(line.points.row(0)[0], -1.0, 1e-6);
  expect_error(
      [] {
        principal_components(rows_of({{1, 2}}), 3);
      },
      ErrorKind::InvalidArgument, {"3 components", "1 to 2"});
  expect_error([] { principal_components(Matrix(), 2); }, ErrorKind::InvalidArgument, {"empty"});
}

// Users u1, u2; items a, b, c, d (rows 1..4); dim 2. Both users point along
// x, where a scores 1 and b 0.9; u1 has seen a and b, u2 only a.
ModelData tiny_model() {
  ModelData m;
  m.kind = "als";
  m.config = {{"dim", 2}};
  m.training = {{"data", "hand-made"},
                {"epochs", {{{"epoch", 1}, {"loss", 2.5}}, {{"epoch", 2}, {"loss", 1.5}}}}};
  m.users = Vocabulary::from_ids({"u1", "u2"});
  m.items = Vocabulary::from_ids({"a", "b", "c", "d"});
  m.item_titles = {"", "Alpha </script><script>alert(1)</script>", "Beta & \"Gamma\"", "C", "D"};
  m.user_embeddings = rows_of({{0, 0}, {1, 0}, {1, 0}});
  m.item_embeddings = rows_of({{0, 0}, {1, 0}, {0.9f, 0}, {0, 1}, {-1, -1}});
  m.seen = CsrMatrix(3, 5, {0, 0, 2, 3}, {1, 2, 1});
  return m;
}

TEST(ItemPopularity, CountsSharesAndRanking) {
  const Popularity p = item_popularity(tiny_model().seen);
  EXPECT_EQ(p.counts, (std::vector<std::int64_t>{0, 2, 1, 0, 0}));
  EXPECT_EQ(p.interactions, 3);
  EXPECT_EQ(p.known_items, 4);
  EXPECT_EQ(p.items_without, 2);
  EXPECT_EQ(p.ranked, (std::vector<std::int32_t>{1, 2, 3, 4}));
  // 1% and 10% of 4 items round up to the one most popular item: 2 of 3.
  EXPECT_DOUBLE_EQ(p.top_1pct_share, 2.0 / 3);
  EXPECT_DOUBLE_EQ(p.top_10pct_share, 2.0 / 3);
}

TEST(RecommendationCoverage, TinyModelByHand) {
  const Recommender model(tiny_model());
  // Seen excluded: u1's top-1 is c (a and b seen), u2's is b: {b, c} of 4.
  for (const std::int64_t batch : {1, 4096}) {
    const auto c = recommendation_coverage(model, 1, true, 1, batch);
    EXPECT_EQ(c.users, 2);
    EXPECT_EQ(c.items_recommended, 2);
    EXPECT_DOUBLE_EQ(c.coverage, 0.5);
    EXPECT_EQ(c.times_recommended, (std::vector<std::int64_t>{0, 0, 1, 1, 0}));
  }
  // Seen kept: both get a.
  const auto kept = recommendation_coverage(model, 1, false, 1);
  EXPECT_EQ(kept.items_recommended, 1);
  EXPECT_DOUBLE_EQ(kept.coverage, 0.25);
  // k above the catalog is capped at it, as everywhere.
  const auto all = recommendation_coverage(model, 100, false, 1);
  EXPECT_EQ(all.k, 4);
  EXPECT_DOUBLE_EQ(all.coverage, 1.0);
  expect_error([&] { recommendation_coverage(model, 0, true); }, ErrorKind::InvalidArgument,
               {"k must be > 0"});
}

std::string write(const TempDir& dir, const std::string& name, const std::string& text) {
  const auto path = dir / name;
  test::write_bytes(path, text);
  return path.string();
}

TEST(EvaluationFile, AcceptsWhatEvaluateWrites) {
  TempDir dir;
  EvaluationResult r;
  r.at_k = {{5, 0.1, 0.2, 0.3, 0.4, 0.5}, {10, 0.2, 0.1, 0.3, 0.2, 0.6}};
  r.factorized_top_k = {0.01, 0.02};
  r.coverage = 0.3;
  r.users = 7;
  nlohmann::json j = r.to_json();
  j["model"] = "als";
  const auto path = write(dir, "als.json", j.dump(2));
  EXPECT_EQ(read_evaluation_json(path), j);
}

TEST(EvaluationFile, RefusesOtherFilesNamingThem) {
  TempDir dir;
  const auto check = [&](const std::string& text, std::string_view why) {
    const auto path = write(dir, "bad.json", text);
    expect_error([&] { read_evaluation_json(path); }, ErrorKind::InvalidArgument, {path, why});
  };
  check("user,item\n1,2\n", "not valid JSON");
  check("[1, 2]", "not an object");
  check(R"({"model": "als"})", "no \"at_k\"");
  check(R"({"at_k": []})", "no \"at_k\"");
  check(R"({"at_k": [{"k": "10", "recall": 0.1}]})", "at_k[0] has no integer \"k\"");
  check(R"({"at_k": [{"k": 0, "recall": 0.1}]})", "at_k[0] has no integer \"k\"");
  check(R"({"at_k": [{"k": 10, "recall": "high"}]})", "at_k[0].recall is not a number");
  check(R"({"at_k": [{"k": 10}]})", "at_k[0] has none of");
  check(R"({"model": 3, "at_k": [{"k": 10, "recall": 0.1}]})", "\"model\" is not a string");
  check(std::string(100000, '['), "nested deeper");
  const auto missing = (dir / "missing.json").string();
  expect_error([&] { read_evaluation_json(missing); }, ErrorKind::NotFound,
               {"evaluation file", missing});
}

TEST(Escaping, HtmlText) {
  EXPECT_EQ(html_escape(R"(<a href="x">&'</a>)"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;");
  EXPECT_EQ(html_escape("plain caf\xc3\xa9"), "plain caf\xc3\xa9");
}

TEST(Escaping, JsonInsideAScriptElement) {
  const nlohmann::json value = {
      {"title", "</script><script>alert(1)</script><!-- & \xe2\x80\xa8 \\<"}, {"n", 1.5}};
  const std::string text = json_for_script(value);
  EXPECT_EQ(text.find('<'), std::string::npos) << text;
  EXPECT_EQ(text.find('>'), std::string::npos) << text;
  EXPECT_EQ(text.find('&'), std::string::npos) << text;
  EXPECT_EQ(text.find("\xe2\x80\xa8"), std::string::npos) << text;
  EXPECT_EQ(nlohmann::json::parse(text), value);
  // Invalid UTF-8 in an id is replaced, not an exception.
  EXPECT_EQ(nlohmann::json::parse(json_for_script({{"id", "a\xff"}}))["id"], "a\xef\xbf\xbd");
}

TEST(Report, TinyModel) {
  const Recommender model(tiny_model());
  ReportOptions options;
  options.model_file = "tiny </script>.latent";
  options.k = 1;
  options.max_map_items = 2;
  options.threads = 1;
  const nlohmann::json r = build_report(model, options);
  EXPECT_EQ(r["model"]["kind"], "als");
  EXPECT_EQ(r["model"]["items"], 4);
  EXPECT_FALSE(r["model"]["training"].contains("epochs"));
  ASSERT_EQ(r["history"].size(), 2u);
  EXPECT_EQ(r["history"][1]["loss"], 1.5);
  EXPECT_EQ(r["popularity"]["interactions"], 3);
  EXPECT_EQ(r["coverage"]["coverage"], 0.5);
  // The two recommended slots go to b (rank 2) and c (rank 3); the top 10%
  // of 4 items is a alone.
  EXPECT_EQ(r["coverage"]["top_10pct_slot_share"], 0.0);
  // The map: capped at the two most popular items, a and b.
  EXPECT_EQ(r["map"]["items"], 2);
  EXPECT_EQ(r["map"]["capped"], true);
  EXPECT_EQ(r["map"]["ids"], (nlohmann::json{"a", "b"}));
  EXPECT_EQ(r["map"]["titles"][0], "Alpha </script><script>alert(1)</script>");
  EXPECT_EQ(r["map"]["counts"], (nlohmann::json{2, 1}));
  expect_error(
      [&] {
        ReportOptions bad = options;
        bad.max_map_items = 0;
        build_report(model, bad);
      },
      ErrorKind::InvalidArgument, {"item limit", "0"});
}

TEST(Report, PageEmbedsTheDataWithoutBreakingOut) {
  const Recommender model(tiny_model());
  ReportOptions options;
  options.model_file = "tiny </script>.latent";
  const nlohmann::json r = build_report(model, options);
  const std::string page = render_report_html(r);
  // Two </script> in the page: the data element's and the script's own; the
  // titles' and the file name's are escaped.
  std::size_t count = 0;
  for (auto at = page.find("</script"); at != std::string::npos; at = page.find("</script", at + 1))
    ++count;
  EXPECT_EQ(count, 2u);
  EXPECT_NE(page.find("<title>latent report: tiny &lt;/script&gt;.latent</title>"),
            std::string::npos);
  const std::string open = "<script type=\"application/json\" id=\"report-data\">";
  const auto begin = page.find(open);
  ASSERT_NE(begin, std::string::npos);
  const auto end = page.find("</script>", begin);
  EXPECT_EQ(nlohmann::json::parse(page.substr(begin + open.size(), end - begin - open.size())), r);
  EXPECT_EQ(page.find("http://"), page.find("http://www.w3.org/2000/svg"));  // no network
  EXPECT_EQ(page.find("https://"), std::string::npos);
}

}  // namespace
}  // namespace latent
