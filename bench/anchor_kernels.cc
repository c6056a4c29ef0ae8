// Copyright embrt authors.

#include "anchor_kernels.h"

#include <sys/mman.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <new>

#if defined(__x86_64__)
#include <immintrin.h>
#define EMBRT_ANCHOR_X86 1
#endif

namespace embrt {
namespace bench {
namespace {

bool avx2_only = false;  // LimitAnchorToAvx2

constexpr int kPrefetchIds = 16;  // ids between a row's prefetch and its use
constexpr int kSpins = 4000;      // pause loops (a few microseconds) before a worker sleeps

void Pause() {
#ifdef EMBRT_ANCHOR_X86
  _mm_pause();
#endif
}

void BagRange(int64_t bags, int workers, int worker, int64_t* begin, int64_t* end) {
  *begin = bags * worker / workers;
  *end = bags * (worker + 1) / workers;
}

// ---- forward --------------------------------------------------------------------------------

void ForwardScalar(const float* table, int dim, const int64_t* splits, const int64_t* ids,
                   int64_t b0, int64_t b1, float* out) {
  const int64_t last = splits[b1];
  for (int64_t b = b0; b < b1; ++b) {
    float* o = out + b * dim;
    for (int d = 0; d < dim; ++d) o[d] = 0.0f;
    for (int64_t k = splits[b]; k < splits[b + 1]; ++k) {
      if (k + kPrefetchIds < last) {
        const char* p = reinterpret_cast<const char*>(table + ids[k + kPrefetchIds] * dim);
        for (int l = 0; l < dim * 4; l += 64) __builtin_prefetch(p + l);
      }
      const float* row = table + ids[k] * dim;
      for (int d = 0; d < dim; ++d) o[d] += row[d];
    }
  }
}

#ifdef EMBRT_ANCHOR_X86
template <int kDim>
__attribute__((target("avx512f"))) void ForwardAvx512(const float* table, const int64_t* splits,
                                                      const int64_t* ids, int64_t b0, int64_t b1,
                                                      float* out) {
  constexpr int kVectors = kDim / 16;
  const int64_t last = splits[b1];
  for (int64_t b = b0; b < b1; ++b) {
    __m512 acc[kVectors];
    for (int v = 0; v < kVectors; ++v) acc[v] = _mm512_set1_ps(0.0f);
    for (int64_t k = splits[b]; k < splits[b + 1]; ++k) {
      if (k + kPrefetchIds < last) {
        const char* p = reinterpret_cast<const char*>(table + ids[k + kPrefetchIds] * kDim);
        for (int l = 0; l < kDim * 4; l += 64) _mm_prefetch(p + l, _MM_HINT_T0);
      }
      const float* row = table + ids[k] * kDim;
      for (int v = 0; v < kVectors; ++v)
        acc[v] = _mm512_add_ps(acc[v], _mm512_loadu_ps(row + 16 * v));
    }
    for (int v = 0; v < kVectors; ++v) _mm512_storeu_ps(out + b * kDim + 16 * v, acc[v]);
  }
}

template <int kDim>
__attribute__((target("avx2"))) void ForwardAvx2(const float* table, const int64_t* splits,
                                                 const int64_t* ids, int64_t b0, int64_t b1,
                                                 float* out) {
  constexpr int kVectors = kDim / 8;
  const int64_t last = splits[b1];
  for (int64_t b = b0; b < b1; ++b) {
    __m256 acc[kVectors];
    for (int v = 0; v < kVectors; ++v) acc[v] = _mm256_setzero_ps();
    for (int64_t k = splits[b]; k < splits[b + 1]; ++k) {
      if (k + kPrefetchIds < last) {
        const char* p = reinterpret_cast<const char*>(table + ids[k + kPrefetchIds] * kDim);
        for (int l = 0; l < kDim * 4; l += 64) _mm_prefetch(p + l, _MM_HINT_T0);
      }
      const float* row = table + ids[k] * kDim;
      for (int v = 0; v < kVectors; ++v)
        acc[v] = _mm256_add_ps(acc[v], _mm256_loadu_ps(row + 8 * v));
    }
    for (int v = 0; v < kVectors; ++v) _mm256_storeu_ps(out + b * kDim + 8 * v, acc[v]);
  }
}

// ---- dims below 16: one vector per row, the lanes past the row masked off ----

// Asks for every cache line of the `bytes` at `p` (a short row may straddle two lines).
inline void PrefetchRow(const void* p, int bytes) {
  const uintptr_t first = reinterpret_cast<uintptr_t>(p) & ~uintptr_t{63};
  const uintptr_t end = reinterpret_cast<uintptr_t>(p) + static_cast<uintptr_t>(bytes);
  for (uintptr_t line = first; line < end; line += 64) {
    _mm_prefetch(reinterpret_cast<const char*>(line), _MM_HINT_T0);
  }
}

template <int kDim>
__attribute__((target("avx512f"))) void ForwardAvx512Small(const float* table,
                                                           const int64_t* splits,
                                                           const int64_t* ids, int64_t b0,
                                                           int64_t b1, float* out) {
  static_assert(kDim >= 1 && kDim < 16);
  constexpr __mmask16 kMask = static_cast<__mmask16>((1u << kDim) - 1);
  const int64_t last = splits[b1];
  for (int64_t b = b0; b < b1; ++b) {
    __m512 acc = _mm512_setzero_ps();
    for (int64_t k = splits[b]; k < splits[b + 1]; ++k) {
      if (k + kPrefetchIds < last) PrefetchRow(table + ids[k + kPrefetchIds] * kDim, kDim * 4);
      acc = _mm512_add_ps(acc, _mm512_maskz_loadu_ps(kMask, table + ids[k] * kDim));
    }
    _mm512_mask_storeu_ps(out + b * kDim, kMask, acc);
  }
}

// Lanes [0, n) of an AVX2 mask set.
__attribute__((target("avx2"))) inline __m256i LaneMask(int n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

template <int kDim>
__attribute__((target("avx2"))) void ForwardAvx2Small(const float* table, const int64_t* splits,
                                                      const int64_t* ids, int64_t b0, int64_t b1,
                                                      float* out) {
  static_assert(kDim >= 1 && kDim < 16);
  constexpr int kLow = kDim < 8 ? kDim : 8;  // lanes of the first half; the rest in the second
  const __m256i low_mask = LaneMask(kLow);
  const __m256i high_mask = LaneMask(kDim - kLow);
  const int64_t last = splits[b1];
  for (int64_t b = b0; b < b1; ++b) {
    __m256 low = _mm256_setzero_ps();
    __m256 high = _mm256_setzero_ps();
    for (int64_t k = splits[b]; k < splits[b + 1]; ++k) {
      if (k + kPrefetchIds < last) PrefetchRow(table + ids[k + kPrefetchIds] * kDim, kDim * 4);
      const float* row = table + ids[k] * kDim;
      low = _mm256_add_ps(low, _mm256_maskload_ps(row, low_mask));
      if constexpr (kDim > 8) high = _mm256_add_ps(high, _mm256_maskload_ps(row + 8, high_mask));
    }
    _mm256_maskstore_ps(out + b * kDim, low_mask, low);
    if constexpr (kDim > 8) _mm256_maskstore_ps(out + b * kDim + 8, high_mask, high);
  }
}

bool HasAvx512() { return !avx2_only && __builtin_cpu_supports("avx512f"); }
bool HasAvx2() { return __builtin_cpu_supports("avx2"); }

// The kernel for dim kDim on this CPU (masked below 16); false without AVX2.
template <int kDim>
bool ForwardFixed(const float* table, const int64_t* splits, const int64_t* ids, int64_t b0,
                  int64_t b1, float* out) {
  if (HasAvx512()) {
    if constexpr (kDim < 16) {
      ForwardAvx512Small<kDim>(table, splits, ids, b0, b1, out);
    } else {
      ForwardAvx512<kDim>(table, splits, ids, b0, b1, out);
    }
  } else if (HasAvx2()) {
    if constexpr (kDim < 16) {
      ForwardAvx2Small<kDim>(table, splits, ids, b0, b1, out);
    } else {
      ForwardAvx2<kDim>(table, splits, ids, b0, b1, out);
    }
  } else {
    return false;
  }
  return true;
}

// X(dim) for every dim with a masked kernel.
#define EMBRT_ANCHOR_FOR_EACH_SMALL_DIM(X) \
  X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11) X(12) X(13) X(14) X(15)
#endif

void ForwardRange(const float* table, int dim, const int64_t* splits, const int64_t* ids,
                  int64_t b0, int64_t b1, float* out) {
#ifdef EMBRT_ANCHOR_X86
  bool done = false;
  switch (dim) {
    case 16:
      done = ForwardFixed<16>(table, splits, ids, b0, b1, out);
      break;
    case 32:
      done = ForwardFixed<32>(table, splits, ids, b0, b1, out);
      break;
    case 64:
      done = ForwardFixed<64>(table, splits, ids, b0, b1, out);
      break;
    case 128:
      done = ForwardFixed<128>(table, splits, ids, b0, b1, out);
      break;
#define EMBRT_ANCHOR_FORWARD_CASE(d)                         \
  case d:                                                    \
    done = ForwardFixed<d>(table, splits, ids, b0, b1, out); \
    break;
      EMBRT_ANCHOR_FOR_EACH_SMALL_DIM(EMBRT_ANCHOR_FORWARD_CASE)
#undef EMBRT_ANCHOR_FORWARD_CASE
    default:
      break;
  }
  if (done) return;
#endif
  ForwardScalar(table, dim, splits, ids, b0, b1, out);
}

// ---- backward -------------------------------------------------------------------------------

// Stable LSD radix sort of (rows, bags) by row, 11 bits per pass; the result is in *rows, *bags.
void SortByRow(int64_t table_rows, std::vector<uint32_t>* rows, std::vector<uint32_t>* bags,
               std::vector<uint32_t>* spare_rows, std::vector<uint32_t>* spare_bags) {
  constexpr int kBits = 11;
  int bits = 1;
  while ((int64_t{1} << bits) < table_rows) ++bits;
  const size_t n = rows->size();
  spare_rows->resize(n);
  spare_bags->resize(n);
  std::vector<uint32_t> count(size_t{1} << kBits);
  for (int shift = 0; shift < bits; shift += kBits) {
    std::fill(count.begin(), count.end(), 0u);
    const uint32_t mask = (1u << kBits) - 1;
    for (uint32_t r : *rows) ++count[(r >> shift) & mask];
    uint32_t total = 0;
    for (uint32_t& c : count) {
      const uint32_t here = c;
      c = total;
      total += here;
    }
    for (size_t i = 0; i < n; ++i) {
      const uint32_t at = count[((*rows)[i] >> shift) & mask]++;
      (*spare_rows)[at] = (*rows)[i];
      (*spare_bags)[at] = (*bags)[i];
    }
    rows->swap(*spare_rows);
    bags->swap(*spare_bags);
  }
}

void AdagradRowScalar(int dim, const uint32_t* bags, size_t count, const float* gradients,
                      float learning_rate, float* row, float* accumulator, float* g) {
  for (int d = 0; d < dim; ++d) g[d] = 0.0f;
  for (size_t i = 0; i < count; ++i) {
    const float* src = gradients + static_cast<int64_t>(bags[i]) * dim;
    for (int d = 0; d < dim; ++d) g[d] += src[d];
  }
  for (int d = 0; d < dim; ++d) {
    accumulator[d] += g[d] * g[d];
    row[d] -= learning_rate * g[d] / std::sqrt(accumulator[d]);
  }
}

#ifdef EMBRT_ANCHOR_X86
template <int kDim>
__attribute__((target("avx512f"))) void AdagradRowAvx512(const uint32_t* bags, size_t count,
                                                         const float* gradients,
                                                         float learning_rate, float* row,
                                                         float* accumulator) {
  constexpr int kVectors = kDim / 16;
  __m512 g[kVectors];
  for (int v = 0; v < kVectors; ++v) g[v] = _mm512_set1_ps(0.0f);
  for (size_t i = 0; i < count; ++i) {
    const float* src = gradients + static_cast<int64_t>(bags[i]) * kDim;
    for (int v = 0; v < kVectors; ++v) g[v] = _mm512_add_ps(g[v], _mm512_loadu_ps(src + 16 * v));
  }
  const __m512 lr = _mm512_set1_ps(learning_rate);
  for (int v = 0; v < kVectors; ++v) {
    const __m512 a =
        _mm512_add_ps(_mm512_loadu_ps(accumulator + 16 * v), _mm512_mul_ps(g[v], g[v]));
    _mm512_storeu_ps(accumulator + 16 * v, a);
    const __m512 step = _mm512_div_ps(_mm512_mul_ps(lr, g[v]), _mm512_sqrt_ps(a));
    _mm512_storeu_ps(row + 16 * v, _mm512_sub_ps(_mm512_loadu_ps(row + 16 * v), step));
  }
}

template <int kDim>
__attribute__((target("avx2"))) void AdagradRowAvx2(const uint32_t* bags, size_t count,
                                                    const float* gradients, float learning_rate,
                                                    float* row, float* accumulator) {
  constexpr int kVectors = kDim / 8;
  __m256 g[kVectors];
  for (int v = 0; v < kVectors; ++v) g[v] = _mm256_setzero_ps();
  for (size_t i = 0; i < count; ++i) {
    const float* src = gradients + static_cast<int64_t>(bags[i]) * kDim;
    for (int v = 0; v < kVectors; ++v) g[v] = _mm256_add_ps(g[v], _mm256_loadu_ps(src + 8 * v));
  }
  const __m256 lr = _mm256_set1_ps(learning_rate);
  for (int v = 0; v < kVectors; ++v) {
    const __m256 a = _mm256_add_ps(_mm256_loadu_ps(accumulator + 8 * v), _mm256_mul_ps(g[v], g[v]));
    _mm256_storeu_ps(accumulator + 8 * v, a);
    const __m256 step = _mm256_div_ps(_mm256_mul_ps(lr, g[v]), _mm256_sqrt_ps(a));
    _mm256_storeu_ps(row + 8 * v, _mm256_sub_ps(_mm256_loadu_ps(row + 8 * v), step));
  }
}

// Dims below 16: the lanes past the row are masked off (they compute 0 / 0, never stored).
template <int kDim>
__attribute__((target("avx512f"))) void AdagradRowAvx512Small(const uint32_t* bags, size_t count,
                                                              const float* gradients,
                                                              float learning_rate, float* row,
                                                              float* accumulator) {
  constexpr __mmask16 kMask = static_cast<__mmask16>((1u << kDim) - 1);
  __m512 g = _mm512_setzero_ps();
  for (size_t i = 0; i < count; ++i) {
    g = _mm512_add_ps(
        g, _mm512_maskz_loadu_ps(kMask, gradients + static_cast<int64_t>(bags[i]) * kDim));
  }
  const __m512 a = _mm512_add_ps(_mm512_maskz_loadu_ps(kMask, accumulator), _mm512_mul_ps(g, g));
  _mm512_mask_storeu_ps(accumulator, kMask, a);
  const __m512 step =
      _mm512_div_ps(_mm512_mul_ps(_mm512_set1_ps(learning_rate), g), _mm512_sqrt_ps(a));
  _mm512_mask_storeu_ps(row, kMask, _mm512_sub_ps(_mm512_maskz_loadu_ps(kMask, row), step));
}

// One masked 8-lane half of a row's Adagrad.
__attribute__((target("avx2"))) void AdagradHalfAvx2(__m256 g, __m256i mask, float learning_rate,
                                                     float* row, float* accumulator) {
  const __m256 a = _mm256_add_ps(_mm256_maskload_ps(accumulator, mask), _mm256_mul_ps(g, g));
  _mm256_maskstore_ps(accumulator, mask, a);
  const __m256 step =
      _mm256_div_ps(_mm256_mul_ps(_mm256_set1_ps(learning_rate), g), _mm256_sqrt_ps(a));
  _mm256_maskstore_ps(row, mask, _mm256_sub_ps(_mm256_maskload_ps(row, mask), step));
}

template <int kDim>
__attribute__((target("avx2"))) void AdagradRowAvx2Small(const uint32_t* bags, size_t count,
                                                         const float* gradients,
                                                         float learning_rate, float* row,
                                                         float* accumulator) {
  constexpr int kLow = kDim < 8 ? kDim : 8;
  const __m256i low_mask = LaneMask(kLow);
  const __m256i high_mask = LaneMask(kDim - kLow);
  __m256 low = _mm256_setzero_ps();
  __m256 high = _mm256_setzero_ps();
  for (size_t i = 0; i < count; ++i) {
    const float* src = gradients + static_cast<int64_t>(bags[i]) * kDim;
    low = _mm256_add_ps(low, _mm256_maskload_ps(src, low_mask));
    if constexpr (kDim > 8) high = _mm256_add_ps(high, _mm256_maskload_ps(src + 8, high_mask));
  }
  AdagradHalfAvx2(low, low_mask, learning_rate, row, accumulator);
  if constexpr (kDim > 8) {
    AdagradHalfAvx2(high, high_mask, learning_rate, row + 8, accumulator + 8);
  }
}
#endif

#ifdef EMBRT_ANCHOR_X86
// One row's Adagrad with the dim-kDim kernel (masked below 16), AVX-512 or else AVX2.
template <int kDim>
void AdagradRowFixed(bool avx512, const uint32_t* bags, size_t count, const float* gradients,
                     float learning_rate, float* row, float* accumulator) {
  if constexpr (kDim < 16) {
    if (avx512) {
      AdagradRowAvx512Small<kDim>(bags, count, gradients, learning_rate, row, accumulator);
    } else {
      AdagradRowAvx2Small<kDim>(bags, count, gradients, learning_rate, row, accumulator);
    }
  } else if (avx512) {
    AdagradRowAvx512<kDim>(bags, count, gradients, learning_rate, row, accumulator);
  } else {
    AdagradRowAvx2<kDim>(bags, count, gradients, learning_rate, row, accumulator);
  }
}
#endif

// Applies every run of equal rows in the sorted (rows, bags) of one worker.
template <int kDim>
void ApplyRuns(AnchorTable& table, const std::vector<uint32_t>& rows,
               const std::vector<uint32_t>& bags, const float* gradients, float learning_rate) {
  const int dim = kDim > 0 ? kDim : table.dim();
  std::vector<float> g(dim);  // the scalar path's row gradient
#ifdef EMBRT_ANCHOR_X86
  const bool avx512 = HasAvx512();
  const bool avx2 = HasAvx2();
#endif
  const size_t n = rows.size();
  for (size_t i = 0; i < n;) {
    size_t j = i + 1;
    while (j < n && rows[j] == rows[i]) ++j;
    // The next run's row is written soon: ask for it now.
    if (j < n) {
      const char* p = reinterpret_cast<const char*>(table.parameters() + int64_t{rows[j]} * dim);
      const char* q = reinterpret_cast<const char*>(table.accumulators() + int64_t{rows[j]} * dim);
      for (int l = 0; l < dim * 4; l += 64) {
        __builtin_prefetch(p + l, 1);
        __builtin_prefetch(q + l, 1);
      }
      if (dim < 16) {  // a short row may straddle two lines
        __builtin_prefetch(p + dim * 4 - 1, 1);
        __builtin_prefetch(q + dim * 4 - 1, 1);
      }
    }
    float* row = table.parameters() + int64_t{rows[i]} * dim;
    float* accumulator = table.accumulators() + int64_t{rows[i]} * dim;
#ifdef EMBRT_ANCHOR_X86
    if constexpr (kDim > 0) {
      if (avx512 || avx2) {
        AdagradRowFixed<kDim>(avx512, &bags[i], j - i, gradients, learning_rate, row, accumulator);
        i = j;
        continue;
      }
    }
#endif
    AdagradRowScalar(dim, &bags[i], j - i, gradients, learning_rate, row, accumulator, g.data());
    i = j;
  }
}

// ---- gather ---------------------------------------------------------------------------------

void GatherScalar(const float* table, int dim, const int64_t* ids, int64_t count, float* out) {
  for (int64_t k = 0; k < count; ++k) {
    if (k + kPrefetchIds < count) {
      const char* p = reinterpret_cast<const char*>(table + ids[k + kPrefetchIds] * dim);
      for (int l = 0; l < dim * 4; l += 64) __builtin_prefetch(p + l);
    }
    std::memcpy(out + k * dim, table + ids[k] * dim, sizeof(float) * dim);
  }
}

#ifdef EMBRT_ANCHOR_X86
template <int kDim>
__attribute__((target("avx512f"))) void GatherAvx512(const float* table, const int64_t* ids,
                                                     int64_t count, float* out) {
  for (int64_t k = 0; k < count; ++k) {
    if (k + kPrefetchIds < count) {
      const char* p = reinterpret_cast<const char*>(table + ids[k + kPrefetchIds] * kDim);
      for (int l = 0; l < kDim * 4; l += 64) _mm_prefetch(p + l, _MM_HINT_T0);
    }
    const float* row = table + ids[k] * kDim;
    for (int v = 0; v < kDim / 16; ++v) {
      _mm512_storeu_ps(out + k * kDim + 16 * v, _mm512_loadu_ps(row + 16 * v));
    }
  }
}

template <int kDim>
__attribute__((target("avx2"))) void GatherAvx2(const float* table, const int64_t* ids,
                                                int64_t count, float* out) {
  for (int64_t k = 0; k < count; ++k) {
    if (k + kPrefetchIds < count) {
      const char* p = reinterpret_cast<const char*>(table + ids[k + kPrefetchIds] * kDim);
      for (int l = 0; l < kDim * 4; l += 64) _mm_prefetch(p + l, _MM_HINT_T0);
    }
    const float* row = table + ids[k] * kDim;
    for (int v = 0; v < kDim / 8; ++v) {
      _mm256_storeu_ps(out + k * kDim + 8 * v, _mm256_loadu_ps(row + 8 * v));
    }
  }
}

template <int kDim>
bool GatherFixed(const float* table, const int64_t* ids, int64_t count, float* out) {
  if (HasAvx512()) {
    GatherAvx512<kDim>(table, ids, count, out);
  } else if (HasAvx2()) {
    GatherAvx2<kDim>(table, ids, count, out);
  } else {
    return false;
  }
  return true;
}
#endif

}  // namespace

void LimitAnchorToAvx2(bool limit) { avx2_only = limit; }

void AnchorGather(const float* parameters, int dim, const int64_t* ids, int64_t count, float* out) {
#ifdef EMBRT_ANCHOR_X86
  bool done = false;
  switch (dim) {
    case 16:
      done = GatherFixed<16>(parameters, ids, count, out);
      break;
    case 32:
      done = GatherFixed<32>(parameters, ids, count, out);
      break;
    case 64:
      done = GatherFixed<64>(parameters, ids, count, out);
      break;
    case 128:
      done = GatherFixed<128>(parameters, ids, count, out);
      break;
    default:
      break;
  }
  if (done) return;
#endif
  GatherScalar(parameters, dim, ids, count, out);
}

// ---- team -----------------------------------------------------------------------------------

AnchorTeam::AnchorTeam(int threads) : size_(std::max(1, threads)) {
  for (int w = 1; w < size_; ++w) threads_.emplace_back([this, w] { Loop(w); });
}

AnchorTeam::~AnchorTeam() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_.store(true);
  }
  wake_.notify_all();
  for (std::thread& t : threads_) t.join();
}

void AnchorTeam::Run(const std::function<void(int worker)>& body) {
  if (size_ == 1) {
    body(0);
    return;
  }
  body_ = &body;
  pending_.store(size_ - 1, std::memory_order_relaxed);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    generation_.fetch_add(1, std::memory_order_release);
  }
  wake_.notify_all();
  body(0);
  for (int spins = 0; pending_.load(std::memory_order_acquire) != 0; ++spins) {
    if (spins < kSpins) {
      Pause();
    } else {
      std::this_thread::yield();
    }
  }
}

void AnchorTeam::Loop(int worker) {
  uint64_t seen = 0;
  for (;;) {
    int spins = 0;
    while (generation_.load(std::memory_order_acquire) == seen && !stop_.load() &&
           spins++ < kSpins) {
      Pause();
    }
    if (generation_.load(std::memory_order_acquire) == seen) {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [&] { return stop_.load() || generation_.load() != seen; });
    }
    if (stop_.load()) return;
    seen = generation_.load(std::memory_order_acquire);
    (*body_)(worker);
    pending_.fetch_sub(1, std::memory_order_acq_rel);
  }
}

// ---- table ----------------------------------------------------------------------------------

AnchorTable::AnchorTable(int64_t rows, int dim, float initial_accumulator)
    : rows_(rows), dim_(dim) {
  constexpr size_t kHugePage = size_t{2} << 20;
  bytes_ =
      (static_cast<size_t>(rows) * dim * sizeof(float) + kHugePage - 1) / kHugePage * kHugePage;
  parameters_ = static_cast<float*>(std::aligned_alloc(kHugePage, bytes_));
  accumulators_ = static_cast<float*>(std::aligned_alloc(kHugePage, bytes_));
  if (parameters_ == nullptr || accumulators_ == nullptr) throw std::bad_alloc();
#ifdef MADV_HUGEPAGE
  madvise(parameters_, bytes_, MADV_HUGEPAGE);
  madvise(accumulators_, bytes_, MADV_HUGEPAGE);
#endif
  const size_t n = static_cast<size_t>(rows) * dim;
  for (size_t i = 0; i < n; ++i) parameters_[i] = 0.0f;
  std::fill(accumulators_, accumulators_ + n, initial_accumulator);
}

AnchorTable::~AnchorTable() {
  std::free(parameters_);
  std::free(accumulators_);
}

// ---- entry points ---------------------------------------------------------------------------

void AnchorForward(const AnchorTable& table, const int64_t* splits, const int64_t* ids,
                   int64_t bags, float* out, AnchorTeam& team) {
  AnchorForward(table.parameters(), table.dim(), splits, ids, bags, out, team);
}

void AnchorForward(const float* parameters, int dim, const int64_t* splits, const int64_t* ids,
                   int64_t bags, float* out, AnchorTeam& team) {
  team.Run([&](int worker) {
    int64_t b0, b1;
    BagRange(bags, team.size(), worker, &b0, &b1);
    if (b0 < b1) ForwardRange(parameters, dim, splits, ids, b0, b1, out);
  });
}

void AnchorBackward(AnchorTable& table, const int64_t* splits, const int64_t* ids, int64_t bags,
                    const float* gradients, float learning_rate, AnchorTeam& team,
                    AnchorBackwardScratch* scratch) {
  const int workers = team.size();
  for (auto* v : {&scratch->rows, &scratch->bags, &scratch->sorted_rows, &scratch->sorted_bags}) {
    v->resize(workers);
  }
  team.Run([&](int worker) {
    std::vector<uint32_t>& rows = scratch->rows[worker];
    std::vector<uint32_t>& owners_bags = scratch->bags[worker];
    rows.clear();
    owners_bags.clear();
    for (int64_t b = 0; b < bags; ++b) {
      for (int64_t k = splits[b]; k < splits[b + 1]; ++k) {
        const int64_t row = ids[k];
        if (row % workers != worker) continue;
        rows.push_back(static_cast<uint32_t>(row));
        owners_bags.push_back(static_cast<uint32_t>(b));
      }
    }
    SortByRow(table.rows(), &rows, &owners_bags, &scratch->sorted_rows[worker],
              &scratch->sorted_bags[worker]);
    switch (table.dim()) {
      case 16:
        ApplyRuns<16>(table, rows, owners_bags, gradients, learning_rate);
        break;
      case 32:
        ApplyRuns<32>(table, rows, owners_bags, gradients, learning_rate);
        break;
      case 64:
        ApplyRuns<64>(table, rows, owners_bags, gradients, learning_rate);
        break;
      case 128:
        ApplyRuns<128>(table, rows, owners_bags, gradients, learning_rate);
        break;
#ifdef EMBRT_ANCHOR_X86
#define EMBRT_ANCHOR_BACKWARD_CASE(d)                                 \
  case d:                                                             \
    ApplyRuns<d>(table, rows, owners_bags, gradients, learning_rate); \
    break;
        EMBRT_ANCHOR_FOR_EACH_SMALL_DIM(EMBRT_ANCHOR_BACKWARD_CASE)
#undef EMBRT_ANCHOR_BACKWARD_CASE
#endif
      default:
        ApplyRuns<0>(table, rows, owners_bags, gradients, learning_rate);
        break;
    }
  });
}

}  // namespace bench
}  // namespace embrt
