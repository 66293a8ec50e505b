#pragma once
// TextChunks: the text of one or more delimited data files (CSV/TSV), in
// chunks of whole records, read and decompressed (gzip) piece by piece. A
// file of any size is parsed holding a few chunks at a time, and the chunks
// can be parsed on several threads, each starting at a record boundary.
//
// A chunk never ends inside a record: it ends after a line end outside
// double quotes (RFC 4180: a quote opens a quoted field only at the start of
// a field, and a quoted field may hold line ends), or at the end of its file.
// The first chunk of each file holds its first record alone (after any blank
// lines, without a UTF-8 BOM), so a reader knows the file's header, or its
// field count, before its other chunks are parsed.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace latent::detail {

struct TextChunk {
  std::size_t file = 0;        // index of its file in TextChunks::files()
  std::size_t first_line = 1;  // 1-based line of the text's first byte in its file
  bool file_start = false;     // its file's first record (see above)
  char delimiter = ',';        // its file's delimiter (given, or sniffed from its first line)
  std::string text;            // whole records
  // Bytes of the file (compressed bytes for gzip) read to make this chunk:
  // with the files' total size, an estimate of the rows still to come.
  std::uint64_t source_bytes = 0;
};

class TextChunks {
 public:
  // `delimiter` 0: each file's is sniffed from its first line
  // (sniff_delimiter, csv.hpp). quoting: fields may be double-quoted.
  // chunk_bytes: the size a chunk is cut at (a record longer than that
  // makes a longer chunk). Every file is checked before any is read: throws
  // NotFound for a missing one, InvalidArgument for one that is not a
  // regular file (a directory, a FIFO: checked without opening it).
  TextChunks(std::vector<std::filesystem::path> files, char delimiter, bool quoting,
             std::size_t chunk_bytes);
  ~TextChunks();
  TextChunks(const TextChunks&) = delete;
  TextChunks& operator=(const TextChunks&) = delete;

  // Fills `chunk` with the next chunk, reusing its buffer; false after the
  // last file's last chunk. Throws, naming the file, what read_file
  // (csv.hpp) throws: Corruption for a file that is empty (before or after
  // decompression) or holds corrupt or truncated gzip data, InvalidArgument
  // for binary content, NotFound for a file that disappeared after the
  // check, IO when it cannot be read.
  bool next(TextChunk& chunk);

  const std::vector<std::filesystem::path>& files() const noexcept { return files_; }
  // The files' sizes in bytes, as checked.
  std::uint64_t total_bytes() const noexcept { return total_bytes_; }

 private:
  class Source;  // the open file: plain or gzip

  void open_next();
  // Appends up to `want` bytes of the open file's text to `out`; sets
  // text_end_ when there are no more.
  void read_text(std::string& out, std::size_t want);
  // Reads until `out` holds at least `size` bytes or the text ends.
  void fill(std::string& out, std::size_t size);
  // One past the last record end in `text` (which starts at a record
  // start), or npos.
  std::size_t last_record_end(const std::string& text) const;
  // One past the end of the first record of `text`, or npos.
  std::size_t first_record_end(const std::string& text) const;
  // Sets the chunk's file, lines and source bytes for its text.
  void emit(TextChunk& chunk, bool file_start);

  std::vector<std::filesystem::path> files_;
  std::uint64_t total_bytes_ = 0;
  char given_delimiter_ = 0;
  bool quoting_ = true;
  std::size_t chunk_bytes_ = 0;

  std::size_t next_file_ = 0;       // the next file to open
  std::unique_ptr<Source> source_;  // the open file, if any
  bool text_end_ = false;           // the open file's text is all in carry_
  bool first_pending_ = false;      // its first record is not yet emitted
  char delimiter_ = ',';            // the open file's
  std::string carry_;               // read, not yet emitted: starts at a record start
  std::size_t line_ = 1;            // line of carry_'s first byte
  std::uint64_t source_mark_ = 0;   // source bytes read when the last chunk was emitted
};

}  // namespace latent::detail
