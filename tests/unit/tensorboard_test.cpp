// TensorBoard output: the TFRecord framing and Event encoding against known
// vectors (the expected bytes are what TensorBoard's own Python code makes:
// tensorboard.compat.proto.event_pb2 and its masked_crc32c), and
// TensorBoardLog's files on disk: written, laid out, removed on failure.
// tests/python/test_tensorboard.py reads a trained model's log with
// TensorBoard's reader.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <latent/error.hpp>
#include <latent/tensorboard.hpp>

#include "detail/tfrecord.hpp"
#include "test_support.hpp"

namespace latent {
namespace {

namespace fs = std::filesystem;
using test::TempDir;

std::string hex(std::string_view bytes) {
  std::string out;
  for (const char c : bytes) {
    constexpr char kDigits[] = "0123456789abcdef";
    out.push_back(kDigits[(static_cast<unsigned char>(c) >> 4) & 0xF]);
    out.push_back(kDigits[static_cast<unsigned char>(c) & 0xF]);
  }
  return out;
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// The records of an event file, each checked against its CRCs.
std::vector<std::string> read_records(const fs::path& path) {
  const std::string bytes = read_file(path);
  std::vector<std::string> records;
  std::size_t at = 0;
  while (at < bytes.size()) {
    EXPECT_GE(bytes.size() - at, 16u) << "truncated record in " << path;
    if (bytes.size() - at < 16) break;
    std::uint64_t length = 0;
    std::memcpy(&length, bytes.data() + at, 8);
    std::uint32_t length_crc = 0;
    std::memcpy(&length_crc, bytes.data() + at + 8, 4);
    EXPECT_EQ(length_crc, detail::masked_crc32c(std::string_view(bytes).substr(at, 8)));
    const std::string data = bytes.substr(at + 12, length);
    std::uint32_t data_crc = 0;
    std::memcpy(&data_crc, bytes.data() + at + 12 + length, 4);
    EXPECT_EQ(data_crc, detail::masked_crc32c(data));
    records.push_back(data);
    at += 16 + length;
  }
  return records;
}

std::vector<fs::path> files_in(const fs::path& dir) {
  std::vector<fs::path> files;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) files.push_back(entry.path());
  return files;
}

std::size_t count_lines(const std::string& text) {
  return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
}

TEST(TfRecord, Crc32cOfTheCheckString) {
  EXPECT_EQ(detail::crc32c("123456789"), 0xE3069283u);
  EXPECT_EQ(detail::crc32c(""), 0u);
  EXPECT_EQ(detail::masked_crc32c("123456789"), 0xc78ab0e5u);
  EXPECT_EQ(detail::masked_crc32c(""), 0xa282ead8u);
}

TEST(TfRecord, ScalarEventAsProtobufEncodesIt) {
  // Event(wall_time=1.5, step=3, summary { value { tag: "epoch_loss" simple_value: 0.25 } })
  EXPECT_EQ(hex(detail::scalar_event(1.5, 3, "epoch_loss", 0.25f)),
            "09000000000000f83f10032a130a110a0a65706f63685f6c6f7373150000803e");
  // A step of two varint bytes: 300 = 0xac 0x02.
  EXPECT_EQ(hex(detail::event_header(0.0, 300)).substr(18), "10ac02");
}

TEST(TfRecord, FileVersionRecordAsTensorBoardFramesIt) {
  const std::string event = detail::file_version_event(1700000000.25, "brain.Event:2");
  EXPECT_EQ(hex(event), "0900001040fc54d9411a0d627261696e2e4576656e743a32");
  EXPECT_EQ(hex(detail::tfrecord(event)),
            "1800000000000000a37f4b220900001040fc54d9411a0d627261696e2e4576656e743a32338d2fe9");
}

EpochReport report(int epoch, bool with_test) {
  EpochReport e;
  e.epoch = epoch;
  e.loss = 10.0 / epoch;
  e.seconds = 0.5;
  e.has_train = true;
  e.train = TopKAccuracy{{1, 10}, {0.1 * epoch, 0.2 * epoch}, 100};
  e.has_test = with_test;
  if (with_test) e.test = TopKAccuracy{{1, 10}, {0.05 * epoch, 0.15 * epoch}, 20};
  return e;
}

ModelData tiny_model() {
  ModelData m;
  m.kind = "two-tower";
  m.users = Vocabulary::from_ids({"u1", "u2"});
  m.items = Vocabulary::from_ids({"a\tb", "c"});
  m.item_titles = {"", "Tab\tTitle", "Line\nBreak\r"};
  m.user_embeddings = Matrix(3, 2, std::vector<float>{0, 0, 1, 2, 3, 4});
  m.item_embeddings = Matrix(3, 2, std::vector<float>{0, 0, 0.5f, -1, 1e-3f, 7});
  return m;
}

TEST(TensorBoardLog, WritesKerasLayout) {
  TempDir tmp;
  const fs::path dir = tmp / "logs" / "run1";
  {
    TensorBoardLog log(dir);
    log.add_epoch(report(1, true));
    log.add_epoch(report(2, true));
    EXPECT_TRUE(log.add_projector(tiny_model()).empty());
    log.commit();
  }
  std::vector<fs::path> train, validation;
  for (const auto& p : files_in(dir / "train")) train.push_back(p);
  for (const auto& p : files_in(dir / "validation")) validation.push_back(p);
  ASSERT_EQ(train.size(), 1u);
  ASSERT_EQ(validation.size(), 1u);
  EXPECT_TRUE(train[0].filename().string().starts_with("events.out.tfevents."));

  const auto records = read_records(train[0]);
  // file_version, then per epoch: loss, seconds, top_1, top_10 (no sampled_accuracy: NaN).
  ASSERT_EQ(records.size(), 1u + 2 * 4);
  EXPECT_NE(records[0].find("brain.Event:2"), std::string::npos);
  EXPECT_NE(records[1].find("epoch_loss"), std::string::npos);
  EXPECT_NE(records[4].find("epoch_factorized_top_k/top_10_categorical_accuracy"),
            std::string::npos);
  EXPECT_EQ(records[1].substr(9, 2), std::string("\x10\x01", 2));  // step 1
  EXPECT_EQ(read_records(validation[0]).size(), 1u + 2 * 2);

  const std::string items = read_file(dir / "projector" / "item_embeddings.tsv");
  EXPECT_EQ(items, "0.5\t-1\n0.001\t7\n");
  EXPECT_EQ(read_file(dir / "projector" / "item_metadata.tsv"),
            "id\ttitle\na\\tb\tTab\\tTitle\nc\tLine\\nBreak\\r\n");
  EXPECT_EQ(read_file(dir / "projector" / "user_metadata.tsv"), "u1\nu2\n");
  EXPECT_EQ(count_lines(read_file(dir / "projector" / "user_embeddings.tsv")), 2u);
  const std::string config = read_file(dir / "projector_config.pbtxt");
  EXPECT_NE(config.find("tensor_path: \"projector/item_embeddings.tsv\""), std::string::npos);
  EXPECT_NE(config.find("metadata_path: \"projector/user_metadata.tsv\""), std::string::npos);
  // Nothing temporary left.
  for (const auto& p : files_in(dir)) {
    EXPECT_EQ(p.filename().string().find(".tmp."), std::string::npos) << p;
  }
}

TEST(TensorBoardLog, NoValidationRunWithoutTestMetrics) {
  TempDir tmp;
  {
    TensorBoardLog log(tmp / "tb");
    log.add_epoch(report(1, false));
    log.commit();
  }
  EXPECT_TRUE(fs::is_directory(tmp / "tb" / "train"));
  EXPECT_FALSE(fs::exists(tmp / "tb" / "validation"));
  EXPECT_FALSE(fs::exists(tmp / "tb" / "projector_config.pbtxt"));
}

TEST(TensorBoardLog, RemovesWhatItMadeWhenNotCommitted) {
  TempDir tmp;
  {
    TensorBoardLog log(tmp / "new" / "tb");
    log.add_epoch(report(1, true));
    log.add_projector(tiny_model());
  }
  EXPECT_FALSE(fs::exists(tmp / "new"));

  // An existing directory and an earlier run's files stay.
  fs::create_directories(tmp / "old" / "train");
  std::ofstream(tmp / "old" / "train" / "events.out.tfevents.1.earlier") << "x";
  {
    TensorBoardLog log(tmp / "old");
    log.add_epoch(report(1, true));
    log.add_projector(tiny_model());
  }
  EXPECT_EQ(files_in(tmp / "old").size(), 2u);  // train/ and the earlier file
}

TEST(TensorBoardLog, LeavesOutWhatTheProjectorCannotShow) {
  TempDir tmp;
  ModelData m = tiny_model();
  m.kind = "popularity";
  TensorBoardLog log(tmp / "tb");
  const auto notes = log.add_projector(m);
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_NE(notes[0].find("popularity"), std::string::npos);
  log.commit();
  EXPECT_FALSE(fs::exists(tmp / "tb" / "projector"));
  EXPECT_FALSE(fs::exists(tmp / "tb" / "projector_config.pbtxt"));
}

TEST(TensorBoardLog, SaysAModelWithoutVectorsHasNoProjector) {
  TempDir tmp;
  ModelData m = tiny_model();
  m.kind = "ease";
  m.user_embeddings = Matrix(m.users.size(), 0);
  m.item_embeddings = Matrix(m.items.size(), 0);
  TensorBoardLog log(tmp / "tb");
  const auto notes = log.add_projector(m);
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_NE(notes[0].find("a ease model has no vectors"), std::string::npos) << notes[0];
  log.commit();
  EXPECT_FALSE(fs::exists(tmp / "tb" / "projector_config.pbtxt"));
}

TEST(TensorBoardLog, ErrorsNameThePath) {
  TempDir tmp;
  std::ofstream(tmp / "file") << "x";
  try {
    TensorBoardLog log(tmp / "file");
    FAIL() << "a regular file was taken as the log directory";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::IO);
    EXPECT_NE(std::string(e.what()).find((tmp / "file").string()), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace latent
