#include <latent/features.hpp>

#include <algorithm>
#include <bit>
#include <charconv>
#include <cmath>
#include <functional>
#include <limits>
#include <map>
#include <unordered_map>

#include <fmt/format.h>
#include <xxhash.h>

#include <latent/communicator.hpp>
#include <latent/error.hpp>

#include "detail/csv.hpp"
#include "detail/require.hpp"
#include "detail/utf8.hpp"

namespace latent {

namespace {

using detail::require;

constexpr std::string_view kTypes = "categorical, multi, numeric, timestamp, text";

bool takes_vocabulary(FeatureType t) {
  return t == FeatureType::Categorical || t == FeatureType::Multi || t == FeatureType::Text;
}
bool takes_hash(FeatureType t) { return t == FeatureType::Categorical || t == FeatureType::Multi; }
bool is_number(FeatureType t) { return t == FeatureType::Numeric || t == FeatureType::Timestamp; }

std::int32_t default_buckets(FeatureType t) { return t == FeatureType::Timestamp ? 1000 : 0; }

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  for (;;) {
    const std::size_t at = s.find(sep, start);
    out.push_back(
        s.substr(start, at == std::string_view::npos ? std::string_view::npos : at - start));
    if (at == std::string_view::npos) return out;
    start = at + 1;
  }
}

std::int32_t option_int(const std::string& column, std::string_view option, std::string_view text,
                        std::int32_t lo, std::int32_t hi) {
  std::int32_t v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  require(ec == std::errc() && end == text.data() + text.size() && v >= lo && v <= hi,
          fmt::format("feature column \"{}\": {}={} must be an integer in [{}, {}]", column, option,
                      text, lo, hi));
  return v;
}

float option_dropout(const std::string& column, std::string_view text) {
  double v = -1;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  require(
      ec == std::errc() && end == text.data() + text.size() && v >= 0 && v < 1,
      fmt::format("feature column \"{}\": dropout={} must be a number in [0, 1)", column, text));
  return static_cast<float>(v);
}

char separator_of(const std::string& column, std::string_view text) {
  if (text == "tab") return '\t';
  if (text == "space") return ' ';
  require(text.size() == 1 && text != "," && text != ":",
          fmt::format("feature column \"{}\": sep={} must be one character other than ',' and "
                      "':' (or tab, space)",
                      column, text));
  return text[0];
}

std::string separator_name(char c) {
  if (c == '\t') return "tab";
  if (c == ' ') return "space";
  return std::string(1, c);
}

// The value's tokens of a vocabulary column: the words of a text, the parts
// of a multi, or the value itself; none when it is missing.
std::vector<std::string> tokens_of(const FeatureColumn& column, std::string_view value) {
  std::vector<std::string> out;
  switch (column.type) {
    case FeatureType::Text:
      return text_words(value);
    case FeatureType::Multi:
      for (std::string_view part : split(value, column.separator)) {
        part = detail::trim_blanks(part);
        if (!part.empty()) out.emplace_back(part);
      }
      return out;
    default:
      value = detail::trim_blanks(value);
      if (!value.empty()) out.emplace_back(value);
      return out;
  }
}

// The number a value of a numeric or timestamp column holds, or nullopt
// when it is missing; throws naming the value when it is not a number.
// `where` names the value's row in an error (made only then: fitting and
// encoding call this for every row).
std::optional<double> number_of(const FeatureColumn& column, std::string_view value,
                                const std::function<std::string()>& where) {
  value = detail::trim_blanks(value);
  if (value.empty()) return std::nullopt;
  std::optional<double> x;
  if (column.type == FeatureType::Timestamp) {
    x = parse_timestamp(value);
  } else {
    double v = 0;
    const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
    if (ec == std::errc() && end == value.data() + value.size() && std::isfinite(v)) x = v;
  }
  if (!x) {
    throw Error(ErrorKind::InvalidArgument,
                fmt::format("{}: feature column \"{}\" ({}): \"{}\" is not {}", where(),
                            column.name, to_string(column.type), value,
                            column.type == FeatureType::Timestamp
                                ? "a timestamp (seconds, or YYYY-MM-DD[THH:MM:SS])"
                                : "a number"));
  }
  return x;
}

std::string where_of(const FeatureTable& table, std::size_t r) {
  return fmt::format("{}: {} {}", table.source, table.row_name,
                     table.row_numbers.empty() ? r : table.row_numbers[r]);
}

// Quantile boundaries of n values: those at ranks k n / B (in ascending
// order) for k = 1 .. B - 1, deduplicated (ties make fewer buckets) and
// above the smallest. `at(k)` is the value at rank k n / B.
template <class At>
std::vector<double> quantile_boundaries(std::int32_t buckets, const At& at, double smallest) {
  std::vector<double> out;
  for (std::int32_t k = 1; k < buckets; ++k) {
    const double b = at(k);
    if (b > smallest && (out.empty() || b > out.back())) out.push_back(b);
  }
  return out;
}

// A double's bits as an unsigned key in the doubles' order (and back).
std::uint64_t order_key(double x) {
  const auto u = std::bit_cast<std::uint64_t>(x);
  return (u >> 63) != 0 ? ~u : u | (std::uint64_t{1} << 63);
}

double of_order_key(std::uint64_t k) {
  return std::bit_cast<double>((k >> 63) != 0 ? k & ~(std::uint64_t{1} << 63) : ~k);
}

// The values at ranks `ranks` of every rank's values together (each rank's
// `keys`: its values' order_keys, ascending): for each, the smallest key
// with more than `rank` values at or below it, by a bisection of the keys'
// 64 bits, every rank's counts summed at each step. Exact: the values one
// process would find in all the values sorted. Collective.
std::vector<double> values_at_ranks(Communicator& comm, std::span<const std::uint64_t> keys,
                                    std::span<const std::int64_t> ranks) {
  const std::size_t m = ranks.size();
  std::vector<std::uint64_t> lo(m, 0), hi(m, std::numeric_limits<std::uint64_t>::max());
  std::vector<std::int64_t> counts(m);
  for (int bit = 0; bit < 64; ++bit) {
    for (std::size_t t = 0; t < m; ++t) {
      const std::uint64_t mid = lo[t] + (hi[t] - lo[t]) / 2;
      counts[t] = std::upper_bound(keys.begin(), keys.end(), mid) - keys.begin();
    }
    comm.allreduce_sum(std::span<std::int64_t>(counts));
    for (std::size_t t = 0; t < m; ++t) {
      const std::uint64_t mid = lo[t] + (hi[t] - lo[t]) / 2;
      if (counts[t] > ranks[t]) {
        hi[t] = mid;
      } else {
        lo[t] = mid + 1;
      }
    }
  }
  std::vector<double> out(m);
  for (std::size_t t = 0; t < m; ++t) out[t] = of_order_key(lo[t]);
  return out;
}

// A numeric or timestamp column's statistics (ColumnEncoding's fitted,
// mean, std and boundaries) of `xs`, or with `comm`, of every rank's xs
// together (collective: every rank calls it for the same columns).
void fit_number(ColumnEncoding& enc, std::vector<double> xs, Communicator* comm) {
  const auto sum_of = [&](std::vector<double> v) {
    if (comm != nullptr) comm->allreduce_sum(std::span<double>(v));
    return v;
  };
  std::int64_t n = static_cast<std::int64_t>(xs.size());
  if (comm != nullptr) comm->allreduce_sum(std::span<std::int64_t>(&n, 1));
  enc.fitted = n;
  if (n == 0) return;
  double sum = 0;
  for (double x : xs) sum += x;
  enc.mean = sum_of({sum})[0] / static_cast<double>(n);
  double sq = 0;
  for (double x : xs) sq += (x - enc.mean) * (x - enc.mean);
  const double sd = std::sqrt(sum_of({sq})[0] / static_cast<double>(n));
  enc.std = sd > 0 && std::isfinite(sd) ? sd : 1.0;
  const std::int32_t buckets = enc.column.buckets;
  if (buckets <= 1) return;
  if (comm == nullptr) {
    std::sort(xs.begin(), xs.end());
    enc.boundaries = quantile_boundaries(
        buckets, [&](std::int32_t k) { return xs[static_cast<std::size_t>(n * k / buckets)]; },
        xs.front());
    return;
  }
  std::vector<std::uint64_t> keys(xs.size());
  std::transform(xs.begin(), xs.end(), keys.begin(), order_key);
  std::sort(keys.begin(), keys.end());
  std::vector<std::int64_t> ranks{0};
  for (std::int32_t k = 1; k < buckets; ++k) ranks.push_back(n * k / buckets);
  const std::vector<double> values = values_at_ranks(*comm, keys, ranks);
  enc.boundaries = quantile_boundaries(
      buckets, [&](std::int32_t k) { return values[static_cast<std::size_t>(k)]; }, values[0]);
}

std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  // Howard Hinnant's algorithm: days since 1970-01-01 of a proleptic
  // Gregorian date.
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

bool digits(std::string_view s, std::size_t at, std::size_t n, int& out) {
  if (at + n > s.size()) return false;
  out = 0;
  for (std::size_t k = at; k < at + n; ++k) {
    if (s[k] < '0' || s[k] > '9') return false;
    out = out * 10 + (s[k] - '0');
  }
  return true;
}

}  // namespace

FeatureType parse_feature_type(std::string_view name) {
  if (name == "categorical") return FeatureType::Categorical;
  if (name == "multi") return FeatureType::Multi;
  if (name == "numeric") return FeatureType::Numeric;
  if (name == "timestamp") return FeatureType::Timestamp;
  if (name == "text") return FeatureType::Text;
  throw Error(ErrorKind::InvalidArgument,
              fmt::format("unknown feature type \"{}\"; valid: {}", name, kTypes));
}

const char* to_string(FeatureType type) noexcept {
  switch (type) {
    case FeatureType::Multi:
      return "multi";
    case FeatureType::Numeric:
      return "numeric";
    case FeatureType::Timestamp:
      return "timestamp";
    case FeatureType::Text:
      return "text";
    case FeatureType::Categorical:
      break;
  }
  return "categorical";
}

std::string FeatureColumn::to_string() const {
  std::string s = fmt::format("{}:{}", name, latent::to_string(type));
  if (hash_buckets > 0) s += fmt::format(":hash={}", hash_buckets);
  if (max_tokens > 0) s += fmt::format(":max={}", max_tokens);
  if (min_count != 1) s += fmt::format(":min={}", min_count);
  if (buckets != default_buckets(type)) s += fmt::format(":buckets={}", buckets);
  if (type == FeatureType::Multi && separator != '|') {
    s += ":sep=" + separator_name(separator);
  }
  if (dropout > 0) s += fmt::format(":dropout={}", dropout);
  return s;
}

nlohmann::json FeatureColumn::to_json() const {
  nlohmann::json j{{"name", name},
                   {"type", latent::to_string(type)},
                   {"hash_buckets", hash_buckets},
                   {"max_tokens", max_tokens},
                   {"min_count", min_count},
                   {"buckets", buckets},
                   {"separator", std::string(1, separator)}};
  // Only when set: files without them stay as they were.
  if (context) j["context"] = true;
  if (dropout > 0) j["dropout"] = dropout;
  return j;
}

FeatureColumn FeatureColumn::from_json(const nlohmann::json& j) {
  FeatureColumn c;
  c.name = j.at("name").get<std::string>();
  c.type = parse_feature_type(j.at("type").get<std::string>());
  c.hash_buckets = j.at("hash_buckets").get<std::int32_t>();
  c.max_tokens = j.at("max_tokens").get<std::int32_t>();
  c.min_count = j.at("min_count").get<std::int32_t>();
  c.buckets = j.at("buckets").get<std::int32_t>();
  const auto sep = j.at("separator").get<std::string>();
  require(sep.size() == 1, fmt::format("feature column \"{}\": separator \"{}\"", c.name, sep));
  c.separator = sep[0];
  c.dropout = j.value("dropout", 0.0f);
  // The same checks as a declaration: a file's columns are a declaration.
  auto again = parse_feature_columns(c.to_string());
  require(again.size() == 1, fmt::format("feature column \"{}\"", c.name));
  again[0].context = j.value("context", false);
  return again[0];
}

std::string feature_declaration(std::span<const FeatureColumn> columns) {
  std::vector<std::string> each;
  for (const FeatureColumn& c : columns) each.push_back(c.to_string());
  return fmt::format("{}", fmt::join(each, ","));
}

std::string FeatureEncoder::declaration() const {
  std::vector<FeatureColumn> columns;
  for (const ColumnEncoding& c : columns_) columns.push_back(c.column);
  return feature_declaration(columns);
}

std::vector<FeatureColumn> parse_feature_columns(std::string_view declaration) {
  std::vector<FeatureColumn> out;
  if (detail::trim_blanks(declaration).empty()) return out;
  for (std::string_view item : split(declaration, ',')) {
    item = detail::trim_blanks(item);
    const std::vector<std::string_view> parts = split(item, ':');
    FeatureColumn c;
    c.name = std::string(detail::trim_blanks(parts[0]));
    require(!c.name.empty(), fmt::format("feature column \"{}\": the name is empty", item));
    for (const FeatureColumn& seen : out) {
      require(seen.name != c.name, fmt::format("feature column \"{}\" is declared twice", c.name));
    }
    require(parts.size() >= 2, fmt::format("feature column \"{}\": give its type as {}:TYPE ({})",
                                           c.name, c.name, kTypes));
    c.type = parse_feature_type(detail::trim_blanks(parts[1]));
    c.buckets = default_buckets(c.type);
    bool counted = false;  // max or min given
    for (std::size_t k = 2; k < parts.size(); ++k) {
      const std::string_view option = detail::trim_blanks(parts[k]);
      const std::size_t eq = option.find('=');
      require(
          eq != std::string_view::npos,
          fmt::format("feature column \"{}\": option \"{}\" is not NAME=VALUE", c.name, option));
      const std::string_view key = option.substr(0, eq), value = option.substr(eq + 1);
      const auto refuse = [&](bool ok) {
        require(ok, fmt::format("feature column \"{}\": a {} column takes no {} option", c.name,
                                latent::to_string(c.type), key));
      };
      if (key == "hash") {
        refuse(takes_hash(c.type));
        c.hash_buckets = option_int(c.name, key, value, 1, 1 << 30);
      } else if (key == "max") {
        refuse(takes_vocabulary(c.type));
        c.max_tokens = option_int(c.name, key, value, 0, 1 << 30);
        counted = true;
      } else if (key == "min") {
        refuse(takes_vocabulary(c.type));
        c.min_count = option_int(c.name, key, value, 1, 1 << 30);
        counted = true;
      } else if (key == "buckets") {
        refuse(is_number(c.type));
        c.buckets = option_int(c.name, key, value, 0, 1 << 20);
      } else if (key == "sep") {
        refuse(c.type == FeatureType::Multi);
        c.separator = separator_of(c.name, value);
      } else if (key == "dropout") {
        c.dropout = option_dropout(c.name, value);
      } else {
        throw Error(ErrorKind::InvalidArgument,
                    fmt::format("feature column \"{}\": unknown option \"{}\"; valid: hash, max, "
                                "min, buckets, sep, dropout",
                                c.name, key));
      }
    }
    require(!(c.hash_buckets > 0 && counted),
            fmt::format("feature column \"{}\": hash needs no vocabulary, so it takes no max or "
                        "min",
                        c.name));
    out.push_back(std::move(c));
  }
  return out;
}

std::int32_t ColumnEncoding::rows() const noexcept {
  if (is_number(column.type)) {
    // Row 0 missing, row 1 the normalized value, then the buckets.
    return 2 + (column.buckets > 0 ? static_cast<std::int32_t>(boundaries.size()) + 1 : 0);
  }
  if (column.hash_buckets > 0) return 1 + column.hash_buckets;
  return vocabulary.size();
}

FeatureEncoder FeatureEncoder::fit(std::vector<FeatureColumn> columns, const FeatureTable& table,
                                   Communicator* comm) {
  require(table.values.size() == columns.size(),
          fmt::format("{}: {} feature columns of values for {} declared", table.source,
                      table.values.size(), columns.size()));
  FeatureEncoder e;
  for (std::size_t c = 0; c < columns.size(); ++c) {
    const std::vector<std::string>& values = table.values[c];
    require(values.size() == table.ids.size(),
            fmt::format("{}: feature column \"{}\" has {} values for {} ids", table.source,
                        columns[c].name, values.size(), table.ids.size()));
    ColumnEncoding enc;
    enc.column = columns[c];
    const FeatureColumn& col = enc.column;
    if (is_number(col.type)) {
      std::vector<double> xs;
      std::optional<Error> malformed;
      try {
        for (std::size_t r = 0; r < values.size(); ++r) {
          if (const auto x = number_of(col, values[r], [&] { return where_of(table, r); })) {
            xs.push_back(*x);
          }
        }
      } catch (const Error& error) {
        if (comm == nullptr) throw;
        malformed = error;
      }
      if (comm != nullptr) {
        // A malformed value on one rank stops every rank, not just its own.
        std::int64_t failed = malformed ? 1 : 0;
        comm->allreduce_sum(std::span<std::int64_t>(&failed, 1));
        if (malformed) throw *malformed;
        require(failed == 0, fmt::format("feature column \"{}\": another rank's rows have a "
                                         "malformed value (its error names it)",
                                         col.name));
      }
      fit_number(enc, std::move(xs), comm);
    } else {
      require(comm == nullptr,
              fmt::format("feature column \"{}\" ({}): only numeric and timestamp columns are "
                          "fitted on several ranks yet",
                          col.name, col.to_string()));
      std::unordered_map<std::string, std::int64_t> counts;
      for (const std::string& v : values) {
        const auto tokens = tokens_of(col, v);
        if (!tokens.empty()) ++enc.fitted;
        if (col.hash_buckets > 0) continue;
        for (const std::string& t : tokens) ++counts[t];
      }
      if (col.hash_buckets == 0) {
        std::vector<std::pair<std::string, std::int64_t>> kept;
        for (auto& [token, n] : counts) {
          if (n >= col.min_count) kept.emplace_back(token, n);
        }
        if (col.max_tokens > 0 && kept.size() > static_cast<std::size_t>(col.max_tokens)) {
          // The most frequent; ties by the token's bytes, so the cut is the
          // same on every run.
          std::sort(kept.begin(), kept.end(), [](const auto& a, const auto& b) {
            return a.second != b.second ? a.second > b.second : a.first < b.first;
          });
          kept.resize(static_cast<std::size_t>(col.max_tokens));
        }
        // Values as strings, bytewise: a zip code "02138" is not "2138",
        // as user ids "007" and "7" are one id.
        std::vector<std::string> ids;
        ids.reserve(kept.size());
        for (auto& [token, n] : kept) ids.push_back(std::move(token));
        std::sort(ids.begin(), ids.end());
        enc.vocabulary = Vocabulary::from_ordered(std::move(ids), Vocabulary::IdKind::String);
      }
    }
    e.columns_.push_back(std::move(enc));
  }
  e.finish();
  return e;
}

FeatureEncoder FeatureEncoder::joined(const FeatureEncoder& a, const FeatureEncoder& b) {
  FeatureEncoder e = a;
  for (const ColumnEncoding& c : b.columns_) {
    for (const ColumnEncoding& seen : a.columns_) {
      require(seen.column.name != c.column.name,
              fmt::format("feature \"{}\" is declared twice: as a {} feature and as a {} one",
                          c.column.name, seen.column.context ? "context" : "user",
                          c.column.context ? "context" : "user"));
    }
    e.columns_.push_back(c);
  }
  e.finish();
  return e;
}

FeatureEncoder FeatureEncoder::part(bool context) const {
  FeatureEncoder e;
  for (const ColumnEncoding& c : columns_) {
    if (c.column.context == context) e.columns_.push_back(c);
  }
  e.finish();
  return e;
}

void FeatureEncoder::finish() {
  offsets_.assign(1, 0);
  for (const ColumnEncoding& c : columns_) offsets_.push_back(offsets_.back() + c.rows());
}

char FeatureEncoder::separator_of(std::string_view name) const noexcept {
  for (const ColumnEncoding& c : columns_) {
    if (c.column.name == name) return c.column.separator;
  }
  return '|';
}

FeatureRows FeatureEncoder::encode(const FeatureTable& table) const {
  require(table.values.size() == columns_.size(),
          fmt::format("{}: {} feature columns of values for {} declared", table.source,
                      table.values.size(), columns_.size()));
  for (std::size_t c = 0; c < columns_.size(); ++c) {
    require(table.values[c].size() == table.ids.size(),
            fmt::format("{}: feature column \"{}\" has {} values for {} ids", table.source,
                        columns_[c].column.name, table.values[c].size(), table.ids.size()));
  }
  FeatureRows rows;
  std::vector<std::string_view> values(columns_.size());
  for (std::size_t r = 0; r < table.ids.size(); ++r) {
    for (std::size_t c = 0; c < columns_.size(); ++c) values[c] = table.values[c][r];
    encode_row(values, rows, [&] { return where_of(table, r); });
  }
  return rows;
}

SideFeatures SideFeatures::fit(const FeatureTable& table, const Vocabulary& vocabulary) {
  const std::vector<FeatureColumn>& columns = table.columns;
  // The table's row of each vocabulary row (-1: none), and the table of
  // the known ids' rows alone, which the encoder is fitted on.
  std::vector<std::int64_t> row_of(static_cast<std::size_t>(vocabulary.size()), -1);
  FeatureTable known;
  known.source = table.source;
  known.row_name = table.row_name;
  known.values.resize(table.values.size());
  for (std::size_t r = 0; r < table.ids.size(); ++r) {
    const auto v = vocabulary.find(table.ids[r]);
    if (!v || *v <= 0) continue;
    row_of[static_cast<std::size_t>(*v)] = static_cast<std::int64_t>(r);
    known.ids.push_back(table.ids[r]);
    known.row_numbers.push_back(table.row_numbers.empty() ? r : table.row_numbers[r]);
    for (std::size_t c = 0; c < table.values.size() && c < columns.size(); ++c) {
      known.values[c].push_back(table.values[c][r]);
    }
  }
  if (known.ids.empty()) {
    throw Error(ErrorKind::InvalidArgument,
                fmt::format("{}: none of its {} ids is an id of the data's {} (its ids look like "
                            "\"{}\", the data's like \"{}\"); is the id column the right one?",
                            table.source, table.ids.size(), vocabulary.num_known(),
                            table.ids.empty() ? "" : table.ids.front(),
                            vocabulary.num_known() == 0 ? "" : vocabulary.id(1)));
  }
  return encoded(table, FeatureEncoder::fit(columns, known), row_of);
}

SideFeatures SideFeatures::with_encoder(const FeatureTable& table, const Vocabulary& vocabulary,
                                        FeatureEncoder encoder) {
  const std::string declared = feature_declaration(table.columns);
  const std::string saved = encoder.declaration();
  require(declared == saved, fmt::format("{}: the columns {} are not the trained ones, {}",
                                         table.source, declared, saved));
  std::vector<std::int64_t> row_of(static_cast<std::size_t>(vocabulary.size()), -1);
  for (std::size_t r = 0; r < table.ids.size(); ++r) {
    const auto v = vocabulary.find(table.ids[r]);
    if (v && *v > 0) row_of[static_cast<std::size_t>(*v)] = static_cast<std::int64_t>(r);
  }
  return encoded(table, std::move(encoder), row_of);
}

SideFeatures SideFeatures::encoded(const FeatureTable& table, FeatureEncoder encoder,
                                   std::span<const std::int64_t> row_of) {
  SideFeatures out;
  out.encoder = std::move(encoder);
  // Every row once, so that a malformed value is an error wherever it is.
  (void)out.encoder.encode(table);
  const std::size_t n = out.encoder.columns().size();
  std::vector<std::string_view> values(n);
  for (std::size_t v = 0; v < row_of.size(); ++v) {
    const std::int64_t r = row_of[v];
    for (std::size_t c = 0; c < n; ++c) {
      values[c] = r < 0 ? std::string_view() : table.values[c][static_cast<std::size_t>(r)];
    }
    if (r >= 0) ++out.with_values;
    out.encoder.encode_row(values, out.rows, [] { return std::string(); });
  }
  return out;
}

namespace {

// Pair p's value of context column `name`: its time for "timestamp", else
// its value in the pairs' context column of that name.
std::string pair_value(const Interactions& pairs, std::string_view name, std::size_t p) {
  if (name == "timestamp") return std::to_string(pairs.timestamps.at(p));
  const ContextColumn* column = pairs.context_column(name);
  require(column != nullptr, fmt::format("the pairs have no context column \"{}\"", name));
  return column->values.at(p);
}

// Why `pairs` lack a value of some column, or nullopt.
std::optional<std::string> missing_values(std::span<const FeatureColumn> columns,
                                          const Interactions& pairs) {
  for (const FeatureColumn& c : columns) {
    if (c.name == "timestamp") {
      if (pairs.timestamps.size() != pairs.size()) return "the pairs have no timestamps";
    } else if (pairs.context_column(c.name) == nullptr) {
      return fmt::format("the pairs have no column \"{}\"", c.name);
    }
  }
  return std::nullopt;
}

}  // namespace

std::vector<std::string> QueryContext::data_columns(std::span<const FeatureColumn> columns) {
  std::vector<std::string> out;
  for (const FeatureColumn& c : columns) {
    if (c.name != "timestamp") out.push_back(c.name);
  }
  return out;
}

bool QueryContext::has_values(std::span<const FeatureColumn> columns, const Interactions& pairs) {
  return !missing_values(columns, pairs).has_value();
}

std::vector<FeatureValue> QueryContext::of_pair(std::span<const FeatureColumn> columns,
                                                const Interactions& pairs, std::size_t p) {
  std::vector<FeatureValue> out;
  out.reserve(columns.size());
  for (const FeatureColumn& c : columns) out.push_back({c.name, pair_value(pairs, c.name, p)});
  return out;
}

namespace {

// The declared context columns' table of `pairs` (`which`: "training" or
// "test"): each pair's values, of its own (QueryContext::of_pair).
FeatureTable context_table(std::span<const FeatureColumn> columns, const Interactions& pairs,
                           std::string_view source, const char* which) {
  if (!pairs.empty()) {
    if (const auto missing = missing_values(columns, pairs)) {
      throw Error(ErrorKind::InvalidArgument,
                  fmt::format("context features {}: {}'s {} pairs: {} (the time is the data's "
                              "timestamp column; another context feature is the column of its "
                              "name, which the loader keeps: `latent split` writes it with "
                              "--context-cols, Python's Dataset keeps it with context_cols=)",
                              feature_declaration(columns), source, which, *missing));
    }
  }
  FeatureTable t;
  t.source = fmt::format("{}'s {} pairs", source, which);
  t.row_name = "pair";
  t.ids.resize(pairs.size());
  t.values.resize(columns.size());
  for (std::size_t c = 0; c < columns.size(); ++c) {
    std::vector<std::string>& values = t.values[c];
    values.reserve(pairs.size());
    for (std::size_t p = 0; p < pairs.size(); ++p) {
      values.push_back(pair_value(pairs, columns[c].name, p));
    }
    t.columns.push_back(columns[c]);
    t.columns.back().context = true;
  }
  return t;
}

}  // namespace

QueryContext QueryContext::fit(std::span<const FeatureColumn> columns, const Interactions& train,
                               const Interactions* test, std::string_view source,
                               Communicator* comm) {
  require(!columns.empty(), "no context features were declared");
  const FeatureTable train_table = context_table(columns, train, source, "training");
  return with_encoder(columns, train, test, source,
                      FeatureEncoder::fit(train_table.columns, train_table, comm));
}

QueryContext QueryContext::with_encoder(std::span<const FeatureColumn> columns,
                                        const Interactions& train, const Interactions* test,
                                        std::string_view source, FeatureEncoder encoder) {
  const std::string declared = feature_declaration(columns);
  const std::string trained = encoder.declaration();
  require(declared == trained,
          fmt::format("the context features {} are not the trained ones, {}", declared, trained));
  QueryContext q;
  q.encoder = std::move(encoder);
  q.train = q.encoder.encode(context_table(columns, train, source, "training"));
  if (test != nullptr) q.test = q.encoder.encode(context_table(columns, *test, source, "test"));
  return q;
}

void FeatureEncoder::encode_one(std::span<const std::string_view> values, FeatureRows& rows,
                                std::string_view where) const {
  encode_row(values, rows, [where] { return std::string(where); });
}

void FeatureEncoder::encode_row(std::span<const std::string_view> values, FeatureRows& rows,
                                const std::function<std::string()>& where) const {
  require(values.size() == columns_.size(), fmt::format("{}: {} feature values for {} columns",
                                                        where(), values.size(), columns_.size()));
  for (std::size_t c = 0; c < columns_.size(); ++c) {
    const ColumnEncoding& enc = columns_[c];
    const FeatureColumn& col = enc.column;
    const std::int32_t base = offsets_[c];
    const auto put = [&](std::int32_t row, float weight) {
      rows.index.push_back(base + row);
      rows.weight.push_back(weight);
    };
    if (is_number(col.type)) {
      const auto x = number_of(col, values[c], where);
      if (!x) {
        put(0, 1.0f);
        continue;
      }
      put(1, static_cast<float>((*x - enc.mean) / enc.std));
      if (enc.rows() > 2) {
        const auto b = std::upper_bound(enc.boundaries.begin(), enc.boundaries.end(), *x) -
                       enc.boundaries.begin();
        put(2 + static_cast<std::int32_t>(b), 1.0f);
      }
      continue;
    }
    const std::vector<std::string> tokens = tokens_of(col, values[c]);
    if (tokens.empty()) {
      put(0, 1.0f);
      continue;
    }
    const float w = 1.0f / static_cast<float>(tokens.size());
    for (const std::string& t : tokens) {
      if (col.hash_buckets > 0) {
        const auto h = XXH64(t.data(), t.size(), 0) % static_cast<std::uint64_t>(col.hash_buckets);
        put(1 + static_cast<std::int32_t>(h), w);
      } else {
        put(enc.vocabulary.lookup(t), w);
      }
    }
  }
  rows.indptr.push_back(static_cast<std::int64_t>(rows.index.size()));
}

nlohmann::json FeatureEncoder::to_json() const {
  nlohmann::json out = nlohmann::json::array();
  for (const ColumnEncoding& c : columns_) {
    nlohmann::json j = c.column.to_json();
    j["rows"] = c.rows();
    j["fitted"] = c.fitted;
    if (is_number(c.column.type)) {
      j["mean"] = c.mean;
      j["std"] = c.std;
      j["boundaries"] = c.boundaries;
    }
    out.push_back(std::move(j));
  }
  return out;
}

FeatureTable load_feature_table(const std::filesystem::path& path, const std::string& id_column,
                                std::span<const FeatureColumn> columns, char delimiter) {
  detail::CsvTable table(detail::CsvReader::open(path, {delimiter, true}), /*header=*/true);
  const detail::CsvColumn id = table.column(id_column, "id");
  std::vector<detail::CsvColumn> refs;
  for (const FeatureColumn& c : columns) refs.push_back(table.column(c.name, "feature"));
  FeatureTable out;
  out.columns.assign(columns.begin(), columns.end());
  out.source = path.string();
  out.row_name = "line";
  out.values.resize(columns.size());
  std::unordered_map<std::string, std::size_t> line_of;  // each id's line
  while (table.next()) {
    const std::string_view key = detail::id_field(table, id, "id");
    const auto [at, fresh] = line_of.emplace(std::string(key), table.line());
    if (!fresh) {
      throw table.error(ErrorKind::Corruption,
                        fmt::format("id \"{}\" ({}) already has features on line {}",
                                    printable_id(key), id.label, at->second));
    }
    out.ids.emplace_back(key);
    out.row_numbers.push_back(table.line());
    for (std::size_t c = 0; c < refs.size(); ++c) {
      // Values reach vocabularies, JSON and Python strings, which take
      // UTF-8: a field that is not is read as Latin-1, as titles are.
      const std::string_view field = table.field(refs[c]);
      out.values[c].push_back(detail::first_invalid_utf8(field) == std::string_view::npos
                                  ? std::string(field)
                                  : detail::latin1_to_utf8(field));
    }
  }
  return out;
}

FeatureEncoder FeatureEncoder::restore(const nlohmann::json& j,
                                       std::vector<Vocabulary> vocabularies) {
  require(j.is_array() && j.size() == vocabularies.size(),
          fmt::format("features: {} columns for {} vocabularies", j.is_array() ? j.size() : 0,
                      vocabularies.size()));
  FeatureEncoder e;
  for (std::size_t c = 0; c < j.size(); ++c) {
    const nlohmann::json& cj = j[c];
    ColumnEncoding enc;
    try {
      enc.column = FeatureColumn::from_json(cj);
      enc.fitted = cj.at("fitted").get<std::int64_t>();
      if (is_number(enc.column.type)) {
        enc.mean = cj.at("mean").get<double>();
        enc.std = cj.at("std").get<double>();
        enc.boundaries = cj.at("boundaries").get<std::vector<double>>();
      }
    } catch (const nlohmann::json::exception& x) {
      throw Error(ErrorKind::InvalidArgument, fmt::format("features: column {}: {}", c, x.what()));
    }
    const std::string& name = enc.column.name;
    require(std::isfinite(enc.mean) && std::isfinite(enc.std) && enc.std > 0,
            fmt::format("feature column \"{}\": mean {} and std {}", name, enc.mean, enc.std));
    require(std::is_sorted(enc.boundaries.begin(), enc.boundaries.end()) &&
                std::adjacent_find(enc.boundaries.begin(), enc.boundaries.end()) ==
                    enc.boundaries.end(),
            fmt::format("feature column \"{}\": bucket boundaries must ascend", name));
    const bool vocabulary = takes_vocabulary(enc.column.type) && enc.column.hash_buckets == 0;
    require(vocabulary || vocabularies[c].num_known() == 0,
            fmt::format("feature column \"{}\" ({}) has no vocabulary, but {} ids were given", name,
                        to_string(enc.column.type), vocabularies[c].num_known()));
    enc.vocabulary = std::move(vocabularies[c]);
    require(cj.at("rows").get<std::int64_t>() == enc.rows(),
            fmt::format("feature column \"{}\": {} rows recorded, {} from its vocabulary or "
                        "buckets",
                        name, cj.at("rows").get<std::int64_t>(), enc.rows()));
    e.columns_.push_back(std::move(enc));
  }
  e.finish();
  return e;
}

std::vector<std::string> text_words(std::string_view text) {
  std::vector<std::string> words;
  std::string word;
  for (const char ch : text) {
    const auto u = static_cast<unsigned char>(ch);
    const bool ascii_word =
        (u >= '0' && u <= '9') || (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z');
    if (ascii_word || u >= 0x80) {
      word.push_back(u >= 'A' && u <= 'Z' ? static_cast<char>(u - 'A' + 'a') : ch);
    } else if (!word.empty()) {
      words.push_back(std::move(word));
      word.clear();
    }
  }
  if (!word.empty()) words.push_back(std::move(word));
  return words;
}

std::optional<double> parse_timestamp(std::string_view text) {
  text = detail::trim_blanks(text);
  if (text.empty()) return std::nullopt;
  double v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec == std::errc() && end == text.data() + text.size()) {
    return std::isfinite(v) ? std::optional<double>(v) : std::nullopt;
  }
  // YYYY-MM-DD, then optionally [T ]HH:MM:SS and a Z.
  int y = 0, m = 0, d = 0, hh = 0, mm = 0, ss = 0;
  if (!digits(text, 0, 4, y) || text.size() < 10 || text[4] != '-' || !digits(text, 5, 2, m) ||
      text[7] != '-' || !digits(text, 8, 2, d)) {
    return std::nullopt;
  }
  static constexpr int kDays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (m < 1 || m > 12 || d < 1 || d > kDays[m - 1]) return std::nullopt;
  const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  if (m == 2 && d == 29 && !leap) return std::nullopt;
  std::string_view rest = text.substr(10);
  if (!rest.empty()) {
    if ((rest[0] != 'T' && rest[0] != ' ') || rest.size() < 9 || !digits(rest, 1, 2, hh) ||
        rest[3] != ':' || !digits(rest, 4, 2, mm) || rest[6] != ':' || !digits(rest, 7, 2, ss) ||
        hh > 23 || mm > 59 || ss > 60) {
      return std::nullopt;
    }
    rest.remove_prefix(9);
    if (rest == "Z") rest.remove_prefix(1);
    if (!rest.empty()) return std::nullopt;
  }
  const std::int64_t days = days_from_civil(y, static_cast<unsigned>(m), static_cast<unsigned>(d));
  return static_cast<double>(days * 86400 + hh * 3600 + mm * 60 + ss);
}

}  // namespace latent
