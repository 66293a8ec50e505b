// Context columns (Interactions::context): the data's columns that a
// context feature other than the time reads (the device, the page), kept
// per pair by the loaders and carried by every selection and split.
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <latent/dataset.hpp>
#include <latent/error.hpp>
#include <latent/interactions.hpp>
#include <latent/split.hpp>

#include "test_support.hpp"

namespace latent {
namespace {

using test::expect_error;

// The device of each kept pair, by (user, item) raw ids.
std::vector<std::string> devices_of(const Dataset& d, const Interactions& x) {
  const ContextColumn* device = x.context_column("device");
  EXPECT_NE(device, nullptr);
  std::vector<std::string> out;
  if (device == nullptr) return out;
  for (std::size_t p = 0; p < x.size(); ++p) {
    out.push_back(std::string(d.users.id(x.users[p])) + "/" + std::string(d.items.id(x.items[p])) +
                  "=" + device->values[p]);
  }
  return out;
}

constexpr const char* kCsv =
    "user,item,rating,device,page\n"
    "1,10,5,phone,home\n"
    "1,11,2,tv,search\n"
    "2,10,4, tv ,home\n"
    "2,12,5,,search\n"
    "3,11,4,\"phone, old\",home\n";

TEST(ContextColumns, TheLoaderKeepsTheNamedColumnsOfEveryKeptRow) {
  const test::TempDir dir;
  const auto path = test::write_file(dir / "ratings.csv", kCsv);
  LoadOptions o;
  o.data = path;
  o.context_cols = {"device", "4"};  // by name and by number
  o.rating_above = 3;
  const std::vector<std::string> expected = {"1/10=phone", "2/10=tv", "2/12=", "3/11=phone, old"};
  // One thread on the whole file, and two threads on chunks of a few lines.
  for (const auto& [threads, chunk] :
       {std::pair{1, std::size_t{0}}, std::pair{2, std::size_t{8}}}) {
    o.threads = threads;
    o.chunk_bytes = chunk;
    const Dataset d = load_dataset(o);
    ASSERT_EQ(d.interactions.context.size(), 2u);
    EXPECT_EQ(devices_of(d, d.interactions), expected);
    EXPECT_EQ(d.interactions.context[1].name, "4");
    EXPECT_EQ(d.interactions.context[1].values,
              (std::vector<std::string>{"home", "home", "search", "home"}));
    check_interactions(d.interactions, "loaded");
  }
  // Without context_cols, nothing is kept.
  o.context_cols.clear();
  EXPECT_TRUE(load_dataset(o).interactions.context.empty());
}

TEST(ContextColumns, TheInMemoryColumnsKeepThemToo) {
  ColumnData c;
  c.users = {"1", "1", "2"};
  c.items = {"10", "11", "10"};
  c.ratings = {5, 2, 4};
  c.rating_above = 3;
  c.context = {{"device", {"phone", "tv", " tv "}}};
  const Dataset d = dataset_from_columns(c);
  EXPECT_EQ(devices_of(d, d.interactions), (std::vector<std::string>{"1/10=phone", "2/10=tv"}));

  c.context[0].values.pop_back();
  expect_error([&] { (void)dataset_from_columns(c); }, ErrorKind::InvalidArgument,
               {"\"device\"", "2 values for 3 rows"});
}

TEST(ContextColumns, SelectionsAndSplitsCarryThem) {
  const test::TempDir dir;
  LoadOptions o;
  o.data = test::write_file(dir / "ratings.csv", kCsv);
  o.context_cols = {"device"};
  const Dataset d = load_dataset(o);
  const std::vector<std::size_t> picked = {4, 0};
  EXPECT_EQ(devices_of(d, d.interactions.select(picked)),
            (std::vector<std::string>{"3/11=phone, old", "1/10=phone"}));

  const Split split = random_split(d.interactions, 0.4, 3);
  ASSERT_EQ(split.train.context.size(), 1u);
  ASSERT_EQ(split.test.context.size(), 1u);
  std::vector<std::string> all = devices_of(d, split.train);
  for (const std::string& s : devices_of(d, split.test)) all.push_back(s);
  std::sort(all.begin(), all.end());
  std::vector<std::string> expected = devices_of(d, d.interactions);
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(all, expected);

  // Written and read back: the same pairs and values, quoting included.
  write_split(dir / "split", split, d.users, d.items);
  const Split again = read_split(dir / "split", d.users, d.items);
  EXPECT_EQ(again.train.context, split.train.context);
  EXPECT_EQ(again.test.context, split.test.context);
  EXPECT_EQ(again.train.users, split.train.users);
}

TEST(ContextColumns, WhatCannotBeKeptIsRefusedByName) {
  const test::TempDir dir;
  LoadOptions o;
  o.data = test::write_file(dir / "ratings.csv", kCsv);
  o.context_cols = {"hour"};
  expect_error([&] { (void)load_dataset(o); }, ErrorKind::NotFound,
               {"ratings.csv", "context column \"hour\" not found", "device"});
  // A test file must have them too.
  o.context_cols = {"device"};
  const auto test_file = test::write_file(dir / "test.csv", "user,item,rating\n1,12,5\n");
  expect_error([&] { (void)load_train_test(o, test_file); }, ErrorKind::NotFound,
               {"test.csv", "\"device\""});
  // A user-lines file has no columns.
  LoadOptions lines;
  lines.data = test::write_file(dir / "lines.txt", "1 10 11\n");
  lines.format = DataFormat::UserLines;
  lines.context_cols = {"device"};
  expect_error([&] { (void)load_dataset(lines); }, ErrorKind::InvalidArgument,
               {"lines.txt", "context column \"device\"", "user-lines"});
  // Context columns that are not one value per pair, or would not read
  // back as context from a split's files.
  Dataset d = load_dataset(o);
  Interactions short_context = d.interactions;
  short_context.context[0].values.pop_back();
  expect_error([&] { check_interactions(short_context, "pairs"); }, ErrorKind::InvalidArgument,
               {"pairs", "4 values of context column \"device\"", "5 interactions"});
  Split split;
  split.train = d.interactions;
  split.train.context[0].name = "rating";
  split.test = d.interactions.select(std::vector<std::size_t>{});
  expect_error([&] { write_split(dir / "bad", split, d.users, d.items); },
               ErrorKind::InvalidArgument, {"train", "cannot be named \"rating\""});
}

}  // namespace
}  // namespace latent
