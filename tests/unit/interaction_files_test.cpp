// The chunked, multi-threaded CSV/TSV reader (src/detail/interaction_files.hpp,
// text_chunks.hpp): the same data set, and the same first error, for any
// chunk size and thread count, as one thread reading the whole text; several
// files (a glob pattern) read as one table; gzip decompressed chunk by chunk.

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <latent/dataset.hpp>
#include <latent/error.hpp>

#include "detail/text_chunks.hpp"
#include "gzip_bytes.hpp"
#include "test_support.hpp"

namespace latent {
namespace {

namespace fs = std::filesystem;
using test::expect_error;
using test::gzip;
using test::write_file;

// Everything a loader decides, for comparing two loads.
void expect_same(const Dataset& a, const Dataset& b) {
  EXPECT_EQ(std::vector<std::string>(a.users.ids().begin(), a.users.ids().end()),
            std::vector<std::string>(b.users.ids().begin(), b.users.ids().end()));
  EXPECT_EQ(std::vector<std::string>(a.items.ids().begin(), a.items.ids().end()),
            std::vector<std::string>(b.items.ids().begin(), b.items.ids().end()));
  EXPECT_EQ(a.interactions.users, b.interactions.users);
  EXPECT_EQ(a.interactions.items, b.interactions.items);
  EXPECT_EQ(a.interactions.ratings, b.interactions.ratings);
  EXPECT_EQ(a.interactions.timestamps, b.interactions.timestamps);
  EXPECT_EQ(a.interactions.weights, b.interactions.weights);
  EXPECT_EQ(a.seen_only.users, b.seen_only.users);
  EXPECT_EQ(a.seen_only.items, b.seen_only.items);
  EXPECT_EQ(a.rows_read, b.rows_read);
}

// Quoted ids with delimiters, quotes and line ends inside, CRLF line ends,
// blank lines, a BOM, string and integer ids, and rows the filter drops.
std::string awkward_csv() {
  std::string text = "\xEF\xBB\xBFuser,item,rating,timestamp\r\n";
  for (int i = 0; i < 300; ++i) {
    // fmt, not operator+: GCC 12's -Wrestrict misfires on "literal" + string.
    const std::string user =
        i % 7 == 0 ? fmt::format("\"u,\"\"{}\"\"\"", i % 13) : std::to_string(i % 29);
    const std::string item =
        i % 11 == 0 ? fmt::format("\"multi\nline {}\"", i % 5) : fmt::format("i{}", (i * 7) % 41);
    text += user + "," + item + "," + std::to_string(1 + i % 5) + "," + std::to_string(1000 + i);
    text += i % 3 == 0 ? "\r\n" : "\n";
    if (i % 17 == 0) text += "\n";
  }
  return text;
}

TEST(InteractionFiles, AnyChunkSizeAndThreadCountReadsTheSameDataSet) {
  test::TempDir dir;
  LoadOptions whole;
  whole.data = write_file(dir / "r.csv", awkward_csv());
  whole.rating_above = 2.0;
  whole.threads = 1;
  whole.chunk_bytes = std::size_t{1} << 30;
  const Dataset expected = load_dataset(whole);
  ASSERT_GT(expected.interactions.size(), 100u);
  ASSERT_GT(expected.seen_only.size(), 10u);
  for (const std::size_t chunk : {1, 2, 7, 64, 1000}) {
    for (const int threads : {1, 2, 3}) {
      SCOPED_TRACE(testing::Message() << "chunk " << chunk << ", threads " << threads);
      LoadOptions o = whole;
      o.chunk_bytes = chunk;
      o.threads = threads;
      expect_same(load_dataset(o), expected);
      o.data = write_file(dir / "r.csv.gz", gzip(awkward_csv()));
      expect_same(load_dataset(o), expected);
    }
  }
}

TEST(InteractionFiles, TheFirstMalformedRowIsTheErrorWhateverTheChunks) {
  test::TempDir dir;
  std::string text = "user,item\n";
  for (int i = 0; i < 2000; ++i) text += std::to_string(i % 50) + "," + std::to_string(i) + "\n";
  // Line 1502 has one field, line 1801 three: the first is the error.
  std::string bad = text;
  const auto line_start = [&](std::size_t line) {
    std::size_t pos = 0;
    for (std::size_t l = 1; l < line; ++l) pos = bad.find('\n', pos) + 1;
    return pos;
  };
  bad.insert(line_start(1801), "7,8,9\n");
  bad.insert(line_start(1502), "7\n");
  for (const bool compressed : {false, true}) {
    LoadOptions o;
    o.data =
        compressed ? write_file(dir / "bad.csv.gz", gzip(bad)) : write_file(dir / "bad.csv", bad);
    for (const std::size_t chunk : {3, 100, 4096, 0}) {
      for (const int threads : {1, 2, 4}) {
        SCOPED_TRACE(testing::Message() << "chunk " << chunk << ", threads " << threads);
        o.chunk_bytes = chunk;
        o.threads = threads;
        expect_error([&] { load_dataset(o); }, ErrorKind::Corruption,
                     {o.data.string() + ": line 1502: expected 2 fields (as on line 1), found 1"});
      }
    }
  }
}

TEST(InteractionFiles, AGlobReadsItsFilesAsOneTableInPathOrder) {
  test::TempDir dir;
  const std::string all = "user,item,rating\n1,10,4\n2,11,5\n1,12,3\n3,10,1\n2,13,4\n";
  LoadOptions one;
  one.data = write_file(dir / "all.csv", all);
  const Dataset expected = load_dataset(one);

  fs::create_directories(dir / "parts");
  // Each part has its header, in its own column order; a part with no row
  // and a gzip part are fine; part-10 sorts before part-2 by bytes.
  write_file(dir / "parts" / "part-0.csv", "user,item,rating\n1,10,4\n");
  write_file(dir / "parts" / "part-1.csv.gz", gzip("rating,item,user\n5,11,2\n3,12,1\n"));
  write_file(dir / "parts" / "part-10.csv", "user,item,rating\n");
  write_file(dir / "parts" / "part-2.csv", "user,item,rating\r\n3,10,1\r\n2,13,4\r\n");
  write_file(dir / "parts" / "other.txt", "not,a,part\n");
  LoadOptions parts;
  parts.data = dir / "parts" / "part-*";
  parts.chunk_bytes = 5;
  const Dataset read = load_dataset(parts);
  expect_same(read, expected);
  EXPECT_EQ(read.format, DataFormat::Csv);

  // An error names the part file and its own line.
  write_file(dir / "parts" / "part-3.csv", "user,item,rating\n4,14,x\n");
  expect_error(
      [&] { load_dataset(parts); }, ErrorKind::Corruption,
      {(dir / "parts" / "part-3.csv").string() + ": line 2: rating \"x\" is not a number"});
  fs::remove(dir / "parts" / "part-3.csv");

  // Parts must give the same optional columns.
  write_file(dir / "parts" / "part-4.csv", "user,item\n4,14\n");
  expect_error([&] { load_dataset(parts); }, ErrorKind::InvalidArgument,
               {"part-0.csv has a rating column and", "part-4.csv has none"});
  fs::remove(dir / "parts" / "part-4.csv");

  LoadOptions none;
  none.data = dir / "parts" / "nothing-*.csv";
  expect_error([&] { load_dataset(none); }, ErrorKind::NotFound,
               {"nothing-*.csv: no file matches this pattern"});
  // Only headers: no data rows, named by the pattern.
  LoadOptions empty;
  empty.data = dir / "parts" / "part-1?.csv";
  expect_error([&] { load_dataset(empty); }, ErrorKind::Corruption, {"part-1?.csv: no data rows"});
}

TEST(TextChunks, ChunksEndAtRecordEndsAndCountLines) {
  test::TempDir dir;
  const std::string text = "a,b\n1,\"x\ny\"\n2,z\n\n3,\"q\"\"\n\"\n4,w";
  write_file(dir / "t.csv", text);
  for (const std::size_t size : {1, 3, 8, 100}) {
    SCOPED_TRACE(size);
    detail::TextChunks chunks({dir / "t.csv"}, 0, true, size);
    detail::TextChunk chunk;
    std::string joined;
    std::size_t line = 1;
    bool first = true;
    while (chunks.next(chunk)) {
      EXPECT_EQ(chunk.file_start, first);
      if (first) {
        EXPECT_EQ(chunk.text, "a,b\n");
      }
      first = false;
      EXPECT_EQ(chunk.first_line, line);
      EXPECT_EQ(chunk.delimiter, ',');
      // Never inside quotes: every chunk but the last ends a record.
      if (joined.size() + chunk.text.size() < text.size()) {
        EXPECT_EQ(chunk.text.back(), '\n');
      }
      for (const std::string_view cut : {"1,\"x\n", "3,\"q\"\"\n"}) {
        EXPECT_FALSE(std::string_view(chunk.text).ends_with(cut)) << chunk.text;
      }
      line += static_cast<std::size_t>(std::count(chunk.text.begin(), chunk.text.end(), '\n'));
      joined += chunk.text;
    }
    EXPECT_EQ(joined, text);
  }
}

TEST(TextChunks, MissingAndEmptyFilesFailBeforeOrWhenRead) {
  test::TempDir dir;
  write_file(dir / "a.csv", "u,i\n1,2\n");
  expect_error(
      [&] {
        detail::TextChunks({dir / "a.csv", dir / "nope.csv"}, 0, true, 10);
      },
      ErrorKind::NotFound, {"nope.csv: no such file"});
  write_file(dir / "empty.csv", "");
  detail::TextChunks chunks({dir / "a.csv", dir / "empty.csv"}, 0, true, 10);
  expect_error(
      [&] {
        detail::TextChunk chunk;
        while (chunks.next(chunk)) {
        }
      },
      ErrorKind::Corruption, {"empty.csv: the file is empty"});
}

TEST(TextChunks, APartThatDisappearsBeforeItsTurnIsNamed) {
  test::TempDir dir;
  write_file(dir / "part-0.csv", "u,i\n1,2\n");
  write_file(dir / "part-1.csv", "u,i\n3,4\n");
  detail::TextChunks chunks({dir / "part-0.csv", dir / "part-1.csv"}, 0, true, 4);
  detail::TextChunk chunk;
  ASSERT_TRUE(chunks.next(chunk));  // part-0's header: part-0 is open
  fs::remove(dir / "part-1.csv");
  expect_error(
      [&] {
        while (chunks.next(chunk)) {
        }
      },
      ErrorKind::NotFound, {(dir / "part-1.csv").string() + ": no such file"});
}

}  // namespace
}  // namespace latent
