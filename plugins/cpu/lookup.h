// Copyright embrt authors.
//
// File: plugins/cpu/lookup.h
// --------------------------
// The forward kernels: combiner gains and bag sums over one feature's copied batch.
//
// Inputs for a feature with R bags: `splits` [R + 1] offsets, `rows` [splits[R]] local rows of
// the table shard, `weights` [splits[R]] or null (every weight 1).
//
// ComputeGains, for each bag b with ids k in [splits[b], splits[b+1]):
//   sum:    gain[k] = w[k]
//   mean:   s = 0; for k: s += w[k]            gain[k] = (s == 0) ? 0 : w[k] / s
//   sqrtn:  s = 0; for k: s += w[k] * w[k]     r = sqrt(s); gain[k] = (r == 0) ? 0 : w[k] / r
//
// LookupBags, for each bag b (dim-wide vectors, d = 0..dim-1):
//   if the bag is empty: out[b, d] = 0
//   else: out[b, d] = gain[k0] * table[rows[k0], d]
//         for k = k0+1 .. in position order: out[b, d] = out[b, d] + gain[k] * table[rows[k], d]
//   (left to right over ids; vectorized across d only, so the sum order never changes).
//
// LookupSequence (max_sequence_length L): position p of row b is its own bag of one id, gain 1:
//   out[b, p, d] = (p < length(b)) ? 1 * table[rows[splits[b] + p], d] : 0
// With `positions` (ABI 1.1, one per id, ascending in each row) the k-th id of row b goes to
// [b, positions[splits[b] + k], :] instead, and every other position of the row is 0.
//
// Simulated quantization (TF's QuantizationConfig, `quantization` non-null): both lookups read
// Quantize(table[row, d]) instead of table[row, d], i.e. each row element is quantized before
// it is multiplied by its gain (before the combiner); nothing else changes:
//   x = min(max(x, lower), upper); q = (upper - lower) / (num_buckets - 1);
//   x = floor((x - lower) / q + 0.5f) * q + lower          (float32, in this order)
//
// All kernels handle bags [bag_begin, bag_end) so callers can split features across threads;
// every output element is written by exactly one call.

#ifndef EMBRT_PLUGINS_CPU_LOOKUP_H_
#define EMBRT_PLUGINS_CPU_LOOKUP_H_

#include <cstdint>

#include "embrt/plugin_api.h"

namespace embrt {
namespace cpu {

// A table's quantization; num_buckets >= 2 and finite lower < upper (checked by the core).
struct Quantization {
  int32_t num_buckets = 0;
  float lower = 0.0f;
  float upper = 0.0f;
};

// Quantizes `row` [dim] into `out` [dim] by the formula above.
void QuantizeRow(const Quantization& quantization, int32_t dim, const float* row, float* out);

void ComputeGains(EMBRT_Combiner combiner, const int32_t* splits, const float* weights,
                  int64_t bag_begin, int64_t bag_end, float* gains);

// `out` points at bag 0's activation ([bags, dim] row-major). `quantization` null: off.
// `unit_gains`: every gain is 1 (sum without weights) and `gains` may be null; the kernel then
// skips the multiply, which gives the same bits (1 * x == x). Without quantization, dims 1-15
// (each compiled for its dim) and 16, 32, 64 and 128 (vector registers) run a specialization
// that keeps each bag's sum in registers; every other case runs LookupBagsGeneric. All compute
// the formula above in the same order.
void LookupBags(const float* table, int32_t dim, const int32_t* splits, const int64_t* rows,
                const float* gains, int64_t bag_begin, int64_t bag_end, float* out,
                const Quantization* quantization = nullptr, bool unit_gains = false);

// The one-loop-for-every-dim version (the specializations' twin, also used by tests).
// `unit_gains`: gains may be null and every gain is 1.
void LookupBagsGeneric(const float* table, int32_t dim, const int32_t* splits, const int64_t* rows,
                       const float* gains, int64_t bag_begin, int64_t bag_end, float* out,
                       const Quantization* quantization = nullptr, bool unit_gains = false);

// `out` points at row 0's activations ([rows, L, dim] row-major). `quantization` null: off.
void LookupSequence(const float* table, int32_t dim, int32_t max_sequence_length,
                    const int32_t* splits, const int64_t* rows, int64_t bag_begin, int64_t bag_end,
                    float* out, const Quantization* quantization = nullptr,
                    const int32_t* positions = nullptr);

}  // namespace cpu
}  // namespace embrt

#endif  // EMBRT_PLUGINS_CPU_LOOKUP_H_
