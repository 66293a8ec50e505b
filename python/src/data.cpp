// Data sets and splits: from in-memory columns (what the package makes of a
// pandas DataFrame or numpy arrays), from the CSV/MovieLens loaders, and
// back to numpy columns of vocabulary rows.
#include <charconv>
#include <cmath>
#include <optional>

#include <fmt/format.h>
#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

#include <latent/dataset.hpp>
#include <latent/error.hpp>
#include <latent/features.hpp>
#include <latent/split.hpp>

#include "bindings.hpp"

namespace latent::python {

namespace {

std::string where(const std::string& source, const std::string& column, std::size_t row) {
  return source + ": row " + std::to_string(row) + " of column \"" + column + "\"";
}

// A column of raw ids: integer arrays are formatted in C++ (no Python
// object per row); anything else must hold strs or ints.
std::vector<std::string> id_column(const py::handle& values, const std::string& source,
                                   const std::string& column) {
  std::vector<std::string> out;
  if (py::isinstance<py::array>(values)) {
    const auto array = py::reinterpret_borrow<py::array>(values);
    if (array.ndim() != 1) {
      throw py::value_error(source + ": column \"" + column + "\" must be 1-D, got " +
                            std::to_string(array.ndim()) + " dimensions");
    }
    const char dtype = array.dtype().kind();  // numpy's kind letter
    if (dtype == 'i' || dtype == 'u') {
      const auto n = static_cast<std::size_t>(array.size());
      out.reserve(n);
      char buf[24];
      if (dtype == 'i') {
        const auto ints =
            py::array_t<std::int64_t, py::array::c_style | py::array::forcecast>::ensure(values);
        const auto v = ints.unchecked<1>();
        for (std::size_t i = 0; i < n; ++i) {
          const auto r = std::to_chars(buf, buf + sizeof buf, v(static_cast<py::ssize_t>(i)));
          out.emplace_back(buf, r.ptr);
        }
      } else {
        const auto ints =
            py::array_t<std::uint64_t, py::array::c_style | py::array::forcecast>::ensure(values);
        const auto v = ints.unchecked<1>();
        for (std::size_t i = 0; i < n; ++i) {
          const auto r = std::to_chars(buf, buf + sizeof buf, v(static_cast<py::ssize_t>(i)));
          out.emplace_back(buf, r.ptr);
        }
      }
      return out;
    }
  }
  std::size_t row = 0;
  for (const py::handle value : values) {
    out.push_back(id_text(value, where(source, column, row)));
    ++row;
  }
  return out;
}

template <typename T>
std::vector<T> number_column(const py::handle& values, const std::string& source,
                             const std::string& column, std::size_t rows) {
  if (values.is_none()) return {};
  const auto array = py::array_t<T, py::array::c_style | py::array::forcecast>::ensure(values);
  if (!array) {
    throw py::value_error(source + ": column \"" + column + "\" is not numeric");
  }
  if (array.ndim() != 1 || static_cast<std::size_t>(array.size()) != rows) {
    throw py::value_error(source + ": column \"" + column + "\" must be 1-D with " +
                          std::to_string(rows) + " values, got shape " +
                          py::str(array.attr("shape")).cast<std::string>());
  }
  return {array.data(), array.data() + array.size()};
}

Dataset from_columns(const py::object& users, const py::object& items, const py::object& ratings,
                     const py::object& timestamps, const py::object& weights,
                     const py::object& catalog_ids, const py::object& catalog_titles,
                     std::optional<double> rating_above, const std::string& item_key,
                     const std::string& source, const std::map<std::string, std::string>& names,
                     std::vector<std::pair<std::string, std::vector<std::string>>> context) {
  ColumnData c;
  c.source = source;
  const auto name = [&](const char* role, std::string& out) {
    if (const auto it = names.find(role); it != names.end()) out = it->second;
  };
  name("user", c.user_name);
  name("item", c.item_name);
  name("rating", c.rating_name);
  name("timestamp", c.timestamp_name);
  name("weight", c.weight_name);
  name("catalog", c.catalog_source);
  name("catalog_id", c.catalog_id_name);
  name("catalog_title", c.catalog_title_name);
  c.users = id_column(users, source, c.user_name);
  c.items = id_column(items, source, c.item_name);
  c.ratings = number_column<double>(ratings, source, c.rating_name, c.users.size());
  c.timestamps = number_column<std::int64_t>(timestamps, source, c.timestamp_name, c.users.size());
  c.weights = number_column<double>(weights, source, c.weight_name, c.users.size());
  for (auto& [column, values] : context) c.context.push_back({column, std::move(values)});
  if (!catalog_ids.is_none()) {
    c.catalog_ids = id_column(catalog_ids, c.catalog_source, c.catalog_id_name);
    std::size_t row = 0;
    for (const py::handle title : catalog_titles) {
      if (!py::isinstance<py::str>(title)) {
        throw py::value_error(where(c.catalog_source, c.catalog_title_name, row) + ": " +
                              py::repr(title).cast<std::string>() + " is not a str title");
      }
      c.catalog_titles.push_back(title.cast<std::string>());
      ++row;
    }
  }
  c.rating_above = rating_above;
  c.item_key = parse_item_key(item_key);
  py::gil_scoped_release release;
  return dataset_from_columns(c);
}

// The rows and optional columns of interactions as read-only numpy views
// (no copy) kept alive by `owner`, the immutable Dataset or Split holding x.
py::dict columns(const Interactions& x, py::handle owner) {
  py::dict d;
  const auto column = [&](const char* key, const auto& v, bool optional) {
    if (optional && v.empty()) {
      d[key] = py::none();
    } else {
      d[key] = readonly_view(v.data(), {static_cast<py::ssize_t>(v.size())}, owner);
    }
  };
  column("user", x.users, false);
  column("item", x.items, false);
  column("rating", x.ratings, true);
  column("timestamp", x.timestamps, true);
  column("weight", x.weights, true);
  // Context columns: lists of str, by name.
  py::dict context;
  for (const ContextColumn& c : x.context) context[py::str(c.name)] = py::cast(c.values);
  d["context"] = context;
  return d;
}

char delimiter_char(const std::string& s) {
  if (s.empty()) return 0;
  if (s == "\t" || s == "tab" || s == "\\t") return '\t';
  if (s.size() == 1) return s[0];
  throw Error(ErrorKind::InvalidArgument,
              "delimiter \"" + s + "\" must be one character or \"tab\"");
}

// The Dataset class, and making one from in-memory columns.
void bind_dataset(py::module_& m) {
  py::class_<Dataset, std::shared_ptr<Dataset>>(m, "Dataset")
      .def_property_readonly("description", [](const Dataset& d) { return d.description; })
      .def_property_readonly("rows_read", [](const Dataset& d) { return d.rows_read; })
      .def("__len__", [](const Dataset& d) { return d.interactions.size(); })
      .def_property_readonly("seen_only_pairs", [](const Dataset& d) { return d.seen_only.size(); })
      .def("user_ids", [](const Dataset& d) { return known_ids(d.users); })
      .def("item_ids", [](const Dataset& d) { return known_ids(d.items); })
      .def("item_titles", [](const Dataset& d) { return d.item_titles; })
      .def("columns", [](const py::object& self) {
        return columns(self.cast<const Dataset&>().interactions, self);
      });

  m.def(
      "dataset_from_columns",
      [](const py::object& users, const py::object& items, const py::object& ratings,
         const py::object& timestamps, const py::object& weights, const py::object& catalog_ids,
         const py::object& catalog_titles, std::optional<double> rating_above,
         const std::string& item_key, const std::string& source,
         const std::map<std::string, std::string>& names,
         std::vector<std::pair<std::string, std::vector<std::string>>> context) {
        return std::make_shared<Dataset>(from_columns(users, items, ratings, timestamps, weights,
                                                      catalog_ids, catalog_titles, rating_above,
                                                      item_key, source, names, std::move(context)));
      },
      py::arg("users"), py::arg("items"), py::arg("ratings"), py::arg("timestamps"),
      py::arg("weights"), py::arg("catalog_ids"), py::arg("catalog_titles"),
      py::arg("rating_above"), py::arg("item_key"), py::arg("source"), py::arg("names"),
      py::arg("context") = std::vector<std::pair<std::string, std::vector<std::string>>>());
}

// Making a Dataset (and with a test file, its Split) with the library's
// file loaders.
void bind_loading(py::module_& m) {
  m.def(
      "load_dataset",
      [](const std::filesystem::path& data, const std::string& format, const std::string& delimiter,
         bool header, const std::string& user_col, const std::string& item_col,
         const std::string& rating_col, const std::string& timestamp_col,
         const std::string& weight_col, const std::filesystem::path& items_file,
         const std::string& items_id_col, const std::string& items_title_col,
         std::optional<double> rating_above, const std::string& item_key,
         const std::filesystem::path& test_file,
         const std::vector<std::string>& context_cols) -> py::tuple {
        LoadOptions o;
        o.data = data;
        o.format = parse_data_format(format);
        o.delimiter = delimiter_char(delimiter);
        o.header = header;
        o.user_col = user_col;
        o.item_col = item_col;
        o.rating_col = rating_col;
        o.timestamp_col = timestamp_col;
        o.weight_col = weight_col;
        o.items_file = items_file;
        o.items_id_col = items_id_col;
        o.items_title_col = items_title_col;
        o.rating_above = rating_above;
        o.item_key = parse_item_key(item_key);
        o.context_cols = context_cols;
        // With a test file: the data and its split, read together
        // (load_train_test); else the data alone and no split.
        std::shared_ptr<Dataset> dataset;
        auto split = std::make_shared<BoundSplit>();
        {
          py::gil_scoped_release release;
          if (test_file.empty()) {
            dataset = std::make_shared<Dataset>(load_dataset(o));
          } else {
            TrainTestData loaded = load_train_test(o, test_file);
            dataset = std::make_shared<Dataset>(std::move(loaded.data));
            split->split = std::move(loaded.split);
          }
        }
        if (test_file.empty()) return py::make_tuple(dataset, py::none());
        split->data = dataset;
        return py::make_tuple(dataset, split);
      },
      py::arg("data"), py::arg("format"), py::arg("delimiter"), py::arg("header"),
      py::arg("user_col"), py::arg("item_col"), py::arg("rating_col"), py::arg("timestamp_col"),
      py::arg("weight_col"), py::arg("items_file"), py::arg("items_id_col"),
      py::arg("items_title_col"), py::arg("rating_above"), py::arg("item_key"),
      py::arg("test_file"), py::arg("context_cols") = std::vector<std::string>());
}

// The Split class, and making or reading one of a Dataset.
void bind_splits(py::module_& m) {
  py::class_<BoundSplit, std::shared_ptr<BoundSplit>>(m, "Split")
      .def("columns",
           [](const py::object& self, const std::string& side) {
             const BoundSplit& s = self.cast<const BoundSplit&>();
             if (side == "train") return columns(s.split.train, self);
             if (side == "test") return columns(s.split.test, self);
             throw py::value_error("side must be \"train\" or \"test\", got \"" + side + "\"");
           })
      .def("sizes",
           [](const BoundSplit& s) {
             return py::make_tuple(s.split.train.size(), s.split.test.size());
           })
      .def("write", [](const BoundSplit& s, const std::filesystem::path& dir) {
        write_split(dir, s.split, s.data->users, s.data->items);
      });

  m.def(
      "make_split",
      [](std::shared_ptr<Dataset> data, const std::string& method, double fraction, int k,
         std::uint64_t seed) {
        SplitSpec spec;
        spec.method = parse_split_method(method);
        spec.fraction = fraction;
        spec.k = k;
        spec.seed = seed;
        auto s = std::make_shared<BoundSplit>();
        {
          py::gil_scoped_release release;
          s->split = make_split(data->interactions, spec, data->users);
        }
        s->data = std::move(data);
        return s;
      },
      py::arg("data").none(false), py::arg("method"), py::arg("fraction"), py::arg("k"),
      py::arg("seed"));

  m.def(
      "read_split",
      [](std::shared_ptr<Dataset> data, const std::filesystem::path& dir) {
        auto s = std::make_shared<BoundSplit>();
        s->split = read_split(dir, data->users, data->items);
        require_train_for_test_users(s->split, data->users);
        s->data = std::move(data);
        return s;
      },
      py::arg("data").none(false), py::arg("dir"));
}

}  // namespace

std::string feature_text(py::handle value, char separator, std::string_view what) {
  if (value.is_none()) return "";
  if (py::isinstance<py::str>(value)) return value.cast<std::string>();
  if (py::isinstance<py::bool_>(value) || PyBool_Check(value.ptr())) {
    return value.cast<bool>() ? "true" : "false";
  }
  if (py::isinstance<py::float_>(value) ||
      py::isinstance(value, py::module_::import("numpy").attr("floating"))) {
    const double v = value.cast<double>();
    if (std::isnan(v)) return "";
    return py::str(py::float_(v)).cast<std::string>();
  }
  if (py::isinstance<py::int_>(value) ||
      py::isinstance(value, py::module_::import("numpy").attr("integer"))) {
    return py::str(py::int_(py::reinterpret_borrow<py::object>(value))).cast<std::string>();
  }
  if (py::isinstance<py::list>(value) || py::isinstance<py::tuple>(value) ||
      py::isinstance<py::array>(value)) {
    std::string out;
    bool first = true;
    for (const py::handle v : value) {
      if (!py::isinstance<py::str>(v)) {
        throw py::value_error(
            fmt::format("{}: a list of feature values holds {} ({}); a "
                        "multi column's values are strs",
                        what, py::repr(v).cast<std::string>(),
                        py::type::of(v).attr("__name__").cast<std::string>()));
      }
      if (!first) out.push_back(separator);
      first = false;
      out += v.cast<std::string>();
    }
    return out;
  }
  throw py::value_error(
      fmt::format("{}: feature value {} ({}) is not a str, number, bool, list of strs or None",
                  what, py::repr(value).cast<std::string>(),
                  py::type::of(value).attr("__name__").cast<std::string>()));
}

namespace {

// The features of a DataFrame's rows: ids (one per row) and each declared
// column's values, as a FeatureTable named `source`.
std::shared_ptr<FeatureTable> feature_table(const std::string& declaration, const py::list& ids,
                                            const py::list& columns, const std::string& source) {
  auto t = std::make_shared<FeatureTable>();
  t->columns = parse_feature_columns(declaration);
  t->source = source;
  if (columns.size() != t->columns.size()) {
    throw py::value_error(fmt::format("{}: {} columns of values for {} declared", source,
                                      columns.size(), t->columns.size()));
  }
  for (const py::handle id : ids) t->ids.push_back(id_text(id, source + " id"));
  t->values.resize(t->columns.size());
  for (std::size_t c = 0; c < t->columns.size(); ++c) {
    const FeatureColumn& col = t->columns[c];
    const py::list values = columns[c].cast<py::list>();
    if (values.size() != t->ids.size()) {
      throw py::value_error(fmt::format("{}: column {} has {} values for {} ids", source, col.name,
                                        values.size(), t->ids.size()));
    }
    t->values[c].reserve(values.size());
    std::size_t r = 0;
    for (const py::handle v : values) {
      t->values[c].push_back(feature_text(
          v, col.separator, fmt::format("{}: column {}, row {}", source, col.name, r)));
      ++r;
    }
  }
  return t;
}

}  // namespace

void bind_data(py::module_& m) {
  py::class_<FeatureTable, std::shared_ptr<FeatureTable>>(m, "FeatureTable")
      .def_property_readonly("source", [](const FeatureTable& t) { return t.source; })
      .def("__len__", [](const FeatureTable& t) { return t.ids.size(); });
  m.def("feature_table", &feature_table, py::arg("declaration"), py::arg("ids"), py::arg("columns"),
        py::arg("source"));
  m.def(
      "load_side_features",
      [](const std::string& declaration, const std::string& side, const std::filesystem::path& file,
         const std::string& id_column, const std::filesystem::path& data) {
        return std::make_shared<FeatureTable>(load_side_features(
            declaration, side == "users" ? FeatureSide::Users : FeatureSide::Items, file, id_column,
            data));
      },
      py::arg("declaration"), py::arg("side"), py::arg("file"), py::arg("id_column"),
      py::arg("data"));
  // Dataset is registered before the functions that return it, so their
  // signatures name it.
  bind_dataset(m);
  bind_loading(m);
  bind_splits(m);
}

}  // namespace latent::python
