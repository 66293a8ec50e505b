// Atomic writes (src/detail/atomic_file.hpp): symlinks followed, special
// files refused, temporary files removed on SIGTERM and after SIGKILL.

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <latent/atomic_output.hpp>

#include "detail/atomic_file.hpp"
#include "test_support.hpp"

namespace latent::test {
namespace {

namespace fs = std::filesystem;

void save(const fs::path& target, const std::string& text) {
  detail::AtomicFile file(target);
  file.write(text);
  file.commit();
}

TEST(AtomicFile, SymlinkTargetIsReplacedAndLinkKept) {
  TempDir dir;
  save(dir / "real", "old");
  fs::create_symlink("real", dir / "link");  // relative, as links often are
  save(dir / "link", "new");
  EXPECT_TRUE(fs::is_symlink(dir / "link"));
  EXPECT_EQ(read_bytes(dir / "real"), "new");
  // A dangling link: its target is created.
  fs::create_symlink(dir / "later", dir / "dangling");
  save(dir / "dangling", "made");
  EXPECT_TRUE(fs::is_symlink(dir / "dangling"));
  EXPECT_EQ(read_bytes(dir / "later"), "made");
}

TEST(AtomicFile, FifoAndDirectoryAreRefused) {
  TempDir dir;
  const auto fifo = dir / "fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  expect_error([&] { save(fifo, "x"); }, ErrorKind::InvalidArgument, {fifo.string(), "is a FIFO"});
  EXPECT_TRUE(fs::is_fifo(fifo));
  fs::create_symlink(fifo, dir / "link");
  expect_error([&] { save(dir / "link", "x"); }, ErrorKind::InvalidArgument,
               {"link", "leads to", "is a FIFO"});
  fs::create_directory(dir / "sub");
  expect_error([&] { AtomicOutput out(dir / "sub"); }, ErrorKind::InvalidArgument,
               {"sub", "is a directory"});
  std::size_t entries = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir.path())) ++entries;
  EXPECT_EQ(entries, 3u);  // fifo, link, sub: no temporary file
}

TEST(AtomicFile, TempFileNames) {
  EXPECT_EQ(detail::temp_file_pid(".model.latent.tmp.1234.0"), 1234);
  EXPECT_EQ(detail::temp_file_pid(".x.tmp.7.12"), 7);
  EXPECT_EQ(detail::temp_file_pid("x.tmp.7.12"), 0);
  EXPECT_EQ(detail::temp_file_pid("..tmp.7.12"), 0);
  EXPECT_EQ(detail::temp_file_pid(".x.tmp.7"), 0);
  EXPECT_EQ(detail::temp_file_pid(".x.tmp.0.1"), 0);
  EXPECT_EQ(detail::temp_file_pid(".x.tmp.-1.1"), 0);
  EXPECT_EQ(detail::temp_file_pid(".x.tmp.99999999999.1"), 0);
  EXPECT_EQ(detail::temp_file_pid(".x.tmpx.7.1"), 0);
}

TEST(AtomicFile, StaleTempFilesOfDeadProcessesAreRemoved) {
  TempDir dir;
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) ::_exit(0);
  ASSERT_EQ(::waitpid(child, nullptr, 0), child);  // reaped: its pid is dead
  const auto stale = dir / fmt::format(".x.tmp.{}.0", child);
  const auto live = dir / fmt::format(".x.tmp.{}.0", ::getppid());
  save(stale, "partial");
  save(live, "partial");
  save(dir / "out", "done");
  EXPECT_FALSE(fs::exists(stale));
  EXPECT_TRUE(fs::exists(live));
  EXPECT_EQ(read_bytes(dir / "out"), "done");
}

// The child dies of SIGTERM mid-write, deterministically: it raises the
// signal itself between writing and committing.
TEST(AtomicFile, SigtermRemovesTempFilesInProgress) {
  TempDir dir;
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    remove_temp_files_on_signal();
    save(dir / "kept", "committed");
    detail::AtomicFile a(dir / "a");
    a.write("partial");
    AtomicOutput b(dir / "b");
    std::fputs("partial", b.file());
    ::raise(SIGTERM);
    ::_exit(0);  // not reached
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status)) << status;
  EXPECT_EQ(WTERMSIG(status), SIGTERM);
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir.path())) {
    names.push_back(e.path().filename().string());
  }
  EXPECT_EQ(names, std::vector<std::string>{"kept"});
}

}  // namespace
}  // namespace latent::test
