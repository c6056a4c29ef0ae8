// Copyright embrt authors.
//
// embrt._embrt: the extension module behind the Python package embrt (python/embrt/).

#include "bindings.h"
#include "pybind11/pybind11.h"
#include "status_errors.h"

PYBIND11_MODULE(_embrt, m) {
  m.doc() = "embrt's C++ API (embrt/embedding.h, checkpoint.h, serving.h); use the package embrt.";
  embrt::python::RegisterStatusErrors(m);
  embrt::python::RegisterConfig(m);
  embrt::python::RegisterEmbedding(m);
  embrt::python::RegisterCheckpoint(m);
  embrt::python::RegisterBenchSupport(m);
}
