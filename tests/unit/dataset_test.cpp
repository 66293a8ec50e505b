#include <latent/dataset.hpp>
#include <latent/error.hpp>

#include <algorithm>
#include <fstream>
#include <initializer_list>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "test_support.hpp"
// The CSV reader is private to the library (src/detail); its symbols are in
// the static library the tests link.
#include "detail/csv.hpp"

namespace latent {
namespace {

namespace fs = std::filesystem;
using detail::CsvOptions;
using detail::CsvReader;
using detail::CsvTable;

using test::expect_error;
using test::write_file;

std::vector<std::vector<std::string>> read_all(std::string text, CsvOptions options = {}) {
  CsvReader reader(std::move(text), "mem.csv", options);
  std::vector<std::vector<std::string>> records;
  std::vector<std::string_view> fields;
  while (reader.next(fields)) records.emplace_back(fields.begin(), fields.end());
  return records;
}

using Records = std::vector<std::vector<std::string>>;

// ---- CSV reader --------------------------------------------------------------

TEST(CsvReader, SplitsPlainRecords) {
  EXPECT_EQ(read_all("a,b,c\n1,2,3\n"), (Records{{"a", "b", "c"}, {"1", "2", "3"}}));
  EXPECT_EQ(read_all("1\t2\n", {'\t', true}), (Records{{"1", "2"}}));
  // No final newline; empty fields, including a trailing one.
  EXPECT_EQ(read_all("x,,y\n,z,"), (Records{{"x", "", "y"}, {"", "z", ""}}));
}

TEST(CsvReader, QuotedFieldsHoldDelimitersQuotesAndNewlines) {
  EXPECT_EQ(read_all("11,\"American President, The (1995)\",Comedy\n"),
            (Records{{"11", "American President, The (1995)", "Comedy"}}));
  EXPECT_EQ(read_all("\"11'09\"\"01\",\"\"\n"), (Records{{"11'09\"01", ""}}));
  EXPECT_EQ(read_all("\"two\nlines\",x\r\n"), (Records{{"two\nlines", "x"}}));
}

TEST(CsvReader, StripsCrlfBomAndBlankLines) {
  EXPECT_EQ(read_all("\xEF\xBB\xBFid,title\r\n1,\"a\"\r\n\r\n2,b\r\n\r\n\n"),
            (Records{{"id", "title"}, {"1", "a"}, {"2", "b"}}));
  EXPECT_TRUE(read_all("").empty());
  EXPECT_TRUE(read_all("\n\r\n").empty());
}

TEST(CsvReader, CountsLinesAcrossBlankLinesAndQuotedNewlines) {
  CsvReader reader("a\n\n\"x\ny\"\nb\n", "mem.csv");
  std::vector<std::string_view> fields;
  std::vector<std::size_t> lines;
  while (reader.next(fields)) lines.push_back(reader.line());
  EXPECT_EQ(lines, (std::vector<std::size_t>{1, 3, 5}));
}

TEST(CsvReader, QuotingCanBeTurnedOff) {
  EXPECT_EQ(read_all("1|\"Quoted\" title|x\n", {'|', false}),
            (Records{{"1", "\"Quoted\" title", "x"}}));
}

TEST(CsvReader, UnterminatedQuoteNamesFileAndLine) {
  expect_error([] { read_all("id,title\n1,ok\n2,\"never closed\n3,x\n"); }, ErrorKind::Corruption,
               {"mem.csv", "line 3", "unterminated quote", "field 1"});
}

TEST(CsvReader, TextAfterClosingQuoteIsAnError) {
  expect_error([] { read_all("a,\"b\"c\n"); }, ErrorKind::Corruption,
               {"mem.csv", "line 1", "'c'", "after the closing quote"});
}

TEST(CsvReader, SniffsTheDelimiterFromTheFirstLine) {
  EXPECT_EQ(detail::sniff_delimiter("user\titem\trating\n"), '\t');
  EXPECT_EQ(detail::sniff_delimiter("user;item;rating\n1,5;2;3\n"), ';');
  EXPECT_EQ(detail::sniff_delimiter("1|2|3"), '|');
  EXPECT_EQ(detail::sniff_delimiter("id,\"a;b;c\"\n"), ',');
  EXPECT_EQ(detail::sniff_delimiter("single\n"), ',');
  CsvReader reader("a;b\n", "mem.csv");
  EXPECT_EQ(reader.delimiter(), ';');
}

TEST(CsvReader, MissingFileIsNotFound) {
  expect_error([] { CsvReader::open("/nonexistent/ratings.csv"); }, ErrorKind::NotFound,
               {"/nonexistent/ratings.csv"});
}

TEST(CsvTable, ResolvesColumnsByNameOrNumber) {
  CsvTable table(CsvReader("user,item,rating\n1,2,3\n", "t.csv"), true);
  EXPECT_EQ(table.column("item", "item").index, 1U);
  EXPECT_EQ(table.column("item", "item").label, "column \"item\"");
  EXPECT_EQ(table.column("2", "rating").index, 2U);
  const std::string_view names[] = {"missing", "rating"};
  ASSERT_TRUE(table.find_column(names).has_value());
  EXPECT_EQ(table.find_column(names)->index, 2U);
  ASSERT_TRUE(table.next());
  EXPECT_EQ(table.field(table.column("rating", "rating")), "3");
  EXPECT_FALSE(table.next());
}

TEST(CsvTable, UnknownColumnNameListsTheHeader) {
  CsvTable table(CsvReader("userId,movieId,rating\n1,2,3\n", "t.csv"), true);
  expect_error([&] { table.column("score", "rating"); }, ErrorKind::NotFound,
               {"t.csv", "line 1", "\"score\"", "userId, movieId, rating"});
}

TEST(CsvTable, ColumnNumberBeyondTheFields) {
  CsvTable table(CsvReader("1\t2\t3\n", "t.tsv"), false);
  expect_error([&] { table.column("7", "timestamp"); }, ErrorKind::NotFound,
               {"t.tsv", "line 1", "timestamp column 7", "3 fields"});
  expect_error([&] { table.column("rating", "rating"); }, ErrorKind::InvalidArgument,
               {"t.tsv", "\"rating\"", "no header"});
}

TEST(CsvTable, WrongFieldCountNamesTheLine) {
  CsvTable table(CsvReader("a,b,c\n1,2,3\n4,5\n", "t.csv"), true);
  ASSERT_TRUE(table.next());
  expect_error([&] { table.next(); }, ErrorKind::Corruption,
               {"t.csv", "line 3", "expected 3 fields", "found 2"});
}

TEST(CsvTable, EmptyFileIsAnError) {
  expect_error([] { CsvTable(CsvReader("\n", "empty.csv"), true); }, ErrorKind::Corruption,
               {"empty.csv", "empty"});
}

// ---- Names -------------------------------------------------------------------

TEST(DatasetNames, FormatsAndItemKeysRoundTrip) {
  for (const auto format : {DataFormat::Auto, DataFormat::MovieLens100K,
                            DataFormat::MovieLensLatest, DataFormat::Csv}) {
    EXPECT_EQ(parse_data_format(to_string(format)), format);
  }
  EXPECT_STREQ(to_string(DataFormat::MovieLens100K), "ml-100k");
  EXPECT_EQ(parse_item_key("title"), ItemKey::Title);
  EXPECT_EQ(parse_item_key("id"), ItemKey::Id);
  EXPECT_STREQ(to_string(ItemKey::Title), "title");
}

TEST(DatasetNames, UnknownNamesListTheValidOnes) {
  expect_error([] { parse_data_format("movielens"); }, ErrorKind::InvalidArgument,
               {"\"movielens\"", "auto, ml-100k, ml-latest, csv"});
  expect_error([] { parse_item_key("name"); }, ErrorKind::InvalidArgument,
               {"\"name\"", "id, title"});
}

// ---- Real data ---------------------------------------------------------------

TEST(DatasetMl100k, TitlesAboveThree) {
  LATENT_REQUIRE_ML100K();
  LoadOptions options;
  options.data = test::ml100k_dir();
  options.rating_above = 3;
  options.item_key = ItemKey::Title;
  const Dataset d = load_dataset(options);

  EXPECT_EQ(d.format, DataFormat::MovieLens100K);
  EXPECT_EQ(d.rows_read, 100000U);
  EXPECT_EQ(d.interactions.size(), 55375U);
  EXPECT_EQ(d.users.size(), 943);
  EXPECT_EQ(d.items.size(), 1665);
  EXPECT_EQ(d.interactions.num_users, 943);
  EXPECT_EQ(d.interactions.num_items, 1665);
  ASSERT_EQ(d.interactions.ratings.size(), d.interactions.size());
  EXPECT_EQ(d.interactions.timestamps.size(), d.interactions.size());
  EXPECT_TRUE(std::all_of(d.interactions.ratings.begin(), d.interactions.ratings.end(),
                          [](float r) { return r > 3; }));
  EXPECT_EQ(d.items.kind(), Vocabulary::IdKind::String);
  EXPECT_TRUE(d.items.find("Toy Story (1995)").has_value());
  ASSERT_EQ(d.item_titles.size(), 1665U);
  EXPECT_EQ(d.item_titles[0], "");
  EXPECT_EQ(d.item_titles[5], d.items.id(5));
  EXPECT_EQ(d.description,
            fmt::format("ml-100k at {} (rating > 3, items by title)", options.data.string()));
  // Every row points into the vocabularies, none at OOV.
  EXPECT_EQ(*std::min_element(d.interactions.users.begin(), d.interactions.users.end()), 1);
  EXPECT_EQ(*std::min_element(d.interactions.items.begin(), d.interactions.items.end()), 1);
  EXPECT_LT(*std::max_element(d.interactions.items.begin(), d.interactions.items.end()), 1665);
  // The 44,625 ratings <= 3, less the 20 of the one user with no rating > 3
  // (every item is in the catalog).
  EXPECT_EQ(d.seen_only.size(), 44605U);
}

TEST(DatasetMl100k, IdsWithoutFilter) {
  LATENT_REQUIRE_ML100K();
  LoadOptions options;
  options.data = test::ml100k_dir();
  const Dataset d = load_dataset(options);

  EXPECT_EQ(d.interactions.size(), 100000U);
  EXPECT_EQ(d.rows_read, 100000U);
  EXPECT_EQ(d.users.size(), 944);
  EXPECT_EQ(d.items.size(), 1683);
  EXPECT_EQ(d.items.kind(), Vocabulary::IdKind::Integer);
  ASSERT_EQ(d.item_titles.size(), 1683U);
  EXPECT_EQ(d.item_titles[static_cast<std::size_t>(d.items.lookup("1"))], "Toy Story (1995)");
  // The first line of u.data: 196 242 3 881250949.
  EXPECT_EQ(d.users.id(d.interactions.users[0]), "196");
  EXPECT_EQ(d.items.id(d.interactions.items[0]), "242");
  EXPECT_EQ(d.interactions.ratings[0], 3.0F);
  EXPECT_EQ(d.interactions.timestamps[0], 881250949);
  EXPECT_EQ(d.description, fmt::format("ml-100k at {}", options.data.string()));
}

TEST(DatasetMl100k, Latin1TitlesBecomeUtf8) {
  LATENT_REQUIRE_ML100K();
  LoadOptions options;
  options.data = test::ml100k_dir();
  const Dataset d = load_dataset(options);
  // u.item line 543 holds "Mis\xE9rables" in Latin-1.
  EXPECT_EQ(d.item_titles[static_cast<std::size_t>(d.items.lookup("543"))],
            "Mis\xC3\xA9rables, Les (1995)");
  EXPECT_EQ(d.item_titles[static_cast<std::size_t>(d.items.lookup("1633"))],
            "\xC3\x81 k\xC3\xB6ldum klaka (Cold Fever) (1994)");
}

TEST(DatasetMlLatest, BundledSmall) {
  LoadOptions options;
  options.data = test::bundled_data();
  const Dataset d = load_dataset(options);

  EXPECT_EQ(d.format, DataFormat::MovieLensLatest);
  EXPECT_EQ(d.rows_read, 100836U);
  EXPECT_EQ(d.interactions.size(), 100836U);
  EXPECT_EQ(d.users.size(), 611);
  EXPECT_EQ(d.items.size(), 9743);
  ASSERT_EQ(d.item_titles.size(), 9743U);
  const auto title = [&](std::string_view id) {
    return d.item_titles[static_cast<std::size_t>(d.items.lookup(id))];
  };
  EXPECT_EQ(title("1"), "Toy Story (1995)");
  EXPECT_EQ(title("11"), "American President, The (1995)");
  EXPECT_EQ(title("7789"), "11'09\"01 - September 11 (2002)");
  EXPECT_EQ(title("73"), "Mis\xC3\xA9rables, Les (1995)");
  // Half-star ratings survive; the first row is 1,1,4.0,964982703.
  EXPECT_EQ(d.interactions.ratings[0], 4.0F);
  EXPECT_EQ(d.interactions.timestamps[0], 964982703);
  EXPECT_NE(std::find(d.interactions.ratings.begin(), d.interactions.ratings.end(), 0.5F),
            d.interactions.ratings.end());
}

TEST(DatasetMlLatest, FilterKeepsStrictlyGreater) {
  LoadOptions options;
  options.data = test::bundled_data();
  options.format = DataFormat::MovieLensLatest;
  options.rating_above = 4.5;
  options.item_key = ItemKey::Title;
  const Dataset d = load_dataset(options);
  EXPECT_EQ(d.rows_read, 100836U);
  EXPECT_TRUE(std::all_of(d.interactions.ratings.begin(), d.interactions.ratings.end(),
                          [](float r) { return r == 5.0F; }));
  // Items are still the whole catalog, by distinct title.
  EXPECT_GT(d.items.size(), 9000);
  EXPECT_EQ(static_cast<std::size_t>(d.items.size()), d.item_titles.size());
}

// ---- Generic CSV -------------------------------------------------------------

TEST(DatasetCsv, HeaderNamesCrlfBomAndTrailingLines) {
  test::TempDir dir;
  const auto file = write_file(dir / "events.csv",
                               "\xEF\xBB\xBFuser_id,item_id,rating,timestamp\r\n"
                               "u1,10,4.5,100\r\n"
                               "u2,\"20\",2,200\r\n"
                               "u1,30,5,300\r\n\r\n\r\n");
  LoadOptions options;
  options.data = file;
  options.rating_above = 3;
  const Dataset d = load_dataset(options);

  EXPECT_EQ(d.format, DataFormat::Csv);
  EXPECT_EQ(d.rows_read, 3U);
  ASSERT_EQ(d.interactions.size(), 2U);
  // Users and items from kept rows only.
  EXPECT_EQ(d.users.size(), 2);
  EXPECT_EQ(d.items.size(), 3);
  EXPECT_EQ(d.users.id(d.interactions.users[1]), "u1");
  EXPECT_EQ(d.items.id(d.interactions.items[1]), "30");
  EXPECT_EQ(d.interactions.ratings, (std::vector<float>{4.5F, 5.0F}));
  EXPECT_EQ(d.interactions.timestamps, (std::vector<std::int64_t>{100, 300}));
  EXPECT_TRUE(d.item_titles.empty());
  EXPECT_EQ(d.description, fmt::format("csv at {} (rating > 3)", file.string()));
}

TEST(DatasetCsv, FilteredRowsOfKnownUsersAndItemsAreSeenOnly) {
  test::TempDir dir;
  LoadOptions options;
  options.data =
      write_file(dir / "r.csv", "user,item,rating\nu1,10,5\nu1,20,2\nu2,20,4\nu3,10,1\nu2,30,3\n");
  options.rating_above = 3;
  const Dataset d = load_dataset(options);
  ASSERT_EQ(d.interactions.size(), 2U);
  // u1 rated 20 low: seen. u3 has no kept row and item 30 none either, so
  // their rows are in no vocabulary and are dropped for good.
  ASSERT_EQ(d.seen_only.size(), 1U);
  EXPECT_EQ(d.users.id(d.seen_only.users[0]), "u1");
  EXPECT_EQ(d.items.id(d.seen_only.items[0]), "20");
  EXPECT_TRUE(d.seen_only.ratings.empty());

  options.rating_above.reset();
  EXPECT_TRUE(load_dataset(options).seen_only.empty());
}

TEST(DatasetCsv, HeaderlessTsvDefaultsToUserItemRating) {
  test::TempDir dir;
  LoadOptions options;
  options.data = write_file(dir / "u.tsv", "1\t5\t3\n2\t6\t4\n");
  options.header = false;
  const Dataset d = load_dataset(options);
  ASSERT_EQ(d.interactions.size(), 2U);
  EXPECT_EQ(d.interactions.ratings, (std::vector<float>{3.0F, 4.0F}));
  EXPECT_TRUE(d.interactions.timestamps.empty());
}

TEST(DatasetCsv, ColumnsByNumberAndSniffedDelimiter) {
  test::TempDir dir;
  LoadOptions options;
  options.data = write_file(dir / "data.txt", "when;score;who;what\n9;1.5;a;x\n8;2;b;y\n");
  options.user_col = "2";
  options.item_col = "what";
  options.rating_col = "score";
  options.timestamp_col = "0";
  const Dataset d = load_dataset(options);
  ASSERT_EQ(d.interactions.size(), 2U);
  EXPECT_EQ(d.users.id(d.interactions.users[0]), "a");
  EXPECT_EQ(d.items.id(d.interactions.items[1]), "y");
  EXPECT_EQ(d.interactions.ratings, (std::vector<float>{1.5F, 2.0F}));
  EXPECT_EQ(d.interactions.timestamps, (std::vector<std::int64_t>{9, 8}));
}

TEST(DatasetCsv, WeightColumnByNameOrDefault) {
  test::TempDir dir;
  LoadOptions options;
  options.data = write_file(dir / "w.csv", "user,item,weight\n1,5,0.5\n2,6,2\n");
  Dataset d = load_dataset(options);
  EXPECT_EQ(d.interactions.weights, (std::vector<float>{0.5F, 2.0F}));
  options.data = write_file(dir / "c.csv", "u,i,clicks\n1,5,3\n");
  options.user_col = "u";
  options.item_col = "i";
  options.weight_col = "clicks";
  d = load_dataset(options);
  EXPECT_EQ(d.interactions.weights, (std::vector<float>{3.0F}));
}

TEST(DatasetCsv, BadWeightsNameFileLineAndValue) {
  test::TempDir dir;
  LoadOptions options;
  options.data = write_file(dir / "w.csv", "user,item,weight\n1,5,1\n2,6,-1\n");
  expect_error([&] { load_dataset(options); }, ErrorKind::Corruption, {"w.csv", "line 3", "-1"});
  options.data = write_file(dir / "x.csv", "user,item,weight\n1,5,heavy\n");
  expect_error([&] { load_dataset(options); }, ErrorKind::Corruption, {"x.csv", "line 2", "heavy"});
}

TEST(DatasetCsv, MetadataJoinGivesTheCatalogAndTitles) {
  test::TempDir dir;
  LoadOptions options;
  options.data = write_file(dir / "ratings.csv", "user,item\n1,10\n1,11\n2,12\n");
  options.items_file = write_file(dir / "items.csv",
                                  "item,year,title\n"
                                  "10,1995,\"Heat, The\"\n"
                                  "11,1995,Heat (remake)\n"
                                  "12,1990,\"Heat, The\"\n"
                                  "13,2001,Never Rated\n");

  const Dataset by_id = load_dataset(options);
  EXPECT_EQ(by_id.items.size(), 5);  // the whole catalog, 13 included
  ASSERT_EQ(by_id.item_titles.size(), 5U);
  EXPECT_EQ(by_id.item_titles[0], "");
  EXPECT_EQ(by_id.item_titles[static_cast<std::size_t>(by_id.items.lookup("13"))], "Never Rated");

  options.item_key = ItemKey::Title;
  const Dataset by_title = load_dataset(options);
  EXPECT_EQ(by_title.items.size(), 4);  // three distinct titles
  EXPECT_EQ(by_title.items.id(by_title.interactions.items[0]), "Heat, The");
  EXPECT_EQ(by_title.interactions.items[0], by_title.interactions.items[2]);
  EXPECT_NE(by_title.interactions.items[0], by_title.interactions.items[1]);
  EXPECT_EQ(by_title.item_titles,
            (std::vector<std::string>{"", "Heat (remake)", "Heat, The", "Never Rated"}));
}

TEST(DatasetCsv, InvalidUtf8TitlesAreReadAsLatin1) {
  test::TempDir dir;
  LoadOptions options;
  options.data = write_file(dir / "r.csv", "user,item\n1,1\n");
  options.items_file = write_file(dir / "items.csv", "id,name\n1,Caf\xE9\n");
  const Dataset d = load_dataset(options);
  EXPECT_EQ(d.item_titles[1], "Caf\xC3\xA9");
}

TEST(DatasetCsv, AutoDetection) {
  test::TempDir dir;
  fs::create_directories(dir / "ml100k");
  write_file(dir / "ml100k" / "u.data", "1\t1\t5\t10\n");
  write_file(dir / "ml100k" / "u.item", "1|Film|x\n");
  fs::create_directories(dir / "latest");
  write_file(dir / "latest" / "ratings.csv", "userId,movieId,rating,timestamp\n1,1,5,10\n");
  write_file(dir / "latest" / "movies.csv", "movieId,title,genres\n1,Film,Drama\n");

  LoadOptions options;
  options.data = dir / "ml100k";
  EXPECT_EQ(load_dataset(options).format, DataFormat::MovieLens100K);
  options.data = dir / "latest";
  EXPECT_EQ(load_dataset(options).format, DataFormat::MovieLensLatest);
  options.data = dir / "latest" / "ratings.csv";
  EXPECT_EQ(load_dataset(options).format, DataFormat::Csv);
  options.data = dir.path();
  expect_error([&] { load_dataset(options); }, ErrorKind::NotFound,
               {dir.path().string(), "u.data", "ratings.csv"});
}

// ---- Errors ------------------------------------------------------------------

class DatasetErrors : public ::testing::Test {
 protected:
  // Loads `text` as a CSV file named `name`.
  Dataset load(std::string_view text, std::string_view name = "data.csv") {
    options.data = write_file(dir / std::string(name), text);
    return load_dataset(options);
  }
  std::string path(std::string_view name = "data.csv") const {
    return (dir / std::string(name)).string();
  }

  test::TempDir dir;
  LoadOptions options;
};

TEST_F(DatasetErrors, MissingPaths) {
  options.data = dir / "nowhere.csv";
  expect_error([&] { load_dataset(options); }, ErrorKind::NotFound, {path("nowhere.csv")});
  options.data = dir.path();
  options.format = DataFormat::MovieLensLatest;
  expect_error([&] { load_dataset(options); }, ErrorKind::NotFound, {path("ratings.csv")});
  // A MovieLens directory without its item file.
  fs::create_directories(dir / "ml");
  write_file(dir / "ml" / "u.data", "1\t1\t5\t10\n");
  options.data = dir / "ml";
  options.format = DataFormat::Auto;
  expect_error([&] { load_dataset(options); }, ErrorKind::NotFound,
               {(dir / "ml" / "u.item").string()});
}

TEST_F(DatasetErrors, UnknownColumnNameListsTheHeader) {
  options.rating_col = "stars";
  expect_error([&] { load("userId,movieId,rating\n1,2,3\n"); }, ErrorKind::NotFound,
               {path(), "line 1", "\"stars\"", "userId, movieId, rating"});
}

TEST_F(DatasetErrors, ColumnNumberBeyondTheFields) {
  options.header = false;
  options.timestamp_col = "5";
  expect_error([&] { load("1,2,3\n"); }, ErrorKind::NotFound,
               {path(), "line 1", "column 5", "3 fields"});
}

TEST_F(DatasetErrors, WrongFieldCount) {
  expect_error([&] { load("user,item,rating\n1,2,3\n1,2\n"); }, ErrorKind::Corruption,
               {path(), "line 3", "expected 3 fields", "found 2"});
}

TEST_F(DatasetErrors, NonNumericRating) {
  expect_error([&] { load("user,item,rating\n1,2,3\n1,3,abc\n"); }, ErrorKind::Corruption,
               {path(), "line 3: rating \"abc\" is not a number", "column \"rating\""});
  expect_error([&] { load("user,item,rating\n1,2,\n"); }, ErrorKind::Corruption,
               {"line 2: rating \"\" is not a number"});
}

TEST_F(DatasetErrors, NonIntegerTimestamp) {
  expect_error([&] { load("user,item,timestamp\n1,2,soon\n"); }, ErrorKind::Corruption,
               {path(), "line 2", "timestamp \"soon\" is not an integer"});
}

TEST_F(DatasetErrors, EmptyId) {
  expect_error([&] { load("user,item\n1,2\n,3\n"); }, ErrorKind::Corruption,
               {path(), "line 3", "empty user id", "column \"user\""});
  options.header = false;
  expect_error([&] { load("1\t \n", "data.tsv"); }, ErrorKind::Corruption,
               {path("data.tsv"), "line 1", "empty item id", "column 1"});
}

TEST_F(DatasetErrors, NoRowsLeftAfterFiltering) {
  options.rating_above = 5;
  expect_error([&] { load("user,item,rating\n1,2,5\n1,3,4\n"); }, ErrorKind::InvalidArgument,
               {path(), "rating > 5", "2 rows read"});
}

TEST_F(DatasetErrors, NoDataRows) {
  expect_error([&] { load("user,item,rating\r\n\r\n"); }, ErrorKind::Corruption,
               {path(), "no data rows"});
  expect_error([&] { load(""); }, ErrorKind::Corruption, {path(), "empty"});
}

TEST_F(DatasetErrors, FilterNeedsARatingColumn) {
  options.rating_above = 3;
  expect_error([&] { load("user,item,score\n1,2,5\n"); }, ErrorKind::InvalidArgument,
               {path(), "rating > 3", "no rating column"});
}

TEST_F(DatasetErrors, UnterminatedQuote) {
  expect_error([&] { load("user,item\n1,2\n1,\"3\n2,4\n"); }, ErrorKind::Corruption,
               {path(), "line 3", "unterminated quote"});
}

TEST_F(DatasetErrors, TitlesNeedMetadata) {
  options.item_key = ItemKey::Title;
  expect_error([&] { load("user,item\n1,2\n"); }, ErrorKind::InvalidArgument,
               {path(), "items_file"});
}

TEST_F(DatasetErrors, ItemMissingFromTheCatalog) {
  options.items_file = write_file(dir / "items.csv", "id,title\n1,One\n2,Two\n");
  expect_error([&] { load("user,item\n1,1\n1,2\n2,7\n"); }, ErrorKind::NotFound,
               {path(), "line 4", "item id \"7\"", path("items.csv")});
}

TEST_F(DatasetErrors, DuplicateCatalogId) {
  options.items_file = write_file(dir / "items.csv", "id,title\n1,One\n2,Two\n01,Again\n");
  expect_error([&] { load("user,item\n1,1\n"); }, ErrorKind::Corruption,
               {path("items.csv"), "line 4", "duplicate item id \"01\"", "line 2"});
}

TEST_F(DatasetErrors, BadRatingThreshold) {
  options.rating_above = std::numeric_limits<double>::quiet_NaN();
  expect_error([&] { load("user,item,rating\n1,2,3\n"); }, ErrorKind::InvalidArgument,
               {"rating_above"});
}

// ---- In-memory columns -------------------------------------------------------

// What the Python module builds from a DataFrame must be what the loader
// builds from the same table in a file.
TEST(DatasetColumns, SameAsTheLoaderForTheSameTable) {
  test::TempDir dir;
  LoadOptions options;
  options.data = write_file(dir / "ratings.csv",
                            "user,item,rating,timestamp\n7,10,4,100\n3,11,2,101\n7,12,5,102\n"
                            "3,10,5,103\n");
  options.items_file = write_file(dir / "items.csv",
                                  "item,title\n10,\"Heat, The\"\n11,Heat (remake)\n"
                                  "12,\"Heat, The\"\n13,Never Rated\n");
  options.rating_above = 3.0;
  ColumnData c;
  c.users = {"7", "3", "7", "3"};
  c.items = {"10", "11", "12", "10"};
  c.ratings = {4, 2, 5, 5};
  c.timestamps = {100, 101, 102, 103};
  c.catalog_ids = {"10", "11", "12", "13"};
  c.catalog_titles = {"Heat, The", "Heat (remake)", "Heat, The", "Never Rated"};
  c.rating_above = 3.0;
  for (const ItemKey key : {ItemKey::Id, ItemKey::Title}) {
    options.item_key = key;
    c.item_key = key;
    const Dataset file = load_dataset(options);
    const Dataset memory = dataset_from_columns(c);
    EXPECT_TRUE(std::ranges::equal(file.users.ids(), memory.users.ids()));
    EXPECT_TRUE(std::ranges::equal(file.items.ids(), memory.items.ids()));
    EXPECT_EQ(file.item_titles, memory.item_titles);
    EXPECT_EQ(file.interactions.users, memory.interactions.users);
    EXPECT_EQ(file.interactions.items, memory.interactions.items);
    EXPECT_EQ(file.interactions.ratings, memory.interactions.ratings);
    EXPECT_EQ(file.interactions.timestamps, memory.interactions.timestamps);
    EXPECT_EQ(file.interactions.num_items, memory.interactions.num_items);
    EXPECT_EQ(file.rows_read, memory.rows_read);
    // "3,11,2" is dropped by the filter but seen: user 3 and item 11 are known.
    ASSERT_EQ(file.seen_only.size(), 1U);
    EXPECT_EQ(file.users.id(file.seen_only.users[0]), "3");
    EXPECT_EQ(file.items.id(file.seen_only.items[0]),
              std::string_view(key == ItemKey::Id ? "11" : "Heat (remake)"));
    EXPECT_EQ(file.seen_only.users, memory.seen_only.users);
    EXPECT_EQ(file.seen_only.items, memory.seen_only.items);
    EXPECT_EQ(file.seen_only.num_users, file.interactions.num_users);
    EXPECT_EQ(file.seen_only.num_items, file.interactions.num_items);
  }
}

TEST(DatasetColumns, StringIdsAndWeightsWithoutACatalog) {
  ColumnData c;
  c.users = {"bob", "amy", "bob"};
  c.items = {"x", "y", "y"};
  c.weights = {1.0, 0.5, 2.0};
  const Dataset d = dataset_from_columns(c);
  EXPECT_EQ(d.users.kind(), Vocabulary::IdKind::String);
  EXPECT_EQ(d.users.size(), 3);
  EXPECT_EQ(d.items.size(), 3);
  EXPECT_EQ(d.interactions.weights, (std::vector<float>{1.0f, 0.5f, 2.0f}));
  EXPECT_EQ(d.users.id(d.interactions.users[1]), "amy");
  EXPECT_TRUE(d.item_titles.empty());
}

TEST(DatasetColumns, BadInputNamesSourceRowColumnAndValue) {
  ColumnData c;
  c.source = "DataFrame";
  c.user_name = "uid";
  c.item_name = "mid";
  c.weight_name = "w";
  expect_error([&] { dataset_from_columns(c); }, ErrorKind::InvalidArgument,
               {"DataFrame", "no rows"});
  c.users = {"1", "2"};
  c.items = {"5"};
  expect_error([&] { dataset_from_columns(c); }, ErrorKind::InvalidArgument,
               {"1 item ids", "mid", "uid"});
  c.items = {"5", " "};
  expect_error([&] { dataset_from_columns(c); }, ErrorKind::InvalidArgument,
               {"row 1", "empty item id", "mid"});
  c.items = {"5", "6"};
  c.weights = {1.0, -2.0};
  expect_error([&] { dataset_from_columns(c); }, ErrorKind::InvalidArgument,
               {"row 1", "-2", "\"w\""});
  c.weights = {1.0};
  expect_error([&] { dataset_from_columns(c); }, ErrorKind::InvalidArgument,
               {"\"w\" has 1 values for 2 rows"});
  c.weights.clear();
  c.rating_above = 3.0;
  expect_error([&] { dataset_from_columns(c); }, ErrorKind::InvalidArgument, {"needs ratings"});
  c.ratings = {1.0, std::numeric_limits<double>::quiet_NaN()};
  expect_error([&] { dataset_from_columns(c); }, ErrorKind::InvalidArgument,
               {"row 1", "rating nan"});
  c.ratings = {1.0, 2.0};
  expect_error([&] { dataset_from_columns(c); }, ErrorKind::InvalidArgument,
               {"no rows left after filtering on rating > 3 (2 rows read)"});
  c.rating_above.reset();
  c.catalog_ids = {"5"};
  c.catalog_titles = {"Five"};
  expect_error([&] { dataset_from_columns(c); }, ErrorKind::NotFound,
               {"row 1", "item id \"6\"", "not in the item metadata"});
  c.catalog_ids = {"5", "6", "5"};
  c.catalog_titles = {"Five", "Six", "Again"};
  expect_error([&] { dataset_from_columns(c); }, ErrorKind::InvalidArgument,
               {"row 2", "duplicate item id \"5\"", "first in row 0"});
  c.catalog_ids = {"5", "6"};
  c.catalog_titles = {"Five", ""};
  c.item_key = ItemKey::Title;
  expect_error([&] { dataset_from_columns(c); }, ErrorKind::InvalidArgument,
               {"row 1", "empty title"});
  c.catalog_ids.clear();
  c.catalog_titles.clear();
  expect_error([&] { dataset_from_columns(c); }, ErrorKind::InvalidArgument,
               {"by title need item metadata"});
}

}  // namespace
}  // namespace latent
