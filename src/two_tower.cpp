#include <fmt/format.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <latent/error.hpp>
#include <latent/evaluation.hpp>
#include <latent/random.hpp>
#include <latent/two_tower.hpp>
#include <numeric>

#include "detail/gemm.hpp"
#include "detail/in_batch_softmax.hpp"
#include "detail/kernels.hpp"
#include "detail/parallel.hpp"
#include "detail/rank_counter.hpp"
#include "detail/require.hpp"

namespace latent {

Optimizer parse_optimizer(const std::string& name) {
  if (name == "adagrad") return Optimizer::Adagrad;
  if (name == "adam") return Optimizer::Adam;
  throw Error(ErrorKind::InvalidArgument,
              fmt::format("unknown optimizer \"{}\"; valid: adagrad, adam", name));
}

const char* to_string(Optimizer optimizer) noexcept {
  return optimizer == Optimizer::Adam ? "adam" : "adagrad";
}

Negatives parse_negatives(const std::string& name) {
  if (name == "auto") return Negatives::Auto;
  if (name == "in-batch") return Negatives::InBatch;
  if (name == "catalog") return Negatives::Catalog;
  throw Error(ErrorKind::InvalidArgument,
              fmt::format("unknown negatives \"{}\"; valid: auto, in-batch, catalog", name));
}

const char* to_string(Negatives negatives) noexcept {
  switch (negatives) {
    case Negatives::InBatch:
      return "in-batch";
    case Negatives::Catalog:
      return "catalog";
    case Negatives::Auto:
      break;
  }
  return "auto";
}

namespace {

using detail::require;

bool finite_positive(float v) { return std::isfinite(v) && v > 0; }

}  // namespace

void TwoTowerConfig::validate() const {
  require(dim >= 1 && dim <= 4096, fmt::format("dim {} is outside [1, 4096]", dim));
  require(finite_positive(learning_rate),
          fmt::format("learning rate {} must be a positive number", learning_rate));
  require(std::isfinite(initial_accumulator) && initial_accumulator >= 0,
          fmt::format("initial accumulator {} must be >= 0", initial_accumulator));
  require(beta1 >= 0 && beta1 < 1, fmt::format("beta1 {} is outside [0, 1)", beta1));
  require(beta2 >= 0 && beta2 < 1, fmt::format("beta2 {} is outside [0, 1)", beta2));
  require(finite_positive(epsilon), fmt::format("epsilon {} must be positive", epsilon));
  require(batch_size >= 1, fmt::format("batch size {} must be >= 1", batch_size));
  require(epochs >= 1, fmt::format("epochs {} must be >= 1", epochs));
  require(threads >= 0, fmt::format("threads {} must be >= 0 (0: all cores)", threads));
  require(finite_positive(temperature),
          fmt::format("temperature {} must be a positive number", temperature));
  require(hard_negatives >= 0, fmt::format("hard negatives {} must be >= 0", hard_negatives));
  require(std::isfinite(init_scale) && init_scale >= 0,
          fmt::format("init scale {} must be >= 0", init_scale));
  require(!top_ks.empty(), "top_ks must not be empty");
  for (std::size_t i = 0; i < top_ks.size(); ++i) {
    require(top_ks[i] >= 1 && (i == 0 || top_ks[i] > top_ks[i - 1]),
            fmt::format("top_ks must be positive and ascending; got {}", top_ks[i]));
  }
}

nlohmann::json TwoTowerConfig::to_json() const {
  return {{"dim", dim},
          {"optimizer", to_string(optimizer)},
          {"learning_rate", learning_rate},
          {"initial_accumulator", initial_accumulator},
          {"beta1", beta1},
          {"beta2", beta2},
          {"epsilon", epsilon},
          {"batch_size", batch_size},
          {"epochs", epochs},
          {"seed", seed},
          {"shuffle", shuffle},
          {"temperature", temperature},
          {"negatives", to_string(negatives)},
          {"remove_accidental_hits", remove_accidental_hits},
          {"logq_correction", logq_correction},
          {"hard_negatives", hard_negatives},
          {"init_scale", init_scale}};
}

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Per-row parameters of an optimiser over one embedding table.
class RowOptimizer {
 public:
  RowOptimizer(const TwoTowerConfig& c, Matrix& table)
      : c_(c), table_(table), slot1_(table.size(), 0.0f), slot2_() {
    if (c.optimizer == Optimizer::Adagrad) {
      std::fill(slot1_.begin(), slot1_.end(), c.initial_accumulator);
    } else {
      slot2_.assign(table.size(), 0.0f);
    }
  }

  // Applies gradient rows `grad` (rows.size() x dim) to table rows `rows`.
  // Adagrad touches only those rows (TF's sparse update gives the same
  // result: a zero gradient leaves a row and its accumulator unchanged).
  // Adam, like Keras', decays the moments of every row at every step.
  void step(std::span<const std::int32_t> rows, const float* grad, int threads) {
    const auto dim = table_.cols();
    if (c_.optimizer == Optimizer::Adagrad) {
      const float lr = c_.learning_rate, eps = c_.epsilon;
#pragma omp parallel for num_threads(threads) schedule(static)
      for (std::size_t r = 0; r < rows.size(); ++r) {
        const std::int64_t off = static_cast<std::int64_t>(rows[r]) * dim;
        float* w = table_.data() + off;
        float* acc = slot1_.data() + off;
        const float* g = grad + static_cast<std::int64_t>(r) * dim;
        for (std::int64_t d = 0; d < dim; ++d) {
          acc[d] += g[d] * g[d];
          w[d] -= lr * g[d] / (std::sqrt(acc[d]) + eps);
        }
      }
      return;
    }
    ++t_;
    const double b1t = std::pow(static_cast<double>(c_.beta1), t_);
    const double b2t = std::pow(static_cast<double>(c_.beta2), t_);
    const float lr_t = static_cast<float>(c_.learning_rate * std::sqrt(1.0 - b2t) / (1.0 - b1t));
    const float b1 = c_.beta1, b2 = c_.beta2, eps = c_.epsilon;
    // Scatter the sparse gradient into a dense buffer, then one dense pass.
    dense_.assign(table_.size(), 0.0f);
    for (std::size_t r = 0; r < rows.size(); ++r) {
      std::copy_n(grad + static_cast<std::int64_t>(r) * dim, dim,
                  dense_.data() + static_cast<std::int64_t>(rows[r]) * dim);
    }
    float* w = table_.data();
    float* m = slot1_.data();
    float* v = slot2_.data();
    const auto n = static_cast<std::int64_t>(table_.size());
#pragma omp parallel for num_threads(threads) schedule(static)
    for (std::int64_t k = 0; k < n; ++k) {
      const float g = dense_[static_cast<std::size_t>(k)];
      m[k] = b1 * m[k] + (1 - b1) * g;
      v[k] = b2 * v[k] + (1 - b2) * g * g;
      w[k] -= lr_t * m[k] / (std::sqrt(v[k]) + eps);
    }
  }

 private:
  const TwoTowerConfig& c_;
  Matrix& table_;
  std::vector<float> slot1_;  // Adagrad accumulator, or Adam first moment
  std::vector<float> slot2_;  // Adam second moment
  std::vector<float> dense_;
  int t_ = 0;
};

void gather_rows(const Matrix& table, std::span<const std::int32_t> rows, std::vector<float>& out) {
  const auto dim = table.cols();
  out.resize(rows.size() * static_cast<std::size_t>(dim));
  for (std::size_t r = 0; r < rows.size(); ++r) {
    std::copy_n(table.data() + static_cast<std::int64_t>(rows[r]) * dim, dim,
                out.data() + static_cast<std::int64_t>(r) * dim);
  }
}

Matrix random_table(std::int64_t rows, int dim, float scale, Rng& rng) {
  Matrix m(rows, dim);
  for (float& v : m.storage()) v = (2.0f * rng.uniform() - 1.0f) * scale;
  return m;
}

}  // namespace

TwoTowerResult train_two_tower(const Interactions& train, const Interactions* test,
                               const TwoTowerConfig& config, const ProgressCallback& on_progress,
                               const EpochCallback& on_epoch) {
  config.validate();
  check_training_pairs(train);
  const int threads = detail::resolve_threads(config.threads);
  const int dim = config.dim;
  constexpr std::int32_t kCatalogSoftmaxMaxItems = 20000;
  const bool catalog =
      config.negatives == Negatives::Catalog ||
      (config.negatives == Negatives::Auto && train.num_items <= kCatalogSoftmaxMaxItems);
  const bool logq = config.logq_correction || (config.negatives == Negatives::Auto && !catalog);

  Rng init_rng(config.seed);
  TwoTowerResult result;
  result.user_embeddings = random_table(train.num_users, dim, config.init_scale, init_rng);
  result.item_embeddings = random_table(train.num_items, dim, config.init_scale, init_rng);
  Matrix& U = result.user_embeddings;
  Matrix& I = result.item_embeddings;
  RowOptimizer user_opt(config, U);
  RowOptimizer item_opt(config, I);

  // Sampling probability of each item = its share of the training pairs.
  std::vector<float> item_log_q;
  if (logq && !catalog) {
    std::vector<double> freq(static_cast<std::size_t>(train.num_items), 0.0);
    for (auto i : train.items) freq[static_cast<std::size_t>(i)] += 1.0;
    item_log_q.resize(freq.size());
    for (std::size_t i = 0; i < freq.size(); ++i) {
      const double q = std::clamp(freq[i] / static_cast<double>(train.size()), 1e-6, 1.0);
      item_log_q[i] = static_cast<float>(std::log(q));
    }
  }

  detail::Batch batch(train.num_users, train.num_items);
  detail::InBatchSoftmax softmax(config);
  std::vector<float> ud, id, logits, grad, gu, gi, batch_log_q, full_scores;
  std::vector<std::size_t> order(train.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  const auto n = static_cast<std::int64_t>(train.size());
  const int batches = static_cast<int>((n + config.batch_size - 1) / config.batch_size);
  const std::int64_t n_cand = train.num_items - 1;

  const auto t_train = Clock::now();
  for (int epoch = 1; epoch <= config.epochs; ++epoch) {
    const auto t_epoch = Clock::now();
    if (config.shuffle) {
      Rng rng = Rng::stream(config.seed, static_cast<std::uint64_t>(epoch));
      rng.shuffle(std::span<std::size_t>(order));
    }
    EpochReport report;
    report.epoch = epoch;
    std::vector<double> hits(config.top_ks.size(), 0.0);
    double loss_sum = 0;
    for (int bi = 0; bi < batches; ++bi) {
      const std::int64_t b0 = static_cast<std::int64_t>(bi) * config.batch_size;
      const std::int64_t b1 = std::min(n, b0 + config.batch_size);
      batch.build(train, std::span<const std::size_t>(order).subspan(
                             static_cast<std::size_t>(b0), static_cast<std::size_t>(b1 - b0)));
      if (catalog) batch.use_catalog_columns(train.num_items);
      const auto nu = static_cast<std::int64_t>(batch.users.size());
      const auto ni = static_cast<std::int64_t>(batch.items.size());
      gather_rows(U, batch.users, ud);
      logits.resize(static_cast<std::size_t>(nu * ni));
      if (config.train_metrics || catalog) {
        // Score the batch's users against the whole catalog once: it gives
        // the running FactorizedTopK and, gathered, the batch logits.
        full_scores.resize(static_cast<std::size_t>(nu * n_cand));
        detail::parallel_sgemm_nt(nu, n_cand, dim, ud.data(), I.data() + dim, full_scores.data(),
                                  threads);
        std::vector<double> local_hits(config.top_ks.size(), 0.0);
#pragma omp parallel num_threads(threads)
        {
          std::vector<double> mine(config.top_ks.size(), 0.0);
          detail::RankCounter counter{config.top_ks, mine};
#pragma omp for schedule(dynamic, 16)
          for (std::int64_t u = 0; u < nu; ++u) {
            const float* row = full_scores.data() + u * n_cand;
            float* lrow = logits.data() + u * ni;
            for (std::int64_t i = 0; i < ni; ++i) {
              lrow[i] = row[batch.items[static_cast<std::size_t>(i)] - 1];
            }
            if (!config.train_metrics) continue;
            for (auto p = batch.pair_begin[static_cast<std::size_t>(u)];
                 p < batch.pair_begin[static_cast<std::size_t>(u) + 1]; ++p) {
              const auto item = batch.items[static_cast<std::size_t>(
                  batch.pair_item[static_cast<std::size_t>(p)])];
              if (item > 0) {
                counter.add(row, n_cand, item - 1, batch.pair_count[static_cast<std::size_t>(p)]);
              }
            }
          }
#pragma omp critical
          for (std::size_t k = 0; k < mine.size(); ++k) local_hits[k] += mine[k];
        }
        if (config.train_metrics) {
          for (std::size_t k = 0; k < hits.size(); ++k) hits[k] += local_hits[k];
        }
      } else {
        gather_rows(I, batch.items, id);
        detail::parallel_sgemm_nt(nu, ni, dim, ud.data(), id.data(), logits.data(), threads);
      }
      if (config.train_metrics || catalog) gather_rows(I, batch.items, id);

      batch_log_q.clear();
      if (!item_log_q.empty()) {
        for (auto i : batch.items) batch_log_q.push_back(item_log_q[static_cast<std::size_t>(i)]);
      }
      grad.resize(logits.size());
      const double loss = softmax.run(batch, logits.data(), grad.data(), batch_log_q, threads);
      loss_sum += loss;

      // dL/dU_batch = G Id, dL/dI_batch = G^T Ud.
      gu.resize(static_cast<std::size_t>(nu * dim));
      gi.resize(static_cast<std::size_t>(ni * dim));
      detail::parallel_sgemm_nn(nu, dim, ni, grad.data(), id.data(), gu.data(), threads);
      detail::parallel_sgemm_tn(ni, dim, nu, grad.data(), ud.data(), gi.data(), threads);
      user_opt.step(batch.users, gu.data(), threads);
      item_opt.step(batch.items, gi.data(), threads);

      if (on_progress) {
        on_progress(
            {epoch, config.epochs, bi + 1, batches, loss_sum / (bi + 1), seconds_since(t_epoch)});
      }
    }
    report.loss = loss_sum / batches;
    if (config.train_metrics) {
      report.has_train = true;
      report.train.ks = config.top_ks;
      report.train.pairs = train.size();
      for (double h : hits) report.train.accuracy.push_back(h / static_cast<double>(n));
    }
    if (test != nullptr && !test->empty()) {
      report.has_test = true;
      report.test = factorized_top_k(U, I, *test, config.top_ks, threads);
    }
    report.seconds = seconds_since(t_epoch);
    result.epochs.push_back(report);
    if (on_epoch) on_epoch(report);
  }
  result.train_seconds = seconds_since(t_train);
  return result;
}

}  // namespace latent
