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

// zlib's stream, ended on every path out (inflateEnd frees its window).
class Inflater {
 public:
  explicit Inflater(const fs::path& path) {
    // 15 + 16: a 32 KiB window, gzip wrapper only (not raw deflate or zlib).
    if (inflateInit2(&stream_, 15 + 16) != Z_OK) {
      throw Error(ErrorKind::IO,
                  fmt::format("{}: cannot start gzip decompression (zlib: {})", path.string(),
                              stream_.msg != nullptr ? stream_.msg : "out of memory"));
    }
  }
  ~Inflater() { inflateEnd(&stream_); }
  Inflater(const Inflater&) = delete;
  Inflater& operator=(const Inflater&) = delete;

  z_stream* operator->() noexcept { return &stream_; }
  z_stream* get() noexcept { return &stream_; }

 private:
  z_stream stream_{};
};

std::string gib(std::size_t bytes) {
  return fmt::format("{:.1f} GiB", static_cast<double>(bytes) / static_cast<double>(1ULL << 30));
}

}  // namespace

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
  const auto corrupt = [&](const std::string& what) {
    return Error(ErrorKind::Corruption, fmt::format("{}: {}", path.string(), what));
  };
  if (!bytes.starts_with(kGzipMagic)) {
    throw corrupt(
        "not gzip data: its name ends in .gz, but it does not start with the gzip "
        "magic bytes 1f 8b");
  }

  Inflater z(path);
  const auto* const begin = reinterpret_cast<const Bytef*>(bytes.data());
  std::size_t fed = 0;  // input bytes handed to zlib so far
  const auto consumed = [&] { return fed - z->avail_in; };
  z->next_in = const_cast<Bytef*>(begin);  // zlib's API is not const; it only reads

  // The output grows by doubling up to max_bytes + 1, so a text of exactly
  // max_bytes fits and one byte more is the bomb check.
  std::string out;
  std::size_t produced = 0;
  for (;;) {
    if (z->avail_in == 0 && fed < bytes.size()) {  // avail_in is 32-bit: feed in chunks
      z->next_in = const_cast<Bytef*>(begin + fed);
      z->avail_in = static_cast<uInt>(std::min<std::size_t>(bytes.size() - fed, UINT_MAX));
      fed += z->avail_in;
    }
    if (produced == out.size()) {
      const std::size_t cap = max_bytes == SIZE_MAX ? SIZE_MAX : max_bytes + 1;
      out.resize(std::min(cap, std::max<std::size_t>(out.size() * 2, 1 << 16)));
    }
    z->next_out = reinterpret_cast<Bytef*>(out.data() + produced);
    z->avail_out = static_cast<uInt>(std::min<std::size_t>(out.size() - produced, UINT_MAX));
    const uInt avail_out = z->avail_out;
    const uInt avail_in = z->avail_in;
    const int rc = inflate(z.get(), Z_NO_FLUSH);
    produced += avail_out - z->avail_out;
    if (produced > max_bytes) {
      throw Error(ErrorKind::InvalidArgument,
                  fmt::format("{}: decompresses to more than {} bytes ({}) from {} compressed "
                              "bytes; latent holds a data file's text in memory and refuses "
                              "more than half of this machine's physical memory",
                              path.string(), max_bytes, gib(max_bytes), bytes.size()));
    }

    if (rc == Z_STREAM_END) {
      const std::size_t at = consumed();
      if (at == bytes.size()) break;
      // Concatenated members (cat a.gz b.gz) are one file to gzip -d.
      if (!bytes.substr(at).starts_with(kGzipMagic)) {
        throw corrupt(
            fmt::format("the {} bytes after the end of the gzip data at byte {} are "
                        "not another gzip member",
                        bytes.size() - at, at));
      }
      inflateReset(z.get());
      continue;
    }
    if (rc == Z_DATA_ERROR || rc == Z_NEED_DICT || rc == Z_STREAM_ERROR) {
      throw corrupt(fmt::format("corrupt gzip data at byte {} of the compressed file: {}",
                                consumed(), z->msg != nullptr ? z->msg : "invalid stream"));
    }
    if (rc == Z_MEM_ERROR) {
      throw Error(ErrorKind::IO,
                  fmt::format("{}: out of memory while decompressing gzip", path.string()));
    }
    // Z_OK or Z_BUF_ERROR: zlib wants more input or more room. Without input
    // left and without progress, the stream was cut short.
    const bool progress = z->avail_in != avail_in || z->avail_out != avail_out;
    if (z->avail_in == 0 && fed == bytes.size() && (z->avail_out != 0 || !progress)) {
      throw corrupt(
          fmt::format("truncated gzip data: the file ends at byte {} before the end "
                      "of the compressed stream (cut short?)",
                      bytes.size()));
    }
  }
  out.resize(produced);
  return out;
}

}  // namespace latent::detail
