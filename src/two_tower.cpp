#include <fmt/format.h>
#include <fmt/ranges.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <latent/error.hpp>
#include <latent/evaluation.hpp>
#include <latent/random.hpp>
#include <latent/rank_pairs.hpp>
#include <latent/two_tower.hpp>
#include <memory>
#include <numeric>
#include <optional>
#include <string>

#include "detail/gemm.hpp"
#include "detail/in_batch_softmax.hpp"
#include "detail/kernels.hpp"
#include "detail/parallel.hpp"
#include "detail/rank_counter.hpp"
#include "detail/require.hpp"

namespace latent {

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
  require(validation_freq >= 1,
          fmt::format("validation frequency {} must be >= 1 (epochs)", validation_freq));
  require(std::isfinite(init_scale) && init_scale >= 0,
          fmt::format("init scale {} must be >= 0", init_scale));
  for (const std::int32_t w : layers) {
    require(w >= 1 && w <= 4096, fmt::format("layer width {} is outside [1, 4096]", w));
  }
  const auto weight_ok = [](float w) { return std::isfinite(w) && w >= 0; };
  require(weight_ok(retrieval_weight),
          fmt::format("retrieval weight {} must be a number >= 0", retrieval_weight));
  require(weight_ok(rating_weight),
          fmt::format("rating weight {} must be a number >= 0", rating_weight));
  require(retrieval_weight > 0 || rating_weight > 0,
          "the retrieval and rating weights are both 0: there is nothing to train");
  for (const std::int32_t w : rating_layers) {
    require(w >= 1 && w <= 4096, fmt::format("rating layer width {} is outside [1, 4096]", w));
  }
  require(!top_ks.empty(), "top_ks must not be empty");
  for (std::size_t i = 0; i < top_ks.size(); ++i) {
    require(top_ks[i] >= 1 && (i == 0 || top_ks[i] > top_ks[i - 1]),
            fmt::format("top_ks must be positive and ascending; got {}", top_ks[i]));
  }
}

nlohmann::json TwoTowerConfig::to_json() const {
  nlohmann::json j{{"dim", dim},
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
  // Only when set, so that id-only models' configs stay as they were.
  if (!layers.empty()) j["layers"] = fmt::format("{}", fmt::join(layers, ","));
  if (!user_ids) j["user_ids"] = false;
  if (!item_ids) j["item_ids"] = false;
  if (retrieval_weight != 1.0f || rating_weight != 0.0f) {
    j["retrieval_weight"] = retrieval_weight;
    j["rating_weight"] = rating_weight;
  }
  if (rating_weight > 0) j["rating_layers"] = fmt::format("{}", fmt::join(rating_layers, ","));
  return j;
}

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

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

// One side of the model as the trainer updates it: an id table with its
// optimizer (the id-only model), or a tower over ids and features, whose
// vectors of every row (the table the metrics and the catalog softmax
// read) are computed again when a step has changed it.
class TrainedSide {
 public:
  // An id table: `vectors` itself.
  TrainedSide(const OptimizerSettings& settings, Matrix& vectors)
      : settings_(settings), vectors_(vectors), optimizer_(std::in_place, settings, vectors) {}
  // A tower: `vectors` is made from it, a row for each of `rows` rows.
  // Row r's id row is id_of[r] when given (queries with context: a row of
  // each pair), else r.
  TrainedSide(const OptimizerSettings& settings, Matrix& vectors, std::unique_ptr<Tower> tower,
              const FeatureRows* features, std::int64_t rows, std::vector<std::int32_t> id_of = {})
      : settings_(settings),
        vectors_(vectors),
        tower_(std::move(tower)),
        features_(features),
        id_of_(std::move(id_of)) {
    all_.resize(static_cast<std::size_t>(rows));
    std::iota(all_.begin(), all_.end(), 0);
    all_rows_.assign(all_.begin(), all_.end());
  }

  // The vectors of vocabulary rows `rows` into out (rows.size() x dim).
  void vectors(std::span<const std::int32_t> rows, std::vector<float>& out, int threads) {
    if (!tower_) {
      gather_rows(vectors_, rows, out);
      return;
    }
    feature_rows_.assign(rows.begin(), rows.end());
    tower_->forward(ids_of(rows), features_, feature_rows_, out, threads);
    // The rows of a catalog softmax's batch are every row but OOV: the
    // table's, which need not be computed again until the next step.
    const auto n = static_cast<std::size_t>(vectors_.rows());
    bool catalog = n > 1 && rows.size() + 1 == n;
    for (std::size_t k = 0; catalog && k < rows.size(); ++k) {
      catalog = static_cast<std::size_t>(rows[k]) == k + 1;
    }
    if (catalog) {
      std::copy(out.begin(), out.end(), vectors_.data() + vectors_.cols());
      catalog_fresh_ = true;
    }
  }
  // A step on the gradient of the last vectors()' rows (the same `rows`).
  void apply(std::span<const std::int32_t> rows, const float* grad, int threads) {
    if (!tower_) {
      optimizer_->step(rows, grad, threads);
      return;
    }
    const auto n = rows.size() * static_cast<std::size_t>(tower_->output_dim());
    tower_->backward(std::span<const float>(grad, n), threads);
    tower_->step(settings_, threads);
    stale_ = true;
    catalog_fresh_ = false;
  }
  // The vectors of every row, current but for the OOV row's after a
  // catalog batch's vectors() (no candidate, no query).
  const Matrix& table(int threads) {
    if (tower_ && stale_ && !catalog_fresh_) finish(threads);
    return vectors_;
  }
  // The vectors of every row, the OOV row's too: the model's.
  void finish(int threads) {
    if (!tower_) return;
    vectors_ = tower_->params().vectors(ids_of(all_), features_, all_rows_, threads);
    stale_ = false;
  }
  // A tower over queries made anew each step (context features on several
  // ranks, StepQueries): its rows are now `features`' rows, and row r's id
  // row is id_of[r].
  void use_rows(const FeatureRows* features, std::span<const std::int32_t> id_of) {
    features_ = features;
    id_of_.assign(id_of.begin(), id_of.end());
  }
  const Tower* tower() const noexcept { return tower_.get(); }
  // An id table's vectors as trained (a tower's: as last made).
  const Matrix& vectors() const noexcept { return vectors_; }

 private:
  // The id rows of `rows` (none for a tower without ids).
  std::span<const std::int32_t> ids_of(std::span<const std::int32_t> rows) {
    if (tower_->shape().id_rows == 0) return {};
    if (id_of_.empty()) return rows;
    ids_.resize(rows.size());
    for (std::size_t k = 0; k < rows.size(); ++k) {
      ids_[k] = id_of_[static_cast<std::size_t>(rows[k])];
    }
    return ids_;
  }

  OptimizerSettings settings_;
  Matrix& vectors_;
  std::optional<RowOptimizer> optimizer_;  // an id table's
  std::unique_ptr<Tower> tower_;
  const FeatureRows* features_ = nullptr;
  std::vector<std::int32_t> id_of_, ids_;
  std::vector<std::int32_t> all_;
  std::vector<std::int64_t> all_rows_, feature_rows_;
  bool stale_ = true;
  bool catalog_fresh_ = false;  // rows 1.. of vectors_ are the last forward's
};

// Appends row r of `from` to `to`, its token rows shifted by `shift`.
void append_row(const FeatureRows& from, std::int64_t r, std::int32_t shift, FeatureRows& to) {
  const auto b = static_cast<std::size_t>(from.indptr[static_cast<std::size_t>(r)]);
  const auto e = static_cast<std::size_t>(from.indptr[static_cast<std::size_t>(r) + 1]);
  for (std::size_t k = b; k < e; ++k) {
    to.index.push_back(from.index[k] + shift);
    to.weight.push_back(from.weight[k]);
  }
}

// Each column's FeatureColumn::dropout, for its tower.
std::vector<float> dropout_of(const FeatureEncoder& encoder) {
  std::vector<float> out;
  for (const ColumnEncoding& c : encoder.columns()) out.push_back(c.column.dropout);
  return out;
}

// How the user tower of a model with context (QueryContext) reads a query:
// its user's id and feature tokens, then its context's tokens, past the
// user features' rows.
struct QueryRows {
  const SideFeatures* users;  // null: no user features
  const FeatureEncoder* context;
  std::int32_t shift;                 // the context columns' first token row
  FeatureRows missing;                // the context of no pair: every column missing
  FeatureRows user_rows;              // each user's row with the context missing
  std::vector<std::int32_t> offsets;  // the user tower's feature columns
  std::vector<float> dropout;         // and their dropout

  QueryRows(const SideFeatures* user_features, const FeatureEncoder& context_encoder,
            std::int32_t num_users)
      : users(user_features),
        context(&context_encoder),
        shift(users != nullptr ? users->encoder.total_rows() : 0) {
    const FeatureEncoder joined = users != nullptr
                                      ? FeatureEncoder::joined(users->encoder, context_encoder)
                                      : context_encoder;
    offsets.assign(joined.offsets().begin(), joined.offsets().end());
    dropout = dropout_of(joined);
    const std::vector<std::string_view> none(context_encoder.columns().size());
    context_encoder.encode_one(none, missing, "the missing context");
    for (std::int32_t u = 0; u < num_users; ++u) add(user_rows, u, missing, 0);
  }

  // Appends the query of user `user` in row r of the context rows `ctx`.
  void add(FeatureRows& to, std::int32_t user, const FeatureRows& ctx, std::int64_t r) const {
    if (users != nullptr) append_row(users->rows, user, 0, to);
    append_row(ctx, r, shift, to);
    to.indptr.push_back(static_cast<std::int64_t>(to.index.size()));
  }
};

// The queries of one step of a distributed run with context features. A
// rank holds its own pairs alone, so where one process makes every pair's
// query row once (Queries), every rank makes the global batch's anew each
// step, from the pairs' users and times, which travel with them: pair k's
// query is row k + 1 (row 0: OOV) of the step's rows, and the batch's
// users become those rows.
class StepQueries {
 public:
  explicit StepQueries(QueryRows how) : how_(std::move(how)) { make_oov(); }

  const QueryRows& how() const noexcept { return how_; }
  const FeatureRows& rows() const noexcept { return rows_; }
  std::span<const std::int32_t> user_of() const noexcept { return user_of_; }
  // The user of the step's query row `row`.
  std::int32_t user_of(std::int32_t row) const { return user_of_[static_cast<std::size_t>(row)]; }

  // The queries of `batch`'s pairs (their users and timestamps); replaces
  // its users by their query rows.
  void make(Interactions& batch) {
    make_oov();
    const std::size_t columns = how_.context->columns().size();
    for (std::size_t k = 0; k < batch.users.size(); ++k) {
      // As QueryContext encodes a pair's time (QueryContext::of_pair).
      text_ = std::to_string(batch.timestamps[k]);
      values_.assign(columns, text_);
      context_ = FeatureRows{};
      how_.context->encode_one(values_, context_, "a pair's context");
      how_.add(rows_, batch.users[k], context_, 0);
      user_of_.push_back(batch.users[k]);
      batch.users[k] = static_cast<std::int32_t>(k + 1);
    }
  }

 private:
  void make_oov() {
    rows_ = FeatureRows{};
    user_of_.assign(1, 0);
    how_.add(rows_, 0, how_.missing, 0);
  }

  QueryRows how_;
  FeatureRows rows_, context_;
  std::vector<std::int32_t> user_of_;
  std::string text_;
  std::vector<std::string_view> values_;
};

// Up to this many items a full softmax costs about what the running metrics
// already cost (two_tower.hpp); beyond it, Auto takes in-batch negatives.
bool use_catalog_softmax(const TwoTowerConfig& config, std::int32_t num_items) {
  constexpr std::int32_t kCatalogSoftmaxMaxItems = 20000;
  return config.negatives == Negatives::Catalog ||
         (config.negatives == Negatives::Auto && num_items <= kCatalogSoftmaxMaxItems);
}

// log of each item's sampling probability, its share of the training pairs
// (of every rank's: `pairs` in all); clamped so that an item without pairs
// does not give -inf.
std::vector<float> item_log_q(const Interactions& train, std::int64_t pairs, Communicator* comm) {
  std::vector<double> freq(static_cast<std::size_t>(train.num_items), 0.0);
  for (auto i : train.items) freq[static_cast<std::size_t>(i)] += 1.0;
  if (comm != nullptr) comm->allreduce_sum(std::span<double>(freq));
  std::vector<float> log_q(freq.size());
  for (std::size_t i = 0; i < freq.size(); ++i) {
    const double q = std::clamp(freq[i] / static_cast<double>(pairs), 1e-6, 1.0);
    log_q[i] = static_cast<float>(std::log(q));
  }
  return log_q;
}

// Pairs of every rank (comm: a distributed run), or of `train` alone.
std::int64_t pairs_of_all(const Interactions& train, Communicator* comm) {
  std::int64_t n = static_cast<std::int64_t>(train.size());
  if (comm != nullptr) comm->allreduce_sum(std::span<std::int64_t>(&n, 1));
  return n;
}

// Whether `mine` holds on some rank (comm), or here.
bool any_rank(bool mine, Communicator* comm) {
  return comm != nullptr ? comm->any_rank(mine) : mine;
}

// The state of one training run. The per-batch buffers are members so that
// they keep their capacity from batch to batch instead of being reallocated.
//
// On the ranks of a distributed run (comm), every rank holds the whole
// tables. Each user belongs to one rank (a range of rows, `users`), which
// holds all its pairs, alone computes its logits, softmax and gradients,
// and updates its row. Each step, every rank takes its next share of its
// shuffled pairs (1 / batches of them: the ranges are cut so that the
// ranks have about as many pairs each, and so as much work each step) and
// the shares are gathered into one global batch, the same on every rank,
// whose in-batch negatives are all its items. The item gradients are
// summed across ranks, so every rank applies the same update to its copy
// of the item table. The user rows come together at the end.
class TwoTowerTrainer {
 public:
  // rating: the ranking task's head (null: retrieval alone), one process only.
  // step_queries: context features on several ranks (the user side is a
  // tower over each step's queries).
  TwoTowerTrainer(const Interactions& train, const TwoTowerConfig& config, TrainedSide& users,
                  TrainedSide& items, RatingHeadTrainer* rating, Communicator* comm = nullptr,
                  const RowPartition* user_ranges = nullptr, StepQueries* step_queries = nullptr);

  EpochReport run_epoch(int epoch, const Interactions* test, const ProgressCallback& on_progress);

 private:
  // Adds the batch's hits at each k to `hits`; returns the batch loss.
  double train_batch(int batch_index, std::vector<double>& hits);
  void build_batch(int batch_index);
  // The rating task's pairs of the batch (rating_user_, rating_item_,
  // batch_ratings_, batch_weights_): with several ranks, this rank's users'.
  void build_rating_pairs(int batch_index);
  // With the catalog softmax, the running FactorizedTopK of the pairs of
  // this rank's batch users [k0, k1), from their logits (the catalog's
  // scores): adds the hits at each k and then the pairs ranked to `hits`.
  void rank_catalog_rows(std::int64_t k0, std::int64_t k1, const float* logits,
                         std::vector<double>& hits);
  // How many of the batch's users the running metrics rank when the softmax
  // is in-batch: all of them would cost the catalog's product for each
  // batch (at 41,000 items, about 80 times the batch's own logits), so a
  // sample sized to cost half the batch's logits on average (a fraction of
  // a user carries over to the next batch); all users when that is the
  // whole batch (small catalogs). On several ranks, each takes its share
  // of the sample from its own users, so that they rank as many as one
  // process would.
  std::int64_t take_metric_users();
  // The in-batch softmax's running metrics: the sampled users' vectors and
  // pairs of each step are kept, and ranked against the catalog every
  // kMetricSteps steps, times the ranks on several (on every rank at the
  // same step, so that none waits for another's ranking; each then ranks
  // about as many users at a time as one process), and at the end of the
  // epoch. Ranking a few users each step cost mostly reading (and packing)
  // the catalog's vectors for each step (at the MovieLens-20M shape, 5.5 s
  // of a 13 s epoch on 2M pairs); ranked together, they read it once.
  // Their vectors are those of their step, the items' those of the
  // ranking, a few steps later.
  void keep_metric_users(int batch_index, std::vector<double>& hits);
  void rank_metric_users(std::vector<double>& hits);
  static constexpr int kMetricSteps = 16;
  static constexpr std::int64_t kMetricScores = std::int64_t{1} << 22;  // 16 MB of scores
  void gather_batch_log_q();
  // The ranking task on the batch's pairs: adds its gradients to gu_ and
  // gi_, returns its weighted loss.
  double rating_batch();
  // The RMSE of the rating head on test's pairs (NaN without a head or ratings).
  double test_rmse(const Interactions* test);
  // Applies the batch's gradients; returns the rating task's weighted loss (0 without).
  double apply_gradients();
  void add_train_metrics(const std::vector<double>& hits, EpochReport& report) const;

  std::int64_t batch_users() const { return static_cast<std::int64_t>(batch_.users.size()); }
  // A user tower on several ranks: its parameters are shared by every
  // rank's users, so every rank runs it on the whole batch.
  bool shared_user_tower() const { return comm_ != nullptr && users_.tower() != nullptr; }
  // The batch's users this rank trains: their indices in the batch.
  std::int64_t slice_users() const { return static_cast<std::int64_t>(mine_.size()); }
  // Every rank's shares of the pairs of kShareSteps steps from `first`,
  // gathered in one allgather into shares_: a step's one wait for the
  // other ranks is then the sum of its item gradients.
  void gather_shares(int first);
  static constexpr int kShareSteps = 64;
  // Every rank's share of this step's pairs, in rank order, into global_batch_.
  void make_global_batch(int batch_index);
  std::int64_t batch_items() const { return static_cast<std::int64_t>(batch_.items.size()); }

  const Interactions& train_;
  const TwoTowerConfig& config_;
  Communicator* const comm_;
  StepQueries* const step_queries_;
  const std::int32_t users_begin_, users_end_;  // the user rows this rank trains
  const int threads_;
  const int dim_;
  const bool catalog_;
  TrainedSide& users_;
  TrainedSide& items_;
  RatingHeadTrainer* const rating_;
  std::vector<float> batch_ratings_, batch_weights_;  // the batch's, in position order
  // The rating task's pairs of the batch: each one's row of ud_ (this
  // rank's users) and of id_; with one process, every position's.
  std::vector<std::int32_t> rating_user_, rating_item_;
  std::int64_t batch_pairs_ = 0;   // the batch's pairs on every rank: the mean's denominator
  double rating_sse_ = 0;          // the epoch's squared errors
  double rating_pairs_ = 0;        // and its pairs
  std::vector<float> item_log_q_;  // empty without logQ correction
  detail::Batch batch_;
  detail::InBatchSoftmax softmax_;
  std::vector<std::size_t> order_;
  const std::int64_t pairs_;  // every rank's
  const bool weighted_;       // some rank's pairs have weights
  const int batches_;
  const std::int64_t candidates_;  // every item row but OOV
  std::vector<float> ud_, id_, gu_, gi_, batch_log_q_, full_scores_;
  std::vector<float> batch_ud_, sums_;  // shared_user_tower(): every batch user's vector, the sum
  std::vector<std::vector<double>> thread_hits_;  // rank_catalog_rows's, one per thread
  double metric_pairs_ = 0;                       // the epoch's pairs the running metrics ranked
  double metric_credit_ = 0;                      // users owed to the running metrics' sample
  std::vector<float> metric_ud_;                  // kept users' vectors, metric_rows_ x dim
  std::vector<std::int32_t> metric_row_, metric_item_;  // each kept pair's row and item - 1
  std::vector<float> metric_count_;
  std::int64_t metric_rows_ = 0;
  std::vector<std::int64_t> mine_;           // batch indices of this rank's users
  std::vector<std::int32_t> slice_of_user_;  // each batch user's index in mine_, or -1
  std::vector<std::int32_t> mine_rows_;      // their user rows
  Interactions global_batch_;
  std::vector<std::size_t> global_positions_;
  std::string message_;
  std::vector<Interactions> shares_;                    // each rank's pairs of the gathered steps
  std::vector<std::vector<std::int64_t>> share_begin_;  // where each of their steps begins
  int shares_first_ = 0;                                // the first of those steps
};

TwoTowerTrainer::TwoTowerTrainer(const Interactions& train, const TwoTowerConfig& config,
                                 TrainedSide& users, TrainedSide& items, RatingHeadTrainer* rating,
                                 Communicator* comm, const RowPartition* user_ranges,
                                 StepQueries* step_queries)
    : train_(train),
      config_(config),
      comm_(comm),
      step_queries_(step_queries),
      users_begin_(user_ranges == nullptr ? 0 : user_ranges->begin(comm->rank())),
      users_end_(user_ranges == nullptr ? train.num_users : user_ranges->end(comm->rank())),
      threads_(detail::resolve_threads(config.threads)),
      dim_(config.output_dim()),
      catalog_(use_catalog_softmax(config, train.num_items)),
      users_(users),
      items_(items),
      rating_(rating),
      // With each step's queries, the batch's users are its query rows: at
      // most a batch plus a pair of each rank's (a rank's share of a step
      // is its pairs / batches, rounded up).
      batch_(step_queries != nullptr ? config.batch_size + comm->size() + 1 : train.num_users,
             train.num_items),
      softmax_(config),
      order_(train.size()),
      pairs_(pairs_of_all(train, comm)),
      weighted_(any_rank(!train.weights.empty(), comm)),
      batches_(static_cast<int>((pairs_ + config.batch_size - 1) / config.batch_size)),
      candidates_(train.num_items - 1) {
  // A catalog softmax has no sampling bias to correct.
  const bool logq = config.logq_correction || (config.negatives == Negatives::Auto && !catalog_);
  if (logq && !catalog_) item_log_q_ = item_log_q(train, pairs_, comm);
  global_batch_.num_users = train.num_users;
  global_batch_.num_items = train.num_items;
  std::iota(order_.begin(), order_.end(), std::size_t{0});
}

EpochReport TwoTowerTrainer::run_epoch(int epoch, const Interactions* test,
                                       const ProgressCallback& on_progress) {
  const auto t_epoch = Clock::now();
  if (config_.shuffle) {
    // One stream per epoch, and per rank on several.
    const std::uint64_t stream =
        comm_ == nullptr
            ? static_cast<std::uint64_t>(epoch)
            : static_cast<std::uint64_t>(epoch - 1) * comm_->size() + comm_->rank() + 1;
    Rng rng = Rng::stream(config_.seed, stream);
    rng.shuffle(std::span<std::size_t>(order_));
  }
  EpochReport report;
  report.epoch = epoch;
  report.epochs = config_.epochs;
  std::vector<double> hits(config_.top_ks.size(), 0.0);
  metric_pairs_ = 0;
  rating_sse_ = 0;
  rating_pairs_ = 0;
  double loss_sum = 0;
  for (int bi = 0; bi < batches_; ++bi) {
    loss_sum += train_batch(bi, hits);
    if (on_progress) {
      on_progress(
          {epoch, config_.epochs, bi + 1, batches_, loss_sum / (bi + 1), seconds_since(t_epoch)});
    }
  }
  rank_metric_users(hits);
  if (comm_ != nullptr) {
    std::vector<double> sums(hits);
    sums.push_back(loss_sum);
    sums.push_back(metric_pairs_);
    sums.push_back(rating_sse_);
    sums.push_back(rating_pairs_);
    comm_->allreduce_sum(std::span<double>(sums));
    std::copy_n(sums.begin(), hits.size(), hits.begin());
    loss_sum = sums[hits.size()];
    metric_pairs_ = sums[hits.size() + 1];
    rating_sse_ = sums[hits.size() + 2];
    rating_pairs_ = sums[hits.size() + 3];
  }
  report.loss = loss_sum / batches_;
  add_train_metrics(hits, report);
  const bool validate = epoch % config_.validation_freq == 0 || epoch == config_.epochs;
  if (validate && test != nullptr && !test->empty()) {
    report.has_test = true;
    report.test = factorized_top_k(users_.table(threads_), items_.table(threads_), *test,
                                   config_.top_ks, threads_);
  }
  if (rating_ != nullptr) {
    report.train_rmse = std::sqrt(rating_sse_ / std::max(rating_pairs_, 1.0));
    if (validate) report.test_rmse = test_rmse(test);
  }
  report.seconds = seconds_since(t_epoch);
  return report;
}

double TwoTowerTrainer::train_batch(int batch_index, std::vector<double>& hits) {
  build_batch(batch_index);
  if (shared_user_tower()) {
    // Every rank runs the user tower on the whole batch and keeps its own
    // users' vectors: the towers stay the same on every rank (apply_gradients).
    users_.vectors(batch_.users, batch_ud_, threads_);
    ud_.resize(mine_.size() * static_cast<std::size_t>(dim_));
    for (std::size_t k = 0; k < mine_.size(); ++k) {
      std::copy_n(batch_ud_.begin() + mine_[k] * dim_, dim_, ud_.begin() + k * dim_);
    }
  } else {
    users_.vectors(mine_rows_, ud_, threads_);
  }
  items_.vectors(batch_.items, id_, threads_);
  gather_batch_log_q();
  const std::int64_t ni = batch_items(), ns = slice_users();
  gu_.resize(static_cast<std::size_t>(ns * dim_));
  gi_.resize(static_cast<std::size_t>(ni * dim_));
  // With the catalog softmax, the running metrics rank the batch's rows by
  // their logits, which are the catalog's scores.
  const bool rank_logits = catalog_ && config_.retrieval_weight > 0;
  if (config_.train_metrics && !rank_logits && ns > 0) keep_metric_users(batch_index, hits);
  double loss = 0;
  if (config_.retrieval_weight > 0) {
    detail::InBatchSoftmax::LogitsHook rank;
    if (rank_logits && config_.train_metrics) {
      // Each thread's hits at each k, then its ranked pairs.
      thread_hits_.assign(static_cast<std::size_t>(threads_),
                          std::vector<double>(config_.top_ks.size() + 1, 0.0));
      rank = [this](std::int64_t k0, std::int64_t k1, const float* logits) {
        rank_catalog_rows(k0, k1, logits,
                          thread_hits_[static_cast<std::size_t>(omp_get_thread_num())]);
      };
    }
    loss = softmax_.gradients(batch_, mine_, ud_.data(), id_.data(), dim_, batch_log_q_,
                              config_.retrieval_weight, gu_.data(), gi_.data(), threads_, rank);
    if (rank) {
      for (const auto& mine : thread_hits_) {
        for (std::size_t k = 0; k < hits.size(); ++k) hits[k] += mine[k];
        metric_pairs_ += mine.back();
      }
    }
  } else {
    std::fill(gu_.begin(), gu_.end(), 0.0f);
    std::fill(gi_.begin(), gi_.end(), 0.0f);
  }
  loss += apply_gradients();
  return loss;
}

double TwoTowerTrainer::rating_batch() {
  const double loss = rating_->train(ud_, rating_user_, id_, rating_item_, batch_ratings_,
                                     batch_weights_, config_.rating_weight, gu_.data(), gi_.data(),
                                     rating_sse_, threads_, batch_pairs_);
  rating_pairs_ += static_cast<double>(batch_ratings_.size());
  return config_.rating_weight * loss;
}

double TwoTowerTrainer::test_rmse(const Interactions* test) {
  if (test == nullptr || test->empty() || test->ratings.empty()) {
    return std::numeric_limits<double>::quiet_NaN();
  }
  return rating_->head().rmse(users_.table(threads_), test->users, items_.table(threads_),
                              test->items, test->ratings, threads_);
}

void TwoTowerTrainer::gather_shares(int first) {
  // This rank's pairs of step b are [n b / batches_, n (b + 1) / batches_)
  // of its order: about 1 / batches_ of them.
  const int last = std::min(batches_, first + kShareSteps);
  const auto n = static_cast<std::int64_t>(train_.size());
  const std::int64_t lo = n * first / batches_;
  const std::int64_t hi = n * last / batches_;
  // Each step's count, then the users, items, (weighted_) weights and
  // (rating task) ratings of all of them, in this build's byte order.
  message_.clear();
  const auto put = [&](const auto v) {
    message_.append(reinterpret_cast<const char*>(&v), sizeof v);
  };
  for (int b = first; b < last; ++b) {
    put(static_cast<std::int64_t>(n * (b + 1) / batches_ - n * b / batches_));
  }
  const auto put_pairs = [&](const auto& values) {
    for (std::int64_t k = lo; k < hi; ++k) put(values(order_[static_cast<std::size_t>(k)]));
  };
  put_pairs([&](std::size_t p) { return train_.users[p]; });
  put_pairs([&](std::size_t p) { return train_.items[p]; });
  if (weighted_) {
    put_pairs([&](std::size_t p) { return train_.weights.empty() ? 1.0f : train_.weights[p]; });
  }
  if (rating_ != nullptr) put_pairs([&](std::size_t p) { return train_.ratings[p]; });
  if (step_queries_ != nullptr) put_pairs([&](std::size_t p) { return train_.timestamps[p]; });
  const std::vector<std::string> parts = comm_->allgather(message_);
  shares_.resize(parts.size());
  share_begin_.resize(parts.size());
  for (std::size_t r = 0; r < parts.size(); ++r) {
    const char* at = parts[r].data();
    const auto take = [&](auto& into, std::size_t count) {
      into.resize(count);
      std::memcpy(into.data(), at, count * sizeof(into[0]));
      at += count * sizeof(into[0]);
    };
    std::vector<std::int64_t>& begin = share_begin_[r];
    take(begin, static_cast<std::size_t>(last - first));
    begin.insert(begin.begin(), 0);
    std::partial_sum(begin.begin(), begin.end(), begin.begin());
    const auto pairs = static_cast<std::size_t>(begin.back());
    take(shares_[r].users, pairs);
    take(shares_[r].items, pairs);
    if (weighted_) take(shares_[r].weights, pairs);
    if (rating_ != nullptr) take(shares_[r].ratings, pairs);
    if (step_queries_ != nullptr) take(shares_[r].timestamps, pairs);
  }
  shares_first_ = first;
}

void TwoTowerTrainer::make_global_batch(int batch_index) {
  if (batch_index % kShareSteps == 0) gather_shares(batch_index);
  const auto step = static_cast<std::size_t>(batch_index - shares_first_);
  Interactions& g = global_batch_;
  g.users.clear();
  g.items.clear();
  g.weights.clear();
  g.ratings.clear();
  g.timestamps.clear();
  for (std::size_t r = 0; r < shares_.size(); ++r) {
    const auto lo = share_begin_[r][step], hi = share_begin_[r][step + 1];
    const auto append = [&](auto& into, const auto& from) {
      into.insert(into.end(), from.begin() + lo, from.begin() + hi);
    };
    append(g.users, shares_[r].users);
    append(g.items, shares_[r].items);
    if (weighted_) append(g.weights, shares_[r].weights);
    if (rating_ != nullptr) append(g.ratings, shares_[r].ratings);
    if (step_queries_ != nullptr) append(g.timestamps, shares_[r].timestamps);
  }
  if (step_queries_ != nullptr) {
    step_queries_->make(g);
    users_.use_rows(&step_queries_->rows(), step_queries_->user_of());
  }
  global_positions_.resize(g.users.size());
  std::iota(global_positions_.begin(), global_positions_.end(), std::size_t{0});
}

void TwoTowerTrainer::build_batch(int batch_index) {
  if (comm_ == nullptr) {
    const std::int64_t b0 = static_cast<std::int64_t>(batch_index) * config_.batch_size;
    const std::int64_t b1 = std::min(pairs_, b0 + config_.batch_size);
    batch_.build(train_, std::span<const std::size_t>(order_).subspan(
                             static_cast<std::size_t>(b0), static_cast<std::size_t>(b1 - b0)));
  } else {
    make_global_batch(batch_index);
    batch_.build(global_batch_, global_positions_);
  }
  if (catalog_) batch_.use_catalog_columns(train_.num_items);
  // Every user belongs to one rank, which alone trains it.
  mine_.clear();
  mine_rows_.clear();
  for (std::size_t k = 0; k < batch_.users.size(); ++k) {
    const std::int32_t user =
        step_queries_ != nullptr ? step_queries_->user_of(batch_.users[k]) : batch_.users[k];
    if (user < users_begin_ || user >= users_end_) continue;
    mine_.push_back(static_cast<std::int64_t>(k));
    mine_rows_.push_back(batch_.users[k]);
  }
  if (rating_ != nullptr) build_rating_pairs(batch_index);
}

void TwoTowerTrainer::build_rating_pairs(int batch_index) {
  const auto n = batch_.position_user.size();
  batch_pairs_ = static_cast<std::int64_t>(n);
  batch_ratings_.clear();
  batch_weights_.clear();
  rating_user_.clear();
  rating_item_.clear();
  if (comm_ == nullptr) {
    // One process: every position, in order.
    const std::int64_t b0 = static_cast<std::int64_t>(batch_index) * config_.batch_size;
    for (std::size_t k = 0; k < n; ++k) {
      const std::size_t p = order_[static_cast<std::size_t>(b0) + k];
      batch_ratings_.push_back(train_.ratings[p]);
      if (!train_.weights.empty()) batch_weights_.push_back(train_.weights[p]);
    }
    rating_user_.assign(batch_.position_user.begin(), batch_.position_user.end());
    rating_item_.assign(batch_.position_item.begin(), batch_.position_item.end());
    return;
  }
  // Several ranks: the positions of this rank's users (ud_'s rows), each
  // pair of the global batch trained by one rank.
  slice_of_user_.assign(batch_.users.size(), -1);
  for (std::size_t k = 0; k < mine_.size(); ++k) {
    slice_of_user_[static_cast<std::size_t>(mine_[k])] = static_cast<std::int32_t>(k);
  }
  for (std::size_t k = 0; k < n; ++k) {
    const std::int32_t u = slice_of_user_[static_cast<std::size_t>(batch_.position_user[k])];
    if (u < 0) continue;
    rating_user_.push_back(u);
    rating_item_.push_back(batch_.position_item[k]);
    batch_ratings_.push_back(global_batch_.ratings[k]);
    if (weighted_) batch_weights_.push_back(global_batch_.weights[k]);
  }
}

std::int64_t TwoTowerTrainer::take_metric_users() {
  metric_credit_ += 0.5 * static_cast<double>(slice_users()) * static_cast<double>(batch_items()) /
                    static_cast<double>(std::max<std::int64_t>(candidates_, 1));
  if (metric_credit_ >= static_cast<double>(slice_users())) {
    metric_credit_ = 0;
    return slice_users();
  }
  const auto m = static_cast<std::int64_t>(metric_credit_);
  metric_credit_ -= static_cast<double>(m);
  return m;
}

void TwoTowerTrainer::keep_metric_users(int batch_index, std::vector<double>& hits) {
  const std::int64_t m = take_metric_users();
  for (std::int64_t u = 0; u < m; ++u) {
    metric_ud_.insert(metric_ud_.end(), ud_.begin() + u * dim_, ud_.begin() + (u + 1) * dim_);
    const auto bu = static_cast<std::size_t>(mine_[static_cast<std::size_t>(u)]);
    for (auto p = batch_.pair_begin[bu]; p < batch_.pair_begin[bu + 1]; ++p) {
      const float count = batch_.pair_count[static_cast<std::size_t>(p)];
      metric_pairs_ += count;
      const auto item =
          batch_.items[static_cast<std::size_t>(batch_.pair_item[static_cast<std::size_t>(p)])];
      if (item <= 0) continue;
      metric_row_.push_back(static_cast<std::int32_t>(metric_rows_));
      metric_item_.push_back(item - 1);
      metric_count_.push_back(count);
    }
    ++metric_rows_;
  }
  const int ranks = comm_ == nullptr ? 1 : comm_->size();
  if ((batch_index + 1) % (kMetricSteps * ranks) == 0) rank_metric_users(hits);
}

void TwoTowerTrainer::rank_metric_users(std::vector<double>& hits) {
  const std::int64_t n_cand = candidates_;
  // A block of users at a time, whose scores take at most kMetricScores
  // floats: a big batch (4096) keeps thousands of users between rankings.
  const std::int64_t block =
      std::max<std::int64_t>(1, kMetricScores / std::max<std::int64_t>(n_cand, 1));
  std::size_t first_pair = 0;
  for (std::int64_t r0 = 0; r0 < metric_rows_; r0 += block) {
    const std::int64_t rows = std::min(block, metric_rows_ - r0);
    full_scores_.resize(static_cast<std::size_t>(rows * n_cand));
    detail::parallel_sgemm_nt(rows, n_cand, dim_, metric_ud_.data() + r0 * dim_,
                              items_.table(threads_).data() + dim_, full_scores_.data(), threads_);
    // The kept pairs are in the order of their rows.
    std::size_t end_pair = first_pair;
    while (end_pair < metric_row_.size() && metric_row_[end_pair] < r0 + rows) ++end_pair;
    const auto k0 = static_cast<std::int64_t>(first_pair);
    const auto k1 = static_cast<std::int64_t>(end_pair);
#pragma omp parallel num_threads(threads_)
    {
      std::vector<double> mine(config_.top_ks.size(), 0.0);
      detail::RankCounter counter{config_.top_ks, mine};
#pragma omp for schedule(dynamic, 16)
      for (std::int64_t k = k0; k < k1; ++k) {
        const auto at = static_cast<std::size_t>(k);
        counter.add(full_scores_.data() + (metric_row_[at] - r0) * n_cand, n_cand, metric_item_[at],
                    metric_count_[at]);
      }
#pragma omp critical
      for (std::size_t k = 0; k < mine.size(); ++k) hits[k] += mine[k];
    }
    first_pair = end_pair;
  }
  metric_ud_.clear();
  metric_row_.clear();
  metric_item_.clear();
  metric_count_.clear();
  metric_rows_ = 0;
}

void TwoTowerTrainer::rank_catalog_rows(std::int64_t k0, std::int64_t k1, const float* logits,
                                        std::vector<double>& hits) {
  const std::int64_t n_cand = candidates_;
  detail::RankCounter counter{config_.top_ks, hits};
  for (std::int64_t k = k0; k < k1; ++k) {
    const float* row = logits + (k - k0) * n_cand;
    const auto bu = static_cast<std::size_t>(mine_[static_cast<std::size_t>(k)]);  // in the batch
    for (auto p = batch_.pair_begin[bu]; p < batch_.pair_begin[bu + 1]; ++p) {
      const auto item = batch_.pair_item[static_cast<std::size_t>(p)];  // a catalog column
      const float count = batch_.pair_count[static_cast<std::size_t>(p)];
      counter.add(row, n_cand, item, count);
      hits.back() += count;
    }
  }
}

void TwoTowerTrainer::gather_batch_log_q() {
  batch_log_q_.clear();
  if (item_log_q_.empty()) return;
  for (auto i : batch_.items) batch_log_q_.push_back(item_log_q_[static_cast<std::size_t>(i)]);
}

double TwoTowerTrainer::apply_gradients() {
  // The rating task: its gradients join the softmax's.
  const double loss = rating_ != nullptr ? rating_batch() : 0.0;
  if (comm_ == nullptr) {
    users_.apply(mine_rows_, gu_.data(), threads_);
    items_.apply(batch_.items, gi_.data(), threads_);
    if (rating_ != nullptr) rating_->step(config_.optimizer_settings(), threads_);
    return loss;
  }
  // Several ranks: every rank's item gradients are summed in rank order, so
  // that every rank applies the same update to its copy of the item side.
  // So are, in the same sum, what every rank's users share: a user tower
  // (the whole batch's user gradients, each rank's own users' rows and
  // zero elsewhere) and the rating head's gradients.
  std::span<float> sum(gi_);
  const std::size_t ni = gi_.size();
  const std::size_t nu =
      shared_user_tower() ? batch_.users.size() * static_cast<std::size_t>(dim_) : 0;
  if (nu > 0 || rating_ != nullptr) {
    sums_.assign(gi_.begin(), gi_.end());
    sums_.resize(ni + nu, 0.0f);
    for (std::size_t k = 0; nu > 0 && k < mine_.size(); ++k) {
      std::copy_n(gu_.begin() + static_cast<std::ptrdiff_t>(k) * dim_, dim_,
                  sums_.begin() + static_cast<std::ptrdiff_t>(ni) + mine_[k] * dim_);
    }
    if (rating_ != nullptr) {
      for (const std::span<float> g : rating_->gradients())
        sums_.insert(sums_.end(), g.begin(), g.end());
    }
    sum = sums_;
  }
  comm_->start_sum(sum);
  // A user's own row meanwhile, by the rank that owns it.
  if (nu == 0) users_.apply(mine_rows_, gu_.data(), threads_);
  comm_->finish_sum();
  items_.apply(batch_.items, sum.data(), threads_);
  if (nu > 0) users_.apply(batch_.users, sum.data() + ni, threads_);
  if (rating_ != nullptr) {
    const float* at = sum.data() + ni + nu;
    for (const std::span<float> g : rating_->gradients()) {
      std::copy_n(at, g.size(), g.begin());
      at += g.size();
    }
    rating_->step(config_.optimizer_settings(), threads_);
  }
  return loss;
}

void TwoTowerTrainer::add_train_metrics(const std::vector<double>& hits,
                                        EpochReport& report) const {
  if (!config_.train_metrics) return;
  report.has_train = true;
  report.train.ks = config_.top_ks;
  report.train.pairs = static_cast<std::size_t>(metric_pairs_);
  report.train.sampled = static_cast<std::int64_t>(report.train.pairs) < pairs_;
  for (double h : hits) report.train.accuracy.push_back(h / std::max(metric_pairs_, 1.0));
}

}  // namespace

namespace {

// A side is a tower when it has features or layers, or no ids.
bool is_tower(const TwoTowerConfig& config, bool ids, const SideFeatures* features) {
  return features != nullptr || !config.layers.empty() || !ids;
}

void check_side(bool ids, const SideFeatures* features, bool context, std::int32_t rows,
                const char* side) {
  require(
      ids || features != nullptr || context,
      fmt::format("{}-ids is off and the {}s have no features to take their place", side, side));
  if (features != nullptr) {
    require(features->rows.rows() == rows,
            fmt::format("the {} features have {} rows for {} {} rows", side, features->rows.rows(),
                        rows, side));
  }
}

// The queries of a model with context (QueryContext) in one process: every
// pair of train and test is a query of its own, a row of the user tower.
// Query row 0 is OOV, training pair p is row 1 + p, test pair t row 1 + P + t.
struct Queries {
  QueryRows how;
  Interactions train, test;           // the pairs on query rows
  std::vector<std::int32_t> user_of;  // each query row's user row
  FeatureRows rows;                   // each query row's tokens
};

Queries queries_of(const Interactions& train, const Interactions* test, const SideFeatures* users,
                   const QueryContext& context) {
  Queries q{QueryRows(users, context.encoder, train.num_users), {}, {}, {}, {}};
  const std::int64_t n_train = static_cast<std::int64_t>(train.size());
  const std::int64_t n_test = test == nullptr ? 0 : static_cast<std::int64_t>(test->size());
  const auto rows = static_cast<std::int32_t>(1 + n_train + n_test);
  q.user_of.reserve(static_cast<std::size_t>(rows));
  q.user_of.push_back(0);
  q.how.add(q.rows, 0, q.how.missing, 0);
  const auto on_queries = [&](const Interactions& pairs, const FeatureRows& ctx, std::int32_t first,
                              Interactions& out) {
    out = pairs;
    out.num_users = rows;
    for (std::size_t p = 0; p < pairs.size(); ++p) {
      out.users[p] = first + static_cast<std::int32_t>(p);
      q.user_of.push_back(pairs.users[p]);
      q.how.add(q.rows, pairs.users[p], ctx, static_cast<std::int64_t>(p));
    }
  };
  on_queries(train, context.train, 1, q.train);
  if (test != nullptr) {
    on_queries(*test, context.test, static_cast<std::int32_t>(1 + n_train), q.test);
  }
  return q;
}

// A side of the model: an id table or a tower, from its fresh random
// initialization or, in a warm start, from the saved side (`saved`: its
// vectors; `saved_tower`: its tower, when it had one).
TrainedSide make_side(const TwoTowerConfig& config, bool ids, const SideFeatures* features,
                      std::int32_t rows, Matrix& vectors, Rng& init_rng, const Matrix* saved,
                      const TowerParams* saved_tower, const char* what) {
  if (!is_tower(config, ids, features)) {
    require(saved_tower == nullptr,
            fmt::format("the saved model's {} side is a tower (features, layers or no ids), and "
                        "this training's is an id table: give the same features and layers",
                        what));
    vectors = random_table(rows, config.dim, config.init_scale, init_rng);
    copy_initial_rows(saved, vectors, fmt::format("initial {} embeddings", what));
    return TrainedSide(config.optimizer_settings(), vectors);
  }
  TowerShape shape;
  shape.id_rows = ids ? rows : 0;
  if (features != nullptr) {
    shape.feature_offsets.assign(features->encoder.offsets().begin(),
                                 features->encoder.offsets().end());
  }
  shape.embed_dim = config.dim;
  shape.layers = config.layers;
  std::vector<float> dropout;
  if (features != nullptr) dropout = dropout_of(features->encoder);
  auto tower =
      std::make_unique<Tower>(std::move(shape), config.init_scale, init_rng, std::move(dropout));
  try {
    if (saved_tower != nullptr) {
      tower->start_from(*saved_tower);
    } else if (saved != nullptr) {
      tower->start_ids_from(*saved);
    }
  } catch (const Error& e) {
    throw Error(e.kind(), fmt::format("the {} side: {}", what, e.what()));
  }
  return TrainedSide(config.optimizer_settings(), vectors, std::move(tower),
                     features != nullptr ? &features->rows : nullptr, rows);
}

// The user side of a model with context: a tower over the queries (`rows`
// of `features`, row r's user id_of[r]), which `how` reads, from its fresh
// random initialization or, in a warm start, from the saved user tower
// (`saved`, of the same features and context columns).
TrainedSide make_query_side(const TwoTowerConfig& config, std::int32_t num_users,
                            const QueryRows& how, const FeatureRows* features, std::int64_t rows,
                            std::vector<std::int32_t> id_of, Matrix& vectors, Rng& init_rng,
                            const TowerParams* saved) {
  TowerShape shape;
  shape.id_rows = config.user_ids ? num_users : 0;
  shape.feature_offsets = how.offsets;
  shape.embed_dim = config.dim;
  shape.layers = config.layers;
  auto tower = std::make_unique<Tower>(std::move(shape), config.init_scale, init_rng, how.dropout);
  if (saved != nullptr) {
    try {
      tower->start_from(*saved);
    } catch (const Error& e) {
      throw Error(e.kind(), fmt::format("the user side: {}", e.what()));
    }
  }
  return TrainedSide(config.optimizer_settings(), vectors, std::move(tower), features, rows,
                     std::move(id_of));
}

// A distributed run's check of what every rank must hold alike at the end:
// the towers' parameters, the item table and the rating head. A difference
// is a bug in the training's steps, reported on every rank rather than
// saved as rank 0's.
void same_on_every_rank(Communicator& comm, const TrainedSide& users, const TrainedSide& items,
                        const RatingHeadTrainer* rating) {
  std::size_t hash = 0;
  const auto add = [&hash](const Matrix& m) {
    const std::span<const float> v = m.storage();
    const std::string_view bytes(reinterpret_cast<const char*>(v.data()), v.size_bytes());
    hash = hash * 1000003 ^ std::hash<std::string_view>{}(bytes);
  };
  for (const TrainedSide* side : {&users, &items}) {
    if (side->tower() == nullptr) continue;
    const TowerParams& p = side->tower()->params();
    add(p.id_table);
    add(p.feature_table);
    for (const Matrix& w : p.weights) add(w);
    for (const Matrix& b : p.biases) add(b);
  }
  if (items.tower() == nullptr) add(items.vectors());
  if (rating != nullptr) {
    for (const Matrix& w : rating->head().weights) add(w);
    for (const Matrix& b : rating->head().biases) add(b);
  }
  const std::vector<std::string> all =
      comm.allgather(std::string_view(reinterpret_cast<const char*>(&hash), sizeof hash));
  for (std::size_t r = 1; r < all.size(); ++r) {
    if (all[r] != all[0]) {
      throw CollectiveError(ErrorKind::Unsupported,
                            fmt::format("rank {} ends training with other item, tower or rating "
                                        "parameters than rank 0's: a bug in latent's "
                                        "distributed training (please report it)",
                                        r));
    }
  }
}

// queries: with context, train and test are queries->train and ->test, on
// query rows; step_queries: with context on several ranks, each step's
// queries. With either, the users' vectors are made with the context
// missing at the end.
TwoTowerResult train_epochs(const Interactions& train, const Interactions* test,
                            const TwoTowerConfig& config, const ProgressCallback& on_progress,
                            const EpochCallback& on_epoch, const InitialVectors& init,
                            const TwoTowerFeatures& features = {}, Communicator* comm = nullptr,
                            const RowPartition* users = nullptr, const Queries* queries = nullptr,
                            std::int32_t num_users = 0, StepQueries* step_queries = nullptr) {
  TwoTowerResult result;
  // Users first, then items, from one stream: the initial tables are part of
  // what the golden tests pin.
  Rng init_rng(config.seed);
  const QueryRows* how = queries != nullptr        ? &queries->how
                         : step_queries != nullptr ? &step_queries->how()
                                                   : nullptr;
  TrainedSide user_side =
      queries != nullptr
          ? make_query_side(config, num_users, *how, &queries->rows, queries->rows.rows(),
                            queries->user_of, result.user_embeddings, init_rng, init.user_tower)
      : step_queries != nullptr
          ? make_query_side(config, num_users, *how, &step_queries->rows(), 1, {0},
                            result.user_embeddings, init_rng, init.user_tower)
          : make_side(config, config.user_ids, features.users, train.num_users,
                      result.user_embeddings, init_rng, init.users, init.user_tower, "user");
  TrainedSide item_side =
      make_side(config, config.item_ids, features.items, train.num_items, result.item_embeddings,
                init_rng, init.items, init.item_tower, "item");
  // The rating head last, from the same stream: a model without one
  // starts as before.
  std::optional<RatingHeadTrainer> rating;
  if (config.rating_weight > 0) {
    RatingHead head = RatingHead::initial(config.output_dim(), config.rating_layers, init_rng);
    if (init.rating_head != nullptr) {
      require(init.rating_head->dim == head.dim && init.rating_head->hidden == head.hidden,
              fmt::format("a warm start's rating network has inputs {} and hidden layers [{}] "
                          "where the saved one has {} and [{}]",
                          2 * head.dim, fmt::join(head.hidden, ","), 2 * init.rating_head->dim,
                          fmt::join(init.rating_head->hidden, ",")));
      head = *init.rating_head;
    }
    rating.emplace(std::move(head));
  }
  TwoTowerTrainer trainer(train, config, user_side, item_side, rating ? &*rating : nullptr, comm,
                          users, step_queries);

  const auto t_train = Clock::now();
  for (int epoch = 1; epoch <= config.epochs; ++epoch) {
    const EpochReport report = trainer.run_epoch(epoch, test, on_progress);
    result.epochs.push_back(report);
    if (on_epoch) on_epoch(report);
  }
  if (comm != nullptr && user_side.tower() == nullptr) {
    // Each user's row is current on the rank that trains it: every rank
    // takes it from there. (A user tower is the same on every rank.)
    std::vector<std::int64_t> starts(users->starts);
    for (auto& s : starts) s *= config.dim;
    comm->allgather_ranges(std::span<float>(result.user_embeddings.storage()), starts);
  }
  if (comm != nullptr) same_on_every_rank(*comm, user_side, item_side, rating ? &*rating : nullptr);
  // The towers' vectors of every row, and their parameters.
  const int threads = detail::resolve_threads(config.threads);
  user_side.finish(threads);
  item_side.finish(threads);
  if (user_side.tower() != nullptr) result.user_tower = user_side.tower()->params();
  if (item_side.tower() != nullptr) result.item_tower = item_side.tower()->params();
  if (how != nullptr) {
    // The users' vectors, with the context missing, instead of the queries'.
    std::vector<std::int32_t> ids(static_cast<std::size_t>(num_users));
    std::iota(ids.begin(), ids.end(), 0);
    const std::vector<std::int64_t> rows(ids.begin(), ids.end());
    result.user_embeddings = result.user_tower->vectors(
        config.user_ids ? std::span<const std::int32_t>(ids) : std::span<const std::int32_t>(),
        &how->user_rows, rows, threads);
  }
  if (rating) result.rating_head = rating->head();
  result.train_seconds = seconds_since(t_train);
  return result;
}

}  // namespace

TwoTowerResult train_two_tower(const Interactions& train, const Interactions* test,
                               const TwoTowerConfig& config, const ProgressCallback& on_progress,
                               const EpochCallback& on_epoch, const InitialVectors& init,
                               const TwoTowerFeatures& features) {
  config.validate();
  check_training_pairs(train);
  const QueryContext* context = features.context;
  check_side(config.user_ids, features.users, context != nullptr, train.num_users, "user");
  check_side(config.item_ids, features.items, false, train.num_items, "item");
  require(context == nullptr || init.empty() || init.user_tower != nullptr,
          "a warm start of a model with context features continues its user tower, and the "
          "saved model has none: train afresh");
  require(config.rating_weight == 0 || !train.ratings.empty(),
          fmt::format("the rating task (rating weight {}) needs ratings, and the training pairs "
                      "have none: give data with a rating column, or rating weight 0",
                      config.rating_weight));
  check_initial_rows(init.users, train.num_users, config.output_dim(), "initial user embeddings");
  check_initial_rows(init.items, train.num_items, config.output_dim(), "initial item embeddings");
  if (context == nullptr) {
    return train_epochs(train, test, config, on_progress, on_epoch, init, features);
  }
  const auto test_pairs = test == nullptr ? 0 : static_cast<std::int64_t>(test->size());
  require(context->train.rows() == static_cast<std::int64_t>(train.size()) &&
              context->test.rows() == test_pairs,
          fmt::format("the context has {} training and {} test rows for {} training and {} test "
                      "pairs",
                      context->train.rows(), context->test.rows(), train.size(), test_pairs));
  require(static_cast<std::int64_t>(train.size()) + test_pairs <
              std::numeric_limits<std::int32_t>::max(),
          fmt::format("{} pairs are too many queries for context features (at most {})",
                      static_cast<std::int64_t>(train.size()) + test_pairs,
                      std::numeric_limits<std::int32_t>::max() - 1));
  const Queries queries = queries_of(train, test, features.users, *context);
  return train_epochs(queries.train, test == nullptr ? nullptr : &queries.test, config, on_progress,
                      on_epoch, init, features, nullptr, nullptr, &queries, train.num_users);
}

TwoTowerResult train_two_tower_distributed(Communicator& comm, const RankPairs& train,
                                           const TwoTowerConfig& config,
                                           const ProgressCallback& on_progress,
                                           const EpochCallback& on_epoch,
                                           const TwoTowerFeatures& features) {
  config.validate();
  const QueryContext* context = features.context;
  // Every rank holds the same features (of the whole vocabularies): what
  // one rank finds wrong with them, every rank does.
  try {
    check_side(config.user_ids, features.users, context != nullptr, train.pairs.num_users, "user");
    check_side(config.item_ids, features.items, false, train.pairs.num_items, "item");
  } catch (const Error& e) {
    throw CollectiveError(e.kind(), e.what());
  }
  if (context != nullptr && comm.any_rank(train.pairs.timestamps.size() != train.pairs.size())) {
    throw CollectiveError(ErrorKind::InvalidArgument,
                          "context features take each training pair's timestamp, and some "
                          "rank's pairs have none");
  }
  const bool rating = config.rating_weight > 0;
  if (rating && comm.any_rank(!train.pairs.empty() && train.pairs.ratings.empty())) {
    throw CollectiveError(ErrorKind::InvalidArgument,
                          fmt::format("the rating task (rating weight {}) needs ratings, and the "
                                      "training pairs have none: give data with a rating "
                                      "column, or rating weight 0",
                                      config.rating_weight));
  }
  check_interactions(train.pairs, "the training pairs");
  // Each rank trains the users of one range and holds all their pairs; the
  // ranges are cut so that the ranks have about as many pairs each.
  const RowPartition users = RowPartition::balanced(comm, train.pairs.num_users, train.pairs.users);
  const Interactions mine =
      owned_pairs(comm, train, users, PairKey::User, rating, context != nullptr);
  if (context == nullptr) {
    return train_epochs(mine, nullptr, config, on_progress, on_epoch, {}, features, &comm, &users);
  }
  StepQueries queries(QueryRows(features.users, context->encoder, train.pairs.num_users));
  return train_epochs(mine, nullptr, config, on_progress, on_epoch, {}, features, &comm, &users,
                      nullptr, train.pairs.num_users, &queries);
}

}  // namespace latent
