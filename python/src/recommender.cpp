// The trained model: everything a Recommender answers, as numpy arrays of
// vocabulary rows that the package maps to ids.
#include <fmt/format.h>
#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

#include <latent/error.hpp>
#include <latent/evaluation.hpp>
#include <latent/model_spec.hpp>
#include <latent/recommender.hpp>
#include <latent/tower.hpp>

#include "bindings.hpp"

namespace latent::python {

namespace {

// A new user's or item's features, a dict of name: value, as feature
// values (a list joined by its column's separator).
std::vector<FeatureValue> feature_values(const py::dict& features,
                                         const std::optional<FeatureTower>& tower,
                                         const char* side) {
  std::vector<FeatureValue> out;
  for (const auto& [key, value] : features) {
    if (!py::isinstance<py::str>(key)) {
      throw py::value_error(fmt::format("{} feature names are strs, got {}", side,
                                        py::repr(key).cast<std::string>()));
    }
    const std::string name = key.cast<std::string>();
    const char separator = tower ? tower->encoder.separator_of(name) : '|';
    out.push_back({name, feature_text(value, separator, fmt::format("{} feature {}", side, name))});
  }
  return out;
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
                                   const py::handle& deny, int threads, bool exact, int ef) {
  RecommendOptions o;
  o.k = k;
  o.exclude_seen = exclude_seen;
  o.allow = rows_of(allow);
  o.deny = rows_of(deny);
  o.threads = threads;
  o.exact = exact;
  o.ef = ef;
  return o;
}

// One of the model's indexes as JSON (as `latent info --json` gives it), or
// "null".
std::string index_json(const HnswIndex* index, const std::string& problem) {
  if (index != nullptr) return index->describe().dump();
  if (!problem.empty()) return nlohmann::json{{"problem", problem}}.dump();
  return "null";
}

SimilarOptions similar_options(int k, int threads, bool exact, int ef) {
  SimilarOptions o;
  o.k = k;
  o.threads = threads;
  o.exact = exact;
  o.ef = ef;
  return o;
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

using RecommenderClass = py::class_<Recommender, std::shared_ptr<Recommender>>;

// Loading, saving, what the model is, and ids <-> rows.
void bind_identity(RecommenderClass& rec) {
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
      .def("predict",
           [](const Recommender& r, const std::vector<std::int32_t>& users,
              const std::vector<std::int32_t>& items, int threads) {
             std::vector<float> scores;
             {
               py::gil_scoped_release release;
               scores = r.predict(users, items, threads);
             }
             const auto n = static_cast<py::ssize_t>(scores.size());
             return adopt(std::move(scores), {n});
           })
      .def("predicts_ratings", &Recommender::predicts_ratings)
      .def("seen_count",
           [](const Recommender& r, std::int32_t row) { return r.model().seen.row(row).size(); });
}

// Zero-copy read-only views of the embedding matrices.
void bind_embeddings(RecommenderClass& rec) {
  rec.def("user_embeddings",
          [](const py::object& self) {
            const Matrix& e = self.cast<const Recommender&>().model().user_embeddings;
            return readonly_view(e.data(), {e.rows(), e.cols()}, self);
          })
      .def("item_embeddings", [](const py::object& self) {
        const Matrix& e = self.cast<const Recommender&>().model().item_embeddings;
        return readonly_view(e.data(), {e.rows(), e.cols()}, self);
      });
}

// Top-K for known users, for new users by fold-in, similar items.
void bind_queries(RecommenderClass& rec) {
  rec.def(
         "recommend",
         [](const Recommender& r,
            const py::array_t<std::int32_t, py::array::c_style | py::array::forcecast>& users,
            int k, bool exclude_seen, const py::object& allow, const py::object& deny, int threads,
            bool exact, int ef) {
           if (users.ndim() != 1) throw py::value_error("user rows must be a 1-D array");
           const std::vector<std::int32_t> rows(users.data(), users.data() + users.size());
           const RecommendOptions o =
               recommend_options(k, exclude_seen, allow, deny, threads, exact, ef);
           TopK top;
           {
             py::gil_scoped_release release;
             top = r.recommend(rows, o);
           }
           return topk_arrays(std::move(top));
         },
         py::arg("users"), py::arg("k"), py::arg("exclude_seen"), py::arg("allow"), py::arg("deny"),
         py::arg("threads"), py::arg("exact"), py::arg("ef"))
      .def(
          "recommend_in_context",
          [](const Recommender& r,
             const py::array_t<std::int32_t, py::array::c_style | py::array::forcecast>& users,
             const py::dict& context, int k, bool exclude_seen, const py::object& allow,
             const py::object& deny, int threads, bool exact, int ef) {
            if (users.ndim() != 1) throw py::value_error("user rows must be a 1-D array");
            const std::vector<std::int32_t> rows(users.data(), users.data() + users.size());
            const std::vector<FeatureValue> values =
                feature_values(context, r.model().user_tower, "user");
            const RecommendOptions o =
                recommend_options(k, exclude_seen, allow, deny, threads, exact, ef);
            // One user's query at a time: each is its own vector in the context.
            TopK all;
            {
              py::gil_scoped_release release;
              for (const std::int32_t row : rows) {
                TopK top = r.recommend_in_context(row, values, o);
                all.k = top.k;
                all.queries += top.queries;
                all.items.insert(all.items.end(), top.items.begin(), top.items.end());
                all.scores.insert(all.scores.end(), top.scores.begin(), top.scores.end());
              }
            }
            if (rows.empty()) all.k = effective_k(k, r.model().items.num_known());
            return topk_arrays(std::move(all));
          },
          py::arg("users"), py::arg("context"), py::arg("k"), py::arg("exclude_seen"),
          py::arg("allow"), py::arg("deny"), py::arg("threads"), py::arg("exact"), py::arg("ef"))
      .def(
          "recommend_for_items",
          [](const Recommender& r, const py::object& items, int k, bool exclude_seen,
             const py::object& allow, const py::object& deny, int threads, bool exact, int ef) {
            const std::vector<std::int32_t> rows = rows_of(items);
            const RecommendOptions o =
                recommend_options(k, exclude_seen, allow, deny, threads, exact, ef);
            TopK top;
            {
              py::gil_scoped_release release;
              top = r.recommend_for_items(rows, o);
            }
            return topk_arrays(std::move(top));
          },
          py::arg("items"), py::arg("k"), py::arg("exclude_seen"), py::arg("allow"),
          py::arg("deny"), py::arg("threads"), py::arg("exact"), py::arg("ef"))
      .def("build_index",
           [](Recommender& r, int m, int ef_construction, int ef, std::uint64_t seed, int threads,
              bool similar) {
             HnswParams p;
             p.m = m;
             p.ef_construction = ef_construction;
             p.ef_search = ef;
             p.seed = seed;
             p.threads = threads;
             py::gil_scoped_release release;
             r.build_index(p);
             // Only for a model kind whose item vectors say which items are alike.
             const ModelSpec* spec = find_model_spec(r.model().kind);
             if (similar && (spec == nullptr || spec->item_similarity)) r.build_similar_index(p);
           })
      .def("drop_index", &Recommender::drop_index)
      .def("index_info",
           [](const Recommender& r) { return index_json(r.index(), r.index_problem()); })
      .def("similar_index_info",
           [](const Recommender& r) {
             return index_json(r.similar_index(), r.similar_index_problem());
           })
      .def(
          "recommend_for_features",
          [](const Recommender& r, const py::dict& features, int k, bool exclude_seen,
             const py::object& allow, const py::object& deny, int threads, bool exact, int ef) {
            const std::vector<FeatureValue> values =
                feature_values(features, r.model().user_tower, "user");
            const RecommendOptions o =
                recommend_options(k, exclude_seen, allow, deny, threads, exact, ef);
            TopK top;
            {
              py::gil_scoped_release release;
              top = r.recommend_for_features(values, o);
            }
            return topk_arrays(std::move(top));
          },
          py::arg("features"), py::arg("k"), py::arg("exclude_seen"), py::arg("allow"),
          py::arg("deny"), py::arg("threads"), py::arg("exact"), py::arg("ef"))
      .def("vector_for_features",
           [](const Recommender& r, const std::string& side, const py::dict& features) {
             const bool users = side == "users";
             std::vector<float> v = users ? r.user_vector_from_features(feature_values(
                                                features, r.model().user_tower, "user"))
                                          : r.item_vector_from_features(feature_values(
                                                features, r.model().item_tower, "item"));
             const auto n = static_cast<py::ssize_t>(v.size());
             return adopt(std::move(v), {n});
           })
      .def("similar_to_features",
           [](const Recommender& r, const py::dict& features, int k, int threads, bool exact,
              int ef) {
             const std::vector<FeatureValue> values =
                 feature_values(features, r.model().item_tower, "item");
             TopK top;
             {
               py::gil_scoped_release release;
               top = r.similar_to_features(values, similar_options(k, threads, exact, ef));
             }
             return topk_arrays(std::move(top));
           })
      .def("similar_items",
           [](const Recommender& r, std::int32_t row, int k, int threads, bool exact, int ef) {
             TopK top;
             {
               py::gil_scoped_release release;
               top = r.similar_items(row, similar_options(k, threads, exact, ef));
             }
             return topk_arrays(std::move(top));
           });
}

// All similar pairs, the score matrix, evaluation.
void bind_exports(RecommenderClass& rec) {
  rec.def("similar_pairs",
          [](const Recommender& r, float threshold, int threads, bool exact, int ef) {
            std::vector<SimilarPair> pairs;
            {
              py::gil_scoped_release release;
              pairs = r.similar_pairs(threshold, similar_options(0, threads, exact, ef));
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
        return evaluate(md, split.split.train, split.split.test, o).to_json().dump();
      });
}

}  // namespace

void bind_recommender(py::module_& m) {
  RecommenderClass rec(m, "Recommender");
  bind_identity(rec);
  bind_embeddings(rec);
  bind_queries(rec);
  bind_exports(rec);
}

}  // namespace latent::python
