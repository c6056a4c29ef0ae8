// Copyright embrt authors.
//
// File: plugins/cpu/vector_ops.h
// ------------------------------
// Element-wise row loops the kernels share. Each loop is independent across d, so the compiler
// vectorizes it across the embedding dimension; the order of additions into one element never
// changes (the plugin is built with -ffp-contract=off, so no fused multiply-add either).
//   ScaleRow:     out[d] = gain * row[d]
//   AddScaledRow: out[d] = out[d] + gain * row[d]

#ifndef EMBRT_PLUGINS_CPU_VECTOR_OPS_H_
#define EMBRT_PLUGINS_CPU_VECTOR_OPS_H_

#include <cstdint>

namespace embrt {
namespace cpu {

inline void ScaleRow(int32_t dim, float gain, const float* __restrict row,
                     float* __restrict out) {
  for (int32_t d = 0; d < dim; ++d) out[d] = gain * row[d];
}

inline void AddScaledRow(int32_t dim, float gain, const float* __restrict row,
                         float* __restrict out) {
  for (int32_t d = 0; d < dim; ++d) out[d] = out[d] + gain * row[d];
}

}  // namespace cpu
}  // namespace embrt

#endif  // EMBRT_PLUGINS_CPU_VECTOR_OPS_H_
