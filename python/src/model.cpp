// Models: the registry's specs and the library's defaults (for the package's
// docs and keyword defaults), fit and tune (GIL released, the library's
// Keras-style progress bar written to a Python stream, Ctrl-C honoured).
// What a trained model answers is in recommender.cpp.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <optional>

#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

#include <latent/error.hpp>
#include <latent/features.hpp>
#include <latent/fit.hpp>
#include <latent/model_spec.hpp>
#include <latent/progress.hpp>
#include <latent/recommender.hpp>
#include <latent/system_info.hpp>
#include <latent/tensorboard.hpp>
#include <latent/tune.hpp>

#include "bindings.hpp"

namespace latent::python {

namespace {

// Thrown from a training callback when Python has an error pending (Ctrl-C,
// a stream that failed); fit() unwinds and the Python error is raised.
struct PythonErrorPending {};

// What training reports goes through here. With a Python stream, the
// library's ProgressBar writes to an in-memory stdio stream whose new text is
// forwarded to the Python stream (sys.stdout by default, so notebooks show
// it). With or without one, pending signals are checked, so Ctrl-C stops a
// fit. The GIL is taken only when there is text to forward or at most every
// 100 ms for the signal check, never for a whole fit.
class TrainingReports {
 public:
  TrainingReports(py::object stream, bool interactive) : stream_(std::move(stream)) {
    if (stream_.is_none()) return;
    file_ = open_memstream(&buffer_, &size_);
    if (file_ == nullptr) throw Error(ErrorKind::IO, "cannot open an in-memory stream");
    bar_.emplace(file_, interactive);
  }
  TrainingReports(const TrainingReports&) = delete;
  TrainingReports& operator=(const TrainingReports&) = delete;
  ~TrainingReports() {
    if (file_ != nullptr) std::fclose(file_);
    std::free(buffer_);
  }

  void on_progress(const TrainProgress& p) {
    if (bar_) bar_->on_progress(p);
    forward();
  }
  void on_epoch(const EpochReport& e) {
    if (bar_) bar_->on_epoch(e);
    forward();
  }
  // For long steps that report nothing else (tuning trials).
  void check_signals() { forward(); }

 private:
  using Clock = std::chrono::steady_clock;

  void forward() {
    if (file_ != nullptr) std::fflush(file_);
    const bool text = size_ > sent_;
    const auto now = Clock::now();
    if (!text && now - last_check_ < std::chrono::milliseconds(100)) return;
    last_check_ = now;
    py::gil_scoped_acquire gil;
    try {
      if (text) {
        stream_.attr("write")(py::str(buffer_ + sent_, size_ - sent_));
        stream_.attr("flush")();
        sent_ = size_;
      }
      if (PyErr_CheckSignals() != 0) throw py::error_already_set();
    } catch (py::error_already_set& e) {
      e.restore();
      throw PythonErrorPending{};
    }
  }

  py::object stream_;
  char* buffer_ = nullptr;
  std::size_t size_ = 0;
  std::size_t sent_ = 0;
  std::FILE* file_ = nullptr;
  std::optional<ProgressBar> bar_;
  Clock::time_point last_check_ = Clock::now();
};

Params to_params(const std::map<std::string, std::string>& values) {
  Params p;
  for (const auto& [name, value] : values) p.set(name, value);
  return p;
}

py::dict accuracy_dict(const TopKAccuracy& a) {
  py::dict d;
  for (std::size_t i = 0; i < a.ks.size() && i < a.accuracy.size(); ++i) {
    d[py::str("top_" + std::to_string(a.ks[i]))] = a.accuracy[i];
  }
  return d;
}

py::dict epoch_dict(const EpochReport& e) {
  py::dict d;
  d["epoch"] = e.epoch;
  d["loss"] = e.loss;
  d["sampled_accuracy"] = e.sampled_accuracy;
  d["seconds"] = e.seconds;
  d["train"] = e.has_train ? py::object(accuracy_dict(e.train)) : py::none();
  d["test"] = e.has_test ? py::object(accuracy_dict(e.test)) : py::none();
  return d;
}

// Runs f with the GIL released, its training reports going to `stream`
// (None: none) and Ctrl-C stopping it.
template <typename F>
auto with_reports(const py::object& stream, bool interactive, F&& f) {
  TrainingReports reports(stream, interactive);
  try {
    py::gil_scoped_release release;
    return f(reports);
  } catch (const PythonErrorPending&) {
    throw py::error_already_set();
  }
}

// notes: what the TensorBoard log left out, for the package to warn about.
py::tuple fit_result(FitResult&& result, const std::vector<std::string>& notes) {
  py::list epochs;
  for (const auto& e : result.epochs) epochs.append(epoch_dict(e));
  const std::string metrics = result.metrics_json().dump();
  return py::make_tuple(std::make_shared<Recommender>(std::move(result.model)), epochs, metrics,
                        notes);
}

// Registry and policy facts the package builds its docs and defaults from.
void bind_registry(py::module_& m) {
  m.def("model_names", [] { return model_names(); });
  m.def("system_info", [] { return system_info().to_json().dump(); });
  m.def("model_specs", [] {
    nlohmann::json models = nlohmann::json::array();
    for (const ModelSpec* s : model_specs()) models.push_back(s->to_json());
    nlohmann::json common = nlohmann::json::array();
    for (const auto& c : common_param_specs()) common.push_back(c.to_json());
    return nlohmann::json{{"models", models}, {"common", common}}.dump();
  });
  m.def("check_model_params",
        [](const std::string& model, const std::map<std::string, std::string>& params) {
          return check_model_params(model, to_params(params)).dump();
        });
  m.def("seed_of", [](const std::map<std::string, std::string>& params) {
    return seed_of(to_params(params));
  });
  m.def("defaults", [] {
    const SplitSpec split;
    const TuneOptions tune;
    py::dict columns;
    for (const auto role : column_roles()) {
      py::list names;
      for (const auto name : default_column_names(role))
        names.append(py::str(name.data(), name.size()));
      columns[py::str(role.data(), role.size())] = py::tuple(names);
    }
    py::dict d;
    d["seed"] = kDefaultSeed;
    d["k"] = kDefaultK;
    d["split_method"] = to_string(split.method);
    d["test_fraction"] = split.fraction;
    d["last_k"] = split.k;
    d["trials"] = tune.trials;
    d["metric"] = tune.metric;
    d["validation_fraction"] = tune.validation.fraction;
    d["columns"] = columns;
    return d;
  });
}

void bind_fit(py::module_& m) {
  m.def(
      "fit",
      [](const std::shared_ptr<Dataset>& data, const std::string& model,
         const std::map<std::string, std::string>& params, double test_fraction,
         const std::shared_ptr<BoundSplit>& split, const py::object& stream, bool interactive,
         const std::optional<std::filesystem::path>& tensorboard,
         const std::shared_ptr<Recommender>& init, const std::string& update,
         const std::shared_ptr<FeatureTable>& user_features,
         const std::shared_ptr<FeatureTable>& item_features, const std::string& context_features) {
        FitOptions o;
        o.user_features = user_features.get();
        o.item_features = item_features.get();
        o.context_features = parse_feature_columns(context_features);
        o.model = model;
        o.params = to_params(params);
        o.test_fraction = test_fraction;
        o.update = parse_warm_update(update);
        if (init) {
          // Kept alive by `init` for the whole call.
          o.init = &init->model();
          o.init_name = "init";
        }
        if (split) {
          if (split->data != data) {
            throw py::value_error("the split was made from another data set than the one fitted");
          }
          o.split = &split->split;
        }
        check_fit_options(o);
        std::vector<std::string> notes;
        FitResult result = with_reports(stream, interactive, [&](TrainingReports& reports) {
          // As `latent train --tensorboard`: made before training, removed
          // again when training fails.
          std::optional<TensorBoardLog> board;
          if (tensorboard) board.emplace(*tensorboard);
          o.on_progress = [&](const TrainProgress& p) { reports.on_progress(p); };
          o.on_epoch = [&](const EpochReport& e) {
            reports.on_epoch(e);
            if (board) board->add_epoch(e);
          };
          FitResult r = fit(*data, o);
          if (board) {
            notes = board->add_projector(r.model.model());
            board->commit();
          }
          return r;
        });
        return fit_result(std::move(result), notes);
      },
      py::arg("data").none(false), py::arg("model"), py::arg("params"), py::arg("test_fraction"),
      py::arg("split"), py::arg("stream"), py::arg("interactive"), py::arg("tensorboard"),
      py::arg("init") = nullptr, py::arg("update") = "all", py::arg("user_features") = nullptr,
      py::arg("item_features") = nullptr, py::arg("context_features") = "");
}

// The whole tuning flow of tune.hpp; on_trial(trial dict) runs after each
// trial with the GIL held.
void bind_tune(py::module_& m) {
  m.def(
      "tune",
      [](const std::shared_ptr<BoundSplit>& split, const std::string& model,
         const std::map<std::string, std::string>& fixed,
         const std::map<std::string, std::vector<std::string>>& grid, int trials,
         const std::string& metric, int k, double validation_fraction, bool exclude_rated,
         int threads, const py::object& on_trial,
         const std::shared_ptr<FeatureTable>& user_features,
         const std::shared_ptr<FeatureTable>& item_features, const std::string& context_features) {
        TuneOptions o;
        o.user_features = user_features.get();
        o.item_features = item_features.get();
        o.context_features = parse_feature_columns(context_features);
        o.model = model;
        o.fixed = to_params(fixed);
        o.set_seed(seed_of(o.fixed));
        o.space = search_space_for(model, o.fixed, SearchSpace{grid});
        o.trials = trials;
        o.metric = metric;
        o.k = k;
        o.validation.fraction = validation_fraction;
        o.eval.threads = threads;
        if (exclude_rated) o.eval.also_excluded = &split->data->seen_only;
        check_tune_options(o);
        const TuneReport report = with_reports(py::none(), false, [&](TrainingReports& reports) {
          o.on_trial = [&](const Trial& t) {
            reports.check_signals();
            if (on_trial.is_none()) return;
            py::gil_scoped_acquire gil;
            py::dict params;
            for (const auto& [name, value] : t.params.values()) params[py::str(name)] = value;
            on_trial(py::dict(py::arg("trial") = t.index + 1, py::arg("params") = params,
                              py::arg("value") = t.value, py::arg("seconds") = t.train_seconds));
          };
          return tune_and_test(*split->data, split->split, o);
        });
        const std::string json = report.to_json(*split->data, o).dump();
        return py::make_tuple(std::make_shared<Recommender>(report.best.model), json);
      },
      py::arg("split").none(false), py::arg("model"), py::arg("fixed"), py::arg("grid"),
      py::arg("trials"), py::arg("metric"), py::arg("k"), py::arg("validation_fraction"),
      py::arg("exclude_rated"), py::arg("threads"), py::arg("on_trial"),
      py::arg("user_features").none(true), py::arg("item_features").none(true),
      py::arg("context_features"));
}

}  // namespace

void bind_model(py::module_& m) {
  bind_registry(m);
  bind_fit(m);
  bind_tune(m);
  bind_recommender(m);
}

}  // namespace latent::python
