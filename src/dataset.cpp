#include <latent/dataset.hpp>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <functional>
#include <limits>
#include <memory>
#include <numeric>
#include <span>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include <fmt/format.h>

#include <latent/collective_vocabulary.hpp>
#include <latent/error.hpp>

#include <glob.h>

#include "detail/csv.hpp"
#include "detail/interaction_files.hpp"
#include "detail/raw_interactions.hpp"
#include "detail/user_lines.hpp"
#include "detail/utf8.hpp"

namespace latent {

namespace fs = std::filesystem;
using detail::CsvColumn;
using detail::CsvOptions;
using detail::CsvReader;
using detail::CsvTable;
using detail::IdCodes;
using detail::number_field;
using detail::RawInteractions;
using detail::require_rows;
using detail::trim_blanks;
using detail::UserLinesReader;

namespace {

struct DefaultColumns {
  std::string_view role;
  std::span<const std::string_view> names;
};
constexpr std::string_view kUserNames[] = {"user_id", "userId", "user"};
constexpr std::string_view kItemNames[] = {"item_id", "movieId", "movie_id", "item"};
constexpr std::string_view kRatingNames[] = {"rating"};
constexpr std::string_view kTimestampNames[] = {"timestamp"};
constexpr std::string_view kWeightNames[] = {"weight"};
constexpr std::string_view kTitleNames[] = {"title", "movie_title", "name"};
constexpr std::string_view kRoles[] = {"user", "item", "rating", "timestamp", "weight", "title"};
constexpr DefaultColumns kDefaultColumns[] = {
    {"user", kUserNames},           {"item", kItemNames},     {"rating", kRatingNames},
    {"timestamp", kTimestampNames}, {"weight", kWeightNames}, {"title", kTitleNames}};

}  // namespace

std::span<const std::string_view> column_roles() { return kRoles; }

std::span<const std::string_view> default_column_names(std::string_view role) {
  for (const auto& d : kDefaultColumns) {
    if (d.role == role) return d.names;
  }
  throw Error(ErrorKind::InvalidArgument,
              fmt::format("unknown column role \"{}\"; valid: {}", role, fmt::join(kRoles, ", ")));
}

namespace {

constexpr std::array<std::pair<DataFormat, const char*>, 5> kFormatNames = {{
    {DataFormat::Auto, "auto"},
    {DataFormat::MovieLens100K, "ml-100k"},
    {DataFormat::MovieLensLatest, "ml-latest"},
    {DataFormat::Csv, "csv"},
    {DataFormat::UserLines, "user-lines"},
}};
constexpr std::array<std::pair<ItemKey, const char*>, 2> kItemKeyNames = {{
    {ItemKey::Id, "id"},
    {ItemKey::Title, "title"},
}};

template <typename Enum, std::size_t N>
Enum parse_name(const std::array<std::pair<Enum, const char*>, N>& names, const std::string& name,
                std::string_view what) {
  for (const auto& [value, text] : names) {
    if (name == text) return value;
  }
  std::vector<std::string_view> valid;
  valid.reserve(N);
  for (const auto& entry : names) valid.emplace_back(entry.second);
  throw Error(ErrorKind::InvalidArgument,
              fmt::format("unknown {} \"{}\" (valid: {})", what, name, fmt::join(valid, ", ")));
}

template <typename Enum, std::size_t N>
const char* name_of(const std::array<std::pair<Enum, const char*>, N>& names, Enum value) {
  for (const auto& [v, text] : names) {
    if (v == value) return text;
  }
  return "?";
}

// ---- Text encodings --------------------------------------------------------

enum class TextEncoding {
  Utf8,    // invalid UTF-8 is taken to be Latin-1, the usual culprit
  Latin1,  // u.item
};

// Titles end up in JSON and Python strings, which must be valid UTF-8.
std::string to_utf8(std::string_view s, TextEncoding encoding) {
  if (encoding == TextEncoding::Utf8 && detail::first_invalid_utf8(s) == std::string_view::npos)
    return std::string(s);
  return detail::latin1_to_utf8(s);
}

// ---- What to read ----------------------------------------------------------

struct TableSource {
  fs::path path;
  CsvOptions csv;
  bool header = true;
};

struct InteractionSource {
  TableSource table;
  // Column references as in LoadOptions; empty means the default.
  std::string user_col, item_col, rating_col, timestamp_col, weight_col;
};

struct CatalogSource {
  TableSource table;
  std::string id_col, title_col;  // empty means the default
  TextEncoding encoding = TextEncoding::Utf8;
};

struct Plan {
  DataFormat format = DataFormat::Auto;
  InteractionSource interactions;
  std::optional<CatalogSource> catalog;
};

// Whether `path` is a glob pattern (data_files).
bool is_glob(std::string_view path) { return path.find_first_of("*?[") != std::string_view::npos; }

DataFormat detect_format(const fs::path& data) {
  std::error_code ec;
  if (!fs::is_directory(data, ec)) return DataFormat::Csv;
  if (fs::exists(data / "u.data", ec)) return DataFormat::MovieLens100K;
  if (fs::exists(data / "ratings.csv", ec)) return DataFormat::MovieLensLatest;
  throw Error(ErrorKind::NotFound,
              fmt::format("{}: a directory with neither u.data (ml-100k) nor ratings.csv "
                          "(ml-latest); give a CSV/TSV file or one of those directories",
                          data.string()));
}

// '\t' for the extensions that always mean tab-separated, else sniffed.
char default_delimiter(const fs::path& file) {
  const auto ext = file.extension();
  return ext == ".tsv" || ext == ".data" ? '\t' : 0;
}

// The item metadata file of a CSV or user-lines data set, if one was given.
std::optional<CatalogSource> items_file_catalog(const LoadOptions& options) {
  if (options.items_file.empty()) return std::nullopt;
  return CatalogSource{{options.items_file, {default_delimiter(options.items_file), true}, true},
                       options.items_id_col,
                       options.items_title_col};
}

// A user-lines file has no columns, ratings or delimiter: an option that
// names one would be silently ignored, so it is refused.
void check_user_lines_options(const LoadOptions& options) {
  const std::pair<const std::string*, const char*> columns[] = {
      {&options.user_col, "user"},
      {&options.item_col, "item"},
      {&options.rating_col, "rating"},
      {&options.timestamp_col, "timestamp"},
      {&options.weight_col, "weight"}};
  const auto refuse = [&](const std::string& what) {
    return Error(ErrorKind::InvalidArgument,
                 fmt::format("{}: {}, and a user-lines file (\"user item item ...\") has none",
                             options.data.string(), what));
  };
  for (const auto& [ref, role] : columns) {
    if (!ref->empty()) throw refuse(fmt::format("the {} column \"{}\" was named", role, *ref));
  }
  if (!options.context_cols.empty()) {
    throw refuse(fmt::format("the context column \"{}\" was named", options.context_cols.front()));
  }
  if (options.delimiter != 0) {
    throw refuse("a delimiter was given (its ids are separated by spaces and tabs)");
  }
  if (options.rating_above) {
    throw refuse(fmt::format("filtering on rating > {} needs ratings", *options.rating_above));
  }
}

Plan make_plan(const LoadOptions& options) {
  std::error_code ec;
  if (!is_glob(options.data.string()) && !fs::exists(options.data, ec)) {
    throw Error(ErrorKind::NotFound,
                fmt::format("{}: no such file or directory", options.data.string()));
  }
  Plan plan;
  plan.format = options.format == DataFormat::Auto ? detect_format(options.data) : options.format;
  const fs::path& dir = options.data;
  switch (plan.format) {
    case DataFormat::MovieLens100K:
      // u.data and u.item are headerless and never quote; u.item is Latin-1.
      plan.interactions = {{dir / "u.data", {'\t', true}, false}, "0", "1", "2", "3", ""};
      plan.catalog =
          CatalogSource{{dir / "u.item", {'|', false}, false}, "0", "1", TextEncoding::Latin1};
      break;
    case DataFormat::MovieLensLatest:
      plan.interactions = {
          {dir / "ratings.csv", {',', true}, true}, "userId", "movieId", "rating", "timestamp", ""};
      plan.catalog = CatalogSource{{dir / "movies.csv", {',', true}, true}, "movieId", "title"};
      break;
    case DataFormat::Csv:
    case DataFormat::Auto: {
      const char delimiter =
          options.delimiter != 0 ? options.delimiter : default_delimiter(options.data);
      plan.format = DataFormat::Csv;
      plan.interactions = {{options.data, {delimiter, true}, options.header},
                           options.user_col,
                           options.item_col,
                           options.rating_col,
                           options.timestamp_col,
                           options.weight_col};
      plan.catalog = items_file_catalog(options);
      break;
    }
    case DataFormat::UserLines:
      check_user_lines_options(options);
      plan.interactions = {{options.data, {}, false}, "", "", "", "", ""};
      plan.catalog = items_file_catalog(options);
      break;
  }
  if (options.item_key == ItemKey::Title && !plan.catalog) {
    throw Error(ErrorKind::InvalidArgument,
                fmt::format("items by title need item metadata, and {} has none: set "
                            "items_file or use items by id",
                            options.data.string()));
  }
  return plan;
}

// "csv at ratings.csv (rating > 3)"; with a test file, "... at train.csv
// with test file test.csv (...)".
std::string describe(const LoadOptions& options, DataFormat format,
                     const fs::path& test_file = {}) {
  std::vector<std::string> notes;
  if (options.rating_above) notes.push_back(fmt::format("rating > {}", *options.rating_above));
  if (options.item_key == ItemKey::Title) notes.emplace_back("items by title");
  std::string text = fmt::format("{} at {}", to_string(format), options.data.string());
  if (!test_file.empty()) text += fmt::format(" with test file {}", test_file.string());
  if (!notes.empty()) text += fmt::format(" ({})", fmt::join(notes, ", "));
  return text;
}

// ---- Field parsing ---------------------------------------------------------

// ---- Interactions ----------------------------------------------------------

// A user or item id of a user-lines file, checked as id_field checks a
// CSV field.
std::string_view user_lines_id(const UserLinesReader& reader, std::string_view id,
                               std::string_view role) {
  if (const std::string problem = id_problem(id); !problem.empty()) {
    throw reader.error_at(reader.line(), ErrorKind::Corruption,
                          fmt::format("{} id \"{}\" {}", role, printable_id(id), problem));
  }
  return id;
}

// Appends the file's pairs to `raw`: one row per distinct (user, item) of
// the file, in file order; rows_read counts every listed item.
void read_user_lines(UserLinesReader& reader, RawInteractions& raw) {
  const std::size_t rows_before = raw.rows_read;
  const std::size_t kept_before = raw.kept.size();
  // A user's items across all of its lines, by (user code, item code).
  std::unordered_set<std::uint64_t> pairs;
  std::vector<std::string_view> tokens;
  while (reader.next(tokens)) {
    const std::size_t line = reader.line();
    const std::string_view user_id = user_lines_id(reader, tokens[0], "user");
    // A user with no items has no interaction to read: NGCF's loader skips
    // such lines too.
    if (tokens.size() == 1) continue;
    const std::int32_t user = raw.users.code(user_id, line);
    for (std::size_t t = 1; t < tokens.size(); ++t) {
      ++raw.rows_read;
      const std::int32_t item = raw.items.code(user_lines_id(reader, tokens[t], "item"), line);
      const auto key = (static_cast<std::uint64_t>(user) << 32) | static_cast<std::uint32_t>(item);
      if (!pairs.insert(key).second) continue;
      raw.kept.users.push_back(user);
      raw.kept.items.push_back(item);
    }
  }
  require_rows(raw.rows_read - rows_before, raw.kept.size() - kept_before, reader.path().string(),
               std::nullopt, ErrorKind::Corruption);
}

// NotFound for a file that does not exist.
void require_file(const fs::path& file) {
  std::error_code ec;
  if (!fs::exists(file, ec)) {
    throw Error(ErrorKind::NotFound, fmt::format("{}: no such file", file.string()));
  }
}

// data_files(data), each checked to exist: what an input will read, known
// before anything slow is done.
std::vector<fs::path> input_files(const fs::path& data) {
  std::vector<fs::path> files = data_files(data);
  for (const fs::path& file : files) require_file(file);
  return files;
}

// Reads an input (a CSV/TSV file, the files of a glob pattern: `input`, as
// input_files made it; or a user-lines file) into `raw`, numbering its files
// after those already in `files` (the list that messages index by
// IdCodes::first_file). `data` names it in messages.
void read_input(const Plan& plan, const fs::path& data, std::vector<fs::path> input,
                const CsvOptions& csv, const LoadOptions& options, RawInteractions& raw,
                std::vector<fs::path>& files) {
  const auto number = static_cast<std::uint32_t>(files.size());
  if (plan.format == DataFormat::UserLines) {
    UserLinesReader reader = UserLinesReader::open(data);
    files.push_back(data);
    raw.users.set_file(number);
    raw.items.set_file(number);
    read_user_lines(reader, raw);
    return;
  }
  const InteractionSource& source = plan.interactions;
  detail::InteractionFiles in;
  in.files = std::move(input);
  in.csv = csv;
  in.header = source.table.header;
  in.user_col = source.user_col;
  in.item_col = source.item_col;
  in.rating_col = source.rating_col;
  in.timestamp_col = source.timestamp_col;
  in.weight_col = source.weight_col;
  in.context_cols = options.context_cols;
  in.rating_above = options.rating_above;
  in.source = data.string();
  in.threads = options.threads;
  in.chunk_bytes = options.chunk_bytes;
  in.file_number = number;
  files.insert(files.end(), in.files.begin(), in.files.end());
  detail::read_interaction_files(in, raw);
}

// A vocabulary and the row of every IdCodes code in it (kOov for codes no
// kept row uses).
struct CodeRows {
  Vocabulary vocabulary;
  std::vector<std::int32_t> row_of_code;
  std::vector<std::string> titles;  // by row, when item metadata was joined
};

CodeRows vocabulary_of_used(const IdCodes& ids, std::span<const std::int32_t> codes) {
  std::vector<bool> used(ids.size());
  for (const std::int32_t c : codes) used[static_cast<std::size_t>(c)] = true;
  std::vector<std::string> strings;
  for (std::size_t c = 0; c < used.size(); ++c) {
    if (used[c]) strings.emplace_back(ids.id(static_cast<std::int32_t>(c)));
  }
  CodeRows out;
  out.vocabulary = Vocabulary::from_ids(std::move(strings));
  out.row_of_code.resize(ids.size());
  for (std::size_t c = 0; c < used.size(); ++c) {
    if (used[c]) out.row_of_code[c] = out.vocabulary.lookup(ids.id(static_cast<std::int32_t>(c)));
  }
  return out;
}

// ---- Item catalog ----------------------------------------------------------

struct Catalog {
  Vocabulary ids;
  std::vector<std::string> titles;  // by row of ids; [0] empty (OOV)
};

// The catalog of parallel ids and titles; duplicate(i, first, id) is the
// error for ids[i] repeating ids[first].
using DuplicateError =
    std::function<Error(std::size_t i, std::size_t first, const std::string& id)>;
Catalog build_catalog(std::vector<std::string> ids, std::vector<std::string> titles,
                      const DuplicateError& duplicate) {
  constexpr std::size_t kUnset = std::numeric_limits<std::size_t>::max();
  Catalog catalog{Vocabulary::from_ids(ids), {}};
  catalog.titles.resize(static_cast<std::size_t>(catalog.ids.size()));
  std::vector<std::size_t> first_of_row(catalog.titles.size(), kUnset);
  for (std::size_t i = 0; i < ids.size(); ++i) {
    const auto row = static_cast<std::size_t>(catalog.ids.lookup(ids[i]));
    if (first_of_row[row] != kUnset) throw duplicate(i, first_of_row[row], ids[i]);
    first_of_row[row] = i;
    catalog.titles[row] = std::move(titles[i]);
  }
  return catalog;
}

Catalog read_catalog(const CatalogSource& source, ItemKey key) {
  CsvTable table(CsvReader::open(source.table.path, source.table.csv), source.table.header);
  const CsvColumn id_col = source.id_col.empty() ? table.column(std::size_t{0}, "item id")
                                                 : table.column(source.id_col, "item id");
  const CsvColumn title_col =
      required_column(table, source.title_col, "title", default_column_names("title"), 1);

  std::vector<std::string> ids;
  std::vector<std::string> titles;
  std::vector<std::size_t> lines;
  while (table.next()) {
    ids.emplace_back(id_field(table, id_col, "item"));
    titles.push_back(to_utf8(table.field(title_col), source.encoding));
    if (key == ItemKey::Title && titles.back().empty()) {
      throw table.error(ErrorKind::Corruption,
                        fmt::format("empty title for item \"{}\" ({}), and items are keyed by "
                                    "title",
                                    ids.back(), title_col.label));
    }
    lines.push_back(table.line());
  }
  if (ids.empty()) {
    throw Error(ErrorKind::Corruption, fmt::format("{}: no item rows", source.table.path.string()));
  }
  return build_catalog(
      std::move(ids), std::move(titles),
      [&](std::size_t i, std::size_t first, const std::string& id) {
        return table.reader().error_at(
            lines[i], ErrorKind::Corruption,
            fmt::format("duplicate item id \"{}\" (first on line {})", id, lines[first]));
      });
}

// Item rows keyed by the catalog: every catalog item (id or distinct title)
// is in the vocabulary, and every interaction item must be in the catalog.
// not_in_catalog(code) is the error for an interaction item missing from it.
CodeRows vocabulary_of_catalog(Catalog catalog, ItemKey key, const IdCodes& items,
                               const std::function<Error(std::int32_t code)>& not_in_catalog) {
  std::vector<std::int32_t> row_of_catalog_row(catalog.titles.size());
  CodeRows out;
  if (key == ItemKey::Title) {
    out.vocabulary = Vocabulary::from_ids({catalog.titles.begin() + 1, catalog.titles.end()});
    for (std::size_t r = 1; r < catalog.titles.size(); ++r) {
      row_of_catalog_row[r] = out.vocabulary.lookup(catalog.titles[r]);
    }
    out.titles.assign(1, std::string());
    out.titles.insert(out.titles.end(), out.vocabulary.ids().begin(), out.vocabulary.ids().end());
  } else {
    for (std::size_t r = 0; r < row_of_catalog_row.size(); ++r) {
      row_of_catalog_row[r] = static_cast<std::int32_t>(r);
    }
  }

  out.row_of_code.resize(items.size());
  for (std::size_t c = 0; c < items.size(); ++c) {
    const auto code = static_cast<std::int32_t>(c);
    const auto row = catalog.ids.find(items.id(code));
    if (!row) throw not_in_catalog(code);
    out.row_of_code[c] = row_of_catalog_row[static_cast<std::size_t>(*row)];
  }
  if (key == ItemKey::Id) {
    out.vocabulary = std::move(catalog.ids);
    out.titles = std::move(catalog.titles);
  }
  return out;
}

void codes_to_rows(std::vector<std::int32_t>& codes, const std::vector<std::int32_t>& rows) {
  for (std::int32_t& c : codes) c = rows[static_cast<std::size_t>(c)];
}

// The vocabularies (users from the kept rows, items from the catalog or the
// kept rows) and the kept rows mapped onto them.
void assemble(Dataset& dataset, RawInteractions& raw, std::optional<Catalog> catalog, ItemKey key,
              const std::function<Error(std::int32_t code)>& not_in_catalog) {
  dataset.rows_read = raw.rows_read;
  CodeRows users = vocabulary_of_used(raw.users, raw.kept.users);
  CodeRows items = catalog
                       ? vocabulary_of_catalog(std::move(*catalog), key, raw.items, not_in_catalog)
                       : vocabulary_of_used(raw.items, raw.kept.items);
  dataset.interactions = std::move(raw.kept);
  codes_to_rows(dataset.interactions.users, users.row_of_code);
  codes_to_rows(dataset.interactions.items, items.row_of_code);
  dataset.users = std::move(users.vocabulary);
  dataset.items = std::move(items.vocabulary);
  dataset.item_titles = std::move(items.titles);
  dataset.interactions.num_users = dataset.users.size();
  dataset.interactions.num_items = dataset.items.size();

  // Dropped rows of users or items outside the vocabularies map to OOV (0).
  Interactions& seen = dataset.seen_only;
  seen.num_users = dataset.users.size();
  seen.num_items = dataset.items.size();
  for (std::size_t i = 0; i < raw.dropped.size(); ++i) {
    const std::int32_t user = users.row_of_code[static_cast<std::size_t>(raw.dropped.users[i])];
    const std::int32_t item = items.row_of_code[static_cast<std::size_t>(raw.dropped.items[i])];
    if (user == Vocabulary::kOov || item == Vocabulary::kOov) continue;
    seen.users.push_back(user);
    seen.items.push_back(item);
  }
}

// ---- In-memory columns -----------------------------------------------------

// Checks the columns' lengths and the options against each other, before
// any row is read.
void check_columns(const ColumnData& c) {
  const std::size_t n = c.users.size();
  const auto check_length = [&](std::size_t size, const std::string& column) {
    if (size != 0 && size != n) {
      throw Error(ErrorKind::InvalidArgument,
                  fmt::format("{}: column \"{}\" has {} values for {} rows (column \"{}\")",
                              c.source, column, size, n, c.user_name));
    }
  };
  if (c.items.size() != n) {
    throw Error(ErrorKind::InvalidArgument,
                fmt::format("{}: {} item ids (column \"{}\") for {} user ids (column \"{}\")",
                            c.source, c.items.size(), c.item_name, n, c.user_name));
  }
  check_length(c.ratings.size(), c.rating_name);
  check_length(c.timestamps.size(), c.timestamp_name);
  check_length(c.weights.size(), c.weight_name);
  for (const ContextColumn& column : c.context) {
    if (column.values.size() != n) {
      throw Error(ErrorKind::InvalidArgument,
                  fmt::format("{}: column \"{}\" has {} values for {} rows (column \"{}\")",
                              c.source, column.name, column.values.size(), n, c.user_name));
    }
  }
  if (n == 0) throw Error(ErrorKind::InvalidArgument, fmt::format("{}: no rows", c.source));
  if (c.rating_above) {
    if (!std::isfinite(*c.rating_above)) {
      throw Error(ErrorKind::InvalidArgument,
                  fmt::format("rating_above must be a finite number, got {}", *c.rating_above));
    }
    if (c.ratings.empty()) {
      throw Error(ErrorKind::InvalidArgument,
                  fmt::format("{}: filtering on rating > {} needs ratings, and no rating column "
                              "was given",
                              c.source, *c.rating_above));
    }
  }
  if (c.catalog_ids.size() != c.catalog_titles.size()) {
    throw Error(ErrorKind::InvalidArgument,
                fmt::format("{}: {} ids for {} titles", c.catalog_source, c.catalog_ids.size(),
                            c.catalog_titles.size()));
  }
  if (c.item_key == ItemKey::Title && c.catalog_ids.empty()) {
    throw Error(ErrorKind::InvalidArgument,
                "items by title need item metadata (ids and titles), and none was given");
  }
}

// The columns' counterpart of read_interactions; a row's "line" is its
// 0-based index, which the errors name.
RawInteractions read_columns(const ColumnData& c) {
  const auto fail = [&](std::size_t row, const std::string& column, const std::string& what) {
    return Error(ErrorKind::InvalidArgument,
                 fmt::format("{}: row {}: {} (column \"{}\")", c.source, row, what, column));
  };
  RawInteractions raw;
  Interactions& kept = raw.kept;
  for (const ContextColumn& column : c.context) kept.context.push_back({column.name, {}});
  for (std::size_t r = 0; r < c.users.size(); ++r) {
    ++raw.rows_read;
    const std::string_view user = trim_blanks(c.users[r]);
    const std::string_view item = trim_blanks(c.items[r]);
    if (user.empty()) throw fail(r, c.user_name, "empty user id");
    if (item.empty()) throw fail(r, c.item_name, "empty item id");
    const std::int32_t item_code = raw.items.code(item, r);
    const double rating = c.ratings.empty() ? 0.0 : c.ratings[r];
    if (!std::isfinite(rating)) {
      throw fail(r, c.rating_name, fmt::format("rating {} is not finite", rating));
    }
    const double weight = c.weights.empty() ? 1.0 : c.weights[r];
    if (!(std::isfinite(weight) && weight >= 0)) {
      throw fail(r, c.weight_name, fmt::format("weight {} is not a finite number >= 0", weight));
    }
    if (c.rating_above && !(rating > *c.rating_above)) {
      raw.dropped.users.push_back(raw.users.code(user, r));
      raw.dropped.items.push_back(item_code);
      continue;
    }
    kept.users.push_back(raw.users.code(user, r));
    kept.items.push_back(item_code);
    if (!c.ratings.empty()) kept.ratings.push_back(static_cast<float>(rating));
    if (!c.timestamps.empty()) kept.timestamps.push_back(c.timestamps[r]);
    if (!c.weights.empty()) kept.weights.push_back(static_cast<float>(weight));
    for (std::size_t k = 0; k < c.context.size(); ++k) {
      kept.context[k].values.emplace_back(trim_blanks(c.context[k].values[r]));
    }
  }
  require_rows(raw.rows_read, raw.kept.size(), c.source, c.rating_above,
               ErrorKind::InvalidArgument);
  return raw;
}

// The catalog of the metadata columns, if any were given.
std::optional<Catalog> catalog_of_columns(const ColumnData& c) {
  if (c.catalog_ids.empty()) return std::nullopt;
  std::vector<std::string> ids;
  ids.reserve(c.catalog_ids.size());
  for (std::size_t i = 0; i < c.catalog_ids.size(); ++i) {
    ids.emplace_back(trim_blanks(c.catalog_ids[i]));
    if (ids.back().empty()) {
      throw Error(ErrorKind::InvalidArgument,
                  fmt::format("{}: row {}: empty item id (column \"{}\")", c.catalog_source, i,
                              c.catalog_id_name));
    }
    if (c.item_key == ItemKey::Title && c.catalog_titles[i].empty()) {
      throw Error(ErrorKind::InvalidArgument,
                  fmt::format("{}: row {}: empty title for item \"{}\" (column \"{}\"), and "
                              "items are keyed by title",
                              c.catalog_source, i, ids.back(), c.catalog_title_name));
    }
  }
  return build_catalog(std::move(ids), c.catalog_titles,
                       [&](std::size_t i, std::size_t first, const std::string& id) {
                         return Error(
                             ErrorKind::InvalidArgument,
                             fmt::format("{}: row {}: duplicate item id \"{}\" (first "
                                         "in row {}, column \"{}\")",
                                         c.catalog_source, i, id, first, c.catalog_id_name));
                       });
}

// ---- Files read together -------------------------------------------------

void check_rating_above(const LoadOptions& options) {
  if (options.rating_above && !std::isfinite(*options.rating_above)) {
    throw Error(ErrorKind::InvalidArgument,
                fmt::format("rating_above must be a finite number, got {}", *options.rating_above));
  }
}

// The error for an item the item metadata lacks, at the line where the item
// was first seen, in the file (files[first_file]) where it was.
std::function<Error(std::int32_t)> not_in_catalog_error(const IdCodes& items,
                                                        const std::vector<fs::path>& files,
                                                        const Plan& plan) {
  return [&items, &files, &plan](std::int32_t code) {
    return detail::line_error(files[items.first_file(code)], items.first_line(code),
                              ErrorKind::NotFound,
                              fmt::format("item id \"{}\" is not in the item metadata file {}",
                                          items.id(code), plan.catalog->table.path.string()));
  };
}

// The rating, timestamp and weight columns are all-or-nothing in
// Interactions: a column only one of the files has cannot be kept.
// train_columns: the sizes of kept's columns after the training file.
void require_same_columns(const fs::path& train, const fs::path& test,
                          const std::array<std::size_t, 3>& train_columns,
                          const Interactions& kept) {
  const std::array<std::size_t, 3> sizes = {kept.ratings.size(), kept.timestamps.size(),
                                            kept.weights.size()};
  constexpr std::array<const char*, 3> kNames = {"rating", "timestamp", "weight"};
  for (std::size_t c = 0; c < sizes.size(); ++c) {
    const bool in_train = train_columns[c] > 0;
    const bool in_test = sizes[c] > train_columns[c];
    if (in_train == in_test) continue;
    const fs::path& with = in_train ? train : test;
    const fs::path& without = in_train ? test : train;
    throw Error(ErrorKind::InvalidArgument,
                fmt::format("{} has a {} column and {} has none: the training and test files "
                            "need the same columns",
                            with.string(), kNames[c], without.string()));
  }
}

// Every user of the test rows (kept rows from train_rows on) has a kept
// training row, or the model knows nothing of them: InvalidArgument naming
// the first one (in test order) and how many there are.
void require_trained_test_users(const RawInteractions& raw, std::size_t train_rows,
                                const std::vector<fs::path>& files, std::uint32_t test_file,
                                std::optional<double> rating_above) {
  const std::vector<std::int32_t>& users = raw.kept.users;
  std::vector<char> trained(raw.users.size(), 0);
  for (std::size_t r = 0; r < train_rows; ++r) trained[static_cast<std::size_t>(users[r])] = 1;
  std::optional<std::int32_t> first;
  std::size_t untrained = 0;
  for (std::size_t r = train_rows; r < users.size(); ++r) {
    char& seen = trained[static_cast<std::size_t>(users[r])];
    if (seen != 0) continue;
    seen = 1;  // counted once
    if (!first) first = users[r];
    ++untrained;
  }
  if (!first) return;
  const std::string how_many =
      fmt::format("{} such test user{} in all; every test user needs training data", untrained,
                  untrained == 1 ? "" : "s");
  const std::string id = printable_id(raw.users.id(*first));
  const fs::path& train = files.front();
  const fs::path& test = files[test_file];
  if (raw.users.first_file(*first) >= test_file) {
    throw detail::line_error(files[raw.users.first_file(*first)], raw.users.first_line(*first),
                             ErrorKind::InvalidArgument,
                             fmt::format("user \"{}\" is not in the training file {} ({})", id,
                                         train.string(), how_many));
  }
  throw Error(ErrorKind::InvalidArgument,
              fmt::format("{}: user \"{}\" has no rows in the training file {} left after "
                          "filtering on rating > {} ({})",
                          test.string(), id, train.string(), rating_above.value_or(0.0), how_many));
}

// The source, and the options that changed what was kept, in parentheses.
std::string describe(const ColumnData& c) {
  std::vector<std::string> notes;
  if (c.rating_above) notes.push_back(fmt::format("rating > {}", *c.rating_above));
  if (c.item_key == ItemKey::Title) notes.emplace_back("items by title");
  std::string description = c.source;
  if (!notes.empty()) description += fmt::format(" ({})", fmt::join(notes, ", "));
  return description;
}

}  // namespace

std::vector<fs::path> data_files(const fs::path& data) {
  const std::string pattern = data.string();
  std::error_code ec;
  // A file whose name holds * ? or [ is itself, not a pattern.
  if (!is_glob(pattern) || fs::exists(data, ec)) return {data};
  glob_t matches{};
  const int rc = ::glob(pattern.c_str(), GLOB_ERR, nullptr, &matches);
  std::vector<fs::path> files;
  if (rc == 0) {
    for (std::size_t i = 0; i < matches.gl_pathc; ++i) files.emplace_back(matches.gl_pathv[i]);
  }
  ::globfree(&matches);
  if (rc == GLOB_NOMATCH || (rc == 0 && files.empty())) {
    throw Error(ErrorKind::NotFound, fmt::format("{}: no file matches this pattern", pattern));
  }
  if (rc != 0) {
    throw Error(ErrorKind::IO, fmt::format("{}: cannot list the files of this pattern "
                                           "(a directory could not be read)",
                                           pattern));
  }
  std::sort(files.begin(), files.end());
  return files;
}

DataFormat parse_data_format(const std::string& name) {
  return parse_name(kFormatNames, name, "data format");
}

const char* to_string(DataFormat format) noexcept { return name_of(kFormatNames, format); }

ItemKey parse_item_key(const std::string& name) {
  return parse_name(kItemKeyNames, name, "item key");
}

const char* to_string(ItemKey key) noexcept { return name_of(kItemKeyNames, key); }

Dataset load_dataset(const LoadOptions& options) {
  check_rating_above(options);
  const Plan plan = make_plan(options);
  const TableSource& source = plan.interactions.table;
  // The catalog is parsed before the interactions: a bad items file fails
  // fast, before the long parse.
  std::vector<fs::path> input = input_files(source.path);
  std::optional<Catalog> catalog;
  if (plan.catalog) catalog = read_catalog(*plan.catalog, options.item_key);
  RawInteractions raw;
  std::vector<fs::path> files;
  read_input(plan, source.path, std::move(input), source.csv, options, raw, files);

  Dataset dataset;
  dataset.format = plan.format;
  dataset.description = describe(options, plan.format);
  assemble(dataset, raw, std::move(catalog), options.item_key,
           not_in_catalog_error(raw.items, files, plan));
  return dataset;
}

namespace {

// The rows of `ids`' codes on `vocabulary`: kOov for an id it lacks.
std::vector<std::int32_t> rows_on(const Vocabulary& vocabulary, const IdCodes& ids) {
  std::vector<std::int32_t> rows(ids.size());
  for (std::size_t c = 0; c < ids.size(); ++c) {
    rows[c] = vocabulary.find(ids.id(static_cast<std::int32_t>(c))).value_or(Vocabulary::kOov);
  }
  return rows;
}

// The vocabulary of the ids every rank's kept rows use (`codes` of `ids`
// here), as one process reading all the rows makes it.
Vocabulary agreed_vocabulary(Communicator& comm, const IdCodes& ids,
                             std::span<const std::int32_t> codes) {
  std::vector<bool> used(ids.size());
  for (const std::int32_t c : codes) used[static_cast<std::size_t>(c)] = true;
  std::vector<std::string> local;
  for (std::size_t c = 0; c < used.size(); ++c) {
    if (used[c]) local.emplace_back(ids.id(static_cast<std::int32_t>(c)));
  }
  return agree_vocabulary(comm, local).vocabulary;
}

// The optional columns (rating, timestamp, weight) of this rank's kept rows
// agree with every other rank's that has kept rows; throws CollectiveError
// naming a file of each otherwise.
void require_same_share_columns(Communicator& comm, const Interactions& kept,
                                const std::string& first_file) {
  std::string mine;
  if (!kept.empty()) {
    mine = fmt::format("{}{}{}{}", kept.ratings.empty() ? '0' : '1',
                       kept.timestamps.empty() ? '0' : '1', kept.weights.empty() ? '0' : '1',
                       first_file);
  }
  const std::vector<std::string> all = comm.allgather(mine);
  const std::string* first = nullptr;
  for (const std::string& other : all) {
    if (other.empty()) continue;
    if (first == nullptr) {
      first = &other;
    } else if (other.compare(0, 3, *first, 0, 3) != 0) {
      const auto columns = [](const std::string& c) {
        std::vector<std::string> names;
        if (c[0] == '1') names.emplace_back("rating");
        if (c[1] == '1') names.emplace_back("timestamp");
        if (c[2] == '1') names.emplace_back("weight");
        return names.empty() ? std::string("none") : fmt::format("{}", fmt::join(names, ", "));
      };
      throw CollectiveError(
          ErrorKind::InvalidArgument,
          fmt::format("part files give different optional columns: {} has {}, "
                      "{} has {}",
                      first->substr(3), columns(*first), other.substr(3), columns(other)));
    }
  }
}

}  // namespace

DatasetShare load_dataset_share(const LoadOptions& options, Communicator& comm) {
  check_rating_above(options);
  const Plan plan = make_plan(options);
  if (plan.format != DataFormat::Csv) {
    throw CollectiveError(ErrorKind::InvalidArgument,
                          fmt::format("{} is read as {}: a distributed run reads CSV/TSV "
                                      "interactions (one file or a glob of part files, each "
                                      "rank its share of the files)",
                                      options.data.string(), to_string(plan.format)));
  }
  const TableSource& source = plan.interactions.table;
  const std::vector<fs::path> all_files = input_files(source.path);
  std::optional<Catalog> catalog;
  if (plan.catalog) catalog = read_catalog(*plan.catalog, options.item_key);

  RawInteractions raw;
  std::vector<fs::path> files;  // numbered as all_files
  detail::InteractionFiles in;
  in.csv = source.csv;
  in.header = source.header;
  in.user_col = plan.interactions.user_col;
  in.item_col = plan.interactions.item_col;
  in.rating_col = plan.interactions.rating_col;
  in.timestamp_col = plan.interactions.timestamp_col;
  in.weight_col = plan.interactions.weight_col;
  in.context_cols = options.context_cols;
  in.rating_above = options.rating_above;
  in.threads = options.threads;
  in.chunk_bytes = options.chunk_bytes;
  in.allow_no_rows = true;
  std::string first_file;
  for (std::size_t f = static_cast<std::size_t>(comm.rank()); f < all_files.size();
       f += static_cast<std::size_t>(comm.size())) {
    // One file at a time, so that each keeps its number in all_files.
    in.files = {all_files[f]};
    in.source = all_files[f].string();
    in.file_number = static_cast<std::uint32_t>(f);
    const std::size_t kept_before = raw.kept.size();
    detail::read_interaction_files(in, raw);
    if (first_file.empty() && raw.kept.size() > kept_before) first_file = all_files[f].string();
  }
  files = all_files;
  raw.kept_per_file.resize(all_files.size(), 0);
  raw.dropped_per_file.resize(all_files.size(), 0);
  require_same_share_columns(comm, raw.kept, first_file);
  std::array<std::int64_t, 2> counts{static_cast<std::int64_t>(raw.rows_read),
                                     static_cast<std::int64_t>(raw.kept.size())};
  comm.allreduce_sum(std::span<std::int64_t>(counts));
  try {
    require_rows(static_cast<std::size_t>(counts[0]), static_cast<std::size_t>(counts[1]),
                 source.path.string(), options.rating_above, ErrorKind::Corruption);
  } catch (const Error& e) {
    throw CollectiveError(e.kind(), e.what());
  }

  DatasetShare share;
  Dataset& dataset = share.data;
  dataset.format = plan.format;
  dataset.description = describe(options, plan.format);
  dataset.rows_read = static_cast<std::size_t>(counts[0]);
  std::vector<std::int32_t> user_rows, item_rows;
  dataset.users = agreed_vocabulary(comm, raw.users, raw.kept.users);
  user_rows = rows_on(dataset.users, raw.users);
  if (catalog) {
    // Every rank reads the whole catalog: the same vocabulary on each.
    CodeRows items = vocabulary_of_catalog(std::move(*catalog), options.item_key, raw.items,
                                           not_in_catalog_error(raw.items, files, plan));
    dataset.items = std::move(items.vocabulary);
    dataset.item_titles = std::move(items.titles);
    item_rows = std::move(items.row_of_code);
  } else {
    dataset.items = agreed_vocabulary(comm, raw.items, raw.kept.items);
    item_rows = rows_on(dataset.items, raw.items);
  }
  Interactions& x = dataset.interactions;
  x.users = std::move(raw.kept.users);
  x.items = std::move(raw.kept.items);
  x.weights = std::move(raw.kept.weights);
  x.ratings = std::move(raw.kept.ratings);
  x.timestamps = std::move(raw.kept.timestamps);
  x.context = std::move(raw.kept.context);
  codes_to_rows(x.users, user_rows);
  codes_to_rows(x.items, item_rows);
  x.num_users = dataset.users.size();
  x.num_items = dataset.items.size();
  share.kept_per_file = std::move(raw.kept_per_file);

  // Dropped rows of users or items outside the vocabularies are left out,
  // as load_dataset leaves them.
  Interactions& seen = dataset.seen_only;
  seen.num_users = x.num_users;
  seen.num_items = x.num_items;
  share.seen_per_file.assign(all_files.size(), 0);
  std::size_t at = 0;
  for (std::size_t f = 0; f < all_files.size(); ++f) {
    for (std::uint64_t k = 0; k < raw.dropped_per_file[f]; ++k, ++at) {
      const std::int32_t user = user_rows[static_cast<std::size_t>(raw.dropped.users[at])];
      const std::int32_t item = item_rows[static_cast<std::size_t>(raw.dropped.items[at])];
      if (user == Vocabulary::kOov || item == Vocabulary::kOov) continue;
      seen.users.push_back(user);
      seen.items.push_back(item);
      ++share.seen_per_file[f];
    }
  }
  return share;
}

TrainTestData load_train_test(const LoadOptions& options, const fs::path& test_file) {
  check_rating_above(options);
  const Plan plan = make_plan(options);
  if (plan.format == DataFormat::MovieLens100K || plan.format == DataFormat::MovieLensLatest) {
    throw Error(ErrorKind::InvalidArgument,
                fmt::format("a test file goes with a training file (csv, user-lines), and {} is "
                            "read as a {} directory: give its interactions file (e.g. u1.base "
                            "with u1.test) as csv",
                            options.data.string(), to_string(plan.format)));
  }
  const TableSource& source = plan.interactions.table;
  CsvOptions test_csv = source.csv;
  if (options.delimiter == 0) test_csv.delimiter = default_delimiter(test_file);
  // A missing file fails before the long parse of the training file.
  std::vector<fs::path> train_input = input_files(source.path);
  std::vector<fs::path> test_input = input_files(test_file);
  std::optional<Catalog> catalog;
  if (plan.catalog) catalog = read_catalog(*plan.catalog, options.item_key);

  RawInteractions raw;
  std::vector<fs::path> files;
  read_input(plan, source.path, std::move(train_input), source.csv, options, raw, files);
  const auto test_number = static_cast<std::uint32_t>(files.size());
  const Interactions& kept = raw.kept;
  const std::size_t train_rows = kept.size();
  const std::array<std::size_t, 3> train_columns = {kept.ratings.size(), kept.timestamps.size(),
                                                    kept.weights.size()};
  // What the test file's rating filter drops is not seen at training time:
  // only the training file's drops become seen_only.
  const std::size_t train_dropped = raw.dropped.size();
  read_input(plan, test_file, std::move(test_input), test_csv, options, raw, files);
  raw.dropped.users.resize(train_dropped);
  raw.dropped.items.resize(train_dropped);
  require_same_columns(source.path, test_file, train_columns, kept);
  require_trained_test_users(raw, train_rows, files, test_number, options.rating_above);

  TrainTestData out;
  Dataset& dataset = out.data;
  dataset.format = plan.format;
  dataset.description = describe(options, plan.format, test_file);
  assemble(dataset, raw, std::move(catalog), options.item_key,
           not_in_catalog_error(raw.items, files, plan));
  std::vector<std::size_t> rows(dataset.interactions.size());
  std::iota(rows.begin(), rows.end(), std::size_t{0});
  const std::span<const std::size_t> all(rows);
  out.split.train = dataset.interactions.select(all.first(train_rows));
  out.split.test = dataset.interactions.select(all.subspan(train_rows));
  for (Interactions* side : {&out.split.train, &out.split.test}) {
    side->num_users = dataset.interactions.num_users;
    side->num_items = dataset.interactions.num_items;
  }
  return out;
}

Dataset dataset_from_columns(const ColumnData& c) {
  check_columns(c);
  RawInteractions raw = read_columns(c);
  std::optional<Catalog> catalog = catalog_of_columns(c);

  Dataset dataset;
  dataset.format = DataFormat::Auto;
  dataset.description = describe(c);
  const IdCodes& items = raw.items;
  assemble(dataset, raw, std::move(catalog), c.item_key, [&](std::int32_t code) {
    return Error(
        ErrorKind::NotFound,
        fmt::format("{}: row {}: item id \"{}\" (column \"{}\") is not in the {}", c.source,
                    items.first_line(code), items.id(code), c.item_name, c.catalog_source));
  });
  return dataset;
}

}  // namespace latent
