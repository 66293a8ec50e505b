#pragma once
// Recommender: a trained model (user and item vectors, their vocabularies,
// and the items each user was trained on) and everything one does with it:
// top-K recommendations by raw user id with or without seen items and with
// allow/deny lists, recommendations for a user who was not in training
// (fold-in from the items they interacted with), similar items by cosine,
// similar pairs above a threshold, the full score matrix, and save/load.
//
// Every model scores as a dot product of a user vector and an item vector:
// embeddings for two-tower, ALS and BPR (BPR's last column carries the item
// bias), the user's item indicator row and EASE's item-item weights for
// EASE, a constant and item counts for popularity. So one exact search
// serves them all, and a loaded model answers bit-identically to the saved one.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <latent/hnsw_index.hpp>
#include <latent/index.hpp>
#include <latent/model_file.hpp>
#include <latent/model_spec.hpp>
#include <latent/vector_index.hpp>

namespace latent {

// The rule for k in every front end (CLI, server, Python): default 10; a k
// below 1 is an InvalidArgument error ("k must be > 0, got 0"); a k above the
// number of known items is capped at it, so a result is never wider than
// the catalog. Rows stay k wide: when filters leave fewer eligible items,
// the rest is padding (item -1, score -inf).
inline constexpr int kDefaultK = 10;
int effective_k(int k, std::int32_t known_items);
// A cosine threshold must be in [-1, 1]: throws InvalidArgument otherwise.
void check_similarity_threshold(float threshold);

struct RecommendOptions {
  int k = kDefaultK;
  bool exclude_seen = false;  // drop the user's training items
  // Item rows: when allow is non-empty only those can be recommended; deny
  // rows never are. Any order; duplicates are fine.
  std::vector<std::int32_t> allow;
  std::vector<std::int32_t> deny;
  int threads = 0;
  // With an approximate index: search every item instead (exact), or the
  // index's effort for this search (ef; 0: the index's default).
  bool exact = false;
  int ef = 0;
};

// Similar items of one item (k) and similar pairs (k unused).
struct SimilarOptions {
  int k = kDefaultK;
  int threads = 0;
  // With a similar-items index: search every item instead (exact), or the
  // index's effort for this search (ef; 0: the index's default).
  bool exact = false;
  int ef = 0;
};

class Recommender {
 public:
  explicit Recommender(ModelData model);

  // Reads a model file, and its indexes from their companion files
  // (index_path_for, similar_index_path_for) when there are some. An index
  // that cannot be used (damaged, of another version, built for other
  // vectors) leaves those searches reading every item, and index_problem()
  // or similar_index_problem() says why.
  static Recommender load(const std::filesystem::path& path);
  // Writes the model file, then each index's companion file; a companion
  // left at `path` by an earlier model is removed (it was built for that
  // model's vectors).
  void save(const std::filesystem::path& path) const;

  // Two approximate indexes, each optional: recommendations rank items by
  // inner product with a user's vector, similar items and pairs by cosine,
  // so each has its graph (the second one links the unit item vectors).
  // The approximate index recommendations search (null: every item, exactly).
  const HnswIndex* index() const noexcept { return index_.get(); }
  // The one similar_items and similar_pairs search (null: every item).
  const HnswIndex* similar_index() const noexcept { return similar_index_.get(); }
  // Why a companion index file next to the loaded model is not used, or "".
  const std::string& index_problem() const noexcept { return index_problem_; }
  const std::string& similar_index_problem() const noexcept { return similar_index_problem_; }
  // Builds an index over the item vectors and uses it from now on.
  void build_index(const HnswParams& params, const WorkProgress& progress = {});
  // Builds the similar-items index over the unit item vectors and uses it
  // from now on. Throws Unsupported for a model kind without item
  // similarity (as similar_items does).
  void build_similar_index(const HnswParams& params, const WorkProgress& progress = {});
  // Stops using both indexes: every search reads every item again.
  void drop_index() noexcept {
    index_.reset();
    similar_index_.reset();
  }

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

  // Top-k items for each user row (never the OOV item); k by effective_k.
  TopK recommend(std::span<const std::int32_t> user_rows, int k, bool exclude_seen,
                 int threads = 0) const;
  TopK recommend(std::span<const std::int32_t> user_rows, const RecommendOptions& options) const;

  // The query vector of a user who was not in training, from the item rows
  // they interacted with, without retraining, by the model's own FoldIn
  // (model_spec.hpp): ALS solves its exact least-squares problem, EASE uses
  // the indicator row, popularity the constant, two-tower and BPR the mean
  // of the items' vectors. Throws InvalidArgument for an empty list or a row
  // out of range, Unsupported for a model kind this build does not register.
  std::vector<float> fold_in(std::span<const std::int32_t> item_rows) const;
  // Top-k for such a user; with exclude_seen the given items are dropped.
  TopK recommend_for_items(std::span<const std::int32_t> item_rows,
                           const RecommendOptions& options) const;
  // Cold start through side features (models with towers, tower.hpp): the
  // vector of a user or item given by its features (name, value; a feature
  // not given is missing), as FeatureTower::vector_of; the top-k items for
  // such a user; the items most similar to such an item by cosine. Throw
  // InvalidArgument naming the feature for a model without features of
  // that side, a feature the model does not have, or a value its type
  // refuses.
  std::vector<float> user_vector_from_features(std::span<const FeatureValue> features) const;
  std::vector<float> item_vector_from_features(std::span<const FeatureValue> features) const;
  TopK recommend_for_features(std::span<const FeatureValue> user,
                              const RecommendOptions& options) const;
  TopK similar_to_features(std::span<const FeatureValue> item, const SimilarOptions& options) const;
  // A known user's query in a context (a model trained with context
  // features: the time of the request), as FeatureTower::vector_in_context;
  // the top-k items for it (exclude_seen drops the user's seen items).
  // Throws InvalidArgument for a row out of range, a model without context
  // features, or a name that is not one of them; Unsupported where the
  // vector cannot be made exactly (tower.hpp).
  std::vector<float> user_vector_in_context(std::int32_t user_row,
                                            std::span<const FeatureValue> context) const;
  TopK recommend_in_context(std::int32_t user_row, std::span<const FeatureValue> context,
                            const RecommendOptions& options) const;
  // The score of each pair (user_rows[k], item_rows[k]): the predicted
  // rating of a model trained with the rating task (rating_head.hpp), else
  // the score its top-k lists rank by (the dot product of the vectors, plus
  // the item-to-item term of item-based models). Throws InvalidArgument for
  // lists of different lengths or a row out of range.
  std::vector<float> predict(std::span<const std::int32_t> user_rows,
                             std::span<const std::int32_t> item_rows, int threads = 0) const;
  // Whether predict() gives predicted ratings.
  bool predicts_ratings() const noexcept { return model_.rating_head.has_value(); }
  // Every known user (rows 1..n), in row order.
  std::vector<std::int32_t> known_user_rows() const;

  // The k items most similar to `item_row` by cosine (itself and OOV
  // excluded); k by effective_k; through the similar-items index when there
  // is one (options.exact: every item). This and similar_pairs throw
  // Unsupported for a model kind without item similarity (popularity).
  TopK similar_items(std::int32_t item_row, const SimilarOptions& options) const;
  TopK similar_items(std::int32_t item_row, int k, int threads = 0) const;
  // All known item pairs with cosine > threshold (check_similarity_threshold),
  // by similarity descending then (a, b). With a similar-items index (and
  // not options.exact), each item's neighbours above the threshold are
  // searched in the graph (similar_pairs_by_search): an approximate answer,
  // whose similarities are the exact ones.
  std::vector<SimilarPair> similar_pairs(float threshold, const SimilarOptions& options,
                                         const WorkProgress& progress = {}) const;
  std::vector<SimilarPair> similar_pairs(float threshold, int threads = 0,
                                         const WorkProgress& progress = {}) const;

  // The unit-length item vectors similar items and pairs rank by (cosine),
  // and the similar-items index is built on; made by the first call (or by
  // loading that index): as large as the item embeddings, so a model only
  // asked for recommendations (a served 1M-item catalog) never holds them.
  // Thread-safe.
  const Matrix& normalized_items() const;

  // The users.size() x items.size() score matrix (OOV rows included, so row
  // r and column c are vocabulary rows), streamed in row blocks.
  void scores(const ScoreBlockSink& sink, std::int64_t block_rows = 1024, int threads = 0) const;

 private:
  // Throws Unsupported for a model kind without item similarity
  // (ModelSpec::item_similarity).
  void check_item_similarity() const;
  // The k items nearest by cosine to a unit `query` (1 x dim), neither OOV
  // nor item_row.
  TopK similar_to(const Matrix& query, std::int32_t item_row, int k,
                  const SimilarOptions& options) const;
  // The exact top-k among item `rows` only (sorted, distinct, none OOV),
  // each query q without the items of seen->row(seen_rows_of[q]) when seen.
  TopK search_among(const Matrix& queries, std::span<const std::int32_t> seen_rows_of,
                    const CsrMatrix* seen, std::span<const std::int32_t> rows, int k,
                    int threads) const;

  ModelData model_;
  // Immutable once built; shared by copies, whose item vectors are the same.
  std::shared_ptr<const HnswIndex> index_;
  std::string index_problem_;
  std::shared_ptr<const HnswIndex> similar_index_;  // over normalized_items()
  std::string similar_index_problem_;
  TopK search(const Matrix& queries, std::span<const std::int32_t> seen_rows_of,
              const CsrMatrix* seen, const RecommendOptions& options) const;

  // Unit-length item vectors for cosine similarity (normalized_items()).
  // Shared by copies, whose item vectors are the same.
  struct UnitItems {
    std::once_flag built;
    Matrix rows;
    Matrix columns;  // a term-only model's similarity vectors (similarity_vectors())
  };
  // What similar items and pairs compare by cosine: the item vectors, or for
  // a model of dimension 0 the columns of its dense item-to-item term (EASE:
  // the weights every item gives item j), made with normalized_items().
  const Matrix& similarity_vectors() const;
  std::shared_ptr<UnitItems> unit_items_ = std::make_shared<UnitItems>();
  // The model kind's fold-in state (ALS: its item Gramian), built by the
  // first fold_in() call, so a model only asked for known users never pays
  // for it. Shared by copies, whose item vectors are the same.
  struct LazyFoldIn {
    std::once_flag built;
    std::unique_ptr<FoldIn> fold_in;
  };
  std::shared_ptr<LazyFoldIn> fold_in_ = std::make_shared<LazyFoldIn>();
  std::vector<std::int32_t> oov_item_{0};
};

}  // namespace latent
