#pragma once
// The user-lines format (DataFormat::UserLines), as NGCF and LightGCN ship
// their data sets: one line per user, the user id then the user's items,
// separated by runs of spaces and tabs, e.g. "7 102 4 9". LF or CRLF line
// ends, a UTF-8 BOM stripped, blank lines skipped; no header, no quoting.
// UserLinesReader only splits lines into tokens; dataset.cpp turns them into
// interactions (ids checked, duplicate items kept once).

#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include <latent/error.hpp>

namespace latent::detail {

class UserLinesReader {
 public:
  // `text` is the file's contents; `path` only names it in messages.
  UserLinesReader(std::string text, std::filesystem::path path);
  // read_file's contents (gzip decompressed): throws as read_file does.
  static UserLinesReader open(const std::filesystem::path& path);

  // Non-copyable, as the tokens point into the text.
  UserLinesReader(UserLinesReader&&) noexcept = default;
  UserLinesReader& operator=(UserLinesReader&&) noexcept = default;
  UserLinesReader(const UserLinesReader&) = delete;
  UserLinesReader& operator=(const UserLinesReader&) = delete;

  // The next line holding anything but spaces and tabs, as its tokens
  // (tokens[0] the user, the rest its items), or false at the end. The views
  // point into this reader's text and stay valid while it lives.
  bool next(std::vector<std::string_view>& tokens);

  // 1-based number of the line the last next() returned.
  std::size_t line() const noexcept { return record_line_; }
  const std::filesystem::path& path() const noexcept { return path_; }

  // An Error whose message starts with "<path>: line <line>: ".
  Error error_at(std::size_t line, ErrorKind kind, std::string_view what) const;

 private:
  std::string text_;
  std::filesystem::path path_;
  std::size_t pos_ = 0;
  std::size_t line_ = 1;  // of the line at pos_
  std::size_t record_line_ = 0;
};

}  // namespace latent::detail
