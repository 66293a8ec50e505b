// The user-lines format ("user item item ...", NGCF's and LightGCN's
// files), on tiny files written here.

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

fs::path write_file(const fs::path& path, std::string_view text) {
  std::ofstream out(path, std::ios::binary);
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
  return path;
}

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

}  // namespace
}  // namespace latent
