#include <latent/interactions.hpp>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string_view>

#include <fmt/format.h>

#include <latent/error.hpp>
#include <latent/random.hpp>

namespace latent {

Interactions Interactions::select(std::span<const std::size_t> positions) const {
  Interactions out;
  out.num_users = num_users;
  out.num_items = num_items;
  out.users.reserve(positions.size());
  out.items.reserve(positions.size());
  for (std::size_t p : positions) {
    out.users.push_back(users[p]);
    out.items.push_back(items[p]);
  }
  if (!ratings.empty()) {
    out.ratings.reserve(positions.size());
    for (std::size_t p : positions) out.ratings.push_back(ratings[p]);
  }
  if (!weights.empty()) {
    out.weights.reserve(positions.size());
    for (std::size_t p : positions) out.weights.push_back(weights[p]);
  }
  if (!timestamps.empty()) {
    out.timestamps.reserve(positions.size());
    for (std::size_t p : positions) out.timestamps.push_back(timestamps[p]);
  }
  out.context.reserve(context.size());
  for (const ContextColumn& column : context) {
    ContextColumn& c = out.context.emplace_back();
    c.name = column.name;
    c.values.reserve(positions.size());
    for (std::size_t p : positions) c.values.push_back(column.values[p]);
  }
  return out;
}

const ContextColumn* Interactions::context_column(std::string_view name) const noexcept {
  for (const ContextColumn& c : context) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

std::vector<float> entry_weights(const CsrMatrix& rows, const Interactions& pairs, bool weighted) {
  const bool sums = weighted && !pairs.weights.empty();
  std::vector<double> totals(static_cast<std::size_t>(rows.nnz()), 0.0);
  for (std::size_t p = 0; p < pairs.size(); ++p) {
    const auto row = rows.row(pairs.users[p]);
    const auto at = std::lower_bound(row.begin(), row.end(), pairs.items[p]);
    if (at == row.end() || *at != pairs.items[p]) {
      throw Error(ErrorKind::InvalidArgument,
                  fmt::format("pair {} (user row {}, item row {}) is not among the rows' entries",
                              p, pairs.users[p], pairs.items[p]));
    }
    const auto entry = static_cast<std::size_t>(
        rows.indptr()[static_cast<std::size_t>(pairs.users[p])] + (at - row.begin()));
    if (sums) {
      totals[entry] += pairs.weights[p];
    } else {
      totals[entry] = 1.0;
    }
  }
  return {totals.begin(), totals.end()};
}

Interactions pairs_of_both(const Interactions& a, const Interactions& b) {
  if (!b.empty() && (a.num_users != b.num_users || a.num_items != b.num_items)) {
    throw Error(ErrorKind::InvalidArgument,
                fmt::format("pairs on {} x {} rows cannot join pairs on {} x {} rows", a.num_users,
                            a.num_items, b.num_users, b.num_items));
  }
  Interactions out;
  out.num_users = a.num_users;
  out.num_items = a.num_items;
  out.users.reserve(a.size() + b.size());
  out.items.reserve(a.size() + b.size());
  for (const Interactions* x : {&a, &b}) {
    out.users.insert(out.users.end(), x->users.begin(), x->users.end());
    out.items.insert(out.items.end(), x->items.begin(), x->items.end());
  }
  return out;
}

void check_interactions(const Interactions& x, std::string_view what) {
  const std::size_t n = x.size();
  const auto check_size = [&](std::size_t size, std::string_view column) {
    if (size != 0 && size != n) {
      throw Error(ErrorKind::InvalidArgument,
                  fmt::format("{}: {} {} for {} interactions", what, size, column, n));
    }
  };
  if (x.items.size() != n) {
    throw Error(ErrorKind::InvalidArgument,
                fmt::format("{}: {} items for {} users", what, x.items.size(), n));
  }
  check_size(x.ratings.size(), "ratings");
  check_size(x.timestamps.size(), "timestamps");
  check_size(x.weights.size(), "weights");
  for (const ContextColumn& c : x.context) {
    if (c.values.size() != n) {
      throw Error(ErrorKind::InvalidArgument,
                  fmt::format("{}: {} values of context column \"{}\" for {} interactions", what,
                              c.values.size(), c.name, n));
    }
  }
  for (std::size_t e = 0; e < n; ++e) {
    if (x.users[e] < 0 || x.users[e] >= x.num_users || x.items[e] < 0 ||
        x.items[e] >= x.num_items) {
      throw Error(ErrorKind::InvalidArgument,
                  fmt::format("{} interaction {} has user row {} and item row {}, outside the "
                              "{} user rows and {} item rows",
                              what, e, x.users[e], x.items[e], x.num_users, x.num_items));
    }
  }
}

void check_training_pairs(const Interactions& train, bool allow_empty) {
  if (train.empty() && !allow_empty) throw Error(ErrorKind::InvalidArgument, "no training pairs");
  if (train.items.size() != train.size()) {
    throw Error(ErrorKind::InvalidArgument,
                fmt::format("{} items for {} users in the training pairs", train.items.size(),
                            train.size()));
  }
  if (train.num_users < 2 || train.num_items < 2) {
    throw Error(ErrorKind::InvalidArgument,
                fmt::format("the vocabularies are empty ({} user rows, {} item rows; row 0 is OOV)",
                            train.num_users, train.num_items));
  }
  for (std::size_t k = 0; k < train.size(); ++k) {
    if (train.users[k] <= 0 || train.users[k] >= train.num_users || train.items[k] <= 0 ||
        train.items[k] >= train.num_items) {
      throw Error(ErrorKind::InvalidArgument,
                  fmt::format("training pair {} (user row {}, item row {}) is out of the "
                              "vocabularies ({} user rows, {} item rows; row 0 is OOV)",
                              k, train.users[k], train.items[k], train.num_users, train.num_items));
    }
  }
  if (train.weights.empty()) return;
  if (train.weights.size() != train.size()) {
    throw Error(ErrorKind::InvalidArgument, fmt::format("{} weights for {} training pairs",
                                                        train.weights.size(), train.size()));
  }
  for (std::size_t k = 0; k < train.size(); ++k) {
    if (!(std::isfinite(train.weights[k]) && train.weights[k] >= 0)) {
      throw Error(ErrorKind::InvalidArgument,
                  fmt::format("training pair {} has weight {}; weights must be finite and >= 0", k,
                              train.weights[k]));
    }
  }
}

Split random_split(const Interactions& all, double test_fraction, std::uint64_t seed) {
  if (!(test_fraction >= 0.0 && test_fraction < 1.0)) {
    throw Error(ErrorKind::InvalidArgument,
                fmt::format("test fraction {} is outside [0, 1)", test_fraction));
  }
  std::vector<std::size_t> order(all.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  Rng rng(seed);
  rng.shuffle(std::span<std::size_t>(order));
  const auto n_test =
      static_cast<std::size_t>(std::llround(test_fraction * static_cast<double>(all.size())));
  std::span<const std::size_t> s(order);
  Split split;
  split.test = all.select(s.first(n_test));
  split.train = all.select(s.subspan(n_test));
  return split;
}

CsrMatrix CsrMatrix::from_interactions(const Interactions& x) {
  CsrMatrix m;
  m.rows_ = x.num_users;
  m.cols_ = x.num_items;
  std::vector<std::int64_t> counts(static_cast<std::size_t>(x.num_users) + 1, 0);
  for (std::int32_t u : x.users) ++counts[static_cast<std::size_t>(u) + 1];
  for (std::size_t r = 1; r < counts.size(); ++r) counts[r] += counts[r - 1];
  std::vector<std::int32_t> cols(x.size());
  std::vector<std::int64_t> fill(counts.begin(), counts.end() - 1);
  for (std::size_t e = 0; e < x.size(); ++e) {
    cols[static_cast<std::size_t>(fill[static_cast<std::size_t>(x.users[e])]++)] = x.items[e];
  }
  m.indptr_.assign(1, 0);
  m.indptr_.reserve(counts.size());
  m.indices_.clear();
  m.indices_.reserve(cols.size());
  for (std::int32_t r = 0; r < x.num_users; ++r) {
    auto b = cols.begin() + counts[static_cast<std::size_t>(r)];
    auto e = cols.begin() + counts[static_cast<std::size_t>(r) + 1];
    std::sort(b, e);
    auto last = std::unique(b, e);
    m.indices_.insert(m.indices_.end(), b, last);
    m.indptr_.push_back(static_cast<std::int64_t>(m.indices_.size()));
  }
  return m;
}

CsrMatrix::CsrMatrix(std::int32_t rows, std::int32_t cols, std::vector<std::int64_t> indptr,
                     std::vector<std::int32_t> indices)
    : rows_(rows), cols_(cols), indptr_(std::move(indptr)), indices_(std::move(indices)) {
  if (rows < 0 || cols < 0 || indptr_.size() != static_cast<std::size_t>(rows) + 1 ||
      indptr_.front() != 0 || indptr_.back() != static_cast<std::int64_t>(indices_.size())) {
    throw Error(ErrorKind::Corruption,
                fmt::format("sparse matrix of {} rows has {} row pointers for {} entries", rows,
                            indptr_.size(), indices_.size()));
  }
  // All row pointers first: only then is every entry range inside indices_.
  for (std::int32_t r = 0; r < rows; ++r) {
    if (indptr_[static_cast<std::size_t>(r) + 1] < indptr_[static_cast<std::size_t>(r)]) {
      throw Error(ErrorKind::Corruption,
                  fmt::format("sparse matrix row {} has negative length", r));
    }
  }
  for (std::int32_t r = 0; r < rows; ++r) {
    const auto b = indptr_[static_cast<std::size_t>(r)];
    const auto e = indptr_[static_cast<std::size_t>(r) + 1];
    for (auto k = b; k < e; ++k) {
      const auto c = indices_[static_cast<std::size_t>(k)];
      if (c < 0 || c >= cols || (k > b && c <= indices_[static_cast<std::size_t>(k) - 1])) {
        throw Error(ErrorKind::Corruption,
                    fmt::format("sparse matrix row {} has column {} out of order or range [0, {})",
                                r, c, cols));
      }
    }
  }
}

std::span<const std::int32_t> CsrMatrix::row(std::int32_t r) const noexcept {
  if (r < 0 || r >= rows_) return {};
  const auto b = indptr_[static_cast<std::size_t>(r)];
  const auto e = indptr_[static_cast<std::size_t>(r) + 1];
  return {indices_.data() + b, static_cast<std::size_t>(e - b)};
}

}  // namespace latent
