// Golden outputs: BPR on the tiny fixture with a fixed seed and one thread
// (Hogwild with more threads is not deterministic) gives these per-epoch
// sampled accuracies and recommendations. A change to initialisation, the
// triple sampling or the SGD step shows up here first; update the numbers
// only for a change meant to alter training, and say so in the commit.

#include "golden/golden.hpp"

namespace latent::test {
namespace {

FitResult bpr_fit() {
  return golden_fit("bpr", {{"dim", "8"},
                            {"learning-rate", "0.2"},
                            {"regularization", "0.01"},
                            {"epochs", "8"},
                            {"seed", "2024"},
                            {"threads", "1"}});
}

TEST(BprGolden, EpochSampledAccuracy) {
  const FitResult r = bpr_fit();
  // Fractions of the 180 triples an epoch draws.
  const double want[] = {0.538889, 0.561111, 0.566667, 0.755556,
                         0.894444, 0.888889, 0.894444, 0.938889};
  ASSERT_EQ(r.epochs.size(), 8u);
  for (std::size_t e = 0; e < 8; ++e) {
    expect_close(r.epochs[e].sampled_accuracy, want[e], fmt::format("epoch {}", e + 1));
  }
}

TEST(BprGolden, Recommendations) {
  const FitResult r = bpr_fit();
  expect_top3(r.model, "u1", "i7 i10 i6 ", {2.24246, 2.20042, 1.83428});
  expect_top3(r.model, "u7", "i1 i8 i4 ", {2.48238, 1.52169, 1.47954});
  expect_top3(r.model, "u20", "i20 i14 i13 ", {1.42832, 1.13379, 1.06419});
  expect_top3(r.model, "u26", "i12 i15 i11 ", {2.37426, 1.82694, 1.55963});
}

}  // namespace
}  // namespace latent::test
