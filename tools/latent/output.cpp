#include "output.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

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

Output::Output(const std::filesystem::path& path) : path_(path) {
  if (path.empty()) {
    file_ = stdout;
    return;
  }
  tmp_ = path;
  tmp_ += fmt::format(".tmp{}", ::getpid());
  file_ = std::fopen(tmp_.c_str(), "wb");
  if (file_ == nullptr) {
    throw Error(ErrorKind::IO,
                fmt::format("{}: cannot write: {}", path.string(), std::strerror(errno)));
  }
}

Output::~Output() {
  if (file_ != nullptr && file_ != stdout) {
    std::fclose(file_);
    if (!done_) std::remove(tmp_.c_str());
  }
}

void Output::commit() {
  if (file_ == stdout) {
    std::fflush(stdout);
    return;
  }
  const bool ok = std::fflush(file_) == 0 && !std::ferror(file_);
  std::fclose(file_);
  file_ = nullptr;
  if (!ok || std::rename(tmp_.c_str(), path_.c_str()) != 0) {
    const int err = errno;
    std::remove(tmp_.c_str());
    throw Error(ErrorKind::IO,
                fmt::format("{}: cannot write: {}", path_.string(), std::strerror(err)));
  }
  done_ = true;
}

}  // namespace latent::cli
