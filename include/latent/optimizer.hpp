#pragma once
// The optimizers of the models trained by gradient steps (two-tower, its
// towers over features): Adagrad with TF's semantics and Adam with Keras',
// applied to the rows of a table a step touched.

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include <latent/matrix.hpp>

namespace latent {

enum class Optimizer { Adagrad, Adam };
Optimizer parse_optimizer(const std::string& name);  // "adagrad", "adam"
const char* to_string(Optimizer optimizer) noexcept;

struct OptimizerSettings {
  Optimizer optimizer = Optimizer::Adagrad;
  float learning_rate = 0.05f;
  float initial_accumulator = 0.1f;  // Adagrad
  float beta1 = 0.9f;                // Adam
  float beta2 = 0.999f;              // Adam
  float epsilon = 1e-7f;             // both, as in Keras
};

// An optimizer's state for one table (an embedding table, or a dense
// layer's weights as a table of its input rows).
class RowOptimizer {
 public:
  // Keeps a reference to `table`, which must outlive it and keep its shape.
  RowOptimizer(const OptimizerSettings& settings, Matrix& table);

  // Applies gradient rows `grad` (rows.size() x table.cols()) to table rows
  // `rows` (distinct). Adagrad touches only those rows (TF's sparse update
  // gives the same result: a zero gradient leaves a row and its accumulator
  // unchanged). Adam, like Keras', decays the moments of every row at every
  // step.
  void step(std::span<const std::int32_t> rows, const float* grad, int threads);
  // step() on every row, grad being table-shaped.
  void step_all(const float* grad, int threads);

 private:
  OptimizerSettings s_;
  Matrix& table_;
  std::vector<float> slot1_;  // Adagrad accumulator, or Adam first moment
  std::vector<float> slot2_;  // Adam second moment
  std::vector<float> dense_;
  std::vector<std::int32_t> all_rows_;
  int t_ = 0;
};

}  // namespace latent
