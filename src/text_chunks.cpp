#include "detail/text_chunks.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string_view>
#include <utility>

#include <fmt/format.h>

#include <latent/error.hpp>

#include "detail/csv.hpp"
#include "detail/file_kind.hpp"
#include "detail/gzip.hpp"

namespace latent::detail {

namespace fs = std::filesystem;

namespace {

constexpr std::size_t kReadBytes = std::size_t{1} << 20;  // one read() of a file
constexpr std::size_t kHeadBytes = 4096;                  // what what_content_is looks at

[[noreturn]] void throw_errno(const fs::path& path, int err) {
  if (err == ENOENT || err == ENOTDIR) {
    throw Error(ErrorKind::NotFound, fmt::format("{}: no such file", path.string()));
  }
  throw Error(ErrorKind::IO, fmt::format("{}: cannot read: {}", path.string(), std::strerror(err)));
}

// Checks that `path` is a regular file, without opening it (opening a FIFO
// blocks until a writer comes); returns its size.
std::uint64_t regular_file_size(const fs::path& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) throw_errno(path, errno);
  if (!S_ISREG(st.st_mode)) {
    throw Error(ErrorKind::InvalidArgument, fmt::format("{}: {}, expected a regular file",
                                                        path.string(), what_file_is(st.st_mode)));
  }
  return static_cast<std::uint64_t>(st.st_size);
}

}  // namespace

// An open file's text: its bytes, or their decompression.
class TextChunks::Source {
 public:
  explicit Source(const fs::path& path) : path_(path) {
    // O_NONBLOCK: a file replaced by a FIFO since the check must not block.
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd_ < 0) throw_errno(path, errno);
    struct stat st {};
    if (::fstat(fd_, &st) != 0) {
      const int err = errno;
      ::close(fd_);
      throw_errno(path, err);
    }
    if (!S_ISREG(st.st_mode)) {
      ::close(fd_);
      throw Error(ErrorKind::InvalidArgument, fmt::format("{}: {}, expected a regular file",
                                                          path.string(), what_file_is(st.st_mode)));
    }
    ::fcntl(fd_, F_SETFL, ::fcntl(fd_, F_GETFL) & ~O_NONBLOCK);
    buffer_.resize(kReadBytes);
    try {
      const std::size_t n = read_bytes(buffer_.data(), buffer_.size());
      if (n == 0) {
        throw Error(ErrorKind::Corruption, fmt::format("{}: the file is empty", path.string()));
      }
      pending_ = std::string_view(buffer_.data(), n);
      if (is_gzip(path, pending_)) {
        gzip_ = std::make_unique<GzipDecoder>(path, static_cast<std::uint64_t>(st.st_size));
      }
    } catch (...) {
      ::close(fd_);
      throw;
    }
  }
  ~Source() { ::close(fd_); }
  Source(const Source&) = delete;
  Source& operator=(const Source&) = delete;

  bool compressed() const noexcept { return gzip_ != nullptr; }
  std::uint64_t bytes_read() const noexcept { return bytes_read_; }

  // Up to `room` (> 0) bytes of text into `out`; 0 at the end of the text.
  std::size_t read(char* out, std::size_t room) {
    if (!gzip_) {
      if (!pending_.empty()) {
        const std::size_t n = std::min(room, pending_.size());
        std::memcpy(out, pending_.data(), n);
        pending_.remove_prefix(n);
        return n;
      }
      return read_bytes(out, room);
    }
    for (;;) {
      const std::size_t made = gzip_->decode(pending_, out, room);
      if (made > 0) return made;
      if (input_end_) {
        gzip_->finish(pending_);
        return 0;
      }
      // More input, after what the decoder left (at most a byte of magic).
      const std::size_t left = pending_.size();
      std::memmove(buffer_.data(), pending_.data(), left);
      const std::size_t n = read_bytes(buffer_.data() + left, buffer_.size() - left);
      input_end_ = n == 0;
      pending_ = std::string_view(buffer_.data(), left + n);
    }
  }

 private:
  std::size_t read_bytes(char* out, std::size_t room) {
    for (;;) {
      const ssize_t n = ::read(fd_, out, room);
      if (n >= 0) {
        bytes_read_ += static_cast<std::uint64_t>(n);
        return static_cast<std::size_t>(n);
      }
      if (errno != EINTR) throw_errno(path_, errno);
    }
  }

  fs::path path_;
  int fd_ = -1;
  std::string buffer_;
  std::string_view pending_;  // plain: text not yet handed out; gzip: input not yet decoded
  std::unique_ptr<GzipDecoder> gzip_;
  bool input_end_ = false;
  std::uint64_t bytes_read_ = 0;
};

TextChunks::TextChunks(std::vector<fs::path> files, char delimiter, bool quoting,
                       std::size_t chunk_bytes)
    : files_(std::move(files)),
      given_delimiter_(delimiter),
      quoting_(quoting),
      chunk_bytes_(std::max<std::size_t>(chunk_bytes, 1)) {
  for (const fs::path& file : files_) total_bytes_ += regular_file_size(file);
}

TextChunks::~TextChunks() = default;

void TextChunks::read_text(std::string& out, std::size_t want) {
  const std::size_t at = out.size();
  out.resize(at + want);
  const std::size_t n = source_->read(out.data() + at, want);
  out.resize(at + n);
  if (n == 0) text_end_ = true;
}

void TextChunks::fill(std::string& out, std::size_t size) {
  while (out.size() < size && !text_end_) read_text(out, size - out.size());
}

void TextChunks::open_next() {
  const fs::path& path = files_[next_file_];
  source_ = std::make_unique<Source>(path);
  ++next_file_;
  carry_.clear();
  text_end_ = false;
  line_ = 1;
  source_mark_ = 0;
  fill(carry_, kHeadBytes);
  if (carry_.empty()) {  // only gzip text can be empty: an empty file is refused when opened
    throw Error(ErrorKind::Corruption,
                fmt::format("{}: the file is empty once decompressed (gzip)", path.string()));
  }
  if (const char* kind = what_content_is(carry_)) {
    throw Error(ErrorKind::InvalidArgument,
                fmt::format("{}: this is {}{}, not a text file of rows (CSV, TSV)", path.string(),
                            kind, source_->compressed() ? " once decompressed (gzip)" : ""));
  }
  constexpr std::string_view kBom = "\xEF\xBB\xBF";
  if (std::string_view(carry_).starts_with(kBom)) carry_.erase(0, kBom.size());
  // The delimiter is sniffed from the whole first line.
  while (carry_.find('\n') == std::string::npos && !text_end_) fill(carry_, 2 * carry_.size());
  delimiter_ = given_delimiter_ != 0 ? given_delimiter_ : sniff_delimiter(carry_);
  first_pending_ = true;
}

namespace {

// The record structure of RFC 4180 text from a record start: where records
// end (after a line end outside quotes). A quote opens a quoted field only at
// a field's start; inside one, a doubled quote is a quote. Whatever follows
// a closing quote other than a delimiter or a line end is an error the
// parser reports; here it just continues the field.
class RecordEnds {
 public:
  RecordEnds(char delimiter, bool quoting) : delimiter_(delimiter), quoting_(quoting) {}

  // One past the first record end in text[from, ...), or npos.
  std::size_t first(std::string_view text, std::size_t from) {
    for (std::size_t i = from; i < text.size(); ++i) {
      if (step(text[i])) return i + 1;
    }
    return std::string_view::npos;
  }
  // One past the last record end in `text`, or npos.
  std::size_t last(std::string_view text) {
    std::size_t end = std::string_view::npos;
    for (std::size_t i = 0; i < text.size(); ++i) {
      if (step(text[i])) end = i + 1;
    }
    return end;
  }

 private:
  enum class State { FieldStart, Unquoted, Quoted, QuoteInQuoted };

  // Advances by one byte; true when it ends a record.
  bool step(char c) {
    switch (state_) {
      case State::FieldStart:
      case State::Unquoted:
        if (c == '\n') {
          state_ = State::FieldStart;
          return true;
        }
        if (c == delimiter_) {
          state_ = State::FieldStart;
        } else if (state_ == State::FieldStart && c == '"' && quoting_) {
          state_ = State::Quoted;
        } else {
          state_ = State::Unquoted;
        }
        return false;
      case State::Quoted:
        if (c == '"') state_ = State::QuoteInQuoted;
        return false;
      case State::QuoteInQuoted:
        if (c == '"') {
          state_ = State::Quoted;
          return false;
        }
        state_ = State::Unquoted;
        return step(c);
    }
    return false;
  }

  char delimiter_;
  bool quoting_;
  State state_ = State::FieldStart;
};

}  // namespace

std::size_t TextChunks::first_record_end(const std::string& text) const {
  // Blank lines before the record are the parser's to skip.
  std::size_t pos = 0;
  while (pos < text.size()) {
    if (text[pos] == '\n') {
      ++pos;
    } else if (text[pos] == '\r' && (pos + 1 == text.size() || text[pos + 1] == '\n')) {
      ++pos;
    } else {
      break;
    }
  }
  return RecordEnds(delimiter_, quoting_).first(text, pos);
}

std::size_t TextChunks::last_record_end(const std::string& text) const {
  // Files without quotes (nearly all large ones) need no state: their
  // records end at their line ends.
  if (!quoting_ || text.find('"') == std::string::npos) {
    const std::size_t newline = text.rfind('\n');
    return newline == std::string::npos ? newline : newline + 1;
  }
  return RecordEnds(delimiter_, quoting_).last(text);
}

void TextChunks::emit(TextChunk& chunk, bool file_start) {
  chunk.file = next_file_ - 1;
  chunk.first_line = line_;
  chunk.file_start = file_start;
  chunk.delimiter = delimiter_;
  line_ += static_cast<std::size_t>(std::count(chunk.text.begin(), chunk.text.end(), '\n'));
  chunk.source_bytes = source_->bytes_read() - source_mark_;
  source_mark_ = source_->bytes_read();
}

bool TextChunks::next(TextChunk& chunk) {
  for (;;) {
    if (!source_) {
      if (next_file_ == files_.size()) return false;
      open_next();
    }
    if (first_pending_) {
      first_pending_ = false;
      std::size_t end = first_record_end(carry_);
      while (end == std::string::npos && !text_end_) {
        fill(carry_, 2 * carry_.size());
        end = first_record_end(carry_);
      }
      if (end == std::string::npos) end = carry_.size();
      chunk.text.assign(carry_, 0, end);
      carry_.erase(0, end);
      emit(chunk, true);
      return true;
    }
    if (carry_.empty() && text_end_) {
      source_.reset();
      continue;
    }
    chunk.text.assign(carry_);
    carry_.clear();
    fill(chunk.text, chunk_bytes_);
    // Cut after the last record end; a record longer than the chunk makes
    // the chunk longer. At the end of the text, the rest is the chunk.
    while (!text_end_) {
      const std::size_t end = last_record_end(chunk.text);
      if (end != std::string::npos) {
        carry_.assign(chunk.text, end);
        chunk.text.resize(end);
        break;
      }
      fill(chunk.text, 2 * chunk.text.size());
    }
    emit(chunk, false);
    if (text_end_ && carry_.empty()) source_.reset();
    return true;
  }
}

}  // namespace latent::detail
