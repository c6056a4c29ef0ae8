// Copyright embrt authors.

#include "status_errors.h"

#include <string>

namespace py = pybind11;

namespace embrt::python {

void RegisterStatusErrors(py::module_& m) {
  py::register_exception_translator([](std::exception_ptr pointer) {
    try {
      if (pointer) std::rethrow_exception(pointer);
    } catch (const StatusError& error) {
      const int code = static_cast<int>(error.status().code());
      const std::string message(error.status().message());
      try {
        py::object cls = py::module_::import("embrt.errors").attr("error_class")(code);
        py::object exception = cls(message, code);
        PyErr_SetObject(cls.ptr(), exception.ptr());
      } catch (py::error_already_set& import_failure) {
        // embrt.errors itself failed (a broken install): report that instead of the status.
        import_failure.restore();
      }
    }
  });
  m.def(
      "_raise_status",
      [](int code, const std::string& message) {
        throw StatusError(absl::Status(static_cast<absl::StatusCode>(code), message));
      },
      "Raises the exception a failed absl::Status with this code and message becomes (tests).");
}

}  // namespace embrt::python
