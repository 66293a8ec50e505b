#pragma once
// What the fuzz targets share: a scratch directory per process for the
// targets whose entry point reads files, and the split of one input into
// parts.

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <system_error>

namespace latent::fuzz {

// A directory of this process's own under the temporary directory
// ($TMPDIR, else /tmp), removed at exit. The loaders read paths, not bytes,
// so a target writes its input here; on tmpfs that costs microseconds.
inline const std::filesystem::path& scratch_dir() {
  struct Dir {
    std::filesystem::path path;
    Dir() {
      std::string pattern =
          (std::filesystem::temp_directory_path() / "latent-fuzz-XXXXXX").string();
      if (::mkdtemp(pattern.data()) == nullptr) std::abort();
      path = pattern;
    }
    ~Dir() {
      std::error_code ec;
      std::filesystem::remove_all(path, ec);
    }
  };
  static const Dir dir;
  return dir.path;
}

// A broken promise of the code under test: says which and aborts, which
// libFuzzer (and the replay test) report as a crash with this input.
inline void check(bool ok, const char* promise) {
  if (ok) return;
  std::fprintf(stderr, "fuzz check failed: %s\n", promise);
  std::abort();
}

// An expected failure of the code under test (the documented exception):
// no finding. With LATENT_FUZZ_VERBOSE=1 in the environment it is printed,
// to see what a seed input reaches when writing one.
inline void expected(const std::exception& e) {
  static const bool verbose = std::getenv("LATENT_FUZZ_VERBOSE") != nullptr;
  if (verbose) std::fprintf(stderr, "expected error: %s\n", e.what());
}

// Writes `bytes` to `path` whole, replacing it.
inline void write_file(const std::filesystem::path& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) std::abort();  // the scratch directory failing is no finding of the target
}

// The text before the first `separator` in `input`, and the rest after it
// (all of `input` and nothing when there is no separator).
inline std::pair<std::string_view, std::string_view> split_once(std::string_view input,
                                                                std::string_view separator) {
  const auto at = input.find(separator);
  if (at == std::string_view::npos) return {input, {}};
  return {input.substr(0, at), input.substr(at + separator.size())};
}

inline std::string_view as_text(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

}  // namespace latent::fuzz
