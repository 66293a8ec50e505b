// MovieLens's user and item attributes as feature tables (features.hpp), and
// the front ends' choice between them and a file of features.
#include <latent/features.hpp>

#include <algorithm>
#include <array>
#include <map>
#include <string>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <latent/error.hpp>

#include "detail/csv.hpp"
#include "detail/utf8.hpp"

namespace latent {

namespace {

namespace fs = std::filesystem;

// Every available column of one side, by name, and the rows' ids and lines.
struct FullTable {
  std::string source;
  std::vector<std::string> ids;
  std::vector<std::size_t> lines;
  std::map<std::string, std::vector<std::string>> columns;
};

std::string field_text(const detail::CsvTable& t, std::size_t column, bool latin1) {
  const std::string_view f = detail::trim_blanks(t.field(detail::CsvColumn{column, ""}));
  return latin1 ? detail::latin1_to_utf8(f) : std::string(f);
}

// "01-Jan-1995" (or "4-Feb-1971") -> "1995-01-01"; "" when empty; throws
// when malformed.
std::string iso_date(const detail::CsvTable& t, std::string_view text) {
  if (text.empty()) return "";
  static constexpr std::array<std::string_view, 12> kMonths = {
      "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  const std::size_t a = text.find('-'), b = text.rfind('-');
  if (a != std::string_view::npos && b == a + 4 && (a == 1 || a == 2) && text.size() == b + 5) {
    for (std::size_t m = 0; m < kMonths.size(); ++m) {
      if (text.substr(a + 1, 3) != kMonths[m]) continue;
      const std::string iso = fmt::format("{}-{:02}-{}{}", text.substr(b + 1), m + 1,
                                          a == 1 ? "0" : "", text.substr(0, a));
      if (parse_timestamp(iso)) return iso;
    }
  }
  throw t.error(ErrorKind::Corruption,
                fmt::format("release date \"{}\" is not a date like 01-Jan-1995", text));
}

// The year in a title's last "(YYYY)" ("Toy Story (1995)"), or "".
std::string title_year(std::string_view title) {
  const std::size_t open = title.rfind('(');
  if (open == std::string_view::npos || open + 6 > title.size() || title[open + 5] != ')') {
    return "";
  }
  const std::string_view year = title.substr(open + 1, 4);
  for (const char c : year) {
    if (c < '0' || c > '9') return "";
  }
  return std::string(year);
}

FullTable ml100k_users(const fs::path& dir) {
  const fs::path path = dir / "u.user";
  detail::CsvTable t(detail::CsvReader::open(path, {'|', false}), /*header=*/false);
  FullTable out{path.string(), {}, {}, {}};
  static constexpr std::array<std::string_view, 4> kNames = {"age", "gender", "occupation", "zip"};
  t.column(std::size_t{4}, "zip code");  // five fields a row
  while (t.next()) {
    out.ids.emplace_back(detail::id_field(t, t.column(std::size_t{0}, "user"), "user"));
    out.lines.push_back(t.line());
    for (std::size_t k = 0; k < kNames.size(); ++k) {
      out.columns[std::string(kNames[k])].push_back(field_text(t, k + 1, false));
    }
  }
  return out;
}

FullTable ml100k_items(const fs::path& dir) {
  // u.genre: "name|index" lines, the genre flags' names.
  std::vector<std::string> genres;
  {
    const fs::path path = dir / "u.genre";
    detail::CsvTable t(detail::CsvReader::open(path, {'|', false}), /*header=*/false);
    while (t.next()) {
      const auto index = detail::number_field<std::size_t>(t, t.column(std::size_t{1}, "index"),
                                                           "genre index", "an integer");
      if (index != genres.size()) {
        throw t.error(
            ErrorKind::Corruption,
            fmt::format("genre index {} out of order (expected {})", index, genres.size()));
      }
      genres.push_back(field_text(t, 0, true));
    }
  }
  const fs::path path = dir / "u.item";
  detail::CsvTable t(detail::CsvReader::open(path, {'|', false}), /*header=*/false);
  t.column(5 + genres.size() - 1, "the last genre flag");
  FullTable out{path.string(), {}, {}, {}};
  while (t.next()) {
    out.ids.emplace_back(detail::id_field(t, t.column(std::size_t{0}, "movie"), "movie"));
    out.lines.push_back(t.line());
    const std::string title = field_text(t, 1, true);
    const std::string date = iso_date(t, field_text(t, 2, false));
    std::string names;
    for (std::size_t g = 0; g < genres.size(); ++g) {
      const std::string flag = field_text(t, 5 + g, false);
      if (flag == "1")
        names += (names.empty() ? "" : "|") + genres[g];
      else if (flag != "0") {
        throw t.error(ErrorKind::Corruption,
                      fmt::format("genre flag \"{}\" ({}) is not 0 or 1", flag, genres[g]));
      }
    }
    out.columns["title"].push_back(title);
    out.columns["genres"].push_back(names);
    out.columns["release_date"].push_back(date);
    out.columns["year"].push_back(date.empty() ? "" : date.substr(0, 4));
  }
  return out;
}

// tags_wanted: whether to read tags.csv (a million rows in the full data
// set) for the tags column.
FullTable ml_latest_items(const fs::path& dir, bool tags_wanted) {
  const fs::path path = dir / "movies.csv";
  detail::CsvTable t(detail::CsvReader::open(path, {',', true}), /*header=*/true);
  const detail::CsvColumn id = t.column("movieId", "movie"), title_col = t.column("title", "title"),
                          genres_col = t.column("genres", "genres");
  FullTable out{path.string(), {}, {}, {}};
  std::map<std::string, std::size_t> row_of;
  while (t.next()) {
    const std::string_view key = detail::id_field(t, id, "movie");
    row_of.emplace(std::string(key), out.ids.size());
    out.ids.emplace_back(key);
    out.lines.push_back(t.line());
    const std::string title(detail::trim_blanks(t.field(title_col)));
    std::string genres(detail::trim_blanks(t.field(genres_col)));
    if (genres == "(no genres listed)") genres.clear();
    out.columns["title"].push_back(title);
    out.columns["genres"].push_back(genres);
    out.columns["year"].push_back(title_year(title));
  }
  std::vector<std::string>& tags = out.columns["tags"];
  tags.assign(out.ids.size(), "");
  const fs::path tags_path = dir / "tags.csv";
  if (tags_wanted && fs::exists(tags_path)) {
    detail::CsvTable tt(detail::CsvReader::open(tags_path, {',', true}), /*header=*/true);
    const detail::CsvColumn movie = tt.column("movieId", "movie"), tag = tt.column("tag", "tag");
    while (tt.next()) {
      const auto at = row_of.find(std::string(detail::id_field(tt, movie, "movie")));
      if (at == row_of.end()) continue;  // a movie movies.csv lacks has no row to add to
      std::string text(detail::trim_blanks(tt.field(tag)));
      std::replace(text.begin(), text.end(), '|', ' ');
      if (text.empty()) continue;
      std::string& all = tags[at->second];
      all += (all.empty() ? "" : "|") + text;
    }
  }
  return out;
}

}  // namespace

FeatureTable movielens_feature_table(const fs::path& dir, FeatureSide side,
                                     std::span<const FeatureColumn> columns) {
  FullTable full;
  if (fs::exists(dir / "u.data")) {
    full = side == FeatureSide::Users ? ml100k_users(dir) : ml100k_items(dir);
  } else if (fs::exists(dir / "ratings.csv")) {
    if (side == FeatureSide::Users) {
      throw Error(ErrorKind::NotFound,
                  fmt::format("{}: MovieLens latest has no users' attributes (no u.user); give "
                              "user features in a file of their own",
                              dir.string()));
    }
    full = ml_latest_items(dir, std::any_of(columns.begin(), columns.end(),
                                            [](const auto& c) { return c.name == "tags"; }));
  } else {
    throw Error(
        ErrorKind::NotFound,
        fmt::format("{}: not a MovieLens directory (no u.data or ratings.csv)", dir.string()));
  }
  FeatureTable out;
  out.columns.assign(columns.begin(), columns.end());
  out.source = full.source;
  out.row_name = "line";
  out.ids = std::move(full.ids);
  out.row_numbers = std::move(full.lines);
  for (const FeatureColumn& c : columns) {
    const auto at = full.columns.find(c.name);
    if (at == full.columns.end()) {
      std::vector<std::string> names;
      for (const auto& [name, values] : full.columns) names.push_back(name);
      throw Error(ErrorKind::NotFound,
                  fmt::format("{}: no feature column \"{}\"; MovieLens gives {}", full.source,
                              c.name, fmt::join(names, ", ")));
    }
    out.values.push_back(at->second);
  }
  return out;
}

FeatureTable load_side_features(std::string_view declaration, FeatureSide side,
                                const fs::path& file, const std::string& id_column,
                                const fs::path& data) {
  const char* who = side == FeatureSide::Users ? "user" : "item";
  const std::vector<FeatureColumn> columns = parse_feature_columns(declaration);
  if (columns.empty()) {
    throw Error(
        ErrorKind::InvalidArgument,
        fmt::format("--{}-features declares no column (NAME:TYPE, such as genres:multi)", who));
  }
  if (!file.empty()) return load_feature_table(file, id_column.empty() ? "0" : id_column, columns);
  if (!fs::is_directory(data)) {
    throw Error(ErrorKind::InvalidArgument,
                fmt::format("the {} features need a file (--{}-features-file): the data {} is not "
                            "a MovieLens directory, whose own attributes they could be",
                            who, who, data.string()));
  }
  return movielens_feature_table(data, side, columns);
}

}  // namespace latent
