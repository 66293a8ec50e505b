// gzip input (src/detail/gzip.hpp): every data file that is gzip, by name or
// by its magic bytes, reads as its text, and every damaged one (truncated at
// any byte, any byte flipped, not gzip, trailing bytes, over the size limit)
// fails with an Error naming the file, never a crash, a hang or a wrong text.

#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include <gtest/gtest.h>

#include <latent/dataset.hpp>
#include <latent/error.hpp>

#include "detail/csv.hpp"
#include "detail/gzip.hpp"
#include "gzip_bytes.hpp"
#include "test_support.hpp"

namespace latent {
namespace {

namespace fs = std::filesystem;
using detail::gunzip;
using test::expect_error;
using test::gzip;
using test::write_file;

constexpr std::string_view kCsv = "user,item,rating\n1,10,4\n1,11,2\n2,10,5\n3,12,3.5\n";

TEST(Gunzip, RoundTripsOneAndSeveralMembers) {
  EXPECT_EQ(gunzip(gzip(kCsv), "x.gz"), kCsv);
  // cat a.gz b.gz is one file to gzip -d, and to latent.
  EXPECT_EQ(gunzip(gzip("a,b\n") + gzip("1,2\n"), "x.gz"), "a,b\n1,2\n");
  // Larger than the first output buffer (64 KiB), so it grows.
  std::string big;
  for (int i = 0; i < 40000; ++i) big += std::to_string(i) + "," + std::to_string(i % 97) + "\n";
  EXPECT_EQ(gunzip(gzip(big), "x.gz"), big);
  EXPECT_EQ(gunzip(gzip(""), "x.gz"), "");
}

TEST(Gunzip, EveryTruncationIsAnErrorNamingTheFile) {
  const std::string whole = gzip(kCsv);
  for (std::size_t n = 0; n < whole.size(); ++n) {
    SCOPED_TRACE(n);
    const std::string cut = whole.substr(0, n);
    const std::string what = n < 2 ? "not gzip data" : "truncated gzip data";
    expect_error([&] { gunzip(cut, "cut.csv.gz"); }, ErrorKind::Corruption, {"cut.csv.gz: ", what});
  }
  expect_error(
      [&] { gunzip(whole.substr(0, whole.size() - 3), "cut.gz"); }, ErrorKind::Corruption,
      {"cut.gz: truncated gzip data: the file ends at byte " + std::to_string(whole.size() - 3)});
}

TEST(Gunzip, EveryFlippedByteIsAnErrorOrTheSameText) {
  // A flip in the header's time stamp or OS byte changes nothing that is
  // checked; anywhere else the CRC-32, the length or the decoder catches it.
  const std::string whole = gzip(kCsv);
  int errors = 0;
  for (std::size_t i = 0; i < whole.size(); ++i) {
    for (const unsigned char mask : {0x01, 0x80, 0xFF}) {
      std::string bad = whole;
      bad[i] = static_cast<char>(static_cast<unsigned char>(bad[i]) ^ mask);
      try {
        EXPECT_EQ(gunzip(bad, "bad.gz"), kCsv) << "byte " << i;
      } catch (const Error& e) {
        ++errors;
        EXPECT_EQ(std::string_view(e.what()).substr(0, 8), "bad.gz: ") << e.what();
      }
    }
  }
  EXPECT_GT(errors, 0);
}

TEST(Gunzip, CorruptDataNamesTheOffsetAndZlibsMessage) {
  std::string bad = gzip(kCsv);
  bad[bad.size() - 6] ^= 0x10;  // the CRC-32 of the trailer
  expect_error(
      [&] { gunzip(bad, "crc.gz"); }, ErrorKind::Corruption,
      {"crc.gz: corrupt gzip data at byte ", "of the compressed file: incorrect data check"});
  std::string method = gzip(kCsv);
  method[2] = 7;  // not deflate
  expect_error([&] { gunzip(method, "m.gz"); }, ErrorKind::Corruption,
               {"m.gz: corrupt gzip data at byte", "unknown compression method"});
}

TEST(Gunzip, NotGzipAndTrailingBytesAreErrors) {
  expect_error([&] { gunzip("user,item\n1,2\n", "plain.csv.gz"); }, ErrorKind::Corruption,
               {"plain.csv.gz: not gzip data", "1f 8b"});
  const std::string whole = gzip(kCsv);
  expect_error(
      [&] { gunzip(whole + "junk", "t.gz"); }, ErrorKind::Corruption,
      {"t.gz: the 4 bytes after the end of the gzip data at byte " + std::to_string(whole.size()),
       "not another gzip member"});
}

TEST(Gunzip, TextsOverTheLimitAreRefusedNamingIt) {
  // 1 MB of one byte compresses to about a kilobyte: what a bomb is made of.
  const std::string zeros(1 << 20, '0');
  const std::string bomb = gzip(zeros);
  EXPECT_LT(bomb.size(), 2000u);
  EXPECT_EQ(gunzip(bomb, "b.gz", zeros.size()).size(), zeros.size());  // exactly at the limit
  expect_error([&] { gunzip(bomb, "b.gz", zeros.size() - 1); }, ErrorKind::InvalidArgument,
               {"b.gz: decompresses to more than 1048575 bytes", "half of this machine's"});
  expect_error([&] { gunzip(bomb, "b.gz", 1000); }, ErrorKind::InvalidArgument,
               {"more than 1000 bytes"});
  EXPECT_GT(detail::default_gunzip_limit(), std::size_t{100} << 20);
}

TEST(Gunzip, IsGzipByNameOrMagic) {
  EXPECT_TRUE(detail::is_gzip("r.csv.gz", "user,item"));
  EXPECT_TRUE(detail::is_gzip("u.data", "\x1f\x8b\x08"));
  EXPECT_FALSE(detail::is_gzip("r.csv", "user,item"));
  EXPECT_FALSE(detail::is_gzip("r.gzip", "\x1f"));
}

// ---- Through the loaders: one place, every format -------------------------

TEST(GzipFiles, EveryLoaderReadsThemAsTheirText) {
  test::TempDir dir;
  LoadOptions plain;
  plain.data = write_file(dir / "r.csv", kCsv);
  LoadOptions packed = plain;
  packed.data = write_file(dir / "r.csv.gz", gzip(kCsv));
  const Dataset a = load_dataset(plain);
  const Dataset b = load_dataset(packed);
  EXPECT_EQ(a.interactions.users, b.interactions.users);
  EXPECT_EQ(a.interactions.items, b.interactions.items);
  EXPECT_EQ(a.interactions.ratings, b.interactions.ratings);
  EXPECT_EQ(b.format, DataFormat::Csv);

  // MovieLens 100K's fixed names, gzip by their magic bytes, and the items
  // file too.
  fs::create_directories(dir / "ml");
  write_file(dir / "ml" / "u.data", gzip("1\t1\t5\t10\n2\t2\t3\t11\n"));
  write_file(dir / "ml" / "u.item", gzip("1|Film|x\n2|Other film|x\n"));
  LoadOptions ml;
  ml.data = dir / "ml";
  const Dataset m = load_dataset(ml);
  EXPECT_EQ(m.format, DataFormat::MovieLens100K);
  EXPECT_EQ(m.interactions.size(), 2u);
  EXPECT_EQ(m.item_titles[2], "Other film");

  // user-lines, and a CSV whose name does not say it is gzip.
  LoadOptions lines;
  lines.format = DataFormat::UserLines;
  lines.data = write_file(dir / "train.txt.gz", gzip("1 10 11\n2 11\n"));
  EXPECT_EQ(load_dataset(lines).interactions.size(), 3u);
  packed.data = write_file(dir / "r2.csv", gzip(kCsv));
  EXPECT_EQ(load_dataset(packed).interactions.users, a.interactions.users);
}

TEST(GzipFiles, EmptyTruncatedAndCorruptFilesFailNamingThem) {
  test::TempDir dir;
  LoadOptions options;
  options.data = write_file(dir / "empty.csv.gz", "");
  expect_error([&] { load_dataset(options); }, ErrorKind::Corruption,
               {options.data.string() + ": the file is empty"});
  options.data = write_file(dir / "nothing.csv.gz", gzip(""));
  expect_error([&] { load_dataset(options); }, ErrorKind::Corruption,
               {options.data.string() + ": the file is empty once decompressed (gzip)"});
  const std::string whole = gzip(kCsv);
  options.data = write_file(dir / "cut.csv.gz", whole.substr(0, whole.size() / 2));
  expect_error([&] { load_dataset(options); }, ErrorKind::Corruption,
               {options.data.string() + ": truncated gzip data"});
  std::string bad = whole;
  bad[bad.size() - 2] ^= 1;  // the length of the trailer
  options.data = write_file(dir / "bad.csv.gz", bad);
  expect_error([&] { load_dataset(options); }, ErrorKind::Corruption,
               {options.data.string() + ": corrupt gzip data at byte"});
  // A binary file inside the gzip is named for what it is.
  options.data = write_file(dir / "model.npy.gz", gzip("\x93NUMPY\x01\x00"));
  expect_error([&] { load_dataset(options); }, ErrorKind::InvalidArgument,
               {"this is a NumPy .npy file once decompressed (gzip)"});
  // Parse errors name the (compressed) file and the line of its text.
  options.data = write_file(dir / "rows.csv.gz", gzip("user,item\n1,2\n3\n"));
  expect_error([&] { load_dataset(options); }, ErrorKind::Corruption,
               {options.data.string() + ": line 3: expected 2 fields"});
}

}  // namespace
}  // namespace latent
