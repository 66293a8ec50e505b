#pragma once
// gzip input (zlib) for the data loaders. read_file (csv.hpp) decompresses
// every data file whose name ends in ".gz" or whose bytes start with the gzip
// magic 1f 8b, so CSV/TSV, the MovieLens layouts, user-lines files and
// read_split all read gzip the same way.
//
// The whole decompressed text is held in memory, as an uncompressed file is;
// a file whose text would exceed the limit (default: half of this machine's
// physical memory) is refused with an error naming the limit, before that
// much is allocated, so a decompression bomb cannot exhaust memory.

#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>

namespace latent::detail {

inline constexpr std::string_view kGzipMagic = "\x1f\x8b";

// Whether read_file decompresses this file: its name ends in ".gz" or
// `bytes` (its contents) start with kGzipMagic.
bool is_gzip(const std::filesystem::path& path, std::string_view bytes) noexcept;

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
