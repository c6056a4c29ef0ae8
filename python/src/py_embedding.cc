// Copyright embrt authors.

#include "py_embedding.h"

#include <cmath>
#include <limits>
#include <string>
#include <utility>

#include "status_errors.h"

namespace py = pybind11;

namespace embrt::python {

PyEmbedding::PyEmbedding(const EmbeddingConfig& config, py::dict schedules,
                         py::object warning_sink)
    : schedules_(std::move(schedules)), warning_sink_(std::move(warning_sink)) {
  EmbeddingOptions options;
  for (auto item : schedules_) {
    const std::string name = py::str(item.first);
    if (!PyCallable_Check(item.second.ptr())) {
      throw py::type_error("learning_rate_schedules['" + name + "'] is not callable");
    }
    PyObject* function = item.second.ptr();  // borrowed: schedules_ owns it
    options.learning_rate_schedules[name] = [function](int64_t step) -> float {
      py::gil_scoped_acquire gil;
      try {
        return py::reinterpret_borrow<py::object>(function)(step).cast<float>();
      } catch (py::error_already_set& error) {
        // The schedule raised: report it and return NaN, which fails ApplyGradients.
        error.discard_as_unraisable("embrt learning-rate schedule");
      } catch (const py::cast_error&) {
        PyErr_SetString(PyExc_TypeError, "an embrt learning-rate schedule must return a float");
        PyErr_WriteUnraisable(function);
      }
      return std::numeric_limits<float>::quiet_NaN();
    };
  }
  if (!warning_sink_.is_none()) {
    if (!PyCallable_Check(warning_sink_.ptr())) {
      throw py::type_error("warning_sink must be callable (or None), got " +
                           std::string(py::str(py::type::of(warning_sink_))));
    }
    PyObject* sink = warning_sink_.ptr();  // borrowed: warning_sink_ owns it
    options.warning_sink = [sink](absl::string_view message) {
      py::gil_scoped_acquire gil;
      try {
        py::reinterpret_borrow<py::object>(sink)(std::string(message));
      } catch (py::error_already_set& error) {
        error.discard_as_unraisable("embrt warning sink");
      }
    };
  }
  absl::StatusOr<std::unique_ptr<Embedding>> created = absl::UnknownError("not created");
  {
    py::gil_scoped_release release;  // loading a plugin can take a while
    created = Embedding::Create(config, std::move(options));
  }
  engine_ = ValueOrThrow(std::move(created));
  for (const ResolvedFeature& feature : engine_->config().features) {
    feature_names_.push_back(feature.name);
  }
}

PyEmbedding::~PyEmbedding() {
  // The engine may wait for its threads, which may be waiting for the GIL in a callback.
  py::gil_scoped_release release;
  engine_.reset();
}

}  // namespace embrt::python
