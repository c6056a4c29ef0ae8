// Copyright embrt authors.
//
// embrt._embrt_torch: the training step of embrt.torch.EmbeddingCollection in C++.
//
// The pure Python path (embrt/torch.py's _Lookup) pays, per feature and step, a Tensor.numpy()
// for the ids, a torch.from_numpy for the activation, Python autograd bookkeeping and a numpy()
// for the gradient: 0.7-1 ms for the 26 features of bench/python_step.py's DLRM step (20-33% of
// it) once the step's table work has pushed torch's code and data out of the caches (see
// bench/README.md, "A training step from Python"). Here one call reads the id tensors in
// place, enqueues, dequeues into a reused torch buffer and returns one tensor per feature whose
// grad_fn is a C++ autograd node; that node hands the gradients to ApplyGradients in place. The
// results are the same bits: the same C++ calls on the same arrays.
//
// Only the common case is taken here: every feature a CPU int64 C-contiguous tensor (dense ids)
// or a tuple of them (ragged (row_splits, values), sparse (indices, values, dense_shape)), and
// weights None or CPU float32 C-contiguous tensors. For anything else the call returns None
// before it has changed anything, and embrt/torch.py converts the inputs itself (numpy arrays,
// other dtypes, other devices: that path words every error with the feature's name).

#include <torch/csrc/Exceptions.h>
#include <torch/csrc/autograd/function.h>
#include <torch/csrc/autograd/functions/utils.h>
#include <torch/extension.h>

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "activation_layout.h"
#include "embrt/embedding.h"
#include "embrt/inputs.h"
#include "py_embedding.h"
#include "status_errors.h"

namespace py = pybind11;

namespace embrt::python {
namespace {

// Buffers kept per module: the usual loop holds step n's activations while it runs step n + 1.
constexpr size_t kKeptBuffers = 2;

// What one EmbeddingCollection's steps share: its engine and the activation buffers.
class StepState {
 public:
  StepState(py::object embedding, int replica) : owner_(std::move(embedding)), replica_(replica) {
    py::capsule handle = owner_.attr("_native_handle")();
    engine_ = static_cast<PyEmbedding*>(handle.get_pointer());
  }
  ~StepState() {
    // The last reference may go with an autograd graph, without the GIL.
    py::gil_scoped_acquire gil;
    kept_.clear();
    owner_ = py::object();
  }

  Embedding& engine() { return engine_->engine(); }
  int replica() const { return replica_; }

  // A buffer no earlier activation tensor still references (else a new one), and one span per
  // feature into it. The engine must be built.
  at::Tensor Acquire(std::vector<absl::Span<float>>* spans) {
    Layout();
    at::Tensor buffer;
    for (const at::Tensor& candidate : kept_) {
      // Every activation tensor's deleter holds a reference to its buffer.
      if (candidate.use_count() == 1) {
        buffer = candidate;
        break;
      }
    }
    if (!buffer.defined()) {
      buffer = at::empty({std::max<int64_t>(layout_.total_floats, 1)}, at::kFloat);
      if (kept_.size() < kKeptBuffers) kept_.push_back(buffer);
    }
    layout_.Spans(buffer.data_ptr<float>(), spans);
    return buffer;
  }

  // Feature f's activations in `buffer`, as a tensor shaped output_shape + [dim] that keeps
  // `buffer` alive.
  at::Tensor Activation(const at::Tensor& buffer, size_t f) const {
    float* data = buffer.data_ptr<float>() + layout_.offsets[f];
    return torch::from_blob(
        data, layout_.shapes[f], [buffer](void*) {}, at::TensorOptions().dtype(at::kFloat));
  }

  // Whether Stacked() can view every feature (ActivationLayout::stackable). The engine must be
  // built.
  bool Stackable() { return Layout().stackable; }

  // Every feature's activations in `buffer` as one tensor [features] + output_shape + [dim]
  // (Stackable() must hold).
  at::Tensor Stacked(const at::Tensor& buffer) const {
    std::vector<int64_t> sizes, strides;
    layout_.StackedView(&sizes, &strides);
    return torch::from_blob(
        buffer.data_ptr<float>(), sizes, strides, [buffer](void*) {},
        at::TensorOptions().dtype(at::kFloat));
  }

  // Feature f's part of a gradient for Stacked(): a contiguous float32 tensor `stacked`.
  TensorView StackedPart(const at::Tensor& stacked, size_t f) const {
    const int64_t size = layout_.sizes[f];
    TensorView view;
    view.values = absl::Span<const float>(stacked.data_ptr<float>() + f * size,
                                          static_cast<size_t>(size));
    view.shape = layout_.shapes[f];
    return view;
  }

  size_t num_features() const { return layout_.offsets.size(); }

 private:
  // Set on first use, once the engine is built (output shapes are fixed from Build on).
  const ActivationLayout& Layout() {
    if (layout_.offsets.empty()) layout_ = ActivationLayout::Of(engine_->engine());
    return layout_;
  }

  py::object owner_;  // the embrt.Embedding: keeps engine_ alive
  PyEmbedding* engine_ = nullptr;
  int replica_;
  ActivationLayout layout_;  // see Layout()
  std::vector<at::Tensor> kept_;
};

// A gradient as a contiguous float32 tensor (itself when it already is one).
at::Tensor PlainFloat(const at::Tensor& gradient) {
  if (gradient.scalar_type() == at::kFloat && gradient.is_contiguous()) return gradient;
  return gradient.to(at::kFloat).contiguous();
}

// The grad_fn of one step's activations: sends d loss / d activations to ApplyGradients (the
// tables' optimizer runs in embrt). It has no inputs: embrt owns the tables. Its outputs are
// one tensor per feature, or one tensor of all features (`stacked`).
class ApplyGradientsNode : public torch::autograd::Node {
 public:
  ApplyGradientsNode(std::shared_ptr<StepState> state, bool stacked)
      : state_(std::move(state)), stacked_(stacked) {}

  std::string name() const override { return "EmbrtApplyGradients"; }

  torch::autograd::variable_list apply(torch::autograd::variable_list&& gradients) override {
    // Autograd has checked each gradient against its activation (shape, float32, CPU); a
    // gradient may still be strided (e.g. expanded from a sum) or missing (unused feature).
    std::vector<at::Tensor> held(gradients.size());
    std::vector<std::optional<TensorView>> views(state_->num_features());
    for (size_t g = 0; g < gradients.size(); ++g) {
      if (!gradients[g].defined()) continue;
      held[g] = PlainFloat(gradients[g]);
      if (stacked_) {
        for (size_t f = 0; f < views.size(); ++f) views[f] = state_->StackedPart(held[g], f);
        continue;
      }
      TensorView view;
      view.values = absl::Span<const float>(held[g].data_ptr<float>(),
                                            static_cast<size_t>(held[g].numel()));
      view.shape.assign(held[g].sizes().begin(), held[g].sizes().end());
      views[g] = std::move(view);
    }
    const absl::Status status = state_->engine().ApplyGradients(views, state_->replica());
    if (!status.ok()) {
      py::gil_scoped_acquire gil;
      SetPythonError(status);
      // torch/csrc/Exceptions.h: carries the exception through the autograd engine to the
      // caller of backward().
      python_error error;
      error.persist();
      throw error;
    }
    return {};
  }

 private:
  std::shared_ptr<StepState> state_;
  bool stacked_;
};

// `value` as a CPU, C-contiguous tensor of `type` with at least `min_rank` dims, else nullptr.
const at::Tensor* PlainTensor(const py::handle& value, at::ScalarType type, int64_t min_rank) {
  if (!THPVariable_Check(value.ptr())) return nullptr;
  const at::Tensor& tensor = THPVariable_Unpack(value.ptr());
  if (!tensor.defined() || tensor.layout() != at::kStrided || !tensor.device().is_cpu() ||
      tensor.scalar_type() != type || tensor.dim() < min_rank || !tensor.is_contiguous()) {
    return nullptr;
  }
  return &tensor;
}

template <typename T>
absl::Span<const T> SpanOf(const at::Tensor& tensor) {
  return absl::Span<const T>(tensor.data_ptr<T>(), static_cast<size_t>(tensor.numel()));
}

// One feature's ids in place, or nothing when this path does not take them.
std::optional<FeatureInput> IdsInPlace(const py::handle& value) {
  if (!py::isinstance<py::tuple>(value)) {
    const at::Tensor* ids = PlainTensor(value, at::kLong, 1);
    if (ids == nullptr) return std::nullopt;
    return FeatureInput::Dense(SpanOf<int64_t>(*ids),
                               std::vector<int64_t>(ids->sizes().begin(), ids->sizes().end()));
  }
  py::tuple parts = py::reinterpret_borrow<py::tuple>(value);
  if (parts.size() == 2) {  // ragged: (row_splits, values)
    const at::Tensor* splits = PlainTensor(parts[0], at::kLong, 1);
    const at::Tensor* values = PlainTensor(parts[1], at::kLong, 1);
    if (splits == nullptr || values == nullptr || splits->dim() != 1 || values->dim() != 1) {
      return std::nullopt;
    }
    return FeatureInput::Ragged(SpanOf<int64_t>(*splits), SpanOf<int64_t>(*values));
  }
  if (parts.size() == 3) {  // sparse: (indices [nnz, rank], values [nnz], dense_shape [rank])
    const at::Tensor* indices = PlainTensor(parts[0], at::kLong, 2);
    const at::Tensor* values = PlainTensor(parts[1], at::kLong, 1);
    const at::Tensor* shape = PlainTensor(parts[2], at::kLong, 1);
    if (indices == nullptr || values == nullptr || shape == nullptr || indices->dim() != 2 ||
        values->dim() != 1 || shape->dim() != 1 || indices->size(0) != values->size(0) ||
        indices->size(1) != shape->size(0)) {
      return std::nullopt;
    }
    const absl::Span<const int64_t> dense_shape = SpanOf<int64_t>(*shape);
    return FeatureInput::Sparse(SpanOf<int64_t>(*indices), SpanOf<int64_t>(*values),
                                std::vector<int64_t>(dense_shape.begin(), dense_shape.end()));
  }
  return std::nullopt;
}

// One feature's weights in place (None: all 1), or false when this path does not take them.
bool WeightsInPlace(const py::handle& value, InputKind kind,
                    std::optional<FeatureWeights>* weights) {
  if (value.is_none()) return true;
  py::handle values = value;
  if (py::isinstance<py::tuple>(value)) {
    py::tuple parts = py::reinterpret_borrow<py::tuple>(value);
    if (parts.size() != 2 && parts.size() != 3) return false;
    values = parts[1];
  }
  const at::Tensor* tensor = PlainTensor(values, at::kFloat, 0);
  if (tensor == nullptr) return false;
  *weights = FeatureWeights{kind, SpanOf<float>(*tensor)};
  return true;
}

// One training step's lookup: enqueue (ids read in place) and dequeue, returning one tensor
// per feature (or, `stacked`, one tensor of all features, whose shapes the caller checked are
// the same) with ApplyGradientsNode as grad_fn; None when the inputs are not all plain CPU
// tensors (nothing was enqueued then). Raises embrt's exception for a failed status.
py::object TrainingLookup(const std::shared_ptr<StepState>& state, const py::sequence& features,
                          const py::object& weights, bool stacked) {
  // embrt/torch.py words this for users (naming the features); this guards the view's bounds.
  if (stacked && state->engine().built() && !state->Stackable()) {
    throw py::value_error("stacked=True needs at least one feature and one activation shape "
                          "for all of them");
  }
  const size_t count = features.size();
  std::vector<FeatureInput> inputs;
  inputs.reserve(count);
  for (size_t f = 0; f < count; ++f) {
    std::optional<FeatureInput> input = IdsInPlace(features[f]);
    if (!input) return py::none();
    inputs.push_back(std::move(*input));
  }
  std::vector<std::optional<FeatureWeights>> input_weights;
  if (!weights.is_none()) {
    py::sequence given = py::reinterpret_borrow<py::sequence>(weights);
    if (given.size() != count) return py::none();
    input_weights.resize(count);
    for (size_t f = 0; f < count; ++f) {
      if (!WeightsInPlace(given[f], inputs[f].kind, &input_weights[f])) return py::none();
    }
  }
  Embedding& engine = state->engine();
  absl::Status status;
  {
    py::gil_scoped_release release;
    status = engine.Enqueue(inputs, input_weights, /*training=*/true, state->replica());
  }
  if (!status.ok()) {
    SetPythonError(status);
    throw py::error_already_set();
  }
  std::vector<absl::Span<float>> spans;
  at::Tensor buffer = state->Acquire(&spans);
  {
    py::gil_scoped_release release;
    status = engine.DequeueInto(spans, state->replica());
  }
  if (!status.ok()) {
    SetPythonError(status);
    throw py::error_already_set();
  }
  auto node = std::shared_ptr<ApplyGradientsNode>(new ApplyGradientsNode(state, stacked),
                                                  torch::autograd::deleteNode);
  if (stacked) {
    at::Tensor activations = state->Stacked(buffer);
    torch::autograd::set_history(activations, node);
    return py::cast(std::move(activations));
  }
  py::tuple outputs(state->num_features());
  for (size_t f = 0; f < state->num_features(); ++f) {
    at::Tensor activation = state->Activation(buffer, f);
    torch::autograd::set_history(activation, node);
    outputs[f] = py::cast(std::move(activation));
  }
  return std::move(outputs);
}

}  // namespace
}  // namespace embrt::python

PYBIND11_MODULE(_embrt_torch, m) {
  using embrt::python::StepState;
  m.doc() = "embrt.torch's training step in C++ (used by embrt.torch.EmbeddingCollection).";
  py::class_<StepState, std::shared_ptr<StepState>>(m, "TrainingLookup", R"doc(
The training lookup of one replica of an embrt.Embedding, with a C++ autograd node.
)doc")
      .def(py::init<py::object, int>(), py::arg("embedding"), py::arg("replica") = 0)
      .def("__call__", &embrt::python::TrainingLookup, py::arg("features"),
           py::arg("weights") = py::none(), py::arg("stacked") = false,
           "Enqueues a training step and dequeues it: one tensor per feature (grad_fn sends the "
           "gradients to apply_gradients), or with stacked=True one tensor [features, ...] of "
           "all of them (the caller checks they share one shape); None when the inputs are not "
           "all plain CPU int64 tensors (and float32 weights), before anything was enqueued.");
}
