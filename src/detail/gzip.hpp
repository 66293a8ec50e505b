#pragma once
// gzip input (zlib) for the data loaders. Every data file whose name ends in
// ".gz" or whose bytes start with the gzip magic 1f 8b is decompressed as it
// is read: interaction files chunk by chunk (GzipDecoder, through
// text_chunks.hpp), the files read whole (read_file in csv.hpp: item
// metadata, user-lines files) by gunzip.
//
// gunzip holds the whole decompressed text in memory, as an uncompressed
// file read whole is; a file whose text would exceed the limit (default:
// half of this machine's physical memory) is refused with an error naming
// the limit, before that much is allocated, so a decompression bomb cannot
// exhaust memory. The chunked reader needs no limit: it holds one chunk.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

namespace latent::detail {

inline constexpr std::string_view kGzipMagic = "\x1f\x8b";

// Whether read_file decompresses this file: its name ends in ".gz" or
// `bytes` (its contents) start with kGzipMagic.
bool is_gzip(const std::filesystem::path& path, std::string_view bytes) noexcept;

// A gzip stream decompressed piece by piece: compressed bytes in, text out,
// for files read in chunks. One or more members (concatenated .gz files are
// one text, as with gzip -d). Errors are those of gunzip, with byte offsets
// counted from the start of the compressed file.
class GzipDecoder {
 public:
  // `path` names the file in messages; `file_bytes` is its size, for the
  // count of bytes trailing the last member in that error.
  GzipDecoder(std::filesystem::path path, std::uint64_t file_bytes);
  ~GzipDecoder();
  GzipDecoder(const GzipDecoder&) = delete;
  GzipDecoder& operator=(const GzipDecoder&) = delete;

  // Decompresses from the front of `in` (removing what it consumed) into
  // out[0, room), and returns how many bytes it wrote: fewer than `room`
  // only when it needs more input (`in` is then empty, or holds the first
  // byte of a next member's magic). Throws Corruption for data that is not
  // gzip or is corrupt, or for bytes after a member that do not start
  // another one.
  std::size_t decode(std::string_view& in, char* out, std::size_t room);
  // At the end of the file, with `rest` the input decode left unconsumed:
  // throws Corruption when the stream was cut short (truncated) or `rest`
  // is not another member.
  void finish(std::string_view rest) const;
  // Compressed bytes consumed so far.
  std::uint64_t consumed() const noexcept { return consumed_; }

 private:
  [[noreturn]] void trailing_bytes(std::string_view rest) const;

  struct Stream;
  std::unique_ptr<Stream> z_;
  std::filesystem::path path_;
  std::uint64_t file_bytes_ = 0;
  std::uint64_t consumed_ = 0;
  bool started_ = false;     // the first member's magic was checked
  bool member_end_ = false;  // between members (or at the end)
};

// Half of the physical memory (sysconf), the default limit of gunzip.
std::size_t default_gunzip_limit() noexcept;

// The decompressed contents of `bytes`, a gzip file of one or more members
// (concatenated .gz files decompress to the concatenated texts, as with
// gzip -d). `path` only names the file in messages. Throws
//   Corruption naming the file for data that is not gzip, and the byte
//     offset in `bytes` for data that is corrupt (a bad header, block or
//     CRC-32, with zlib's message), truncated (the file ends before the
//     stream does), or followed by bytes that are not another gzip member;
//   InvalidArgument naming the file and the limit when the text would be
//     longer than max_bytes.
std::string gunzip(std::string_view bytes, const std::filesystem::path& path,
                   std::size_t max_bytes = default_gunzip_limit());

}  // namespace latent::detail
