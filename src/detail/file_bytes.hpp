#pragma once
// FileBytes: a whole file read into memory the object owns.
// Header-only because the build compiles src/*.cpp only.
//
// Not a memory map: files under a served model's base path are written by
// other tools, and a writer that truncates and rewrites a file in place
// while it is mapped makes every touch past the new end fault (SIGBUS, the
// end of the server). Read into owned memory, a file that shrinks while it
// is read just comes out short, and the readers' size checks refuse it.
// Readers validate every size against bytes().size() before copying.

#include <array>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <filesystem>
#include <string>
#include <string_view>
#include <utility>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <latent/error.hpp>

#include "detail/file_kind.hpp"

namespace latent::detail {

class FileBytes {
 public:
  explicit FileBytes(const std::filesystem::path& path) {
    // O_NONBLOCK: open() of a FIFO would wait for a writer; refused below.
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) throw_errno(path, "cannot open");
    struct FdCloser {
      int fd;
      ~FdCloser() { ::close(fd); }
    } closer{fd};

    struct stat st {};
    if (::fstat(fd, &st) != 0) throw_errno(path, "cannot stat");
    if (!S_ISREG(st.st_mode)) {
      throw Error(ErrorKind::IO, fmt::format("{}: {}, not a regular file", path.string(),
                                             what_file_is(st.st_mode)));
    }
    // Reads of a regular file do not block anyway; cleared for clarity.
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    data_.reserve(static_cast<std::size_t>(st.st_size));
    // To the end, whatever the size was: a file that shrinks while read
    // comes out short, and the readers' size checks refuse it.
    std::array<char, 1 << 16> buffer;
    for (;;) {
      const ssize_t n = ::read(fd, buffer.data(), buffer.size());
      if (n == 0) break;
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) throw_errno(path, "cannot read");
      data_.append(buffer.data(), static_cast<std::size_t>(n));
    }
  }

  FileBytes(const FileBytes&) = delete;
  FileBytes& operator=(const FileBytes&) = delete;

  std::string_view bytes() const noexcept { return data_; }
  // The bytes, moved out (the CSV reader keeps them as its text).
  std::string take() && { return std::move(data_); }

 private:
  [[noreturn]] static void throw_errno(const std::filesystem::path& path, const char* what) {
    const int err = errno;
    throw Error(err == ENOENT ? ErrorKind::NotFound : ErrorKind::IO,
                fmt::format("{}: {}: {}", path.string(), what, std::strerror(err)));
  }

  std::string data_;
};

}  // namespace latent::detail
