#include <latent/evaluation.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <span>
#include <string_view>

#include <fmt/format.h>

#include <latent/error.hpp>
#include <latent/index.hpp>

#include "detail/gemm.hpp"
#include "detail/parallel.hpp"
#include "detail/rank_counter.hpp"

namespace latent {

namespace {

void check_interactions(const Interactions& x, std::string_view what, std::int64_t user_rows,
                        std::int64_t item_rows) {
  if (x.num_users != user_rows || x.num_items != item_rows) {
    throw Error(ErrorKind::InvalidArgument,
                fmt::format("evaluate: {} has {} user rows and {} item rows, but the user "
                            "queries have {} rows and the item vectors {}",
                            what, x.num_users, x.num_items, user_rows, item_rows));
  }
  check_interactions(x, fmt::format("evaluate: {}", what));
}

// The distinct cutoffs, ascending, after checking each against the catalog.
std::vector<int> checked_ks(const std::vector<int>& ks, std::int64_t n_known) {
  if (ks.empty()) {
    throw Error(ErrorKind::InvalidArgument, "evaluate: no cutoffs k given (ks is empty)");
  }
  for (const int k : ks) {
    if (k <= 0 || k > n_known) {
      throw Error(ErrorKind::InvalidArgument,
                  fmt::format("evaluate: k = {} is outside [1, {}], the catalog of {} known "
                              "items",
                              k, n_known, n_known));
    }
  }
  std::vector<int> sorted = ks;
  std::sort(sorted.begin(), sorted.end());
  sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
  return sorted;
}

// Whether options.also_excluded adds pairs to leave out of the ranking.
bool excludes_more(const EvaluationOptions& options) {
  return options.exclude_train && options.also_excluded != nullptr &&
         !options.also_excluded->empty();
}

// Checks every argument of evaluate before any work is done; returns the
// distinct cutoffs, ascending.
std::vector<int> checked_inputs(const Matrix& user_queries, const Matrix& item_vectors,
                                const Interactions& train, const Interactions& test,
                                const EvaluationOptions& options) {
  if (user_queries.cols() != item_vectors.cols()) {
    throw Error(ErrorKind::InvalidArgument,
                fmt::format("evaluate: user queries have dim {} but item vectors dim {}",
                            user_queries.cols(), item_vectors.cols()));
  }
  if (options.threads < 0) {
    throw Error(ErrorKind::InvalidArgument,
                fmt::format("evaluate: threads must be >= 0 (0: all), got {}", options.threads));
  }
  const std::int64_t n_known = std::max<std::int64_t>(item_vectors.rows() - 1, 0);
  std::vector<int> ks = checked_ks(options.ks, n_known);
  check_interactions(train, "train", user_queries.rows(), item_vectors.rows());
  check_interactions(test, "test", user_queries.rows(), item_vectors.rows());
  if (excludes_more(options)) {
    check_interactions(*options.also_excluded, "also excluded", user_queries.rows(),
                       item_vectors.rows());
  }
  if (test.empty()) {
    throw Error(ErrorKind::InvalidArgument,
                "evaluate: the test set is empty, so there is no user to evaluate");
  }
  return ks;
}

// The users with at least one test item, ascending.
std::vector<std::int32_t> users_with_tests(const CsrMatrix& relevant) {
  std::vector<std::int32_t> eval_users;
  for (std::int32_t u = 0; u < relevant.rows(); ++u) {
    if (!relevant.row(u).empty()) eval_users.push_back(u);
  }
  return eval_users;
}

// The top k_max known items of each evaluated user; one top-max(k) pass
// serves every cutoff.
TopK ranked_items(const Matrix& user_queries, const Matrix& item_vectors, const Interactions& train,
                  const std::vector<std::int32_t>& eval_users, int k_max,
                  const EvaluationOptions& options, const CsrMatrix* train_rows) {
  const auto n_eval = static_cast<std::int64_t>(eval_users.size());
  Matrix queries(n_eval, user_queries.cols());
  for (std::int64_t q = 0; q < n_eval; ++q) {
    const auto src = user_queries.row(eval_users[static_cast<std::size_t>(q)]);
    std::copy(src.begin(), src.end(), queries.row(q).begin());
  }

  static constexpr std::array<std::int32_t, 1> kOovRow = {0};
  CsrMatrix seen;
  if (excludes_more(options)) {
    seen = CsrMatrix::from_interactions(pairs_of_both(train, *options.also_excluded));
  } else if (options.exclude_train) {
    seen = CsrMatrix::from_interactions(train);
  }
  SearchOptions search;
  search.k = k_max;
  search.exclude_items = kOovRow;
  if (options.exclude_train) {
    search.exclude_rows = &seen;
    search.exclude_row_of = eval_users;
  }
  search.threads = options.threads;
  if (train_rows != nullptr) {
    search.item_term = {options.item_to_item, train_rows, eval_users, options.term_item_weights};
  }
  return top_k(queries, item_vectors, search);
}

// The metric sums over users at every cutoff, and which items were
// recommended at all (for coverage).
class MetricSums {
 public:
  MetricSums(const std::vector<int>& ks, std::int64_t item_rows)
      : ks_(ks),
        k_max_(ks.back()),
        discount_(static_cast<std::size_t>(k_max_) + 1, 0.0),
        ideal_(static_cast<std::size_t>(k_max_) + 1, 0.0),
        sums_(ks.size()),
        recommended_(static_cast<std::size_t>(item_rows), 0) {
    // discount[r] = 1 / log2(r + 1) for rank r (1-based); ideal[n] = sum of
    // the first n discounts, the IDCG of n relevant items.
    for (int r = 1; r <= k_max_; ++r) {
      discount_[static_cast<std::size_t>(r)] = 1.0 / std::log2(static_cast<double>(r) + 1.0);
      ideal_[static_cast<std::size_t>(r)] =
          ideal_[static_cast<std::size_t>(r) - 1] + discount_[static_cast<std::size_t>(r)];
    }
  }

  // One user: `truth` their sorted relevant items, `items` their k_max
  // ranked items (-1 past the end of the catalog).
  void add(std::span<const std::int32_t> truth, const std::int32_t* items) {
    const auto n_truth = static_cast<int>(truth.size());
    int hits = 0;
    double dcg = 0;
    double precision_sum = 0;  // sum of Precision@r over ranks r holding a hit
    std::size_t next_k = 0;
    for (int r = 1; r <= k_max_; ++r) {
      const std::int32_t item = items[r - 1];
      if (item >= 0) {
        recommended_[static_cast<std::size_t>(item)] = 1;
        if (std::binary_search(truth.begin(), truth.end(), item)) {
          ++hits;
          dcg += discount_[static_cast<std::size_t>(r)];
          precision_sum += static_cast<double>(hits) / r;
        }
      }
      if (r == ks_[next_k]) {
        const int cut = std::min(r, n_truth);
        MetricsAtK& m = sums_[next_k];
        m.recall += static_cast<double>(hits) / n_truth;
        m.precision += static_cast<double>(hits) / r;
        m.ndcg += dcg / ideal_[static_cast<std::size_t>(cut)];
        m.map += precision_sum / cut;
        m.hit_rate += hits > 0 ? 1.0 : 0.0;
        ++next_k;
      }
    }
  }

  // The means over `users` users, one row per cutoff.
  std::vector<MetricsAtK> means(double users) const {
    std::vector<MetricsAtK> out;
    for (std::size_t i = 0; i < ks_.size(); ++i) {
      MetricsAtK m = sums_[i];
      m.k = ks_[i];
      m.recall /= users;
      m.precision /= users;
      m.ndcg /= users;
      m.map /= users;
      m.hit_rate /= users;
      out.push_back(m);
    }
    return out;
  }

  // Known items (row 0 is OOV) recommended to anyone.
  std::int64_t covered() const {
    return std::count(recommended_.begin() + 1, recommended_.end(), char{1});
  }

 private:
  const std::vector<int>& ks_;
  int k_max_;
  std::vector<double> discount_;
  std::vector<double> ideal_;
  std::vector<MetricsAtK> sums_;
  std::vector<char> recommended_;
};

}  // namespace

EvaluationResult evaluate(const Matrix& user_queries, const Matrix& item_vectors,
                          const Interactions& train, const Interactions& test,
                          const EvaluationOptions& options) {
  const std::vector<int> ks = checked_inputs(user_queries, item_vectors, train, test, options);
  // Distinct test items per user, sorted: the relevance sets.
  const CsrMatrix relevant = CsrMatrix::from_interactions(test);
  const std::vector<std::int32_t> eval_users = users_with_tests(relevant);
  const int k_max = ks.back();
  // An item-based model's term reads each user's items: the model's seen
  // rows, or their train items.
  CsrMatrix train_rows;
  const CsrMatrix* term_items = options.term_items;
  std::vector<std::int32_t> every_user;
  ItemTerm term;
  if (options.item_to_item != nullptr && !options.item_to_item->empty()) {
    if (term_items == nullptr) {
      train_rows = CsrMatrix::from_interactions(train);
      term_items = &train_rows;
    }
    if (term_items->rows() != user_queries.rows() ||
        (!options.term_item_weights.empty() &&
         static_cast<std::int64_t>(options.term_item_weights.size()) != term_items->nnz())) {
      throw Error(ErrorKind::InvalidArgument,
                  fmt::format("the item-to-item term's items: {} rows of {} entries with {} "
                              "weights, for {} user rows",
                              term_items->rows(), term_items->nnz(),
                              options.term_item_weights.size(), user_queries.rows()));
    }
    every_user.resize(static_cast<std::size_t>(term_items->rows()));
    std::iota(every_user.begin(), every_user.end(), 0);
    term = {options.item_to_item, term_items, every_user, options.term_item_weights};
  }
  const TopK top = ranked_items(user_queries, item_vectors, train, eval_users, k_max, options,
                                term.active() ? term_items : nullptr);

  MetricSums sums(ks, item_vectors.rows());
  for (std::size_t q = 0; q < eval_users.size(); ++q) {
    sums.add(relevant.row(eval_users[q]), top.items.data() + static_cast<std::int64_t>(q) * k_max);
  }

  EvaluationResult result;
  result.users = eval_users.size();
  result.test_pairs = test.size();
  result.exclude_train = options.exclude_train;
  result.also_excluded_pairs = excludes_more(options) ? options.also_excluded->size() : 0;
  result.at_k = sums.means(static_cast<double>(eval_users.size()));
  const std::int64_t n_known = std::max<std::int64_t>(item_vectors.rows() - 1, 0);
  result.coverage = static_cast<double>(sums.covered()) / static_cast<double>(n_known);
  result.factorized_top_k =
      factorized_top_k(user_queries, item_vectors, test, ks, options.threads, term).accuracy;
  return result;
}

EvaluationResult evaluate(const ModelData& model, const Interactions& train,
                          const Interactions& test, EvaluationOptions options) {
  if (!model.item_to_item.empty()) {
    options.item_to_item = &model.item_to_item;
    options.term_items = &model.seen;
    options.term_item_weights = model.seen_weights;
  }
  EvaluationResult result =
      evaluate(model.user_embeddings, model.item_embeddings, train, test, options);
  const FeatureTower* users = model.user_tower ? &*model.user_tower : nullptr;
  std::vector<FeatureColumn> context;
  if (users != nullptr) {
    for (const ColumnEncoding& c : users->encoder.columns()) {
      if (c.column.context) context.push_back(c.column);
    }
  }
  if (users != nullptr && users->known_in_context() && !test.empty() &&
      QueryContext::has_values(context, test)) {
    // One query per test pair (query row p + 1): its user in the pair's
    // context, made a chunk of pairs at a time.
    const auto n = static_cast<std::int64_t>(test.size());
    Matrix queries(n + 1, model.user_embeddings.cols());
    Interactions pairs = test;
    pairs.num_users = static_cast<std::int32_t>(n + 1);
    constexpr std::size_t kChunk = 16384;
    std::vector<std::int32_t> rows;
    std::vector<std::vector<FeatureValue>> contexts;
    for (std::size_t first = 0; first < test.size(); first += kChunk) {
      const std::size_t last = std::min(test.size(), first + kChunk);
      rows.assign(test.users.begin() + static_cast<std::ptrdiff_t>(first),
                  test.users.begin() + static_cast<std::ptrdiff_t>(last));
      contexts.clear();
      for (std::size_t p = first; p < last; ++p) {
        contexts.push_back(QueryContext::of_pair(context, test, p));
        pairs.users[p] = static_cast<std::int32_t>(p + 1);
      }
      const Matrix chunk =
          users->vectors_in_context(rows, model.user_embeddings, contexts, "user", options.threads);
      std::copy(chunk.values().begin(), chunk.values().end(),
                queries.data() + (static_cast<std::int64_t>(first) + 1) * queries.cols());
    }
    std::vector<int> ks;
    for (const MetricsAtK& m : result.at_k) ks.push_back(m.k);
    result.factorized_top_k =
        factorized_top_k(queries, model.item_embeddings, pairs, ks, options.threads).accuracy;
    result.factorized_top_k_in_context = true;
  }
  if (model.rating_head && !test.ratings.empty()) {
    result.rated_pairs = test.size();
    result.rmse =
        model.rating_head->rmse(model.user_embeddings, test.users, model.item_embeddings,
                                test.items, test.ratings, detail::resolve_threads(options.threads));
  }
  return result;
}

TopKAccuracy factorized_top_k(const Matrix& user_embeddings, const Matrix& item_embeddings,
                              const Interactions& pairs, const std::vector<int>& ks, int threads,
                              const ItemTerm& term) {
  if (user_embeddings.cols() != item_embeddings.cols()) {
    throw Error(
        ErrorKind::InvalidArgument,
        fmt::format("user dim {} != item dim {}", user_embeddings.cols(), item_embeddings.cols()));
  }
  threads = detail::resolve_threads(threads);
  TopKAccuracy out;
  out.ks = ks;
  out.accuracy.assign(ks.size(), 0.0);
  out.pairs = pairs.size();
  if (pairs.empty()) return out;

  // Group pairs by user so each user's scores are computed once.
  std::vector<std::size_t> order(pairs.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return pairs.users[a] < pairs.users[b] || (pairs.users[a] == pairs.users[b] && a < b);
  });
  std::vector<std::size_t> group_begin;
  for (std::size_t k = 0; k < order.size(); ++k) {
    if (k == 0 || pairs.users[order[k]] != pairs.users[order[k - 1]]) group_begin.push_back(k);
  }
  group_begin.push_back(order.size());
  const auto n_groups = static_cast<std::int64_t>(group_begin.size() - 1);

  const int dim = static_cast<int>(item_embeddings.cols());
  const std::int64_t n_cand = item_embeddings.rows() - 1;  // row 0 is OOV
  const float* cand = item_embeddings.data() + dim;
  constexpr std::int64_t kBlock = 256;
  std::vector<double> hits(ks.size(), 0.0);
#pragma omp parallel num_threads(threads)
  {
    std::vector<double> local(ks.size(), 0.0);
    detail::RankCounter counter{ks, local};
    std::vector<float> queries, scores, terms;
#pragma omp for schedule(dynamic, 1)
    for (std::int64_t g0 = 0; g0 < n_groups; g0 += kBlock) {
      const std::int64_t g1 = std::min(n_groups, g0 + kBlock);
      queries.resize(static_cast<std::size_t>((g1 - g0) * dim));
      for (std::int64_t g = g0; g < g1; ++g) {
        const auto u = pairs.users[order[group_begin[static_cast<std::size_t>(g)]]];
        std::copy_n(user_embeddings.row(u).data(), dim, queries.data() + (g - g0) * dim);
      }
      scores.resize(static_cast<std::size_t>((g1 - g0) * n_cand));
      detail::parallel_sgemm_nt(g1 - g0, n_cand, dim, queries.data(), cand, scores.data(), 1);
      if (term.active()) {
        terms.resize(static_cast<std::size_t>(n_cand));
        for (std::int64_t g = g0; g < g1; ++g) {
          const auto u = pairs.users[order[group_begin[static_cast<std::size_t>(g)]]];
          term.term(u, 1, terms);
          float* row = scores.data() + (g - g0) * n_cand;
          for (std::int64_t j = 0; j < n_cand; ++j) row[j] += terms[static_cast<std::size_t>(j)];
        }
      }
      for (std::int64_t g = g0; g < g1; ++g) {
        for (auto k = group_begin[static_cast<std::size_t>(g)];
             k < group_begin[static_cast<std::size_t>(g) + 1]; ++k) {
          const auto item = pairs.items[order[k]];
          if (item <= 0) continue;  // OOV truth can never be retrieved: a miss
          counter.add(scores.data() + (g - g0) * n_cand, n_cand, item - 1, 1.0);
        }
      }
    }
#pragma omp critical
    for (std::size_t k = 0; k < ks.size(); ++k) hits[k] += local[k];
  }
  for (std::size_t k = 0; k < ks.size(); ++k) {
    out.accuracy[k] = hits[k] / static_cast<double>(pairs.size());
  }
  return out;
}

nlohmann::json EvaluationResult::to_json() const {
  nlohmann::json rows = nlohmann::json::array();
  for (std::size_t i = 0; i < at_k.size(); ++i) {
    const MetricsAtK& m = at_k[i];
    nlohmann::json row = {{"k", m.k},       {"recall", m.recall}, {"precision", m.precision},
                          {"ndcg", m.ndcg}, {"map", m.map},       {"hit_rate", m.hit_rate}};
    if (i < factorized_top_k.size()) row["factorized_top_k"] = factorized_top_k[i];
    rows.push_back(std::move(row));
  }
  nlohmann::json j{{"users", users},
                   {"test_pairs", test_pairs},
                   {"coverage", coverage},
                   {"exclude_train", exclude_train},
                   {"also_excluded_pairs", also_excluded_pairs},
                   {"at_k", std::move(rows)}};
  if (std::isfinite(rmse)) {
    j["rmse"] = rmse;
    j["rated_pairs"] = rated_pairs;
  }
  if (factorized_top_k_in_context) j["factorized_top_k_in_context"] = true;
  return j;
}

std::string EvaluationResult::to_table() const {
  static constexpr std::array<std::string_view, 7> kHeader = {
      "k", "recall", "precision", "ndcg", "map", "hit_rate", "factorized_top_k"};
  std::string out;
  // Columns at least 6 wide, so "0.1234" fits under any header.
  const auto width = [](std::string_view name) { return std::max<std::size_t>(name.size(), 6); };
  out += fmt::format("{:>6}", kHeader[0]);
  for (std::size_t c = 1; c < kHeader.size(); ++c) {
    out += fmt::format("  {:>{}}", kHeader[c], width(kHeader[c]));
  }
  out += '\n';
  for (std::size_t i = 0; i < at_k.size(); ++i) {
    const MetricsAtK& m = at_k[i];
    const double top_k = i < factorized_top_k.size() ? factorized_top_k[i] : std::nan("");
    const double values[] = {m.recall, m.precision, m.ndcg, m.map, m.hit_rate, top_k};
    out += fmt::format("{:>6}", m.k);
    for (std::size_t c = 1; c < kHeader.size(); ++c) {
      out += fmt::format("  {:>{}.4f}", values[c - 1], width(kHeader[c]));
    }
    out += '\n';
  }
  out += fmt::format("users {}, test pairs {}, coverage {:.4f}, train items {}", users, test_pairs,
                     coverage, exclude_train ? "excluded" : "included");
  if (also_excluded_pairs > 0) {
    out += fmt::format(", {} more seen pairs excluded", also_excluded_pairs);
  }
  out += '\n';
  if (factorized_top_k_in_context) {
    out += "factorized_top_k: each test pair's user in the pair's context\n";
  }
  if (std::isfinite(rmse)) {
    out += fmt::format("rmse {:.4f} of the predicted ratings ({} test pairs)\n", rmse, rated_pairs);
  }
  return out;
}

}  // namespace latent
