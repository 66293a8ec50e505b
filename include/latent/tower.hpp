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
// the batch touched and of the layers; step() applies Adagrad to them
// (TF's, with the same sparse rows semantics as the id-only two-tower).
// Initial values as Keras': embeddings uniform in [-scale, scale] (scale
// 0.05 by default), dense weights Glorot uniform, biases zero.

#include <cstdint>
#include <span>
#include <vector>

#include <latent/features.hpp>
#include <latent/matrix.hpp>
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
};

class Tower {
 public:
  Tower(TowerShape shape, float init_scale, Rng& rng);

  const TowerShape& shape() const noexcept { return shape_; }
  std::int32_t output_dim() const noexcept { return shape_.output_dim(); }

  // The vectors (ids.size() x output_dim, row-major) of a batch: entity b
  // has id row ids[b] (ids is empty without an id table) and the tokens of
  // row feature_rows[b] of `features` (null without features). `out` may
  // be reused between calls; the tower keeps the batch for backward().
  void forward(std::span<const std::int32_t> ids, const FeatureRows* features,
               std::span<const std::int64_t> feature_rows, std::vector<float>& out, int threads);
  // Gradients of the last forward()'s parameters from d_out (its shape).
  void backward(std::span<const float> d_out, int threads);
  // Adagrad on the gradients of the last backward().
  void step(float learning_rate, float initial_accumulator, float epsilon);

  // The parameters, for saving and for tests.
  Matrix& id_table() noexcept { return id_table_; }
  Matrix& feature_table() noexcept { return feature_table_; }
  // Layer l's weights (inputs x outputs, row-major) and biases.
  std::vector<float>& weights(std::size_t l) { return layers_[l].w; }
  std::vector<float>& biases(std::size_t l) { return layers_[l].b; }
  std::size_t layer_count() const noexcept { return layers_.size(); }

  // The last backward()'s gradients, for tests: of id row `row` or
  // feature row `row` (zeros when the batch did not touch it), and of
  // layer l's weights and biases.
  std::vector<float> id_gradient(std::int32_t row) const;
  std::vector<float> feature_gradient(std::int32_t row) const;
  const std::vector<float>& weight_gradient(std::size_t l) const { return layers_[l].dw; }
  const std::vector<float>& bias_gradient(std::size_t l) const { return layers_[l].db; }

 private:
  struct Layer {
    std::int32_t in = 0, out = 0;
    std::vector<float> w, b, dw, db, acc_w, acc_b;
    std::vector<float> h;  // the batch's output (after ReLU but for the last layer)
  };
  // The rows of a table a batch touched and their gradients.
  struct SparseGradient {
    std::vector<std::int32_t> slot;  // per table row: index in rows, or -1
    std::vector<std::int32_t> rows;
    std::vector<float> grad;  // rows.size() x dim
    std::vector<float> acc;   // Adagrad accumulators, table rows x dim (made at the first step)
    float* of(std::int32_t row, std::int32_t dim);
    void clear();
  };
  std::int32_t input_width() const noexcept;
  std::int32_t slot_of_column(std::int32_t c) const noexcept;
  std::int32_t column_of(std::int32_t token) const noexcept;

  TowerShape shape_;
  Matrix id_table_, feature_table_;
  std::vector<Layer> layers_;
  // The last batch.
  std::vector<std::int32_t> ids_;
  const FeatureRows* features_ = nullptr;
  std::vector<std::int64_t> feature_rows_;
  std::vector<float> x_;  // inputs, batch x input_width
  std::vector<float> g_, g_next_;
  SparseGradient id_grad_, feature_grad_;
};

}  // namespace latent
