#include <latent/model_file.hpp>

#include <algorithm>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstring>
#include <deque>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string_view>
#include <utility>

#include <fmt/format.h>
#include <xxhash.h>

#include <latent/error.hpp>
#include <latent/json_depth.hpp>

#include "detail/atomic_file.hpp"
#include "detail/file_bytes.hpp"
#include "detail/file_kind.hpp"

// Tensors are written and read as raw host memory.
static_assert(std::endian::native == std::endian::little,
              "the latent model file is little-endian; big-endian hosts need byte swapping");

namespace latent {
namespace {

using nlohmann::json;

// A header larger than detail::kMaxModelHeaderBytes is damage, not a model:
// even a million-row vocabulary keeps its ids in the data section.

// The config and training metadata are a few KB; even a training log of
// thousands of epochs with their metrics stays far below this.
constexpr std::size_t kMaxMetadataJsonBytes = 16u << 20;

// The data checksum leaves the header (config, kind, tensor table)
// unprotected, so the header carries its own: XXH64 of the padded header text
// with these 16 digits written as '0'.
constexpr std::string_view kHeaderChecksumKey = "header_checksum";
constexpr std::string_view kHeaderChecksumNeedle = R"("header_checksum":")";
constexpr std::size_t kDigits = 16;

// In file order: widest element first, so each group's byte size is a
// multiple of the next group's element size and every tensor starts aligned.
enum class DType { I64, F32, I32, U8 };

struct DTypeInfo {
  std::string_view name;
  std::size_t size;
};
constexpr DTypeInfo kDTypes[] = {{"I64", 8}, {"F32", 4}, {"I32", 4}, {"U8", 1}};

const DTypeInfo& info(DType d) { return kDTypes[static_cast<std::size_t>(d)]; }

std::optional<DType> parse_dtype(std::string_view name) {
  for (std::size_t i = 0; i < std::size(kDTypes); ++i) {
    if (kDTypes[i].name == name) return static_cast<DType>(i);
  }
  return std::nullopt;
}

std::string hex64(std::uint64_t v) { return fmt::format("{:016x}", v); }

template <typename T>
std::string_view as_bytes(std::span<const T> values) {
  return {reinterpret_cast<const char*>(values.data()), values.size_bytes()};
}

// Offset of the header checksum's digits in the header text, or nullopt
// unless the text holds exactly one well-formed occurrence. Matching the raw
// text (not the parsed JSON) keeps the checksum independent of how any JSON
// library would re-serialize the header.
std::optional<std::size_t> header_checksum_digits(std::string_view header) {
  const auto pos = header.find(kHeaderChecksumNeedle);
  if (pos == std::string_view::npos ||
      header.find(kHeaderChecksumNeedle, pos + 1) != std::string_view::npos) {
    return std::nullopt;
  }
  const std::size_t digits = pos + kHeaderChecksumNeedle.size();
  if (digits + kDigits >= header.size() || header[digits + kDigits] != '"') return std::nullopt;
  return digits;
}

std::uint64_t header_digest(std::string header, std::size_t digits) {
  header.replace(digits, kDigits, kDigits, '0');
  return XXH64(header.data(), header.size(), 0);
}

// Why the JSON text of metadata field `key` cannot be in a model file, or
// nullopt if it can. Shared by the writer and the reader, so that a file
// save_model writes always loads.
std::optional<std::string> metadata_json_problem(std::string_view key, std::string_view text) {
  if (text.size() > kMaxMetadataJsonBytes) {
    return fmt::format("metadata \"{}\" is {} bytes, over the limit of {}", key, text.size(),
                       kMaxMetadataJsonBytes);
  }
  if (json_depth(text) > kMaxJsonDepth) {
    return fmt::format("metadata \"{}\" nests deeper than {} levels", key, kMaxJsonDepth);
  }
  return std::nullopt;
}

// Why embedding table `name` cannot be in a model file, or nullopt if it
// can: a dimension of 0 or a NaN or inf anywhere (a NaN score ranks nowhere,
// so answers come back empty or arbitrary). One pass over the table, once
// at save and once at load, never per query.
// A model of dimension 0 scores by its item-to-item term alone (EASE).
std::optional<std::string> embedding_problem(std::string_view name, const Matrix& e,
                                             bool dimension_zero_allowed) {
  if (e.cols() < 1 && !(dimension_zero_allowed && e.cols() == 0)) {
    return fmt::format("{} has dimension {}; at least 1 is needed", name, e.cols());
  }
  const auto values = e.values();
  const auto it =
      std::find_if(values.begin(), values.end(), [](float v) { return !std::isfinite(v); });
  if (it == values.end()) return std::nullopt;
  return fmt::format("{} row {} holds a non-finite value ({})", name,
                     (it - values.begin()) / e.cols(), *it);
}

std::optional<std::string> seen_weights_problem(const std::vector<float>& weights) {
  const auto it = std::find_if(weights.begin(), weights.end(),
                               [](float w) { return !std::isfinite(w) || w < 0; });
  if (it == weights.end()) return std::nullopt;
  return fmt::format("seen weight {} is {}; seen weights are finite and >= 0", it - weights.begin(),
                     *it);
}

std::string id_kind_name(Vocabulary::IdKind id_type) {
  return id_type == Vocabulary::IdKind::Integer ? "integer" : "string";
}

// ---------------------------------------------------------------- writing

struct OutTensor {
  std::string name;
  DType dtype;
  std::vector<std::uint64_t> shape;
  std::string_view bytes;  // into the model or into TensorList::owned_
};

class TensorList {
 public:
  template <typename T>
  void add(std::string name, DType dtype, std::vector<std::uint64_t> shape,
           std::span<const T> values) {
    tensors_.push_back({std::move(name), dtype, std::move(shape), as_bytes(values)});
  }

  // `<name>.ids`: the strings concatenated; `<name>.offsets`: n + 1 offsets.
  void add_strings(const std::string& name, std::span<const std::string> strings) {
    std::string& blob = owned_.emplace_back();
    std::string& offsets = owned_.emplace_back();
    std::int64_t end = 0;
    offsets.append(as_bytes(std::span<const std::int64_t>(&end, 1)));
    for (const auto& s : strings) {
      blob += s;
      end = static_cast<std::int64_t>(blob.size());
      offsets.append(as_bytes(std::span<const std::int64_t>(&end, 1)));
    }
    tensors_.push_back({name + ".ids", DType::U8, {blob.size()}, blob});
    tensors_.push_back({name + ".offsets", DType::I64, {strings.size() + 1}, offsets});
  }

  // Grouped by dtype in DType order, by name within a group.
  std::span<const OutTensor> in_file_order() {
    std::sort(tensors_.begin(), tensors_.end(), [](const OutTensor& a, const OutTensor& b) {
      return std::pair(a.dtype, std::string_view(a.name)) <
             std::pair(b.dtype, std::string_view(b.name));
    });
    return tensors_;
  }

 private:
  std::deque<std::string> owned_;  // a deque never moves its elements
  std::vector<OutTensor> tensors_;
};

[[noreturn]] void invalid(const std::filesystem::path& path, const std::string& what) {
  throw Error(ErrorKind::InvalidArgument,
              fmt::format("{}: cannot save model: {}", path.string(), what));
}

// Why `tower` cannot be the tower of side `side` ("users") whose vectors
// are `vectors`, or nullopt.
std::optional<std::string> tower_problem(const FeatureTower& tower, const char* side,
                                         const Matrix& vectors) {
  try {
    tower.validate(fmt::format("{}.tower", side), vectors.rows());
  } catch (const Error& e) {
    return e.what();
  }
  const TowerShape& s = tower.params.shape;
  if (s.output_dim() != vectors.cols()) {
    return fmt::format("{}.tower gives vectors of dimension {}, the embeddings have {}", side,
                       s.output_dim(), vectors.cols());
  }
  if (s.id_rows != 0 && s.id_rows != vectors.rows()) {
    return fmt::format("{}.tower has {} id rows for {} vocabulary rows", side, s.id_rows,
                       vectors.rows());
  }
  return std::nullopt;
}

// Why `head` cannot score pairs of the model whose user vectors are
// `vectors`, or nullopt.
std::optional<std::string> rating_head_problem(const RatingHead& head, const Matrix& vectors) {
  try {
    head.validate("rating_head");
  } catch (const Error& e) {
    return e.what();
  }
  if (head.dim != vectors.cols()) {
    return fmt::format("rating_head takes vectors of dimension {}, the embeddings have {}",
                       head.dim, vectors.cols());
  }
  return std::nullopt;
}

void validate_for_save(const std::filesystem::path& path, const ModelData& m) {
  if (m.kind.empty()) invalid(path, "model kind is empty");
  const auto check_table = [&](const char* name, const Matrix& e, const Vocabulary& v) {
    if (e.rows() != v.size()) {
      invalid(path, fmt::format("{} has {} rows but its vocabulary has {} (including OOV)", name,
                                e.rows(), v.size()));
    }
    if (static_cast<std::int64_t>(e.size()) != e.rows() * e.cols()) {
      invalid(path,
              fmt::format("{} holds {} values, not {}x{}", name, e.size(), e.rows(), e.cols()));
    }
    if (auto problem = embedding_problem(name, e, !m.item_to_item.empty())) {
      invalid(path, *problem);
    }
  };
  check_table("user_embeddings", m.user_embeddings, m.users);
  check_table("item_embeddings", m.item_embeddings, m.items);
  if (m.user_embeddings.cols() != m.item_embeddings.cols()) {
    invalid(path, fmt::format("user embeddings have dimension {} but item embeddings {}",
                              m.user_embeddings.cols(), m.item_embeddings.cols()));
  }
  if (m.seen.rows() != m.users.size() || m.seen.cols() != m.items.size()) {
    invalid(path, fmt::format("seen matrix is {}x{} but the vocabularies are {}x{}", m.seen.rows(),
                              m.seen.cols(), m.users.size(), m.items.size()));
  }
  if (!m.item_titles.empty() && m.item_titles.size() != static_cast<std::size_t>(m.items.size())) {
    invalid(path, fmt::format("{} item titles for {} item rows (including OOV)",
                              m.item_titles.size(), m.items.size()));
  }
  if (!m.item_to_item.empty() && m.item_to_item.items() != m.items.size()) {
    invalid(path, fmt::format("item-to-item weights over {} items for {} item rows",
                              m.item_to_item.items(), m.items.size()));
  }
  if (!m.seen_weights.empty() && static_cast<std::int64_t>(m.seen_weights.size()) != m.seen.nnz()) {
    invalid(path,
            fmt::format("{} seen weights for {} seen pairs", m.seen_weights.size(), m.seen.nnz()));
  }
  if (auto problem = seen_weights_problem(m.seen_weights)) invalid(path, *problem);
  if (m.item_queries.rows() != 0) {
    check_table("item_queries", m.item_queries, m.items);
    if (m.item_queries.cols() != m.item_embeddings.cols()) {
      invalid(path, fmt::format("item queries have dimension {} but item embeddings {}",
                                m.item_queries.cols(), m.item_embeddings.cols()));
    }
  }
  for (const auto& [side, tower, vectors] :
       {std::tuple("users", &m.user_tower, &m.user_embeddings),
        std::tuple("items", &m.item_tower, &m.item_embeddings)}) {
    if (!*tower) continue;
    if (auto problem = tower_problem(**tower, side, *vectors)) invalid(path, *problem);
  }
  if (m.rating_head) {
    if (auto problem = rating_head_problem(*m.rating_head, m.user_embeddings)) {
      invalid(path, *problem);
    }
  }
}

TensorList collect_tensors(const ModelData& m) {
  TensorList t;
  const auto rows_dim = [](const Matrix& e) {
    return std::vector<std::uint64_t>{static_cast<std::uint64_t>(e.rows()),
                                      static_cast<std::uint64_t>(e.cols())};
  };
  t.add("user_embeddings", DType::F32, rows_dim(m.user_embeddings), m.user_embeddings.values());
  t.add("item_embeddings", DType::F32, rows_dim(m.item_embeddings), m.item_embeddings.values());
  t.add_strings("users", m.users.ids());
  t.add_strings("items", m.items.ids());
  if (!m.item_titles.empty()) t.add_strings("item_titles", m.item_titles);
  t.add("seen.indptr", DType::I64, {m.seen.indptr().size()},
        std::span<const std::int64_t>(m.seen.indptr()));
  t.add("seen.indices", DType::I32, {m.seen.indices().size()},
        std::span<const std::int32_t>(m.seen.indices()));
  if (!m.seen_weights.empty()) {
    t.add("seen.weights", DType::F32, {m.seen_weights.size()},
          std::span<const float>(m.seen_weights));
  }
  if (m.item_to_item.is_dense()) {
    const ItemToItem& w = m.item_to_item;
    const auto n = static_cast<std::uint64_t>(w.items());
    t.add("item_to_item.dense", DType::F32, {n, n}, std::span<const float>(w.values()));
  } else if (!m.item_to_item.empty()) {
    const ItemToItem& w = m.item_to_item;
    t.add("item_to_item.indptr", DType::I64, {w.indptr().size()},
          std::span<const std::int64_t>(w.indptr()));
    t.add("item_to_item.indices", DType::I32, {w.indices().size()},
          std::span<const std::int32_t>(w.indices()));
    t.add("item_to_item.values", DType::F32, {w.values().size()},
          std::span<const float>(w.values()));
  }
  if (m.item_queries.rows() != 0) {
    t.add("item_queries", DType::F32, rows_dim(m.item_queries), m.item_queries.values());
  }
  for (const auto& [side, tower] :
       {std::pair("users", &m.user_tower), std::pair("items", &m.item_tower)}) {
    if (!*tower) continue;
    const std::string prefix = fmt::format("{}.tower.", side);
    const TowerParams& p = (*tower)->params;
    if (p.id_table.rows() != 0) {
      t.add(prefix + "id_table", DType::F32, rows_dim(p.id_table), p.id_table.values());
    }
    if (p.feature_table.rows() != 0) {
      t.add(prefix + "feature_table", DType::F32, rows_dim(p.feature_table),
            p.feature_table.values());
    }
    for (std::size_t l = 0; l < p.weights.size(); ++l) {
      t.add(fmt::format("{}layer{}.weights", prefix, l), DType::F32, rows_dim(p.weights[l]),
            p.weights[l].values());
      t.add(fmt::format("{}layer{}.biases", prefix, l), DType::F32, rows_dim(p.biases[l]),
            p.biases[l].values());
    }
    const auto columns = (*tower)->encoder.columns();
    for (std::size_t c = 0; c < columns.size(); ++c) {
      t.add_strings(fmt::format("{}vocabulary{}", prefix, c), columns[c].vocabulary.ids());
    }
    const FeatureRows& own = (*tower)->own_rows;
    if (own.rows() > 0) {
      t.add(prefix + "own_rows.indptr", DType::I64, {own.indptr.size()},
            std::span<const std::int64_t>(own.indptr));
      t.add(prefix + "own_rows.index", DType::I32, {own.index.size()},
            std::span<const std::int32_t>(own.index));
      t.add(prefix + "own_rows.weight", DType::F32, {own.weight.size()},
            std::span<const float>(own.weight));
    }
  }
  if (m.rating_head) {
    const RatingHead& h = *m.rating_head;
    for (std::size_t l = 0; l < h.weights.size(); ++l) {
      t.add(fmt::format("rating_head.layer{}.weights", l), DType::F32, rows_dim(h.weights[l]),
            h.weights[l].values());
      t.add(fmt::format("rating_head.layer{}.biases", l), DType::F32, rows_dim(h.biases[l]),
            h.biases[l].values());
    }
  }
  return t;
}

std::uint64_t data_checksum(std::span<const OutTensor> tensors) {
  const std::unique_ptr<XXH64_state_t, decltype(&XXH64_freeState)> state(XXH64_createState(),
                                                                         &XXH64_freeState);
  if (!state) throw std::bad_alloc();
  XXH64_reset(state.get(), 0);
  for (const auto& t : tensors) XXH64_update(state.get(), t.bytes.data(), t.bytes.size());
  return XXH64_digest(state.get());
}

// The padded, signed JSON header.
std::string make_header(const std::filesystem::path& path, const ModelData& m,
                        std::span<const OutTensor> tensors) {
  json header = json::object();
  std::uint64_t offset = 0;
  for (const auto& t : tensors) {
    header[t.name] = {{"dtype", info(t.dtype).name},
                      {"shape", t.shape},
                      {"data_offsets", {offset, offset + t.bytes.size()}}};
    offset += t.bytes.size();
  }
  std::string config;
  std::string training;
  std::string text;
  try {
    config = m.config.dump();
    training = m.training.dump();
  } catch (const json::exception& e) {
    // dump() refuses strings that are not valid UTF-8.
    invalid(path, fmt::format("kind, config or training metadata cannot be written as JSON: {}",
                              e.what()));
  }
  if (auto problem = metadata_json_problem("config", config)) invalid(path, *problem);
  if (auto problem = metadata_json_problem("training", training)) invalid(path, *problem);
  try {
    header["__metadata__"] = {
        {"format", "latent"},
        {"format_version", std::to_string(model_format_version(m))},
        {"kind", m.kind},
        {"config", std::move(config)},
        {"training", std::move(training)},
        {"users.kind", id_kind_name(m.users.kind())},
        {"items.kind", id_kind_name(m.items.kind())},
        {"checksum", hex64(data_checksum(tensors))},
        {std::string(kHeaderChecksumKey), std::string(kDigits, '0')},
    };
    for (const auto& [side, tower] :
         {std::pair("users", &m.user_tower), std::pair("items", &m.item_tower)}) {
      if (!*tower) continue;
      header["__metadata__"][fmt::format("{}.tower", side)] = json{
          {"shape", (*tower)->params.shape.to_json()},
          {"features", (*tower)->encoder.to_json()}}.dump();
    }
    if (m.rating_head) header["__metadata__"]["rating_head"] = m.rating_head->shape_json().dump();
    text = header.dump();
  } catch (const json::exception& e) {
    // dump() refuses strings that are not valid UTF-8.
    invalid(path, fmt::format("kind, config or training metadata cannot be written as JSON: {}",
                              e.what()));
  }
  // safetensors allows trailing spaces; they make the data section start at
  // a multiple of 8 after the 8-byte length.
  text.append((8 - text.size() % 8) % 8, ' ');
  const std::size_t digits = *header_checksum_digits(text);
  text.replace(digits, kDigits, hex64(header_digest(text, digits)));
  return text;
}

// ---------------------------------------------------------------- reading

struct TensorView {
  DType dtype;
  std::vector<std::uint64_t> shape;
  std::string_view bytes;  // into the memory map
};

template <typename T>
std::vector<T> copy_values(const TensorView& t) {
  std::vector<T> out(t.bytes.size() / sizeof(T));
  // memcpy, not a cast: only our own writer promises alignment.
  if (!out.empty()) std::memcpy(out.data(), t.bytes.data(), t.bytes.size());
  return out;
}

// Validates one file read into memory; every failure names it. The checks run
// outside-in, so each step can rely on the previous ones.
class Loader {
 public:
  explicit Loader(const std::filesystem::path& path) : path_(path), file_(path) {}

  ModelData load() {
    split_file();
    parse_header();
    check_format();
    check_header_checksum();
    parse_tensor_table();
    check_data_checksum();
    return decode();
  }

 private:
  template <typename... Args>
  [[noreturn]] void fail(ErrorKind kind, fmt::format_string<Args...> f, Args&&... args) const {
    throw Error(kind,
                fmt::format("{}: {}", path_.string(), fmt::format(f, std::forward<Args>(args)...)));
  }
  template <typename... Args>
  [[noreturn]] void corrupt(fmt::format_string<Args...> f, Args&&... args) const {
    fail(ErrorKind::Corruption, f, std::forward<Args>(args)...);
  }

  void split_file() {
    const std::string_view bytes = file_.bytes();
    if (bytes.size() < 8) {
      corrupt("file is {} bytes, too short for a model file (truncated?)", bytes.size());
    }
    if (!detail::looks_like_latent_model(bytes)) {
      const char* kind = detail::what_content_is(bytes);
      if (kind == nullptr) {
        const bool has_nul = bytes.substr(0, 4096).find('\0') != std::string_view::npos;
        kind = has_nul ? "binary data of an unknown kind" : "text (CSV, JSON, ...)";
      }
      corrupt("this is {}, not a latent model file", kind);
    }
    std::uint64_t n = 0;
    std::memcpy(&n, bytes.data(), 8);
    if (n > bytes.size() - 8) {
      corrupt("header length {} exceeds the {} bytes after the length field (truncated?)", n,
              bytes.size() - 8);
    }
    header_text_ = bytes.substr(8, n);
    data_ = bytes.substr(8 + n);
  }

  void parse_header() {
    if (json_depth(header_text_) > kMaxJsonDepth) {
      corrupt("header nests deeper than {} levels; not a latent model file", kMaxJsonDepth);
    }
    header_ =
        json::parse(header_text_.begin(), header_text_.end(), nullptr, /*allow_exceptions=*/false);
    if (header_.is_discarded() || !header_.is_object()) corrupt("header is not a JSON object");
    const auto it = header_.find("__metadata__");
    if (it == header_.end() || !it->is_object()) {
      corrupt("header has no __metadata__; not a latent model file");
    }
    for (const auto& [key, value] : it->items()) {
      if (!value.is_string()) corrupt("metadata \"{}\" is not a string", key);
      metadata_.emplace(key, value.get<std::string>());
    }
  }

  const std::string& meta(std::string_view key) const {
    const auto it = metadata_.find(key);
    if (it == metadata_.end()) corrupt("metadata has no \"{}\"", key);
    return it->second;
  }

  void check_format() {
    const auto format = metadata_.find("format");
    if (format == metadata_.end() || format->second != "latent") {
      corrupt("not a latent model file (metadata \"format\" is not \"latent\")");
    }
    const std::string& text = meta("format_version");
    int version = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), version);
    if (ec != std::errc() || end != text.data() + text.size() || version < 1) {
      corrupt("format_version \"{}\" is not a positive integer", text);
    }
    if (version > kModelFormatVersion) {
      fail(ErrorKind::Unsupported,
           "model file has format version {}, newer than this build of latent reads ({}); "
           "upgrade latent",
           version, kModelFormatVersion);
    }
    version_ = version;
  }

  void check_header_checksum() const {
    const auto digits = header_checksum_digits(header_text_);
    if (!digits || header_text_.substr(*digits, kDigits) != meta(kHeaderChecksumKey)) {
      corrupt("header checksum is missing or malformed");
    }
    if (hex64(header_digest(std::string(header_text_), *digits)) != meta(kHeaderChecksumKey)) {
      corrupt("header checksum mismatch: file is corrupted");
    }
  }

  void parse_tensor_table() {
    for (const auto& [name, entry] : header_.items()) {
      if (name != "__metadata__") tensors_.emplace(name, parse_tensor(name, entry));
    }
    // safetensors rule: tensors tile the data section, no holes, no overlaps.
    std::vector<std::pair<std::string_view, const TensorView*>> by_offset;
    for (const auto& [name, t] : tensors_) by_offset.emplace_back(name, &t);
    std::sort(by_offset.begin(), by_offset.end(), [](const auto& a, const auto& b) {
      return std::pair(a.second->bytes.data(), a.second->bytes.size()) <
             std::pair(b.second->bytes.data(), b.second->bytes.size());
    });
    const char* expected = data_.data();
    for (const auto& [name, t] : by_offset) {
      if (t->bytes.data() != expected) {
        corrupt("tensor \"{}\" starts at data offset {}, expected {} (hole or overlap)", name,
                t->bytes.data() - data_.data(), expected - data_.data());
      }
      expected += t->bytes.size();
    }
    if (expected != data_.data() + data_.size()) {
      corrupt("tensors cover {} bytes of a {}-byte data section", expected - data_.data(),
              data_.size());
    }
  }

  TensorView parse_tensor(const std::string& name, const json& entry) const {
    const auto field = [&](const char* key) -> const json& {
      const auto it = entry.find(key);  // end() unless entry is an object
      if (it == entry.end()) corrupt("tensor \"{}\" has no \"{}\"", name, key);
      return *it;
    };
    const json& dtype_field = field("dtype");
    const auto dtype =
        dtype_field.is_string() ? parse_dtype(dtype_field.get<std::string>()) : std::nullopt;
    if (!dtype) corrupt("tensor \"{}\" has unknown dtype {}", name, dtype_field.dump());
    const auto shape = unsigned_list(name, "shape", field("shape"));
    const auto offsets = unsigned_list(name, "data_offsets", field("data_offsets"));
    if (offsets.size() != 2 || offsets[0] > offsets[1] || offsets[1] > data_.size()) {
      corrupt("tensor \"{}\" data_offsets {} lie outside the {}-byte data section", name,
              field("data_offsets").dump(), data_.size());
    }
    const std::uint64_t length = offsets[1] - offsets[0];
    std::uint64_t expected = info(*dtype).size;
    bool overflow = false;
    for (std::uint64_t d : shape) overflow |= __builtin_mul_overflow(expected, d, &expected);
    // A zero dimension makes the true product zero whatever overflowed before it.
    if (overflow && std::find(shape.begin(), shape.end(), 0) == shape.end()) {
      corrupt("tensor \"{}\" shape {} is too large", name, field("shape").dump());
    }
    if (expected != length) {
      corrupt("tensor \"{}\" of shape {} and dtype {} needs {} bytes but has {}", name,
              field("shape").dump(), info(*dtype).name, expected, length);
    }
    return {*dtype, shape, data_.substr(offsets[0], length)};
  }

  std::vector<std::uint64_t> unsigned_list(const std::string& name, const char* key,
                                           const json& value) const {
    std::vector<std::uint64_t> out;
    if (value.is_array()) {
      for (const auto& v : value) {
        if (!v.is_number_unsigned()) break;
        out.push_back(v.get<std::uint64_t>());
      }
    }
    if (!value.is_array() || out.size() != value.size()) {
      corrupt("tensor \"{}\" {} is not a list of non-negative integers", name, key);
    }
    return out;
  }

  void check_data_checksum() const {
    if (hex64(XXH64(data_.data(), data_.size(), 0)) != meta("checksum")) {
      corrupt("checksum mismatch: file is corrupted or truncated");
    }
  }

  ModelData decode() {
    ModelData m;
    m.kind = meta("kind");
    if (m.kind.empty()) corrupt("model kind is empty");
    m.config = parse_json_text("config");
    m.training = parse_json_text("training");
    m.users = vocabulary("users");
    m.items = vocabulary("items");
    if (tensors_.contains("item_titles.ids") || tensors_.contains("item_titles.offsets")) {
      m.item_titles = strings("item_titles");
      if (m.item_titles.size() != static_cast<std::size_t>(m.items.size())) {
        corrupt("{} item titles for {} item rows", m.item_titles.size(), m.items.size());
      }
    }
    m.user_embeddings = embeddings("user_embeddings", m.users);
    m.item_embeddings = embeddings("item_embeddings", m.items);
    if (m.user_embeddings.cols() != m.item_embeddings.cols()) {
      corrupt("user embeddings have dimension {} but item embeddings {}", m.user_embeddings.cols(),
              m.item_embeddings.cols());
    }
    m.seen = seen(m.users.size(), m.items.size());
    if (version_ >= 3 && tensors_.contains("seen.weights")) {
      m.seen_weights = copy_values<float>(tensor("seen.weights", DType::F32, 1));
      if (static_cast<std::int64_t>(m.seen_weights.size()) != m.seen.nnz()) {
        corrupt("{} seen weights for {} seen pairs", m.seen_weights.size(), m.seen.nnz());
      }
      if (auto problem = seen_weights_problem(m.seen_weights)) corrupt("{}", *problem);
    }
    if (version_ >= 3 && tensors_.contains("item_to_item.dense")) {
      m.item_to_item = dense_item_to_item(m.items.size());
    }
    if (version_ >= 2) {
      if (tensors_.contains("item_to_item.indptr")) m.item_to_item = item_to_item(m.items.size());
      if (tensors_.contains("item_queries")) {
        m.item_queries = embeddings("item_queries", m.items);
        if (m.item_queries.cols() != m.item_embeddings.cols()) {
          corrupt("item queries have dimension {} but item embeddings {}", m.item_queries.cols(),
                  m.item_embeddings.cols());
        }
      }
    }
    if (version_ >= 4) {
      m.user_tower = tower("users", m.user_embeddings);
      m.item_tower = tower("items", m.item_embeddings);
    }
    if (version_ >= 5) m.rating_head = rating_head(m.user_embeddings);
    for (const auto& [name, t] : tensors_) {
      if (!used_.contains(name)) corrupt("unknown tensor \"{}\"", name);
    }
    return m;
  }

  // Side `side`'s tower ("users"), or nullopt when the file has none.
  std::optional<FeatureTower> tower(const std::string& side, const Matrix& vectors) {
    const std::string key = side + ".tower";
    if (!metadata_.contains(key)) return std::nullopt;
    const json j = parse_json_text(key);
    FeatureTower t;
    const std::string prefix = key + ".";
    try {
      if (!j.is_object() || !j.contains("shape") || !j.contains("features") ||
          !j["features"].is_array()) {
        corrupt("metadata \"{}\" has no tower shape and features", key);
      }
      t.params.shape = TowerShape::from_json(j["shape"]);
      const TowerShape& s = t.params.shape;
      const auto table = [&](const std::string& name) {
        const TensorView& v = tensor(prefix + name, DType::F32, 2);
        return Matrix(static_cast<std::int64_t>(v.shape[0]), static_cast<std::int64_t>(v.shape[1]),
                      copy_values<float>(v));
      };
      if (s.id_rows > 0) t.params.id_table = table("id_table");
      if (s.feature_columns() > 0) t.params.feature_table = table("feature_table");
      for (std::size_t l = 0; l < s.layers.size(); ++l) {
        t.params.weights.push_back(table(fmt::format("layer{}.weights", l)));
        t.params.biases.push_back(table(fmt::format("layer{}.biases", l)));
      }
      std::vector<Vocabulary> vocabularies;
      for (std::size_t c = 0; c < j["features"].size(); ++c) {
        vocabularies.push_back(Vocabulary::from_ordered(
            strings(fmt::format("{}vocabulary{}", prefix, c)), Vocabulary::IdKind::String));
      }
      t.encoder = FeatureEncoder::restore(j["features"], std::move(vocabularies));
      if (version_ >= 6 && tensors_.contains(prefix + "own_rows.indptr")) {
        t.own_rows.indptr =
            copy_values<std::int64_t>(tensor(prefix + "own_rows.indptr", DType::I64, 1));
        t.own_rows.index =
            copy_values<std::int32_t>(tensor(prefix + "own_rows.index", DType::I32, 1));
        t.own_rows.weight = copy_values<float>(tensor(prefix + "own_rows.weight", DType::F32, 1));
        if (t.own_rows.indptr.empty()) corrupt("{}own_rows.indptr is empty", prefix);
      }
    } catch (const Error& e) {
      if (e.kind() == ErrorKind::Corruption) throw;
      corrupt("{}: {}", key, e.what());
    }
    if (auto problem = tower_problem(t, side.c_str(), vectors)) corrupt("{}", *problem);
    return t;
  }

  // The rating head, or nullopt when the file has none.
  std::optional<RatingHead> rating_head(const Matrix& vectors) {
    const std::string key = "rating_head";
    if (!metadata_.contains(key)) return std::nullopt;
    const json j = parse_json_text(key);
    RatingHead h;
    try {
      h = RatingHead::from_shape_json(j);
      for (std::size_t l = 0; l <= h.hidden.size(); ++l) {
        for (const char* part : {"weights", "biases"}) {
          const TensorView& v = tensor(fmt::format("{}.layer{}.{}", key, l, part), DType::F32, 2);
          Matrix m(static_cast<std::int64_t>(v.shape[0]), static_cast<std::int64_t>(v.shape[1]),
                   copy_values<float>(v));
          (part[0] == 'w' ? h.weights : h.biases).push_back(std::move(m));
        }
      }
    } catch (const Error& e) {
      if (e.kind() == ErrorKind::Corruption) throw;
      corrupt("{}: {}", key, e.what());
    }
    if (auto problem = rating_head_problem(h, vectors)) corrupt("{}", *problem);
    return h;
  }

  json parse_json_text(std::string_view key) const {
    const std::string& text = meta(key);
    if (auto problem = metadata_json_problem(key, text)) corrupt("{}", *problem);
    json value = json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (value.is_discarded()) corrupt("metadata \"{}\" is not valid JSON", key);
    return value;
  }

  const TensorView& tensor(const std::string& name, DType dtype, std::size_t rank) {
    const auto it = tensors_.find(name);
    if (it == tensors_.end()) corrupt("tensor \"{}\" is missing", name);
    const TensorView& t = it->second;
    if (t.dtype != dtype || t.shape.size() != rank) {
      corrupt("tensor \"{}\" is {} of rank {}, expected {} of rank {}", name, info(t.dtype).name,
              t.shape.size(), info(dtype).name, rank);
    }
    used_.insert(name);
    return t;
  }

  std::vector<std::string> strings(const std::string& name) {
    const std::string_view blob = tensor(name + ".ids", DType::U8, 1).bytes;
    const auto offsets = copy_values<std::int64_t>(tensor(name + ".offsets", DType::I64, 1));
    if (offsets.empty() || offsets.size() > std::numeric_limits<std::int32_t>::max() ||
        offsets.front() != 0 || offsets.back() != static_cast<std::int64_t>(blob.size())) {
      corrupt("{}.offsets ({} entries) do not run from 0 to the {} bytes of {}.ids", name,
              offsets.size(), blob.size(), name);
    }
    // Every offset before any string is cut: non-decreasing from 0 to the
    // blob's size keeps each one inside it, while checking pairs as they are
    // cut would cut at an offset past the end (0, 1000, 2000, ..., size).
    for (std::size_t i = 1; i < offsets.size(); ++i) {
      if (offsets[i] < offsets[i - 1]) corrupt("{}.offsets decrease at entry {}", name, i);
    }
    std::vector<std::string> out;
    out.reserve(offsets.size() - 1);
    for (std::size_t i = 0; i + 1 < offsets.size(); ++i) {
      const auto b = static_cast<std::size_t>(offsets[i]);
      out.emplace_back(blob.substr(b, static_cast<std::size_t>(offsets[i + 1]) - b));
    }
    return out;
  }

  Vocabulary vocabulary(const std::string& name) {
    const std::string& kind_name = meta(name + ".kind");
    if (kind_name != "integer" && kind_name != "string") {
      corrupt("{}.kind \"{}\" is neither \"integer\" nor \"string\"", name, kind_name);
    }
    const auto id_type =
        kind_name == "integer" ? Vocabulary::IdKind::Integer : Vocabulary::IdKind::String;
    auto ids = strings(name);
    if (id_type == Vocabulary::IdKind::Integer) {
      for (const auto& id : ids) check_canonical_integer(name, id);
    }
    try {
      return Vocabulary::from_ordered(std::move(ids), id_type);
    } catch (const Error& e) {
      corrupt("{}: {}", name, e.what());
    }
  }

  // Lookups canonicalize integer ids, so stored ones must already be canonical.
  void check_canonical_integer(const std::string& name, const std::string& id) const {
    bool canonical = false;
    if (is_integer_id(id)) {
      long long v = 0;
      std::from_chars(id.data(), id.data() + id.size(), v);
      canonical = std::to_string(v) == id;
    }
    if (!canonical) {
      corrupt("{} id \"{}\" is not a canonical integer", name, id);
    }
  }

  Matrix embeddings(const std::string& name, const Vocabulary& vocab) {
    const TensorView& t = tensor(name, DType::F32, 2);
    if (t.shape[0] != static_cast<std::uint64_t>(vocab.size())) {
      corrupt("{} has {} rows but its vocabulary has {} (including OOV)", name, t.shape[0],
              vocab.size());
    }
    // shape[1] <= bytes / 4 here, since shape[0] >= 1 and the sizes matched.
    Matrix e(static_cast<std::int64_t>(t.shape[0]), static_cast<std::int64_t>(t.shape[1]),
             copy_values<float>(t));
    if (auto problem = embedding_problem(name, e, has_item_to_item())) corrupt("{}", *problem);
    return e;
  }

  CsrMatrix seen(std::int32_t rows, std::int32_t cols) {
    auto indptr = copy_values<std::int64_t>(tensor("seen.indptr", DType::I64, 1));
    auto indices = copy_values<std::int32_t>(tensor("seen.indices", DType::I32, 1));
    if (indptr.size() != static_cast<std::size_t>(rows) + 1) {
      corrupt("seen.indptr has {} entries for {} user rows", indptr.size(), rows);
    }
    // CsrMatrix checks each row as it walks it, which would read out of
    // bounds before noticing a later pointer is wrong; check all pointers first.
    const auto nnz = static_cast<std::int64_t>(indices.size());
    for (std::size_t r = 0; r < indptr.size(); ++r) {
      if (indptr[r] < (r == 0 ? 0 : indptr[r - 1]) || indptr[r] > nnz) {
        corrupt("seen.indptr[{}] = {} is out of order or beyond {} entries", r, indptr[r], nnz);
      }
    }
    try {
      return CsrMatrix(rows, cols, std::move(indptr), std::move(indices));
    } catch (const Error& e) {
      corrupt("seen: {}", e.what());
    }
  }

  bool has_item_to_item() const {
    return (version_ >= 2 && tensors_.contains("item_to_item.indptr")) ||
           (version_ >= 3 && tensors_.contains("item_to_item.dense"));
  }

  ItemToItem dense_item_to_item(std::int32_t items) {
    const TensorView& t = tensor("item_to_item.dense", DType::F32, 2);
    if (t.shape[0] != static_cast<std::uint64_t>(items) || t.shape[1] != t.shape[0]) {
      corrupt("item_to_item.dense is {} x {} for {} item rows", t.shape[0], t.shape[1], items);
    }
    try {
      return ItemToItem::dense(items, copy_values<float>(t));
    } catch (const Error& e) {
      corrupt("{}", e.what());
    }
  }

  ItemToItem item_to_item(std::int32_t items) {
    auto indptr = copy_values<std::int64_t>(tensor("item_to_item.indptr", DType::I64, 1));
    auto indices = copy_values<std::int32_t>(tensor("item_to_item.indices", DType::I32, 1));
    auto values = copy_values<float>(tensor("item_to_item.values", DType::F32, 1));
    try {
      return ItemToItem(items, std::move(indptr), std::move(indices), std::move(values));
    } catch (const Error& e) {
      corrupt("{}", e.what());
    }
  }

  std::filesystem::path path_;
  int version_ = 0;
  detail::FileBytes file_;
  std::string_view header_text_;
  std::string_view data_;
  json header_;
  std::map<std::string, std::string, std::less<>> metadata_;
  std::map<std::string, TensorView, std::less<>> tensors_;
  std::set<std::string, std::less<>> used_;
};

}  // namespace

void save_model(const std::filesystem::path& path, const ModelData& model) {
  validate_for_save(path, model);
  TensorList list = collect_tensors(model);
  const auto tensors = list.in_file_order();
  const std::string header = make_header(path, model, tensors);
  detail::AtomicFile out(path);
  const std::uint64_t length = header.size();
  out.write(&length, sizeof length);
  out.write(header);
  for (const auto& t : tensors) out.write(t.bytes);
  out.commit();
}

ModelData load_model(const std::filesystem::path& path) { return Loader(path).load(); }

int model_format_version(const ModelData& model) noexcept {
  for (const auto* tower : {&model.user_tower, &model.item_tower}) {
    if (*tower && (*tower)->own_rows.rows() > 0) return 6;
  }
  if (model.rating_head) return 5;
  if (model.user_tower || model.item_tower) return 4;
  if (model.item_to_item.is_dense() || !model.seen_weights.empty()) return 3;
  return model.item_to_item.empty() && (model.item_queries.rows() == 0) ? 1 : 2;
}

}  // namespace latent
