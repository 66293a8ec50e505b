#include <latent/error.hpp>
#include <latent/npy.hpp>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <limits>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "test_support.hpp"

// Checked by hand that numpy reads what NpyWriter writes:
//   python3 -c "import numpy; print(numpy.load('x.npy').shape)"

namespace latent {
namespace {

namespace fs = std::filesystem;
using test::TempDir;

using test::read_bytes;
using test::write_bytes;

std::vector<std::string> dir_entries(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  return names;
}

Matrix sample_matrix() {
  return Matrix(
      3, 4,
      {0.0f, -0.0f, 1.5f, -2.25f, std::numeric_limits<float>::denorm_min(),
       std::numeric_limits<float>::infinity(), 1e30f, -1e-30f, 7.0f, 8.0f, 9.0f, 3.14159f});
}

void expect_same_bits(const Matrix& a, const Matrix& b) {
  ASSERT_EQ(a.rows(), b.rows());
  ASSERT_EQ(a.cols(), b.cols());
  ASSERT_EQ(a.size(), b.size());
  EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)), 0);
}

// A hand-made .npy: `dict` padded to numpy's 64-byte alignment, then `data`.
std::string make_npy(std::string dict, const std::string& data, int major = 1) {
  const std::size_t prefix = major == 1 ? 10 : 12;
  dict.append((64 - (prefix + dict.size() + 1) % 64) % 64, ' ');
  dict += '\n';
  std::string out = "\x93NUMPY";
  out += static_cast<char>(major);
  out += '\0';
  const auto length = static_cast<std::uint32_t>(dict.size());
  out.append(reinterpret_cast<const char*>(&length), major == 1 ? 2 : 4);
  return out + dict + data;
}

std::string float_bytes(std::size_t n) { return std::string(n * sizeof(float), '\0'); }

void expect_read_error(const fs::path& path, ErrorKind kind, const std::string& fragment) {
  try {
    read_npy(path);
    ADD_FAILURE() << "expected an error mentioning \"" << fragment << "\"";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), kind) << e.what();
    const std::string msg = e.what();
    EXPECT_EQ(msg.rfind(path.string(), 0), 0u) << "message does not start with the path: " << msg;
    EXPECT_NE(msg.find(fragment), std::string::npos) << msg;
  }
}

TEST(Npy, RoundTripIsExact) {
  TempDir dir;
  const Matrix m = sample_matrix();
  write_npy(dir / "x.npy", m);
  expect_same_bits(read_npy(dir / "x.npy"), m);
  EXPECT_EQ(dir_entries(dir.path()), std::vector<std::string>{"x.npy"});
}

TEST(Npy, HeaderFollowsTheNumpySpec) {
  TempDir dir;
  write_npy(dir / "x.npy", sample_matrix());
  const std::string bytes = read_bytes(dir / "x.npy");
  ASSERT_GT(bytes.size(), 10u);
  EXPECT_EQ(bytes.substr(0, 8), std::string("\x93NUMPY\x01\x00", 8));
  const std::size_t length =
      static_cast<unsigned char>(bytes[8]) + 256u * static_cast<unsigned char>(bytes[9]);
  EXPECT_EQ((10 + length) % 64, 0u);
  const std::string dict = bytes.substr(10, length);
  EXPECT_EQ(dict.rfind("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }", 0), 0u)
      << dict;
  EXPECT_EQ(dict.back(), '\n');
  EXPECT_EQ(bytes.size(), 10 + length + 12 * sizeof(float));
}

TEST(Npy, WriterStreamsRowsInBlocks) {
  TempDir dir;
  const Matrix m = sample_matrix();
  NpyWriter writer(dir / "x.npy", 3, 4);
  writer.write_rows(m.values().subspan(0, 8));
  EXPECT_FALSE(fs::exists(dir / "x.npy"));  // appears only when complete
  writer.write_rows(m.values().subspan(8));
  writer.finish();
  expect_same_bits(read_npy(dir / "x.npy"), m);
}

TEST(Npy, UnfinishedWriterLeavesExistingFileAndNoTemporary) {
  TempDir dir;
  write_npy(dir / "x.npy", Matrix(1, 1, 5.0f));
  {
    NpyWriter writer(dir / "x.npy", 3, 4);
    writer.write_rows(sample_matrix().row(0));
  }
  EXPECT_EQ(read_npy(dir / "x.npy"), Matrix(1, 1, 5.0f));
  EXPECT_EQ(dir_entries(dir.path()), std::vector<std::string>{"x.npy"});
}

TEST(Npy, WriterRejectsPartialRowsAndWrongRowCounts) {
  TempDir dir;
  const Matrix m = sample_matrix();
  NpyWriter writer(dir / "x.npy", 2, 4);
  EXPECT_THROW(writer.write_rows(m.values().subspan(0, 3)), Error);
  EXPECT_THROW(writer.write_rows(m.values()), Error);  // 3 rows > 2
  writer.write_rows(m.row(0));
  try {
    writer.finish();
    ADD_FAILURE() << "finish() after 1 of 2 rows succeeded";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::InvalidArgument);
    EXPECT_NE(std::string(e.what()).find("1 of 2 rows"), std::string::npos) << e.what();
  }
  writer.write_rows(m.row(1));
  writer.finish();
  EXPECT_THROW(writer.finish(), Error);
  EXPECT_THROW(writer.write_rows(m.row(0)), Error);
  EXPECT_EQ(read_npy(dir / "x.npy").rows(), 2);
  EXPECT_THROW(NpyWriter(dir / "y.npy", -1, 4), Error);
}

TEST(Npy, EmptyShapesRoundTrip) {
  TempDir dir;
  write_npy(dir / "a.npy", Matrix(0, 4));
  EXPECT_EQ(read_npy(dir / "a.npy"), Matrix(0, 4));
  write_npy(dir / "b.npy", Matrix(3, 0));
  EXPECT_EQ(read_npy(dir / "b.npy"), Matrix(3, 0));
}

TEST(Npy, WriteIntoMissingDirectoryFails) {
  TempDir dir;
  try {
    write_npy(dir / "missing" / "x.npy", sample_matrix());
    ADD_FAILURE() << "write into a missing directory succeeded";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::IO);
    EXPECT_NE(std::string(e.what()).find((dir / "missing" / "x.npy").string()), std::string::npos);
  }
  EXPECT_TRUE(dir_entries(dir.path()).empty());
}

TEST(Npy, ReadsVersion2AndOtherKeyOrders) {
  TempDir dir;
  const std::string data = float_bytes(6);
  write_bytes(dir / "v2.npy",
              make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", data, 2));
  EXPECT_EQ(read_npy(dir / "v2.npy"), Matrix(2, 3));
  write_bytes(dir / "order.npy",
              make_npy("{\"shape\":(3,2),\"fortran_order\":False,\"descr\":\"<f4\"}", data));
  EXPECT_EQ(read_npy(dir / "order.npy"), Matrix(3, 2));
}

TEST(Npy, ReadErrorsNameTheFile) {
  TempDir dir;
  const fs::path path = dir / "bad.npy";
  const auto expect_bad = [&](const std::string& bytes, ErrorKind kind, const char* fragment) {
    write_bytes(path, bytes);
    expect_read_error(path, kind, fragment);
  };
  const auto npy = [](const std::string& descr, const std::string& order, const std::string& shape,
                      std::size_t n) {
    return make_npy(
        "{'descr': '" + descr + "', 'fortran_order': " + order + ", 'shape': " + shape + ", }",
        float_bytes(n));
  };
  expect_read_error(dir / "absent.npy", ErrorKind::NotFound, "No such file");
  expect_bad("", ErrorKind::Corruption, "bad magic");
  expect_bad("PK\x03\x04 this is a zip file", ErrorKind::Corruption, "bad magic");
  expect_bad(std::string("\x93NUMPY\x03\x00\x10\x00\x00\x00", 10) + "{}", ErrorKind::Unsupported,
             "version 3.0");
  expect_bad(npy("<f8", "False", "(2, 2)", 8), ErrorKind::Unsupported, "dtype '<f8'");
  expect_bad(npy(">f4", "False", "(2, 2)", 4), ErrorKind::Unsupported, "dtype '>f4'");
  expect_bad(npy("<f4", "True", "(2, 2)", 4), ErrorKind::Unsupported, "Fortran");
  expect_bad(npy("<f4", "False", "(4,)", 4), ErrorKind::Unsupported, "1 dimensions");
  expect_bad(npy("<f4", "False", "(1, 2, 2)", 4), ErrorKind::Unsupported, "3 dimensions");
  expect_bad(npy("<f4", "False", "(2, 2)", 3), ErrorKind::Corruption, "truncated");
  expect_bad(npy("<f4", "False", "(2, 2)", 5), ErrorKind::Corruption, "20 data bytes");
  expect_bad(npy("<f4", "False", "(4611686018427387904, 4)", 4), ErrorKind::Corruption,
             "does not match");
  expect_bad(npy("<f4", "False", "(-1, 4)", 4), ErrorKind::Corruption, "malformed");
  expect_bad(npy("<f4", "Maybe", "(1, 4)", 4), ErrorKind::Corruption, "malformed");
  expect_bad(make_npy("{'descr': '<f4', 'shape': (1, 4)}", float_bytes(4)), ErrorKind::Corruption,
             "malformed");
  expect_bad(
      make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 4), 'x': 1}", float_bytes(4)),
      ErrorKind::Corruption, "malformed");
  expect_bad(std::string("\x93NUMPY\x01\x00\xff\x00", 10) + "{}", ErrorKind::Corruption,
             "header length 255 exceeds");
}

TEST(Npy, TruncatedFilesAlwaysFailCleanly) {
  TempDir dir;
  write_npy(dir / "x.npy", sample_matrix());
  const std::string bytes = read_bytes(dir / "x.npy");
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    write_bytes(dir / "t.npy", bytes.substr(0, n));
    EXPECT_THROW(read_npy(dir / "t.npy"), Error) << "truncated to " << n << " bytes";
  }
}

}  // namespace
}  // namespace latent
