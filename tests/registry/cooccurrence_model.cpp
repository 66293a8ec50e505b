// A test-only model, registered from the test suite to prove that a model is
// one file plus one registration line: it appears in `latent train --help`,
// `latent models`, the Python module's model_names(), Model docstring and
// keyword arguments, `latent tune`'s default grid, and passes the whole
// contract suite, with no edit anywhere else (tests/registry/*_test.cpp and
// tests/python_registry check each of these).
//
// Item co-occurrence: score(u, i) = sum over u's items j of
// C[j][i] / (count(j) + shrink)^power, where C counts the users who have
// both j and i (C[i][i] = 0). Users are their indicator rows, as in EASE.

#include <chrono>
#include <cmath>
#include <limits>

#include <latent/model_spec.hpp>
#include <latent/param_table.hpp>

namespace latent::test {
namespace {

struct CooccurrenceConfig {
  float shrink = 2.0f;
  float power = 1.0f;
  bool binary = true;  // distinct pairs count once; else weights add up
  int threads = 0;
  nlohmann::json to_json() const {
    return {{"shrink", shrink}, {"power", power}, {"binary", binary}};
  }
};

const ParamTable<CooccurrenceConfig>& table() {
  using C = CooccurrenceConfig;
  static const auto t =
      ParamTable<C>()
          .add("shrink", &C::shrink, "Added to an item's count before normalising",
               Range::at_least(0))
          .add("power", &C::power, "Exponent of the normalisation", Range::between(0, 4))
          .add("binary", &C::binary, "Count a repeated pair once")
          .common("threads", &C::threads);
  return t;
}

TrainedVectors train(const Params& params, const TrainInput& in) {
  const auto t0 = std::chrono::steady_clock::now();
  const CooccurrenceConfig c = table().read(params);
  const Interactions& x = in.train;
  Matrix users(x.num_users, x.num_items);
  for (std::size_t e = 0; e < x.size(); ++e) {
    const float w = x.weights.empty() ? 1.0f : x.weights[e];
    float& cell = users.row(x.users[e])[static_cast<std::size_t>(x.items[e])];
    cell = c.binary ? 1.0f : cell + w;
  }
  std::vector<double> count(static_cast<std::size_t>(x.num_items), 0.0);
  for (std::int64_t u = 0; u < users.rows(); ++u) {
    for (std::int64_t j = 0; j < users.cols(); ++j)
      count[static_cast<std::size_t>(j)] += users.row(u)[static_cast<std::size_t>(j)];
  }
  // items.row(i)[j] = C[j][i] / (count(j) + shrink)^power, so that
  // dot(users.row(u), items.row(i)) is the score above.
  Matrix items(x.num_items, x.num_items);
  for (std::int64_t u = 0; u < users.rows(); ++u) {
    const auto row = users.row(u);
    for (std::int64_t i = 1; i < users.cols(); ++i) {
      if (row[static_cast<std::size_t>(i)] == 0) continue;
      for (std::int64_t j = 1; j < users.cols(); ++j) {
        if (j != i)
          items.row(i)[static_cast<std::size_t>(j)] +=
              row[static_cast<std::size_t>(i)] * row[static_cast<std::size_t>(j)];
      }
    }
  }
  for (std::int64_t i = 0; i < items.rows(); ++i) {
    for (std::int64_t j = 0; j < items.cols(); ++j) {
      const double norm = std::pow(count[static_cast<std::size_t>(j)] + c.shrink, c.power);
      if (norm > 0) items.row(i)[static_cast<std::size_t>(j)] /= static_cast<float>(norm);
    }
  }
  EpochReport epoch;
  epoch.epoch = 1;
  epoch.loss = std::numeric_limits<double>::quiet_NaN();
  epoch.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (in.on_epoch) in.on_epoch(epoch);
  return {std::move(users), std::move(items), {epoch}, epoch.seconds, {}, {}, {}, {}, {}};
}

class IndicatorFoldIn : public FoldIn {
 public:
  std::vector<float> query(const ModelData& m, std::span<const std::int32_t> items) const override {
    std::vector<float> q(static_cast<std::size_t>(m.item_embeddings.cols()), 0.0f);
    for (auto r : items) q[static_cast<std::size_t>(r)] = 1.0f;
    return q;
  }
};

ModelSpec cooccurrence_spec() {
  ModelSpec s;
  s.name = "cooccurrence";
  s.summary = "Test-only item co-occurrence model (registered by the test suite)";
  s.params = table().specs();
  s.search_space = {{{"shrink", {"0", "2", "10"}}, {"power", {"0.5", "1"}}}};
  s.configure = [](const Params& p) { return table().read(p).to_json(); };
  s.train = train;
  s.fold_in = [](const ModelData&) { return std::make_unique<IndicatorFoldIn>(); };
  return s;
}

// The registration line.
[[maybe_unused]] const bool registered = (register_model(cooccurrence_spec()), true);

}  // namespace
}  // namespace latent::test
