// The user-lines format ("user item item ...", NGCF's and LightGCN's
// files) and load_train_test (a training and a test file on shared
// vocabularies), on tiny files written here and on the real Gowalla split
// from ../shared/data/gowalla (skipped when it is absent).

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include <latent/dataset.hpp>
#include <latent/error.hpp>
#include <latent/interactions.hpp>

#include "detail/user_lines.hpp"
#include "test_support.hpp"

namespace latent {
namespace {

namespace fs = std::filesystem;
using test::expect_error;
using test::write_file;

// The (raw user, raw item) pairs of `x` in order.
std::vector<std::pair<std::string, std::string>> raw_pairs(const Dataset& d,
                                                           const Interactions& x) {
  std::vector<std::pair<std::string, std::string>> out;
  for (std::size_t i = 0; i < x.size(); ++i) {
    out.emplace_back(d.users.id(x.users[i]), d.items.id(x.items[i]));
  }
  return out;
}
using Pairs = std::vector<std::pair<std::string, std::string>>;

class UserLines : public ::testing::Test {
 protected:
  Dataset load(std::string_view text, std::string_view name = "train.txt") {
    options.data = write_file(dir / std::string(name), text);
    options.format = DataFormat::UserLines;
    return load_dataset(options);
  }
  std::string path(std::string_view name = "train.txt") const {
    return (dir / std::string(name)).string();
  }

  test::TempDir dir;
  LoadOptions options;
};

// ---- The reader ----------------------------------------------------------------

TEST(UserLinesReader, SplitsOnRunsOfSpacesAndTabsAndSkipsBlankLines) {
  detail::UserLinesReader reader(
      "\xEF\xBB\xBF"
      "1 2\t3\n\n \t \r\n  4\t\t5  6 \r\n7",
      "mem.txt");
  std::vector<std::string_view> tokens;
  std::vector<std::vector<std::string>> lines;
  std::vector<std::size_t> numbers;
  while (reader.next(tokens)) {
    lines.emplace_back(tokens.begin(), tokens.end());
    numbers.push_back(reader.line());
  }
  EXPECT_EQ(lines,
            (std::vector<std::vector<std::string>>{{"1", "2", "3"}, {"4", "5", "6"}, {"7"}}));
  EXPECT_EQ(numbers, (std::vector<std::size_t>{1, 4, 5}));
}

// ---- load_dataset with DataFormat::UserLines ---------------------------------------

TEST_F(UserLines, ReadsUsersAndTheirItemsWithSpacesOrTabs) {
  const Dataset d = load("0 0 1 2\n1\t2 3\n\n2  1\t\t0 \r\n");
  EXPECT_EQ(d.format, DataFormat::UserLines);
  EXPECT_EQ(
      raw_pairs(d, d.interactions),
      (Pairs{{"0", "0"}, {"0", "1"}, {"0", "2"}, {"1", "2"}, {"1", "3"}, {"2", "1"}, {"2", "0"}}));
  EXPECT_EQ(d.users.num_known(), 3);
  EXPECT_EQ(d.items.num_known(), 4);
  EXPECT_EQ(d.rows_read, 7u);
  EXPECT_TRUE(d.interactions.ratings.empty());
  EXPECT_TRUE(d.interactions.timestamps.empty());
  EXPECT_TRUE(d.seen_only.empty());
  EXPECT_EQ(d.description, "user-lines at " + path());
}

TEST_F(UserLines, DuplicatesAreOnePairAndAUserOnTwoLinesHasBoth) {
  const Dataset d = load("a x y x\nb y\na z y\n");
  EXPECT_EQ(raw_pairs(d, d.interactions), (Pairs{{"a", "x"}, {"a", "y"}, {"b", "y"}, {"a", "z"}}));
  EXPECT_EQ(d.rows_read, 6u);  // every listed item
}

TEST_F(UserLines, ALineWithOnlyAUserIsSkipped) {
  // NGCF's and LightGCN's loaders skip such lines; the user has nothing to
  // train or test on, so it is not in the vocabulary either.
  const Dataset d = load("1 5\n2\n3 \t\n4 6\n");
  EXPECT_EQ(raw_pairs(d, d.interactions), (Pairs{{"1", "5"}, {"4", "6"}}));
  EXPECT_EQ(d.users.num_known(), 2);
  expect_error([&] { load("1\n2\n\n"); }, ErrorKind::Corruption, {path() + ": no data rows"});
  expect_error([&] { load(" \n\n"); }, ErrorKind::Corruption, {path() + ": no data rows"});
}

TEST_F(UserLines, StringIdsAndAnItemsFile) {
  options.items_file = write_file(dir / "items.csv", "id,title\nx,Heat\ny,Up\nz,Heat\n");
  const Dataset d = load("alice x y\nbob z\n");
  EXPECT_EQ(d.items.num_known(), 3);
  EXPECT_EQ(d.item_titles[static_cast<std::size_t>(d.items.lookup("y"))], "Up");
  options.item_key = ItemKey::Title;
  const Dataset t = load("alice x y\nbob z\n");
  EXPECT_EQ(t.items.num_known(), 2);  // Heat, Up
  options.item_key = ItemKey::Id;
  expect_error([&] { load("alice x\nbob w\n"); }, ErrorKind::NotFound,
               {path() + ": line 2: item id \"w\" is not in the item metadata file"});
}

TEST_F(UserLines, BadIdsNameTheFileAndLine) {
  expect_error([&] { load("1 2\n3 4 No\xebl\n"); }, ErrorKind::Corruption,
               {path() + ": line 2: item id \"No\\xEBl\" is not valid UTF-8"});
  expect_error([&] { load("1 2\n\n\xff 4\n"); }, ErrorKind::Corruption,
               {path() + ": line 3: user id"});
  expect_error([&] { load(std::string_view("1 2\n3 4\0 5\n", 11)); }, ErrorKind::Corruption,
               {path() + ": line 2: item id", "NUL byte"});
  // A binary file is refused for what it is, before any line is read.
  expect_error([&] { load("\x93NUMPY\x01\x00"); }, ErrorKind::InvalidArgument,
               {"this is a NumPy .npy file"});
}

TEST_F(UserLines, OptionsThatDoNotApplyAreRefused) {
  options.rating_above = 3;
  expect_error([&] { load("1 2\n"); }, ErrorKind::InvalidArgument,
               {path() + ": filtering on rating > 3 needs ratings", "user-lines"});
  options.rating_above.reset();
  options.item_col = "2";
  expect_error([&] { load("1 2\n"); }, ErrorKind::InvalidArgument,
               {"the item column \"2\" was named"});
  options.item_col.clear();
  options.delimiter = ' ';
  expect_error([&] { load("1 2\n"); }, ErrorKind::InvalidArgument, {"a delimiter was given"});
}

TEST_F(UserLines, IsNeverAutoDetected) {
  // auto reads a file as CSV; a space-separated file has one field per
  // line there, so it fails rather than reading wrong pairs.
  options.data = write_file(dir / "train.txt", "1 2 3\n4 5 6\n");
  expect_error([&] { load_dataset(options); }, ErrorKind::NotFound,
               {"item column 1 is beyond the 1 fields"});
  EXPECT_EQ(parse_data_format("user-lines"), DataFormat::UserLines);
  EXPECT_STREQ(to_string(DataFormat::UserLines), "user-lines");
}

// ---- load_train_test ------------------------------------------------------------------

class TrainTest : public UserLines {
 protected:
  TrainTestData load_both(std::string_view train, std::string_view test,
                          std::string_view train_name = "train.txt",
                          std::string_view test_name = "test.txt") {
    options.data = write_file(dir / std::string(train_name), train);
    if (options.format == DataFormat::Auto) options.format = DataFormat::UserLines;
    return load_train_test(options, write_file(dir / std::string(test_name), test));
  }
};

TEST_F(TrainTest, SharedVocabulariesAndTheSplitOfTheTwoFiles) {
  const TrainTestData both = load_both("1 10 11\n2 11 12\n", "2 10\n1 12 13\n");
  const Dataset& d = both.data;
  EXPECT_EQ(d.users.num_known(), 2);
  EXPECT_EQ(d.items.num_known(), 4);  // 13 is only in the test file: in the catalog
  EXPECT_EQ(raw_pairs(d, both.split.train),
            (Pairs{{"1", "10"}, {"1", "11"}, {"2", "11"}, {"2", "12"}}));
  EXPECT_EQ(raw_pairs(d, both.split.test), (Pairs{{"2", "10"}, {"1", "12"}, {"1", "13"}}));
  EXPECT_EQ(d.interactions.size(), 7u);  // train rows, then test rows
  for (const Interactions* side : {&both.split.train, &both.split.test}) {
    EXPECT_EQ(side->num_users, d.users.size());
    EXPECT_EQ(side->num_items, d.items.size());
  }
  EXPECT_EQ(d.rows_read, 7u);
  EXPECT_EQ(d.description, "user-lines at " + path() + " with test file " + path("test.txt"));
  // The test-only item has no training row.
  const std::int32_t only_test = d.items.lookup("13");
  EXPECT_EQ(std::count(both.split.train.items.begin(), both.split.train.items.end(), only_test), 0);
}

TEST_F(TrainTest, ATestUserWithoutTrainingDataIsRefused) {
  expect_error([&] { load_both("1 10\n2 11\n", "1 11\n7 10\n8 10\n7 11\n"); },
               ErrorKind::InvalidArgument,
               {path("test.txt") + ": line 2: user \"7\" is not in the training file " + path(),
                "2 such test users in all"});
  // A user whose training line lists no item has no training data either.
  expect_error([&] { load_both("1 10\n2\n", "2 10\n"); }, ErrorKind::InvalidArgument,
               {"line 1: user \"2\" is not in the training file", "1 such test user in all"});
}

TEST_F(TrainTest, CsvFilesWithTheirOwnDelimitersAndTheRatingFilter) {
  options.format = DataFormat::Csv;
  options.rating_above = 3;
  const TrainTestData both =
      load_both("user,item,rating\n1,a,5\n1,b,2\n2,a,4\n2,b,5\n",
                "user\titem\trating\n2\tc\t5\n1\tc\t1\n1\td\t4\n", "train.csv", "test.tsv");
  const Dataset& d = both.data;
  EXPECT_EQ(raw_pairs(d, both.split.train), (Pairs{{"1", "a"}, {"2", "a"}, {"2", "b"}}));
  EXPECT_EQ(raw_pairs(d, both.split.test), (Pairs{{"2", "c"}, {"1", "d"}}));
  EXPECT_EQ(both.split.test.ratings, (std::vector<float>{5, 4}));
  // Only the training file's low ratings are seen, not the test file's
  // (1, c): those are in the model's future.
  EXPECT_EQ(raw_pairs(d, d.seen_only), (Pairs{{"1", "b"}}));
  EXPECT_EQ(d.rows_read, 7u);
}

TEST_F(TrainTest, FilesNeedTheSameColumns) {
  options.format = DataFormat::Csv;
  expect_error(
      [&] { load_both("user,item,weight\n1,a,2\n", "user,item\n1,b\n", "train.csv", "test.csv"); },
      ErrorKind::InvalidArgument,
      {path("train.csv") + " has a weight column and " + path("test.csv") + " has none"});
}

TEST_F(TrainTest, FilteredOutTrainingUsersAreNamed) {
  options.format = DataFormat::Csv;
  options.rating_above = 3;
  expect_error(
      [&] {
        load_both("user,item,rating\n1,a,5\n2,a,1\n", "user,item,rating\n2,b,5\n", "train.csv",
                  "test.csv");
      },
      ErrorKind::InvalidArgument,
      {path("test.csv") + ": user \"2\" has no rows in the training file " + path("train.csv") +
       " left after filtering on rating > 3"});
}

TEST_F(TrainTest, ErrorsOfEitherFileNameIt) {
  expect_error([&] { load_both("1 10\n", "1 \xff\n"); }, ErrorKind::Corruption,
               {path("test.txt") + ": line 1: item id"});
  expect_error([&] { load_both("1 10\n", "\n1\n"); }, ErrorKind::Corruption,
               {path("test.txt") + ": no data rows"});
  options.data = write_file(dir / "train.txt", "1 10\n");
  expect_error([&] { load_train_test(options, dir / "missing.txt"); }, ErrorKind::NotFound,
               {(dir / "missing.txt").string()});
  // A MovieLens directory has no interactions file to pair a test file with.
  fs::create_directories(dir / "ml");
  write_file(dir / "ml" / "u.data", "1\t1\t5\t10\n");
  options.data = dir / "ml";
  options.format = DataFormat::Auto;
  expect_error([&] { load_train_test(options, dir / "test.txt"); }, ErrorKind::InvalidArgument,
               {"a test file goes with a training file", "ml-100k directory"});
}

// ---- The real Gowalla split (NGCF, LightGCN) --------------------------------------

TEST(Gowalla, CountsOfItsReadme) {
  LATENT_REQUIRE_GOWALLA();
  LoadOptions options;
  options.data = test::gowalla_dir() / "train.txt.gz";
  options.format = DataFormat::UserLines;
  const TrainTestData both = load_train_test(options, test::gowalla_dir() / "test.txt.gz");
  const Dataset& d = both.data;
  // README.md: 29,858 users, 40,981 items, 810,128 training and 217,242
  // test pairs; every user has both; no pair in both files.
  EXPECT_EQ(d.users.num_known(), 29858);
  EXPECT_EQ(d.items.num_known(), 40981);
  EXPECT_EQ(both.split.train.size(), 810128u);
  EXPECT_EQ(both.split.test.size(), 217242u);
  EXPECT_EQ(d.rows_read, 810128u + 217242u);  // no duplicates within a user
  EXPECT_EQ(
      std::set<std::int32_t>(both.split.test.users.begin(), both.split.test.users.end()).size(),
      29858u);
  const CsrMatrix train = CsrMatrix::from_interactions(both.split.train);
  for (std::size_t i = 0; i < both.split.test.size(); ++i) {
    const auto row = train.row(both.split.test.users[i]);
    ASSERT_FALSE(std::binary_search(row.begin(), row.end(), both.split.test.items[i]))
        << "a test pair that is also a training pair, at test row " << i;
  }
  // Ids 0..40,980 as integers: the vocabulary sorts them numerically.
  EXPECT_EQ(d.items.id(1), "0");
  EXPECT_EQ(d.items.id(40981), "40980");
}

}  // namespace
}  // namespace latent
