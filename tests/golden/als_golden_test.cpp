// Golden outputs: ALS on the tiny fixture with a fixed seed gives these
// per-iteration losses (compute-loss) and recommendations. A change to
// initialisation, the solver, the confidence weighting or the loss shows up
// here first; update the numbers only for a change meant to alter training,
// and say so in the commit.

#include "golden/golden.hpp"

namespace latent::test {
namespace {

FitResult als_fit() {
  return golden_fit("als", {{"dim", "8"},
                            {"regularization", "1"},
                            {"epochs", "4"},
                            {"seed", "2024"},
                            {"threads", "1"},
                            {"compute-loss", "true"}});
}

TEST(AlsGolden, IterationLosses) {
  const FitResult r = als_fit();
  const double want[] = {0.159000, 0.0711173, 0.0626492, 0.0575086};
  ASSERT_EQ(r.epochs.size(), 4u);
  for (std::size_t e = 0; e < 4; ++e) {
    expect_close(r.epochs[e].loss, want[e], fmt::format("iteration {}", e + 1));
  }
}

TEST(AlsGolden, Recommendations) {
  const FitResult r = als_fit();
  expect_top3(r.model, "u1", "i7 i6 i11 ", {0.653456, 0.261069, 0.161857});
  expect_top3(r.model, "u7", "i4 i1 i5 ", {0.619371, 0.583148, 0.473981});
  expect_top3(r.model, "u20", "i13 i14 i8 ", {0.544956, 0.342510, 0.200417});
  expect_top3(r.model, "u26", "i12 i11 i8 ", {0.399266, 0.334807, 0.123582});
}

}  // namespace
}  // namespace latent::test
