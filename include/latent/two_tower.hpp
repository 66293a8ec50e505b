#pragma once
// Two-tower retrieval model with TensorFlow Recommenders' tasks.Retrieval
// semantics: per batch, scores = user embeddings x item embeddings of the
// batch (B x B), softmax cross-entropy with the diagonal as labels, summed
// over the batch; optional temperature, removal of accidental hits,
// sampling-probability (logQ) correction and hard-negative mining, applied
// in TFRS's order. Optimisers: Adagrad (TF semantics) and Adam (Keras).
//
// The in-batch softmax is computed exactly over the batch's distinct users
// and items with their multiplicities instead of over B x B columns: a batch
// of 4,096 MovieLens pairs has ~900 distinct users and ~1,100 distinct
// items, so the work drops ~15x with the same loss and gradient.

#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <latent/communicator.hpp>
#include <latent/dataset.hpp>
#include <latent/features.hpp>
#include <latent/initial_vectors.hpp>
#include <latent/interactions.hpp>
#include <latent/matrix.hpp>
#include <latent/optimizer.hpp>
#include <latent/rank_pairs.hpp>
#include <latent/rating_head.hpp>
#include <latent/tower.hpp>
#include <latent/training_report.hpp>

namespace latent {

// Which items each pair's softmax runs over. InBatch: the batch's items
// (TFRS tasks.Retrieval, what the tutorial trains). Catalog: every item
// once, an exact full softmax; it does not learn to push popular items down
// the way in-batch negatives without logQ correction do, and on a catalog of
// thousands it costs what ranking each batch's users against the catalog
// costs (the running metrics rank every pair then, for free). Auto:
// Catalog up to 20,000 items, else InBatch with logQ correction.
enum class Negatives { Auto, InBatch, Catalog };
Negatives parse_negatives(const std::string& name);  // "auto", "in-batch", "catalog"
const char* to_string(Negatives negatives) noexcept;

// Defaults (catalog softmax, Adagrad 0.05, batch 512, 5 epochs, dim 64) were
// chosen on a validation split carved from the training part of MovieLens
// 100K (bench/quality_bench.py); the TFRS tutorial's own settings (in-batch
// negatives, Adagrad 0.5, batch 4096, 3 epochs) are what `latent quickstart` runs.
struct TwoTowerConfig {
  int dim = 64;
  Optimizer optimizer = Optimizer::Adagrad;
  float learning_rate = 0.05f;
  float initial_accumulator = 0.1f;  // Adagrad
  float beta1 = 0.9f;                // Adam
  float beta2 = 0.999f;              // Adam
  float epsilon = 1e-7f;             // both, as in Keras
  int batch_size = 512;
  int epochs = 5;
  std::uint64_t seed = 42;
  bool shuffle = true;  // reshuffle the pairs every epoch
  int threads = 0;      // 0: all hardware threads
  float temperature = 1.0f;
  Negatives negatives = Negatives::Auto;
  bool remove_accidental_hits = false;
  bool logq_correction = false;  // subtract log(item frequency) from logits
  int hard_negatives = 0;        // 0: keep all in-batch negatives
  float init_scale = 0.05f;      // uniform(-s, s), Keras' Embedding default
  bool train_metrics = true;     // running FactorizedTopK during training (sampled
                                 // with in-batch negatives: TopKAccuracy::sampled)
  int validation_freq = 1;       // test metrics every N epochs and after the last (Keras
                                 // fit's validation_freq)
  std::vector<int> top_ks{1, 5, 10, 50, 100};
  // Towers (tower.hpp, issue 16). Dense layers after the embeddings (TFRS's
  // deep retrieval: "64,32"; the vectors are then layers.back() wide, and
  // dim is the embeddings' width); whether each side has an id embedding
  // (off: its vectors come from its features alone, so that entities
  // training did not see get vectors as good as the others'). A side with
  // features or layers is a tower; the others are id tables, as without.
  std::vector<std::int32_t> layers;
  bool user_ids = true;
  bool item_ids = true;
  // Tasks (TFRS's multitask tutorial): the loss is retrieval_weight times
  // the retrieval softmax's plus rating_weight times the ranking task's
  // mean squared error of the ratings, predicted by a RatingHead
  // (rating_head.hpp) with hidden layers rating_layers over the user's and
  // item's vectors. rating_weight 0 (the default) trains no rating head;
  // retrieval_weight 0 with rating_weight 1 is TFRS's basic ranking.
  float retrieval_weight = 1.0f;
  float rating_weight = 0.0f;
  std::vector<std::int32_t> rating_layers{256, 64};

  // The width of the vectors.
  int output_dim() const noexcept { return layers.empty() ? dim : layers.back(); }

  // Throws InvalidArgument naming the field and value.
  void validate() const;
  OptimizerSettings optimizer_settings() const noexcept {
    return {optimizer, learning_rate, initial_accumulator, beta1, beta2, epsilon};
  }
  nlohmann::json to_json() const;
};

// The features of each side (features.hpp), rows[r] those of vocabulary
// row r, and the queries' context (QueryContext: every pair is then a
// query of its own, whose vector the user tower makes from its user's id
// and features and the pair's context; each training pair's softmax row
// and each test pair's ranking use it; the user vectors the result keeps
// are those with the context missing); null: none.
struct TwoTowerFeatures {
  const SideFeatures* users = nullptr;
  const SideFeatures* items = nullptr;
  const QueryContext* context = nullptr;
};

struct TwoTowerResult {
  Matrix user_embeddings;  // users.size() x output_dim (row 0: OOV)
  Matrix item_embeddings;  // items.size() x output_dim (row 0: OOV)
  // The sides that are towers: their parameters, which give the vectors of
  // entities training did not see from their features (cold start). With
  // context, the user tower's feature columns are the user features' and
  // then the context's.
  std::optional<TowerParams> user_tower, item_tower;
  // The ranking task's network (config.rating_weight > 0).
  std::optional<RatingHead> rating_head;
  std::vector<EpochReport> epochs;
  double train_seconds = 0;
};

// Trains on `train` (rows of the vocabularies of size num_users/num_items;
// its weights, when present, scale each pair's loss); `test` may be null.
// Candidates for the metrics are all item rows but OOV; the test metrics
// are factorized_top_k's (evaluation.hpp). A warm start (init not empty:
// dim columns) starts from init's rows, the others as a cold start makes
// them; the optimizer's state (Adagrad's accumulators, Adam's moments)
// starts afresh, for the model file does not keep it. Throws
// InvalidArgument for initial embeddings of another shape, features whose
// rows are not one per vocabulary row, a side without ids or features, a
// rating task on pairs without ratings, and a warm start of towers or of a
// rating head (not supported yet), and context rows that are not one per
// pair of train and test. With a rating head, each epoch reports
// the running RMSE of its batches and the RMSE on test's rated pairs.
TwoTowerResult train_two_tower(const Interactions& train, const Interactions* test,
                               const TwoTowerConfig& config,
                               const ProgressCallback& on_progress = {},
                               const EpochCallback& on_epoch = {}, const InitialVectors& init = {},
                               const TwoTowerFeatures& features = {});

// train_two_tower on the ranks of a distributed run (collective: every rank
// calls it with its share of the pairs, rank_pairs.hpp): synchronous
// data-parallel steps. The pairs are first regrouped by user: each user
// belongs to one rank (a range of users, cut so that the ranks have about
// as many pairs each), which alone computes its softmax rows and updates
// its vector. Each step gathers every rank's next share of its shuffled
// pairs into one global batch of about batch_size pairs (the shares of 64
// steps at a time, in one allgather of 8-12 bytes a pair), whose in-batch
// negatives are all its items, as one process's batch of that size. The
// item gradients of every rank's users are summed in rank order, and every
// rank applies the same update to its copy of the item table. The batches
// are drawn differently from one process's (each rank shuffles its own
// pairs), so the model is another draw of the same training, of the same
// quality within the noise of seeds. The epochs' loss and running metrics
// are over every rank's pairs. Returns the tables on every rank (the user
// rows gathered from their ranks at the end).
//
// Towers (features, layers, no ids; `features`, the same on every rank):
// every rank runs the item tower on the batch's items and steps it on the
// summed item gradients, as the item table. A user tower's parameters are
// shared by every rank's users, so every rank also runs it on the whole
// batch's users, computes the softmax of its own users alone, and steps
// its copy on the batch's user gradients summed across ranks (each user's
// row from its rank): one sum a step of (items + users) x dim floats. The
// towers are then the same on every rank. The rating task: each rank
// trains the head on its own users' pairs of the global batch, each pair's
// squared error over the global batch's count, and the head's gradients
// join the same sum. Every rank ends by checking that it holds the same
// towers, item table and head as rank 0.
//
// Context features (features.context: its encoder, fitted on every rank's
// pairs, QueryContext::fit with a Communicator; its rows are not read):
// the pairs' timestamps travel with them (every rank's pairs must have
// them: InvalidArgument), and every rank makes the queries of each global
// batch from its pairs' users and times, as one process makes every pair's
// once. The user vectors returned are those with the context missing.
TwoTowerResult train_two_tower_distributed(Communicator& comm, const RankPairs& train,
                                           const TwoTowerConfig& config,
                                           const ProgressCallback& on_progress = {},
                                           const EpochCallback& on_epoch = {},
                                           const TwoTowerFeatures& features = {});

}  // namespace latent
