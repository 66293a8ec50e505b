#pragma once
// MappedFile: a read-only memory map of a whole file, unmapped on destruction.
// Header-only because the build compiles src/*.cpp only.
//
// Readers copy what they need out of the map and validate every size against
// bytes().size() first. A file truncated by another process while mapped
// would still fault (SIGBUS); latent's own writers never do that, since they
// replace files by rename.

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <filesystem>
#include <string_view>
#include <utility>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <latent/error.hpp>

namespace latent::detail {

class MappedFile {
 public:
  explicit MappedFile(const std::filesystem::path& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw_errno(path, "cannot open");
    // The mapping outlives the descriptor, so close it on every path.
    struct FdCloser {
      int fd;
      ~FdCloser() { ::close(fd); }
    } closer{fd};

    struct stat st {};
    if (::fstat(fd, &st) != 0) throw_errno(path, "cannot stat");
    if (!S_ISREG(st.st_mode)) {
      throw Error(ErrorKind::IO, fmt::format("{}: not a regular file", path.string()));
    }
    size_ = static_cast<std::size_t>(st.st_size);
    // mmap rejects a zero length; an empty file is simply an empty view.
    if (size_ == 0) return;
    void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) throw_errno(path, "cannot map");
    data_ = static_cast<const char*>(p);
  }

  ~MappedFile() {
    if (data_ != nullptr) ::munmap(const_cast<char*>(data_), size_);
  }
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  std::string_view bytes() const noexcept { return {data_, size_}; }

 private:
  [[noreturn]] static void throw_errno(const std::filesystem::path& path, const char* what) {
    const int err = errno;
    throw Error(err == ENOENT ? ErrorKind::NotFound : ErrorKind::IO,
                fmt::format("{}: {}: {}", path.string(), what, std::strerror(err)));
  }

  const char* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace latent::detail
