#include <latent/recommender.hpp>

#include <algorithm>
#include <iterator>
#include <numeric>
#include <optional>
#include <unordered_map>

#include <fmt/format.h>

#include <latent/error.hpp>

#include "detail/parallel.hpp"
#include "detail/require.hpp"
#include "detail/search.hpp"

namespace latent {

namespace {

std::vector<std::string> similarity_models() {
  std::vector<std::string> out;
  for (const auto& name : model_names()) {
    if (const ModelSpec* spec = find_model_spec(name); spec && spec->item_similarity) {
      out.push_back(name);
    }
  }
  return out;
}

}  // namespace

Recommender::Recommender(ModelData model) : model_(std::move(model)) {
  if (model_.user_embeddings.cols() != model_.item_embeddings.cols() ||
      model_.user_embeddings.rows() != model_.users.size() ||
      model_.item_embeddings.rows() != model_.items.size()) {
    throw Error(ErrorKind::InvalidArgument,
                fmt::format("embeddings {}x{} and {}x{} do not match vocabularies of {} users "
                            "and {} items",
                            model_.user_embeddings.rows(), model_.user_embeddings.cols(),
                            model_.item_embeddings.rows(), model_.item_embeddings.cols(),
                            model_.users.size(), model_.items.size()));
  }
  if (!model_.item_to_item.empty() && model_.item_to_item.items() != model_.items.size()) {
    throw Error(ErrorKind::InvalidArgument,
                fmt::format("item-to-item weights over {} items for a vocabulary of {} items",
                            model_.item_to_item.items(), model_.items.size()));
  }
  if (!model_.seen_weights.empty() &&
      static_cast<std::int64_t>(model_.seen_weights.size()) != model_.seen.nnz()) {
    throw Error(ErrorKind::InvalidArgument,
                fmt::format("{} seen weights for {} seen pairs", model_.seen_weights.size(),
                            model_.seen.nnz()));
  }
  if (model_.item_queries.rows() != 0 &&
      (model_.item_queries.rows() != model_.items.size() || model_.item_queries.cols() != dim())) {
    throw Error(ErrorKind::InvalidArgument,
                fmt::format("item queries {}x{} do not match {} items of dimension {}",
                            model_.item_queries.rows(), model_.item_queries.cols(),
                            model_.items.size(), dim()));
  }
}

int effective_k(int k, std::int32_t known_items) {
  if (k <= 0) throw Error(ErrorKind::InvalidArgument, fmt::format("k must be > 0, got {}", k));
  return std::min(k, std::max<std::int32_t>(known_items, 1));
}

Recommender Recommender::load(const std::filesystem::path& path) {
  Recommender r(load_model(path));
  // An index file that is there but cannot be used leaves its searches
  // exact, and says why.
  const auto load_companion = [](const std::filesystem::path& file, const auto& items,
                                 std::shared_ptr<const HnswIndex>& index, std::string& problem) {
    std::error_code ec;
    if (!std::filesystem::exists(file, ec)) return;
    try {
      index = HnswIndex::load(file, items());
    } catch (const Error& e) {
      problem = e.what();
    }
  };
  load_companion(
      index_path_for(path), [&]() -> const Matrix& { return r.model_.item_embeddings; }, r.index_,
      r.index_problem_);
  load_companion(
      similar_index_path_for(path), [&]() -> const Matrix& { return r.normalized_items(); },
      r.similar_index_, r.similar_index_problem_);
  return r;
}

void Recommender::save(const std::filesystem::path& path) const {
  save_model(path, model_);
  const auto save_companion = [](const std::filesystem::path& file, const HnswIndex* index,
                                 const auto& items) {
    if (index != nullptr) {
      index->save(file, items());
    } else {
      std::error_code ec;
      if (std::filesystem::is_regular_file(file, ec)) std::filesystem::remove(file, ec);
    }
  };
  save_companion(index_path_for(path), index_.get(),
                 [&]() -> const Matrix& { return model_.item_embeddings; });
  save_companion(similar_index_path_for(path), similar_index_.get(),
                 [&]() -> const Matrix& { return normalized_items(); });
}

void Recommender::build_index(const HnswParams& params, const WorkProgress& progress) {
  if (!model_.item_to_item.empty()) {
    throw Error(ErrorKind::Unsupported,
                fmt::format("a {} model scores items by an item-to-item term beside its vectors, "
                            "which an index over the vectors cannot search; its recommendations "
                            "search every item exactly",
                            model_.kind));
  }
  index_ = HnswIndex::build(model_.item_embeddings, params, progress);
  index_problem_.clear();
}

void Recommender::build_similar_index(const HnswParams& params, const WorkProgress& progress) {
  check_item_similarity();
  similar_index_ = HnswIndex::build(normalized_items(), params, progress);
  similar_index_problem_.clear();
}

std::int32_t Recommender::user_row(std::string_view id) const {
  if (auto row = model_.users.find(id)) return *row;
  throw Error(ErrorKind::NotFound, fmt::format("unknown user id \"{}\" (the model knows {} users)",
                                               id, model_.users.num_known()));
}

std::int32_t Recommender::item_row(std::string_view id_or_title) const {
  if (auto row = model_.items.find(id_or_title)) return *row;
  for (std::size_t r = 1; r < model_.item_titles.size(); ++r) {
    if (model_.item_titles[r] == id_or_title) return static_cast<std::int32_t>(r);
  }
  throw Error(
      ErrorKind::NotFound,
      fmt::format("unknown item \"{}\" (not an item id{} of this model's {} items)", id_or_title,
                  model_.item_titles.empty() ? "" : " or title", model_.items.num_known()));
}

std::string_view Recommender::item_title(std::int32_t row) const {
  if (row < 0 || static_cast<std::size_t>(row) >= model_.item_titles.size()) return {};
  return model_.item_titles[static_cast<std::size_t>(row)];
}

TopK Recommender::recommend(std::span<const std::int32_t> user_rows, int k, bool exclude_seen,
                            int threads) const {
  RecommendOptions options;
  options.k = k;
  options.exclude_seen = exclude_seen;
  options.threads = threads;
  return recommend(user_rows, options);
}

TopK Recommender::recommend(std::span<const std::int32_t> user_rows,
                            const RecommendOptions& options) const {
  Matrix queries(static_cast<std::int64_t>(user_rows.size()), dim());
  for (std::size_t q = 0; q < user_rows.size(); ++q) {
    const auto r = user_rows[q];
    if (r < 0 || r >= model_.users.size()) {
      throw Error(ErrorKind::InvalidArgument, fmt::format("user row {} out of range", r));
    }
    std::copy_n(model_.user_embeddings.row(r).data(), dim(),
                queries.row(static_cast<std::int64_t>(q)).data());
  }
  return search(queries, user_rows, &model_.seen, options);
}

TopK Recommender::search(const Matrix& queries, std::span<const std::int32_t> seen_rows_of,
                         const CsrMatrix* seen, const RecommendOptions& options) const {
  const int k = effective_k(options.k, model_.items.num_known());
  const std::int32_t n_items = model_.items.size();
  auto check_rows = [&](const std::vector<std::int32_t>& rows, const char* what) {
    for (auto r : rows) {
      if (r <= 0 || r >= n_items) {
        throw Error(ErrorKind::InvalidArgument,
                    fmt::format("{} item row {} is out of range [1, {})", what, r, n_items));
      }
    }
  };
  check_rows(options.allow, "allow-list");
  check_rows(options.deny, "deny-list");
  // An item-based model's term reads each query's items (a known user's
  // seen row, a new user's items) whether or not they are excluded.
  // Known users' items weigh what the model trained them with.
  const std::span<const float> item_weights =
      seen == &model_.seen ? std::span<const float>(model_.seen_weights) : std::span<const float>();
  const ItemTerm term{model_.item_to_item.empty() ? nullptr : &model_.item_to_item, seen,
                      seen_rows_of, item_weights};
  if (options.ef < 0) {
    throw Error(ErrorKind::InvalidArgument, fmt::format("ef must be positive, got {}", options.ef));
  }
  std::vector<std::int32_t> deny = options.deny;
  std::sort(deny.begin(), deny.end());
  deny.erase(std::unique(deny.begin(), deny.end()), deny.end());
  // Everything never to return, as one sorted list: OOV and the deny list.
  std::vector<std::int32_t> exclude{0};
  exclude.insert(exclude.end(), deny.begin(), deny.end());
  exclude.erase(std::unique(exclude.begin(), exclude.end()), exclude.end());
  if (!options.allow.empty()) {
    std::vector<std::int32_t> allowed = options.allow;
    std::sort(allowed.begin(), allowed.end());
    allowed.erase(std::unique(allowed.begin(), allowed.end()), allowed.end());
    std::vector<std::int32_t> rows;
    std::set_difference(allowed.begin(), allowed.end(), deny.begin(), deny.end(),
                        std::back_inserter(rows));
    // Only the allowed items can be returned: they are scored alone, exactly
    // (an index would walk its graph through every other item to find them,
    // and a full scan would score them all) -- unless an item-to-item term,
    // whose columns are the catalog's, makes the full scan the simple way:
    // then everything else is excluded.
    if (!term.active()) {
      return search_among(queries, seen_rows_of, options.exclude_seen ? seen : nullptr, rows, k,
                          options.threads);
    }
    exclude.clear();
    for (std::int32_t r = 0, next = 0; r < n_items; ++r) {
      if (next < static_cast<std::int32_t>(rows.size()) &&
          rows[static_cast<std::size_t>(next)] == r) {
        ++next;
      } else {
        exclude.push_back(r);
      }
    }
  }

  SearchOptions search_options;
  search_options.k = k;
  search_options.exclude_items = exclude;
  search_options.threads = options.threads;
  if (options.exclude_seen) {
    search_options.exclude_rows = seen;
    search_options.exclude_row_of = seen_rows_of;
  }
  search_options.ef = options.ef;
  search_options.item_term = term;
  if (index_ && !options.exact && !term.active())
    return index_->search(model_.item_embeddings, queries, search_options);
  return top_k(queries, model_.item_embeddings, search_options);
}

TopK Recommender::search_among(const Matrix& queries, std::span<const std::int32_t> seen_rows_of,
                               const CsrMatrix* seen, std::span<const std::int32_t> rows, int k,
                               int threads) const {
  const std::int64_t n = static_cast<std::int64_t>(rows.size());
  if (n == 0) return detail::padded_result(queries.rows(), k);
  Matrix items(n, dim());
  for (std::int64_t i = 0; i < n; ++i) {
    const auto from = model_.item_embeddings.row(rows[static_cast<std::size_t>(i)]);
    std::copy(from.begin(), from.end(), items.row(i).begin());
  }
  // Each query's seen items among `rows`, by position there (ascending, as
  // the seen rows are).
  std::vector<std::int64_t> indptr{0};
  std::vector<std::int32_t> positions;
  std::vector<std::int32_t> row_of(static_cast<std::size_t>(queries.rows()));
  for (std::int64_t q = 0; q < queries.rows(); ++q) {
    row_of[static_cast<std::size_t>(q)] = static_cast<std::int32_t>(q);
    if (seen != nullptr) {
      for (const std::int32_t item : seen->row(seen_rows_of[static_cast<std::size_t>(q)])) {
        const auto at = std::lower_bound(rows.begin(), rows.end(), item);
        if (at != rows.end() && *at == item)
          positions.push_back(static_cast<std::int32_t>(at - rows.begin()));
      }
    }
    indptr.push_back(static_cast<std::int64_t>(positions.size()));
  }
  const CsrMatrix excluded(static_cast<std::int32_t>(queries.rows()), static_cast<std::int32_t>(n),
                           std::move(indptr), std::move(positions));
  SearchOptions options;
  options.k = k;
  options.threads = threads;
  options.exclude_rows = &excluded;
  options.exclude_row_of = row_of;
  TopK top = top_k(queries, items, options);
  // Positions in `rows` back to item rows: the order is kept, ties included
  // (rows ascend as positions do).
  for (std::int32_t& item : top.items) {
    if (item >= 0) item = rows[static_cast<std::size_t>(item)];
  }
  return top;
}

std::vector<float> Recommender::fold_in(std::span<const std::int32_t> item_rows) const {
  if (item_rows.empty()) {
    throw Error(ErrorKind::InvalidArgument, "fold-in needs at least one item");
  }
  for (auto r : item_rows) {
    if (r <= 0 || r >= model_.items.size()) {
      throw Error(ErrorKind::InvalidArgument, fmt::format("fold-in item row {} out of range", r));
    }
  }
  const ModelSpec* spec = find_model_spec(model_.kind);
  if (spec == nullptr) {
    throw Error(ErrorKind::Unsupported,
                fmt::format("model kind \"{}\" is not registered in this build, so it cannot fold "
                            "in new users; registered: {}",
                            model_.kind, fmt::join(model_names(), ", ")));
  }
  std::call_once(fold_in_->built, [&] { fold_in_->fold_in = spec->fold_in(model_); });
  return fold_in_->fold_in->query(model_, item_rows);
}

TopK Recommender::recommend_for_items(std::span<const std::int32_t> item_rows,
                                      const RecommendOptions& options) const {
  const std::vector<float> q = fold_in(item_rows);
  Matrix queries(1, dim(), q);
  std::vector<std::int32_t> sorted(item_rows.begin(), item_rows.end());
  std::sort(sorted.begin(), sorted.end());
  sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
  const auto count = static_cast<std::int64_t>(sorted.size());
  const CsrMatrix seen(1, model_.items.size(), {0, count}, std::move(sorted));
  const std::int32_t row0[] = {0};
  return search(queries, row0, &seen, options);
}

namespace {

// The vector of a new user or item of `side` ("user") from its features,
// through the model's tower of that side.
std::vector<float> vector_from_features(const ModelData& model,
                                        const std::optional<FeatureTower>& tower,
                                        std::span<const FeatureValue> features, const char* side) {
  if (!tower || !tower->has_features()) {
    throw Error(
        ErrorKind::InvalidArgument,
        fmt::format("the model has no {} features{}: this {} model was trained without "
                    "--{}-features and knows {}s by id only",
                    side,
                    features.empty() ? "" : fmt::format(" (such as \"{}\")", features[0].name),
                    model.kind, side, side));
  }
  return tower->vector_of(features, side);
}

}  // namespace

std::vector<float> Recommender::user_vector_from_features(
    std::span<const FeatureValue> features) const {
  return vector_from_features(model_, model_.user_tower, features, "user");
}

std::vector<float> Recommender::item_vector_from_features(
    std::span<const FeatureValue> features) const {
  return vector_from_features(model_, model_.item_tower, features, "item");
}

TopK Recommender::recommend_for_features(std::span<const FeatureValue> user,
                                         const RecommendOptions& options) const {
  Matrix queries(1, dim(), user_vector_from_features(user));
  // A new user has seen nothing: exclude_seen leaves every item.
  const CsrMatrix seen(1, model_.items.size(), {0, 0}, {});
  const std::int32_t row0[] = {0};
  return search(queries, row0, &seen, options);
}

std::vector<float> Recommender::user_vector_in_context(
    std::int32_t user_row, std::span<const FeatureValue> context) const {
  if (user_row < 0 || user_row >= model_.users.size()) {
    throw Error(ErrorKind::InvalidArgument, fmt::format("user row {} out of range", user_row));
  }
  if (!model_.user_tower || !model_.user_tower->has_context()) {
    throw Error(
        ErrorKind::InvalidArgument,
        fmt::format("the model has no context features{}: this {} model was trained "
                    "without --context-features",
                    context.empty() ? "" : fmt::format(" (such as \"{}\")", context[0].name),
                    model_.kind));
  }
  return model_.user_tower->vector_in_context(user_row, model_.user_embeddings, context, "user");
}

TopK Recommender::recommend_in_context(std::int32_t user_row, std::span<const FeatureValue> context,
                                       const RecommendOptions& options) const {
  Matrix queries(1, dim(), user_vector_in_context(user_row, context));
  const std::int32_t rows[] = {user_row};
  return search(queries, rows, &model_.seen, options);
}

TopK Recommender::similar_to_features(std::span<const FeatureValue> item,
                                      const SimilarOptions& options) const {
  check_item_similarity();
  const int k = effective_k(options.k, model_.items.num_known());
  if (options.ef < 0) {
    throw Error(ErrorKind::InvalidArgument, fmt::format("ef must be positive, got {}", options.ef));
  }
  std::vector<float> v = item_vector_from_features(item);
  double norm = 0;
  for (const float x : v) norm += static_cast<double>(x) * x;
  norm = std::sqrt(norm);
  if (norm > 0) {
    for (float& x : v) x = static_cast<float>(x / norm);
  }
  return similar_to(Matrix(1, dim(), std::move(v)), 0, k, options);
}

std::vector<std::int32_t> Recommender::known_user_rows() const {
  std::vector<std::int32_t> rows(static_cast<std::size_t>(model_.users.num_known()));
  std::iota(rows.begin(), rows.end(), 1);
  return rows;
}

namespace {

// The item vectors of a model that scores by a dense item-to-item term
// alone (EASE): item j's column of W, the weights every item gives it, as
// its item vectors were when they were W^T.
Matrix term_columns(const ItemToItem& w) {
  const std::int64_t n = w.items();
  Matrix columns(n, n);
  const float* values = w.values().data();
  constexpr std::int64_t kTile = 64;
  for (std::int64_t i0 = 0; i0 < n; i0 += kTile) {
    for (std::int64_t j0 = 0; j0 < n; j0 += kTile) {
      for (std::int64_t i = i0; i < std::min(n, i0 + kTile); ++i) {
        for (std::int64_t j = j0; j < std::min(n, j0 + kTile); ++j) {
          columns.data()[j * n + i] = values[i * n + j];
        }
      }
    }
  }
  return columns;
}

}  // namespace

const Matrix& Recommender::normalized_items() const {
  std::call_once(unit_items_->built, [&] {
    if (dim() == 0) unit_items_->columns = term_columns(model_.item_to_item);
    unit_items_->rows = normalize_rows(similarity_vectors());
  });
  return unit_items_->rows;
}

const Matrix& Recommender::similarity_vectors() const {
  return dim() > 0 ? model_.item_embeddings : unit_items_->columns;
}

void Recommender::check_item_similarity() const {
  const ModelSpec* spec = find_model_spec(model_.kind);
  if ((spec != nullptr && !spec->item_similarity) ||
      (dim() == 0 && !model_.item_to_item.is_dense())) {
    throw Error(ErrorKind::Unsupported,
                fmt::format("a {} model has no item similarity (its item vectors do not say which "
                            "items are alike); use a model that learns item vectors: {}",
                            model_.kind, fmt::join(similarity_models(), ", ")));
  }
}

TopK Recommender::similar_items(std::int32_t item_row, const SimilarOptions& options) const {
  check_item_similarity();
  const int k = effective_k(options.k, model_.items.num_known());
  if (item_row <= 0 || item_row >= model_.items.size()) {
    throw Error(ErrorKind::InvalidArgument, fmt::format("item row {} out of range", item_row));
  }
  if (options.ef < 0) {
    throw Error(ErrorKind::InvalidArgument, fmt::format("ef must be positive, got {}", options.ef));
  }
  const Matrix& unit = normalized_items();
  Matrix query(1, unit.cols());
  std::copy_n(unit.row(item_row).data(), unit.cols(), query.data());
  return similar_to(query, item_row, k, options);
}

TopK Recommender::similar_to(const Matrix& query, std::int32_t item_row, int k,
                             const SimilarOptions& options) const {
  const Matrix& unit = normalized_items();
  std::vector<std::int32_t> exclude{0, item_row};
  SearchOptions search_options;
  search_options.k = k;
  search_options.exclude_items = exclude;
  search_options.threads = options.threads;
  search_options.ef = options.ef;
  if (similar_index_ && !options.exact) return similar_index_->search(unit, query, search_options);
  return top_k(query, unit, search_options);
}

TopK Recommender::similar_items(std::int32_t item_row, int k, int threads) const {
  SimilarOptions options;
  options.k = k;
  options.threads = threads;
  return similar_items(item_row, options);
}

void check_similarity_threshold(float threshold) {
  if (!(threshold >= -1.0f && threshold <= 1.0f)) {
    throw Error(ErrorKind::InvalidArgument,
                fmt::format("threshold {} is outside [-1, 1]", threshold));
  }
}

std::vector<SimilarPair> Recommender::similar_pairs(float threshold, const SimilarOptions& options,
                                                    const WorkProgress& progress) const {
  check_item_similarity();
  check_similarity_threshold(threshold);
  if (options.ef < 0) {
    throw Error(ErrorKind::InvalidArgument, fmt::format("ef must be positive, got {}", options.ef));
  }
  if (similar_index_ && !options.exact) {
    return similar_pairs_by_search(*similar_index_, normalized_items(), threshold, oov_item_,
                                   options.ef, options.threads, progress);
  }
  normalized_items();  // makes a term-only model's similarity vectors
  return latent::similar_pairs(similarity_vectors(), threshold, oov_item_, options.threads,
                               progress);
}

std::vector<SimilarPair> Recommender::similar_pairs(float threshold, int threads,
                                                    const WorkProgress& progress) const {
  SimilarOptions options;
  options.threads = threads;
  return similar_pairs(threshold, options, progress);
}

std::vector<float> Recommender::predict(std::span<const std::int32_t> user_rows,
                                        std::span<const std::int32_t> item_rows,
                                        int threads) const {
  using detail::require;
  require(user_rows.size() == item_rows.size(),
          fmt::format("{} users for {} items: give one item per user", user_rows.size(),
                      item_rows.size()));
  for (std::size_t k = 0; k < user_rows.size(); ++k) {
    require(user_rows[k] >= 0 && user_rows[k] < model_.users.size(),
            fmt::format("user row {} is outside [0, {})", user_rows[k], model_.users.size()));
    require(item_rows[k] >= 0 && item_rows[k] < model_.items.size(),
            fmt::format("item row {} is outside [0, {})", item_rows[k], model_.items.size()));
  }
  if (model_.rating_head) {
    return model_.rating_head->predict(model_.user_embeddings, user_rows, model_.item_embeddings,
                                       item_rows, detail::resolve_threads(threads));
  }
  ItemTerm term;
  if (!model_.item_to_item.empty()) {
    term = {&model_.item_to_item, &model_.seen, user_rows, model_.seen_weights};
  }
  const auto d = model_.item_embeddings.cols();
  std::vector<float> out(user_rows.size());
  for (std::size_t k = 0; k < out.size(); ++k) {
    const float* u = model_.user_embeddings.data() + static_cast<std::int64_t>(user_rows[k]) * d;
    const float* i = model_.item_embeddings.data() + static_cast<std::int64_t>(item_rows[k]) * d;
    float s = 0;
    for (std::int64_t j = 0; j < d; ++j) s += u[j] * i[j];
    if (term.active()) {
      float t = 0;
      term.term(static_cast<std::int64_t>(k), item_rows[k], std::span<float>(&t, 1));
      s += t;
    }
    out[k] = s;
  }
  return out;
}

void Recommender::scores(const ScoreBlockSink& sink, std::int64_t block_rows, int threads) const {
  std::vector<std::int32_t> every_user;
  ItemTerm term;
  if (!model_.item_to_item.empty()) {
    every_user.resize(static_cast<std::size_t>(model_.users.size()));
    std::iota(every_user.begin(), every_user.end(), 0);
    term = {&model_.item_to_item, &model_.seen, every_user, model_.seen_weights};
  }
  score_blocks(model_.user_embeddings, model_.item_embeddings, block_rows, sink, threads, term);
}

}  // namespace latent
