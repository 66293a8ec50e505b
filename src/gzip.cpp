#include "detail/gzip.hpp"

#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <climits>
#include <cstdint>

#include <fmt/format.h>

#include <latent/error.hpp>

namespace latent::detail {

namespace fs = std::filesystem;

namespace {

std::string gib(std::size_t bytes) {
  return fmt::format("{:.1f} GiB", static_cast<double>(bytes) / static_cast<double>(1ULL << 30));
}

}  // namespace

// zlib's stream, ended on every path out (inflateEnd frees its window).
struct GzipDecoder::Stream {
  z_stream s{};
};

GzipDecoder::GzipDecoder(fs::path path, std::uint64_t file_bytes)
    : z_(std::make_unique<Stream>()), path_(std::move(path)), file_bytes_(file_bytes) {
  // 15 + 16: a 32 KiB window, gzip wrapper only (not raw deflate or zlib).
  if (inflateInit2(&z_->s, 15 + 16) != Z_OK) {
    throw Error(ErrorKind::IO,
                fmt::format("{}: cannot start gzip decompression (zlib: {})", path_.string(),
                            z_->s.msg != nullptr ? z_->s.msg : "out of memory"));
  }
}

GzipDecoder::~GzipDecoder() { inflateEnd(&z_->s); }

void GzipDecoder::trailing_bytes(std::string_view rest) const {
  // The file's size as checked; a file that grew since is counted by `rest`.
  const std::uint64_t trailing =
      std::max<std::uint64_t>(file_bytes_ > consumed_ ? file_bytes_ - consumed_ : 0, rest.size());
  throw Error(ErrorKind::Corruption,
              fmt::format("{}: the {} bytes after the end of the gzip data at byte {} are not "
                          "another gzip member",
                          path_.string(), trailing, consumed_));
}

namespace {
[[noreturn]] void not_gzip(const fs::path& path) {
  throw Error(ErrorKind::Corruption,
              fmt::format("{}: not gzip data: its name ends in .gz, but it does not start with "
                          "the gzip magic bytes 1f 8b",
                          path.string()));
}
}  // namespace

std::size_t GzipDecoder::decode(std::string_view& in, char* out, std::size_t room) {
  z_stream& z = z_->s;
  std::size_t produced = 0;
  while (produced < room) {
    if (!started_ || member_end_) {
      // Between members: another one starts here, or the input is junk. A
      // lone first byte of the magic waits for the next piece of input.
      const bool partial = in.size() < kGzipMagic.size() && kGzipMagic.starts_with(in);
      if (in.empty() || partial) break;
      if (!in.starts_with(kGzipMagic)) {
        if (!started_) not_gzip(path_);
        trailing_bytes(in);
      }
      if (member_end_) inflateReset(&z);
      started_ = true;
      member_end_ = false;
    }
    // zlib's API is not const; it only reads the input. Its counts are
    // 32-bit: big pieces go in several calls.
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    z.avail_in = static_cast<uInt>(std::min<std::size_t>(in.size(), UINT_MAX));
    z.next_out = reinterpret_cast<Bytef*>(out + produced);
    z.avail_out = static_cast<uInt>(std::min<std::size_t>(room - produced, UINT_MAX));
    const uInt avail_in = z.avail_in;
    const uInt avail_out = z.avail_out;
    const int rc = inflate(&z, Z_NO_FLUSH);
    const std::size_t used = avail_in - z.avail_in;
    const std::size_t made = avail_out - z.avail_out;
    in.remove_prefix(used);
    consumed_ += used;
    produced += made;
    if (rc == Z_STREAM_END) {
      member_end_ = true;
      continue;
    }
    if (rc == Z_DATA_ERROR || rc == Z_NEED_DICT || rc == Z_STREAM_ERROR) {
      throw Error(
          ErrorKind::Corruption,
          fmt::format("{}: corrupt gzip data at byte {} of the compressed file: {}", path_.string(),
                      consumed_, z.msg != nullptr ? z.msg : "invalid stream"));
    }
    if (rc == Z_MEM_ERROR) {
      throw Error(ErrorKind::IO,
                  fmt::format("{}: out of memory while decompressing gzip", path_.string()));
    }
    // Z_OK or Z_BUF_ERROR: without progress, zlib needs more input.
    if (used == 0 && made == 0) break;
  }
  return produced;
}

void GzipDecoder::finish(std::string_view rest) const {
  if (!started_) not_gzip(path_);
  if (!member_end_) {
    throw Error(ErrorKind::Corruption,
                fmt::format("{}: truncated gzip data: the file ends at byte {} before the end of "
                            "the compressed stream (cut short?)",
                            path_.string(), file_bytes_));
  }
  if (!rest.empty()) trailing_bytes(rest);
}

bool is_gzip(const fs::path& path, std::string_view bytes) noexcept {
  return path.extension() == ".gz" || bytes.starts_with(kGzipMagic);
}

std::size_t default_gunzip_limit() noexcept {
  const long pages = ::sysconf(_SC_PHYS_PAGES);
  const long page_size = ::sysconf(_SC_PAGESIZE);
  // Unknown memory: 8 GiB, more than any data set latent trains on in memory.
  if (pages <= 0 || page_size <= 0) return std::size_t{8} << 30;
  return static_cast<std::size_t>(pages) / 2 * static_cast<std::size_t>(page_size);
}

std::string gunzip(std::string_view bytes, const fs::path& path, std::size_t max_bytes) {
  GzipDecoder decoder(path, bytes.size());
  // The output grows by doubling up to max_bytes + 1, so a text of exactly
  // max_bytes fits and one byte more is the bomb check.
  std::string out;
  std::size_t produced = 0;
  std::string_view in = bytes;
  for (;;) {
    if (produced == out.size()) {
      const std::size_t cap = max_bytes == SIZE_MAX ? SIZE_MAX : max_bytes + 1;
      out.resize(std::min(cap, std::max<std::size_t>(out.size() * 2, 1 << 16)));
    }
    produced += decoder.decode(in, out.data() + produced, out.size() - produced);
    if (produced > max_bytes) {
      throw Error(ErrorKind::InvalidArgument,
                  fmt::format("{}: decompresses to more than {} bytes ({}) from {} compressed "
                              "bytes; latent holds this file's text in memory and refuses "
                              "more than half of this machine's physical memory",
                              path.string(), max_bytes, gib(max_bytes), bytes.size()));
    }
    // Short of the room: the decoder wants more input, and there is none.
    if (produced < out.size()) break;
  }
  decoder.finish(in);
  out.resize(produced);
  return out;
}

}  // namespace latent::detail
