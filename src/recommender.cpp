#include <latent/recommender.hpp>

#include <numeric>
#include <unordered_map>

#include <fmt/format.h>

#include <latent/error.hpp>

namespace latent {

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
  normalized_items_ = normalize_rows(model_.item_embeddings);
}

Recommender Recommender::load(const std::filesystem::path& path) {
  return Recommender(load_model(path));
}

void Recommender::save(const std::filesystem::path& path) const { save_model(path, model_); }

std::int32_t Recommender::user_row(std::string_view id) const {
  if (auto row = model_.users.find(id)) return *row;
  throw Error(ErrorKind::NotFound,
              fmt::format("unknown user id \"{}\" (the model knows {} users)", id,
                          model_.users.num_known()));
}

std::int32_t Recommender::item_row(std::string_view id_or_title) const {
  if (auto row = model_.items.find(id_or_title)) return *row;
  for (std::size_t r = 1; r < model_.item_titles.size(); ++r) {
    if (model_.item_titles[r] == id_or_title) return static_cast<std::int32_t>(r);
  }
  throw Error(ErrorKind::NotFound,
              fmt::format("unknown item \"{}\" (not an item id{} of this model's {} items)",
                          id_or_title, model_.item_titles.empty() ? "" : " or title",
                          model_.items.num_known()));
}

std::string_view Recommender::item_title(std::int32_t row) const {
  if (row < 0 || static_cast<std::size_t>(row) >= model_.item_titles.size()) return {};
  return model_.item_titles[static_cast<std::size_t>(row)];
}

TopK Recommender::recommend(std::span<const std::int32_t> user_rows, int k, bool exclude_seen,
                            int threads) const {
  if (k <= 0) throw Error(ErrorKind::InvalidArgument, fmt::format("k must be > 0, got {}", k));
  Matrix queries(static_cast<std::int64_t>(user_rows.size()), dim());
  for (std::size_t q = 0; q < user_rows.size(); ++q) {
    const auto r = user_rows[q];
    if (r < 0 || r >= model_.users.size()) {
      throw Error(ErrorKind::InvalidArgument, fmt::format("user row {} out of range", r));
    }
    std::copy_n(model_.user_embeddings.row(r).data(), dim(),
                queries.row(static_cast<std::int64_t>(q)).data());
  }
  SearchOptions options;
  options.k = k;
  options.exclude_items = oov_item_;
  options.threads = threads;
  if (exclude_seen) {
    options.exclude_rows = &model_.seen;
    options.exclude_row_of = user_rows;
  }
  return top_k(queries, model_.item_embeddings, options);
}

std::vector<std::int32_t> Recommender::known_user_rows() const {
  std::vector<std::int32_t> rows(static_cast<std::size_t>(model_.users.num_known()));
  std::iota(rows.begin(), rows.end(), 1);
  return rows;
}

TopK Recommender::similar_items(std::int32_t item_row, int k, int threads) const {
  if (k <= 0) throw Error(ErrorKind::InvalidArgument, fmt::format("k must be > 0, got {}", k));
  if (item_row <= 0 || item_row >= model_.items.size()) {
    throw Error(ErrorKind::InvalidArgument, fmt::format("item row {} out of range", item_row));
  }
  Matrix query(1, dim());
  std::copy_n(normalized_items_.row(item_row).data(), dim(), query.data());
  std::vector<std::int32_t> exclude{0, item_row};
  SearchOptions options;
  options.k = k;
  options.exclude_items = exclude;
  options.threads = threads;
  return top_k(query, normalized_items_, options);
}

std::vector<SimilarPair> Recommender::similar_pairs(float threshold, int threads) const {
  return latent::similar_pairs(model_.item_embeddings, threshold, oov_item_, threads);
}

void Recommender::scores(const ScoreBlockSink& sink, std::int64_t block_rows, int threads) const {
  score_blocks(model_.user_embeddings, model_.item_embeddings, block_rows, sink, threads);
}

}  // namespace latent
