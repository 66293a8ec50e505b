#pragma once
// Small output helpers for the CLI: CSV fields, and a file-or-stdout sink
// that writes to a temporary file and renames it on success, so a failed
// command never leaves a partial output file.

#include <cstdio>
#include <filesystem>
#include <string>
#include <string_view>

namespace latent::cli {

// RFC 4180 quoting when the field holds a comma, quote, CR or LF.
std::string csv_field(std::string_view s);

class Output {
 public:
  // Empty path: standard output.
  explicit Output(const std::filesystem::path& path);
  ~Output();
  Output(const Output&) = delete;
  Output& operator=(const Output&) = delete;

  std::FILE* file() const noexcept { return file_; }
  // Flushes, checks for write errors and moves the file into place.
  void commit();

 private:
  std::filesystem::path path_;
  std::filesystem::path tmp_;
  std::FILE* file_ = nullptr;
  bool done_ = false;
};

}  // namespace latent::cli
