// Atomic writes (src/detail/atomic_file.hpp): symlinks followed, special
// files refused.

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>

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

}  // namespace
}  // namespace latent::test
