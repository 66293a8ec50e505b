#pragma once
// A check the warm-start tests share: a model warm-started from `base` and
// trained one epoch on `data` again (`again`: the warm start's options)
// starts where the saved training ended, well below a fresh model's first
// epoch's loss.
#include <gtest/gtest.h>

#include <latent/dataset.hpp>
#include <latent/fit.hpp>

namespace latent::test {

inline void expect_continued(const FitResult& base, const Dataset& data, FitOptions again) {
  again.params = {{"epochs", "1"}, {"threads", "1"}};
  const FitResult more = fit(data, again);
  const double fresh_first = base.epochs.front().loss, saved_last = base.epochs.back().loss;
  ASSERT_LT(saved_last, 0.9 * fresh_first);
  EXPECT_LT(more.epochs.front().loss, 0.5 * (fresh_first + saved_last))
      << "fresh " << fresh_first << ", saved " << saved_last;
}

}  // namespace latent::test
