// Golden outputs: EASE on the tiny fixture gives these recommendations and
// scores (it is closed-form: no seed, no epochs). A change to the Gram
// matrix, the regularization or the inversion shows up here first; update
// the numbers only for a change meant to alter training, and say so in the
// commit.

#include "golden/golden.hpp"

namespace latent::test {
namespace {

FitResult ease_fit() { return golden_fit("ease", {{"regularization", "10"}, {"threads", "1"}}); }

TEST(EaseGolden, OneStepWithoutLoss) {
  const FitResult r = ease_fit();
  ASSERT_EQ(r.epochs.size(), 1u);
  EXPECT_TRUE(std::isnan(r.epochs[0].loss));
}

TEST(EaseGolden, Recommendations) {
  const FitResult r = ease_fit();
  expect_top3(r.model, "u1", "i7 i6 i10 ", {0.403866, 0.261058, 0.208512});
  expect_top3(r.model, "u7", "i4 i5 i1 ", {0.415698, 0.338389, 0.301402});
  expect_top3(r.model, "u20", "i13 i14 i20 ", {0.403866, 0.261058, 0.208512});
  expect_top3(r.model, "u26", "i12 i11 i15 ", {0.403866, 0.261058, 0.208512});
}

}  // namespace
}  // namespace latent::test
