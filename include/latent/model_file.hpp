#pragma once
// The latent model file: one self-describing file in the safetensors layout
// (8-byte little-endian header length N, N bytes of JSON header, then raw
// little-endian tensors), so numpy users can read embeddings without latent.
//
// The header's "__metadata__" carries: format "latent", format_version,
// model kind, config and training metadata (JSON text), the vocabularies'
// id kinds, and "checksum": the XXH64 of the whole data section as 16 hex
// digits; "header_checksum" guards the header itself (config, tensor table):
// the XXH64 of the padded header text with its own 16 digits read as '0'.
// Tensors: user_embeddings / item_embeddings (F32, rows x dim), the
// vocabularies (users.ids / items.ids: U8 concatenated UTF-8, users.offsets /
// items.offsets: I64, n + 1 entries), item_titles.ids/offsets (optional), and the
// seen-items matrix (seen.indptr I64, seen.indices I32), and for
// item-based models (format version 2) their item-to-item term
// (item_to_item.indptr I64, .indices I32, .values F32) and item_queries
// (F32, items x dim); version 3 adds a dense term (item_to_item.dense, F32
// items x items) and the weights of the seen pairs in the term
// (seen.weights, F32, one per seen.indices entry); version 4 the towers over
// features of either side (<side> users or items): metadata "<side>.tower"
// (JSON: the tower's shape and its features' encodings), tensors
// <side>.tower.id_table and .feature_table (F32, rows x width),
// <side>.tower.layer<l>.weights (F32, inputs x outputs) and .biases (F32,
// 1 x outputs), and each feature column's vocabulary as strings,
// <side>.tower.vocabulary<c>.ids/.offsets; from version 6, a tower that
// keeps its entities' own feature rows (FeatureTower::own_rows) has them as
// <side>.tower.own_rows.indptr (I64), .index (I32) and .weight (F32). A file is written in the
// oldest version that holds what it has (model_format_version), so older
// builds keep reading the models they can use. Tensors are laid
// out so every one starts at an offset aligned to its element size, the data
// section starts 8-byte aligned, and the file can be read by memory map.
//
// Writing is atomic: a temporary file beside the target, fsync, rename; a
// failed save never leaves a partial or corrupted model behind.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <latent/interactions.hpp>
#include <latent/item_to_item.hpp>
#include <latent/matrix.hpp>
#include <latent/rating_head.hpp>
#include <latent/tower.hpp>
#include <latent/vocabulary.hpp>

namespace latent {

// The newest version this build reads and writes: 2 adds the item-to-item
// term and the item query vectors of item-based models, 3 the dense term and
// the seen pairs' weights, 4 the towers over features.
inline constexpr int kModelFormatVersion = 6;

struct ModelData {
  std::string kind;         // registry name, e.g. "two-tower"
  nlohmann::json config;    // hyper-parameters, as the model reports them
  nlohmann::json training;  // metadata: data source, epochs, metrics, time
  Vocabulary users;
  Vocabulary items;
  std::vector<std::string> item_titles;  // empty, or items.size() entries
  // users.size() x dim and items.size() x dim; dim is at least 1, or 0 for
  // a model that scores by its item-to-item term alone (EASE).
  Matrix user_embeddings;
  Matrix item_embeddings;
  CsrMatrix seen;  // users.size() x items.size()
  // Item-based models only, empty otherwise. The item-to-item term of every
  // score (item_to_item.hpp): a known user's items are their seen row, each
  // weighing its entry of seen_weights (empty: 1 each; 0 for a seen pair the
  // model did not train on), a new user's the items given, 1 each.
  ItemToItem item_to_item;
  std::vector<float> seen_weights;  // empty, or one per seen.indices() entry
  // Empty, or items.size() x dim: a new user's query vector is the sum of
  // their items' rows (the fold-in of item-based models).
  Matrix item_queries;
  // Models with towers (two-tower over features, format version 4): each
  // side's features' encoder and tower, which give the vector of a user or
  // item training did not see from its features. A known one's vector is
  // its row of the embeddings, as for every model.
  std::optional<FeatureTower> user_tower, item_tower;
  // Models trained with the ranking task (format version 5): the network
  // that predicts a (user, item) pair's rating from their vectors.
  std::optional<RatingHead> rating_head;
};

// The format version save_model writes `model` in: 6 when a tower keeps
// its entities' own feature rows, 5 when it has a rating head, 4 when it
// has a tower,
// 3 when it holds a dense item-to-item term or seen weights, 2 when it holds a sparse term or item
// query vectors, else 1 (which older builds read).
int model_format_version(const ModelData& model) noexcept;

// Throws Error(IO) naming the path when the file cannot be written; the
// target is untouched in that case.
void save_model(const std::filesystem::path& path, const ModelData& model);

// Reads the file into memory (not a map: a file rewritten in place by
// another tool while it is read must not fault) and validates it: magic, header size against the
// file size, JSON, format version (a newer version is Unsupported and says so), checksum, every
// tensor's dtype, shape and bounds, and consistency between vocabularies and tensor shapes. Every
// error names the file.
ModelData load_model(const std::filesystem::path& path);

}  // namespace latent
