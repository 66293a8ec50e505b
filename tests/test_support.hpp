#pragma once
// Shared helpers for the test suites: data locations and temp directories.

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <iterator>
#include <string>
#include <string_view>

#include <unistd.h>

#include <gtest/gtest.h>

#include <latent/error.hpp>
#include <latent/matrix.hpp>

namespace latent::test {

inline std::filesystem::path source_dir() { return LATENT_SOURCE_DIR; }
inline std::filesystem::path bundled_data() { return source_dir() / "data" / "ml-latest-small"; }
inline std::filesystem::path cli_path() { return LATENT_CLI_PATH; }

// MovieLens 100K lives outside the project (its license forbids copying it in).
inline std::filesystem::path ml100k_dir() {
  if (const char* env = std::getenv("LATENT_ML100K")) return env;
  return LATENT_ML100K_DIR;
}
inline bool have_ml100k() { return std::filesystem::exists(ml100k_dir() / "u.data"); }

#define LATENT_REQUIRE_ML100K()                                                      \
  do {                                                                               \
    if (!::latent::test::have_ml100k())                                              \
      GTEST_SKIP() << "MovieLens 100K not found at " << ::latent::test::ml100k_dir() \
                   << " (set LATENT_ML100K to its directory); skipping";             \
  } while (0)

// NGCF's Gowalla split (train.txt.gz, test.txt.gz), also outside the project.
inline std::filesystem::path gowalla_dir() {
  if (const char* env = std::getenv("LATENT_GOWALLA")) return env;
  return LATENT_GOWALLA_DIR;
}
inline bool have_gowalla() {
  return std::filesystem::exists(gowalla_dir() / "train.txt.gz") &&
         std::filesystem::exists(gowalla_dir() / "test.txt.gz");
}

#define LATENT_REQUIRE_GOWALLA()                                                    \
  do {                                                                              \
    if (!::latent::test::have_gowalla())                                            \
      GTEST_SKIP() << "the Gowalla split (train.txt.gz, test.txt.gz) not found at " \
                   << ::latent::test::gowalla_dir()                                 \
                   << " (set LATENT_GOWALLA to its directory); skipping";           \
  } while (0)

inline std::string read_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Overwrites in place instead of truncating to zero first: ext4 flushes a
// file truncated to zero when it is closed, which made the fuzz loops slow.
inline void write_bytes(const std::filesystem::path& path, const std::string& bytes) {
  std::FILE* f = std::fopen(path.c_str(), "r+b");
  if (f == nullptr) f = std::fopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr) << path;
  EXPECT_EQ(std::fwrite(bytes.data(), 1, bytes.size(), f), bytes.size());
  std::fclose(f);
  std::filesystem::resize_file(path, bytes.size());
}

// Runs `f`, which must throw an Error of `kind` whose message contains every
// one of `parts`.
template <typename F>
void expect_error(F&& f, ErrorKind kind, std::initializer_list<std::string_view> parts) {
  try {
    f();
    ADD_FAILURE() << "expected an Error (" << to_string(kind) << ")";
  } catch (const Error& e) {
    const std::string_view message = e.what();
    EXPECT_EQ(e.kind(), kind) << message;
    for (const std::string_view part : parts) {
      EXPECT_NE(message.find(part), std::string_view::npos)
          << "\"" << part << "\" missing from: " << message;
    }
  }
}

// The message of the InvalidArgument error config.validate() throws, or ""
// when it accepts the config.
template <typename Config>
std::string validation_message(const Config& config) {
  try {
    config.validate();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::InvalidArgument);
    return e.what();
  }
  return "";
}

// Writes `bytes` to `path` (replacing it) and returns the path.
inline std::filesystem::path write_file(const std::filesystem::path& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  return path;
}

// The largest difference between two tables' values.
inline float largest_difference(const Matrix& a, const Matrix& b) {
  EXPECT_EQ(a.size(), b.size());
  float d = 0;
  for (std::size_t k = 0; k < a.size() && k < b.size(); ++k) {
    d = std::max(d, std::abs(a.storage()[k] - b.storage()[k]));
  }
  return d;
}

// A fresh empty directory under the system temp dir, removed on destruction.
class TempDir {
 public:
  TempDir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string name = "latent-test";
    if (info) name += std::string("-") + info->test_suite_name() + "-" + info->name();
    path_ = std::filesystem::temp_directory_path() / (name + "-" + std::to_string(::getpid()));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

}  // namespace latent::test
