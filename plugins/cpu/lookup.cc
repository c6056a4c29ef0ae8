// Copyright embrt authors.

#include "lookup.h"

#include <cmath>
#include <cstring>
#include <type_traits>
#include <vector>

#include "vector_ops.h"

namespace embrt {
namespace cpu {

void QuantizeRow(const Quantization& quantization, int32_t dim, const float* row, float* out) {
  const float lower = quantization.lower;
  const float upper = quantization.upper;
  const float step = (upper - lower) / static_cast<float>(quantization.num_buckets - 1);
  for (int32_t d = 0; d < dim; ++d) {
    float x = row[d];
    x = x < lower ? lower : x;
    x = x > upper ? upper : x;
    out[d] = std::floor((x - lower) / step + 0.5f) * step + lower;
  }
}

void ComputeGains(EMBRT_Combiner combiner, const int32_t* splits, const float* weights,
                  int64_t bag_begin, int64_t bag_end, float* gains) {
  for (int64_t b = bag_begin; b < bag_end; ++b) {
    const int32_t begin = splits[b];
    const int32_t end = splits[b + 1];
    if (combiner == EMBRT_COMBINER_SUM) {
      for (int32_t k = begin; k < end; ++k) gains[k] = weights == nullptr ? 1.0f : weights[k];
      continue;
    }
    float total = 0.0f;
    if (combiner == EMBRT_COMBINER_MEAN) {
      for (int32_t k = begin; k < end; ++k) total += weights == nullptr ? 1.0f : weights[k];
    } else {
      for (int32_t k = begin; k < end; ++k) {
        const float w = weights == nullptr ? 1.0f : weights[k];
        total += w * w;
      }
      total = std::sqrt(total);
    }
    for (int32_t k = begin; k < end; ++k) {
      const float w = weights == nullptr ? 1.0f : weights[k];
      gains[k] = total == 0.0f ? 0.0f : w / total;
    }
  }
}

namespace {

// Rows are requested this many ids ahead of their use (random rows of a large table miss every
// cache; the prefetches overlap those misses).
constexpr int32_t kPrefetchDistance = 16;

// The distance of the dim-specialized kernels.
constexpr int PrefetchDistance(int dim) { return dim > 0 ? kPrefetchDistance : 0; }

// A bag's sum for dim kDim, a multiple of 16: kDim / 16 vectors in registers. kUnitGains:
// every gain is 1, and 1 * x == x bit for bit, so the multiply is skipped.
// (Members rather than lambdas: UBSan's checks on a lambda's closure misfire once the
// always_inline body lands in a target_clones clone, a false "member access within null
// pointer" in the ASan build.)
template <int kDim, bool kUnitGains>
struct VectorBagSum {
  static constexpr int kVectors = kDim / 16;
  Floats16 v[kVectors];

  void Start(const float* row, float gain) {
    for (int i = 0; i < kVectors; ++i) {
      std::memcpy(&v[i], row + 16 * i, sizeof(v[i]));
      if (!kUnitGains) v[i] = gain * v[i];
    }
  }
  void Add(const float* row, float gain) {
    for (int i = 0; i < kVectors; ++i) {
      Floats16 x;
      std::memcpy(&x, row + 16 * i, sizeof(x));
      if (!kUnitGains) x = gain * x;
      v[i] = v[i] + x;
    }
  }
  void Store(float* out) const {  // vector by vector: one memcpy of all spills them first
    for (int i = 0; i < kVectors; ++i) std::memcpy(out + 16 * i, &v[i], sizeof(v[i]));
  }
};

// A bag's sum for a dim below 16 (the default job's FM rows are 9 floats): a ShortRow.
template <int kDim, bool kUnitGains>
struct SmallBagSum {
  ShortRow<kDim> row_sum;

  void Start(const float* row, float gain) { row_sum.template Set<!kUnitGains>(gain, row); }
  void Add(const float* row, float gain) { row_sum.template Add<!kUnitGains>(gain, row); }
  void Store(float* out) const { row_sum.Store(out); }
};

template <int kDim, bool kUnitGains>
using BagSum = std::conditional_t<kDim % 16 == 0, VectorBagSum<kDim, kUnitGains>,
                                  SmallBagSum<kDim, kUnitGains>>;

// LookupBags for a dim known at compile time (below 16 or a multiple of 16) without
// quantization: each bag's sum lives in registers (BagSum) and is stored once, straight into
// `out` (no zeroed stack copy); the same operations in the same order as the generic loop.
// kDistance: how many ids ahead rows are prefetched.
template <int kDim, bool kUnitGains, int kDistance>
__attribute__((always_inline)) inline void LookupBagsFixed(const float* table,
                                                           const int32_t* splits,
                                                           const int64_t* rows, const float* gains,
                                                           int64_t bag_begin, int64_t bag_end,
                                                           float* out) {
  const int32_t first_id = splits[bag_begin];
  const int32_t end_id = splits[bag_end];
  for (int32_t k = first_id; k < end_id && k < first_id + kDistance; ++k) {
    PrefetchRow(table + rows[k] * kDim, kDim);
  }
  for (int64_t b = bag_begin; b < bag_end; ++b) {
    const int32_t begin = splits[b];
    const int32_t end = splits[b + 1];
    float* activation = out + b * kDim;
    if (begin == end) {
      std::memset(activation, 0, sizeof(float) * kDim);
      continue;
    }
    if (begin + kDistance < end_id) PrefetchRow(table + rows[begin + kDistance] * kDim, kDim);
    if constexpr (kUnitGains && kDim < 16) {
      // A bag of one id is its row, bit for bit: copied as bytes rather than through
      // SmallBagSum's registers (below 8 floats, one scalar register per float).
      if (end - begin == 1) {
        std::memcpy(activation, table + rows[begin] * kDim, sizeof(float) * kDim);
        continue;
      }
    }
    BagSum<kDim, kUnitGains> sum;
    sum.Start(table + rows[begin] * kDim, kUnitGains ? 1.0f : gains[begin]);
    for (int32_t k = begin + 1; k < end; ++k) {
      if (k + kDistance < end_id) PrefetchRow(table + rows[k + kDistance] * kDim, kDim);
      sum.Add(table + rows[k] * kDim, kUnitGains ? 1.0f : gains[k]);
    }
    sum.Store(activation);
  }
}

// One multiversioned entry per specialization (the template body is inlined into each clone).
#define EMBRT_CPU_LOOKUP_FIXED(dim, unit)                                                    \
  EMBRT_CPU_MULTIVERSION void LookupBags##dim##_##unit(                                      \
      const float* table, const int32_t* splits, const int64_t* rows, const float* gains,    \
      int64_t bag_begin, int64_t bag_end, float* out) {                                      \
    LookupBagsFixed<dim, unit, PrefetchDistance(dim)>(table, splits, rows, gains, bag_begin, \
                                                      bag_end, out);                         \
  }
#define EMBRT_CPU_LOOKUP_FIXED_BOTH(dim) \
  EMBRT_CPU_LOOKUP_FIXED(dim, false)     \
  EMBRT_CPU_LOOKUP_FIXED(dim, true)
EMBRT_CPU_FOR_EACH_COMPILED_DIM(EMBRT_CPU_LOOKUP_FIXED_BOTH)
#undef EMBRT_CPU_LOOKUP_FIXED_BOTH
#undef EMBRT_CPU_LOOKUP_FIXED

}  // namespace

EMBRT_CPU_MULTIVERSION
void LookupBagsGeneric(const float* table, int32_t dim, const int32_t* splits, const int64_t* rows,
                       const float* gains, int64_t bag_begin, int64_t bag_end, float* out,
                       const Quantization* quantization, bool unit_gains) {
  std::vector<float> quantized(quantization == nullptr ? 0 : dim);
  const int32_t first_id = splits[bag_begin];
  const int32_t end_id = splits[bag_end];
  for (int32_t k = first_id; k < end_id && k < first_id + kPrefetchDistance; ++k) {
    PrefetchRow(table + rows[k] * dim, dim);
  }
  for (int64_t b = bag_begin; b < bag_end; ++b) {
    float* activation = out + b * dim;
    const int32_t begin = splits[b];
    const int32_t end = splits[b + 1];
    if (begin == end) {
      std::memset(activation, 0, sizeof(float) * dim);
      continue;
    }
    for (int32_t k = begin; k < end; ++k) {
      if (k + kPrefetchDistance < end_id)
        PrefetchRow(table + rows[k + kPrefetchDistance] * dim, dim);
      const float* row = table + rows[k] * dim;
      if (quantization != nullptr) {
        QuantizeRow(*quantization, dim, row, quantized.data());
        row = quantized.data();
      }
      const float gain = unit_gains ? 1.0f : gains[k];
      if (k == begin) {
        ScaleRow(dim, gain, row, activation);
      } else {
        AddScaledRow(dim, gain, row, activation);
      }
    }
  }
}

void LookupBags(const float* table, int32_t dim, const int32_t* splits, const int64_t* rows,
                const float* gains, int64_t bag_begin, int64_t bag_end, float* out,
                const Quantization* quantization, bool unit_gains) {
  if (bag_begin >= bag_end) return;
  if (quantization == nullptr) {
#define EMBRT_CPU_LOOKUP_CASE(d)                                                  \
  case d:                                                                         \
    if (unit_gains) {                                                             \
      LookupBags##d##_true(table, splits, rows, gains, bag_begin, bag_end, out);  \
    } else {                                                                      \
      LookupBags##d##_false(table, splits, rows, gains, bag_begin, bag_end, out); \
    }                                                                             \
    return;
    switch (dim) {
      EMBRT_CPU_FOR_EACH_COMPILED_DIM(EMBRT_CPU_LOOKUP_CASE)
      default:
        break;
    }
#undef EMBRT_CPU_LOOKUP_CASE
  }
  LookupBagsGeneric(table, dim, splits, rows, gains, bag_begin, bag_end, out, quantization,
                    unit_gains);
}

EMBRT_CPU_MULTIVERSION
void LookupSequence(const float* table, int32_t dim, int32_t max_sequence_length,
                    const int32_t* splits, const int64_t* rows, int64_t bag_begin, int64_t bag_end,
                    float* out, const Quantization* quantization, const int32_t* positions) {
  const int64_t row_floats = static_cast<int64_t>(max_sequence_length) * dim;
  for (int64_t b = bag_begin; b < bag_end; ++b) {
    float* activation = out + b * row_floats;
    const int32_t begin = splits[b];
    const int32_t length = splits[b + 1] - begin;
    if (positions != nullptr) {  // ABI 1.1: ids at given positions, zeros in the holes
      std::memset(activation, 0, sizeof(float) * row_floats);
      for (int32_t k = begin; k < begin + length; ++k) {
        const float* row = table + rows[k] * dim;
        float* dst = activation + static_cast<int64_t>(positions[k]) * dim;
        if (quantization != nullptr) {
          QuantizeRow(*quantization, dim, row, dst);
        } else {
          ScaleRow(dim, 1.0f, row, dst);
        }
      }
      continue;
    }
    for (int32_t p = 0; p < length; ++p) {
      const float* row = table + rows[begin + p] * dim;
      if (quantization != nullptr) {
        // Quantize in place: 1 * q == q, the same bits as scaling a quantized copy.
        QuantizeRow(*quantization, dim, row, activation + p * dim);
      } else {
        ScaleRow(dim, 1.0f, row, activation + p * dim);
      }
    }
    std::memset(activation + static_cast<int64_t>(length) * dim, 0,
                sizeof(float) * (row_floats - static_cast<int64_t>(length) * dim));
  }
}

}  // namespace cpu
}  // namespace embrt
