#pragma once
// InitialVectors: the vectors a trainer starts from instead of its own
// random initialisation, for a warm start from a saved model (warm_start.hpp,
// FitOptions::init). The saved model's rows come first in the vocabularies
// of a warm start, so rows 1..n-1 of `users` replace rows 1..n-1 of the
// trainer's user table (the OOV row 0 stays as the trainer makes it), and
// likewise for items; the rows after them (ids the saved model did not
// know) keep the trainer's own initialisation.

#include <string_view>

#include <latent/matrix.hpp>

namespace latent {

struct TowerParams;
struct RatingHead;

struct InitialVectors {
  // Not owned; null: that side starts as the trainer makes it. Rows: at
  // most the trainer's rows of that side; columns: the width of the
  // trainer's table as it returns it (BPR: dim + 1, its bias column last).
  const Matrix* users = nullptr;
  const Matrix* items = nullptr;
  // Two-tower's towers (Tower::start_from; their id rows as above) and
  // rating network, when the saved model has them. Not owned.
  const TowerParams* user_tower = nullptr;
  const TowerParams* item_tower = nullptr;
  const RatingHead* rating_head = nullptr;

  bool empty() const noexcept {
    return users == nullptr && items == nullptr && user_tower == nullptr && item_tower == nullptr &&
           rating_head == nullptr;
  }
};

// Throws InvalidArgument, naming `what` ("initial user vectors"), when
// `from` is not null and has more than `rows` rows or not `cols` columns.
void check_initial_rows(const Matrix* from, std::int64_t rows, std::int64_t cols,
                        std::string_view what);
// check_initial_rows against `to`'s shape, then copies rows 1..from->rows()-1
// of `from` into `to` (nothing when from is null).
void copy_initial_rows(const Matrix* from, Matrix& to, std::string_view what);

}  // namespace latent
