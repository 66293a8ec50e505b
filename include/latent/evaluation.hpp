#pragma once
// Offline evaluation of an embedding model on a train/test split: ranking
// metrics at several K from one top-K pass, TFRS's FactorizedTopK accuracy
// and catalog coverage.
//
// Scores are dot(user_queries.row(u), item_vectors.row(i)) for user row u and
// item row i, the fixed-order dot product latent::top_k ranks by. Ties are
// broken by the lower item row, as top_k does.
//
// Definitions (binary relevance). For a user u, T(u) is the set of distinct
// items of u in `test`; users with T(u) empty are skipped, and every average
// below is over the evaluated users (EvaluationResult::users). The ranking
// R(u) is over every known item (rows 1..n-1; OOV row 0 is never ranked)
// except, when exclude_train is set, u's items in `train`. hits@K is the
// number of the first K of R(u) in T(u).
//
//   Recall@K    = hits@K / |T(u)|
//   Precision@K = hits@K / K
//   NDCG@K      = DCG@K / IDCG@K, DCG@K = sum over ranks r <= K holding a
//                 test item of 1 / log2(r + 1), IDCG@K the same for the
//                 ideal ranking, i.e. over r = 1 .. min(K, |T(u)|)
//   MAP@K       = (1 / min(K, |T(u)|)) * sum over ranks r <= K holding a
//                 test item of Precision@r
//   HitRate@K   = 1 if hits@K > 0, else 0
//
// Compared with implicit (benfred/implicit, ranking_metrics_at_k): NDCG and
// MAP are the same; implicit's "precision" is sum_u hits@K / sum_u
// min(K, |T(u)|), a micro-average with min(K, |T(u)|) as the denominator,
// so it reaches 1 for a user with fewer than K test items, whereas latent's
// Precision@K divides by K per user and averages over users (the textbook
// definition, as in Spark's RankingMetrics.precisionAt).
//
// Edge cases, so no number is silently inflated:
// - a test item that is also in u's train items cannot be ranked when
//   exclude_train is set and counts as a miss (it stays in T(u)); splits
//   that hold out distinct items (per_user_split) never produce one;
// - a test entry with the OOV item row 0 is a relevant item that can never
//   be ranked: a miss, as in factorized_top_k;
// - when fewer than K items are left to rank (a user who has seen almost
//   the whole catalog), the missing ranks are misses and Precision@K still
//   divides by K.
//
// FactorizedTopK (TFRS's metric) is computed by latent::factorized_top_k:
// over test PAIRS (every entry of `test`, repeats included), a hit at K when
// fewer than K known items score strictly higher than the true item, with no
// exclusion of train items, as TFRS does not exclude them.
//
// Coverage = |union over evaluated users of their top-max(K) items| / n_known,
// n_known = item_vectors.rows() - 1.

#include <cstddef>
#include <limits>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <latent/interactions.hpp>
#include <latent/matrix.hpp>
#include <latent/model_file.hpp>
#include <latent/training_report.hpp>

namespace latent {

struct EvaluationOptions {
  // Cutoffs; evaluated in one pass with top-max(ks). Sorted and
  // deduplicated in the result. Each in [1, n_known].
  std::vector<int> ks{10};
  // Leave each user's train items out of the ranking (what --exclude-seen
  // does when recommending).
  bool exclude_train = true;
  // With exclude_train, these pairs are left out of the ranking too, e.g.
  // Dataset::seen_only, the items each user rated at or below the rating
  // filter (`--exclude-rated`): seen, so not worth recommending, though the
  // usual protocol, which ranks them, is what other libraries report.
  // On the same rows as train; not owned, must outlive the call.
  const Interactions* also_excluded = nullptr;
  int threads = 0;  // 0: all hardware threads
  // An item-based model's item-to-item term (ModelData::item_to_item),
  // added to every score. A user's items are term_items->row(user), each
  // weighing its entry of term_item_weights (empty: 1 each) -- the model's
  // seen rows and weights, as its recommendations use them -- or, when
  // term_items is null, their train items, 1 each. Not owned.
  const ItemToItem* item_to_item = nullptr;
  const CsrMatrix* term_items = nullptr;
  std::span<const float> term_item_weights;
};

struct MetricsAtK {
  int k = 0;
  double recall = 0;
  double precision = 0;
  double ndcg = 0;
  double map = 0;
  double hit_rate = 0;
};

struct EvaluationResult {
  std::vector<MetricsAtK> at_k;          // one per distinct k, ascending
  std::vector<double> factorized_top_k;  // FactorizedTopK accuracy, same order as at_k
  double coverage = 0;                   // see above, in [0, 1]
  std::size_t users = 0;                 // users with >= 1 test item, evaluated
  std::size_t test_pairs = 0;            // entries of test (FactorizedTopK's denominator)
  bool exclude_train = true;             // the option the ranking metrics used
  std::size_t also_excluded_pairs = 0;   // entries of options.also_excluded used
  // A model trained with the rating task, on test pairs with ratings: the
  // RMSE of its predicted ratings over them (NaN otherwise).
  double rmse = std::numeric_limits<double>::quiet_NaN();
  std::size_t rated_pairs = 0;
  // A model with context features: factorized_top_k's query for each test
  // pair is its user in the pair's context (its time), as training's test
  // metrics; the ranking metrics rank each user's test items with the
  // user's stored vector (the context missing).
  bool factorized_top_k_in_context = false;

  // {"users": .., "test_pairs": .., "coverage": .., "exclude_train": ..,
  //  "at_k": [{"k": 10, "recall": .., "precision": .., "ndcg": .., "map": ..,
  //  "hit_rate": .., "factorized_top_k": ..}, ...]}
  nlohmann::json to_json() const;
  // Aligned text: a header line, one row per k, then users and coverage.
  std::string to_table() const;
};

// user_queries: num_users x dim, one row per user row of the vocabulary
// (row 0: OOV); item_vectors: num_items x dim (row 0: OOV, never ranked).
// train and test index the same rows: their num_users must equal
// user_queries.rows() and their num_items item_vectors.rows().
//
// Throws InvalidArgument for: empty ks, a k <= 0 or larger than the number
// of known items (naming k and the catalog size), dims or row counts that do
// not match (naming both), entries out of range, an empty test set (there is
// nothing to average over), threads < 0.
EvaluationResult evaluate(const Matrix& user_queries, const Matrix& item_vectors,
                          const Interactions& train, const Interactions& test,
                          const EvaluationOptions& options = {});
// A trained model's vectors, and its item-to-item term when it has one
// (over the model's seen rows and weights); with a rating head and test
// ratings, also the RMSE of the predicted ratings; with context features
// (and test timestamps), FactorizedTopK in each test pair's context (unless
// the model cannot make a known user's vector in a context:
// FeatureTower::known_in_context).
EvaluationResult evaluate(const ModelData& model, const Interactions& train,
                          const Interactions& test, EvaluationOptions options = {});

// FactorizedTopK (TFRS's metric): for each (user, item) pair of `pairs`, a
// hit at k when fewer than k candidate items (all rows of item_embeddings
// but OOV) score strictly higher than the true item; a pair on the OOV item
// is a miss. user_embeddings: rows indexed by pairs.users; item_embeddings:
// rows indexed by pairs.items, same dim. Accuracy per k in the order of ks,
// hits / pairs.size() (all zero for no pairs). With an item-to-item `term`,
// its queries are user rows (term.row_of has one entry per user row). Throws
// InvalidArgument when the dims differ or threads < 0.
TopKAccuracy factorized_top_k(const Matrix& user_embeddings, const Matrix& item_embeddings,
                              const Interactions& pairs, const std::vector<int>& ks,
                              int threads = 0, const ItemTerm& term = {});

}  // namespace latent
