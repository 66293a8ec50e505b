#include "output.hpp"

#include <cerrno>

#include <latent/error.hpp>

namespace latent::cli {

std::string csv_field(std::string_view s) {
  if (s.find_first_of(",\"\r\n") == std::string_view::npos) return std::string(s);
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

void check_stdout() {
  errno = 0;
  if (std::fflush(stdout) != 0 || std::ferror(stdout) != 0) {
    const int err = errno != 0 ? errno : EIO;
    std::clearerr(stdout);
    throw Error(ErrorKind::IO, fmt::format("standard output: write failed: {}",
                                           std::generic_category().message(err)));
  }
}

Output::Output(const std::filesystem::path& path) : path_(path) {
  if (!path.empty()) file_.emplace(path);
}

void Output::write_failed(std::error_code error) const {
  const std::string where = file_ ? path_.string() : "standard output";
  throw Error(ErrorKind::IO, fmt::format("{}: write failed: {}", where, error.message()));
}

void Output::commit() {
  if (file_) {
    file_->commit();
  } else {
    check_stdout();
  }
}

}  // namespace latent::cli
