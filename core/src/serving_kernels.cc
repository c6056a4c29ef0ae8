// Copyright embrt authors.

#include "serving_kernels.h"

#include <algorithm>
#include <cstring>

#include "multiversion.h"

namespace embrt {
namespace internal {
namespace {

// How many ids ahead a row is asked for: enough to overlap the misses of random rows (the cpu
// backend's lookup and the anchor of bench/ use the same distance).
constexpr int64_t kPrefetchIds = 16;

// 16 floats: one AVX-512 register (two AVX2 or four SSE registers in the other versions).
// GCC's vector arithmetic is element-wise IEEE arithmetic, so it rounds like scalar code.
typedef float Floats16 __attribute__((vector_size(64)));

// Every helper the kernels call is always_inline. With plain `inline` helpers GCC 12 built a
// library without a single prefetch instruction (objdump), and the kernels ran at the pace of a
// loop without prefetching (bench/README.md, "Serving from a checkpoint").

// Asks for every cache line of a row of `dim` floats; a row whose dim is not a multiple of 16
// may end on one more line than it starts on.
__attribute__((always_inline)) inline void PrefetchRow(const float* row, int32_t dim) {
  for (int32_t d = 0; d < dim; d += 16) __builtin_prefetch(row + d);
  if (dim % 16 != 0) __builtin_prefetch(row + dim - 1);
}

__attribute__((always_inline)) inline bool Outside(int64_t id, int64_t rows) {
  return static_cast<uint64_t>(id) >= static_cast<uint64_t>(rows);
}

// Checks ids [first, end) up to kPrefetchIds of them and asks for their rows; returns the
// first bad position or -1.
template <typename Rows>
__attribute__((always_inline)) inline int64_t CheckAndPrefetchFirst(const Rows& rows, int64_t count,
                                                                    int32_t dim, const int64_t* ids,
                                                                    int64_t first, int64_t end) {
  for (int64_t k = first; k < end && k < first + kPrefetchIds; ++k) {
    if (Outside(ids[k], count)) return k;
    PrefetchRow(rows.Row(ids[k]), dim);
  }
  return -1;
}

// The id kPrefetchIds after position k, when there is one: checks it (returns false when it is
// outside) and asks for its row. Every id is checked here or in CheckAndPrefetchFirst before
// its own row is read.
template <typename Rows>
__attribute__((always_inline)) inline bool CheckAndPrefetchAhead(const Rows& rows, int64_t count,
                                                                 int32_t dim, const int64_t* ids,
                                                                 int64_t k, int64_t end) {
  if (k + kPrefetchIds >= end) return true;
  const int64_t next = ids[k + kPrefetchIds];
  if (Outside(next, count)) return false;
  PrefetchRow(rows.Row(next), dim);
  return true;
}

// Rows of a table stored as one file, dim known at compile time.
template <int kDim>
struct FixedRows {
  const float* base;
  __attribute__((always_inline)) const float* Row(int64_t id) const { return base + id * kDim; }
};

// sum = x (kFirst) or sum + x, where x is a row of kVectors * 16 floats, times `gain` unless
// every gain is 1.
template <int kVectors, bool kUnitGains, bool kFirst>
__attribute__((always_inline)) inline void Accumulate(Floats16* sum, const float* row, float gain) {
  for (int i = 0; i < kVectors; ++i) {
    Floats16 x;
    std::memcpy(&x, row + 16 * i, sizeof(x));
    if (!kUnitGains) x = gain * x;
    sum[i] = kFirst ? x : sum[i] + x;
  }
}

// CombineBags for a dim that is a multiple of 16: the bag's sum in kDim / 16 vectors.
template <int kDim, bool kUnitGains>
__attribute__((always_inline)) inline int64_t CombineFixed(const float* base, int64_t count,
                                                           const ServingBags& bags, float* out) {
  constexpr int kVectors = kDim / 16;
  const FixedRows<kDim> rows{base};
  const int64_t* ids = bags.ids;
  const int64_t end_id = bags.num_ids;
  const int64_t bad = CheckAndPrefetchFirst(rows, count, kDim, ids, bags.starts[0], end_id);
  if (bad >= 0) return bad;
  for (int64_t b = 0; b < bags.count; ++b) {
    const int64_t begin = bags.starts[b];
    const int64_t end = bags.starts[b + 1];
    float* destination = out + (bags.output_rows != nullptr ? bags.output_rows[b] : b) * kDim;
    if (begin == end) {
      std::memset(destination, 0, sizeof(float) * kDim);
      continue;
    }
    Floats16 sum[kVectors];
    if (!CheckAndPrefetchAhead(rows, count, kDim, ids, begin, end_id)) {
      return begin + kPrefetchIds;
    }
    Accumulate<kVectors, kUnitGains, true>(sum, rows.Row(ids[begin]),
                                           kUnitGains ? 1.0f : bags.gains[begin]);
    for (int64_t k = begin + 1; k < end; ++k) {
      if (!CheckAndPrefetchAhead(rows, count, kDim, ids, k, end_id)) return k + kPrefetchIds;
      Accumulate<kVectors, kUnitGains, false>(sum, rows.Row(ids[k]),
                                              kUnitGains ? 1.0f : bags.gains[k]);
    }
    for (int i = 0; i < kVectors; ++i) std::memcpy(destination + 16 * i, &sum[i], sizeof(sum[i]));
  }
  return -1;
}

// CombineBags for any dim and either kind of rows: the sum in the output row itself.
template <bool kUnitGains>
__attribute__((always_inline)) inline int64_t CombineAnyDim(const ServingRows& rows,
                                                            const ServingBags& bags, float* out) {
  const int32_t dim = rows.dim;
  const int64_t* ids = bags.ids;
  const int64_t end_id = bags.num_ids;
  const int64_t bad = CheckAndPrefetchFirst(rows, rows.count, dim, ids, bags.starts[0], end_id);
  if (bad >= 0) return bad;
  for (int64_t b = 0; b < bags.count; ++b) {
    const int64_t begin = bags.starts[b];
    const int64_t end = bags.starts[b + 1];
    float* __restrict destination =
        out + (bags.output_rows != nullptr ? bags.output_rows[b] : b) * dim;
    if (begin == end) std::memset(destination, 0, sizeof(float) * dim);
    for (int64_t k = begin; k < end; ++k) {
      if (!CheckAndPrefetchAhead(rows, rows.count, dim, ids, k, end_id)) return k + kPrefetchIds;
      const float* __restrict row = rows.Row(ids[k]);
      const float gain = kUnitGains ? 1.0f : bags.gains[k];
      if (k == begin) {
        for (int32_t d = 0; d < dim; ++d) destination[d] = kUnitGains ? row[d] : gain * row[d];
      } else {
        for (int32_t d = 0; d < dim; ++d) {
          destination[d] = destination[d] + (kUnitGains ? row[d] : gain * row[d]);
        }
      }
    }
  }
  return -1;
}

// (No lambdas in these bodies: UBSan misreads a closure inlined into a target_clones clone, as
// plugins/cpu/lookup.cc says.)
// Picks the kernel; inlined into each multiversioned entry below, so that every kernel is
// compiled for that entry's instruction set.
template <bool kUnitGains>
__attribute__((always_inline)) inline int64_t CombineWithGains(const ServingRows& rows,
                                                               const ServingBags& bags,
                                                               float* out) {
  if (rows.base != nullptr) {
    switch (rows.dim) {
      case 16:
        return CombineFixed<16, kUnitGains>(rows.base, rows.count, bags, out);
      case 32:
        return CombineFixed<32, kUnitGains>(rows.base, rows.count, bags, out);
      case 64:
        return CombineFixed<64, kUnitGains>(rows.base, rows.count, bags, out);
      case 128:
        return CombineFixed<128, kUnitGains>(rows.base, rows.count, bags, out);
      default:
        break;
    }
  }
  return CombineAnyDim<kUnitGains>(rows, bags, out);
}

EMBRT_CORE_MULTIVERSION int64_t CombineUnitGains(const ServingRows& rows, const ServingBags& bags,
                                                 float* out) {
  return CombineWithGains<true>(rows, bags, out);
}

EMBRT_CORE_MULTIVERSION int64_t CombineScaled(const ServingRows& rows, const ServingBags& bags,
                                              float* out) {
  return CombineWithGains<false>(rows, bags, out);
}

// GatherSequences with the row size known at compile time (kDim > 0: rows of a table stored as
// one file, copied by inlined vector moves) or not (kDim 0: a memcpy call per row).
template <int kDim, typename Rows>
__attribute__((always_inline)) inline int64_t GatherSequencesWith(const Rows& rows, int64_t count,
                                                                  int32_t runtime_dim,
                                                                  const int64_t* starts,
                                                                  int64_t bags, const int64_t* ids,
                                                                  int64_t length, float* out) {
  const int32_t dim = kDim > 0 ? kDim : runtime_dim;
  const int64_t end_id = starts[bags];
  const int64_t bad = CheckAndPrefetchFirst(rows, count, dim, ids, starts[0], end_id);
  if (bad >= 0) return bad;
  for (int64_t b = 0; b < bags; ++b) {
    float* destination = out + b * length * dim;
    for (int64_t k = starts[b]; k < starts[b + 1]; ++k) {
      if (!CheckAndPrefetchAhead(rows, count, dim, ids, k, end_id)) return k + kPrefetchIds;
      if (k - starts[b] >= length) continue;  // truncated, but checked
      std::memcpy(destination + (k - starts[b]) * dim, rows.Row(ids[k]), sizeof(float) * dim);
    }
    const int64_t filled = std::min(length, starts[b + 1] - starts[b]);
    std::memset(destination + filled * dim, 0, sizeof(float) * dim * (length - filled));
  }
  return -1;
}

EMBRT_CORE_MULTIVERSION int64_t GatherSequencesAnyIsa(const ServingRows& table,
                                                      const int64_t* starts, int64_t bags,
                                                      const int64_t* ids, int64_t length,
                                                      float* out) {
  if (table.base != nullptr) {
    switch (table.dim) {
      case 16:
        return GatherSequencesWith<16>(FixedRows<16>{table.base}, table.count, 16, starts, bags,
                                       ids, length, out);
      case 32:
        return GatherSequencesWith<32>(FixedRows<32>{table.base}, table.count, 32, starts, bags,
                                       ids, length, out);
      case 64:
        return GatherSequencesWith<64>(FixedRows<64>{table.base}, table.count, 64, starts, bags,
                                       ids, length, out);
      case 128:
        return GatherSequencesWith<128>(FixedRows<128>{table.base}, table.count, 128, starts, bags,
                                        ids, length, out);
      default:
        break;
    }
  }
  return GatherSequencesWith<0>(table, table.count, table.dim, starts, bags, ids, length, out);
}

}  // namespace

int64_t CombineBags(const ServingRows& table, const ServingBags& bags, float* out) {
  if (bags.count <= 0) return -1;
  return bags.gains == nullptr ? CombineUnitGains(table, bags, out)
                               : CombineScaled(table, bags, out);
}

int64_t GatherRows(const ServingRows& table, const int64_t* ids, int64_t count, float* out) {
  const int32_t dim = table.dim;
  const int64_t bad = CheckAndPrefetchFirst(table, table.count, dim, ids, 0, count);
  if (bad >= 0) return bad;
  for (int64_t k = 0; k < count; ++k) {
    if (!CheckAndPrefetchAhead(table, table.count, dim, ids, k, count)) return k + kPrefetchIds;
    std::memcpy(out + k * dim, table.Row(ids[k]), sizeof(float) * dim);
  }
  return -1;
}

int64_t GatherSequences(const ServingRows& table, const int64_t* starts, int64_t rows,
                        const int64_t* ids, int64_t length, float* out) {
  if (rows <= 0) return -1;
  return GatherSequencesAnyIsa(table, starts, rows, ids, length, out);
}

int64_t AddSequences(const ServingRows& table, const int64_t* coordinates, const int64_t* ids,
                     int64_t count, int64_t length, float* out) {
  const int32_t dim = table.dim;
  const int64_t bad = CheckAndPrefetchFirst(table, table.count, dim, ids, 0, count);
  if (bad >= 0) return bad;
  for (int64_t k = 0; k < count; ++k) {
    if (!CheckAndPrefetchAhead(table, table.count, dim, ids, k, count)) return k + kPrefetchIds;
    const int64_t b = coordinates[2 * k], p = coordinates[2 * k + 1];
    if (p >= length) continue;  // truncated, but checked
    const float* __restrict row = table.Row(ids[k]);
    float* __restrict destination = out + (b * length + p) * dim;
    for (int32_t d = 0; d < dim; ++d) destination[d] = destination[d] + row[d];
  }
  return -1;
}

}  // namespace internal
}  // namespace embrt
