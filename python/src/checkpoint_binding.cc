// Copyright embrt authors.
//
// Checkpoints without an engine: ServingLookup (CPU serving straight from a checkpoint, no
// plugin) and the tables of a checkpoint as memory-mapped, read-only numpy arrays.

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "bindings.h"
#include "embrt/embedding_tables.h"
#include "embrt/serving.h"
#include "numpy_inputs.h"
#include "pybind11/numpy.h"
#include "pybind11/stl.h"
#include "status_errors.h"

namespace py = pybind11;

namespace embrt::python {
namespace {

std::vector<std::string> FeatureNames(const ServingLookup& serving) {
  std::vector<std::string> names;
  for (const ResolvedFeature& f : serving.config().features) names.push_back(f.name);
  return names;
}

int FeatureIndex(const ServingLookup& serving, const py::handle& feature) {
  if (py::isinstance<py::str>(feature)) {
    const std::string name = py::str(feature);
    const int index = serving.FindFeature(name);
    if (index < 0) {
      throw StatusError(absl::InvalidArgumentError(
          absl::StrCat("the checkpoint has no feature '", name, "'")));
    }
    return index;
  }
  const int index = feature.cast<int>();
  if (index < 0 || index >= static_cast<int>(serving.config().features.size())) {
    throw py::index_error(absl::StrCat("feature index ", index, " out of range"));
  }
  return index;
}

}  // namespace

void RegisterCheckpoint(py::module_& m) {
  py::class_<ServingLookup>(m, "ServingLookup", R"doc(
Embedding lookups on the CPU straight from a checkpoint, without a backend plugin: the tables
are memory-mapped read-only. Semantics are TF's newest serving lookup (embrt/serving.h): dense
ids give one row per id; sparse and ragged bags are combined with the table's combiner.
Thread-safe: lookups release the GIL and may run from many threads.

    serving = embrt.ServingLookup("/ckpts/model")
    user = serving.lookup_feature("history", (row_splits, ids))
)doc")
      .def(py::init([](const std::string& path, bool verify_checksums, int verify_threads,
                       int64_t max_output_floats) {
             ServingOptions options;
             options.verify_checksums = verify_checksums;
             options.verify_threads = verify_threads;
             options.max_output_floats = max_output_floats;
             absl::StatusOr<std::unique_ptr<ServingLookup>> opened = absl::UnknownError("");
             {
               py::gil_scoped_release release;
               opened = ServingLookup::Open(path, options);
             }
             return ValueOrThrow(std::move(opened));
           }),
           py::arg("path_or_root"), py::arg("verify_checksums") = true,
           py::arg("verify_threads") = 0,
           py::arg("max_output_floats") = ServingOptions().max_output_floats,
           "Opens a checkpoint directory, or the one root/latest names, verifying every file on "
           "verify_threads threads (0: one per CPU, at most 8). A lookup that would return more "
           "than max_output_floats floats raises ValueError.")
      .def_property_readonly("step", &ServingLookup::step, "The checkpoint's step.")
      .def_property_readonly("feature_names", &FeatureNames, "Features, in config order.")
      .def(
          "lookup",
          [](const ServingLookup& self, const py::sequence& features, const py::object& weights) {
            HeldInputs held;
            ConvertFeatures(features, weights, FeatureNames(self), &held);
            absl::StatusOr<std::vector<Tensor>> result = absl::UnknownError("");
            {
              py::gil_scoped_release release;
              result = self.Lookup(held.features, held.weights);
            }
            std::vector<Tensor> tensors = ValueOrThrow(std::move(result));
            py::list arrays;
            for (Tensor& t : tensors) arrays.append(TensorToNumpy(std::move(t)));
            return arrays;
          },
          py::arg("features"), py::arg("weights") = py::none(),
          "Looks up every feature (inputs in config order); returns one array per feature.")
      .def(
          "lookup_feature",
          [](const ServingLookup& self, const py::handle& feature, const py::handle& input,
             const py::handle& weights) {
            const int index = FeatureIndex(self, feature);
            HeldInputs held;
            ConvertOneFeature(input, weights, self.config().features[index].name, &held);
            absl::StatusOr<Tensor> result = absl::UnknownError("");
            {
              py::gil_scoped_release release;
              result = self.LookupFeature(index, held.features[0], held.weights[0]);
            }
            return TensorToNumpy(ValueOrThrow(std::move(result)));
          },
          py::arg("feature"), py::arg("input"), py::arg("weights") = py::none(),
          "Looks up one feature, by name or index.");

  m.def(
      "tables_from_checkpoint",
      [](const std::string& path) {
        absl::StatusOr<EmbeddingTables> tables = absl::UnknownError("");
        {
          py::gil_scoped_release release;
          tables = EmbeddingTables::FromCheckpoint(path);
        }
        return TablesOf(ValueOrThrow(std::move(tables)));
      },
      py::arg("path_or_root"),
      R"doc(Every table and slot of a checkpoint, verified and memory-mapped (no copy):
{table: {slot: read-only float32 array [rows, dim]}}.)doc");
}

}  // namespace embrt::python
