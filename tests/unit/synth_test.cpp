#include <latent/synth.hpp>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <latent/error.hpp>

#include "test_support.hpp"

namespace latent {
namespace {

SynthConfig small_config() {
  SynthConfig c;
  c.users = 2000;
  c.items = 1000;
  c.pairs = 50'000;
  c.seed = 7;
  return c;
}

// Pairs per user row (index 0 = OOV, always 0).
std::vector<std::int64_t> user_counts(const Interactions& x) {
  std::vector<std::int64_t> n(static_cast<std::size_t>(x.num_users), 0);
  for (auto u : x.users) ++n[static_cast<std::size_t>(u)];
  return n;
}

// Share of all pairs held by the most popular `fraction` of the items.
double top_item_share(const Interactions& x, double fraction) {
  std::vector<std::int64_t> n(static_cast<std::size_t>(x.num_items), 0);
  for (auto i : x.items) ++n[static_cast<std::size_t>(i)];
  std::sort(n.begin(), n.end(), std::greater<>());
  const auto top = static_cast<std::size_t>(std::ceil(fraction * (x.num_items - 1)));
  std::int64_t held = 0;
  for (std::size_t k = 0; k < top; ++k) held += n[k];
  return static_cast<double>(held) / static_cast<double>(x.size());
}

void expect_valid(const Interactions& x, const SynthConfig& c) {
  ASSERT_EQ(x.num_users, c.users + 1);
  ASSERT_EQ(x.num_items, c.items + 1);
  ASSERT_EQ(static_cast<std::int64_t>(x.size()), c.pairs);
  ASSERT_EQ(x.items.size(), x.size());
  EXPECT_TRUE(x.ratings.empty());
  EXPECT_TRUE(x.timestamps.empty());
  EXPECT_TRUE(x.weights.empty());
  for (std::size_t k = 0; k < x.size(); ++k) {
    ASSERT_GE(x.users[k], 1);
    ASSERT_LT(x.users[k], x.num_users);
    ASSERT_GE(x.items[k], 1);
    ASSERT_LT(x.items[k], x.num_items);
    if (k > 0) {
      // Grouped by user ascending, each user's items strictly ascending:
      // so no pair appears twice.
      ASSERT_GE(x.users[k], x.users[k - 1]) << k;
      if (x.users[k] == x.users[k - 1]) {
        ASSERT_GT(x.items[k], x.items[k - 1]) << k;
      }
    }
  }
  const auto n = user_counts(x);
  for (std::size_t u = 1; u < n.size(); ++u) ASSERT_GE(n[u], 1) << "user row " << u;
}

TEST(Synth, SameConfigGivesSameDataAndBytes) {
  const SynthConfig c = small_config();
  const Interactions a = synthesize(c);
  const Interactions b = synthesize(c);
  EXPECT_EQ(a.users, b.users);
  EXPECT_EQ(a.items, b.items);

  test::TempDir dir;
  write_synth_csv(dir / "a.csv", a);
  write_synth_csv(dir / "b.csv", b);
  const std::string bytes = test::read_bytes(dir / "a.csv");
  EXPECT_EQ(bytes, test::read_bytes(dir / "b.csv"));

  SynthConfig other = c;
  other.seed = 8;
  EXPECT_NE(synthesize(other).items, a.items);
}

TEST(Synth, SizesAndRowsAsConfigured) {
  const SynthConfig c = small_config();
  expect_valid(synthesize(c), c);
}

TEST(Synth, DefaultsAreTheMovieLens20MShape) {
  const SynthConfig c;
  EXPECT_EQ(c.users, 138'000);
  EXPECT_EQ(c.items, 26'000);
  EXPECT_EQ(c.pairs, 10'000'000);
  EXPECT_NO_THROW(c.validate());
}

TEST(Synth, EdgeShapesStillDistinct) {
  // One pair per user; the whole catalog for every user; half of it (the
  // path that draws the rest by keys instead of rejecting repeats).
  for (const std::int64_t pairs :
       {std::int64_t{50}, std::int64_t{50 * 40}, std::int64_t{50 * 20}}) {
    SynthConfig c;
    c.users = 50;
    c.items = 40;
    c.pairs = pairs;
    c.activity_sigma = 2.0;
    c.seed = 3;
    SCOPED_TRACE(pairs);
    expect_valid(synthesize(c), c);
  }
}

TEST(Synth, PopularityIsSkewedByZipf) {
  SynthConfig c = small_config();
  const double skewed = top_item_share(synthesize(c), 0.01);
  c.zipf = 0.0;
  const double flat = top_item_share(synthesize(c), 0.01);
  // Zipf 1 over 1,000 items gives the top 10 items ~39% of the draws (less
  // after removing repeats per user: ~19% here); uniform popularity ~1%.
  EXPECT_GT(skewed, 0.15) << skewed;
  EXPECT_GT(skewed, 8 * flat) << skewed << " vs " << flat;
  EXPECT_LT(flat, 0.03) << flat;
}

TEST(Synth, ActivityIsLognormal) {
  SynthConfig c = small_config();
  c.activity_sigma = 1.0;
  auto n = user_counts(synthesize(c));
  n.erase(n.begin());
  std::sort(n.begin(), n.end());
  const double median = static_cast<double>(n[n.size() / 2]);
  // Mean 25 per user; sigma 1 puts the median at 25 / e^0.5 ~ 15 and the
  // busiest of 2,000 users 25x above the median or more.
  EXPECT_LT(median, 20) << median;
  EXPECT_GT(static_cast<double>(n.back()), 10 * median) << n.back();

  c.activity_sigma = 0.0;
  n = user_counts(synthesize(c));
  n.erase(n.begin());
  const auto [lo, hi] = std::minmax_element(n.begin(), n.end());
  EXPECT_EQ(*lo, 25);
  EXPECT_EQ(*hi, 25);
}

TEST(Synth, CsvHasHeaderAndRowNumbers) {
  SynthConfig c;
  c.users = 3;
  c.items = 4;
  c.pairs = 5;
  const Interactions x = synthesize(c);
  test::TempDir dir;
  write_synth_csv(dir / "x.csv", x);
  std::string expected = "user,item\n";
  for (std::size_t k = 0; k < x.size(); ++k) {
    expected += std::to_string(x.users[k]) + "," + std::to_string(x.items[k]) + "\n";
  }
  EXPECT_EQ(test::read_bytes(dir / "x.csv"), expected);
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir.path()),
                          std::filesystem::directory_iterator()),
            1);  // no temporary file left behind
}

TEST(Synth, CsvWriteErrorNamesThePath) {
  test::TempDir dir;
  const auto path = dir / "missing" / "x.csv";
  try {
    SynthConfig c;
    c.users = 2;
    c.items = 2;
    c.pairs = 2;
    write_synth_csv(path, synthesize(c));
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::IO);
    EXPECT_NE(std::string(e.what()).find(path.string()), std::string::npos) << e.what();
  }
}

void expect_invalid(const SynthConfig& c, const std::string& needle) {
  try {
    c.validate();
    FAIL() << "expected an error mentioning " << needle;
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::InvalidArgument);
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
  EXPECT_THROW(synthesize(c), Error);
}

TEST(Synth, ValidationNamesTheValue) {
  SynthConfig c = small_config();
  c.users = 0;
  expect_invalid(c, "users 0");
  c = small_config();
  c.items = -5;
  expect_invalid(c, "items -5");
  c = small_config();
  c.pairs = 1999;
  expect_invalid(c, "pairs 1999");
  c.pairs = 2000 * 1000 + 1;
  expect_invalid(c, "pairs 2000001");
  c = small_config();
  c.zipf = -0.5;
  expect_invalid(c, "zipf -0.5");
  c = small_config();
  c.activity_sigma = std::numeric_limits<double>::quiet_NaN();
  expect_invalid(c, "activity_sigma nan");
  c = small_config();
  c.users = std::int64_t{1} << 31;
  expect_invalid(c, "users 2147483648");
}

}  // namespace
}  // namespace latent
