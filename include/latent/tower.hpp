#pragma once
// Tower: one side's vectors (users' or items') from their ids and features
// (features.hpp), as TFRS's query and candidate models (issue 16).
//
// Each entity has an input of embeddings: its id's row of the id table
// (when the tower has one) and, for each feature column, the weighted sum
// of its tokens' rows of that column's table (a bag: a genre list's mean, a
// number's normalized value times its row). Then:
//   - without layers, the vector is the sum of those embeddings (a hybrid
//     factorization, as LightFM: an item is the sum of its features');
//   - with layers (`64,32`), the embeddings are concatenated and go through
//     dense layers, ReLU after each but the last (TFRS's deep retrieval
//     tutorial); the vector is the last layer's output.
// Every embedding is embed_dim wide; the vector is embed_dim wide without
// layers, layers.back() with them.
//
// Training: forward() on a batch keeps what backward() needs; backward()
// turns the gradient of the batch's vectors into the gradients of the rows
// the batch touched and of the layers; step() applies the optimizer to
// them (optimizer.hpp, as the id-only two-tower's tables).
// Initial values as Keras': embeddings uniform in [-scale, scale] (scale
// 0.05 by default), dense weights Glorot uniform, biases zero.

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <latent/features.hpp>
#include <latent/matrix.hpp>
#include <latent/optimizer.hpp>
#include <latent/random.hpp>

namespace latent {

struct TowerShape {
  std::int32_t id_rows = 0;                   // rows of the id table; 0: no id embedding
  std::vector<std::int32_t> feature_offsets;  // FeatureEncoder::offsets(); empty: no features
  std::int32_t embed_dim = 32;
  std::vector<std::int32_t> layers;  // dense layer widths; empty: the sum of the embeddings

  std::int32_t feature_columns() const noexcept {
    return feature_offsets.empty() ? 0 : static_cast<std::int32_t>(feature_offsets.size()) - 1;
  }
  std::int32_t output_dim() const noexcept { return layers.empty() ? embed_dim : layers.back(); }
  // Throws InvalidArgument for a tower with no input, a width < 1, or
  // feature offsets that do not ascend from 0.
  void validate() const;
  nlohmann::json to_json() const;
  // Throws InvalidArgument for JSON to_json() does not write.
  static TowerShape from_json(const nlohmann::json& j);
};

// A tower's parameters: what a model file keeps and what inference needs.
struct TowerParams {
  TowerShape shape;
  Matrix id_table;              // id_rows x embed_dim (empty without ids); row 0 (OOV) is zero
  Matrix feature_table;         // feature_offsets.back() x embed_dim (empty without features)
  std::vector<Matrix> weights;  // layer l: inputs x outputs
  std::vector<Matrix> biases;   // layer l: 1 x outputs

  // The width of the layers' input: the embeddings summed (no layers) or
  // concatenated.
  std::int32_t input_width() const noexcept;
  // Throws InvalidArgument (naming `what`) when the shape is invalid or a
  // table's or layer's size disagrees with it, or a value is not finite.
  void validate(const std::string& what) const;
  // The vectors of a set of entities (rows x output_dim): entity b has id
  // row ids[b] (empty without an id table; 0, the OOV row, adds nothing:
  // an entity training never saw) and the tokens of row feature_rows[b] of
  // `features` (null without features).
  Matrix vectors(std::span<const std::int32_t> ids, const FeatureRows* features,
                 std::span<const std::int64_t> feature_rows, int threads) const;
};

// One side's tower as a model keeps it: how the side's feature values
// become tokens, and the tower's parameters. It gives the vector of a user
// or item training did not see from its feature values (cold start): the
// id's OOV row adds nothing, so the vector is the features' alone.
struct FeatureTower {
  FeatureEncoder encoder;  // no columns: a tower over ids alone
  TowerParams params;
  // Each known entity's tokens of its own feature columns, not the
  // context's (row r: vocabulary row r), in the encoder's rows: kept when
  // the tower has context and layers over its own features, where
  // vectors_in_context runs them through the layers with each context
  // (empty otherwise: the stored vectors suffice).
  FeatureRows own_rows;

  bool has_features() const noexcept { return !encoder.columns().empty(); }
  // Throws InvalidArgument (naming `what`) when the parameters are invalid
  // or do not fit the encoder's columns, or own_rows is not one row per
  // entity of `entities` of the tower's own (not context) tokens.
  void validate(const std::string& what, std::int64_t entities) const;
  // The vector of an entity given as (feature name, value) pairs: a
  // feature not given is missing, a value the fit never saw is OOV (row 0
  // of its column). Throws InvalidArgument naming `side` ("user") and the
  // feature for a name that is not one of its features (listing them), a
  // tower without features, and a value its type refuses (a number).
  std::vector<float> vector_of(std::span<const FeatureValue> values, std::string_view side) const;
  // Whether some of its columns are the queries' context (FeatureColumn::context);
  // whether `name` is one of them.
  bool has_context() const noexcept;
  bool is_context(std::string_view name) const noexcept;
  // Whether vectors_in_context can make a known entity's vector: its tower
  // has context columns, and no layers over features besides the context
  // unless it keeps own_rows.
  bool known_in_context() const noexcept;
  // The vectors (rows x output_dim) of known entities in contexts: row b
  // is entity id_rows[b], whose stored vector (context missing) is its row
  // of `stored`, in the context contexts[b] (a context column not given is
  // missing). Exact: when the tower's only features are context columns
  // its input is the id and the context; without layers the vector is a
  // sum (the stored one, less the missing context's rows, plus the given
  // context's); with layers over its own features, own_rows and the
  // context go through them. Throws InvalidArgument naming `side` and the
  // feature for a tower without context or a name that is not one of its
  // context columns (listing them), and Unsupported for layers over
  // features besides the context without own_rows (a model file of an
  // older latent).
  Matrix vectors_in_context(std::span<const std::int32_t> id_rows, const Matrix& stored,
                            std::span<const std::vector<FeatureValue>> contexts,
                            std::string_view side, int threads) const;
  // One entity's: vectors_in_context's row.
  std::vector<float> vector_in_context(std::int32_t id_row, const Matrix& stored,
                                       std::span<const FeatureValue> values,
                                       std::string_view side) const;
};

class Tower {
 public:
  // dropout: per feature column, the probability that training leaves each
  // of its tokens out of a batch (FeatureColumn::dropout; empty: none).
  Tower(TowerShape shape, float init_scale, Rng& rng, std::vector<float> dropout = {});
  // Its optimizers keep references to its tables.
  Tower(const Tower&) = delete;
  Tower& operator=(const Tower&) = delete;

  const TowerShape& shape() const noexcept { return p_.shape; }
  std::int32_t output_dim() const noexcept { return p_.shape.output_dim(); }
  const TowerParams& params() const noexcept { return p_; }

  // A warm start: the saved tower's feature table and layers, and its id
  // rows as the first rows of this one's id table (ids the saved model
  // lacks keep their fresh rows). Throws InvalidArgument saying what
  // differs when the shapes disagree (but for more id rows here).
  void start_from(const TowerParams& saved);
  // A warm start of a tower from a side that was an id table: its vectors
  // (rows x embed_dim) as the first rows of the id table. Only a tower whose
  // vector is the sum of its embeddings (no layers) with ids can; the
  // features' rows keep their fresh values (their OOV rows zero).
  void start_ids_from(const Matrix& vectors);

  // The vectors (ids.size() x output_dim, row-major) of a batch, as
  // TowerParams::vectors but for the dropout: each token of a column with
  // dropout p is left out with probability p, the others weigh 1 / (1 - p)
  // more. `out` may be reused between calls; the tower keeps the batch for
  // backward().
  void forward(std::span<const std::int32_t> ids, const FeatureRows* features,
               std::span<const std::int64_t> feature_rows, std::vector<float>& out, int threads);
  // Gradients of the last forward()'s parameters from d_out (its shape).
  void backward(std::span<const float> d_out, int threads);
  // The optimizer's step on the gradients of the last backward(): on the
  // rows the batch touched, and on every layer. The optimizer's state is
  // made at the first step.
  void step(const OptimizerSettings& settings, int threads);

  // The parameters, for tests.
  Matrix& id_table() noexcept { return p_.id_table; }
  Matrix& feature_table() noexcept { return p_.feature_table; }
  // Layer l's weights (inputs x outputs, row-major) and biases.
  std::span<float> weights(std::size_t l) { return p_.weights[l].storage(); }
  std::span<float> biases(std::size_t l) { return p_.biases[l].storage(); }
  std::size_t layer_count() const noexcept { return p_.weights.size(); }

  // The last backward()'s gradients, for tests: of id row `row` or
  // feature row `row` (zeros when the batch did not touch it), and of
  // layer l's weights and biases.
  std::vector<float> id_gradient(std::int32_t row) const;
  std::vector<float> feature_gradient(std::int32_t row) const;
  const std::vector<float>& weight_gradient(std::size_t l) const { return dw_[l]; }
  const std::vector<float>& bias_gradient(std::size_t l) const { return db_[l]; }

 private:
  // The rows of a table a batch touched and their gradients.
  struct SparseGradient {
    std::vector<std::int32_t> slot;  // per table row: index in rows, or -1
    std::vector<std::int32_t> rows;
    std::vector<float> grad;  // rows.size() x dim
    // Where row's gradient starts in grad (made zero at first).
    std::size_t place(std::int32_t row, std::int32_t dim);
    void clear();
  };

  TowerParams p_;
  // The last batch: its entities, inputs (batch x input width) and each
  // layer's output (after ReLU but for the last layer).
  std::vector<std::int32_t> ids_;
  const FeatureRows* features_ = nullptr;
  std::vector<std::int64_t> feature_rows_;
  // Dropout: each column's probability (empty: none), and the batch's
  // tokens that training kept (feature_rows_ are then its rows).
  std::vector<float> dropout_;
  Rng dropout_rng_{0};
  FeatureRows kept_;
  std::vector<float> x_;
  std::vector<std::vector<float>> h_;
  std::vector<float> g_, g_next_;
  SparseGradient id_grad_, feature_grad_;
  // backward()'s scatter: each batch row's id gradient place, and each
  // token's (where in feature_grad_, which input slot, its weight).
  struct Place {
    std::size_t at;
    std::int32_t slot;
    float weight;
  };
  std::vector<std::size_t> id_place_;
  std::vector<Place> feature_place_;
  std::vector<std::vector<float>> dw_, db_;
  // The optimizer's state, per table and layer (made at the first step).
  std::vector<RowOptimizer> optimizers_;
};

}  // namespace latent
