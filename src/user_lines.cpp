#include "detail/user_lines.hpp"

#include <utility>

#include <fmt/format.h>

#include "detail/csv.hpp"

namespace latent::detail {

namespace fs = std::filesystem;

UserLinesReader::UserLinesReader(std::string text, fs::path path)
    : text_(std::move(text)), path_(std::move(path)) {
  constexpr std::string_view kBom = "\xEF\xBB\xBF";
  if (std::string_view(text_).starts_with(kBom)) pos_ = kBom.size();
}

UserLinesReader UserLinesReader::open(const fs::path& path) {
  return UserLinesReader(read_file(path), path);
}

Error UserLinesReader::error_at(std::size_t line, ErrorKind kind, std::string_view what) const {
  return Error(kind, fmt::format("{}: line {}: {}", path_.string(), line, what));
}

bool UserLinesReader::next(std::vector<std::string_view>& tokens) {
  const std::string_view text = text_;
  while (pos_ < text.size()) {
    std::size_t end = text.find('\n', pos_);
    const std::size_t next = end == std::string_view::npos ? text.size() : end + 1;
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos_, end - pos_);
    if (line.ends_with('\r')) line.remove_suffix(1);
    record_line_ = line_;
    pos_ = next;
    ++line_;

    tokens.clear();
    std::size_t i = 0;
    while (i < line.size()) {
      while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
      const std::size_t start = i;
      while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
      if (i > start) tokens.push_back(line.substr(start, i - start));
    }
    if (!tokens.empty()) return true;
  }
  return false;
}

}  // namespace latent::detail
