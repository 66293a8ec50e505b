#pragma once
// Atomic replacement of a file: write a temporary file in the target's
// directory (rename is only atomic within one file system), fsync it, then
// rename it over the target. Readers see the old file or the complete new
// one, never a prefix, and a failed write leaves the target untouched.
// Header-only because the build compiles src/*.cpp only.
//
// The free functions serve classes whose state is already fixed by a public
// header (NpyWriter); AtomicFile bundles them for everything else.
//
// A symlink target is followed: the file it leads to is replaced (the temp
// file goes beside that file) and the link is kept. Anything but a regular
// file (a device, FIFO, socket or directory) is refused, as the rename would
// replace the node itself.

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <latent/error.hpp>

#include "detail/file_kind.hpp"

namespace latent::detail {

[[noreturn]] inline void throw_io(const std::filesystem::path& target, std::string_view what,
                                  int err) {
  throw Error(ErrorKind::IO, fmt::format("{}: {}: {}", target.string(), what, std::strerror(err)));
}

// The file a write to `target` replaces: `target` itself, or the file a
// symlink there leads to (through a chain of links), which need not exist
// yet. Throws InvalidArgument naming `target` when that is not a regular file.
inline std::filesystem::path write_destination(const std::filesystem::path& target) {
  std::filesystem::path dest = target;
  for (int links = 0;; ++links) {
    struct stat st {};
    if (::lstat(dest.c_str(), &st) != 0) {
      // A new file; a missing directory is reported when the temp file is made.
      if (errno == ENOENT || errno == ENOTDIR) return dest;
      throw_io(target, "cannot inspect the output path", errno);
    }
    if (S_ISREG(st.st_mode)) return dest;
    if (!S_ISLNK(st.st_mode)) {
      const std::string via =
          dest == target ? "" : fmt::format("leads to {}, which ", dest.string());
      throw Error(ErrorKind::InvalidArgument,
                  fmt::format("{}: {}{}, not a regular file; refusing to write over it",
                              target.string(), via, what_file_is(st.st_mode)));
    }
    if (links == 40) throw_io(target, "cannot follow the symbolic link", ELOOP);
    std::error_code ec;
    const std::filesystem::path link = std::filesystem::read_symlink(dest, ec);
    if (ec) throw_io(target, "cannot follow the symbolic link", ec.value());
    dest = link.is_absolute() ? link : dest.parent_path() / link;
  }
}

struct TempFile {
  std::FILE* file = nullptr;
  std::filesystem::path path;
  // The file the rename replaces: write_destination(target).
  std::filesystem::path dest;
};

// Creates a new, empty temporary file beside write_destination(`target`).
// The mode is 0666 minus the umask, as for any newly created file (mkstemp
// would force 0600).
inline TempFile create_temp_beside(const std::filesystem::path& target) {
  static std::atomic<unsigned> counter{0};
  std::filesystem::path dest = write_destination(target);
  const std::filesystem::path dir = dest.parent_path();
  for (int attempt = 0;; ++attempt) {
    // pid separates processes, the counter threads; O_EXCL settles the rest.
    const std::string name =
        fmt::format(".{}.tmp.{}.{}", dest.filename().string(), ::getpid(), counter.fetch_add(1));
    const std::filesystem::path tmp = dir / name;
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0) {
      if (errno == EEXIST && attempt < 100) continue;
      throw_io(target, fmt::format("cannot create temporary file {}", tmp.string()), errno);
    }
    std::FILE* file = ::fdopen(fd, "wb");
    if (file == nullptr) {
      const int err = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      throw_io(target, "cannot open temporary file", err);
    }
    return {file, tmp, std::move(dest)};
  }
}

inline void write_all(std::FILE* file, const void* data, std::size_t size,
                      const std::filesystem::path& target) {
  if (size == 0) return;
  errno = 0;
  if (std::fwrite(data, 1, size, file) != size) {
    throw_io(target, "write failed", errno != 0 ? errno : EIO);
  }
}

// Closes and deletes the temporary file; for cleanup paths, so it never throws.
inline void discard_temp(std::FILE*& file, const std::filesystem::path& tmp) noexcept {
  if (file != nullptr) std::fclose(file);
  file = nullptr;
  if (!tmp.empty()) ::unlink(tmp.c_str());
}

// Flushes, fsyncs and renames the temporary file over `dest` (TempFile::dest;
// messages name `target`). On failure the temporary file is removed and
// Error(IO) is thrown; `file` is closed and null afterwards either way.
inline void commit_temp(std::FILE*& file, const std::filesystem::path& tmp,
                        const std::filesystem::path& target, const std::filesystem::path& dest) {
  int err = 0;
  const char* what = nullptr;
  const auto fail = [&](const char* step) {
    if (what != nullptr) return;  // keep the first failure
    err = errno;
    what = step;
  };
  // Without fsync a crash after the rename could expose an empty file.
  if (std::fflush(file) != 0) {
    fail("write failed");
  } else if (::fsync(::fileno(file)) != 0) {
    fail("fsync failed");
  }
  if (std::fclose(file) != 0) fail("close failed");
  file = nullptr;
  if (what == nullptr && std::rename(tmp.c_str(), dest.c_str()) != 0) {
    fail("cannot rename temporary file into place");
  }
  if (what != nullptr) {
    ::unlink(tmp.c_str());
    throw_io(target, what, err);
  }
  // Persist the rename itself; best effort, as some file systems refuse
  // fsync on directories and the data is already safe.
  const std::filesystem::path dir = dest.parent_path().empty() ? "." : dest.parent_path();
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

class AtomicFile {
 public:
  explicit AtomicFile(std::filesystem::path target)
      : target_(std::move(target)), temp_(create_temp_beside(target_)) {}
  ~AtomicFile() { discard_temp(temp_.file, temp_.path); }
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(const void* data, std::size_t size) { write_all(temp_.file, data, size, target_); }
  void write(std::string_view s) { write(s.data(), s.size()); }

  void commit() {
    commit_temp(temp_.file, temp_.path, target_, temp_.dest);
    temp_.path.clear();  // now the target's name; the destructor must not unlink it
  }

 private:
  std::filesystem::path target_;
  TempFile temp_;
};

}  // namespace latent::detail
