#include <latent/item_to_item.hpp>

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include <latent/error.hpp>

namespace latent {

namespace {

[[noreturn]] void corrupt(const std::string& what) {
  throw Error(ErrorKind::Corruption, fmt::format("item-to-item weights: {}", what));
}

}  // namespace

ItemToItem::ItemToItem(std::int32_t items, std::vector<std::int64_t> indptr,
                       std::vector<std::int32_t> indices, std::vector<float> values)
    : items_(items),
      indptr_(std::move(indptr)),
      indices_(std::move(indices)),
      values_(std::move(values)) {
  if (items < 0) corrupt(fmt::format("{} items", items));
  if (indptr_.size() != static_cast<std::size_t>(items) + 1 || indptr_.front() != 0 ||
      indptr_.back() != static_cast<std::int64_t>(indices_.size())) {
    corrupt(fmt::format("{} row pointers for {} items and {} entries", indptr_.size(), items,
                        indices_.size()));
  }
  if (values_.size() != indices_.size()) {
    corrupt(fmt::format("{} values for {} entries", values_.size(), indices_.size()));
  }
  // Every row pointer first: only then is each row's range inside the entries.
  for (std::int32_t r = 0; r < items; ++r) {
    if (indptr_[static_cast<std::size_t>(r) + 1] < indptr_[static_cast<std::size_t>(r)]) {
      corrupt(fmt::format("row {} has negative length", r));
    }
  }
  if (items > 0 && indptr_[1] != 0) corrupt("row 0 (the OOV item) has entries");
  for (std::int32_t r = 1; r < items; ++r) {
    const auto b = indptr_[static_cast<std::size_t>(r)];
    const auto e = indptr_[static_cast<std::size_t>(r) + 1];
    for (auto k = b; k < e; ++k) {
      const auto c = indices_[static_cast<std::size_t>(k)];
      if (c < 1 || c >= items || (k > b && c <= indices_[static_cast<std::size_t>(k) - 1])) {
        corrupt(fmt::format("row {} has column {} out of order or outside [1, {})", r, c, items));
      }
      if (!std::isfinite(values_[static_cast<std::size_t>(k)])) {
        corrupt(fmt::format("row {} column {} has the value {}", r, c,
                            values_[static_cast<std::size_t>(k)]));
      }
    }
  }
}

ItemToItem ItemToItem::dense(std::int32_t items, std::vector<float> values) {
  if (items < 0) corrupt(fmt::format("{} items", items));
  const auto n = static_cast<std::size_t>(items);
  if (values.size() != n * n) {
    corrupt(fmt::format("{} dense values for {} x {} items", values.size(), items, items));
  }
  for (std::size_t i = 0; i < n; ++i) {
    const float* row = values.data() + i * n;
    for (std::size_t j = 0; j < n; ++j) {
      if (!std::isfinite(row[j]))
        corrupt(fmt::format("row {} column {} has the value {}", i, j, row[j]));
    }
    if (i == 0 && std::any_of(row, row + n, [](float w) { return w != 0.0f; })) {
      corrupt("row 0 (the OOV item) has entries");
    }
    if (n > 0 && row[0] != 0.0f) corrupt(fmt::format("row {} has a weight for the OOV item", i));
  }
  ItemToItem w;
  w.items_ = items;
  w.dense_ = true;
  w.values_ = std::move(values);
  return w;
}

void ItemToItem::term(std::span<const std::int32_t> query_items,
                      std::span<const float> query_weights, std::int64_t first,
                      std::span<float> out) const {
  std::fill(out.begin(), out.end(), 0.0f);
  if (empty()) return;
  const auto last = first + static_cast<std::int64_t>(out.size());
  const auto width = static_cast<std::int64_t>(out.size());
  for (std::size_t q = 0; q < query_items.size(); ++q) {
    const std::int32_t i = query_items[q];
    if (i <= 0 || i >= items_) continue;  // OOV, or nothing stored
    const float x = query_weights.empty() ? 1.0f : query_weights[q];
    if (dense_) {
      const float* w = values_.data() + static_cast<std::int64_t>(i) * items_ + first;
      float* o = out.data();
      for (std::int64_t c = 0; c < width; ++c) o[c] += x * w[c];
      continue;
    }
    const auto* begin = indices_.data() + indptr_[static_cast<std::size_t>(i)];
    const auto* end = indices_.data() + indptr_[static_cast<std::size_t>(i) + 1];
    const auto* from = first <= 1 ? begin : std::lower_bound(begin, end, first);
    const float* w = values_.data() + (from - indices_.data());
    for (const auto* c = from; c != end && *c < last; ++c, ++w) out[*c - first] += x * *w;
  }
}

}  // namespace latent
