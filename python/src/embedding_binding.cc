// Copyright embrt authors.
//
// embrt._embrt.Embedding: embrt::Embedding one to one. Every call that can block or run long
// (Create, Build, Enqueue, Dequeue, ApplyGradients, Synchronize, table retrieval) releases the
// GIL, so replicas can be driven from Python threads. Inputs are converted while the GIL is held
// (numpy_inputs.h) and borrowed by the C++ call; Dequeue writes into a numpy buffer it reuses
// while no earlier result views it (output_buffers.h), or into the caller's `out`, so
// activations are never copied.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "bindings.h"
#include "embrt/checkpoint.h"
#include "embrt/embedding.h"
#include "embrt/embedding_tables.h"
#include "numpy_inputs.h"
#include "py_embedding.h"
#include "pybind11/numpy.h"
#include "pybind11/stl.h"
#include "status_errors.h"

namespace py = pybind11;

namespace embrt::python {
namespace {

void CheckBuilt(Embedding& engine, const char* call) {
  if (!engine.built()) {
    throw StatusError(absl::FailedPreconditionError(absl::StrCat(call, " before build()")));
  }
}

void Enqueue(PyEmbedding& self, const py::sequence& features, const py::object& weights,
             bool training, int replica) {
  HeldInputs held;
  ConvertFeatures(features, weights, self.feature_names(), &held);
  absl::Status status;
  {
    py::gil_scoped_release release;
    status = self.engine().Enqueue(held.features, held.weights, training, replica);
  }
  ThrowIfError(status);
}

// Dequeues into one reused buffer, never one that a live array still views (output_buffers.h).
// `stacked`: refused before dequeuing unless one array can view every feature.
py::array_t<float> DequeueIntoKeptBuffer(PyEmbedding& self, int replica, bool stacked) {
  std::vector<absl::Span<float>> spans;  // per call: replicas may dequeue from several threads
  py::array_t<float> buffer = self.output_buffers().Acquire(self.engine(), replica, &spans);
  if (stacked && !self.output_buffers().stackable()) {
    throw py::value_error("a stacked dequeue needs at least one feature and one activation "
                          "shape for all of them");
  }
  absl::Status status;
  {
    py::gil_scoped_release release;
    status = self.engine().DequeueInto(spans, replica);
  }
  ThrowIfError(status);
  return buffer;
}

py::list Dequeue(PyEmbedding& self, int replica, const py::object& out) {
  Embedding& engine = self.engine();
  CheckBuilt(engine, "dequeue");
  if (out.is_none()) {
    return self.output_buffers().Views(replica, DequeueIntoKeptBuffer(self, replica, false));
  }
  const ResolvedConfig& config = engine.config();
  const size_t count = config.features.size();
  std::vector<absl::Span<float>> spans;
  spans.reserve(count);
  py::sequence given = py::reinterpret_borrow<py::sequence>(out);
  if (given.size() != count) {
    throw py::value_error(absl::StrCat("out must hold one array per feature: got ",
                                       given.size(), " for ", count, " features"));
  }
  py::list arrays;
  for (size_t f = 0; f < count; ++f) {
    const int64_t size = engine.output_size(static_cast<int>(f));
    float* data = CheckOutputBuffer(given[f], size,
                                    absl::StrCat("feature '", config.features[f].name, "'"));
    spans.emplace_back(data, static_cast<size_t>(size));
    arrays.append(given[f]);
  }
  absl::Status status;
  {
    py::gil_scoped_release release;
    status = engine.DequeueInto(spans, replica);
  }
  ThrowIfError(status);
  return arrays;
}

void ApplyGradients(PyEmbedding& self, const py::sequence& gradients, int replica) {
  HeldGradients held;
  ConvertGradients(gradients, self.feature_names(), &held);
  absl::Status status;
  {
    py::gil_scoped_release release;
    status = self.engine().ApplyGradients(held.views, replica);
  }
  ThrowIfError(status);
}

template <typename Function>
auto WithoutGil(Function&& function) {
  py::gil_scoped_release release;
  return function();
}

// Tables as read-only numpy arrays viewing `tables`' storage (kept alive by the arrays).
py::dict TablesToDict(EmbeddingTables tables) {
  auto owner_tables = std::make_shared<EmbeddingTables>(std::move(tables));
  py::capsule owner(new std::shared_ptr<EmbeddingTables>(owner_tables), [](void* p) {
    delete static_cast<std::shared_ptr<EmbeddingTables>*>(p);
  });
  py::dict result;
  for (const HostTable& table : owner_tables->tables()) {
    py::dict slots;
    for (size_t s = 0; s < table.slots.size(); ++s) {
      py::array_t<float> array({static_cast<ssize_t>(table.rows), static_cast<ssize_t>(table.dim)},
                               table.slots[s].data(), owner);
      array.attr("setflags")(py::arg("write") = false);
      slots[py::str(table.slot_names[s])] = std::move(array);
    }
    result[py::str(table.name)] = std::move(slots);
  }
  return result;
}

py::dict BackendInfoDict(const BackendInfo& backend) {
  py::dict attributes;
  for (const auto& [key, value] : backend.attributes) attributes[py::str(key)] = value;
  py::dict info;
  info["path"] = backend.path;
  info["attributes"] = std::move(attributes);
  return info;
}

}  // namespace

py::dict TablesOf(EmbeddingTables tables) { return TablesToDict(std::move(tables)); }

void RegisterEmbedding(py::module_& m) {
  py::class_<PyEmbedding>(m, "Embedding", R"doc(
The C++ embrt::Embedding. Use embrt.Embedding, which accepts dicts and feature mappings.
)doc")
      .def(py::init([](const std::string& config, const std::string& source,
                       const std::string& backend, py::dict schedules, py::object sink) {
             EmbeddingConfig parsed = ParseConfig(config, source);
             if (!backend.empty()) parsed.mutable_backend()->set_name(backend);
             return std::make_unique<PyEmbedding>(parsed, std::move(schedules), std::move(sink));
           }),
           py::arg("config"), py::arg("source") = "text", py::arg("backend") = "",
           py::arg("learning_rate_schedules") = py::dict(),
           py::arg("warning_sink") = py::none())
      .def(
          "_native_handle",
          [](PyEmbedding& self) { return py::capsule(&self, "embrt.python.PyEmbedding"); },
          "A capsule with the C++ object, for embrt._embrt_torch (valid while this object is).")
      .def(
          "build",
          [](PyEmbedding& self, int batch_size,
             std::optional<std::vector<std::vector<int64_t>>> shapes) {
            absl::Status status;
            {
              py::gil_scoped_release release;
              status = shapes ? self.engine().BuildWithOutputShapes(*shapes)
                              : self.engine().Build(batch_size);
            }
            ThrowIfError(status);
          },
          py::arg("per_replica_batch_size") = 0, py::arg("output_shapes") = py::none(),
          R"doc(Creates the engine for a per-replica batch size (0: the config's), or for explicit
per-feature output shapes (without dim). A second build raises FailedPreconditionError.)doc")
      .def_property_readonly("built", [](PyEmbedding& self) { return self.engine().built(); },
                             "Whether build() has run.")
      .def("enqueue", &Enqueue, py::arg("features"), py::arg("weights") = py::none(),
           py::arg("training") = true, py::arg("replica") = 0,
           "Submits one step's ids for `replica`: one input per feature, in config order.")
      .def("dequeue", &Dequeue, py::arg("replica") = 0, py::arg("out") = py::none(),
           "Waits for `replica`'s lookup; returns one float32 array per feature.")
      .def(
          "_dequeue_stacked",
          [](PyEmbedding& self, int replica) {
            CheckBuilt(self.engine(), "dequeue");
            return self.output_buffers().StackedView(
                replica, DequeueIntoKeptBuffer(self, replica, /*stacked=*/true));
          },
          py::arg("replica") = 0,
          "dequeue() as one array [features] + output_shape + [dim] viewing the same buffer "
          "(embrt.torch's stacked=True); every feature must have the same shape.")
      .def("apply_gradients", &ApplyGradients, py::arg("gradients"), py::arg("replica") = 0,
           "Sends `replica`'s gradients, one array (or None) per feature.")
      .def(
          "synchronize",
          [](PyEmbedding& self) {
            ThrowIfError(WithoutGil([&] { return self.engine().Synchronize(); }));
          },
          "Waits for all submitted work; raises a deferred backend error.")
      .def_property(
          "step", [](PyEmbedding& self) { return self.engine().step(); },
          [](PyEmbedding& self, int64_t step) {
            // A negative step would only fail later, at the next save_checkpoint.
            if (step < 0) throw py::value_error(absl::StrCat("step must be >= 0, got ", step));
            self.engine().set_step(step);
          },
          "Completed training steps (every replica applied its gradients).")
      .def_property_readonly("feature_names", &PyEmbedding::feature_names,
                             "Feature names, in config order (the order of every list).")
      .def_property_readonly(
          "table_names",
          [](PyEmbedding& self) {
            std::vector<std::string> names;
            for (const ResolvedTable& t : self.engine().config().tables) names.push_back(t.name);
            return names;
          },
          "Table names, in table order.")
      .def_property_readonly(
          "feature_dims",
          [](PyEmbedding& self) {
            const ResolvedConfig& config = self.engine().config();
            std::vector<int> dims;
            for (const ResolvedFeature& f : config.features) {
              dims.push_back(config.tables[f.table_index].dim);
            }
            return dims;
          },
          "Each feature's embedding dim, in config order.")
      .def(
          "output_shape",
          [](PyEmbedding& self, int feature) {
            CheckBuilt(self.engine(), "output_shape");
            if (feature < 0 || feature >= static_cast<int>(self.feature_names().size())) {
              throw py::index_error(absl::StrCat("feature index ", feature, " out of range"));
            }
            const ResolvedConfig& config = self.engine().config();
            std::vector<int64_t> shape = self.engine().output_shape(feature);
            shape.push_back(config.tables[config.features[feature].table_index].dim);
            return py::tuple(py::cast(shape));
          },
          py::arg("feature"), "The shape of a feature's activations (output_shape + [dim]).")
      .def_property_readonly(
          "backend", [](PyEmbedding& self) { return BackendInfoDict(self.engine().backend()); },
          "The loaded backend: {'path': shared object, 'attributes': {name: text}}.")
      .def_property_readonly(
          "config_text",
          [](PyEmbedding& self) { return self.engine().config().config.DebugString(); },
          "The config as given, in protobuf text format.")
      .def(
          "tables",
          [](PyEmbedding& self) {
            absl::StatusOr<EmbeddingTables> tables = absl::UnknownError("");
            {
              py::gil_scoped_release release;
              tables = EmbeddingTables::FromEmbedding(self.engine());
            }
            return TablesToDict(ValueOrThrow(std::move(tables)));
          },
          R"doc(Every table and optimizer slot after all submitted work, copied to the host once:
{table: {slot: read-only float32 array [rows, dim]}}, slots in SlotNames order
("parameters" first).)doc")
      .def(
          "host_barrier",
          [](PyEmbedding& self) {
            ThrowIfError(WithoutGil([&] { return self.engine().HostBarrier(); }));
          },
          "Multi-host engines: returns once every host called it and finished its work.")
      .def(
          "all_gather_from_hosts",
          [](PyEmbedding& self, const std::string& local) {
            absl::StatusOr<std::vector<std::string>> gathered = absl::UnknownError("");
            {
              py::gil_scoped_release release;
              gathered = self.engine().AllGatherFromHosts(local);
            }
            py::list result;
            for (const std::string& bytes : ValueOrThrow(std::move(gathered))) {
              result.append(py::bytes(bytes));
            }
            return result;
          },
          py::arg("local"),
          "Multi-host engines: every host's `local` bytes, in host order (one host: [local]).")
      .def(
          "save_checkpoint",
          [](PyEmbedding& self, const std::string& root, int keep_last, bool write_text_manifest,
             const std::string& created_by) {
            CheckpointOptions options;
            options.keep_last = keep_last;
            options.write_text_manifest = write_text_manifest;
            options.created_by = created_by.empty() ? "embrt python" : created_by;
            absl::StatusOr<std::string> path = absl::UnknownError("");
            {
              py::gil_scoped_release release;
              path = SaveCheckpoint(self.engine(), root, options);
            }
            return ValueOrThrow(std::move(path));
          },
          py::arg("root"), py::arg("keep_last") = 0, py::arg("write_text_manifest") = true,
          py::arg("created_by") = "",
          "Writes every table and slot as root/ckpt-<step>; returns the checkpoint's path.")
      .def(
          "restore_checkpoint",
          [](PyEmbedding& self, const std::string& path, int verify_threads) {
            RestoreOptions options;
            options.verify_threads = verify_threads;
            ThrowIfError(
                WithoutGil([&] { return RestoreCheckpoint(self.engine(), path, options); }));
          },
          py::arg("path_or_root"), py::arg("verify_threads") = 0,
          "Restores from a checkpoint directory, or the one root/latest names. Sets the step.\n"
          "verify_threads: threads that verify the files before a restore into trained tables\n"
          "(0: one per CPU, at most 8); the result does not depend on it.");
}

}  // namespace embrt::python
