#include <latent/error.hpp>
#include <latent/split.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "test_support.hpp"

namespace latent {
namespace {

namespace fs = std::filesystem;
using Pair = std::pair<std::int32_t, std::int32_t>;

using test::expect_error;

// Users 1..n_users-1; user u has u + 1 distinct items (user 1: 2 items,
// ...), some repeated, and every entry's timestamp is its position, so the
// timestamps identify entries.
Interactions sample(std::int32_t n_users = 30, std::int32_t n_items = 60) {
  Interactions x;
  x.num_users = n_users;
  x.num_items = n_items;
  std::int64_t t = 0;
  for (int pass = 0; pass < 2; ++pass) {
    for (std::int32_t u = 1; u < n_users; ++u) {
      for (std::int32_t j = 0; j <= u; ++j) {
        if (pass == 1 && j % 3 != 0) continue;  // repeats of every third item
        x.users.push_back(u);
        x.items.push_back(1 + (u * 7 + j * 5) % (n_items - 1));
        x.ratings.push_back(static_cast<float>(1 + (u + j) % 5));
        x.timestamps.push_back(t++);
      }
    }
  }
  return x;
}

std::set<Pair> distinct_pairs(const Interactions& x) {
  std::set<Pair> out;
  for (std::size_t e = 0; e < x.size(); ++e) out.emplace(x.users[e], x.items[e]);
  return out;
}

// Every entry of `all` is in exactly one side, with its columns intact.
void expect_partition(const Interactions& all, const Split& split) {
  ASSERT_EQ(split.train.size() + split.test.size(), all.size());
  EXPECT_EQ(split.train.num_users, all.num_users);
  EXPECT_EQ(split.test.num_items, all.num_items);
  std::vector<int> seen(all.size(), 0);
  for (const Interactions* side : {&split.train, &split.test}) {
    ASSERT_EQ(side->timestamps.size(), side->size());
    ASSERT_EQ(side->ratings.size(), side->size());
    for (std::size_t e = 0; e < side->size(); ++e) {
      const auto p = static_cast<std::size_t>(side->timestamps[e]);
      ASSERT_LT(p, all.size());
      ++seen[p];
      EXPECT_EQ(side->users[e], all.users[p]);
      EXPECT_EQ(side->items[e], all.items[p]);
      EXPECT_EQ(side->ratings[e], all.ratings[p]);
      // Each side keeps input order.
      if (e > 0) {
        EXPECT_LT(side->timestamps[e - 1], side->timestamps[e]);
      }
    }
  }
  for (std::size_t p = 0; p < all.size(); ++p) EXPECT_EQ(seen[p], 1) << "entry " << p;
}

std::map<std::int32_t, std::set<std::int32_t>> items_by_user(const Interactions& x) {
  std::map<std::int32_t, std::set<std::int32_t>> out;
  for (std::size_t e = 0; e < x.size(); ++e) out[x.users[e]].insert(x.items[e]);
  return out;
}

TEST(PerUserSplit, PartitionsAndHonoursTheFractionPerUser) {
  const Interactions all = sample();
  const double fraction = 0.3;
  const Split split = per_user_split(all, fraction, 11, 3);
  expect_partition(all, split);

  const auto all_items = items_by_user(all);
  const auto train_items = items_by_user(split.train);
  const auto test_items = items_by_user(split.test);
  for (const auto& [u, items] : all_items) {
    const auto d = static_cast<long>(items.size());
    // min(round(fraction * d), d - 1), and none below min_items.
    const long expected =
        d < 3 ? 0 : std::min(std::lround(fraction * static_cast<double>(d)), d - 1);
    const auto it = test_items.find(u);
    const long got = it == test_items.end() ? 0 : static_cast<long>(it->second.size());
    EXPECT_EQ(got, expected) << "user " << u << " with " << d << " distinct items";
    if (got > 0) {
      ASSERT_TRUE(train_items.contains(u)) << "user " << u;
      for (const std::int32_t i : it->second) {
        EXPECT_FALSE(train_items.at(u).contains(i))
            << "user " << u << " item " << i << " in both train and test";
      }
    }
  }
  // Every event of a held-out pair goes with it: test pairs are disjoint from train pairs.
  const auto train_pairs = distinct_pairs(split.train);
  for (const Pair& p : distinct_pairs(split.test)) EXPECT_FALSE(train_pairs.contains(p));
}

TEST(PerUserSplit, RoundsHalfAwayFromZeroAndKeepsOneTrainItem) {
  Interactions x;
  x.num_users = 4;
  x.num_items = 10;
  const auto add = [&](std::int32_t u, std::initializer_list<std::int32_t> items) {
    for (const std::int32_t i : items) {
      x.users.push_back(u);
      x.items.push_back(i);
    }
  };
  add(1, {1, 2, 3, 4});  // 0.5 * 4 = 2
  add(2, {1, 2});        // 0.5 * 2 = 1
  add(3, {5});           // fewer than min_items: all train
  auto count = [](const Interactions& t, std::int32_t u) {
    return std::count(t.users.begin(), t.users.end(), u);
  };
  Split s = per_user_split(x, 0.5, 3);
  EXPECT_EQ(count(s.test, 1), 2);
  EXPECT_EQ(count(s.test, 2), 1);
  EXPECT_EQ(count(s.test, 3), 0);
  // 0.9 * 2 rounds to 2, capped at d - 1 = 1; 0.2 * 2 rounds to 0.
  s = per_user_split(x, 0.9, 3);
  EXPECT_EQ(count(s.test, 2), 1);
  EXPECT_EQ(count(s.test, 1), 3);
  s = per_user_split(x, 0.2, 3);
  EXPECT_EQ(count(s.test, 2), 0);
  EXPECT_EQ(count(s.test, 1), 1);  // 0.8 rounds to 1
  // min_items 1 still leaves a single-item user in train.
  s = per_user_split(x, 0.9, 3, 1);
  EXPECT_EQ(count(s.test, 3), 0);
}

TEST(PerUserSplit, IsSeededAndIndependentOfInputOrder) {
  const Interactions all = sample();
  const Split a = per_user_split(all, 0.25, 5);
  const Split b = per_user_split(all, 0.25, 5);
  const Split c = per_user_split(all, 0.25, 6);
  EXPECT_EQ(a.test.users, b.test.users);
  EXPECT_EQ(a.test.items, b.test.items);
  EXPECT_EQ(a.test.timestamps, b.test.timestamps);
  EXPECT_NE(distinct_pairs(a.test), distinct_pairs(c.test));

  // Reversed and interleaved input: the same pairs are held out.
  std::vector<std::size_t> order(all.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = order.size() - 1 - i;
  std::stable_partition(order.begin(), order.end(), [](std::size_t p) { return p % 2 == 0; });
  const Interactions shuffled = all.select(order);
  const Split d = per_user_split(shuffled, 0.25, 5);
  EXPECT_EQ(distinct_pairs(a.test), distinct_pairs(d.test));
  EXPECT_EQ(a.test.size(), d.test.size());
}

TEST(PerUserSplit, RejectsBadArgumentsNamingThem) {
  const Interactions all = sample(4, 10);
  expect_error([&] { per_user_split(all, 0.0, 1); }, ErrorKind::InvalidArgument,
               {"fraction 0 ", "(0, 1)"});
  expect_error([&] { per_user_split(all, 1.0, 1); }, ErrorKind::InvalidArgument, {"fraction 1 "});
  expect_error([&] { per_user_split(all, -0.5, 1); }, ErrorKind::InvalidArgument, {"-0.5"});
  expect_error([&] { per_user_split(all, std::nan(""), 1); }, ErrorKind::InvalidArgument, {"nan"});
  expect_error([&] { per_user_split(all, 0.5, 1, 0); }, ErrorKind::InvalidArgument,
               {"min_items", "0"});
  Interactions bad = all;
  bad.items[2] = 10;  // == num_items
  expect_error([&] { per_user_split(bad, 0.5, 1); }, ErrorKind::InvalidArgument,
               {"interaction 2", "item row 10"});
}

TEST(LeaveLastKSplit, HoldsOutTheLatestEventsPerUser) {
  Interactions x;
  x.num_users = 4;
  x.num_items = 10;
  // (user, item, timestamp), deliberately out of time order.
  const std::vector<std::tuple<std::int32_t, std::int32_t, std::int64_t>> rows = {
      {1, 1, 50}, {1, 2, 10}, {2, 3, 7}, {1, 3, 40}, {1, 4, 20},
      {2, 4, 7},  {3, 5, 1},  {2, 5, 3}, {3, 6, 2},  {2, 6, 7},
  };
  for (const auto& [u, i, t] : rows) {
    x.users.push_back(u);
    x.items.push_back(i);
    x.timestamps.push_back(t);
  }
  const Split s = leave_last_k_split(x, 2);
  ASSERT_EQ(s.train.size() + s.test.size(), x.size());
  // User 1: latest are 50 (item 1) and 40 (item 3). User 2: three events at
  // 7, the later two in input order (items 4 and 6) count as latest.
  // User 3: two events, k = 2: all in train.
  EXPECT_EQ(s.test.users, (std::vector<std::int32_t>{1, 1, 2, 2}));
  EXPECT_EQ(s.test.items, (std::vector<std::int32_t>{1, 3, 4, 6}));
  EXPECT_EQ(s.test.timestamps, (std::vector<std::int64_t>{50, 40, 7, 7}));
  EXPECT_EQ(s.train.items, (std::vector<std::int32_t>{2, 3, 4, 5, 5, 6}));

  const Split one = leave_last_k_split(x, 1);
  EXPECT_EQ(one.test.items, (std::vector<std::int32_t>{1, 6, 6}));
  const Split all_train = leave_last_k_split(x, 4);
  EXPECT_EQ(all_train.test.size(), 0u);
  EXPECT_EQ(all_train.train.size(), x.size());
}

TEST(LeaveLastKSplit, PartitionsALargerSample) {
  const Interactions all = sample();
  const Split s = leave_last_k_split(all, 3);
  expect_partition(all, s);
  // Per user, every test timestamp is later than every train timestamp.
  std::map<std::int32_t, std::int64_t> last_train, first_test;
  for (std::size_t e = 0; e < s.train.size(); ++e) {
    auto& v = last_train[s.train.users[e]];
    v = std::max(v, s.train.timestamps[e]);
  }
  for (std::size_t e = 0; e < s.test.size(); ++e) {
    const auto u = s.test.users[e];
    if (!first_test.contains(u)) first_test[u] = s.test.timestamps[e];
    first_test[u] = std::min(first_test[u], s.test.timestamps[e]);
  }
  for (const auto& [u, t] : first_test) {
    ASSERT_TRUE(last_train.contains(u));
    EXPECT_LT(last_train[u], t) << "user " << u;
    EXPECT_EQ(std::count(s.test.users.begin(), s.test.users.end(), u), 3);
  }
}

TEST(LeaveLastKSplit, RejectsBadArguments) {
  Interactions x = sample(4, 10);
  expect_error([&] { leave_last_k_split(x, 0); }, ErrorKind::InvalidArgument, {"k = 0"});
  expect_error([&] { leave_last_k_split(x, -3); }, ErrorKind::InvalidArgument, {"k = -3"});
  x.timestamps.clear();
  expect_error([&] { leave_last_k_split(x, 1); }, ErrorKind::InvalidArgument, {"no timestamps"});
}

Vocabulary user_vocab() {
  return Vocabulary::from_ordered({"u10", "u20", "u30"}, Vocabulary::IdKind::String);
}

TEST(RequireTrainForTestUsers, NamesTheFirstUserWithoutTrainItems) {
  Split s;
  s.train.num_users = s.test.num_users = 4;
  s.train.num_items = s.test.num_items = 5;
  s.train.users = {1, 1};
  s.train.items = {1, 2};
  s.test.users = {1, 3, 2, 3};
  s.test.items = {3, 1, 1, 2};
  expect_error([&] { require_train_for_test_users(s, user_vocab()); }, ErrorKind::InvalidArgument,
               {"user \"u30\" (row 3)", "2 test interactions", "no training", "2 such users"});
  s.train.users = {1, 2, 3};
  s.train.items = {1, 1, 1};
  EXPECT_NO_THROW(require_train_for_test_users(s, user_vocab()));
  // Every split of this file passes the check.
  const Interactions all = sample();
  std::vector<std::string> ids;
  for (int u = 1; u < all.num_users; ++u) ids.push_back(std::to_string(u));
  const Vocabulary users = Vocabulary::from_ordered(ids, Vocabulary::IdKind::Integer);
  EXPECT_NO_THROW(require_train_for_test_users(per_user_split(all, 0.5, 1), users));
  EXPECT_NO_THROW(require_train_for_test_users(leave_last_k_split(all, 2), users));
  // A global random split can leave a user without training items.
  EXPECT_THROW(require_train_for_test_users(random_split(all, 0.9, 1), users), Error);
}

// Ids that need quoting: commas, quotes, edge spaces.
Vocabulary item_vocab() {
  return Vocabulary::from_ordered(
      {"Star Wars (1977)", "Crumb, The (1994)", "say \"hi\"", " pad ", "plain"},
      Vocabulary::IdKind::String);
}

Split small_split() {
  Split s;
  for (Interactions* x : {&s.train, &s.test}) {
    x->num_users = 4;
    x->num_items = 6;
  }
  s.train.users = {1, 2, 3, 1};
  s.train.items = {1, 2, 3, 4};
  s.train.ratings = {4.5f, 0.1f, 3.0f, 1e-7f};
  s.train.weights = {1.0f, 0.25f, 2.0f, 0.3f};
  s.train.timestamps = {881250949, -5, 0, 9007199254740993};
  s.test.users = {2, 3};
  s.test.items = {5, 1};
  return s;
}

void expect_same(const Interactions& a, const Interactions& b) {
  EXPECT_EQ(a.num_users, b.num_users);
  EXPECT_EQ(a.num_items, b.num_items);
  EXPECT_EQ(a.users, b.users);
  EXPECT_EQ(a.items, b.items);
  EXPECT_EQ(a.ratings, b.ratings);  // bit-identical floats
  EXPECT_EQ(a.weights, b.weights);
  EXPECT_EQ(a.timestamps, b.timestamps);
}

TEST(SplitFiles, WriteReadRoundTrip) {
  test::TempDir tmp;
  const fs::path dir = tmp / "split";  // created by write_split
  const Split s = small_split();
  write_split(dir, s, user_vocab(), item_vocab());
  const std::string train = test::read_bytes(dir / "train.csv");
  EXPECT_EQ(train.substr(0, train.find('\n')), "user,item,rating,weight,timestamp");
  EXPECT_NE(train.find("u10,Star Wars (1977),4.5,1,881250949\n"), std::string::npos) << train;
  EXPECT_NE(train.find("u20,\"Crumb, The (1994)\",0.1,0.25,-5\n"), std::string::npos) << train;
  EXPECT_NE(train.find("\"say \"\"hi\"\"\""), std::string::npos) << train;
  EXPECT_EQ(test::read_bytes(dir / "test.csv"), "user,item\nu20,plain\nu30,Star Wars (1977)\n");
  // No temporary files left behind.
  EXPECT_EQ(std::distance(fs::directory_iterator(dir), fs::directory_iterator()), 2);

  const Split back = read_split(dir, user_vocab(), item_vocab());
  expect_same(back.train, s.train);
  expect_same(back.test, s.test);

  // A larger split with integer ids round-trips too.
  const Interactions all = sample();
  std::vector<std::string> users, items;
  for (int u = 1; u < all.num_users; ++u) users.push_back(std::to_string(u * 10));
  for (int i = 1; i < all.num_items; ++i) items.push_back(std::to_string(i));
  const Vocabulary uv = Vocabulary::from_ordered(users, Vocabulary::IdKind::Integer);
  const Vocabulary iv = Vocabulary::from_ordered(items, Vocabulary::IdKind::Integer);
  const Split big = per_user_split(all, 0.2, 9);
  write_split(dir, big, uv, iv);  // overwrites
  const Split big_back = read_split(dir, uv, iv);
  expect_same(big_back.train, big.train);
  expect_same(big_back.test, big.test);
}

TEST(SplitFiles, ReadErrorsNameFileLineAndId) {
  test::TempDir tmp;
  const fs::path dir = tmp.path();
  write_split(dir, small_split(), user_vocab(), item_vocab());
  test::write_bytes(dir / "test.csv", "user,item\nu20,plain\nu99,plain\n");
  expect_error([&] { read_split(dir, user_vocab(), item_vocab()); }, ErrorKind::NotFound,
               {"test.csv", "line 3", "unknown user id \"u99\""});
  test::write_bytes(dir / "test.csv", "user,item\nu20,Nope\n");
  expect_error([&] { read_split(dir, user_vocab(), item_vocab()); }, ErrorKind::NotFound,
               {"test.csv", "line 2", "unknown item id \"Nope\""});
  test::write_bytes(dir / "test.csv", "user,movie\nu20,plain\n");
  expect_error([&] { read_split(dir, user_vocab(), item_vocab()); }, ErrorKind::NotFound,
               {"test.csv", "item column \"item\""});
  test::write_bytes(dir / "test.csv", "user,item,rating\nu20,plain,4\nu30,plain,x\n");
  expect_error([&] { read_split(dir, user_vocab(), item_vocab()); }, ErrorKind::Corruption,
               {"test.csv", "line 3", "\"x\""});
  test::write_bytes(dir / "test.csv", "user,item\nu20,plain,extra\n");
  expect_error([&] { read_split(dir, user_vocab(), item_vocab()); }, ErrorKind::Corruption,
               {"test.csv", "line 2"});
  // A header-only file is an empty side; extra columns are ignored.
  test::write_bytes(dir / "test.csv", "user,item,score\n");
  EXPECT_EQ(read_split(dir, user_vocab(), item_vocab()).test.size(), 0u);
  fs::remove(dir / "train.csv");
  expect_error([&] { read_split(dir, user_vocab(), item_vocab()); }, ErrorKind::NotFound,
               {"train.csv"});
}

TEST(SplitFiles, WriteRejectsSplitsWithoutRawIds) {
  test::TempDir tmp;
  Split s = small_split();
  s.test.items[1] = 0;  // OOV
  expect_error([&] { write_split(tmp.path(), s, user_vocab(), item_vocab()); },
               ErrorKind::InvalidArgument, {"test.csv", "interaction 1", "OOV item"});
  // Nothing was written: the check runs before either file.
  EXPECT_FALSE(fs::exists(tmp / "train.csv"));
  s = small_split();
  s.train.num_items = 7;
  expect_error([&] { write_split(tmp.path(), s, user_vocab(), item_vocab()); },
               ErrorKind::InvalidArgument, {"train.csv", "7 item rows", "6"});
}

}  // namespace
}  // namespace latent
