#pragma once
// Shared pieces of the Python bindings: conversions between Python ids and
// latent's text ids, numpy arrays that adopt C++ vectors, and the bind_*
// functions each source file defines.

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <latent/dataset.hpp>
#include <latent/split.hpp>
#include <latent/vocabulary.hpp>

namespace latent::python {

namespace py = pybind11;

void bind_errors(py::module_& m);
void bind_data(py::module_& m);
void bind_model(py::module_& m);
void bind_recommender(py::module_& m);

// A train/test split with the data set whose vocabularies its rows index.
struct BoundSplit {
  std::shared_ptr<const Dataset> data;
  Split split;
};

// The text of one raw id: a Python str, or an int (Python or numpy, not
// bool). Throws ValueError naming `what` and the value otherwise.
std::string id_text(py::handle id, std::string_view what);

// The text of one feature value (features.hpp): a str as it is, None or a
// float NaN (pandas' missing) as "" (missing), a bool as "true"/"false", a
// number as its shortest text, and a list, tuple or numpy array of strs (a
// multi column's values) joined by `separator`. Throws ValueError naming
// `what` otherwise.
std::string feature_text(py::handle value, char separator, std::string_view what);

// Known ids of a vocabulary in row order (rows 1..n): ints when every id is
// an integer, else strs.
py::list known_ids(const Vocabulary& vocabulary);

// A numpy array of `shape` that takes over `values` without copying; the
// array owns it (through a capsule) and is writeable.
template <typename T>
py::array_t<T> adopt(std::vector<T>&& values, std::vector<py::ssize_t> shape) {
  auto* owner = new std::vector<T>(std::move(values));
  py::capsule capsule(owner, [](void* p) { delete static_cast<std::vector<T>*>(p); });
  return py::array_t<T>(std::move(shape), owner->data(), capsule);
}

// A read-only view of `data` (row-major, of `shape`) whose base is `owner`,
// so the memory stays alive as long as the array does. Only for memory that
// `owner` never changes.
template <typename T>
py::array_t<T> readonly_view(const T* data, std::vector<py::ssize_t> shape, py::handle owner) {
  py::array_t<T> a(std::move(shape), data, owner);
  py::detail::array_proxy(a.ptr())->flags &= ~py::detail::npy_api::NPY_ARRAY_WRITEABLE_;
  return a;
}

}  // namespace latent::python
