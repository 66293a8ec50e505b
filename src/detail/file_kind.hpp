#pragma once
// How messages name a file of the wrong kind: one that is not a regular file
// (a directory, a FIFO), and one whose bytes are of another format (a NumPy
// array given as a model, a model given as data), so that the error says
// what the file is rather than how a parser failed on it.

#include <sys/stat.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace latent::detail {

// "is a directory", "is a character device", ... for the st_mode of
// anything but a regular file.
inline const char* what_file_is(mode_t mode) noexcept {
  if (S_ISDIR(mode)) return "is a directory";
  if (S_ISCHR(mode)) return "is a character device";
  if (S_ISBLK(mode)) return "is a block device";
  if (S_ISFIFO(mode)) return "is a FIFO";
  if (S_ISSOCK(mode)) return "is a socket";
  if (S_ISLNK(mode)) return "is a symbolic link";
  return "is not a regular file";
}

// A latent model file: a little-endian 8-byte header length of at most
// this, then the JSON header (model_file.cpp), which starts with '{'.
inline constexpr std::uint64_t kMaxModelHeaderBytes = 100u << 20;

inline bool looks_like_latent_model(std::string_view head) noexcept {
  if (head.size() < 9) return false;
  std::uint64_t n = 0;
  std::memcpy(&n, head.data(), 8);
  return n <= kMaxModelHeaderBytes && head[8] == '{';
}

// What the first bytes of a file say it is, for the formats people hand to
// the wrong command; nullptr when they name none of them (text of any kind
// included: CSV, JSON and the like are told apart by their own parsers).
inline const char* what_content_is(std::string_view head) noexcept {
  struct Magic {
    std::string_view bytes;
    const char* kind;
  };
  static constexpr std::array<Magic, 12> kMagics = {{
      {"\x93NUMPY", "a NumPy .npy file"},
      {"\x1f\x8b", "a gzip-compressed file"},
      {"PK\x03\x04", "a ZIP archive (.zip, .npz, .xlsx)"},
      {"PAR1", "a Parquet file"},
      {"ARROW1", "an Arrow IPC file"},
      {"BZh", "a bzip2-compressed file"},
      {std::string_view("\xfd"
                        "7zXZ\0",
                        6),
       "an xz-compressed file"},
      {"\x28\xb5\x2f\xfd", "a zstd-compressed file"},
      {std::string_view("SQLite format 3\0", 16), "an SQLite database"},
      {"\x7f"
       "ELF",
       "an executable (ELF)"},
      {"\xff\xfe", "UTF-16 text (convert it to UTF-8: iconv -f UTF-16 -t UTF-8)"},
      {"\xfe\xff", "UTF-16 text (convert it to UTF-8: iconv -f UTF-16 -t UTF-8)"},
  }};
  for (const auto& m : kMagics) {
    if (head.starts_with(m.bytes)) return m.kind;
  }
  if (looks_like_latent_model(head)) return "a latent model file";
  // Text has few control characters (a stray NUL is left for the parser to
  // name its line); random or compressed bytes have one in eight, UTF-16
  // without a BOM one NUL in two.
  const std::string_view sample = head.substr(0, 4096);
  std::size_t controls = 0;
  for (const char c : sample) {
    const auto u = static_cast<unsigned char>(c);
    controls += u < 0x20 && u != '\t' && u != '\n' && u != '\r' && u != '\f' && u != '\v';
  }
  if (controls >= 8 && controls * 100 > sample.size()) return "binary data of an unknown kind";
  return nullptr;
}

}  // namespace latent::detail
