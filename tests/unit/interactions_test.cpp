#include <latent/error.hpp>
#include <latent/interactions.hpp>

#include <gtest/gtest.h>

namespace latent {
namespace {

Interactions sample() {
  Interactions x;
  x.num_users = 3;
  x.num_items = 4;
  x.users = {1, 2, 1, 1, 2};
  x.items = {3, 1, 2, 3, 3};
  return x;
}

TEST(CsrMatrix, DeduplicatesAndSortsRows) {
  auto m = CsrMatrix::from_interactions(sample());
  EXPECT_EQ(m.rows(), 3);
  EXPECT_EQ(m.cols(), 4);
  EXPECT_EQ(m.nnz(), 4);
  EXPECT_TRUE(m.row(0).empty());
  ASSERT_EQ(m.row(1).size(), 2u);
  EXPECT_EQ(m.row(1)[0], 2);
  EXPECT_EQ(m.row(1)[1], 3);
  EXPECT_TRUE(m.row(7).empty());
}

TEST(CsrMatrix, ValidatingConstructorRejectsBadData) {
  EXPECT_THROW(CsrMatrix(2, 3, {0, 1}, {0}), Error);     // too few pointers
  EXPECT_THROW(CsrMatrix(1, 3, {0, 2}, {2, 1}), Error);  // unsorted
  EXPECT_THROW(CsrMatrix(1, 3, {0, 1}, {3}), Error);     // out of range
  EXPECT_NO_THROW(CsrMatrix(2, 3, {0, 1, 3}, {0, 1, 2}));
  // A row pointer past the entries must be caught before any entry is read.
  EXPECT_THROW(CsrMatrix(2, 3, {0, 100, 3}, {0, 1, 2}), Error);
}

TEST(RandomSplit, IsSeededAndPartitions) {
  Interactions x;
  x.num_users = 100;
  x.num_items = 100;
  for (int i = 0; i < 1000; ++i) {
    x.users.push_back(i % 100);
    x.items.push_back(i / 10);
  }
  auto a = random_split(x, 0.2, 7);
  auto b = random_split(x, 0.2, 7);
  auto c = random_split(x, 0.2, 8);
  EXPECT_EQ(a.test.size(), 200u);
  EXPECT_EQ(a.train.size(), 800u);
  EXPECT_EQ(a.test.users, b.test.users);
  EXPECT_EQ(a.test.items, b.test.items);
  EXPECT_NE(a.test.items, c.test.items);
  EXPECT_THROW(random_split(x, 1.0, 1), Error);
  EXPECT_THROW(random_split(x, -0.1, 1), Error);
}

TEST(EntryWeights, SumTheWeightsOfEachEntrysPairsOrCountThemOnce) {
  Interactions x;
  x.num_users = 3;
  x.num_items = 4;
  x.users = {1, 1, 2, 1};
  x.items = {2, 3, 1, 2};  // (1, 2) twice
  x.weights = {0.5f, 2.0f, 1.5f, 0.25f};
  // Rows with one more entry, (2, 3), that no pair of x has.
  Interactions rows_of = x;
  rows_of.users.push_back(2);
  rows_of.items.push_back(3);
  rows_of.weights.push_back(9.0f);
  const CsrMatrix rows = CsrMatrix::from_interactions(rows_of);  // 1: {2, 3}; 2: {1, 3}
  EXPECT_EQ(entry_weights(rows, x, true), (std::vector<float>{0.75f, 2.0f, 1.5f, 0.0f}));
  EXPECT_EQ(entry_weights(rows, x, false), (std::vector<float>{1.0f, 1.0f, 1.0f, 0.0f}));
  x.weights.clear();
  EXPECT_EQ(entry_weights(rows, x, true), (std::vector<float>{1.0f, 1.0f, 1.0f, 0.0f}));
  x.items[0] = 1;  // (1, 1) is not an entry of rows
  try {
    entry_weights(rows, x, true);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("pair 0 (user row 1, item row 1)"), std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace latent
