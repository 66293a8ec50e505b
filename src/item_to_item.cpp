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

void ItemToItem::term(std::span<const std::int32_t> query_items, std::int64_t first,
                      std::span<float> out) const {
  std::fill(out.begin(), out.end(), 0.0f);
  if (empty()) return;
  const auto last = first + static_cast<std::int64_t>(out.size());
  for (const std::int32_t i : query_items) {
    if (i <= 0 || i >= items_) continue;  // OOV, or nothing stored
    const auto* begin = indices_.data() + indptr_[static_cast<std::size_t>(i)];
    const auto* end = indices_.data() + indptr_[static_cast<std::size_t>(i) + 1];
    const auto* from = first <= 1 ? begin : std::lower_bound(begin, end, first);
    const float* w = values_.data() + (from - indices_.data());
    for (const auto* c = from; c != end && *c < last; ++c, ++w) out[*c - first] += *w;
  }
}

}  // namespace latent
