// Copyright embrt authors.
//
// absl::Status -> Python exceptions. C++ code throws StatusError (never a Python object, so it
// may be thrown while the GIL is released); the translator registered by RegisterStatusErrors
// turns it into the class embrt.errors picks for the canonical code (ValueError for
// INVALID_ARGUMENT, RuntimeError subclasses for the rest), keeping message and code.

#ifndef EMBRT_PYTHON_STATUS_ERRORS_H_
#define EMBRT_PYTHON_STATUS_ERRORS_H_

#include <exception>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "pybind11/pybind11.h"

namespace embrt::python {

class StatusError : public std::exception {
 public:
  explicit StatusError(absl::Status status)
      : status_(std::move(status)), what_(status_.ToString()) {}
  const absl::Status& status() const { return status_; }
  const char* what() const noexcept override { return what_.c_str(); }

 private:
  absl::Status status_;
  std::string what_;
};

inline void ThrowIfError(const absl::Status& status) {
  if (!status.ok()) throw StatusError(status);
}

template <typename T>
T ValueOrThrow(absl::StatusOr<T> value) {
  if (!value.ok()) throw StatusError(value.status());
  return *std::move(value);
}

// Sets the pending Python exception for a failed `status`: the class embrt.errors picks for
// its code, with its message and code (or, if embrt.errors cannot be imported, that failure).
// The GIL must be held. Used by the translator and by embrt._embrt_torch's autograd node.
inline void SetPythonError(const absl::Status& status) {
  const int code = static_cast<int>(status.code());
  const std::string message(status.message());
  try {
    pybind11::object cls = pybind11::module_::import("embrt.errors").attr("error_class")(code);
    pybind11::object exception = cls(message, code);
    PyErr_SetObject(cls.ptr(), exception.ptr());
  } catch (pybind11::error_already_set& import_failure) {
    import_failure.restore();  // a broken install: report that instead of the status
  }
}

// Registers the translator (the classes live in embrt/errors.py, imported on first error).
void RegisterStatusErrors(pybind11::module_& m);

}  // namespace embrt::python

#endif  // EMBRT_PYTHON_STATUS_ERRORS_H_
