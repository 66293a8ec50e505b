#pragma once
// Delimited text (CSV/TSV) reading for the data loaders: one reader for every
// format. CsvReader splits a file held whole in memory into records
// (RFC 4180 quoting, LF or CRLF line ends, a UTF-8 BOM stripped, blank lines
// skipped); CsvTable adds the header, column references and the field-count
// check on top. Every error names the file and the 1-based line.

#include <charconv>
#include <cmath>
#include <cstddef>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <fmt/format.h>

#include <latent/error.hpp>

namespace latent::detail {

struct CsvOptions {
  // Field separator; 0 sniffs it from the first line (tab, comma, semicolon, '|').
  char delimiter = 0;
  // RFC 4180 double quotes. Off for formats that never quote, where a '"'
  // at the start of a field is just a character (u.item).
  bool quoting = true;
};

// The whole contents of a regular file, decompressed when it is gzip (its
// name ends in .gz or it starts with 1f 8b: gzip.hpp). Throws NotFound when
// it does not exist, InvalidArgument when it is not a regular file (checked
// before opening, so a FIFO never blocks) or is binary (what_content_is),
// Corruption when it is empty (before or after decompression) or its gzip
// data is corrupt or truncated, IO when it cannot be read.
std::string read_file(const std::filesystem::path& path);

// The most frequent of tab, comma, semicolon and '|' outside quotes on the
// first line; ',' when none occurs.
char sniff_delimiter(std::string_view text);

// "<path>: line <n>: <what>", how every loader names a line.
Error line_error(const std::filesystem::path& path, std::size_t line, ErrorKind kind,
                 std::string_view what);

// Where a text starts in its file: a whole file, or a chunk of one
// (text_chunks.hpp) that starts on `first_line` and, not being the file's
// start, has no byte-order mark to strip.
struct CsvPosition {
  std::size_t first_line = 1;
  bool file_start = true;
};

class CsvReader {
 public:
  // `text` is the file's contents, or a chunk of whole records of it;
  // `path` only names it in messages.
  CsvReader(std::string text, std::filesystem::path path, CsvOptions options = {},
            CsvPosition position = {});
  static CsvReader open(const std::filesystem::path& path, CsvOptions options = {});

  CsvReader(CsvReader&&) noexcept = default;
  CsvReader& operator=(CsvReader&&) noexcept = default;
  CsvReader(const CsvReader&) = delete;
  CsvReader& operator=(const CsvReader&) = delete;

  // The next record's fields, or false at the end of the file. The views
  // point into this reader's buffer and stay valid as long as the reader
  // lives and is not moved (quoted fields are unescaped in place). Throws Corruption on an
  // unterminated quote or text after a closing quote.
  bool next(std::vector<std::string_view>& fields);

  // 1-based line on which the last record returned starts.
  std::size_t line() const noexcept { return record_line_; }
  const std::filesystem::path& path() const noexcept { return path_; }
  // The text, given back for reuse (its contents are no longer the file's:
  // quoted fields are unescaped in place).
  std::string take_text() && { return std::move(text_); }
  char delimiter() const noexcept { return delimiter_; }

  // An Error whose message starts with "<path>: line <n>: ", n being the
  // line of the last record, or `line` when given.
  Error error(ErrorKind kind, std::string_view what) const {
    return error_at(record_line_, kind, what);
  }
  Error error_at(std::size_t line, ErrorKind kind, std::string_view what) const;

 private:
  std::string_view quoted_field(std::size_t field_number);

  std::string text_;
  std::filesystem::path path_;
  char delimiter_ = ',';
  bool quoting_ = true;
  std::size_t pos_ = 0;
  std::size_t line_ = 1;
  std::size_t record_line_ = 0;
};

// A resolved column: its 0-based index and how messages name it
// (`column "rating"` with a header, `column 2` without).
struct CsvColumn {
  std::size_t index = 0;
  std::string label;
};

// What the first record of a file says about all of its records.
struct CsvLayout {
  bool has_header = false;
  std::vector<std::string> header;  // the names, when has_header
  std::size_t field_count = 0;
  std::size_t first_line = 1;  // the line of the first record
};

// A CsvReader whose records must all have as many fields as the first one
// (the header, when there is one).
class CsvTable {
 public:
  // Reads the first record. Throws Corruption when the file has none.
  CsvTable(CsvReader reader, bool header);
  // A later chunk of a file whose first record gave `layout` (which must
  // outlive the table): every record is data, checked against it.
  CsvTable(CsvReader reader, const CsvLayout& layout);

  // Moving would leave header_ pointing into the moved-from reader's buffer.
  CsvTable(const CsvTable&) = delete;
  CsvTable& operator=(const CsvTable&) = delete;

  // Resolves `ref`: a header name, else a 0-based column number. Throws
  // NotFound for an unknown name (listing the header) or a number beyond the
  // field count, InvalidArgument for a name when there is no header.
  // `role` ("user", "rating", ...) names the column in messages.
  CsvColumn column(std::string_view ref, std::string_view role) const;
  // Column `index`; throws NotFound when the rows have fewer fields.
  CsvColumn column(std::size_t index, std::string_view role) const;
  // The first of `names` present in the header, if any.
  std::optional<CsvColumn> find_column(std::span<const std::string_view> names) const;

  // Advances to the next data row; false at the end. Throws Corruption when
  // the row has the wrong number of fields.
  bool next();
  std::string_view field(const CsvColumn& column) const { return fields_[column.index]; }

  bool has_header() const noexcept { return has_header_; }
  std::size_t field_count() const noexcept { return field_count_; }
  const CsvReader& reader() const noexcept { return reader_; }
  CsvLayout layout() const;
  std::string take_text() && { return std::move(reader_).take_text(); }
  std::size_t line() const noexcept { return reader_.line(); }
  Error error(ErrorKind kind, std::string_view what) const { return reader_.error(kind, what); }

 private:
  std::string label(std::size_t index) const;

  CsvReader reader_;
  bool has_header_ = false;
  std::vector<std::string_view> header_;
  std::vector<std::string_view> fields_;
  std::size_t field_count_ = 0;
  std::size_t header_line_ = 1;
  // Without a header the first record, read to learn the field count, is data.
  bool pending_row_ = false;
};

// The non-empty id in `column` of the table's current row, blanks trimmed;
// throws Corruption naming the file, line, role and column for an empty id
// or one that id_problem (vocabulary.hpp) refuses.
std::string_view id_field(const CsvTable& table, const CsvColumn& column, std::string_view role);
// id_field in two steps, for readers that check each distinct id once: the
// trimmed, non-empty text, and the id_problem check.
std::string_view id_text(const CsvTable& table, const CsvColumn& column, std::string_view role);
void check_id(const CsvTable& table, const CsvColumn& column, std::string_view role,
              std::string_view id);

// Column resolution with defaults: an explicit reference `ref`, else the
// first of `names` in the header, else column `index` (required_column) or
// none (optional_column). Throws as CsvTable::column does.
CsvColumn required_column(const CsvTable& table, const std::string& ref, std::string_view role,
                          std::span<const std::string_view> names, std::size_t index);
std::optional<CsvColumn> optional_column(const CsvTable& table, const std::string& ref,
                                         std::string_view role,
                                         std::span<const std::string_view> names);

// `s` without leading and trailing spaces and tabs.
inline std::string_view trim_blanks(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// The number in `column` of the table's current row, blanks trimmed (a
// float must be finite). Otherwise throws Corruption naming the file, line,
// `role` ("rating"), the text and the column: `rating "abc" is not a number`.
// kind: "a number" or "an integer".
template <typename T>
T number_field(const CsvTable& table, const CsvColumn& column, std::string_view role,
               std::string_view kind) {
  const std::string_view text = trim_blanks(table.field(column));
  T value{};
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  bool ok = ec == std::errc() && end == text.data() + text.size();
  if constexpr (std::is_floating_point_v<T>) ok = ok && std::isfinite(value);
  if (!ok) {
    throw table.error(ErrorKind::Corruption,
                      fmt::format("{} \"{}\" is not {} ({})", role, text, kind, column.label));
  }
  return value;
}

}  // namespace latent::detail
