#include <latent/error.hpp>
#include <latent/model_file.hpp>
#include <latent/random.hpp>
#include <latent/tower.hpp>

#include <csignal>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <future>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <xxhash.h>

#include <latent/json_depth.hpp>
#include "test_support.hpp"

// The file is plain safetensors, so numpy reads it without latent; checked by
// hand with:
//   h = json.loads(b[8 : 8 + n]) with n = int.from_bytes(b[:8], "little")
//   t = h["item_embeddings"]; b0, b1 = t["data_offsets"]
//   np.frombuffer(b[8 + n + b0 : 8 + n + b1], "<f4").reshape(t["shape"])

namespace latent {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using test::TempDir;

using test::read_bytes;
using test::write_bytes;

std::vector<std::string> ids_of(const Vocabulary& v) { return {v.ids().begin(), v.ids().end()}; }

std::vector<std::string> dir_entries(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  return names;
}

// Bit-identical, so -0.0 and denormals count too.
void expect_same_bits(const Matrix& a, const Matrix& b) {
  ASSERT_EQ(a.rows(), b.rows());
  ASSERT_EQ(a.cols(), b.cols());
  ASSERT_EQ(a.size(), b.size());
  if (a.size() == 0) return;  // dimension 0: no data, maybe no pointer
  EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)), 0);
}

void expect_same_model(const ModelData& a, const ModelData& b) {
  EXPECT_EQ(a.kind, b.kind);
  EXPECT_EQ(a.config, b.config);
  EXPECT_EQ(a.training, b.training);
  EXPECT_EQ(a.users.kind(), b.users.kind());
  EXPECT_EQ(ids_of(a.users), ids_of(b.users));
  EXPECT_EQ(a.items.kind(), b.items.kind());
  EXPECT_EQ(ids_of(a.items), ids_of(b.items));
  EXPECT_EQ(a.item_titles, b.item_titles);
  expect_same_bits(a.user_embeddings, b.user_embeddings);
  expect_same_bits(a.item_embeddings, b.item_embeddings);
  EXPECT_EQ(a.seen, b.seen);
}

Matrix random_matrix(std::int64_t rows, std::int64_t cols, std::uint64_t seed) {
  Rng rng(seed);
  Matrix m(rows, cols);
  for (float& v : m.storage()) v = rng.uniform() * 2.0f - 1.0f;
  return m;
}

ModelData make_model(std::int64_t dim = 3) {
  ModelData m;
  m.kind = "two-tower";
  m.config = {{"dim", dim}, {"learning_rate", 0.1}, {"loss", "softmax"}, {"towers", {16, 8}}};
  m.training = {{"source", "unit test"}, {"epochs", 2}, {"metrics", {{"recall@10", 0.3125}}}};
  m.users = Vocabulary::from_ids({"3", "10", "-4"});
  m.items = Vocabulary::from_ids({"tt01", "tt02", "caf\xc3\xa9", "tt04"});
  m.item_titles = {"", "Toy Story (1995)", "Heat (1995)", "Am\xc3\xa9lie (2001)", "Se7en"};
  m.user_embeddings = random_matrix(m.users.size(), dim, 1);
  m.item_embeddings = random_matrix(m.items.size(), dim, 2);
  m.user_embeddings.storage()[0] = -0.0f;
  m.item_embeddings.storage()[1] = std::numeric_limits<float>::lowest();
  m.item_embeddings.storage()[2] = std::numeric_limits<float>::denorm_min();
  m.seen = CsrMatrix(4, 5, {0, 0, 2, 2, 5}, {1, 4, 1, 2, 3});
  return m;
}

// A model file taken apart, for building files that are damaged in one
// specific way yet carry valid checksums (serialize() re-signs them).
struct RawModel {
  json header;
  std::string data;

  static RawModel parse(const std::string& bytes) {
    std::uint64_t n = 0;
    std::memcpy(&n, bytes.data(), 8);
    return {json::parse(bytes.substr(8, n)), bytes.substr(8 + n)};
  }

  std::string serialize() const {
    json h = header;
    auto& meta = h["__metadata__"];
    meta["checksum"] = fmt::format("{:016x}", XXH64(data.data(), data.size(), 0));
    meta["header_checksum"] = std::string(16, '0');
    std::string text = h.dump();
    text.append((8 - text.size() % 8) % 8, ' ');
    const std::string needle = R"("header_checksum":")";
    const auto digits = text.find(needle) + needle.size();
    text.replace(digits, 16, fmt::format("{:016x}", XXH64(text.data(), text.size(), 0)));
    std::string out(8, '\0');
    const std::uint64_t n = text.size();
    std::memcpy(out.data(), &n, 8);
    return out + text + data;
  }

  // Gives tensor `name` `size` zero bytes and moves the tensors after it.
  void resize_tensor(const std::string& name, std::size_t size) {
    json& offsets = header.at(name).at("data_offsets");
    const std::size_t begin = offsets.at(0);
    const std::size_t end = offsets.at(1);
    data.replace(begin, end - begin, std::string(size, '\0'));
    for (auto& [other, t] : header.items()) {
      if (other == "__metadata__" || other == name) continue;
      for (json& o : t.at("data_offsets")) {
        if (o.get<std::size_t>() >= end) o = o.get<std::size_t>() - (end - begin) + size;
      }
    }
    offsets[1] = begin + size;
  }

  // The data bytes of one tensor, for editing in place.
  char* tensor_data(const std::string& name) {
    return data.data() + header.at(name).at("data_offsets").at(0).get<std::size_t>();
  }
};

template <typename F>
void expect_error(const fs::path& path, ErrorKind kind, const std::string& fragment, F&& f) {
  try {
    f();
    ADD_FAILURE() << "expected an error mentioning \"" << fragment << "\"";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), kind) << e.what();
    const std::string msg = e.what();
    EXPECT_EQ(msg.rfind(path.string(), 0), 0u) << "message does not start with the path: " << msg;
    EXPECT_NE(msg.find(fragment), std::string::npos) << msg;
  }
}

void expect_load_error(const fs::path& path, ErrorKind kind, const std::string& fragment = "") {
  expect_error(path, kind, fragment, [&] { load_model(path); });
}

class ModelFile : public ::testing::Test {
 protected:
  // A valid file taken apart, damaged by `edit`, re-signed and written.
  template <typename F>
  fs::path damaged(F&& edit) {
    return damaged(std::forward<F>(edit), make_model());
  }

  // `model`'s file with `edit` applied.
  template <typename F>
  fs::path damaged(F&& edit, const ModelData& model) {
    save_model(dir_ / "valid.latent", model);
    RawModel raw = RawModel::parse(read_bytes(dir_ / "valid.latent"));
    edit(raw);
    fs::path path = dir_ / "damaged.latent";
    write_bytes(path, raw.serialize());
    return path;
  }

  TempDir dir_;
};

TEST_F(ModelFile, RoundTripIsExact) {
  const ModelData model = make_model();
  save_model(dir_ / "m.latent", model);
  expect_same_model(load_model(dir_ / "m.latent"), model);
}

TEST_F(ModelFile, RoundTripWithoutTitlesOrSeenItems) {
  ModelData model = make_model();
  model.item_titles.clear();
  model.seen =
      CsrMatrix(model.users.size(), model.items.size(), std::vector<std::int64_t>(5, 0), {});
  save_model(dir_ / "m.latent", model);
  const ModelData back = load_model(dir_ / "m.latent");
  expect_same_model(back, model);
  EXPECT_TRUE(back.item_titles.empty());
}

TEST_F(ModelFile, LayoutIsAlignedSafetensorsWithChecksums) {
  save_model(dir_ / "m.latent", make_model());
  const std::string bytes = read_bytes(dir_ / "m.latent");
  const RawModel raw = RawModel::parse(bytes);
  EXPECT_EQ((bytes.size() - raw.data.size()) % 8, 0u);

  const json& meta = raw.header.at("__metadata__");
  EXPECT_EQ(meta.at("format"), "latent");
  EXPECT_EQ(meta.at("format_version"), "1");
  EXPECT_EQ(meta.at("kind"), "two-tower");
  EXPECT_EQ(json::parse(meta.at("config").get<std::string>()), make_model().config);
  EXPECT_EQ(meta.at("users.kind"), "integer");
  EXPECT_EQ(meta.at("items.kind"), "string");
  EXPECT_EQ(meta.at("checksum"),
            fmt::format("{:016x}", XXH64(raw.data.data(), raw.data.size(), 0)));
  // Serializing the parsed header again reproduces the file: the checksum
  // recipe in RawModel is the writer's.
  EXPECT_EQ(raw.serialize(), bytes);

  std::set<std::string> names;
  std::map<std::uint64_t, std::string> dtype_at;
  std::uint64_t covered = 0;
  for (const auto& [name, t] : raw.header.items()) {
    if (name == "__metadata__") continue;
    names.insert(name);
    const std::string dtype = t.at("dtype");
    const std::uint64_t size = dtype == "I64" ? 8 : dtype == "U8" ? 1 : 4;
    const std::uint64_t begin = t.at("data_offsets").at(0);
    const std::uint64_t end = t.at("data_offsets").at(1);
    EXPECT_EQ(begin % size, 0u) << name;
    covered += end - begin;
    if (end > begin) dtype_at[begin] = dtype;
  }
  EXPECT_EQ(covered, raw.data.size());
  std::string order;
  for (const auto& [begin, dtype] : dtype_at) {
    if (order.empty() || !order.ends_with(dtype)) order += (order.empty() ? "" : " ") + dtype;
  }
  EXPECT_EQ(order, "I64 F32 I32 U8");
  EXPECT_EQ(names,
            (std::set<std::string>{"user_embeddings", "item_embeddings", "users.ids",
                                   "users.offsets", "items.ids", "items.offsets", "item_titles.ids",
                                   "item_titles.offsets", "seen.indptr", "seen.indices"}));
  EXPECT_EQ(raw.header.at("item_embeddings").at("shape"), json::array({5, 3}));
  EXPECT_EQ(raw.header.at("users.offsets").at("shape"), json::array({4}));
}

// An item-based model (GF-CF's kind): its item-to-item term and item query
// vectors come back exactly, in a version 2 file; a model without them is
// still written as version 1, which older builds read.
ModelData make_item_based_model() {
  ModelData m = make_model();
  m.kind = "gf-cf";
  m.item_to_item = ItemToItem(5, {0, 0, 2, 2, 3, 4}, {2, 4, 1, 3}, {0.5f, -0.25f, 1e-7f, 3.0f});
  m.item_queries = random_matrix(m.items.size(), 3, 3);
  return m;
}

TEST_F(ModelFile, ItemBasedModelRoundTripIsExactInVersion2) {
  const ModelData model = make_item_based_model();
  save_model(dir_ / "m.latent", model);
  const ModelData back = load_model(dir_ / "m.latent");
  expect_same_model(back, model);
  EXPECT_EQ(back.item_to_item, model.item_to_item);
  EXPECT_EQ(back.item_queries, model.item_queries);
  EXPECT_EQ(RawModel::parse(read_bytes(dir_ / "m.latent")).header["__metadata__"]["format_version"],
            "2");
  save_model(dir_ / "plain.latent", make_model());
  EXPECT_EQ(
      RawModel::parse(read_bytes(dir_ / "plain.latent")).header["__metadata__"]["format_version"],
      "1");
  EXPECT_TRUE(load_model(dir_ / "plain.latent").item_to_item.empty());
}

// A model scoring by a dense term alone (EASE's kind): vectors of dimension
// 0, the items x items weights and the seen pairs' weights, in version 3.
ModelData make_dense_term_model() {
  ModelData m = make_model();
  m.kind = "ease";
  m.user_embeddings = Matrix(m.users.size(), 0);
  m.item_embeddings = Matrix(m.items.size(), 0);
  const auto n = static_cast<std::size_t>(m.items.size());
  std::vector<float> w(n * n, 0.0f);
  for (std::size_t i = 1; i < n; ++i) {
    for (std::size_t j = 1; j < n; ++j)
      w[i * n + j] = i == j ? 0.0f : 0.1f * static_cast<float>(i) - 0.03f * static_cast<float>(j);
  }
  m.item_to_item = ItemToItem::dense(m.items.size(), std::move(w));
  m.seen_weights.assign(static_cast<std::size_t>(m.seen.nnz()), 0.5f);
  if (!m.seen_weights.empty()) m.seen_weights.back() = 0.0f;
  return m;
}

TEST_F(ModelFile, DenseTermModelRoundTripIsExactInVersion3) {
  const ModelData model = make_dense_term_model();
  ASSERT_GT(model.seen.nnz(), 0);
  save_model(dir_ / "m.latent", model);
  const ModelData back = load_model(dir_ / "m.latent");
  expect_same_model(back, model);
  EXPECT_EQ(back.user_embeddings.cols(), 0);
  EXPECT_TRUE(back.item_to_item.is_dense());
  EXPECT_EQ(back.item_to_item, model.item_to_item);
  EXPECT_EQ(back.seen_weights, model.seen_weights);
  EXPECT_EQ(RawModel::parse(read_bytes(dir_ / "m.latent")).header["__metadata__"]["format_version"],
            "3");
  // Dimension 0 is for models with a term only.
  ModelData no_term = model;
  no_term.item_to_item = ItemToItem();
  no_term.seen_weights.clear();
  EXPECT_THROW(save_model(dir_ / "no_term.latent", no_term), Error);
  // Seen weights are one per seen pair, finite and >= 0.
  ModelData bad = model;
  bad.seen_weights.pop_back();
  EXPECT_THROW(save_model(dir_ / "bad.latent", bad), Error);
  bad = model;
  bad.seen_weights.front() = -1.0f;
  EXPECT_THROW(save_model(dir_ / "bad.latent", bad), Error);
}

TEST_F(ModelFile, DamagedDenseTermPartsAreRefused) {
  const auto damaged_dense = [&](auto edit) { return damaged(edit, make_dense_term_model()); };
  // Version 2 has no such tensors, and without its term a model of
  // dimension 0 has nothing to score by.
  expect_load_error(
      damaged_dense([](RawModel& r) { r.header["__metadata__"]["format_version"] = "2"; }),
      ErrorKind::Corruption, "dimension 0");
  expect_load_error(damaged_dense([](RawModel& r) {
                      const float nan = std::numeric_limits<float>::quiet_NaN();
                      std::memcpy(r.tensor_data("item_to_item.dense") + 4 * 7, &nan, 4);
                    }),
                    ErrorKind::Corruption, "nan");
  expect_load_error(damaged_dense([](RawModel& r) {
                      const float one = 1.0f;
                      std::memcpy(r.tensor_data("item_to_item.dense") + 4 * 1, &one, 4);
                    }),
                    ErrorKind::Corruption, "row 0 (the OOV item)");
  expect_load_error(damaged_dense([](RawModel& r) {
                      const float negative = -2.0f;
                      std::memcpy(r.tensor_data("seen.weights"), &negative, 4);
                    }),
                    ErrorKind::Corruption, "seen weight 0 is -2");
  expect_load_error(damaged_dense([](RawModel& r) {
                      r.header["item_to_item.dense"]["shape"] = {1, 25};
                    }),
                    ErrorKind::Corruption, "item_to_item.dense is 1 x 25");
}

TEST_F(ModelFile, DamagedItemBasedPartsAreRefused) {
  const auto damaged_item_based = [&](auto edit) { return damaged(edit, make_item_based_model()); };
  // A version 1 file has no such tensors.
  expect_load_error(
      damaged_item_based([](RawModel& r) { r.header["__metadata__"]["format_version"] = "1"; }),
      ErrorKind::Corruption, "unknown tensor \"item_");
  expect_load_error(damaged_item_based([](RawModel& r) {
                      const std::int32_t outside = 9;
                      std::memcpy(r.tensor_data("item_to_item.indices"), &outside, 4);
                    }),
                    ErrorKind::Corruption, "item-to-item weights: row 1 has column 9");
  expect_load_error(damaged_item_based([](RawModel& r) {
                      const float nan = std::numeric_limits<float>::quiet_NaN();
                      std::memcpy(r.tensor_data("item_to_item.values") + 4, &nan, 4);
                    }),
                    ErrorKind::Corruption, "nan");
  expect_load_error(damaged_item_based([](RawModel& r) {
                      r.header["item_queries"]["shape"] = {3, 5};
                    }),
                    ErrorKind::Corruption, "item_queries has 3 rows");
  // Saving checks them too.
  ModelData wrong = make_item_based_model();
  wrong.item_queries = random_matrix(wrong.items.size(), 2, 4);
  EXPECT_THROW(save_model(dir_ / "wrong.latent", wrong), Error);
}

TEST_F(ModelFile, SaveReplacesExistingFile) {
  const fs::path path = dir_ / "m.latent";
  save_model(path, make_model(2));
  const ModelData second = make_model(4);
  save_model(path, second);
  expect_same_model(load_model(path), second);
  EXPECT_EQ(dir_entries(dir_.path()), std::vector<std::string>{"m.latent"});
}

TEST_F(ModelFile, SaveIntoMissingDirectoryFailsAndLeavesNothing) {
  const fs::path path = dir_ / "no-such-dir" / "m.latent";
  expect_error(path, ErrorKind::IO, "No such file or directory",
               [&] { save_model(path, make_model()); });
  EXPECT_TRUE(dir_entries(dir_.path()).empty());
}

TEST_F(ModelFile, FailedWriteLeavesExistingTargetUntouched) {
  const fs::path path = dir_ / "m.latent";
  save_model(path, make_model());
  const std::string before = read_bytes(path);

  // Make the kernel refuse writes past 4 KiB (EFBIG instead of SIGXFSZ).
  rlimit old{};
  ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &old), 0);
  const auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
  rlimit small = old;
  small.rlim_cur = 4096;
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &small), 0);
  const ModelData big = make_model(512);
  expect_error(path, ErrorKind::IO, "too large", [&] { save_model(path, big); });
  setrlimit(RLIMIT_FSIZE, &old);
  std::signal(SIGXFSZ, old_handler);

  EXPECT_EQ(read_bytes(path), before);
  EXPECT_EQ(dir_entries(dir_.path()), std::vector<std::string>{"m.latent"});
}

TEST_F(ModelFile, InvalidModelIsRejectedBeforeWriting) {
  const fs::path path = dir_ / "m.latent";
  const auto expect_invalid = [&](const char* fragment, auto&& mutate) {
    ModelData m = make_model();
    mutate(m);
    expect_error(path, ErrorKind::InvalidArgument, fragment, [&] { save_model(path, m); });
    EXPECT_TRUE(dir_entries(dir_.path()).empty());
  };
  expect_invalid("user_embeddings has 3 rows",
                 [](ModelData& m) { m.user_embeddings = Matrix(3, 3); });
  expect_invalid("item_embeddings has 4 rows",
                 [](ModelData& m) { m.item_embeddings = Matrix(4, 3); });
  expect_invalid("dimension 3 but item embeddings 2",
                 [](ModelData& m) { m.item_embeddings = Matrix(5, 2); });
  expect_invalid("seen matrix is 4x4", [](ModelData& m) {
    m.seen = CsrMatrix(4, 4, {0, 0, 0, 0, 0}, {});
  });
  expect_invalid("2 item titles", [](ModelData& m) { m.item_titles = {"a", "b"}; });
  expect_invalid("kind is empty", [](ModelData& m) { m.kind.clear(); });
  expect_invalid("cannot be written as JSON", [](ModelData& m) { m.config = "bad \xff utf-8"; });
  expect_invalid("item_embeddings row 1 holds a non-finite value (inf)", [](ModelData& m) {
    m.item_embeddings.storage()[4] = std::numeric_limits<float>::infinity();
  });
  expect_invalid("user_embeddings has dimension 0", [](ModelData& m) {
    m.user_embeddings = Matrix(4, 0);
    m.item_embeddings = Matrix(5, 0);
  });
  expect_invalid("metadata \"config\" nests deeper than 64 levels", [](ModelData& m) {
    m.config = json::parse(std::string(65, '[') + std::string(65, ']'));
  });
}

TEST_F(ModelFile, MissingFileIsNotFound) {
  expect_load_error(dir_ / "absent.latent", ErrorKind::NotFound, "No such file");
}

// open() of a FIFO waits for a writer: a model path that is one (or a
// version file swapped for one under the server's poller) must be refused at
// once, not hang the loader.
TEST_F(ModelFile, AFifoIsRefusedWithoutWaitingForAWriter) {
  const fs::path path = dir_ / "fifo.latent";
  ASSERT_EQ(::mkfifo(path.c_str(), 0600), 0);
  auto loaded = std::async(std::launch::async, [&]() -> std::string {
    try {
      load_model(path);
      return "loaded";
    } catch (const Error& e) {
      return e.what();
    }
  });
  // A generous deadline, only so that a regression fails instead of hanging.
  if (loaded.wait_for(std::chrono::seconds(30)) != std::future_status::ready) {
    const int writer = ::open(path.c_str(), O_WRONLY | O_NONBLOCK);  // lets the reader go on
    loaded.wait();
    if (writer >= 0) ::close(writer);
    FAIL() << "load_model waited for a writer to open the FIFO";
  }
  const std::string message = loaded.get();
  EXPECT_NE(message.find("fifo.latent: is a FIFO"), std::string::npos) << message;
}

TEST_F(ModelFile, RejectsShortOrOversizedHeaders) {
  const fs::path path = dir_ / "m.latent";
  write_bytes(path, "");
  expect_load_error(path, ErrorKind::Corruption, "too short");
  write_bytes(path, std::string(7, '\0'));
  expect_load_error(path, ErrorKind::Corruption, "too short");

  std::string huge(8, '\0');
  const std::uint64_t n = std::uint64_t{1} << 62;
  std::memcpy(huge.data(), &n, 8);
  write_bytes(path, huge + "{}");
  expect_load_error(path, ErrorKind::Corruption,
                    "this is binary data of an unknown kind, not a latent model file");

  std::string longer(8, '\0');
  longer[0] = 100;
  write_bytes(path, longer + "{}");
  expect_load_error(path, ErrorKind::Corruption, "exceeds the 2 bytes");

  std::string bad_json(8, '\0');
  bad_json[0] = 8;
  write_bytes(path, bad_json + "{\"a\": 1 ");
  expect_load_error(path, ErrorKind::Corruption, "not a JSON object");
}

TEST_F(ModelFile, RejectsFilesOfOtherFormats) {
  expect_load_error(damaged([](RawModel& r) { r.header["__metadata__"]["format"] = "pt"; }),
                    ErrorKind::Corruption, "not a latent model file");
  expect_load_error(damaged([](RawModel& r) { r.header.erase("__metadata__"); }),
                    ErrorKind::Corruption, "not a latent model file");
  expect_load_error(
      damaged([](RawModel& r) { r.header["__metadata__"]["format_version"] = "one"; }),
      ErrorKind::Corruption, "format_version \"one\"");
}

TEST_F(ModelFile, NewerFormatVersionIsUnsupported) {
  const fs::path path = damaged([](RawModel& r) {
    r.header["__metadata__"]["format_version"] = std::to_string(kModelFormatVersion + 1);
  });
  expect_load_error(path, ErrorKind::Unsupported,
                    fmt::format("format version {}, newer than this build of latent reads "
                                "({}); upgrade latent",
                                kModelFormatVersion + 1, kModelFormatVersion));
}

// make_model() with an item tower over two features and two layers.
ModelData make_tower_model() {
  ModelData m = make_model(3);
  FeatureTable t;
  t.columns = parse_feature_columns("genres:multi,year:numeric:buckets=2");
  t.ids = {"tt01", "tt02", "caf\xc3\xa9"};
  t.values = {{"Drama|Crime", "Comedy", ""}, {"1995", "1999", "2001"}};
  FeatureTower tower;
  tower.encoder = FeatureEncoder::fit(t.columns, t);
  TowerShape shape;
  shape.id_rows = m.items.size();
  shape.feature_offsets.assign(tower.encoder.offsets().begin(), tower.encoder.offsets().end());
  shape.embed_dim = 4;
  shape.layers = {5, 3};
  Rng rng(3);
  const Tower trained(shape, 0.05f, rng);
  tower.params = trained.params();
  m.item_tower = std::move(tower);
  return m;
}

TEST_F(ModelFile, RoundTripKeepsTowers) {
  const ModelData model = make_tower_model();
  EXPECT_EQ(model_format_version(model), 4);
  save_model(dir_ / "m.latent", model);
  const ModelData loaded = load_model(dir_ / "m.latent");
  expect_same_model(loaded, model);
  ASSERT_TRUE(loaded.item_tower);
  EXPECT_FALSE(loaded.user_tower);
  const std::vector<FeatureValue> item{{"genres", "Comedy|Drama"}, {"year", "1997"}};
  EXPECT_EQ(loaded.item_tower->vector_of(item, "item"), model.item_tower->vector_of(item, "item"));
  EXPECT_EQ(loaded.item_tower->encoder.to_json(), model.item_tower->encoder.to_json());
}

TEST_F(ModelFile, RoundTripKeepsATowerOverIdsAlone) {
  // Layers without features: the user side is a tower with no encoder columns.
  ModelData model = make_tower_model();
  TowerShape shape;
  shape.id_rows = model.users.size();
  shape.embed_dim = 4;
  shape.layers = {3};
  Rng rng(5);
  const Tower ids_only(shape, 0.05f, rng);
  model.user_tower = FeatureTower{FeatureEncoder{}, ids_only.params(), {}};
  save_model(dir_ / "m.latent", model);
  const ModelData loaded = load_model(dir_ / "m.latent");
  ASSERT_TRUE(loaded.user_tower);
  EXPECT_FALSE(loaded.user_tower->has_features());
  EXPECT_EQ(loaded.user_tower->params.id_table.storage(),
            model.user_tower->params.id_table.storage());
}

TEST_F(ModelFile, DamagedTowersAreCorruption) {
  const ModelData model = make_tower_model();
  expect_load_error(
      damaged(
          [](RawModel& r) {
            json t = json::parse(r.header["__metadata__"]["items.tower"].get<std::string>());
            t["shape"]["layers"] = {5, 4};
            r.header["__metadata__"]["items.tower"] = t.dump();
          },
          model),
      ErrorKind::Corruption, "items.tower");
  expect_load_error(
      damaged([](RawModel& r) { r.header["__metadata__"]["items.tower"] = "{\"shape\": 3"; },
              model),
      ErrorKind::Corruption, "items.tower");
  expect_load_error(damaged(
                        [](RawModel& r) {
                          const float nan = std::numeric_limits<float>::quiet_NaN();
                          std::memcpy(r.tensor_data("items.tower.feature_table"), &nan, 4);
                        },
                        model),
                    ErrorKind::Corruption, "not finite");
  expect_load_error(
      damaged(
          [](RawModel& r) {
            json t = json::parse(r.header["__metadata__"]["items.tower"].get<std::string>());
            t["features"][0]["rows"] = 99;
            r.header["__metadata__"]["items.tower"] = t.dump();
          },
          model),
      ErrorKind::Corruption, "items.tower");
}

// make_tower_model() whose item tower keeps each item's own feature rows
// (as a user tower with context and layers does): item r has genre token
// r of its column (the OOV row, 0, for row 0).
ModelData make_own_rows_model() {
  ModelData m = make_tower_model();
  FeatureRows& own = m.item_tower->own_rows;
  for (std::int32_t r = 0; r < m.items.size(); ++r) {
    own.index.push_back(r % m.item_tower->params.shape.feature_offsets[1]);
    own.weight.push_back(0.5f);
    own.indptr.push_back(static_cast<std::int64_t>(own.index.size()));
  }
  return m;
}

TEST_F(ModelFile, RoundTripKeepsOwnFeatureRowsInVersion6) {
  const ModelData model = make_own_rows_model();
  EXPECT_EQ(model_format_version(model), 6);
  save_model(dir_ / "m.latent", model);
  const ModelData loaded = load_model(dir_ / "m.latent");
  expect_same_model(loaded, model);
  ASSERT_TRUE(loaded.item_tower);
  EXPECT_EQ(loaded.item_tower->own_rows.indptr, model.item_tower->own_rows.indptr);
  EXPECT_EQ(loaded.item_tower->own_rows.index, model.item_tower->own_rows.index);
  EXPECT_EQ(loaded.item_tower->own_rows.weight, model.item_tower->own_rows.weight);

  // A row per entity, or the save is refused and nothing is written.
  ModelData short_rows = model;
  short_rows.item_tower->own_rows.indptr.pop_back();
  short_rows.item_tower->own_rows.index.pop_back();
  short_rows.item_tower->own_rows.weight.pop_back();
  test::expect_error([&] { save_model(dir_ / "short.latent", short_rows); },
                     ErrorKind::InvalidArgument, {"short.latent", "one row per each of"});
  EXPECT_FALSE(std::filesystem::exists(dir_ / "short.latent"));
}

TEST_F(ModelFile, DamagedOwnFeatureRowsAreCorruption) {
  const ModelData model = make_own_rows_model();
  expect_load_error(damaged(
                        [](RawModel& r) {
                          const std::int32_t beyond = 1'000'000;
                          std::memcpy(r.tensor_data("items.tower.own_rows.index"), &beyond, 4);
                        },
                        model),
                    ErrorKind::Corruption, "token 1000000");
  expect_load_error(damaged(
                        [](RawModel& r) {
                          const std::int64_t backwards = 3;
                          std::memcpy(r.tensor_data("items.tower.own_rows.indptr") + 8, &backwards,
                                      8);
                        },
                        model),
                    ErrorKind::Corruption, "own feature rows");
  expect_load_error(damaged(
                        [](RawModel& r) {
                          const float nan = std::numeric_limits<float>::quiet_NaN();
                          std::memcpy(r.tensor_data("items.tower.own_rows.weight"), &nan, 4);
                        },
                        model),
                    ErrorKind::Corruption, "own columns");
}

// make_model() with a rating head over its vectors.
ModelData make_rating_model() {
  ModelData m = make_model(3);
  Rng rng(4);
  m.rating_head =
      RatingHead::initial(static_cast<std::int32_t>(m.user_embeddings.cols()), {6, 3}, rng);
  return m;
}

TEST_F(ModelFile, RoundTripKeepsTheRatingHeadInVersion5) {
  const ModelData model = make_rating_model();
  EXPECT_EQ(model_format_version(model), 5);
  save_model(dir_ / "m.latent", model);
  const ModelData loaded = load_model(dir_ / "m.latent");
  expect_same_model(loaded, model);
  ASSERT_TRUE(loaded.rating_head);
  EXPECT_EQ(loaded.rating_head->hidden, model.rating_head->hidden);
  ASSERT_EQ(loaded.rating_head->weights.size(), 3u);
  for (std::size_t l = 0; l < 3; ++l) {
    EXPECT_EQ(loaded.rating_head->weights[l].storage(), model.rating_head->weights[l].storage());
    EXPECT_EQ(loaded.rating_head->biases[l].storage(), model.rating_head->biases[l].storage());
  }
}

TEST_F(ModelFile, DamagedRatingHeadsAreCorruption) {
  const ModelData model = make_rating_model();
  expect_load_error(
      damaged(
          [](RawModel& r) {
            json h = json::parse(r.header["__metadata__"]["rating_head"].get<std::string>());
            h["hidden"] = {6, 4};
            r.header["__metadata__"]["rating_head"] = h.dump();
          },
          model),
      ErrorKind::Corruption, "rating_head");
  expect_load_error(
      damaged([](RawModel& r) { r.header["__metadata__"]["rating_head"] = "{\"dim\": "; }, model),
      ErrorKind::Corruption, "rating_head");
  expect_load_error(damaged(
                        [](RawModel& r) {
                          const float inf = std::numeric_limits<float>::infinity();
                          std::memcpy(r.tensor_data("rating_head.layer2.weights"), &inf, 4);
                        },
                        model),
                    ErrorKind::Corruption, "not finite");
  // A head over vectors of another width cannot score this model's pairs.
  ModelData wrong = make_rating_model();
  Rng rng(1);
  wrong.rating_head = RatingHead::initial(wrong.rating_head->dim + 1, {2}, rng);
  EXPECT_THROW(save_model(dir_ / "wrong.latent", wrong), Error);
  EXPECT_FALSE(fs::exists(dir_ / "wrong.latent"));
}

TEST_F(ModelFile, DetectsCorruptedDataAndHeader) {
  const fs::path path = dir_ / "m.latent";
  save_model(path, make_model());
  const std::string bytes = read_bytes(path);

  std::string data_flip = bytes;
  data_flip[data_flip.size() - 3] ^= 0x10;
  write_bytes(path, data_flip);
  expect_load_error(path, ErrorKind::Corruption,
                    "checksum mismatch: file is corrupted or truncated");

  // The header is protected too: a changed config would otherwise load.
  std::string header_flip = bytes;
  header_flip[header_flip.find("softmax")] = 'S';
  write_bytes(path, header_flip);
  expect_load_error(path, ErrorKind::Corruption, "header checksum mismatch");
}

TEST_F(ModelFile, RejectsBadTensorTables) {
  expect_load_error(damaged([](RawModel& r) { r.header.erase("seen.indices"); }),
                    ErrorKind::Corruption, "hole or overlap");
  expect_load_error(damaged([](RawModel& r) {
                      r.header["item_embeddingz"] = r.header["item_embeddings"];
                      r.header.erase("item_embeddings");
                    }),
                    ErrorKind::Corruption, "tensor \"item_embeddings\" is missing");
  expect_load_error(damaged([](RawModel& r) { r.header["seen.indices"]["dtype"] = "F32"; }),
                    ErrorKind::Corruption, "is F32 of rank 1, expected I32");
  expect_load_error(damaged([](RawModel& r) { r.header["seen.indices"]["dtype"] = "F16"; }),
                    ErrorKind::Corruption, "unknown dtype");
  expect_load_error(damaged([](RawModel& r) { r.header["seen.indices"]["shape"] = {4}; }),
                    ErrorKind::Corruption, "needs 16 bytes but has 20");
  expect_load_error(damaged([](RawModel& r) { r.header["seen.indices"]["shape"] = {-5}; }),
                    ErrorKind::Corruption, "not a list of non-negative integers");
  expect_load_error(
      damaged([](RawModel& r) { r.header["seen.indices"]["data_offsets"][1] = r.data.size() + 4; }),
      ErrorKind::Corruption, "lie outside");
  expect_load_error(damaged([](RawModel& r) {
                      r.header["seen.indices"]["shape"] = {1u << 30, 1u << 30, 1u << 30};
                    }),
                    ErrorKind::Corruption, "is too large");
  // Two tensors sharing bytes: an overlap here, and a hole where one was.
  expect_load_error(damaged([](RawModel& r) {
                      r.header["users.offsets"]["data_offsets"] =
                          r.header["items.offsets"]["data_offsets"];
                      r.header["users.offsets"]["shape"] = r.header["items.offsets"]["shape"];
                    }),
                    ErrorKind::Corruption, "hole or overlap");
  expect_load_error(damaged([](RawModel& r) {
                      r.data += std::string(8, '\0');
                      r.header["extra"] = {{"dtype", "I64"},
                                           {"shape", {1}},
                                           {"data_offsets", {r.data.size() - 8, r.data.size()}}};
                    }),
                    ErrorKind::Corruption, "unknown tensor \"extra\"");
  expect_load_error(damaged([](RawModel& r) { r.data += "x"; }), ErrorKind::Corruption,
                    "data section");
}

TEST_F(ModelFile, RejectsInconsistentContents) {
  // user_embeddings of 4 x 3 declared as 3 x 4: right size, wrong rows.
  expect_load_error(damaged([](RawModel& r) {
                      r.header["user_embeddings"]["shape"] = {3, 4};
                    }),
                    ErrorKind::Corruption, "user_embeddings has 3 rows but its vocabulary has 4");
  expect_load_error(damaged([](RawModel& r) { r.header["user_embeddings"]["shape"] = {12}; }),
                    ErrorKind::Corruption, "rank 1");
  expect_load_error(damaged([](RawModel& r) {
                      // items "tt01" and "tt02" become duplicates.
                      std::memcpy(r.tensor_data("items.ids") + 11, "01", 2);
                    }),
                    ErrorKind::Corruption, "duplicate");
  expect_load_error(damaged([](RawModel& r) {
                      const std::int64_t too_far = 1000;
                      std::memcpy(r.tensor_data("users.offsets") + 8, &too_far, 8);
                    }),
                    ErrorKind::Corruption, "users.offsets decrease");
  // Offsets that run past the ids and come back (found by the model_file
  // fuzzer): every offset is checked before any string is cut, so this is a
  // Corruption error, not std::out_of_range from cutting at offset 1000.
  expect_load_error(damaged([](RawModel& r) {
                      const std::int64_t far[] = {1000, 2000};
                      std::memcpy(r.tensor_data("users.offsets") + 8, far, sizeof far);
                    }),
                    ErrorKind::Corruption, "users.offsets decrease at entry 3");
  expect_load_error(damaged([](RawModel& r) {
                      std::memcpy(r.tensor_data("users.ids"), "03",
                                  2);  // "-4" -> "03"
                    }),
                    ErrorKind::Corruption, "\"03\" is not a canonical integer");
  expect_load_error(damaged([](RawModel& r) { r.header["__metadata__"]["items.kind"] = "x"; }),
                    ErrorKind::Corruption, "items.kind");
  expect_load_error(damaged([](RawModel& r) { r.header["__metadata__"]["config"] = "{"; }),
                    ErrorKind::Corruption, "\"config\" is not valid JSON");
  expect_load_error(damaged([](RawModel& r) { r.header["__metadata__"].erase("training"); }),
                    ErrorKind::Corruption, "no \"training\"");
  // A pointer past the end in the middle row, which a row-by-row check
  // would read through before noticing.
  expect_load_error(damaged([](RawModel& r) {
                      const std::int64_t past_end = 1 << 20;
                      std::memcpy(r.tensor_data("seen.indptr") + 2 * sizeof past_end, &past_end, 8);
                    }),
                    ErrorKind::Corruption, "seen.indptr[2]");
  expect_load_error(damaged([](RawModel& r) {
                      const std::int32_t column = 5;
                      std::memcpy(r.tensor_data("seen.indices"), &column, 4);
                    }),
                    ErrorKind::Corruption, "seen: sparse matrix row 1 has column 5");
}

std::string nested_arrays(std::size_t depth) {
  return std::string(depth, '[') + std::string(depth, ']');
}

TEST(ModelFileJsonDepth, CountsBracketsOutsideStrings) {
  EXPECT_EQ(json_depth("1"), 0u);
  EXPECT_EQ(json_depth(R"({"a": [1, {"b": []}], "c": {}})"), 4u);
  // Brackets inside strings, after an escaped quote and after an escaped
  // backslash.
  EXPECT_EQ(json_depth(R"(["[[[{", "\"[[", "\\", {}])"), 2u);
  EXPECT_EQ(json_depth(nested_arrays(64)), 64u);
  EXPECT_EQ(json_depth(std::string(100000, '[')), 65u);
  EXPECT_EQ(json_depth("[[[", 2), 3u);
}

// A crafted file must not overflow the stack of the JSON parser (or of its
// serializer, later): XXH64 detects damage, not a file re-signed on purpose.
TEST_F(ModelFile, RejectsDeeplyNestedMetadata) {
  expect_load_error(
      damaged([](RawModel& r) { r.header["__metadata__"]["config"] = nested_arrays(100000); }),
      ErrorKind::Corruption, "metadata \"config\" nests deeper than 64 levels");
  expect_load_error(
      damaged([](RawModel& r) { r.header["__metadata__"]["training"] = nested_arrays(50000); }),
      ErrorKind::Corruption, "metadata \"training\" nests deeper than 64 levels");
  expect_load_error(
      damaged([](RawModel& r) { r.header["__metadata__"]["config"] = nested_arrays(65); }),
      ErrorKind::Corruption, "metadata \"config\" nests deeper than 64 levels");
  // At the limit it loads, and brackets inside strings do not count.
  const ModelData m = load_model(damaged([](RawModel& r) {
    r.header["__metadata__"]["config"] = nested_arrays(64);
    r.header["__metadata__"]["training"] = json(std::string(1000, '[')).dump();
  }));
  EXPECT_EQ(m.config.dump(), nested_arrays(64));
  EXPECT_EQ(m.training, std::string(1000, '['));
}

TEST_F(ModelFile, RejectsDeeplyNestedHeader) {
  // Refused before any checksum is read, so no need to sign it.
  const std::string header = R"({"x":)" + nested_arrays(100000) + "}";
  std::string bytes(8, '\0');
  const std::uint64_t n = header.size();
  std::memcpy(bytes.data(), &n, 8);
  const fs::path path = dir_ / "m.latent";
  write_bytes(path, bytes + header);
  expect_load_error(path, ErrorKind::Corruption, "header nests deeper than 64 levels");
}

TEST_F(ModelFile, RejectsOversizedMetadata) {
  expect_load_error(
      damaged([](RawModel& r) {
        r.header["__metadata__"]["training"] = json(std::string(16u << 20, 'x')).dump();
      }),
      ErrorKind::Corruption, "metadata \"training\" is 16777218 bytes, over the limit of 16777216");
}

TEST_F(ModelFile, RejectsNonFiniteEmbeddings) {
  expect_load_error(damaged([](RawModel& r) {
                      const float nan = std::numeric_limits<float>::quiet_NaN();
                      std::memcpy(r.tensor_data("item_embeddings") + (2 * 3 + 1) * 4, &nan, 4);
                    }),
                    ErrorKind::Corruption, "item_embeddings row 2 holds a non-finite value (nan)");
  expect_load_error(damaged([](RawModel& r) {
                      const float inf = -std::numeric_limits<float>::infinity();
                      std::memcpy(r.tensor_data("user_embeddings") + (3 * 3 + 2) * 4, &inf, 4);
                    }),
                    ErrorKind::Corruption, "user_embeddings row 3 holds a non-finite value (-inf)");
}

TEST_F(ModelFile, RejectsBadEmbeddingShapesAndUnsortedSeen) {
  expect_load_error(damaged([](RawModel& r) {
                      r.resize_tensor("user_embeddings", 0);
                      r.resize_tensor("item_embeddings", 0);
                      r.header["user_embeddings"]["shape"] = {4, 0};
                      r.header["item_embeddings"]["shape"] = {5, 0};
                    }),
                    ErrorKind::Corruption, "user_embeddings has dimension 0");
  // One table of dimension 2, the other 3: both sizes match their shapes.
  expect_load_error(damaged([](RawModel& r) {
                      r.resize_tensor("item_embeddings", 5 * 2 * 4);
                      r.header["item_embeddings"]["shape"] = {5, 2};
                    }),
                    ErrorKind::Corruption,
                    "user embeddings have dimension 3 but item embeddings 2");
  expect_load_error(damaged([](RawModel& r) {
                      const std::int32_t columns[] = {4, 1};  // row 1: {1, 4} -> {4, 1}
                      std::memcpy(r.tensor_data("seen.indices"), columns, sizeof columns);
                    }),
                    ErrorKind::Corruption, "seen: sparse matrix row 1 has column 1 out of order");
}

// Every truncation and a byte flip at every position (plus random extra
// ones) must raise latent::Error: never a crash, never different data.
TEST_F(ModelFile, TruncatedOrFlippedFilesAlwaysFailCleanly) {
  ModelData model = make_model(2);
  const fs::path good = dir_ / "good.latent";
  save_model(good, model);
  const std::string bytes = read_bytes(good);
  const fs::path path = dir_ / "bad.latent";
  const auto expect_rejected = [&](const std::string& contents, const std::string& what) {
    write_bytes(path, contents);
    try {
      load_model(path);
      ADD_FAILURE() << what << " loaded successfully";
    } catch (const Error&) {
    }
  };

  for (std::size_t n = 0; n < bytes.size(); ++n) {
    expect_rejected(bytes.substr(0, n), fmt::format("truncation to {} bytes", n));
  }
  Rng rng(20240601);
  for (std::size_t i = 0; i < bytes.size() + 500; ++i) {
    const std::size_t pos = i < bytes.size() ? i : rng.below(bytes.size());
    const auto mask = static_cast<char>(1 + rng.below(255));
    std::string flipped = bytes;
    flipped[pos] = static_cast<char>(flipped[pos] ^ mask);
    expect_rejected(flipped, fmt::format("flip of byte {} with mask {:#x}", pos,
                                         static_cast<unsigned char>(mask)));
  }
  expect_same_model(load_model(good), model);
}

// The committed fixture pins format version 1: if this test fails, old model
// files no longer load. Change the reader, never the fixture.
ModelData fixture_model_v1() {
  ModelData m;
  m.kind = "two-tower";
  m.config =
      json::parse(R"({"dim": 2, "learning_rate": 0.05, "loss": "softmax", "towers": [8, 2]})");
  m.training = json::parse(R"({"source": "fixture", "epochs": 3, "metrics": {"recall@10": 0.25}})");
  m.users = Vocabulary::from_ordered({"7", "42"}, Vocabulary::IdKind::Integer);
  m.items = Vocabulary::from_ordered({"m1", "m2", "m3"}, Vocabulary::IdKind::String);
  m.item_titles = {"", "Toy Story (1995)", "Am\xc3\xa9lie (2001)", "Heat (1995)"};
  m.user_embeddings = Matrix(3, 2, {0.0f, 0.0f, 0.5f, -1.25f, 2.0f, 0.125f});
  m.item_embeddings = Matrix(4, 2, {0.0f, 0.0f, 1.0f, -0.5f, 0.25f, 3.0f, -2.0f, 0.75f});
  m.seen = CsrMatrix(3, 4, {0, 0, 2, 3}, {1, 3, 2});
  return m;
}

// Regenerates the fixture for the current format version (a new file per
// version; older ones stay):
//   latent_unit_tests --gtest_also_run_disabled_tests
//                     --gtest_filter=ModelFile.DISABLED_WriteFixture
TEST_F(ModelFile, DISABLED_WriteFixture) {
  const ModelData m = fixture_model_v1();
  save_model(test::source_dir() / "tests" / "data" /
                 fmt::format("model_v{}.latent", model_format_version(m)),
             m);
}

TEST_F(ModelFile, LoadsVersion1Fixture) {
  const fs::path path = test::source_dir() / "tests" / "data" / "model_v1.latent";
  const ModelData m = load_model(path);
  // Every value spelled out, not compared with fixture_model_v1(), so that
  // editing the generator cannot silently change what is checked.
  EXPECT_EQ(m.kind, "two-tower");
  EXPECT_EQ(m.config, json::parse(R"({"dim": 2, "learning_rate": 0.05, "loss": "softmax",
                                      "towers": [8, 2]})"));
  EXPECT_EQ(m.training, json::parse(R"({"source": "fixture", "epochs": 3,
                                        "metrics": {"recall@10": 0.25}})"));
  EXPECT_EQ(m.users.kind(), Vocabulary::IdKind::Integer);
  EXPECT_EQ(ids_of(m.users), (std::vector<std::string>{"7", "42"}));
  EXPECT_EQ(m.users.lookup("42"), 2);
  EXPECT_EQ(m.items.kind(), Vocabulary::IdKind::String);
  EXPECT_EQ(ids_of(m.items), (std::vector<std::string>{"m1", "m2", "m3"}));
  EXPECT_EQ(m.item_titles, (std::vector<std::string>{"", "Toy Story (1995)", "Am\xc3\xa9lie (2001)",
                                                     "Heat (1995)"}));
  ASSERT_EQ(m.user_embeddings.rows(), 3);
  ASSERT_EQ(m.user_embeddings.cols(), 2);
  EXPECT_EQ(
      std::vector<float>(m.user_embeddings.values().begin(), m.user_embeddings.values().end()),
      (std::vector<float>{0.0f, 0.0f, 0.5f, -1.25f, 2.0f, 0.125f}));
  ASSERT_EQ(m.item_embeddings.rows(), 4);
  ASSERT_EQ(m.item_embeddings.cols(), 2);
  EXPECT_EQ(
      std::vector<float>(m.item_embeddings.values().begin(), m.item_embeddings.values().end()),
      (std::vector<float>{0.0f, 0.0f, 1.0f, -0.5f, 0.25f, 3.0f, -2.0f, 0.75f}));
  EXPECT_EQ(m.seen.rows(), 3);
  EXPECT_EQ(m.seen.cols(), 4);
  EXPECT_EQ(m.seen.indptr(), (std::vector<std::int64_t>{0, 0, 2, 3}));
  EXPECT_EQ(m.seen.indices(), (std::vector<std::int32_t>{1, 3, 2}));

  const json meta = RawModel::parse(read_bytes(path)).header.at("__metadata__");
  EXPECT_EQ(meta.at("format_version"), "1");
}

}  // namespace
}  // namespace latent
