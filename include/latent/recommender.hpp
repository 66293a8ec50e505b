#pragma once
// Recommender: a trained factor model (user and item embeddings, their
// vocabularies, and the items each user was trained on) and everything one
// does with it: top-K recommendations by raw user id with or without seen
// items, similar items by cosine, similar pairs above a threshold, the full
// score matrix, and save/load. Scores are dot products of user and item
// embeddings, so a loaded model answers bit-identically to the one saved.

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <latent/index.hpp>
#include <latent/model_file.hpp>

namespace latent {

class Recommender {
 public:
  explicit Recommender(ModelData model);

  static Recommender load(const std::filesystem::path& path);
  void save(const std::filesystem::path& path) const;

  const ModelData& model() const noexcept { return model_; }
  int dim() const noexcept { return static_cast<int>(model_.item_embeddings.cols()); }

  // Vocabulary row of a raw user id; throws NotFound naming the id.
  std::int32_t user_row(std::string_view id) const;
  // Vocabulary row of an item id, or of a title when the model has titles;
  // throws NotFound naming the value.
  std::int32_t item_row(std::string_view id_or_title) const;
  // Display name of an item row: its id (a title when items are keyed by title).
  std::string_view item_id(std::int32_t row) const { return model_.items.id(row); }
  // Title of an item row, or empty when the model has no titles.
  std::string_view item_title(std::int32_t row) const;

  // Top-k items for each user row (never the OOV item); k > 0.
  TopK recommend(std::span<const std::int32_t> user_rows, int k, bool exclude_seen,
                 int threads = 0) const;
  // Every known user (rows 1..n), in row order.
  std::vector<std::int32_t> known_user_rows() const;

  // The k items most similar to `item_row` by cosine (itself and OOV excluded).
  TopK similar_items(std::int32_t item_row, int k, int threads = 0) const;
  // All known item pairs with cosine > threshold, threshold in [-1, 1].
  std::vector<SimilarPair> similar_pairs(float threshold, int threads = 0) const;

  // The users.size() x items.size() score matrix (OOV rows included, so row
  // r and column c are vocabulary rows), streamed in row blocks.
  void scores(const ScoreBlockSink& sink, std::int64_t block_rows = 1024, int threads = 0) const;

 private:
  ModelData model_;
  Matrix normalized_items_;  // for cosine similarity
  std::vector<std::int32_t> oov_item_{0};
};

}  // namespace latent
