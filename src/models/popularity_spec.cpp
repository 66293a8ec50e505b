// Popularity (popularity.hpp) as the registry knows it: the baseline every
// model should beat.
#include <latent/initial_vectors.hpp>
#include <latent/popularity.hpp>

#include "builtin.hpp"

namespace latent {

namespace {

TrainedVectors train(const Params&, const TrainInput& in) {
  const auto t0 = std::chrono::steady_clock::now();
  Matrix items = train_popularity(in.train);
  // A warm start counts on: the saved counts plus the new pairs'.
  if (in.init != nullptr) {
    const Matrix& saved = in.init->item_embeddings;
    check_initial_rows(&saved, items.rows(), items.cols(), "saved item counts");
    for (std::int64_t i = 1; i < saved.rows(); ++i) items.row(i)[0] += saved.row(i)[0];
  }
  Matrix users(in.train.num_users, 1, 1.0f);
  const double seconds = detail::seconds_since(t0);
  return {std::move(users),
          std::move(items),
          {detail::plain_epoch(1, 1, seconds)},
          seconds,
          {},
          {},
          {},
          {},
          {}};
}

TrainedVectors train_distributed(const Params&, const DistributedTrainInput& in) {
  const auto t0 = std::chrono::steady_clock::now();
  Matrix items = train_popularity_distributed(in.comm, in.train);
  Matrix users(in.train.pairs.num_users, 1, 1.0f);
  const double seconds = detail::seconds_since(t0);
  return {std::move(users),
          std::move(items),
          {detail::plain_epoch(1, 1, seconds)},
          seconds,
          {},
          {},
          {},
          {},
          {}};
}

// Every user's query is the constant 1.
class PopularityFoldIn : public FoldIn {
 public:
  std::vector<float> query(const ModelData& m, std::span<const std::int32_t>) const override {
    return std::vector<float>(static_cast<std::size_t>(m.item_embeddings.cols()), 1.0f);
  }
};

}  // namespace

ModelSpec popularity_spec() {
  ModelSpec s;
  s.name = "popularity";
  s.summary =
      "Items by how often they occur in training (summed weights): the same list for everyone";
  s.personalized = false;
  s.item_similarity = false;
  s.configure = [](const Params&) { return nlohmann::json::object(); };
  s.train = train;
  s.train_distributed = train_distributed;
  s.fold_in = [](const ModelData&) { return std::make_unique<PopularityFoldIn>(); };
  s.warm_start = true;
  s.warm_start_note =
      "update all adds the new pairs' counts to the saved ones; update users is not offered: "
      "popularity has no user side, every user's query is the constant 1";
  return s;
}

}  // namespace latent
