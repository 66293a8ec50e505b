#include "output.hpp"

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

Output::Output(const std::filesystem::path& path) {
  if (!path.empty()) file_.emplace(path);
}

void Output::commit() {
  if (file_) {
    file_->commit();
  } else {
    std::fflush(stdout);
  }
}

}  // namespace latent::cli
