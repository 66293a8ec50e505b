#include <latent/tune.hpp>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include <fmt/format.h>

#include <latent/error.hpp>
#include <latent/fit.hpp>
#include <latent/random.hpp>

namespace latent {

namespace {

constexpr std::uint64_t kMaxGridPoints = std::uint64_t{1} << 62;

void check_space(const SearchSpace& space) {
  for (const auto& [name, values] : space.values) {
    if (values.empty()) {
      throw Error(ErrorKind::InvalidArgument,
                  fmt::format("search space: parameter {} has no candidate values", name));
    }
    std::set<std::string> seen;
    for (const auto& v : values) {
      if (!seen.insert(v).second) {
        throw Error(ErrorKind::InvalidArgument,
                    fmt::format("search space: parameter {} lists the value \"{}\" twice", name, v));
      }
    }
  }
}

Params merged(const Params& fixed, const Params& point) {
  Params p = fixed;
  for (const auto& [name, value] : point.values()) p.set(name, value);
  return p;
}

}  // namespace

std::uint64_t SearchSpace::size() const {
  std::uint64_t n = 1;
  for (const auto& [name, list] : values) {
    const std::uint64_t m = list.size();
    if (m != 0 && n > kMaxGridPoints / m) {
      throw Error(ErrorKind::InvalidArgument,
                  fmt::format("search space: more than 2^62 grid points (at parameter {})", name));
    }
    n *= m;
  }
  return n;
}

SearchSpace default_search_space(const std::string& model) {
  // Grids around the defaults, which were chosen on validation splits of
  // MovieLens 100K positives; wide enough to adapt to data sets of another
  // size (a small one wants far less regularization, for instance).
  if (model == "als") {
    return {{{"regularization", {"1", "5", "20", "50", "100", "200"}},
             {"alpha", {"1", "3", "7", "15", "30"}}}};
  }
  if (model == "bpr") {
    return {{{"learning-rate", {"0.01", "0.02", "0.05", "0.1"}},
             {"regularization", {"0.002", "0.01", "0.02", "0.05"}},
             {"epochs", {"100", "200", "400", "800"}}}};
  }
  if (model == "ease") {
    return {{{"regularization", {"25", "50", "100", "200", "300", "500", "1000", "2000"}}}};
  }
  if (model == "two-tower") {
    return {{{"learning-rate", {"0.02", "0.05", "0.1", "0.2"}},
             {"batch-size", {"256", "512", "1024"}},
             {"epochs", {"3", "5", "10"}}}};
  }
  if (model == "popularity") return {};
  throw Error(ErrorKind::InvalidArgument, fmt::format("unknown model \"{}\"; valid models: {}",
                                                      model, fmt::join(model_names(), ", ")));
}

Params grid_point(const SearchSpace& space, std::uint64_t index) {
  // Mixed radix with the last name as the lowest digit.
  Params p;
  std::vector<std::pair<const std::string*, const std::vector<std::string>*>> names;
  for (const auto& [name, list] : space.values) names.emplace_back(&name, &list);
  for (auto it = names.rbegin(); it != names.rend(); ++it) {
    const std::uint64_t m = it->second->size();
    p.set(*it->first, (*it->second)[static_cast<std::size_t>(index % m)]);
    index /= m;
  }
  return p;
}

std::vector<Params> sample_grid(const SearchSpace& space, int trials, std::uint64_t seed) {
  if (trials < 1) {
    throw Error(ErrorKind::InvalidArgument, fmt::format("trials must be >= 1, got {}", trials));
  }
  check_space(space);
  const std::uint64_t n = space.size();
  std::vector<Params> points;
  const auto want = static_cast<std::uint64_t>(trials);
  if (n <= want) {
    for (std::uint64_t i = 0; i < n; ++i) points.push_back(grid_point(space, i));
    return points;
  }
  // Partial Fisher-Yates over the virtual array 0..n-1; `moved` holds the
  // slots that differ from identity, so memory is O(trials) for any n.
  Rng rng(seed);
  std::map<std::uint64_t, std::uint64_t> moved;
  const auto at = [&](std::uint64_t i) {
    const auto it = moved.find(i);
    return it == moved.end() ? i : it->second;
  };
  for (std::uint64_t i = 0; i < want; ++i) {
    const std::uint64_t j = i + rng.below(n - i);
    const std::uint64_t vi = at(i);
    const std::uint64_t vj = at(j);
    moved[j] = vi;
    moved[i] = vj;
    points.push_back(grid_point(space, vj));
  }
  return points;
}

const std::vector<std::string>& tune_metric_names() {
  static const std::vector<std::string> names{"ndcg", "recall", "precision", "map", "hit_rate"};
  return names;
}

double metric_value(const MetricsAtK& m, const std::string& metric) {
  if (metric == "ndcg") return m.ndcg;
  if (metric == "recall") return m.recall;
  if (metric == "precision") return m.precision;
  if (metric == "map") return m.map;
  if (metric == "hit_rate") return m.hit_rate;
  throw Error(ErrorKind::InvalidArgument,
              fmt::format("unknown metric \"{}\"; valid metrics: {}", metric,
                          fmt::join(tune_metric_names(), ", ")));
}

void check_tune_options(const TuneOptions& options) {
  check_model_params(options.model, options.fixed);
  metric_value(MetricsAtK{}, options.metric);
  if (options.trials < 1) {
    throw Error(ErrorKind::InvalidArgument, fmt::format("trials must be >= 1, got {}", options.trials));
  }
  check_space(options.space);
  (void)options.space.size();  // throws for an absurdly large grid
  for (const auto& [name, values] : options.space.values) {
    if (options.fixed.has(name)) {
      throw Error(ErrorKind::InvalidArgument,
                  fmt::format("parameter {} is both fixed ({} = \"{}\") and searched", name, name,
                              options.fixed.values().at(name)));
    }
    for (const auto& v : values) {
      check_model_params(options.model, merged(options.fixed, Params{{name, v}}));
    }
  }
}

TuneResult tune(const Dataset& data, const Interactions& train, const TuneOptions& options) {
  // Everything that can be wrong is checked before the first fit, so a typo
  // costs no training time.
  check_tune_options(options);
  const std::int64_t n_known = std::max<std::int64_t>(train.num_items - 1, 0);
  if (options.k < 1 || options.k > n_known) {
    throw Error(ErrorKind::InvalidArgument,
                fmt::format("k = {} is outside [1, {}], the catalog of {} known items", options.k,
                            n_known, n_known));
  }
  const std::vector<Params> points = sample_grid(options.space, options.trials, options.seed);

  const Split validation = make_split(train, options.validation, data.users);
  if (validation.test.empty()) {
    throw Error(ErrorKind::InvalidArgument,
                fmt::format("the validation split of the {} training pairs holds out nothing "
                            "(too few items per user for fraction {})",
                            train.size(), options.validation.fraction));
  }
  // Each trial fits the validation split's train part with no test part, so
  // two-tower spends no time on per-epoch test metrics; the ranking metrics
  // below are what counts.
  Split fit_split{validation.train, Interactions{}};
  fit_split.test.num_users = train.num_users;
  fit_split.test.num_items = train.num_items;

  EvaluationOptions eval = options.eval;
  if (std::find(eval.ks.begin(), eval.ks.end(), options.k) == eval.ks.end()) eval.ks.push_back(options.k);

  TuneResult result;
  result.grid_size = options.space.size();
  result.fit_pairs = validation.train.size();
  result.validation_pairs = validation.test.size();
  for (std::size_t t = 0; t < points.size(); ++t) {
    FitOptions fo;
    fo.model = options.model;
    fo.params = merged(options.fixed, points[t]);
    // The running training accuracy is only a log; skipping it changes no
    // weight and saves two-tower a top-K pass per batch.
    if (options.model == "two-tower" && !fo.params.has("train-metrics")) {
      fo.params.set("train-metrics", "false");
    }
    fo.split = &fit_split;
    const FitResult fitted = fit(data, fo);
    const ModelData& m = fitted.model.model();
    Trial trial;
    trial.index = static_cast<int>(t);
    trial.params = points[t];
    trial.result = evaluate(m.user_embeddings, m.item_embeddings, validation.train, validation.test, eval);
    for (const auto& at : trial.result.at_k) {
      if (at.k == options.k) trial.value = metric_value(at, options.metric);
    }
    trial.train_seconds = fitted.train_seconds;
    result.trials.push_back(std::move(trial));
    const Trial& done = result.trials.back();
    // NaN never wins: a diverged trial is not "best".
    const double best_value = result.trials[result.best].value;
    if (t > 0 && (done.value > best_value || (std::isnan(best_value) && !std::isnan(done.value)))) {
      result.best = t;
    }
    if (options.on_trial) options.on_trial(done);
  }
  result.best_params = merged(options.fixed, result.trials[result.best].params);
  return result;
}

}  // namespace latent
