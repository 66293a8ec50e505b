#include <latent/communicator.hpp>
#include <latent/error.hpp>
#include <latent/features.hpp>
#include <latent/random.hpp>

#include <cmath>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "test_support.hpp"

namespace latent {
namespace {

using test::expect_error;

// Row r's tokens as (index, weight) pairs.
std::vector<std::pair<std::int32_t, float>> tokens(const FeatureRows& rows, std::int64_t r) {
  std::vector<std::pair<std::int32_t, float>> out;
  for (auto k = rows.indptr[static_cast<std::size_t>(r)];
       k < rows.indptr[static_cast<std::size_t>(r) + 1]; ++k) {
    out.emplace_back(rows.index[static_cast<std::size_t>(k)],
                     rows.weight[static_cast<std::size_t>(k)]);
  }
  return out;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(FeatureColumns, ParseTypesAndOptions) {
  const auto cols = parse_feature_columns(
      "genres:multi, year:numeric:buckets=10,title:text:max=100:min=2,zip:categorical:hash=1000,"
      "when:timestamp,tags:multi:sep=tab,words:text:dropout=0.25");
  ASSERT_EQ(cols.size(), 7u);
  EXPECT_EQ(cols[0].name, "genres");
  EXPECT_EQ(cols[0].type, FeatureType::Multi);
  EXPECT_EQ(cols[0].separator, '|');
  EXPECT_EQ(cols[1].type, FeatureType::Numeric);
  EXPECT_EQ(cols[1].buckets, 10);
  EXPECT_EQ(cols[2].max_tokens, 100);
  EXPECT_EQ(cols[2].min_count, 2);
  EXPECT_EQ(cols[3].hash_buckets, 1000);
  EXPECT_EQ(cols[4].buckets, 1000);  // timestamps are bucketized by default, as TFRS's tutorial
  EXPECT_EQ(cols[5].separator, '\t');
  EXPECT_EQ(cols[6].dropout, 0.25f);
  EXPECT_EQ(cols[6].to_string(), "words:text:dropout=0.25");
  EXPECT_EQ(cols[0].dropout, 0.0f);
  EXPECT_FALSE(cols[0].to_json().contains("dropout"));  // files without it stay as they were
  // Each declaration reads back as itself.
  for (const FeatureColumn& c : cols) {
    const auto again = parse_feature_columns(c.to_string());
    ASSERT_EQ(again.size(), 1u) << c.to_string();
    EXPECT_EQ(again[0].to_json(), c.to_json()) << c.to_string();
    EXPECT_EQ(FeatureColumn::from_json(c.to_json()).to_json(), c.to_json());
  }
  EXPECT_TRUE(parse_feature_columns("").empty());
  EXPECT_TRUE(parse_feature_columns("  ").empty());
}

TEST(FeatureColumns, BadDeclarationsNameTheColumnAndValue) {
  EXPECT_NE(error_of([] { parse_feature_columns("genres"); }).find("genres:TYPE"),
            std::string::npos);
  EXPECT_NE(error_of([] {
              parse_feature_columns("a:colour");
            }).find("unknown feature type \"colour\"; valid: categorical"),
            std::string::npos);
  EXPECT_NE(
      error_of([] { parse_feature_columns("a:text,a:numeric"); }).find("\"a\" is declared twice"),
      std::string::npos);
  EXPECT_NE(error_of([] {
              parse_feature_columns("a:numeric:hash=10");
            }).find("a numeric column takes no hash option"),
            std::string::npos);
  EXPECT_NE(error_of([] {
              parse_feature_columns("a:categorical:hash=0");
            }).find("hash=0 must be an integer in [1,"),
            std::string::npos);
  EXPECT_NE(error_of([] { parse_feature_columns("a:categorical:hash=x"); }).find("hash=x"),
            std::string::npos);
  EXPECT_NE(error_of([] {
              parse_feature_columns("a:categorical:hash=8:max=3");
            }).find("takes no max or min"),
            std::string::npos);
  EXPECT_NE(error_of([] { parse_feature_columns("a:multi:sep=ab"); }).find("sep=ab"),
            std::string::npos);
  EXPECT_NE(error_of([] {
              parse_feature_columns("a:text:colour=red");
            }).find("unknown option \"colour\""),
            std::string::npos);
  for (const char* bad : {"1", "-0.1", "x", "0.5x", ""}) {
    EXPECT_NE(
        error_of([bad] {
          parse_feature_columns(fmt::format("a:text:dropout={}", bad));
        }).find(fmt::format("feature column \"a\": dropout={} must be a number in [0, 1)", bad)),
        std::string::npos)
        << bad;
  }
  EXPECT_NE(error_of([] { parse_feature_columns(":text"); }).find("the name is empty"),
            std::string::npos);
  EXPECT_NE(error_of([] { parse_feature_columns("a:text:max"); }).find("not NAME=VALUE"),
            std::string::npos);
}

TEST(FeatureEncoder, CategoricalValuesAreExactStringsWithOovAtZero) {
  FeatureTable t;
  t.ids = {"u1", "u2", "u3", "u4"};
  t.values = {{"02138", "2138", "", "02138"}};
  const auto e = FeatureEncoder::fit(parse_feature_columns("zip:categorical"), t);
  ASSERT_EQ(e.columns().size(), 1u);
  EXPECT_EQ(e.columns()[0].rows(), 3);  // OOV, "02138", "2138"
  EXPECT_EQ(e.columns()[0].fitted, 3);
  const FeatureRows rows = e.encode(t);
  ASSERT_EQ(rows.rows(), 4);
  EXPECT_EQ(tokens(rows, 0), (std::vector<std::pair<std::int32_t, float>>{{1, 1.0f}}));
  EXPECT_EQ(tokens(rows, 1), (std::vector<std::pair<std::int32_t, float>>{{2, 1.0f}}));
  // Missing: the OOV row.
  EXPECT_EQ(tokens(rows, 2), (std::vector<std::pair<std::int32_t, float>>{{0, 1.0f}}));
  // A value the fit never saw: the OOV row too.
  FeatureRows one;
  const std::vector<std::string_view> unseen{"99999"};
  e.encode_one(unseen, one, "request");
  EXPECT_EQ(tokens(one, 0), (std::vector<std::pair<std::int32_t, float>>{{0, 1.0f}}));
}

TEST(FeatureEncoder, MultiValuesAreAMeanOfTheirTokens) {
  FeatureTable t;
  t.ids = {"m1", "m2", "m3"};
  t.values = {{"Action|Comedy", "Comedy", " | "}};
  const auto e = FeatureEncoder::fit(parse_feature_columns("genres:multi"), t);
  EXPECT_EQ(e.total_rows(), 3);  // OOV, Action, Comedy
  const FeatureRows rows = e.encode(t);
  EXPECT_EQ(tokens(rows, 0), (std::vector<std::pair<std::int32_t, float>>{{1, 0.5f}, {2, 0.5f}}));
  EXPECT_EQ(tokens(rows, 1), (std::vector<std::pair<std::int32_t, float>>{{2, 1.0f}}));
  EXPECT_EQ(tokens(rows, 2), (std::vector<std::pair<std::int32_t, float>>{{0, 1.0f}}));
}

TEST(FeatureEncoder, SeparatorOfNamesEachListColumnsSeparator) {
  FeatureTable t;
  t.ids = {"m1", "m2"};
  t.values = {{"a;b", "b"}, {"x|y", "y"}, {"1", "2"}};
  const auto e =
      FeatureEncoder::fit(parse_feature_columns("tags:multi:sep=;,genres:multi,year:numeric"), t);
  EXPECT_EQ(e.separator_of("tags"), ';');
  EXPECT_EQ(e.separator_of("genres"), '|');
  EXPECT_EQ(e.separator_of("no such column"), '|');
}

TEST(FeatureEncoder, MaxAndMinKeepTheFrequentValues) {
  FeatureTable t;
  t.ids = {"1", "2", "3", "4", "5", "6"};
  t.values = {{"a", "a", "a", "b", "b", "c"}, {"a", "a", "a", "b", "b", "c"}};
  const auto e =
      FeatureEncoder::fit(parse_feature_columns("x:categorical:max=2,y:categorical:min=2"), t);
  for (const ColumnEncoding& c : e.columns()) {
    ASSERT_EQ(c.vocabulary.num_known(), 2) << c.column.name;
    EXPECT_EQ(c.vocabulary.lookup("c"), Vocabulary::kOov) << c.column.name;
    EXPECT_NE(c.vocabulary.lookup("b"), Vocabulary::kOov) << c.column.name;
  }
  // Column y's rows come after column x's.
  EXPECT_EQ(e.offsets()[1], 3);
  const FeatureRows rows = e.encode(t);
  EXPECT_EQ(tokens(rows, 5), (std::vector<std::pair<std::int32_t, float>>{{0, 1.0f}, {3, 1.0f}}));
}

TEST(FeatureEncoder, HashedValuesNeedNoVocabulary) {
  FeatureTable t;
  t.ids = {"1", "2", "3"};
  t.values = {{"x", "y", ""}};
  const auto e = FeatureEncoder::fit(parse_feature_columns("z:categorical:hash=16"), t);
  EXPECT_EQ(e.total_rows(), 17);
  EXPECT_EQ(e.columns()[0].vocabulary.num_known(), 0);
  const FeatureRows rows = e.encode(t);
  // The same value hashes to the same row in [1, 16], also when unseen in the fit.
  FeatureRows again;
  const std::vector<std::string_view> x{"x"};
  e.encode_one(x, again, "request");
  EXPECT_EQ(tokens(rows, 0), tokens(again, 0));
  EXPECT_GE(tokens(rows, 0)[0].first, 1);
  EXPECT_LE(tokens(rows, 0)[0].first, 16);
  EXPECT_EQ(tokens(rows, 2), (std::vector<std::pair<std::int32_t, float>>{{0, 1.0f}}));
}

TEST(FeatureEncoder, NumericIsNormalizedAndBucketized) {
  FeatureTable t;
  t.ids = {"1", "2", "3", "4", "5"};
  t.values = {{"1", "2", "3", "4", ""}};
  const auto e = FeatureEncoder::fit(parse_feature_columns("x:numeric:buckets=2"), t);
  const ColumnEncoding& c = e.columns()[0];
  EXPECT_DOUBLE_EQ(c.mean, 2.5);
  EXPECT_DOUBLE_EQ(c.std, std::sqrt(1.25));
  EXPECT_EQ(c.boundaries, std::vector<double>{3.0});  // the median
  EXPECT_EQ(c.rows(), 4);                             // missing, value, 2 buckets
  const FeatureRows rows = e.encode(t);
  const auto z = [&](double x) { return static_cast<float>((x - 2.5) / std::sqrt(1.25)); };
  EXPECT_EQ(tokens(rows, 0), (std::vector<std::pair<std::int32_t, float>>{{1, z(1)}, {2, 1.0f}}));
  EXPECT_EQ(tokens(rows, 3), (std::vector<std::pair<std::int32_t, float>>{{1, z(4)}, {3, 1.0f}}));
  EXPECT_EQ(tokens(rows, 4), (std::vector<std::pair<std::int32_t, float>>{{0, 1.0f}}));
  // Without buckets: missing and the value only.
  const auto plain = FeatureEncoder::fit(parse_feature_columns("x:numeric"), t);
  EXPECT_EQ(plain.total_rows(), 2);
  // A constant column normalizes with std 1 (no division by zero).
  FeatureTable same;
  same.ids = {"1", "2"};
  same.values = {{"7", "7"}};
  const auto flat = FeatureEncoder::fit(parse_feature_columns("x:numeric"), same);
  EXPECT_EQ(flat.columns()[0].std, 1.0);
  EXPECT_EQ(tokens(flat.encode(same), 0), (std::vector<std::pair<std::int32_t, float>>{{1, 0.0f}}));
}

// Fitted on several ranks (context features on MPI ranks), a number
// column's buckets are found by bisecting the values' bits with every
// rank's counts summed: on one rank, that search must find exactly the
// quantiles a sort does, for negative, tied, fractional and huge values
// alike (tests/mpi checks the ranks' sums against one process's too).
TEST(FeatureEncoder, ACollectiveFitFindsTheSortsQuantiles) {
  FeatureTable t;
  t.values.resize(1);
  Rng rng(11);
  const std::vector<double> specials{-1e300, -2.5, -0.0, 0.0, 1e-310, 3.0, 3.0, 3.0, 1e18};
  for (int r = 0; r < 2000; ++r) {
    const double x = r % 7 == 0   ? specials[static_cast<std::size_t>(r / 7) % specials.size()]
                     : r % 3 == 0 ? std::floor(rng.uniform() * 20) - 10
                                  : (rng.uniform() - 0.3) * 1e6;
    t.ids.push_back(std::to_string(r));
    t.values[0].push_back(r % 11 == 0 ? "" : fmt::format("{}", x));
  }
  // Times: seconds, many of them the same.
  FeatureTable times = t;
  for (std::size_t r = 0; r < times.ids.size(); ++r) {
    times.values[0][r] = std::to_string(static_cast<std::int64_t>(rng.uniform() * 300) * 3'600'000);
  }
  for (const auto& [declaration, table] :
       {std::pair("x:numeric:buckets=7", &t), std::pair("x:numeric:buckets=300", &t),
        std::pair("x:numeric", &t), std::pair("x:timestamp", &times)}) {
    SCOPED_TRACE(declaration);
    const auto columns = parse_feature_columns(declaration);
    Communicator one;  // one process: every collective as MPI's with one rank
    const FeatureEncoder sorted = FeatureEncoder::fit(columns, *table);
    const FeatureEncoder bisected = FeatureEncoder::fit(columns, *table, &one);
    EXPECT_EQ(bisected.to_json(), sorted.to_json());
    const ColumnEncoding& c = sorted.columns()[0];
    EXPECT_TRUE(c.column.buckets <= 1 || c.boundaries.size() > 5) << c.boundaries.size();
  }
  // Other columns are not fitted on ranks yet.
  FeatureTable words;
  words.ids = {"1"};
  words.values = {{"a"}};
  Communicator one;
  expect_error(
      [&] { (void)FeatureEncoder::fit(parse_feature_columns("w:categorical"), words, &one); },
      ErrorKind::InvalidArgument, {"\"w\"", "only numeric and timestamp"});
}

TEST(FeatureEncoder, ANumberThatIsNotOneNamesTheSourceRowAndValue) {
  FeatureTable t;
  t.ids = {"1", "2"};
  t.values = {{"3", "three"}};
  t.source = "items.csv";
  t.row_name = "line";
  t.row_numbers = {2, 3};
  EXPECT_EQ(error_of([&] { FeatureEncoder::fit(parse_feature_columns("year:numeric"), t); }),
            "items.csv: line 3: feature column \"year\" (numeric): \"three\" is not a number");
  t.values = {{"3", "inf"}};
  EXPECT_NE(error_of([&] {
              FeatureEncoder::fit(parse_feature_columns("year:numeric"), t);
            }).find("\"inf\" is not a number"),
            std::string::npos);
  // Encoding a request names the request.
  t.values = {{"3", "4"}};
  const auto e = FeatureEncoder::fit(parse_feature_columns("year:numeric"), t);
  FeatureRows rows;
  const std::vector<std::string_view> bad{"x"};
  EXPECT_EQ(error_of([&] { e.encode_one(bad, rows, "instance 0"); }),
            "instance 0: feature column \"year\" (numeric): \"x\" is not a number");
  const std::vector<std::string_view> two{"1", "2"};
  EXPECT_NE(error_of([&] { e.encode_one(two, rows, "instance 0"); }).find("2 feature values for 1"),
            std::string::npos);
}

TEST(FeatureEncoder, TablesThatDoNotMatchTheDeclarationsAreRefused) {
  FeatureTable t;
  t.ids = {"1", "2"};
  t.values = {{"a", "b"}};
  EXPECT_NE(error_of([&] {
              FeatureEncoder::fit(parse_feature_columns("a:text,b:text"), t);
            }).find("1 feature columns of values for 2 declared"),
            std::string::npos);
  t.values = {{"a"}};
  EXPECT_NE(error_of([&] {
              FeatureEncoder::fit(parse_feature_columns("a:text"), t);
            }).find("has 1 values for 2 ids"),
            std::string::npos);
}

TEST(FeatureEncoder, TextIsABagOfLowercasedWords) {
  EXPECT_EQ(text_words("Toy Story (1995)"), (std::vector<std::string>{"toy", "story", "1995"}));
  EXPECT_EQ(
      text_words("Amélie, Le fabuleux destin d'Amélie Poulain"),
      (std::vector<std::string>{"amélie", "le", "fabuleux", "destin", "d", "amélie", "poulain"}));
  EXPECT_TRUE(text_words(" ...!? ").empty());
  FeatureTable t;
  t.ids = {"1", "2", "3"};
  t.values = {{"Toy Story", "Story of a toy story", ""}};
  const auto e = FeatureEncoder::fit(parse_feature_columns("title:text"), t);
  const ColumnEncoding& c = e.columns()[0];
  EXPECT_EQ(c.vocabulary.num_known(), 4);  // a, of, story, toy
  const FeatureRows rows = e.encode(t);
  const std::int32_t story = c.vocabulary.lookup("story"), toy = c.vocabulary.lookup("toy");
  EXPECT_EQ(tokens(rows, 0),
            (std::vector<std::pair<std::int32_t, float>>{{toy, 0.5f}, {story, 0.5f}}));
  EXPECT_EQ(tokens(rows, 1).size(), 5u);  // a repeated word counts twice
  EXPECT_EQ(tokens(rows, 2), (std::vector<std::pair<std::int32_t, float>>{{0, 1.0f}}));
}

TEST(FeatureEncoder, TimestampsReadSecondsAndDates) {
  EXPECT_EQ(parse_timestamp("0"), 0.0);
  EXPECT_EQ(parse_timestamp("874965758"), 874965758.0);
  EXPECT_EQ(parse_timestamp("1970-01-02"), 86400.0);
  EXPECT_EQ(parse_timestamp("1995-01-01"), 788918400.0);
  EXPECT_EQ(parse_timestamp("1995-01-01T00:00:10Z"), 788918410.0);
  EXPECT_EQ(parse_timestamp("1995-01-01 01:00:00"), 788922000.0);
  EXPECT_EQ(parse_timestamp("2000-02-29"), 951782400.0);
  EXPECT_FALSE(parse_timestamp("1999-02-29"));
  EXPECT_FALSE(parse_timestamp("1995-13-01"));
  EXPECT_FALSE(parse_timestamp("01-Jan-1995"));
  EXPECT_FALSE(parse_timestamp("1995-01-01T25:00:00"));
  EXPECT_FALSE(parse_timestamp("1995-01-01Tx"));
  EXPECT_FALSE(parse_timestamp(""));
  FeatureTable t;
  t.ids = {"1", "2", "3"};
  t.values = {{"1995-01-01", "874965758", "soon"}};
  EXPECT_NE(error_of([&] {
              FeatureEncoder::fit(parse_feature_columns("when:timestamp"), t);
            }).find("\"soon\" is not a timestamp (seconds, or YYYY-MM-DD[THH:MM:SS])"),
            std::string::npos);
}

TEST(FeatureEncoder, JsonHoldsTheDeclarationsAndStatistics) {
  FeatureTable t;
  t.ids = {"1", "2"};
  t.values = {{"1", "3"}, {"a", "b"}};
  const auto e = FeatureEncoder::fit(parse_feature_columns("x:numeric,g:categorical"), t);
  const nlohmann::json j = e.to_json();
  ASSERT_EQ(j.size(), 2u);
  EXPECT_EQ(j[0]["name"], "x");
  EXPECT_EQ(j[0]["mean"], 2.0);
  EXPECT_EQ(j[0]["std"], 1.0);
  EXPECT_EQ(j[0]["rows"], 2);
  EXPECT_EQ(j[1]["rows"], 3);
  EXPECT_FALSE(j[1].contains("mean"));
}

TEST(FeatureEncoder, RestoredFromItsJsonAndVocabulariesItEncodesTheSame) {
  FeatureTable t;
  t.ids = {"1", "2", "3", "4"};
  t.values = {{"a|b", "b", "", "c"},
              {"1", "2", "3", ""},
              {"Toy story", "", "story", "x y"},
              {"z1", "z2", "z1", "z3"}};
  const auto cols =
      parse_feature_columns("g:multi,n:numeric:buckets=2,t:text,h:categorical:hash=5");
  const FeatureEncoder e = FeatureEncoder::fit(cols, t);
  std::vector<Vocabulary> vocabularies;
  for (const ColumnEncoding& c : e.columns()) vocabularies.push_back(c.vocabulary);
  const FeatureEncoder again = FeatureEncoder::restore(e.to_json(), vocabularies);
  EXPECT_EQ(again.to_json(), e.to_json());
  const FeatureRows a = e.encode(t), b = again.encode(t);
  EXPECT_EQ(a.indptr, b.indptr);
  EXPECT_EQ(a.index, b.index);
  EXPECT_EQ(a.weight, b.weight);
  // What does not fit is refused, naming the column.
  nlohmann::json bad = e.to_json();
  bad[1]["boundaries"] = {3.0, 2.0};
  EXPECT_NE(error_of([&] {
              FeatureEncoder::restore(bad, vocabularies);
            }).find("\"n\": bucket boundaries must ascend"),
            std::string::npos);
  bad = e.to_json();
  bad[0]["rows"] = 99;
  EXPECT_NE(error_of([&] { FeatureEncoder::restore(bad, vocabularies); }).find("99 rows recorded"),
            std::string::npos);
  bad = e.to_json();
  bad[2].erase("type");
  EXPECT_NE(error_of([&] { FeatureEncoder::restore(bad, vocabularies); }).find("column 2"),
            std::string::npos);
  std::vector<Vocabulary> extra = vocabularies;
  extra[3] = Vocabulary::from_ids({"q"});
  EXPECT_NE(
      error_of([&] { FeatureEncoder::restore(e.to_json(), extra); }).find("has no vocabulary"),
      std::string::npos);
  EXPECT_NE(error_of([&] { FeatureEncoder::restore(e.to_json(), {}); }).find("4 columns for 0"),
            std::string::npos);
}

TEST(FeatureTable, ReadsTheDeclaredColumnsOfACsvFile) {
  test::TempDir dir;
  const auto path = test::write_file(dir / "movies.csv",
                                     "movieId,title,genres,year\n"
                                     "1,Toy Story (1995),Animation|Children,1995\n"
                                     "\n"
                                     "2,\"Heat, the film\",Action,\n");
  const auto cols = parse_feature_columns("genres:multi,year:numeric,title:text");
  const FeatureTable t = load_feature_table(path, "movieId", cols);
  EXPECT_EQ(t.ids, (std::vector<std::string>{"1", "2"}));
  ASSERT_EQ(t.values.size(), 3u);
  EXPECT_EQ(t.values[0], (std::vector<std::string>{"Animation|Children", "Action"}));
  EXPECT_EQ(t.values[1], (std::vector<std::string>{"1995", ""}));
  EXPECT_EQ(t.values[2], (std::vector<std::string>{"Toy Story (1995)", "Heat, the film"}));
  EXPECT_EQ(t.row_numbers, (std::vector<std::size_t>{2, 4}));
  // Errors name the file and its line.
  test::write_file(dir / "bad.csv", "movieId,year\n1,1995\n2,soon\n");
  const auto year = parse_feature_columns("year:numeric");
  const FeatureTable bad = load_feature_table(dir / "bad.csv", "movieId", year);
  EXPECT_EQ(error_of([&] { FeatureEncoder::fit(year, bad); }),
            (dir / "bad.csv").string() +
                ": line 3: feature column \"year\" (numeric): \"soon\" is not a number");
}

TEST(FeatureTable, ValuesThatAreNotUtf8AreReadAsLatin1) {
  test::TempDir dir;
  const auto path = test::write_file(dir / "l1.csv",
                                     "id,genres\n1,Com\xe9"
                                     "die|Drame\n");
  const auto cols = parse_feature_columns("genres:multi");
  const FeatureTable t = load_feature_table(path, "id", cols);
  EXPECT_EQ(t.values[0][0],
            "Com\xc3\xa9"
            "die|Drame");
  EXPECT_EQ(FeatureEncoder::fit(cols, t).columns()[0].vocabulary.num_known(), 2);
}

TEST(FeatureTable, BadFilesAreRefusedWithTheirLine) {
  test::TempDir dir;
  const auto cols = parse_feature_columns("genres:multi");
  test::write_file(dir / "twice.csv", "id,genres\n1,a\n2,b\n1,c\n");
  EXPECT_NE(error_of([&] {
              load_feature_table(dir / "twice.csv", "id", cols);
            }).find("line 4: id \"1\" (column \"id\") already has features on line 2"),
            std::string::npos);
  test::write_file(dir / "nogenres.csv", "id,tags\n1,a\n");
  const std::string missing =
      error_of([&] { load_feature_table(dir / "nogenres.csv", "id", cols); });
  EXPECT_NE(missing.find("genres"), std::string::npos) << missing;
  EXPECT_NE(missing.find("nogenres.csv"), std::string::npos) << missing;
  test::write_file(dir / "short.csv", "id,genres\n1\n");
  EXPECT_NE(error_of([&] { load_feature_table(dir / "short.csv", "id", cols); }).find("line 2"),
            std::string::npos);
  test::write_file(dir / "noid.csv", "id,genres\n,a\n");
  EXPECT_NE(error_of([&] { load_feature_table(dir / "noid.csv", "id", cols); }).find("line 2"),
            std::string::npos);
  EXPECT_NE(
      error_of([&] { load_feature_table(dir / "absent.csv", "id", cols); }).find("absent.csv"),
      std::string::npos);
}

TEST(MovieLensFeatures, LatestGivesTitlesGenresYearsAndTags) {
  const auto cols = parse_feature_columns("genres:multi,year:numeric,tags:multi,title:text");
  const FeatureTable t = movielens_feature_table(test::bundled_data(), FeatureSide::Items, cols);
  ASSERT_EQ(t.ids.size(), 9742u);
  EXPECT_EQ(t.ids[0], "1");
  EXPECT_EQ(t.row_numbers[0], 2u);
  EXPECT_EQ(t.values[0][0], "Adventure|Animation|Children|Comedy|Fantasy");
  EXPECT_EQ(t.values[1][0], "1995");
  EXPECT_EQ(t.values[2][0], "pixar|pixar|fun");
  EXPECT_EQ(t.values[3][0], "Toy Story (1995)");
  // The encoder takes them as they are.
  const FeatureEncoder e = FeatureEncoder::fit(cols, t);
  EXPECT_EQ(e.columns()[0].vocabulary.num_known(), 19);  // 19 genres beside "(no genres listed)"
  EXPECT_GT(e.columns()[2].vocabulary.num_known(), 1000);
  EXPECT_EQ(e.encode(t).rows(), 9742);
}

TEST(MovieLensFeatures, BadRequestsNameTheColumnOrDirectory) {
  const auto colour = parse_feature_columns("colour:categorical");
  const std::string e1 =
      error_of([&] { movielens_feature_table(test::bundled_data(), FeatureSide::Items, colour); });
  EXPECT_NE(e1.find("no feature column \"colour\"; MovieLens gives genres, tags, title, year"),
            std::string::npos)
      << e1;
  EXPECT_NE(error_of([&] {
              movielens_feature_table(test::bundled_data(), FeatureSide::Users, colour);
            }).find("MovieLens latest has no users' attributes"),
            std::string::npos);
  test::TempDir dir;
  EXPECT_NE(error_of([&] {
              movielens_feature_table(dir.path(), FeatureSide::Items, colour);
            }).find("not a MovieLens directory"),
            std::string::npos);
}

TEST(MovieLensFeatures, Ml100kGivesUsersAndItemsAttributes) {
  LATENT_REQUIRE_ML100K();
  const auto user_cols = parse_feature_columns(
      "age:numeric,gender:categorical,occupation:categorical,zip:categorical");
  const FeatureTable users =
      movielens_feature_table(test::ml100k_dir(), FeatureSide::Users, user_cols);
  ASSERT_EQ(users.ids.size(), 943u);
  EXPECT_EQ(users.ids[0], "1");
  EXPECT_EQ(users.values[0][0], "24");
  EXPECT_EQ(users.values[1][0], "M");
  EXPECT_EQ(users.values[2][0], "technician");
  EXPECT_EQ(users.values[3][0], "85711");
  const auto item_cols =
      parse_feature_columns("title:text,genres:multi,release_date:timestamp,year:numeric");
  const FeatureTable items =
      movielens_feature_table(test::ml100k_dir(), FeatureSide::Items, item_cols);
  ASSERT_EQ(items.ids.size(), 1682u);
  EXPECT_EQ(items.values[0][0], "Toy Story (1995)");
  EXPECT_EQ(items.values[1][0], "Animation|Children's|Comedy");
  EXPECT_EQ(items.values[2][0], "1995-01-01");
  EXPECT_EQ(items.values[3][0], "1995");
  // Movie 267 has no release date: missing, not an error.
  EXPECT_EQ(items.values[2][266], "");
  EXPECT_EQ(items.values[2][1372], "1971-02-04");  // "4-Feb-1971" on line 1373
  const FeatureEncoder e = FeatureEncoder::fit(item_cols, items);
  EXPECT_EQ(e.columns()[1].vocabulary.num_known(), 19);
  EXPECT_EQ(e.columns()[2].fitted, 1681);
  EXPECT_EQ(FeatureEncoder::fit(user_cols, users).columns()[2].vocabulary.num_known(), 21);
}

}  // namespace
}  // namespace latent
