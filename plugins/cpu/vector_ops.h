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

#include <cstddef>
#include <cstdint>
#include <cstring>

// Compiles a kernel for AVX-512, AVX2 and baseline x86-64 and picks one at load time (GCC
// function multi-versioning). Every version does the same IEEE operations per element in the
// same order (no FMA: -ffp-contract=off), so the choice never changes a result.
// Not under TSan: the instrumented ifunc resolver of an executable that links the kernels (the
// kernel tests) runs during relocation, before the TSan runtime exists, and crashes.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && \
    !defined(EMBRT_CPU_NO_MULTIVERSION) && !defined(EMBRT_NO_MULTIVERSION) && \
    !defined(__SANITIZE_THREAD__)
#define EMBRT_CPU_MULTIVERSION __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define EMBRT_CPU_MULTIVERSION
#endif

// Calls X(dim) for every dim that the lookup and the sorted-ref update have a version compiled
// for: each dim below 16 (rows shorter than one AVX-512 vector, where the generic loops' per-row
// overhead dominates) and the multiples of 16 kept in vector registers. Other dims run the
// generic loops.
#define EMBRT_CPU_FOR_EACH_COMPILED_DIM(X) \
  X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11) X(12) X(13) X(14) X(15) X(16) X(32) \
  X(64) X(128)

namespace embrt {
namespace cpu {

// 16 floats, one AVX-512 register (two AVX2 or four SSE registers in the other clones), and 8.
// GCC's vector arithmetic is element-wise IEEE arithmetic, so it rounds exactly like the scalar
// code.
typedef float Floats16 __attribute__((vector_size(64)));
typedef float Floats8 __attribute__((vector_size(32)));

// A row of kDim < 16 floats held in registers, for sums of rows (the lookup's bags, the update's
// gradients): lanes [0, 8) in one 8-float vector when the dim has them, the rest as scalars.
// GCC keeps a plain float array of 8 to 15 as scalars, one add per lane. Element by element the
// same operations as a float array. Starts as zeros.
template <int kDim>
struct ShortRow {
  static_assert(kDim < 16, "a row of 16 floats or more is kept in Floats16 vectors");
  static constexpr int kHead = kDim >= 8 ? 8 : 0;
  Floats8 head = {};
  float tail[kDim - kHead + 1] = {};  // one spare, so never of length 0

  // this = x (kScale: gain * x).
  template <bool kScale>
  void Set(float gain, const float* x) {
    if constexpr (kHead > 0) {
      std::memcpy(&head, x, sizeof(head));
      if (kScale) head = gain * head;
    }
    for (int d = kHead; d < kDim; ++d) tail[d - kHead] = kScale ? gain * x[d] : x[d];
  }
  // this = this + x (kScale: this + gain * x).
  template <bool kScale>
  void Add(float gain, const float* x) {
    if constexpr (kHead > 0) {
      Floats8 v;
      std::memcpy(&v, x, sizeof(v));
      if (kScale) v = gain * v;
      head = head + v;
    }
    for (int d = kHead; d < kDim; ++d) {
      tail[d - kHead] = tail[d - kHead] + (kScale ? gain * x[d] : x[d]);
    }
  }
  void Add(const ShortRow& other) {
    head = head + other.head;
    for (int d = 0; d < kDim - kHead; ++d) tail[d] = tail[d] + other.tail[d];
  }
  void Store(float* out) const {
    if constexpr (kHead > 0) std::memcpy(out, &head, sizeof(head));
    for (int d = kHead; d < kDim; ++d) out[d] = tail[d - kHead];
  }
};

inline void ScaleRow(int32_t dim, float gain, const float* __restrict row, float* __restrict out) {
  for (int32_t d = 0; d < dim; ++d) out[d] = gain * row[d];
}

inline void AddScaledRow(int32_t dim, float gain, const float* __restrict row,
                         float* __restrict out) {
  for (int32_t d = 0; d < dim; ++d) out[d] = out[d] + gain * row[d];
}

// Passes that stream a host array once (Enqueue's id checks, the gradients' NaN/Inf check)
// read it in blocks of 512 bytes and ask for the block kStreamAheadBytes ahead themselves: the
// hardware prefetcher stops at every 4 KiB page, and on the 2-core VM of issue 13 a pass over
// 128 KiB not in L2 took 23 us without and 11.5 us with. The empty asm keeps GCC 12 from
// vectorizing the block loop around the prefetches, which deletes them.
constexpr size_t kStreamBlockBytes = 512;
constexpr size_t kStreamAheadBytes = 2048;

// Prefetches the 8 lines of the block kStreamAheadBytes after `block` when `end` (one past
// the array) leaves room for it (no prefetch of an address beyond the array).
inline void PrefetchStreamBlock(const void* block, const void* end) {
  const char* p = static_cast<const char*>(block);
  if (static_cast<const char*>(end) - p < static_cast<ptrdiff_t>(kStreamAheadBytes +
                                                                   kStreamBlockBytes)) {
    return;
  }
  asm("");
  p += kStreamAheadBytes;
  __builtin_prefetch(p);
  __builtin_prefetch(p + 64);
  __builtin_prefetch(p + 128);
  __builtin_prefetch(p + 192);
  __builtin_prefetch(p + 256);
  __builtin_prefetch(p + 320);
  __builtin_prefetch(p + 384);
  __builtin_prefetch(p + 448);
}

// Asks for the cache lines of a row (`dim` floats) ahead of use; no effect on results. Rows
// start on a line only when dim is a multiple of 16; any other row may end on one more line
// (half of all rows of 9 floats do), so its last float's line is asked for too.
inline void PrefetchRow(const float* row, int32_t dim) {
  for (int32_t d = 0; d < dim; d += 16) __builtin_prefetch(row + d);
  if (dim % 16 != 0) __builtin_prefetch(row + dim - 1);
}

}  // namespace cpu
}  // namespace embrt

#endif  // EMBRT_PLUGINS_CPU_VECTOR_OPS_H_
