// Models: fit (GIL released, the library's Keras-style progress bar written
// to a Python stream, Ctrl-C honoured), and everything a trained Recommender answers, as numpy
// arrays of vocabulary rows that the package maps to ids.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <optional>

#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

#include <latent/error.hpp>
#include <latent/evaluation.hpp>
#include <latent/fit.hpp>
#include <latent/progress.hpp>
#include <latent/recommender.hpp>

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

py::tuple topk_arrays(TopK&& top) {
  const auto q = static_cast<py::ssize_t>(top.queries);
  const auto k = static_cast<py::ssize_t>(top.k);
  return py::make_tuple(adopt(std::move(top.items), {q, k}), adopt(std::move(top.scores), {q, k}));
}

std::vector<std::int32_t> rows_of(const py::handle& rows) {
  if (rows.is_none()) return {};
  const auto a = py::array_t<std::int32_t, py::array::c_style | py::array::forcecast>::ensure(rows);
  if (!a || a.ndim() != 1) throw py::value_error("item rows must be a 1-D integer array");
  return {a.data(), a.data() + a.size()};
}

RecommendOptions recommend_options(int k, bool exclude_seen, const py::handle& allow,
                                   const py::handle& deny, int threads) {
  RecommendOptions o;
  o.k = k;
  o.exclude_seen = exclude_seen;
  o.allow = rows_of(allow);
  o.deny = rows_of(deny);
  o.threads = threads;
  return o;
}

// k must be positive; it is capped at the number of known items, since the
// result is k columns wide whatever the catalog holds (a k of a billion
// would otherwise allocate gigabytes of padding).
int checked_k(const Recommender& r, int k) {
  if (k <= 0) throw Error(ErrorKind::InvalidArgument, "k must be > 0, got " + std::to_string(k));
  return std::min(k, std::max(1, r.model().items.num_known()));
}

// Evaluation needs the split's rows to index the model's vocabularies.
void require_same_vocabularies(const Recommender& r, const Dataset& data) {
  const auto same = [](const Vocabulary& a, const Vocabulary& b) {
    return a.size() == b.size() && std::equal(a.ids().begin(), a.ids().end(), b.ids().begin());
  };
  if (!same(r.model().users, data.users) || !same(r.model().items, data.items)) {
    throw Error(ErrorKind::InvalidArgument,
                "the split's data set has other user or item vocabularies than the model (" +
                    std::to_string(data.users.num_known()) + " users, " +
                    std::to_string(data.items.num_known()) + " items vs the model's " +
                    std::to_string(r.model().users.num_known()) + " and " +
                    std::to_string(r.model().items.num_known()) +
                    "): evaluate on a split of the data the model was trained on");
  }
}

}  // namespace

void bind_model(py::module_& m) {
  m.def("model_names", [] { return model_names(); });
  m.def("check_model_params",
        [](const std::string& model, const std::map<std::string, std::string>& params) {
          return check_model_params(model, to_params(params)).dump();
        });

  using Holder = std::shared_ptr<Recommender>;
  py::class_<Recommender, Holder> rec(m, "Recommender");

  m.def(
      "fit",
      [](const std::shared_ptr<Dataset>& data, const std::string& model,
         const std::map<std::string, std::string>& params, double test_fraction,
         std::uint64_t split_seed, const std::shared_ptr<BoundSplit>& split,
         const py::object& stream, bool interactive) {
        FitOptions o;
        o.model = model;
        o.params = to_params(params);
        o.test_fraction = test_fraction;
        o.split_seed = split_seed;
        if (split) {
          if (split->data != data) {
            throw py::value_error("the split was made from another data set than the one fitted");
          }
          o.split = &split->split;
        }
        if (!(test_fraction >= 0 && test_fraction < 1)) {
          throw Error(ErrorKind::InvalidArgument,
                      "test_fraction " + std::to_string(test_fraction) + " is outside [0, 1)");
        }
        TrainingReports reports(stream, interactive);
        o.on_progress = [&](const TrainProgress& p) { reports.on_progress(p); };
        o.on_epoch = [&](const EpochReport& e) { reports.on_epoch(e); };
        std::optional<FitResult> result;
        try {
          py::gil_scoped_release release;
          result.emplace(fit(*data, o));
        } catch (const PythonErrorPending&) {
          throw py::error_already_set();
        }
        py::list epochs;
        for (const auto& e : result->epochs) epochs.append(epoch_dict(e));
        const std::string metrics = result->metrics_json().dump();
        return py::make_tuple(std::make_shared<Recommender>(std::move(result->model)), epochs,
                              metrics);
      },
      py::arg("data"), py::arg("model"), py::arg("params"), py::arg("test_fraction"),
      py::arg("split_seed"), py::arg("split"), py::arg("stream"), py::arg("interactive"));

  rec.def_static("load",
                 [](const std::filesystem::path& path) {
                   py::gil_scoped_release release;
                   return std::make_shared<Recommender>(Recommender::load(path));
                 })
      .def("save",
           [](const Recommender& r, const std::filesystem::path& path) {
             py::gil_scoped_release release;
             r.save(path);
           })
      .def_property_readonly("kind", [](const Recommender& r) { return r.model().kind; })
      .def_property_readonly("config", [](const Recommender& r) { return r.model().config.dump(); })
      .def_property_readonly("training",
                             [](const Recommender& r) { return r.model().training.dump(); })
      .def_property_readonly("dim", &Recommender::dim)
      .def("user_ids", [](const Recommender& r) { return known_ids(r.model().users); })
      .def("item_ids", [](const Recommender& r) { return known_ids(r.model().items); })
      .def("item_titles", [](const Recommender& r) { return r.model().item_titles; })
      .def("user_row", [](const Recommender& r,
                          const py::handle& id) { return r.user_row(id_text(id, "user id")); })
      .def("item_row",
           [](const Recommender& r, const py::handle& id) {
             return r.item_row(id_text(id, "item id or title"));
           })
      .def("user_rows",
           [](const Recommender& r, const py::iterable& ids) {
             std::vector<std::int32_t> rows;
             for (const py::handle id : ids) rows.push_back(r.user_row(id_text(id, "user id")));
             return adopt(std::move(rows), {static_cast<py::ssize_t>(rows.size())});
           })
      .def("item_rows",
           [](const Recommender& r, const py::iterable& ids) {
             std::vector<std::int32_t> rows;
             for (const py::handle id : ids) {
               rows.push_back(r.item_row(id_text(id, "item id or title")));
             }
             return adopt(std::move(rows), {static_cast<py::ssize_t>(rows.size())});
           })
      .def("known_user_rows",
           [](const Recommender& r) {
             auto rows = r.known_user_rows();
             const auto n = static_cast<py::ssize_t>(rows.size());
             return adopt(std::move(rows), {n});
           })
      .def("seen_count",
           [](const Recommender& r, std::int32_t row) { return r.model().seen.row(row).size(); })
      .def("user_embeddings",
           [](const py::object& self) {
             const Matrix& e = self.cast<const Recommender&>().model().user_embeddings;
             return readonly_view(e.data(), {e.rows(), e.cols()}, self);
           })
      .def("item_embeddings",
           [](const py::object& self) {
             const Matrix& e = self.cast<const Recommender&>().model().item_embeddings;
             return readonly_view(e.data(), {e.rows(), e.cols()}, self);
           })
      .def(
          "recommend",
          [](const Recommender& r,
             const py::array_t<std::int32_t, py::array::c_style | py::array::forcecast>& users,
             int k, bool exclude_seen, const py::object& allow, const py::object& deny,
             int threads) {
            k = checked_k(r, k);
            if (users.ndim() != 1) throw py::value_error("user rows must be a 1-D array");
            const std::vector<std::int32_t> rows(users.data(), users.data() + users.size());
            const RecommendOptions o = recommend_options(k, exclude_seen, allow, deny, threads);
            TopK top;
            {
              py::gil_scoped_release release;
              top = r.recommend(rows, o);
            }
            return topk_arrays(std::move(top));
          },
          py::arg("users"), py::arg("k"), py::arg("exclude_seen"), py::arg("allow"),
          py::arg("deny"), py::arg("threads"))
      .def(
          "recommend_for_items",
          [](const Recommender& r, const py::object& items, int k, bool exclude_seen,
             const py::object& allow, const py::object& deny, int threads) {
            k = checked_k(r, k);
            const std::vector<std::int32_t> rows = rows_of(items);
            const RecommendOptions o = recommend_options(k, exclude_seen, allow, deny, threads);
            TopK top;
            {
              py::gil_scoped_release release;
              top = r.recommend_for_items(rows, o);
            }
            return topk_arrays(std::move(top));
          },
          py::arg("items"), py::arg("k"), py::arg("exclude_seen"), py::arg("allow"),
          py::arg("deny"), py::arg("threads"))
      .def("similar_items",
           [](const Recommender& r, std::int32_t row, int k, int threads) {
             k = checked_k(r, k);
             TopK top;
             {
               py::gil_scoped_release release;
               top = r.similar_items(row, k, threads);
             }
             return topk_arrays(std::move(top));
           })
      .def("similar_pairs",
           [](const Recommender& r, float threshold, int threads) {
             if (!(threshold >= -1.0f && threshold <= 1.0f)) {
               throw Error(ErrorKind::InvalidArgument,
                           "threshold " + std::to_string(threshold) + " is outside [-1, 1]");
             }
             std::vector<SimilarPair> pairs;
             {
               py::gil_scoped_release release;
               pairs = r.similar_pairs(threshold, threads);
             }
             std::vector<std::int32_t> a, b;
             std::vector<float> s;
             a.reserve(pairs.size());
             b.reserve(pairs.size());
             s.reserve(pairs.size());
             for (const auto& p : pairs) {
               a.push_back(p.a);
               b.push_back(p.b);
               s.push_back(p.similarity);
             }
             const auto n = static_cast<py::ssize_t>(pairs.size());
             return py::make_tuple(adopt(std::move(a), {n}), adopt(std::move(b), {n}),
                                   adopt(std::move(s), {n}));
           })
      .def("scores",
           [](const Recommender& r, int threads) {
             const ModelData& md = r.model();
             const py::ssize_t rows = md.users.size();
             const py::ssize_t cols = md.items.size();
             py::array_t<float> out({rows, cols});
             float* dst = out.mutable_data();
             {
               py::gil_scoped_release release;
               r.scores(
                   [&](std::int64_t first, std::int64_t, std::span<const float> block) {
                     std::copy(block.begin(), block.end(), dst + first * cols);
                   },
                   1024, threads);
             }
             return out;
           })
      .def("evaluate", [](const Recommender& r, const BoundSplit& split, const std::vector<int>& ks,
                          bool exclude_train, bool exclude_rated, int threads) {
        require_same_vocabularies(r, *split.data);
        EvaluationOptions o;
        o.ks = ks;
        o.exclude_train = exclude_train;
        if (exclude_rated) o.also_excluded = &split.data->seen_only;
        o.threads = threads;
        const ModelData& md = r.model();
        py::gil_scoped_release release;
        return evaluate(md.user_embeddings, md.item_embeddings, split.split.train, split.split.test,
                        o)
            .to_json()
            .dump();
      });
}

}  // namespace latent::python
