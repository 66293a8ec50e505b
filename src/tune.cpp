#include <latent/tune.hpp>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include <fmt/format.h>

#include <latent/error.hpp>
#include <latent/fit.hpp>

namespace latent {

namespace {

Params merged(const Params& fixed, const Params& point) {
  Params p = fixed;
  for (const auto& [name, value] : point.values()) p.set(name, value);
  return p;
}

// A fit of the search's model with `params` and the search's features.
FitOptions fit_options(const TuneOptions& options, Params params, const Split* split) {
  FitOptions fo;
  fo.model = options.model;
  fo.params = std::move(params);
  fo.split = split;
  fo.user_features = options.user_features;
  fo.item_features = options.item_features;
  fo.context_features = options.context_features;
  return fo;
}

// rmse: the model must train the rating task in every trial (a rating
// weight > 0, fixed or each of the searched values).
void check_rating_task(const TuneOptions& options) {
  const ParamSpec* weight = model_spec(options.model).param("rating-weight");
  if (weight == nullptr) {
    throw Error(ErrorKind::InvalidArgument,
                fmt::format("metric rmse: model {} predicts no ratings (two-tower does, with "
                            "--rating-weight > 0)",
                            options.model));
  }
  std::vector<std::string> weights{options.fixed.get(weight->name).value_or(weight->default_value)};
  if (const auto searched = options.space.values.find(weight->name);
      searched != options.space.values.end()) {
    weights = searched->second;
  }
  for (const std::string& text : weights) {
    if (!(std::stod(text) > 0)) {
      throw Error(ErrorKind::InvalidArgument,
                  fmt::format("metric rmse: rating-weight {} trains no rating task; give "
                              "--rating-weight > 0 (or only such values in --grid)",
                              text));
    }
  }
}

}  // namespace

SearchSpace default_search_space(const std::string& model) {
  return model_spec(model).search_space;
}

SearchSpace search_space_for(const std::string& model, const Params& fixed,
                             const SearchSpace& overrides) {
  SearchSpace space = default_search_space(model);
  for (const auto& [name, value] : fixed.values()) space.values.erase(name);
  for (const auto& [name, values] : overrides.values) space.values[name] = values;
  return space;
}

void TuneOptions::set_seed(std::uint64_t s) {
  seed = s;
  validation.seed = s + 1;
}

const std::vector<std::string>& tune_metric_names() {
  static const std::vector<std::string> names{"ndcg", "recall",   "precision",
                                              "map",  "hit_rate", "rmse"};
  return names;
}

bool smaller_is_better(const std::string& metric) { return metric == "rmse"; }

double metric_value(const EvaluationResult& r, const std::string& metric, int k) {
  if (metric == "rmse") return r.rmse;
  for (const auto& at : r.at_k) {
    if (at.k == k) return metric_value(at, metric);
  }
  return std::nan("");
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
  // The features against the model, as fit checks them.
  check_fit_options(fit_options(options, options.fixed, nullptr));
  if (options.metric == "rmse") {
    check_rating_task(options);
  } else {
    metric_value(MetricsAtK{}, options.metric);
  }
  if (options.trials < 1) {
    throw Error(ErrorKind::InvalidArgument,
                fmt::format("trials must be >= 1, got {}", options.trials));
  }
  if (!(options.validation.fraction > 0 && options.validation.fraction < 1)) {
    throw Error(ErrorKind::InvalidArgument, fmt::format("validation fraction {} is outside (0, 1)",
                                                        options.validation.fraction));
  }
  options.space.check();
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
  const ModelSpec& model = model_spec(options.model);
  if (options.metric == "rmse" && train.ratings.empty()) {
    throw Error(ErrorKind::InvalidArgument,
                "metric rmse: the training pairs have no ratings (give data with a rating column)");
  }

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
  if (std::find(eval.ks.begin(), eval.ks.end(), options.k) == eval.ks.end())
    eval.ks.push_back(options.k);

  TuneResult result;
  result.grid_size = options.space.size();
  result.fit_pairs = validation.train.size();
  result.validation_pairs = validation.test.size();
  for (std::size_t t = 0; t < points.size(); ++t) {
    FitOptions fo = fit_options(options, merged(options.fixed, points[t]), &fit_split);
    // What changes no weight, only cost (two-tower's running metrics).
    for (const auto& [name, value] : model.tuning_defaults.values()) {
      if (!fo.params.has(name)) fo.params.set(name, value);
    }
    fo.refuse_diverged = false;  // scored below, where a diverged trial never wins
    const FitResult fitted = fit(data, fo);
    const ModelData& m = fitted.model.model();
    Trial trial;
    trial.index = static_cast<int>(t);
    trial.params = points[t];
    trial.result = evaluate(m, validation.train, validation.test, eval);
    trial.value = metric_value(trial.result, options.metric, options.k);
    trial.train_seconds = fitted.train_seconds;
    result.trials.push_back(std::move(trial));
    const Trial& done = result.trials.back();
    // NaN never wins: a diverged trial is not "best".
    const double best_value = result.trials[result.best].value;
    const bool better =
        smaller_is_better(options.metric) ? done.value < best_value : done.value > best_value;
    if (t > 0 && (better || (std::isnan(best_value) && !std::isnan(done.value)))) {
      result.best = t;
    }
    if (options.on_trial) options.on_trial(done);
  }
  result.best_params = merged(options.fixed, result.trials[result.best].params);
  return result;
}

namespace {

nlohmann::json params_json(const Params& p) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [name, value] : p.values()) j[name] = value;
  return j;
}

}  // namespace

TuneReport tune_and_test(const Dataset& data, const Split& split, const TuneOptions& options) {
  TuneResult search = tune(data, split.train, options);
  FitResult best = fit(data, fit_options(options, search.best_params, &split));
  const ModelData& m = best.model.model();
  EvaluationOptions eval = options.eval;
  eval.ks = {options.k};
  EvaluationResult test = evaluate(m, split.train, split.test, eval);
  return {std::move(search), std::move(best), std::move(test)};
}

nlohmann::json TuneReport::to_json(const Dataset& data, const TuneOptions& options) const {
  nlohmann::json trials = nlohmann::json::array();
  for (const auto& t : search.trials) {
    trials.push_back({{"trial", t.index + 1},
                      {"params", params_json(t.params)},
                      {"value", t.value},
                      {"train_seconds", t.train_seconds},
                      {"validation", t.result.to_json()}});
  }
  nlohmann::json space = nlohmann::json::object();
  for (const auto& [name, values] : options.space.values) space[name] = values;
  const Trial& chosen = search.trials[search.best];
  return {{"model", options.model},
          {"data", data.description},
          {"metric", options.metric},
          {"k", options.k},
          {"seed", options.seed},
          {"split", {{"train_pairs", best.train_pairs}, {"test_pairs", best.test_pairs}}},
          {"validation",
           {{"method", to_string(options.validation.method)},
            {"fraction", options.validation.fraction},
            {"seed", options.validation.seed},
            {"fit_pairs", search.fit_pairs},
            {"validation_pairs", search.validation_pairs}}},
          {"fixed", params_json(options.fixed)},
          {"search_space", space},
          {"grid_size", search.grid_size},
          {"trials", trials},
          {"best",
           {{"trial", chosen.index + 1},
            {"params", params_json(search.best_params)},
            {"value", chosen.value},
            {"config", best.model.model().config},
            {"train_seconds", best.train_seconds},
            {"test", test.to_json()}}}};
}

}  // namespace latent
