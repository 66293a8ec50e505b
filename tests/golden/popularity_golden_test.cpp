// Golden outputs: popularity on the tiny fixture gives these recommendations
// and scores (training-pair counts; equal counts rank by the lower item row).
// A change to the counting, the tie-break or seen-item exclusion shows up
// here first; update the numbers only for a change meant to alter them, and
// say so in the commit.

#include "golden/golden.hpp"

namespace latent::test {
namespace {

TEST(PopularityGolden, OneStepWithoutLoss) {
  const FitResult r = golden_fit("popularity", {});
  ASSERT_EQ(r.epochs.size(), 1u);
  EXPECT_TRUE(std::isnan(r.epochs[0].loss));
}

TEST(PopularityGolden, Recommendations) {
  const FitResult r = golden_fit("popularity", {});
  expect_top3(r.model, "u1", "i16 i19 i12 ", {11, 11, 10});
  expect_top3(r.model, "u7", "i1 i16 i19 ", {11, 11, 11});
  expect_top3(r.model, "u20", "i1 i4 i13 ", {11, 11, 10});
  expect_top3(r.model, "u26", "i1 i4 i12 ", {11, 11, 10});
}

}  // namespace
}  // namespace latent::test
