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
// (F32, items x dim); files without them are written as version 1. Tensors are laid
// out so every one starts at an offset aligned to its element size, the data
// section starts 8-byte aligned, and the file can be read by memory map.
//
// Writing is atomic: a temporary file beside the target, fsync, rename; a
// failed save never leaves a partial or corrupted model behind.

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <latent/interactions.hpp>
#include <latent/item_to_item.hpp>
#include <latent/matrix.hpp>
#include <latent/vocabulary.hpp>

namespace latent {

// The newest version this build reads and writes: 2 adds the item-to-item
// term and the item query vectors of item-based models.
inline constexpr int kModelFormatVersion = 2;

struct ModelData {
  std::string kind;         // registry name, e.g. "two-tower"
  nlohmann::json config;    // hyper-parameters, as the model reports them
  nlohmann::json training;  // metadata: data source, epochs, metrics, time
  Vocabulary users;
  Vocabulary items;
  std::vector<std::string> item_titles;  // empty, or items.size() entries
  Matrix user_embeddings;                // users.size() x dim
  Matrix item_embeddings;                // items.size() x dim
  CsrMatrix seen;                        // users.size() x items.size()
  // Item-based models only, empty otherwise. The item-to-item term of every
  // score (item_to_item.hpp): a known user's items are their seen row, a new
  // user's the items given.
  ItemToItem item_to_item;
  // Empty, or items.size() x dim: a new user's query vector is the sum of
  // their items' rows (the fold-in of item-based models).
  Matrix item_queries;
};

// The format version save_model writes `model` in: 2 when it holds an
// item-to-item term or item query vectors, else 1 (which older builds read).
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
