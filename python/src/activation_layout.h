// Copyright embrt authors.
//
// Where each feature's activations go in the one buffer a step is dequeued into (the numpy
// binding's OutputBuffers and embrt._embrt_torch's training step): features in config order,
// each starting on a 64-byte boundary, shaped output_shape + [dim]. When every feature has the
// same shape, the buffer is also one strided array [features] + output_shape + [dim]
// (embrt.torch's stacked=True).

#ifndef EMBRT_PYTHON_ACTIVATION_LAYOUT_H_
#define EMBRT_PYTHON_ACTIVATION_LAYOUT_H_

#include <cstdint>
#include <vector>

#include "absl/types/span.h"
#include "embrt/embedding.h"

namespace embrt::python {

struct ActivationLayout {
  std::vector<int64_t> offsets;              // floats from the buffer's start, per feature
  std::vector<int64_t> sizes;                // floats per feature (Embedding::output_size)
  std::vector<std::vector<int64_t>> shapes;  // output_shape + [dim], per feature
  int64_t total_floats = 0;                  // the buffer's size
  bool stackable = false;  // at least one feature, all of one shape: StackedView applies

  // One span per feature into a buffer of `total_floats` floats at `data` (what DequeueInto
  // takes).
  void Spans(float* data, std::vector<absl::Span<float>>* spans) const {
    spans->clear();
    for (size_t f = 0; f < offsets.size(); ++f) {
      spans->emplace_back(data + offsets[f], static_cast<size_t>(sizes[f]));
    }
  }

  // The one-array view of every feature: its sizes ([features] + output_shape + [dim]) and
  // strides, in floats. Features start on 64-byte boundaries, so the first stride may exceed a
  // feature's size. Requires `stackable`.
  void StackedView(std::vector<int64_t>* view_sizes, std::vector<int64_t>* strides) const {
    view_sizes->assign(1, static_cast<int64_t>(offsets.size()));
    view_sizes->insert(view_sizes->end(), shapes[0].begin(), shapes[0].end());
    strides->assign(view_sizes->size(), 1);
    for (size_t d = view_sizes->size() - 1; d > 1; --d) {
      (*strides)[d - 1] = (*strides)[d] * (*view_sizes)[d];
    }
    (*strides)[0] = offsets.size() > 1 ? offsets[1] : sizes[0];
  }

  // The layout of a built `engine` (output shapes are fixed from Build on).
  static ActivationLayout Of(const Embedding& engine) {
    constexpr int64_t kAlignFloats = 16;  // 64 bytes
    const ResolvedConfig& config = engine.config();
    ActivationLayout layout;
    for (size_t f = 0; f < config.features.size(); ++f) {
      const int feature = static_cast<int>(f);
      std::vector<int64_t> shape = engine.output_shape(feature);
      shape.push_back(config.tables[config.features[f].table_index].dim);
      layout.offsets.push_back(layout.total_floats);
      layout.sizes.push_back(engine.output_size(feature));
      layout.shapes.push_back(std::move(shape));
      layout.total_floats += (layout.sizes.back() + kAlignFloats - 1) / kAlignFloats * kAlignFloats;
    }
    layout.stackable = !layout.shapes.empty();
    for (const std::vector<int64_t>& shape : layout.shapes) {
      layout.stackable = layout.stackable && shape == layout.shapes[0];
    }
    return layout;
  }
};

}  // namespace embrt::python

#endif  // EMBRT_PYTHON_ACTIVATION_LAYOUT_H_
