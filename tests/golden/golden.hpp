#pragma once
// Shared by the golden tests: one fit of a model on the tiny fixture through
// the public fit(), a user's top-k as a string of item ids (so a failure
// prints both lists), and the checks of pinned floats, relative to 1e-3.

#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <latent/fit.hpp>

#include "fixtures/tiny_dataset.hpp"

namespace latent::test {

inline FitResult golden_fit(const std::string& model, Params params) {
  FitOptions options;
  options.model = model;
  options.params = std::move(params);
  // The pair order the numbers were pinned with: fit() seeds its split (and
  // so the order of the training pairs) from the "seed" parameter.
  options.split_seed = 42;
  return fit(tiny_dataset(), options);
}

// The top-k of one user, seen items excluded.
inline TopK golden_top(const Recommender& model, std::string_view user, int k = 3) {
  const std::int32_t row[] = {model.user_row(user)};
  return model.recommend(row, k, true);
}

// Item ids of a top-k, each followed by a space: "i6 i7 i3 ".
inline std::string top_ids(const Recommender& model, const TopK& top) {
  std::string ids;
  for (auto item : top.items) ids += std::string(model.item_id(item)) + " ";
  return ids;
}

// got within 1e-3 of want, relative (plus 1e-6 for values near zero).
inline void expect_close(double got, double want, const std::string& what) {
  EXPECT_NEAR(got, want, 1e-3 * std::abs(want) + 1e-6) << what;
}

// The user's top-3 (seen items excluded) is `ids`, scoring `scores`.
inline void expect_top3(const Recommender& model, std::string_view user, std::string_view ids,
                        const std::array<double, 3>& scores) {
  const TopK top = golden_top(model, user);
  EXPECT_EQ(top_ids(model, top), ids) << "user " << user;
  ASSERT_EQ(top.scores.size(), 3u);
  for (std::size_t r = 0; r < 3; ++r) {
    expect_close(top.scores[r], scores[r], fmt::format("user {} rank {}", user, r + 1));
  }
}

}  // namespace latent::test
