#include <latent/popularity.hpp>

#include <cmath>

#include <gtest/gtest.h>

#include <latent/error.hpp>

namespace latent {
namespace {

Interactions sample() {
  Interactions x;
  x.num_users = 4;
  x.num_items = 5;
  x.users = {1, 1, 2, 2, 3, 3, 3};
  x.items = {1, 2, 2, 4, 2, 4, 4};  // a duplicate (3, 4) counts twice
  return x;
}

TEST(Popularity, CountsEveryEvent) {
  const Matrix m = train_popularity(sample());
  ASSERT_EQ(m.rows(), 5);
  ASSERT_EQ(m.cols(), 1);
  EXPECT_EQ(m.values()[0], 0.0f);  // OOV
  EXPECT_EQ(m.values()[1], 1.0f);
  EXPECT_EQ(m.values()[2], 3.0f);
  EXPECT_EQ(m.values()[3], 0.0f);
  EXPECT_EQ(m.values()[4], 3.0f);
}

TEST(Popularity, SumsWeights) {
  auto x = sample();
  x.weights = {0.5f, 1.0f, 2.0f, 0.0f, 1.0f, 1.5f, 2.5f};
  const Matrix m = train_popularity(x);
  EXPECT_EQ(m.values()[1], 0.5f);
  EXPECT_EQ(m.values()[2], 4.0f);
  EXPECT_EQ(m.values()[4], 4.0f);
}

TEST(Popularity, RejectsBadPairsAndWeights) {
  auto x = sample();
  x.items[2] = 0;
  EXPECT_THROW(train_popularity(x), Error);
  x = sample();
  x.items[2] = 5;
  try {
    train_popularity(x);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::InvalidArgument);
    EXPECT_NE(std::string(e.what()).find("item row 5"), std::string::npos) << e.what();
  }
  x = sample();
  x.weights = {1, 1, 1};
  EXPECT_THROW(train_popularity(x), Error);
  x.weights = {1, 1, 1, -1, 1, 1, 1};
  try {
    train_popularity(x);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("weight -1"), std::string::npos) << e.what();
  }
  x.weights[3] = NAN;
  EXPECT_THROW(train_popularity(x), Error);
}

TEST(Popularity, NoPairsGivesZeros) {
  Interactions x;
  x.num_users = 2;
  x.num_items = 3;
  const Matrix m = train_popularity(x);
  EXPECT_EQ(m, Matrix(3, 1));
}

}  // namespace
}  // namespace latent
