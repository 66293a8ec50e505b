// latent._latent: the C++ half of the Python module. Errors from the library
// become Python exceptions by kind: NotFound -> latent.NotFoundError (a
// KeyError), IO -> OSError, everything else (invalid arguments, corrupt or
// unsupported files) -> ValueError.
#include <exception>

#include <latent/error.hpp>
#include <latent/vocabulary.hpp>

#include "bindings.hpp"

namespace latent::python {

namespace {
PyObject* not_found_error = nullptr;
}  // namespace

void bind_errors(py::module_& m) {
  not_found_error = PyErr_NewExceptionWithDoc(
      "latent.NotFoundError", "An id, file or column that does not exist (a KeyError).",
      PyExc_KeyError, nullptr);
  if (not_found_error == nullptr) throw py::error_already_set();
  // KeyError quotes its message as a repr; latent's messages read as text.
  py::handle(not_found_error).attr("__str__") =
      py::module_::import("builtins").attr("BaseException").attr("__str__");
  m.attr("NotFoundError") = py::handle(not_found_error);
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const Error& e) {
      switch (e.kind()) {
        case ErrorKind::NotFound:
          PyErr_SetString(not_found_error, e.what());
          return;
        case ErrorKind::IO:
          PyErr_SetString(PyExc_OSError, e.what());
          return;
        case ErrorKind::InvalidArgument:
        case ErrorKind::Corruption:
        case ErrorKind::Unsupported:
          PyErr_SetString(PyExc_ValueError, e.what());
          return;
      }
      PyErr_SetString(PyExc_ValueError, e.what());
    }
  });
}

std::string id_text(py::handle id, std::string_view what) {
  if (py::isinstance<py::str>(id)) {
    Py_ssize_t size = 0;
    const char* utf8 = PyUnicode_AsUTF8AndSize(id.ptr(), &size);
    if (utf8 == nullptr) {
      // A lone surrogate (from os.fsdecode, or errors="surrogateescape"): no
      // UTF-8 for it, so it can never be an id in a model or a JSON answer.
      PyErr_Clear();
      throw py::value_error(std::string(what) + " " + py::repr(id).cast<std::string>() +
                            " is not valid Unicode text (it holds a lone surrogate); decode "
                            "the bytes it came from with their real encoding");
    }
    return std::string(utf8, static_cast<std::size_t>(size));
  }
  // numpy.integer, looked up once; deliberately never released, so nothing
  // touches it after the interpreter has finalised.
  static PyObject* const numpy_integer =
      py::object(py::module_::import("numpy").attr("integer")).release().ptr();
  if (!py::isinstance<py::bool_>(id) &&
      (py::isinstance<py::int_>(id) || PyObject_IsInstance(id.ptr(), numpy_integer) == 1)) {
    return py::str(py::int_(py::reinterpret_borrow<py::object>(id))).cast<std::string>();
  }
  throw py::value_error(std::string(what) + " " + py::repr(id).cast<std::string>() + " (" +
                        py::str(py::type::of(id).attr("__name__")).cast<std::string>() +
                        ") is not an id: ids are ints or strs");
}

py::list known_ids(const Vocabulary& vocabulary) {
  py::list out(static_cast<std::size_t>(vocabulary.num_known()));
  const bool integer = vocabulary.kind() == Vocabulary::IdKind::Integer;
  std::size_t i = 0;
  for (const std::string& id : vocabulary.ids()) {
    if (integer) {
      out[i++] = py::reinterpret_steal<py::object>(PyLong_FromString(id.c_str(), nullptr, 10));
    } else {
      out[i++] = py::str(id);
    }
  }
  return out;
}

}  // namespace latent::python

PYBIND11_MODULE(_latent, m) {
  m.doc() = "latent's C++ library; use the latent package, not this module";
  latent::python::bind_errors(m);
  latent::python::bind_data(m);
  latent::python::bind_model(m);
}
