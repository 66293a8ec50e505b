// What the first bytes of a file say it is (src/detail/file_kind.hpp).

#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "detail/file_kind.hpp"

namespace latent::detail {
namespace {

std::string model_head(std::uint64_t header_length, const std::string& header) {
  std::string head(8, '\0');
  std::memcpy(head.data(), &header_length, 8);
  return head + header;
}

std::string kind(const std::string& head) {
  const char* k = what_content_is(head);
  return k ? k : "(text)";
}

TEST(FileKind, NamesTheFormatsPeopleMixUp) {
  EXPECT_EQ(kind("\x93NUMPY\x01\x00v\x00{'descr'"), "a NumPy .npy file");
  EXPECT_EQ(kind("\x1f\x8b\x08"), "a gzip-compressed file");
  EXPECT_EQ(kind("PK\x03\x04rest"), "a ZIP archive (.zip, .npz, .xlsx)");
  EXPECT_EQ(kind("PAR1...."), "a Parquet file");
  EXPECT_EQ(kind(std::string("SQLite format 3\0", 16)), "an SQLite database");
  EXPECT_EQ(kind(model_head(20, "{\"__metadata__\":{}}")), "a latent model file");
}

TEST(FileKind, TextIsLeftToItsParser) {
  EXPECT_EQ(kind("user,item,rating\n1,2,5\n"), "(text)");
  EXPECT_EQ(kind("{\"a\": 1}"), "(text)");
  EXPECT_EQ(kind("No\xebl (2004)\t1\r\n"), "(text)");  // Latin-1 is still text here
  EXPECT_EQ(kind(""), "(text)");
}

TEST(FileKind, BinaryIsNotText) {
  EXPECT_EQ(kind(std::string("u\0s\0e\0r\0,\0i\0t\0e\0m\0", 18)), "binary data of an unknown kind");
  EXPECT_EQ(kind("ab\x01\x02\x03\x04\x05\x06\x07\x08"), "binary data of an unknown kind");
  // One stray NUL in text is left for the CSV parser to name its line.
  EXPECT_EQ(kind(std::string("user,item\n1,a\0b\n", 17)), "(text)");
  // A model whose header length is damaged no longer looks like a model.
  EXPECT_FALSE(looks_like_latent_model(model_head(std::uint64_t{1} << 62, "{}")));
  EXPECT_FALSE(looks_like_latent_model(model_head(kMaxModelHeaderBytes + 1, "{}")));
  EXPECT_TRUE(looks_like_latent_model(model_head(kMaxModelHeaderBytes, "{")));
}

}  // namespace
}  // namespace latent::detail
