// EASE (ease.hpp) as the registry knows it.
#include <chrono>

#include <latent/ease.hpp>
#include <latent/error.hpp>
#include <latent/param_table.hpp>

#include "builtin.hpp"

namespace latent {

namespace {

const ParamTable<EaseConfig>& table() {
  using C = EaseConfig;
  static const auto t =
      ParamTable<C>()
          .add("regularization", &C::regularization, "lambda, added to the diagonal of X^T X",
               Range::above(0))
          .add("memory-limit-gb", &C::memory_limit_gb,
               "Refuse to train when the item x item matrix needs more (GB); 0: half of this "
               "machine's memory",
               Range::at_least(0))
          .common("threads", &C::threads);
  return t;
}

// EASE scores by B alone: its vectors have dimension 0, and a user's query
// is their row of X, which the model keeps as its seen rows and weights.
TrainedVectors train(const Params& params, const TrainInput& in) {
  const EaseConfig c = table().read(params);
  const auto t0 = std::chrono::steady_clock::now();
  if (in.init != nullptr && in.init->item_to_item.empty()) {
    throw Error(ErrorKind::InvalidArgument,
                "this ease model was saved before EASE kept B as its item-to-item term (format "
                "version 1): its users cannot be updated; train it again without a warm start");
  }
  // Update users: B stays as saved; a user's side is their row of X, which
  // fit() makes of their new pairs, or their saved row without any.
  ItemToItem b = in.init != nullptr ? in.init->item_to_item : train_ease(in.train, c);
  const double seconds = detail::seconds_since(t0);
  return {Matrix(in.train.num_users, 0),
          Matrix(in.train.num_items, 0),
          {detail::plain_epoch(1, 1, seconds)},
          seconds,
          std::move(b),
          {},
          {},
          {},
          {}};
}

TrainedVectors train_distributed(const Params& params, const DistributedTrainInput& in) {
  const EaseConfig c = table().read(params);
  const auto t0 = std::chrono::steady_clock::now();
  ItemToItem b = train_ease_distributed(in.comm, in.train, c);
  const double seconds = detail::seconds_since(t0);
  return {Matrix(in.train.pairs.num_users, 0),
          Matrix(in.train.pairs.num_items, 0),
          {detail::plain_epoch(1, 1, seconds)},
          seconds,
          std::move(b),
          {},
          {},
          {},
          {}};
}

// A new user's query: nothing, for the term adds their items' rows of B.
// A model file written before EASE became a term (format version 1) holds
// B^T as item vectors; there a new user's query is their indicator row.
class EaseFoldIn : public FoldIn {
 public:
  std::vector<float> query(const ModelData& m,
                           std::span<const std::int32_t> item_rows) const override {
    std::vector<float> q(static_cast<std::size_t>(m.item_embeddings.cols()), 0.0f);
    if (q.empty()) return q;
    for (auto r : item_rows) q[static_cast<std::size_t>(r)] = 1.0f;
    return q;
  }
};

}  // namespace

ModelSpec ease_spec() {
  ModelSpec s;
  s.name = "ease";
  s.summary = "EASE item-item autoencoder in closed form (Steck 2019); memory grows with items^2";
  s.params = table().specs();
  s.search_space = {{{"regularization", {"25", "50", "100", "200", "300", "500", "1000", "2000"}}}};
  s.configure = [](const Params& p) { return table().read(p).to_json(); };
  s.train = train;
  s.train_distributed = train_distributed;
  s.fold_in = [](const ModelData&) { return std::make_unique<EaseFoldIn>(); };
  s.update_users = true;
  s.warm_start_note =
      "update users keeps B as saved, and a user's row of X (all of EASE's user side) becomes "
      "their pairs in the new data (users without any keep theirs); update all is not offered: "
      "B is computed in closed form from the data it is given, with no state to start from, so "
      "train on all the data without a warm start";
  return s;
}

}  // namespace latent
