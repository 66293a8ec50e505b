#include <latent/warm_start.hpp>

#include <algorithm>
#include <utility>

#include <fmt/format.h>

#include <latent/error.hpp>

namespace latent {

WarmUpdate parse_warm_update(const std::string& name) {
  if (name == "all") return WarmUpdate::All;
  if (name == "users") return WarmUpdate::Users;
  throw Error(ErrorKind::InvalidArgument,
              fmt::format("update \"{}\" is not one of all, users", name));
}

const char* to_string(WarmUpdate update) noexcept {
  return update == WarmUpdate::Users ? "users" : "all";
}

VocabularyMerge merge_vocabularies(const Vocabulary& saved, const Vocabulary& fresh, bool extend) {
  VocabularyMerge out;
  out.rows.assign(static_cast<std::size_t>(fresh.size()), -1);
  out.rows[0] = Vocabulary::kOov;
  std::vector<std::string> ids(saved.ids().begin(), saved.ids().end());
  for (std::int32_t r = 1; r < fresh.size(); ++r) {
    const std::string_view id = fresh.id(r);
    if (const auto row = saved.find(id)) {
      out.rows[static_cast<std::size_t>(r)] = *row;
    } else if (extend) {
      ids.emplace_back(id);
      out.rows[static_cast<std::size_t>(r)] = static_cast<std::int32_t>(ids.size());
    }
  }
  if (!extend || ids.size() == saved.ids().size()) {
    out.merged = saved;
    return out;
  }
  const bool integer =
      saved.kind() == Vocabulary::IdKind::Integer && fresh.kind() == Vocabulary::IdKind::Integer;
  out.merged = Vocabulary::from_ordered(
      std::move(ids), integer ? Vocabulary::IdKind::Integer : Vocabulary::IdKind::String);
  return out;
}

namespace {

// `x` on the merged rows; entries on an item without a row (-1: update
// users) are left out.
Interactions renumbered(const Interactions& x, const VocabularyMerge& users,
                        const VocabularyMerge& items) {
  Interactions out;
  out.num_users = users.merged.size();
  out.num_items = items.merged.size();
  const bool all_known = std::none_of(x.items.begin(), x.items.end(), [&](std::int32_t i) {
    return items.rows[static_cast<std::size_t>(i)] < 0;
  });
  std::vector<std::size_t> keep;
  if (!all_known) {
    for (std::size_t k = 0; k < x.size(); ++k) {
      if (items.rows[static_cast<std::size_t>(x.items[k])] >= 0) keep.push_back(k);
    }
  }
  const Interactions kept = all_known ? Interactions{} : x.select(keep);
  const Interactions& from = all_known ? x : kept;
  out.users.reserve(from.size());
  out.items.reserve(from.size());
  for (std::size_t k = 0; k < from.size(); ++k) {
    out.users.push_back(users.rows[static_cast<std::size_t>(from.users[k])]);
    out.items.push_back(items.rows[static_cast<std::size_t>(from.items[k])]);
  }
  out.ratings = from.ratings;
  out.timestamps = from.timestamps;
  out.weights = from.weights;
  out.context = from.context;
  return out;
}

// Users mode: a training pair on an item the saved model lacks cannot be
// trained (its item side is kept as it is).
void check_items_known(const Dataset& data, const VocabularyMerge& items,
                       const std::string& init_name) {
  std::int64_t unknown = 0;
  std::int32_t first = 0;
  std::vector<char> counted(static_cast<std::size_t>(data.items.size()), 0);
  for (auto i : data.interactions.items) {
    if (items.rows[static_cast<std::size_t>(i)] >= 0 || counted[static_cast<std::size_t>(i)]) {
      continue;
    }
    counted[static_cast<std::size_t>(i)] = 1;
    if (unknown++ == 0) first = i;
  }
  if (unknown == 0) return;
  throw Error(ErrorKind::InvalidArgument,
              fmt::format("update users keeps the item side of {}, and {} item{} of the data "
                          "{} not in it (first: \"{}\"); update all to add them",
                          init_name, unknown, unknown == 1 ? "" : "s", unknown == 1 ? "is" : "are",
                          printable_id(data.items.id(first))));
}

std::vector<std::string> merged_titles(const ModelData& saved, const Dataset& data,
                                       const VocabularyMerge& items) {
  if (saved.item_titles.empty() && data.item_titles.empty()) return {};
  std::vector<std::string> titles(static_cast<std::size_t>(items.merged.size()));
  for (std::size_t r = 0; r < saved.item_titles.size() && r < titles.size(); ++r) {
    titles[r] = saved.item_titles[r];
  }
  for (std::size_t r = 1; r < data.item_titles.size(); ++r) {
    const std::int32_t to = items.rows[r];
    if (to > 0 && !data.item_titles[r].empty())
      titles[static_cast<std::size_t>(to)] = data.item_titles[r];
  }
  return titles;
}

Interactions seen_pairs(const ModelData& saved, std::int32_t num_users, std::int32_t num_items) {
  Interactions out;
  out.num_users = num_users;
  out.num_items = num_items;
  const CsrMatrix& seen = saved.seen;
  out.users.reserve(static_cast<std::size_t>(seen.nnz()));
  for (std::int32_t u = 0; u < seen.rows(); ++u) {
    for (auto i : seen.row(u)) {
      out.users.push_back(u);
      out.items.push_back(i);
    }
  }
  out.weights = saved.seen_weights;
  return out;
}

}  // namespace

WarmStartData warm_start_data(const ModelData& saved, const Dataset& data, const Split* split,
                              WarmUpdate update, const std::string& init_name) {
  const bool extend_items = update == WarmUpdate::All;
  const VocabularyMerge users = merge_vocabularies(saved.users, data.users);
  const VocabularyMerge items = merge_vocabularies(saved.items, data.items, extend_items);
  if (!extend_items) check_items_known(data, items, init_name);

  // Field by field, not a copy of `data` then renumbered: a copy would hold
  // the pairs twice. A field Dataset gains must be carried here too.
  WarmStartData out;
  out.data.users = users.merged;
  out.data.items = items.merged;
  out.data.interactions = renumbered(data.interactions, users, items);
  out.data.seen_only = renumbered(data.seen_only, users, items);
  out.data.item_titles = merged_titles(saved, data, items);
  out.data.format = data.format;
  out.data.rows_read = data.rows_read;
  out.data.description = data.description;
  if (split != nullptr) {
    out.split =
        Split{renumbered(split->train, users, items), renumbered(split->test, users, items)};
  }
  out.saved_seen = seen_pairs(saved, users.merged.size(), items.merged.size());
  out.new_users = users.merged.num_known() - saved.users.num_known();
  out.new_items = items.merged.num_known() - saved.items.num_known();
  return out;
}

}  // namespace latent
