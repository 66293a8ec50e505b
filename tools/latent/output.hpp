#pragma once
// Small output helpers for the CLI: CSV fields, and a file-or-stdout sink
// that writes atomically (latent::AtomicOutput), so a failed command never
// leaves a partial output file.

#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include <latent/atomic_output.hpp>

namespace latent::cli {

// RFC 4180 quoting when the field holds a comma, quote, CR or LF.
std::string csv_field(std::string_view s);

class Output {
 public:
  // Empty path: standard output.
  explicit Output(const std::filesystem::path& path);

  std::FILE* file() const noexcept { return file_ ? file_->file() : stdout; }
  // Flushes, checks for write errors and moves the file into place.
  void commit();

 private:
  std::optional<AtomicOutput> file_;
};

}  // namespace latent::cli
