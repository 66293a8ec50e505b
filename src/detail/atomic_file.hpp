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
//
// Temporary files are named `.NAME.tmp.<pid>.<n>`. Each one in progress is
// listed in a fixed-size registry, so a signal handler can unlink them
// (remove_temp_files_on_signal in <latent/atomic_output.hpp>); those left by
// a killed process are removed by the next write to their directory.

#include <array>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <climits>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
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

// The temporary files of this process that a signal handler should unlink.
// Fixed size and lock-free, so the handler may read it: a slot goes
// kFree -> kFilling -> kListed when a file is made, back to kFree when it is
// committed or discarded, or kListed -> kClaimed when the handler takes it
// (after which only the handler touches it). A path that does not fit, or a
// full registry, goes unlisted; the stale-file cleanup still catches it.
struct TempRegistry {
  static constexpr int kFree = 0, kFilling = 1, kListed = 2, kClaimed = 3;
  static constexpr std::size_t kSlots = 64;
  static constexpr std::size_t kPathBytes = 4096;  // PATH_MAX on Linux
  std::array<std::atomic<int>, kSlots> state{};
  std::array<std::array<char, kPathBytes>, kSlots> path{};
};
constinit inline TempRegistry temp_registry{};

inline void list_temp(const std::filesystem::path& tmp) noexcept {
  const std::string& p = tmp.native();
  if (p.size() >= TempRegistry::kPathBytes) return;
  for (std::size_t i = 0; i < TempRegistry::kSlots; ++i) {
    int expected = TempRegistry::kFree;
    if (temp_registry.state[i].compare_exchange_strong(expected, TempRegistry::kFilling)) {
      std::memcpy(temp_registry.path[i].data(), p.c_str(), p.size() + 1);
      temp_registry.state[i].store(TempRegistry::kListed, std::memory_order_release);
      return;
    }
  }
}

inline void unlist_temp(const std::filesystem::path& tmp) noexcept {
  for (std::size_t i = 0; i < TempRegistry::kSlots; ++i) {
    if (temp_registry.state[i].load(std::memory_order_acquire) != TempRegistry::kListed ||
        std::strcmp(temp_registry.path[i].data(), tmp.c_str()) != 0) {
      continue;
    }
    int expected = TempRegistry::kListed;
    if (temp_registry.state[i].compare_exchange_strong(expected, TempRegistry::kFilling)) {
      temp_registry.path[i][0] = '\0';
      temp_registry.state[i].store(TempRegistry::kFree, std::memory_order_release);
    }
    return;
  }
}

// For a signal handler: unlinks every listed temporary file. Async-signal-safe.
inline void unlink_listed_temps() noexcept {
  for (std::size_t i = 0; i < TempRegistry::kSlots; ++i) {
    int expected = TempRegistry::kListed;
    if (temp_registry.state[i].compare_exchange_strong(expected, TempRegistry::kClaimed)) {
      ::unlink(temp_registry.path[i].data());
    }
  }
}

// The pid in a temporary file name `.NAME.tmp.<pid>.<n>`, or 0 when `name`
// is not one.
inline pid_t temp_file_pid(std::string_view name) noexcept {
  const auto all_digits = [](std::string_view s) {
    return !s.empty() && s.find_first_not_of("0123456789") == std::string_view::npos;
  };
  std::size_t dot = name.rfind('.');
  if (dot == std::string_view::npos || !all_digits(name.substr(dot + 1))) return 0;
  name = name.substr(0, dot);
  dot = name.rfind('.');
  if (dot == std::string_view::npos) return 0;
  const std::string_view digits = name.substr(dot + 1);
  name = name.substr(0, dot);
  constexpr std::string_view kTmp = ".tmp";
  if (!all_digits(digits) || name.size() <= kTmp.size() + 1 || name.front() != '.' ||
      !name.ends_with(kTmp)) {
    return 0;
  }
  long long pid = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), pid);
  if (ec != std::errc() || pid <= 0 || pid > INT_MAX) return 0;
  return static_cast<pid_t>(pid);
}

// Removes from `dir` the temporary files of processes that no longer run
// (killed by SIGKILL, or a crash, mid-write). Best effort; never throws.
inline void remove_stale_temps(const std::filesystem::path& dir) noexcept {
  DIR* d = ::opendir(dir.empty() ? "." : dir.c_str());
  if (d == nullptr) return;
  const int dfd = ::dirfd(d);
  const pid_t self = ::getpid();
  while (const dirent* entry = ::readdir(d)) {
    const pid_t pid = temp_file_pid(entry->d_name);
    if (pid == 0 || pid == self) continue;
    // EPERM means alive (another user's); only ESRCH says it is gone.
    if (::kill(pid, 0) == 0 || errno != ESRCH) continue;
    struct stat st {};
    if (::fstatat(dfd, entry->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode)) {
      ::unlinkat(dfd, entry->d_name, 0);
    }
  }
  ::closedir(d);
}

struct TempFile {
  std::FILE* file = nullptr;
  std::filesystem::path path;
  // The file the rename replaces: write_destination(target).
  std::filesystem::path dest;
};

// Creates a new, empty temporary file beside write_destination(`target`),
// after removing stale temporary files there. The mode is 0666 minus the
// umask, as for any newly created file (mkstemp would force 0600).
inline TempFile create_temp_beside(const std::filesystem::path& target) {
  static std::atomic<unsigned> counter{0};
  std::filesystem::path dest = write_destination(target);
  const std::filesystem::path dir = dest.parent_path();
  remove_stale_temps(dir);
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
    list_temp(tmp);
    std::FILE* file = ::fdopen(fd, "wb");
    if (file == nullptr) {
      const int err = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      unlist_temp(tmp);
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
  if (!tmp.empty()) {
    ::unlink(tmp.c_str());
    unlist_temp(tmp);
  }
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
  if (what != nullptr) ::unlink(tmp.c_str());
  // After the rename or unlink: a signal in between unlinks a missing name.
  unlist_temp(tmp);
  if (what != nullptr) throw_io(target, what, err);
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
