// Copyright embrt authors.

#include "output_buffers.h"

#include <algorithm>
#include <utility>

namespace py = pybind11;

namespace embrt::python {
namespace {

// Each feature's activations start on a 64-byte boundary (16 floats) of the buffer.
constexpr int64_t kAlignFloats = 16;

bool Unreferenced(const py::array_t<float>& buffer) { return Py_REFCNT(buffer.ptr()) == 1; }

}  // namespace

void OutputBuffers::Layout(const Embedding& engine) {
  const ResolvedConfig& config = engine.config();
  const size_t count = config.features.size();
  offsets_.resize(count);
  shapes_.resize(count);
  int64_t offset = 0;
  for (size_t f = 0; f < count; ++f) {
    offsets_[f] = offset;
    const std::vector<int64_t>& shape = engine.output_shape(static_cast<int>(f));
    shapes_[f].assign(shape.begin(), shape.end());
    shapes_[f].push_back(config.tables[config.features[f].table_index].dim);
    offset += (engine.output_size(static_cast<int>(f)) + kAlignFloats - 1) / kAlignFloats *
              kAlignFloats;
  }
  total_floats_ = offset;
}

py::array_t<float> OutputBuffers::Acquire(const Embedding& engine, int replica,
                                          std::vector<absl::Span<float>>* spans) {
  // Output shapes are fixed once the engine is built (Build, or the first Enqueue).
  if (offsets_.size() != engine.config().features.size()) Layout(engine);
  auto kept = kept_.find(replica);
  if (kept != kept_.end()) {
    for (const py::array_t<float>& candidate : kept->second) {
      if (Unreferenced(candidate)) return Spans(engine, candidate, spans);
    }
  }
  return Spans(engine, py::array_t<float>(std::max<int64_t>(total_floats_, 1)), spans);
}

py::array_t<float> OutputBuffers::Spans(const Embedding& engine, py::array_t<float> buffer,
                                        std::vector<absl::Span<float>>* spans) const {
  float* data = buffer.mutable_data();
  spans->clear();
  for (size_t f = 0; f < offsets_.size(); ++f) {
    spans->emplace_back(data + offsets_[f],
                        static_cast<size_t>(engine.output_size(static_cast<int>(f))));
  }
  return buffer;
}

py::list OutputBuffers::Views(int replica, const py::array_t<float>& buffer) {
  std::vector<py::array_t<float>>& kept = kept_[replica];
  bool is_kept = false;
  for (const py::array_t<float>& candidate : kept) is_kept |= candidate.is(buffer);
  if (!is_kept && kept.size() < kKeptPerReplica) kept.push_back(buffer);
  const float* data = buffer.data();
  py::list views(offsets_.size());
  for (size_t f = 0; f < offsets_.size(); ++f) {
    // With `buffer` as base the view shares its memory and holds a reference to it.
    views[f] = py::array_t<float>(shapes_[f], data + offsets_[f], buffer);
  }
  return views;
}

}  // namespace embrt::python
