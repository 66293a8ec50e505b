// GF-CF (gf_cf.hpp) as the registry knows it.
#include <chrono>

#include <latent/gf_cf.hpp>
#include <latent/param_table.hpp>

#include "builtin.hpp"

namespace latent {

namespace {

const ParamTable<GfCfConfig>& table() {
  using C = GfCfConfig;
  static const auto t =
      ParamTable<C>()
          .add("dim", &C::dim,
               "Singular vectors of the normalised interactions kept (the ideal low-pass "
               "filter's); 0: items / 128, within [64, 512]",
               Range::between(0, 4096))
          .add("ideal-weight", &C::ideal_weight,
               "Weight of the ideal low-pass term beside the linear filter (alpha)",
               Range::at_least(0))
          .add("power-iterations", &C::power_iterations,
               "Subspace iterations of the randomized SVD", Range::between(0, 100))
          .add("oversampling", &C::oversampling, "Columns the randomized SVD keeps beyond dim",
               Range::between(0, 4096))
          .common("seed", &C::seed)
          .common("threads", &C::threads);
  return t;
}

TrainedVectors train(const Params& params, const TrainInput& in) {
  const GfCfConfig c = table().read(params);
  const auto t0 = std::chrono::steady_clock::now();
  GfCfModel m = train_gf_cf(in.train, c);
  const double seconds = detail::seconds_since(t0);
  return {std::move(m.user_vectors),
          std::move(m.item_vectors),
          {detail::plain_epoch(1, 1, seconds)},
          seconds,
          std::move(m.item_to_item),
          std::move(m.item_queries),
          {},
          {},
          {}};
}

}  // namespace

ModelSpec gf_cf_spec() {
  ModelSpec s;
  s.name = "gf-cf";
  s.summary =
      "Graph filter CF (Shen et al. 2021): normalised item co-occurrence plus an SVD low-pass "
      "term, in closed form";
  s.params = table().specs();
  s.search_space = {
      {{"dim", {"64", "128", "256", "384"}}, {"ideal-weight", {"0.1", "0.3", "0.5", "0.8"}}}};
  // It trains on which pairs there are, not on their weights.
  s.weighs_pairs = false;
  s.configure = [](const Params& p) { return table().read(p).to_json(); };
  s.train = train;
  s.fold_in = [](const ModelData&) { return std::make_unique<SumOfItemQueries>(); };
  s.distributed_note =
      "not yet: its normalized item-item matrix could be summed across ranks as ease's X^T X "
      "is, but its truncated SVD runs on one process; train it as one process (it trains on "
      "Gowalla in 5 s)";
  s.warm_start_note =
      "it is computed in closed form from the data it is given (its filters and singular "
      "vectors), with no state to start from: train it on all the data without a warm start";
  return s;
}

}  // namespace latent
