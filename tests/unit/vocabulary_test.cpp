#include <latent/error.hpp>
#include <latent/vocabulary.hpp>

#include <gtest/gtest.h>

namespace latent {
namespace {

TEST(Vocabulary, IntegerIdsSortNumericallyWithOovAtZero) {
  auto v = Vocabulary::from_ids({"10", "2", "2", "1"});
  EXPECT_EQ(v.kind(), Vocabulary::IdKind::Integer);
  EXPECT_EQ(v.size(), 4);
  EXPECT_EQ(v.num_known(), 3);
  EXPECT_EQ(v.id(0), "[UNK]");
  EXPECT_EQ(v.id(1), "1");
  EXPECT_EQ(v.id(2), "2");
  EXPECT_EQ(v.id(3), "10");
  EXPECT_EQ(v.lookup("10"), 3);
  EXPECT_EQ(v.lookup("010"), 3);
  EXPECT_EQ(v.lookup("11"), Vocabulary::kOov);
  EXPECT_FALSE(v.find("x").has_value());
}

TEST(Vocabulary, StringIdsSortBytewise) {
  auto v = Vocabulary::from_ids({"b", "a", "B", "a"});
  EXPECT_EQ(v.kind(), Vocabulary::IdKind::String);
  ASSERT_EQ(v.size(), 4);
  EXPECT_EQ(v.id(1), "B");
  EXPECT_EQ(v.id(2), "a");
  EXPECT_EQ(v.lookup("b"), 3);
}

TEST(Vocabulary, CopiesKeepWorkingIndex) {
  Vocabulary copy;
  {
    auto v = Vocabulary::from_ids({"x", "y"});
    copy = v;
  }
  EXPECT_EQ(copy.lookup("y"), 2);
  Vocabulary moved = std::move(copy);
  EXPECT_EQ(moved.lookup("x"), 1);
}

TEST(Vocabulary, OutOfRangeRowIsAnError) {
  auto v = Vocabulary::from_ids({"x"});
  EXPECT_THROW(v.id(2), Error);
  EXPECT_THROW(v.id(-1), Error);
}

TEST(Vocabulary, OrderedRejectsDuplicates) {
  EXPECT_THROW(Vocabulary::from_ordered({"a", "a"}, Vocabulary::IdKind::String), Error);
  auto v = Vocabulary::from_ordered({"z", "a"}, Vocabulary::IdKind::String);
  EXPECT_EQ(v.lookup("z"), 1);
}

}  // namespace
}  // namespace latent
