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

}  // namespace
}  // namespace latent
