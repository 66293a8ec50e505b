// Golden outputs: the two-tower model on the tiny fixture with a fixed seed
// gives these losses and recommendations. A change to initialisation,
// shuffling, the loss or the optimiser shows up here first; update the
// numbers only for a change meant to alter training, and say so in the commit.

#include "golden/golden.hpp"

namespace latent::test {
namespace {

FitResult two_tower_fit() {
  return golden_fit("two-tower", {{"dim", "8"},
                                  {"batch-size", "32"},
                                  {"epochs", "4"},
                                  {"learning-rate", "0.2"},
                                  {"seed", "2024"},
                                  {"threads", "1"},
                                  {"negatives", "in-batch"}});
}

TEST(TwoTowerGolden, EpochLosses) {
  const FitResult r = two_tower_fit();
  const double want[] = {102.2022, 93.2893, 82.9543, 80.3062};
  ASSERT_EQ(r.epochs.size(), 4u);
  for (std::size_t e = 0; e < 4; ++e) {
    EXPECT_NEAR(r.epochs[e].loss, want[e], 1e-3) << "epoch " << e + 1;
  }
}

TEST(TwoTowerGolden, Recommendations) {
  const FitResult r = two_tower_fit();
  const std::pair<const char*, const char*> golden[] = {
      {"u1", "i6 i7 i3 "}, {"u7", "i4 i1 i5 "}, {"u20", "i13 i14 i17 "}, {"u30", "i13 i14 i17 "}};
  for (const auto& [user, want] : golden) {
    EXPECT_EQ(top_ids(r.model, golden_top(r.model, user)), want) << "user " << user;
  }
}

}  // namespace
}  // namespace latent::test
