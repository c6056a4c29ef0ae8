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
      SetPythonError(error.status());
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
