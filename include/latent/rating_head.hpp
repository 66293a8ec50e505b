#pragma once
// RatingHead: the ranking task's network (TFRS's basic ranking and
// multitask tutorials, issue 16). A (user, item) pair's predicted rating is
// the concatenation [user vector, item vector] through dense layers, ReLU
// after each but the last, whose one output is the rating (TFRS's
// Dense(256, relu), Dense(64, relu), Dense(1): hidden layers "256,64").
// Trained by mean squared error (TFRS's tasks.Ranking) beside, or instead
// of, the retrieval softmax (two_tower.hpp); the model file keeps it, and
// Recommender::predict scores pairs with it.

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <latent/matrix.hpp>
#include <latent/optimizer.hpp>
#include <latent/random.hpp>

namespace latent {

struct RatingHead {
  std::int32_t dim = 0;              // the width of each side's vector
  std::vector<std::int32_t> hidden;  // hidden layer widths (the last layer has 1 output)
  std::vector<Matrix> weights;       // layer l: inputs x outputs (the first: 2 dim inputs)
  std::vector<Matrix> biases;        // layer l: 1 x outputs

  // Fresh parameters as Keras makes them: Glorot uniform weights, zero biases.
  static RatingHead initial(std::int32_t dim, std::vector<std::int32_t> hidden, Rng& rng);

  // Throws InvalidArgument (naming `what`) for widths out of range, layers
  // whose shapes do not chain from 2 dim inputs to 1 output, or a value that
  // is not finite.
  void validate(const std::string& what) const;
  // {"dim": d, "hidden": [...]}, what the model file keeps beside the layers.
  nlohmann::json shape_json() const;
  // Throws InvalidArgument for JSON shape_json() does not write.
  static RatingHead from_shape_json(const nlohmann::json& j);

  // The predicted rating of each pair k: user vector users.row(user_rows[k]),
  // item vector items.row(item_rows[k]) (rows must be in range; dim columns).
  std::vector<float> predict(const Matrix& users, std::span<const std::int32_t> user_rows,
                             const Matrix& items, std::span<const std::int32_t> item_rows,
                             int threads) const;
  // The root mean squared error of predict() against ratings (one per
  // pair); NaN for no pairs.
  double rmse(const Matrix& users, std::span<const std::int32_t> user_rows, const Matrix& items,
              std::span<const std::int32_t> item_rows, std::span<const float> ratings,
              int threads) const;
};

// The head as training updates it: forward on a batch's pairs, the
// gradient of its inputs, the optimizer's step on its layers.
class RatingHeadTrainer {
 public:
  explicit RatingHeadTrainer(RatingHead head) : head_(std::move(head)) {}
  RatingHeadTrainer(const RatingHeadTrainer&) = delete;
  RatingHeadTrainer& operator=(const RatingHeadTrainer&) = delete;

  const RatingHead& head() const noexcept { return head_; }

  // One batch of n pairs: pair k's user vector is users[user_index[k]] and
  // its item vector items[item_index[k]] (row-major, dim wide), its rating
  // ratings[k] and its weight weights[k] (empty: 1). The loss is TFRS's
  // mean squared error, sum_k w_k (prediction_k - rating_k)^2 / n, times
  // `scale` (the task's weight); its gradient is added to gu / gi (the
  // rows of users / items) and kept for the layers. Returns the unscaled
  // loss and adds the squared errors to sse. On several ranks each trains
  // its part of a batch: batch_pairs (>= n; -1: n) is the whole batch's
  // count, the mean's denominator, so that the ranks' gradients sum to the
  // batch's.
  double train(std::span<const float> users, std::span<const std::int32_t> user_index,
               std::span<const float> items, std::span<const std::int32_t> item_index,
               std::span<const float> ratings, std::span<const float> weights, float scale,
               float* gu, float* gi, double& sse, int threads, std::int64_t batch_pairs = -1);
  // The layers' gradients of the last train() (zero after one without
  // pairs), weights and biases of each layer in turn: what the ranks of a
  // distributed run sum in place before step().
  std::vector<std::span<float>> gradients();
  // The optimizer's step on the last train()'s gradients.
  void step(const OptimizerSettings& settings, int threads);

  // For tests: layer l's parameters, and their gradients of the last train().
  std::span<float> weights(std::size_t l) { return head_.weights[l].storage(); }
  std::span<float> biases(std::size_t l) { return head_.biases[l].storage(); }
  const std::vector<float>& weight_gradient(std::size_t l) const { return dw_[l]; }
  const std::vector<float>& bias_gradient(std::size_t l) const { return db_[l]; }

 private:
  RatingHead head_;
  std::vector<float> x_, g_, scratch_;
  std::vector<std::vector<float>> h_, dw_, db_;
  std::vector<RowOptimizer> optimizers_;
};

}  // namespace latent
