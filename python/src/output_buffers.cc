// Copyright embrt authors.

#include "output_buffers.h"

#include <algorithm>
#include <utility>

namespace py = pybind11;

namespace embrt::python {
namespace {

bool Unreferenced(const py::array_t<float>& buffer) { return Py_REFCNT(buffer.ptr()) == 1; }

}  // namespace

py::array_t<float> OutputBuffers::Acquire(const Embedding& engine, int replica,
                                          std::vector<absl::Span<float>>* spans) {
  if (layout_.offsets.size() != engine.config().features.size()) {
    layout_ = ActivationLayout::Of(engine);
  }
  auto kept = kept_.find(replica);
  if (kept != kept_.end()) {
    for (const py::array_t<float>& candidate : kept->second) {
      if (Unreferenced(candidate)) return Spans(candidate, spans);
    }
  }
  return Spans(py::array_t<float>(std::max<int64_t>(layout_.total_floats, 1)), spans);
}

py::array_t<float> OutputBuffers::Spans(py::array_t<float> buffer,
                                        std::vector<absl::Span<float>>* spans) const {
  layout_.Spans(buffer.mutable_data(), spans);
  return buffer;
}

void OutputBuffers::Keep(int replica, const py::array_t<float>& buffer) {
  std::vector<py::array_t<float>>& kept = kept_[replica];
  bool is_kept = false;
  for (const py::array_t<float>& candidate : kept) is_kept |= candidate.is(buffer);
  if (!is_kept && kept.size() < kKeptPerReplica) kept.push_back(buffer);
}

py::array_t<float> OutputBuffers::StackedView(int replica, const py::array_t<float>& buffer) {
  Keep(replica, buffer);
  std::vector<int64_t> sizes, strides;
  layout_.StackedView(&sizes, &strides);
  for (int64_t& stride : strides) stride *= static_cast<int64_t>(sizeof(float));
  // With `buffer` as base the view shares its memory and holds a reference to it.
  return py::array_t<float>(sizes, strides, buffer.data(), buffer);
}

py::list OutputBuffers::Views(int replica, const py::array_t<float>& buffer) {
  Keep(replica, buffer);
  const float* data = buffer.data();
  py::list views(layout_.offsets.size());
  for (size_t f = 0; f < layout_.offsets.size(); ++f) {
    // With `buffer` as base the view shares its memory and holds a reference to it.
    views[f] = py::array_t<float>(layout_.shapes[f], data + layout_.offsets[f], buffer);
  }
  return views;
}

}  // namespace embrt::python
