// Copyright embrt authors.
//
// A timing aid for bench/python_step.py: runs the same training steps (Enqueue, DequeueInto,
// ApplyGradients with fixed gradients) through the C++ API in a C++ loop, cycling through the
// same batches (converted once), so the benchmark can compare the Python layer against the C++
// API on the very same engine and data.

#include <time.h>

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "bindings.h"
#include "numpy_inputs.h"
#include "py_embedding.h"
#include "status_errors.h"

namespace py = pybind11;

namespace embrt::python {
namespace {

// CPU time of every thread of the process (the backend's pool included), as the benchmark's
// time.process_time() counts it.
double ProcessCpuSeconds() {
  timespec now{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) + 1e-9 * static_cast<double>(now.tv_nsec);
}

}  // namespace

void RegisterBenchSupport(py::module_& m) {
  m.def(
      "_time_cxx_steps",
      [](PyEmbedding& self, const py::sequence& batches, const py::sequence& gradients,
         int steps, int replica) {
        std::vector<HeldInputs> inputs(batches.size());
        for (size_t b = 0; b < inputs.size(); ++b) {
          ConvertFeatures(batches[b], py::none(), self.feature_names(), &inputs[b]);
        }
        if (inputs.empty()) throw py::value_error("batches must not be empty");
        HeldGradients grads;
        ConvertGradients(gradients, self.feature_names(), &grads);
        Embedding& engine = self.engine();
        std::vector<std::vector<float>> outputs(self.feature_names().size());
        std::vector<absl::Span<float>> spans;
        for (size_t f = 0; f < outputs.size(); ++f) {
          outputs[f].resize(engine.output_size(static_cast<int>(f)));
          spans.emplace_back(outputs[f]);
        }
        absl::Status status;
        double seconds = 0, cpu_seconds = 0;
        {
          py::gil_scoped_release release;
          const double cpu_start = ProcessCpuSeconds();
          const auto start = std::chrono::steady_clock::now();
          for (int s = 0; s < steps && status.ok(); ++s) {
            const HeldInputs& batch = inputs[s % inputs.size()];
            status = engine.Enqueue(batch.features, batch.weights, /*training=*/true, replica);
            if (status.ok()) status = engine.DequeueInto(spans, replica);
            if (status.ok()) status = engine.ApplyGradients(grads.views, replica);
          }
          if (status.ok()) status = engine.Synchronize();
          seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
          cpu_seconds = ProcessCpuSeconds() - cpu_start;
        }
        ThrowIfError(status);
        return std::make_pair(seconds, cpu_seconds);
      },
      py::arg("embedding"), py::arg("batches"), py::arg("gradients"), py::arg("steps"),
      py::arg("replica") = 0,
      "(wall, process CPU) seconds of `steps` training steps through the C++ API, cycling "
      "through `batches` (each a list of feature inputs) with fixed gradients, timed around the "
      "loop only (not the conversions and buffers set up before it) (benchmarks).");
}

}  // namespace embrt::python
