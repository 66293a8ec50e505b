// The model and .npy readers read a file through FileBytes. Files under a
// served model's base path are written by other tools, which may truncate
// and rewrite a file in place while the server reads it; a memory map of
// such a file faults (SIGBUS) when touched past its new end. FileBytes owns
// its bytes, so what it read stays readable whatever happens to the file.
#include "detail/file_bytes.hpp"

#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "test_support.hpp"

namespace latent::test {
namespace {

TEST(FileBytes, ContentsSurviveTheFileShrinking) {
  TempDir dir;
  const auto path = dir / "version.latent";
  const std::string contents(1 << 20, 'x');
  write_bytes(path, contents);
  const detail::FileBytes file(path);
  std::filesystem::resize_file(path, 0);  // a writer truncating before it rewrites
  ASSERT_EQ(file.bytes().size(), contents.size());
  EXPECT_EQ(file.bytes().back(), 'x');  // a map would raise SIGBUS here
  EXPECT_EQ(file.bytes(), contents);
}

TEST(FileBytes, ErrorsNameThePath) {
  TempDir dir;
  expect_error([&] { detail::FileBytes f(dir / "missing"); }, ErrorKind::NotFound, {"missing"});
  expect_error([&] { detail::FileBytes f(dir.path()); }, ErrorKind::IO, {"not a regular file"});
  write_bytes(dir / "empty", "");
  EXPECT_TRUE(detail::FileBytes(dir / "empty").bytes().empty());
}

}  // namespace
}  // namespace latent::test
