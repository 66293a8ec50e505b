// Bayesian Personalized Ranking (bpr.hpp) as the registry knows it.
#include <latent/bpr.hpp>
#include <latent/param_table.hpp>

#include "builtin.hpp"

namespace latent {

namespace {

const ParamTable<BprConfig>& table() {
  using C = BprConfig;
  static const auto t =
      ParamTable<C>()
          .add("dim", &C::dim, "Number of factors (plus one item-bias column)",
               Range::between(1, 4096))
          .add("learning-rate", &C::learning_rate, "SGD step", Range::above(0))
          .add("regularization", &C::regularization,
               "L2 on the factors and biases each step touches", Range::at_least(0))
          .add("epochs", &C::epochs, "Epochs of as many sampled triples as distinct pairs",
               Range::at_least(1))
          .common("seed", &C::seed)
          .common("threads", &C::threads);
  return t;
}

TrainedVectors train(const Params& params, const TrainInput& in) {
  std::vector<EpochReport> epochs;
  const BprConfig config = table().read(params);
  const InitialVectors init =
      in.init == nullptr ? InitialVectors{}
                         : InitialVectors{&in.init->user_embeddings, &in.init->item_embeddings};
  BprResult r = train_bpr(
      in.train, config,
      [&](int epoch, double seconds, double accuracy) {
        // BPR reports no loss; its sampled ranking accuracy stands in the log.
        EpochReport e = detail::plain_epoch(epoch, config.epochs, seconds);
        e.sampled_accuracy = accuracy;
        epochs.push_back(e);
        if (in.on_epoch) in.on_epoch(epochs.back());
      },
      init);
  const double seconds = detail::total_seconds(epochs);
  return {std::move(r.user_factors),
          std::move(r.item_factors),
          std::move(epochs),
          seconds,
          {},
          {},
          {},
          {},
          {}};
}

// The items' mean vector, with the user side's constant 1 in the item-bias
// column.
class BprFoldIn : public MeanOfItems {
 public:
  std::vector<float> query(const ModelData& m,
                           std::span<const std::int32_t> item_rows) const override {
    std::vector<float> q = MeanOfItems::query(m, item_rows);
    q.back() = 1.0f;
    return q;
  }
};

}  // namespace

ModelSpec bpr_spec() {
  ModelSpec s;
  s.name = "bpr";
  s.summary =
      "Bayesian Personalized Ranking (Rendle et al. 2009) with item biases, as implicit trains it";
  s.params = table().specs();
  s.search_space = {{{"learning-rate", {"0.01", "0.02", "0.05", "0.1"}},
                     {"regularization", {"0.002", "0.01", "0.02", "0.05"}},
                     {"epochs", {"100", "200", "400", "800"}}}};
  s.weighs_pairs = false;          // trains on distinct pairs
  s.thread_deterministic = false;  // Hogwild updates: deterministic with one thread
  s.configure = [](const Params& p) { return table().read(p).to_json(); };
  s.train = train;
  s.fold_in = [](const ModelData&) { return std::make_unique<BprFoldIn>(); };
  s.distributed_note =
      "BPR's SGD updates the shared factors after every sampled triple, lock-free across "
      "threads (Hogwild); across ranks each step would be a message, and averaging the ranks' "
      "models once an epoch is another algorithm with its own quality to measure. Train als or "
      "two-tower on several ranks, or bpr as one process";
  s.warm_start = true;
  s.warm_start_fixed = {"dim"};
  s.warm_start_note =
      "update all continues SGD from the saved factors and item biases (new ids from the usual "
      "random ones) for its epochs on the new pairs; update users is not offered, for BPR has "
      "no exact user solve: its user and item factors move together";
  return s;
}

}  // namespace latent
