#include <latent/split.hpp>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <latent/atomic_output.hpp>
#include <latent/error.hpp>
#include <latent/random.hpp>

#include "detail/atomic_file.hpp"
#include "detail/csv.hpp"

namespace latent {

namespace fs = std::filesystem;

namespace {

// The columns of a pairs file that are not context columns.
constexpr std::array<std::string_view, 5> kPairColumns = {"user", "item", "rating", "weight",
                                                          "timestamp"};

// Positions of `x` grouped by user row (a stable counting sort, so each
// group lists its positions ascending); group u is
// order[begin[u] .. begin[u + 1]).
struct ByUser {
  std::vector<std::size_t> order;
  std::vector<std::size_t> begin;
};

ByUser group_by_user(const Interactions& x) {
  ByUser g;
  g.begin.assign(static_cast<std::size_t>(x.num_users) + 1, 0);
  for (const std::int32_t u : x.users) ++g.begin[static_cast<std::size_t>(u) + 1];
  for (std::size_t u = 1; u < g.begin.size(); ++u) g.begin[u] += g.begin[u - 1];
  std::vector<std::size_t> fill(g.begin.begin(), g.begin.end() - 1);
  g.order.resize(x.size());
  for (std::size_t e = 0; e < x.size(); ++e) {
    g.order[fill[static_cast<std::size_t>(x.users[e])]++] = e;
  }
  return g;
}

Split partition(const Interactions& all, const std::vector<char>& to_test) {
  std::vector<std::size_t> train, test;
  train.reserve(all.size());
  for (std::size_t e = 0; e < all.size(); ++e) (to_test[e] != 0 ? test : train).push_back(e);
  Split split;
  split.train = all.select(train);
  split.test = all.select(test);
  return split;
}

// ---- CSV -------------------------------------------------------------------

constexpr std::string_view kTrainFile = "train.csv";
constexpr std::string_view kTestFile = "test.csv";

// RFC 4180: quote fields with a delimiter, quote or line break; also edge
// whitespace and the empty field, which other readers trim or drop.
void append_field(std::string& out, std::string_view field) {
  const bool quote = field.empty() || field.find_first_of(",\"\r\n") != std::string_view::npos ||
                     field.front() == ' ' || field.front() == '\t' || field.back() == ' ' ||
                     field.back() == '\t';
  if (!quote) {
    out.append(field);
    return;
  }
  out.push_back('"');
  for (const char c : field) {
    if (c == '"') out.push_back('"');
    out.push_back(c);
  }
  out.push_back('"');
}

// Everything that would stop a side from being written with raw ids.
void check_writable(const Interactions& x, std::string_view name, const Vocabulary& users,
                    const Vocabulary& items) {
  if (x.num_users != users.size() || x.num_items != items.size()) {
    throw Error(ErrorKind::InvalidArgument,
                fmt::format("write_split: {} has {} user rows and {} item rows, but the "
                            "vocabularies have {} and {}",
                            name, x.num_users, x.num_items, users.size(), items.size()));
  }
  check_interactions(x, fmt::format("write_split: {}", name));
  for (const ContextColumn& c : x.context) {
    if (c.name.empty() ||
        std::find(kPairColumns.begin(), kPairColumns.end(), c.name) != kPairColumns.end()) {
      throw Error(ErrorKind::InvalidArgument,
                  fmt::format("write_split: {}: a context column cannot be named \"{}\" (the "
                              "file's columns are {} and the context's)",
                              name, c.name, fmt::join(kPairColumns, ", ")));
    }
  }
  for (std::size_t e = 0; e < x.size(); ++e) {
    if (x.users[e] == Vocabulary::kOov || x.items[e] == Vocabulary::kOov) {
      throw Error(ErrorKind::InvalidArgument,
                  fmt::format("write_split: {}: interaction {} has the OOV {} row 0, which has "
                              "no raw id to write",
                              name, e, x.users[e] == Vocabulary::kOov ? "user" : "item"));
    }
  }
}

void write_side(const fs::path& path, const Interactions& x, const Vocabulary& users,
                const Vocabulary& items) {
  std::string text = "user,item";
  if (!x.ratings.empty()) text += ",rating";
  if (!x.weights.empty()) text += ",weight";
  if (!x.timestamps.empty()) text += ",timestamp";
  for (const ContextColumn& c : x.context) {
    text += ',';
    append_field(text, c.name);
  }
  text += '\n';
  auto out = std::back_inserter(text);
  for (std::size_t e = 0; e < x.size(); ++e) {
    append_field(text, users.id(x.users[e]));
    text += ',';
    append_field(text, items.id(x.items[e]));
    // fmt's "{}" is the shortest text that parses back to the same float.
    if (!x.ratings.empty()) fmt::format_to(out, ",{}", x.ratings[e]);
    if (!x.weights.empty()) fmt::format_to(out, ",{}", x.weights[e]);
    if (!x.timestamps.empty()) fmt::format_to(out, ",{}", x.timestamps[e]);
    for (const ContextColumn& c : x.context) {
      text += ',';
      append_field(text, c.values[e]);
    }
    text += '\n';
  }
  detail::AtomicFile file(path);
  file.write(text);
  file.commit();
}

std::int32_t parse_id(const detail::CsvTable& table, const detail::CsvColumn& column,
                      const Vocabulary& vocabulary, std::string_view role) {
  const std::string_view id = table.field(column);
  if (const auto row = vocabulary.find(id)) return *row;
  throw table.error(ErrorKind::NotFound,
                    fmt::format("unknown {} id \"{}\" (not among the {} ids of the {} vocabulary)",
                                role, id, vocabulary.num_known(), role));
}

}  // namespace

Interactions read_pairs(const fs::path& path, const Vocabulary& users, const Vocabulary& items) {
  static constexpr std::array<std::string_view, 1> kRating = {"rating"};
  static constexpr std::array<std::string_view, 1> kWeight = {"weight"};
  static constexpr std::array<std::string_view, 1> kTimestamp = {"timestamp"};

  detail::CsvTable table(detail::CsvReader::open(path, {',', true}), true);
  const detail::CsvColumn user_col = table.column("user", "user");
  const detail::CsvColumn item_col = table.column("item", "item");
  const auto rating_col = table.find_column(kRating);
  const auto weight_col = table.find_column(kWeight);
  const auto timestamp_col = table.find_column(kTimestamp);

  Interactions x;
  x.num_users = users.size();
  x.num_items = items.size();
  // Every other column is the pairs' context (write_split's are).
  std::vector<detail::CsvColumn> context_cols;
  const detail::CsvLayout layout = table.layout();
  for (std::size_t i = 0; i < layout.header.size(); ++i) {
    const std::string& name = layout.header[i];
    if (std::find(kPairColumns.begin(), kPairColumns.end(), name) != kPairColumns.end()) continue;
    context_cols.push_back(table.column(i, "context"));
    x.context.push_back({name, {}});
  }
  while (table.next()) {
    x.users.push_back(parse_id(table, user_col, users, "user"));
    x.items.push_back(parse_id(table, item_col, items, "item"));
    if (rating_col)
      x.ratings.push_back(detail::number_field<float>(table, *rating_col, "rating", "a number"));
    if (weight_col) {
      const float weight = detail::number_field<float>(table, *weight_col, "weight", "a number");
      if (weight < 0) {
        throw table.error(ErrorKind::Corruption,
                          fmt::format("weight {} is negative ({})", weight, weight_col->label));
      }
      x.weights.push_back(weight);
    }
    if (timestamp_col) {
      x.timestamps.push_back(
          detail::number_field<std::int64_t>(table, *timestamp_col, "timestamp", "an integer"));
    }
    for (std::size_t c = 0; c < context_cols.size(); ++c) {
      x.context[c].values.emplace_back(table.field(context_cols[c]));
    }
  }
  return x;
}

Split per_user_split(const Interactions& all, double fraction, std::uint64_t seed, int min_items) {
  if (!(fraction > 0.0 && fraction < 1.0)) {
    throw Error(ErrorKind::InvalidArgument,
                fmt::format("per_user_split: test fraction {} is outside (0, 1)", fraction));
  }
  if (min_items < 1) {
    throw Error(ErrorKind::InvalidArgument,
                fmt::format("per_user_split: min_items must be >= 1, got {}", min_items));
  }
  check_interactions(all, "per_user_split");

  ByUser g = group_by_user(all);
  std::vector<char> to_test(all.size(), 0);
  std::vector<std::size_t> run_begin;  // start of each distinct item's run, plus the end
  std::vector<std::size_t> pick;
  for (std::int32_t u = 0; u < all.num_users; ++u) {
    const auto b =
        g.order.begin() + static_cast<std::ptrdiff_t>(g.begin[static_cast<std::size_t>(u)]);
    const auto e =
        g.order.begin() + static_cast<std::ptrdiff_t>(g.begin[static_cast<std::size_t>(u) + 1]);
    if (b == e) continue;
    // Sorting by item makes the choice independent of the input order.
    std::stable_sort(b, e,
                     [&](std::size_t p, std::size_t q) { return all.items[p] < all.items[q]; });
    run_begin.clear();
    for (auto it = b; it != e; ++it) {
      if (it == b || all.items[*it] != all.items[*(it - 1)]) {
        run_begin.push_back(static_cast<std::size_t>(it - g.order.begin()));
      }
    }
    const std::size_t distinct = run_begin.size();
    run_begin.push_back(static_cast<std::size_t>(e - g.order.begin()));
    if (distinct < static_cast<std::size_t>(min_items)) continue;
    const auto rounded =
        static_cast<std::size_t>(std::llround(fraction * static_cast<double>(distinct)));
    const std::size_t n_test = std::min(rounded, distinct - 1);
    if (n_test == 0) continue;
    // A partial Fisher-Yates shuffle on the user's own stream: the first
    // n_test slots are a uniform sample of the distinct items.
    Rng rng = Rng::stream(seed, static_cast<std::uint64_t>(u));
    pick.resize(distinct);
    for (std::size_t i = 0; i < distinct; ++i) pick[i] = i;
    for (std::size_t i = 0; i < n_test; ++i) {
      std::swap(pick[i], pick[i + rng.below(distinct - i)]);
    }
    for (std::size_t i = 0; i < n_test; ++i) {
      for (std::size_t k = run_begin[pick[i]]; k < run_begin[pick[i] + 1]; ++k) {
        to_test[g.order[k]] = 1;
      }
    }
  }
  return partition(all, to_test);
}

Split leave_last_k_split(const Interactions& all, int k) {
  if (k <= 0) {
    throw Error(ErrorKind::InvalidArgument,
                fmt::format("leave_last_k_split: k must be positive, got k = {}", k));
  }
  if (all.timestamps.empty()) {
    throw Error(ErrorKind::InvalidArgument,
                fmt::format("leave_last_k_split: the {} interactions have no timestamps; a "
                            "split by time needs a timestamp column",
                            all.size()));
  }
  check_interactions(all, "leave_last_k_split");

  ByUser g = group_by_user(all);
  std::vector<char> to_test(all.size(), 0);
  const auto kk = static_cast<std::size_t>(k);
  for (std::int32_t u = 0; u < all.num_users; ++u) {
    const std::size_t first = g.begin[static_cast<std::size_t>(u)];
    const std::size_t last = g.begin[static_cast<std::size_t>(u) + 1];
    if (last - first <= kk) continue;
    const auto b = g.order.begin() + static_cast<std::ptrdiff_t>(first);
    const auto e = g.order.begin() + static_cast<std::ptrdiff_t>(last);
    // Stable on input order, so of equal timestamps the later entry is later.
    std::stable_sort(
        b, e, [&](std::size_t p, std::size_t q) { return all.timestamps[p] < all.timestamps[q]; });
    for (auto it = e - static_cast<std::ptrdiff_t>(kk); it != e; ++it) to_test[*it] = 1;
  }
  return partition(all, to_test);
}

void require_train_for_test_users(const Split& split, const Vocabulary& users) {
  check_interactions(split.train, "split train");
  check_interactions(split.test, "split test");
  const std::int32_t rows = std::max(split.train.num_users, split.test.num_users);
  std::vector<char> has_train(static_cast<std::size_t>(rows), 0);
  for (const std::int32_t u : split.train.users) has_train[static_cast<std::size_t>(u)] = 1;

  std::optional<std::int32_t> first;
  std::size_t first_count = 0;
  std::vector<char> counted(static_cast<std::size_t>(rows), 0);
  std::size_t missing_users = 0;
  for (const std::int32_t u : split.test.users) {
    const auto r = static_cast<std::size_t>(u);
    if (has_train[r] != 0) continue;
    if (!first) first = u;
    if (u == *first) ++first_count;
    if (counted[r] == 0) {
      counted[r] = 1;
      ++missing_users;
    }
  }
  if (!first) return;
  const std::string id =
      *first < users.size() ? fmt::format("\"{}\"", users.id(*first)) : std::string("(unknown)");
  throw Error(ErrorKind::InvalidArgument,
              fmt::format("user {} (row {}) has {} test interaction{} and no training "
                          "interactions ({} such user{} in all); a split must leave every test "
                          "user at least one training item",
                          id, *first, first_count, first_count == 1 ? "" : "s", missing_users,
                          missing_users == 1 ? "" : "s"));
}

void write_split(const fs::path& dir, const Split& split, const Vocabulary& users,
                 const Vocabulary& items) {
  // Validate both sides before writing either, so a bad test side does not
  // leave a fresh train.csv beside a stale test.csv.
  check_writable(split.train, kTrainFile, users, items);
  check_writable(split.test, kTestFile, users, items);
  OutputDirectory out(dir);
  write_side(dir / kTrainFile, split.train, users, items);
  write_side(dir / kTestFile, split.test, users, items);
  out.commit();
}

Split read_split(const fs::path& dir, const Vocabulary& users, const Vocabulary& items) {
  Split split;
  split.train = read_pairs(dir / kTrainFile, users, items);
  split.test = read_pairs(dir / kTestFile, users, items);
  return split;
}

SplitMethod parse_split_method(const std::string& name) {
  if (name == "random") return SplitMethod::Random;
  if (name == "per-user") return SplitMethod::PerUser;
  if (name == "last-k") return SplitMethod::LastK;
  throw Error(ErrorKind::InvalidArgument,
              fmt::format("unknown split \"{}\"; valid: random, per-user, last-k", name));
}

const char* to_string(SplitMethod method) noexcept {
  switch (method) {
    case SplitMethod::Random:
      return "random";
    case SplitMethod::PerUser:
      return "per-user";
    case SplitMethod::LastK:
      return "last-k";
  }
  return "?";
}

Split make_split(const Interactions& all, const SplitSpec& spec, const Vocabulary& users) {
  Split split;
  switch (spec.method) {
    case SplitMethod::Random:
      split = random_split(all, spec.fraction, spec.seed);
      break;
    case SplitMethod::PerUser:
      split = per_user_split(all, spec.fraction, spec.seed);
      break;
    case SplitMethod::LastK:
      split = leave_last_k_split(all, spec.k);
      break;
  }
  require_train_for_test_users(split, users);
  return split;
}

}  // namespace latent
