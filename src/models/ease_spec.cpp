// EASE (ease.hpp) as the registry knows it.
#include <fmt/format.h>

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
               "Refuse to train when the item x item matrix or the user rows need more",
               Range::above(0))
          .common("threads", &C::threads);
  return t;
}

TrainedVectors train(const Params& params, const TrainInput& in) {
  const EaseConfig c = table().read(params);
  // A user's query is their training row of X: x_u B scores every item.
  const double user_bytes = 4.0 * in.train.num_users * static_cast<double>(in.train.num_items);
  if (user_bytes > c.memory_limit_gb * 1e9) {
    throw Error(ErrorKind::InvalidArgument,
                fmt::format("ease: {} users x {} items need {:.0f} bytes of user rows, above the "
                            "memory limit of {} GB (memory-limit-gb); {}",
                            in.train.num_users, in.train.num_items, user_bytes, c.memory_limit_gb,
                            kEaseAlternative));
  }
  const auto t0 = std::chrono::steady_clock::now();
  Matrix items = train_ease(in.train, c);
  Matrix users = ease_user_rows(in.train);
  const double seconds = detail::seconds_since(t0);
  return {
      std::move(users), std::move(items), {detail::plain_epoch(1, 1, seconds)}, seconds, {}, {}};
}

// A new user's query is their indicator row over the items.
class EaseFoldIn : public FoldIn {
 public:
  std::vector<float> query(const ModelData& m,
                           std::span<const std::int32_t> item_rows) const override {
    std::vector<float> q(static_cast<std::size_t>(m.item_embeddings.cols()), 0.0f);
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
  s.fold_in = [](const ModelData&) { return std::make_unique<EaseFoldIn>(); };
  return s;
}

}  // namespace latent
