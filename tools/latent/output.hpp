#pragma once
// Small output helpers for the CLI: CSV fields, and a file-or-stdout sink
// that writes atomically (latent::AtomicOutput), so a failed command never
// leaves a partial output file, and a failed write (a full disk, a file-size
// limit, /dev/full as standard output) is an error naming where it went.

#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

#include <fmt/format.h>

#include <latent/atomic_output.hpp>

namespace latent::cli {

// RFC 4180 quoting when the field holds a comma, quote, CR or LF.
std::string csv_field(std::string_view s);

// Standard output's buffered data flushed and checked: throws Error(IO)
// ("standard output: write failed: ...") when any write to it failed.
void check_stdout();

class Output {
 public:
  // Empty path: standard output.
  explicit Output(const std::filesystem::path& path);

  // Formats into the file; a failed write throws Error(IO) naming it.
  template <typename... Args>
  void print(fmt::format_string<Args...> format, Args&&... args) {
    try {
      fmt::print(file(), format, std::forward<Args>(args)...);
    } catch (const std::system_error& e) {
      write_failed(e.code());
    }
  }
  // Flushes, checks for write errors and moves the file into place.
  void commit();

 private:
  std::FILE* file() const noexcept { return file_ ? file_->file() : stdout; }
  [[noreturn]] void write_failed(std::error_code error) const;

  std::filesystem::path path_;
  std::optional<AtomicOutput> file_;
};

}  // namespace latent::cli
