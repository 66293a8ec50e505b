// Implicit-feedback ALS (als.hpp) as the registry knows it.
#include <fmt/format.h>

#include <algorithm>

#include <latent/als.hpp>
#include <latent/error.hpp>
#include <latent/param_table.hpp>

#include "builtin.hpp"

namespace latent {

namespace {

const ParamTable<AlsConfig>& table() {
  using C = AlsConfig;
  static const auto t =
      ParamTable<C>()
          .add("dim", &C::dim, "Number of factors", Range::between(1, 4096))
          .add("regularization", &C::regularization, "L2 regularization of the factors",
               Range::above(0))
          .add("alpha", &C::alpha, "Confidence slope: c = 1 + alpha * r", Range::at_least(0))
          .add("regularization-exponent", &C::regularization_exponent,
               "nu: each row's regularization grows as its weight^nu (0 plain, 1 "
               "frequency-scaled as in Rendle et al. 2021)",
               Range::between(0, 1))
          .add("epochs", &C::epochs, "Iterations (each solves users, then items)",
               Range::at_least(1))
          .choice("solver", &C::solver, "Least-squares solver", {"cg", "cholesky"},
                  parse_als_solver, to_string)
          .add("cg-steps", &C::cg_steps, "Conjugate-gradient steps per row (solver cg)",
               Range::at_least(1))
          .add("compute-loss", &C::compute_loss, "Report the training loss every iteration")
          .common("seed", &C::seed)
          .common("threads", &C::threads);
  return t;
}

TrainedVectors train(const Params& params, const TrainInput& in) {
  std::vector<EpochReport> epochs;
  const AlsConfig config = table().read(params);
  if (in.init != nullptr && in.update == WarmUpdate::Users) {
    // One user half-step against the saved item factors, which stay as saved.
    const auto t0 = std::chrono::steady_clock::now();
    Matrix users =
        als_solve_users(in.train, config, in.init->item_embeddings, in.init->user_embeddings);
    const double seconds = detail::seconds_since(t0);
    epochs.push_back(detail::plain_epoch(1, 1, seconds));
    if (in.on_epoch) in.on_epoch(epochs.back());
    return {
        std::move(users), in.init->item_embeddings, std::move(epochs), seconds, {}, {}, {}, {}, {}};
  }
  const InitialVectors init =
      in.init == nullptr ? InitialVectors{}
                         : InitialVectors{&in.init->user_embeddings, &in.init->item_embeddings};
  AlsResult r = train_als(
      in.train, config,
      [&](int it, double seconds, double loss) {
        epochs.push_back(detail::plain_epoch(it, config.epochs, seconds, loss));
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

TrainedVectors train_distributed(const Params& params, const DistributedTrainInput& in) {
  std::vector<EpochReport> epochs;
  const AlsConfig config = table().read(params);
  AlsResult r =
      train_als_distributed(in.comm, in.train, config, [&](int it, double seconds, double loss) {
        epochs.push_back(detail::plain_epoch(it, config.epochs, seconds, loss));
        if (in.on_epoch) in.on_epoch(epochs.back());
      });
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

// A number of a loaded model's config (written by configure() above).
float config_number(const ModelData& m, const char* key) {
  const auto it = m.config.find(key);
  if (it == m.config.end() || !it->is_number()) {
    throw Error(
        ErrorKind::Corruption,
        fmt::format("als model: its config has no number \"{}\", needed to fold in users", key));
  }
  return it->get<float>();
}

// The same, or `fallback` when the config does not have it (a model saved
// before the key existed).
float config_number_or(const ModelData& m, const char* key, float fallback) {
  return m.config.contains(key) ? config_number(m, key) : fallback;
}

// The exact least-squares solve of a new user's row against the fixed item
// factors, with the Gramian computed once per model; under frequency
// scaling, the user's regularization from their item count, as training
// gives a user's row.
class AlsFoldIn : public FoldIn {
 public:
  explicit AlsFoldIn(const ModelData& m) : gramian_(als_gramian(m.item_embeddings)) {
    config_.regularization = config_number(m, "regularization");
    config_.alpha = config_number(m, "alpha");
    config_.regularization_exponent = config_number_or(m, "regularization_exponent", 0.0f);
  }

  std::vector<float> query(const ModelData& m,
                           std::span<const std::int32_t> item_rows) const override {
    const auto given = std::count_if(item_rows.begin(), item_rows.end(),
                                     [](std::int32_t row) { return row != 0; });
    const std::int64_t users = m.user_embeddings.rows() - 1;
    const std::int64_t items = m.item_embeddings.rows() - 1;
    const float reg = als_row_regularization(config_, static_cast<double>(given), items,
                                             std::max<std::int64_t>(users, 1), items);
    return als_fold_in(m.item_embeddings, gramian_, item_rows, {}, reg, config_.alpha);
  }

 private:
  Matrix gramian_;
  AlsConfig config_;
};

}  // namespace

ModelSpec als_spec() {
  ModelSpec s;
  s.name = "als";
  s.summary = "Implicit-feedback alternating least squares (Hu, Koren, Volinsky 2008)";
  s.params = table().specs();
  s.search_space = {{{"regularization", {"1", "5", "20", "50", "100", "200"}},
                     {"alpha", {"1", "3", "7", "15", "30"}}}};
  s.configure = [](const Params& p) { return table().read(p).to_json(); };
  s.train = train;
  s.train_distributed = train_distributed;
  s.fold_in = [](const ModelData& m) { return std::make_unique<AlsFoldIn>(m); };
  s.warm_start = true;
  s.update_users = true;
  s.warm_start_fixed = {"dim"};
  s.warm_start_note =
      "update all starts from the saved factors (new ids from the usual random ones) and runs "
      "its epochs on the new pairs, ids without new pairs keeping their vectors; update users "
      "solves each user with new pairs once against the saved item factors, which stay as saved";
  return s;
}

}  // namespace latent
