#include <latent/npy.hpp>

#include <bit>
#include <charconv>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include <latent/error.hpp>

#include "detail/atomic_file.hpp"
#include "detail/file_bytes.hpp"

// '<f4' data is written and read as raw host memory.
static_assert(std::endian::native == std::endian::little,
              ".npy '<f4' data is little-endian; big-endian hosts need byte swapping");

namespace latent {
namespace {

constexpr std::string_view kMagic = "\x93NUMPY";

// numpy's v1.0 layout: magic, version 1.0, u16 header length, then a Python
// dict literal padded with spaces and ending in '\n' so the data starts at a
// multiple of 64 bytes.
std::string npy_header(std::int64_t rows, std::int64_t cols) {
  std::string dict =
      fmt::format("{{'descr': '<f4', 'fortran_order': False, 'shape': ({}, {}), }}", rows, cols);
  const std::size_t prefix = kMagic.size() + 4;
  dict.append((64 - (prefix + dict.size() + 1) % 64) % 64, ' ');
  dict += '\n';
  const auto length = static_cast<std::uint16_t>(dict.size());
  std::string out(kMagic);
  out += '\x01';
  out += '\x00';
  out.append(reinterpret_cast<const char*>(&length), sizeof length);
  return out + dict;
}

struct NpyHeader {
  std::optional<std::string> descr;
  std::optional<bool> fortran_order;
  std::optional<std::vector<std::int64_t>> shape;
};

// Parses the header dict: the small subset of Python literal syntax that
// numpy writes (quoted strings, True/False, tuples of non-negative ints).
class HeaderParser {
 public:
  explicit HeaderParser(std::string_view text) : s_(text) {}

  // nullopt on anything outside that subset, including unknown keys.
  std::optional<NpyHeader> parse() {
    NpyHeader h;
    if (!eat('{')) return std::nullopt;
    while (!eat('}')) {
      const auto key = string();
      if (!key || !eat(':')) return std::nullopt;
      bool ok = false;
      if (*key == "descr") ok = (h.descr = string()).has_value();
      if (*key == "fortran_order") ok = (h.fortran_order = boolean()).has_value();
      if (*key == "shape") ok = (h.shape = tuple()).has_value();
      if (!ok || (!eat(',') && !next_is('}'))) return std::nullopt;
    }
    skip_space();
    if (pos_ != s_.size()) return std::nullopt;
    return h;
  }

 private:
  void skip_space() {
    while (pos_ < s_.size() &&
           (s_[pos_] == ' ' || s_[pos_] == '\n' || s_[pos_] == '\t' || s_[pos_] == '\r')) {
      ++pos_;
    }
  }
  bool next_is(char c) {
    skip_space();
    return pos_ < s_.size() && s_[pos_] == c;
  }
  bool eat(char c) {
    if (!next_is(c)) return false;
    ++pos_;
    return true;
  }
  bool eat_word(std::string_view w) {
    skip_space();
    if (s_.substr(pos_, w.size()) != w) return false;
    pos_ += w.size();
    return true;
  }

  std::optional<std::string> string() {
    skip_space();
    if (pos_ >= s_.size() || (s_[pos_] != '\'' && s_[pos_] != '"')) return std::nullopt;
    const auto end = s_.find(s_[pos_], pos_ + 1);
    if (end == std::string_view::npos) return std::nullopt;
    std::string out(s_.substr(pos_ + 1, end - pos_ - 1));
    pos_ = end + 1;
    return out;
  }

  std::optional<bool> boolean() {
    if (eat_word("True")) return true;
    if (eat_word("False")) return false;
    return std::nullopt;
  }

  std::optional<std::vector<std::int64_t>> tuple() {
    if (!eat('(')) return std::nullopt;
    std::vector<std::int64_t> dims;
    while (!eat(')')) {
      skip_space();
      std::int64_t d = -1;
      const auto [end, ec] = std::from_chars(s_.data() + pos_, s_.data() + s_.size(), d);
      if (ec != std::errc() || d < 0) return std::nullopt;
      pos_ = static_cast<std::size_t>(end - s_.data());
      dims.push_back(d);
      if (!eat(',') && !next_is(')')) return std::nullopt;
    }
    return dims;
  }

  std::string_view s_;
  std::size_t pos_ = 0;
};

template <typename... Args>
[[noreturn]] void fail(ErrorKind kind, const std::filesystem::path& path,
                       fmt::format_string<Args...> f, Args&&... args) {
  throw Error(kind,
              fmt::format("{}: {}", path.string(), fmt::format(f, std::forward<Args>(args)...)));
}

// The header dict and where the data starts, after checking magic and version.
std::pair<std::string_view, std::size_t> split_npy(const std::filesystem::path& path,
                                                   std::string_view bytes) {
  if (bytes.size() < kMagic.size() + 4 || bytes.substr(0, kMagic.size()) != kMagic) {
    fail(ErrorKind::Corruption, path, "not a .npy file (bad magic or too short)");
  }
  const auto major = static_cast<unsigned char>(bytes[6]);
  const auto minor = static_cast<unsigned char>(bytes[7]);
  if ((major != 1 && major != 2) || minor != 0) {
    fail(ErrorKind::Unsupported, path, ".npy version {}.{} is not supported (1.0 and 2.0 are)",
         major, minor);
  }
  // Version 2.0 only widens the header length to 4 bytes.
  const std::size_t width = major == 1 ? 2 : 4;
  if (bytes.size() < 8 + width) fail(ErrorKind::Corruption, path, "truncated .npy header");
  std::uint32_t length = 0;
  std::memcpy(&length, bytes.data() + 8, width);
  const std::size_t start = 8 + width;
  if (length > bytes.size() - start) {
    fail(ErrorKind::Corruption, path, ".npy header length {} exceeds the file ({} bytes)", length,
         bytes.size());
  }
  return {bytes.substr(start, length), start + length};
}

}  // namespace

NpyWriter::NpyWriter(const std::filesystem::path& path, std::int64_t rows, std::int64_t cols)
    : path_(path), rows_(rows), cols_(cols) {
  if (rows < 0 || cols < 0) {
    fail(ErrorKind::InvalidArgument, path, "cannot write a .npy of shape {}x{}", rows, cols);
  }
  auto temp = detail::create_temp_beside(path_);
  file_ = temp.file;
  tmp_ = std::move(temp.path);
  dest_ = std::move(temp.dest);
  // The destructor does not run when a constructor throws.
  try {
    const std::string header = npy_header(rows, cols);
    detail::write_all(file_, header.data(), header.size(), path_);
  } catch (...) {
    detail::discard_temp(file_, tmp_);
    throw;
  }
}

NpyWriter::~NpyWriter() { detail::discard_temp(file_, tmp_); }

void NpyWriter::write_rows(std::span<const float> values) {
  if (file_ == nullptr) {
    fail(ErrorKind::InvalidArgument, path_, "write_rows after finish()");
  }
  if (cols_ == 0 ? !values.empty() : values.size() % static_cast<std::size_t>(cols_) != 0) {
    fail(ErrorKind::InvalidArgument, path_, "{} values are not whole rows of {} columns",
         values.size(), cols_);
  }
  if (cols_ == 0) return;
  const auto n = static_cast<std::int64_t>(values.size()) / cols_;
  if (n > rows_ - written_) {
    fail(ErrorKind::InvalidArgument, path_,
         "{} more rows would exceed the declared {} ({} written)", n, rows_, written_);
  }
  detail::write_all(file_, values.data(), values.size_bytes(), path_);
  written_ += n;
}

void NpyWriter::finish() {
  if (file_ == nullptr) fail(ErrorKind::InvalidArgument, path_, "finish() called twice");
  // A matrix without columns has no values to count rows by.
  if (cols_ != 0 && written_ != rows_) {
    fail(ErrorKind::InvalidArgument, path_, "finish() after {} of {} rows", written_, rows_);
  }
  detail::commit_temp(file_, tmp_, path_, dest_);
  tmp_.clear();  // now the target's name; the destructor must not unlink it
}

void write_npy(const std::filesystem::path& path, const Matrix& m) {
  NpyWriter writer(path, m.rows(), m.cols());
  writer.write_rows(m.values());
  writer.finish();
}

Matrix read_npy(const std::filesystem::path& path) {
  const detail::FileBytes file(path);
  const auto [dict, data_start] = split_npy(path, file.bytes());
  const auto header = HeaderParser(dict).parse();
  if (!header || !header->descr || !header->fortran_order || !header->shape) {
    fail(ErrorKind::Corruption, path, "malformed .npy header dict");
  }
  if (*header->descr != "<f4") {
    fail(ErrorKind::Unsupported, path, "dtype '{}' is not supported; only '<f4' (float32)",
         *header->descr);
  }
  if (*header->fortran_order) {
    fail(ErrorKind::Unsupported, path, "Fortran-order arrays are not supported; only C order");
  }
  const auto& shape = *header->shape;
  if (shape.size() != 2) {
    fail(ErrorKind::Unsupported, path, "array has {} dimensions; only 2-D arrays are supported",
         shape.size());
  }
  const std::size_t data_bytes = file.bytes().size() - data_start;
  std::uint64_t needed = 0;
  if (__builtin_mul_overflow(static_cast<std::uint64_t>(shape[0]),
                             static_cast<std::uint64_t>(shape[1]), &needed) ||
      __builtin_mul_overflow(needed, std::uint64_t{sizeof(float)}, &needed) ||
      needed != data_bytes) {
    fail(ErrorKind::Corruption, path,
         "shape ({}, {}) of float32 does not match the {} data bytes in the file (truncated?)",
         shape[0], shape[1], data_bytes);
  }
  std::vector<float> values(data_bytes / sizeof(float));
  if (data_bytes != 0) std::memcpy(values.data(), file.bytes().data() + data_start, data_bytes);
  return Matrix(shape[0], shape[1], std::move(values));
}

}  // namespace latent
