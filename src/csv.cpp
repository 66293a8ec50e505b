#include "detail/csv.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <utility>

#include <fmt/format.h>

#include <latent/vocabulary.hpp>

#include "detail/file_bytes.hpp"
#include "detail/file_kind.hpp"
#include "detail/gzip.hpp"

namespace latent::detail {

namespace fs = std::filesystem;

namespace {
std::string printable(char c) {
  if (c >= 0x20 && c < 0x7f) return fmt::format("'{}'", c);
  return fmt::format("byte 0x{:02x}", static_cast<unsigned char>(c));
}
}  // namespace

std::string read_file(const fs::path& path) {
  // stat before open: opening a FIFO blocks until a writer comes, and a
  // device reads forever (/dev/zero) or reports no size (/dev/null).
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT || errno == ENOTDIR) {
      throw Error(ErrorKind::NotFound, fmt::format("{}: no such file", path.string()));
    }
    throw Error(ErrorKind::IO,
                fmt::format("{}: cannot read: {}", path.string(), std::strerror(errno)));
  }
  if (!S_ISREG(st.st_mode)) {
    throw Error(ErrorKind::InvalidArgument, fmt::format("{}: {}, expected a regular file",
                                                        path.string(), what_file_is(st.st_mode)));
  }
  std::string text = detail::FileBytes(path).take();
  if (text.empty()) {
    throw Error(ErrorKind::Corruption, fmt::format("{}: the file is empty", path.string()));
  }
  // The one place data files are read: every loader gets gzip this way.
  const bool compressed = is_gzip(path, text);
  if (compressed) {
    text = gunzip(text, path);
    if (text.empty()) {
      throw Error(ErrorKind::Corruption,
                  fmt::format("{}: the file is empty once decompressed (gzip)", path.string()));
    }
  }
  if (const char* kind = what_content_is(text)) {
    throw Error(ErrorKind::InvalidArgument,
                fmt::format("{}: this is {}{}, not a text file of rows (CSV, TSV)", path.string(),
                            kind, compressed ? " once decompressed (gzip)" : ""));
  }
  return text;
}

char sniff_delimiter(std::string_view text) {
  constexpr std::array<char, 4> kCandidates = {'\t', ',', ';', '|'};
  std::array<std::size_t, kCandidates.size()> counts{};
  bool quoted = false;
  for (const char c : text) {
    if (c == '"') quoted = !quoted;  // a doubled quote toggles twice
    if (quoted) continue;
    if (c == '\n') break;
    for (std::size_t i = 0; i < kCandidates.size(); ++i) counts[i] += c == kCandidates[i];
  }
  std::size_t best = 1;  // ',' when nothing separates the first line
  for (std::size_t i = 0; i < kCandidates.size(); ++i) {
    if (counts[i] > counts[best]) best = i;
  }
  return kCandidates[best];
}

Error line_error(const fs::path& path, std::size_t line, ErrorKind kind, std::string_view what) {
  return Error(kind, fmt::format("{}: line {}: {}", path.string(), line, what));
}

CsvReader::CsvReader(std::string text, fs::path path, CsvOptions options, CsvPosition position)
    : text_(std::move(text)),
      path_(std::move(path)),
      quoting_(options.quoting),
      line_(position.first_line) {
  constexpr std::string_view kBom = "\xEF\xBB\xBF";
  if (position.file_start && std::string_view(text_).starts_with(kBom)) pos_ = kBom.size();
  delimiter_ = options.delimiter != 0 ? options.delimiter
                                      : sniff_delimiter(std::string_view(text_).substr(pos_));
  if (delimiter_ == '\n' || delimiter_ == '\r' || (quoting_ && delimiter_ == '"')) {
    throw Error(ErrorKind::InvalidArgument,
                fmt::format("{}: invalid delimiter {}", path_.string(), printable(delimiter_)));
  }
}

CsvReader CsvReader::open(const fs::path& path, CsvOptions options) {
  return CsvReader(read_file(path), path, options);
}

Error CsvReader::error_at(std::size_t line, ErrorKind kind, std::string_view what) const {
  return line_error(path_, line, kind, what);
}

bool CsvReader::next(std::vector<std::string_view>& fields) {
  fields.clear();
  const std::size_t n = text_.size();
  while (pos_ < n) {  // blank lines, including trailing ones, hold no record
    if (text_[pos_] == '\n') {
      ++pos_;
      ++line_;
    } else if (text_[pos_] == '\r' && (pos_ + 1 == n || text_[pos_ + 1] == '\n')) {
      ++pos_;
    } else {
      break;
    }
  }
  if (pos_ >= n) return false;
  record_line_ = line_;

  for (;;) {
    if (quoting_ && pos_ < n && text_[pos_] == '"') {
      fields.push_back(quoted_field(fields.size()));
    } else {
      // The hot loop of every loader: locals, not members, so nothing is
      // reloaded or stored per byte.
      const char* const start = text_.data() + pos_;
      const char* const limit = text_.data() + n;
      const char delimiter = delimiter_;
      const char* p = start;
      while (p != limit && *p != delimiter && *p != '\n') ++p;
      pos_ = static_cast<std::size_t>(p - text_.data());
      if (p != start && p[-1] == '\r' && (p == limit || *p == '\n')) --p;
      fields.emplace_back(start, static_cast<std::size_t>(p - start));
    }
    if (pos_ == n) return true;
    const char c = text_[pos_];
    if (c == delimiter_) {
      ++pos_;
      continue;
    }
    // Only a quoted field can stop on '\r' (unquoted ones absorb it above).
    const bool crlf = c == '\r' && (pos_ + 1 == n || text_[pos_ + 1] == '\n');
    if (c == '\n' || crlf) {
      pos_ += crlf && pos_ + 1 < n ? 2 : 1;
      ++line_;
      return true;
    }
    throw error(ErrorKind::Corruption,
                fmt::format("unexpected {} after the closing quote of field {} (0-based)",
                            printable(c), fields.size() - 1));
  }
}

std::string_view CsvReader::quoted_field(std::size_t field_number) {
  const std::size_t n = text_.size();
  const std::size_t open_line = line_;
  // Unescaping never lengthens the field, so it is written over its own
  // raw text, starting at the opening quote: no allocation per field.
  const std::size_t start = pos_++;
  std::size_t out = start;
  for (;;) {
    if (pos_ == n) {
      throw error_at(open_line, ErrorKind::Corruption,
                     fmt::format("unterminated quote in field {} (0-based)", field_number));
    }
    const char c = text_[pos_++];
    if (c == '"') {
      if (pos_ == n || text_[pos_] != '"') break;
      ++pos_;
    } else if (c == '\n') {
      ++line_;
    }
    text_[out++] = c;
  }
  return {text_.data() + start, out - start};
}

CsvTable::CsvTable(CsvReader reader, bool header)
    : reader_(std::move(reader)), has_header_(header) {
  if (!reader_.next(fields_)) {
    throw Error(ErrorKind::Corruption,
                fmt::format("{}: the file is empty", reader_.path().string()));
  }
  header_line_ = reader_.line();
  field_count_ = fields_.size();
  if (header) {
    header_ = fields_;
  } else {
    pending_row_ = true;
  }
}

CsvTable::CsvTable(CsvReader reader, const CsvLayout& layout)
    : reader_(std::move(reader)),
      has_header_(layout.has_header),
      header_(layout.header.begin(), layout.header.end()),
      field_count_(layout.field_count),
      header_line_(layout.first_line) {}

CsvLayout CsvTable::layout() const {
  return {has_header_, {header_.begin(), header_.end()}, field_count_, header_line_};
}

std::string CsvTable::label(std::size_t index) const {
  return has_header_ ? fmt::format("column \"{}\"", header_[index])
                     : fmt::format("column {}", index);
}

CsvColumn CsvTable::column(std::size_t index, std::string_view role) const {
  if (index >= field_count_) {
    throw reader_.error_at(
        header_line_, ErrorKind::NotFound,
        fmt::format("{} column {} is beyond the {} fields of the line", role, index, field_count_));
  }
  return {index, label(index)};
}

CsvColumn CsvTable::column(std::string_view ref, std::string_view role) const {
  for (std::size_t i = 0; i < header_.size(); ++i) {
    if (header_[i] == ref) return {i, label(i)};
  }
  std::size_t index = 0;
  const auto [end, ec] = std::from_chars(ref.data(), ref.data() + ref.size(), index);
  if (ec == std::errc() && end == ref.data() + ref.size()) return column(index, role);
  if (!has_header_) {
    throw reader_.error_at(header_line_, ErrorKind::InvalidArgument,
                           fmt::format("{} column \"{}\" is not a 0-based column number, and "
                                       "the file has no header to find a name in",
                                       role, ref));
  }
  throw reader_.error_at(header_line_, ErrorKind::NotFound,
                         fmt::format("{} column \"{}\" not found; the header has: {}", role, ref,
                                     fmt::join(header_, ", ")));
}

std::optional<CsvColumn> CsvTable::find_column(std::span<const std::string_view> names) const {
  for (const std::string_view name : names) {
    for (std::size_t i = 0; i < header_.size(); ++i) {
      if (header_[i] == name) return CsvColumn{i, label(i)};
    }
  }
  return std::nullopt;
}

bool CsvTable::next() {
  if (pending_row_) {
    pending_row_ = false;
    return true;
  }
  if (!reader_.next(fields_)) return false;
  if (fields_.size() != field_count_) {
    throw reader_.error(ErrorKind::Corruption,
                        fmt::format("expected {} fields (as on line {}), found {}", field_count_,
                                    header_line_, fields_.size()));
  }
  return true;
}

std::string_view id_text(const CsvTable& table, const CsvColumn& column, std::string_view role) {
  const std::string_view id = trim_blanks(table.field(column));
  if (id.empty()) {
    throw table.error(ErrorKind::Corruption, fmt::format("empty {} id ({})", role, column.label));
  }
  return id;
}

void check_id(const CsvTable& table, const CsvColumn& column, std::string_view role,
              std::string_view id) {
  if (const std::string problem = id_problem(id); !problem.empty()) {
    throw table.error(
        ErrorKind::Corruption,
        fmt::format("{} id \"{}\" {} ({}){}", role, printable_id(id), problem, column.label,
                    problem.find("UTF-8") == std::string::npos
                        ? ""
                        : "; latent reads data as UTF-8: convert the file, e.g. iconv -f "
                          "latin1 -t utf-8"));
  }
}

std::string_view id_field(const CsvTable& table, const CsvColumn& column, std::string_view role) {
  const std::string_view id = id_text(table, column, role);
  check_id(table, column, role, id);
  return id;
}

// Explicit reference, else the first of `names` in the header, else `index`.
CsvColumn required_column(const CsvTable& table, const std::string& ref, std::string_view role,
                          std::span<const std::string_view> names, std::size_t index) {
  if (!ref.empty()) return table.column(ref, role);
  if (auto found = table.find_column(names)) return *found;
  return table.column(index, role);
}

std::optional<CsvColumn> optional_column(const CsvTable& table, const std::string& ref,
                                         std::string_view role,
                                         std::span<const std::string_view> names) {
  if (!ref.empty()) return table.column(ref, role);
  return table.find_column(names);
}

}  // namespace latent::detail
