// Copyright embrt authors.
//
// Where each feature's activations go in the one buffer a step is dequeued into (the numpy
// binding's OutputBuffers and embrt._embrt_torch's training step): features in config order,
// each starting on a 64-byte boundary, shaped output_shape + [dim].

#ifndef EMBRT_PYTHON_ACTIVATION_LAYOUT_H_
#define EMBRT_PYTHON_ACTIVATION_LAYOUT_H_

#include <cstdint>
#include <vector>

#include "embrt/embedding.h"

namespace embrt::python {

struct ActivationLayout {
  std::vector<int64_t> offsets;              // floats from the buffer's start, per feature
  std::vector<int64_t> sizes;                // floats per feature (Embedding::output_size)
  std::vector<std::vector<int64_t>> shapes;  // output_shape + [dim], per feature
  int64_t total_floats = 0;                  // the buffer's size

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
    return layout;
  }
};

}  // namespace embrt::python

#endif  // EMBRT_PYTHON_ACTIVATION_LAYOUT_H_
