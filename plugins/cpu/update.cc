// Copyright embrt authors.

#include "update.h"

#include <cmath>
#include <cstring>
#include <type_traits>

#include "vector_ops.h"

namespace embrt {
namespace cpu {
namespace {

// Each worker gets at least this many rows, so small steps stay on one thread.
constexpr int64_t kMinRowsPerChunk = 64;
// Slot rows are requested this many rows ahead of their update.
constexpr int64_t kPrefetchDistance = 8;
// The sorted-ref update asks for slot rows and gradient rows this many pairs ahead: a fixed
// number of cache lines in flight, so fewer rows ahead for wider rows.
constexpr size_t kSlotPrefetchPairs = 16;  // the generic loop
template <int kDim>
constexpr size_t SlotPrefetchPairs() {
  return kDim >= 128 ? 4 : 512 / kDim;
}
template <int kDim>
constexpr size_t GradientPrefetchPairs() {
  return SlotPrefetchPairs<kDim>() / 2;
}

// One contribution's step gradient for the per-contribution (non-accumulating) update:
// g = gain * gradient, or zeros for a null (zero) gradient. Inlined into each kernel clone.
__attribute__((always_inline)) inline void ScaledGradient(const float* gradient, float gain,
                                                          int32_t dim, float* g) {
  if (gradient == nullptr) {
    std::memset(g, 0, sizeof(float) * dim);
    return;
  }
  for (int32_t d = 0; d < dim; ++d) g[d] = gain * gradient[d];
}

// Adagrad without clipping or decay on one row whose step gradient is g (kDim / 16 vectors):
// AdagradRow's operations (optimizers.cc), element by element,
// a = a + g * g; w = w - lr * g / sqrt(a). On local copies, so that every loop vectorizes.
template <int kDim>
__attribute__((always_inline)) inline void AdagradFixed(float lr, const Floats16* g, float* w_row,
                                                        float* a_row) {
  constexpr int kVectors = kDim / 16;
  Floats16 a[kVectors], w[kVectors];
  std::memcpy(a, a_row, sizeof(a));
  std::memcpy(w, w_row, sizeof(w));
  alignas(64) float root[kDim];
  for (int v = 0; v < kVectors; ++v) {
    a[v] = a[v] + g[v] * g[v];
    std::memcpy(root + 16 * v, &a[v], sizeof(Floats16));
  }
  for (int d = 0; d < kDim; ++d) root[d] = std::sqrt(root[d]);
  for (int v = 0; v < kVectors; ++v) {
    Floats16 r;
    std::memcpy(&r, root + 16 * v, sizeof(r));
    w[v] = w[v] - lr * g[v] / r;
  }
  std::memcpy(a_row, a, sizeof(a));
  std::memcpy(w_row, w, sizeof(w));
}

// AdagradFixed for any dim: AdagradRow's operations (optimizers.cc).
inline void AdagradAnyDim(int32_t dim, float lr, const float* __restrict g, float* __restrict w,
                          float* __restrict a) {
  for (int32_t d = 0; d < dim; ++d) {
    a[d] = a[d] + g[d] * g[d];
    w[d] = w[d] - lr * g[d] / std::sqrt(a[d]);
  }
}

// A row's gradient sum for dim kDim, a multiple of 16: kDim / 16 vectors in registers.
template <int kDim>
struct VectorRowSum {
  static constexpr int kVectors = kDim / 16;
  Floats16 v[kVectors] = {};

  void Add(const float* x) {
    for (int i = 0; i < kVectors; ++i) {
      Floats16 y;
      std::memcpy(&y, x + 16 * i, sizeof(y));
      v[i] = v[i] + y;
    }
  }
  void AddScaled(float gain, const float* x) {
    for (int i = 0; i < kVectors; ++i) {
      Floats16 y;
      std::memcpy(&y, x + 16 * i, sizeof(y));
      v[i] = v[i] + gain * y;
    }
  }
  void Add(const VectorRowSum& other) {
    for (int i = 0; i < kVectors; ++i) v[i] = v[i] + other.v[i];
  }
  void Store(float* out) const {  // vector by vector: one memcpy of all spills them first
    for (int i = 0; i < kVectors; ++i) std::memcpy(out + 16 * i, &v[i], sizeof(v[i]));
  }
  // Adagrad on the row (w_row, a_row) with this sum as its step gradient.
  void Adagrad(float lr, float* w_row, float* a_row) const {
    AdagradFixed<kDim>(lr, v, w_row, a_row);
  }
};

// A row's gradient sum for a dim below 16 (the default job's FM rows are 9 floats): a
// ShortRow, with VectorRowSum's interface.
template <int kDim>
struct SmallRowSum {
  ShortRow<kDim> sum;

  void Add(const float* x) { sum.template Add<false>(1.0f, x); }
  void AddScaled(float gain, const float* x) { sum.template Add<true>(gain, x); }
  void Add(const SmallRowSum& other) { sum.Add(other.sum); }
  void Store(float* out) const { sum.Store(out); }
  // AdagradAnyDim on the row (w_row, a_row) with this sum as its step gradient.
  void Adagrad(float lr, float* w_row, float* a_row) const {
    float g[kDim];
    Store(g);
    AdagradAnyDim(kDim, lr, g, w_row, a_row);
  }
};

template <int kDim>
using RowSum = std::conditional_t<kDim % 16 == 0, VectorRowSum<kDim>, SmallRowSum<kDim>>;

// ApplySortedRefUpdates (accumulating) for a dim known at compile time, below 16 or a
// multiple of 16: the row's sum stays in registers (RowSum); kAdagrad updates the row right
// here, else ApplyRowUpdate does.
template <int kDim, bool kAdagrad>
__attribute__((always_inline)) inline void SortedRefRunsFixed(const uint64_t* pairs, size_t n,
                                                              const GradientRefs& gr,
                                                              const PreparedUpdate& update,
                                                              TableShard* storage) {
  const int bits = gr.slot_bits;
  const uint32_t mask = (1u << bits) - 1;
  const int num_slots = storage->num_slots();
  float* slot0 = storage->slot(0);
  float* slot1 = num_slots > 1 ? storage->slot(1) : nullptr;
  float* slot2 = num_slots > 2 ? storage->slot(2) : nullptr;
  auto prefetch_slot_line = [&](size_t at) {
    __builtin_prefetch(slot0 + at, 1);
    if (slot1 != nullptr) __builtin_prefetch(slot1 + at, 1);
    if (slot2 != nullptr) __builtin_prefetch(slot2 + at, 1);
  };
  auto prefetch_slots = [&](uint32_t row) {
    const size_t at = static_cast<size_t>(row) * kDim;
    for (int l = 0; l < kDim; l += 16) prefetch_slot_line(at + l);
    if constexpr (kDim % 16 != 0) prefetch_slot_line(at + kDim - 1);  // a row may straddle
  };
  auto gradient = [&](uint32_t ref) -> const float* {
    const float* base = gr.bases[ref >> bits];
    return base == nullptr ? nullptr : base + static_cast<size_t>(ref & mask) * kDim;
  };
  for (size_t i = 0; i < n && i < SlotPrefetchPairs<kDim>(); ++i)
    prefetch_slots(RowRefs::Row(pairs[i]));
  for (size_t i = 0; i < n;) {
    const uint32_t row = RowRefs::Row(pairs[i]);
    RowSum<kDim> step, part;
    int32_t replica = gr.one_replica ? 0 : gr.group_replica[RowRefs::Ref(pairs[i]) >> bits];
    do {
      // Once per distinct row: with skewed ids most pairs repeat the row before them, and
      // prefetching it again only fills the load queue.
      if (i + SlotPrefetchPairs<kDim>() < n) {
        const uint32_t ahead = RowRefs::Row(pairs[i + SlotPrefetchPairs<kDim>()]);
        if (ahead != RowRefs::Row(pairs[i + SlotPrefetchPairs<kDim>() - 1])) prefetch_slots(ahead);
      }
      if (i + GradientPrefetchPairs<kDim>() < n) {
        const float* ahead = gradient(RowRefs::Ref(pairs[i + GradientPrefetchPairs<kDim>()]));
        if (ahead != nullptr) {
          for (int l = 0; l < kDim; l += 16) __builtin_prefetch(ahead + l);
        }
      }
      const uint32_t ref = RowRefs::Ref(pairs[i]);
      if (!gr.one_replica && gr.group_replica[ref >> bits] != replica) {
        step.Add(part);
        part = RowSum<kDim>{};
        replica = gr.group_replica[ref >> bits];
      }
      if (const float* g = gradient(ref)) {
        if (const float* gains = gr.gains[ref >> bits]) {
          part.AddScaled(gains[ref & mask], g);
        } else {
          part.Add(g);
        }
      }
      ++i;
    } while (i < n && RowRefs::Row(pairs[i]) == row);
    step.Add(part);
    const size_t at = static_cast<size_t>(row) * kDim;
    if (kAdagrad) {
      step.Adagrad(update.lr, slot0 + at, slot1 + at);
    } else {
      alignas(64) float g[kDim];
      step.Store(g);
      float* slots[3] = {slot0 + at, slot1 == nullptr ? nullptr : slot1 + at,
                         slot2 == nullptr ? nullptr : slot2 + at};
      ApplyRowUpdate(update, kDim, g, slots);
    }
  }
}

#define EMBRT_CPU_SORTED_REF_RUNS(dim)                                                       \
  EMBRT_CPU_MULTIVERSION void SortedRefRuns##dim(                                            \
      const uint64_t* pairs, size_t n, const GradientRefs& gr, const PreparedUpdate& update, \
      TableShard* storage, bool adagrad) {                                                   \
    if (adagrad) {                                                                           \
      SortedRefRunsFixed<dim, true>(pairs, n, gr, update, storage);                          \
    } else {                                                                                 \
      SortedRefRunsFixed<dim, false>(pairs, n, gr, update, storage);                         \
    }                                                                                        \
  }
EMBRT_CPU_FOR_EACH_COMPILED_DIM(EMBRT_CPU_SORTED_REF_RUNS)
#undef EMBRT_CPU_SORTED_REF_RUNS

// Any dim, and the per-contribution (non-accumulating) update: the generic loops. `adagrad`:
// as in SortedRefRunsFixed.
EMBRT_CPU_MULTIVERSION
void SortedRefRunsGeneric(const uint64_t* pairs, size_t n, const GradientRefs& gr,
                          const PreparedUpdate& update, bool accumulate, bool adagrad,
                          TableShard* storage, float* scratch) {
  const int32_t dim = storage->dim();
  const int num_slots = storage->num_slots();
  const int bits = gr.slot_bits;
  const uint32_t mask = (1u << bits) - 1;
  float* part = scratch;
  float* g = scratch + dim;
  auto gradient = [&](uint32_t ref) -> const float* {
    const float* base = gr.bases[ref >> bits];
    return base == nullptr ? nullptr : base + static_cast<size_t>(ref & mask) * dim;
  };
  auto gain = [&](uint32_t ref) {
    const float* gains = gr.gains[ref >> bits];
    return gains == nullptr ? 1.0f : gains[ref & mask];
  };
  for (size_t i = 0; i < n;) {
    if (i + kSlotPrefetchPairs < n) {
      for (int s = 0; s < num_slots; ++s) {
        PrefetchRow(storage->row(s, RowRefs::Row(pairs[i + kSlotPrefetchPairs])), dim);
      }
    }
    const uint32_t row = RowRefs::Row(pairs[i]);
    float* slots[3];
    for (int s = 0; s < num_slots; ++s) slots[s] = storage->row(s, row);
    if (!accumulate) {  // one update per contribution: g = gain * gradient, or zeros
      const uint32_t ref = RowRefs::Ref(pairs[i]);
      const float* x = gradient(ref);
      ScaledGradient(x, x == nullptr ? 0.0f : gain(ref), dim, g);
      ApplyRowUpdate(update, dim, g, slots);
      ++i;
      continue;
    }
    std::memset(g, 0, sizeof(float) * dim);
    std::memset(part, 0, sizeof(float) * dim);
    int32_t replica = gr.one_replica ? 0 : gr.group_replica[RowRefs::Ref(pairs[i]) >> bits];
    do {
      const uint32_t ref = RowRefs::Ref(pairs[i]);
      const int32_t r = gr.one_replica ? 0 : gr.group_replica[ref >> bits];
      if (r != replica) {
        for (int32_t d = 0; d < dim; ++d) g[d] = g[d] + part[d];
        std::memset(part, 0, sizeof(float) * dim);
        replica = r;
      }
      if (const float* x = gradient(ref)) {
        const float c = gain(ref);
        for (int32_t d = 0; d < dim; ++d) part[d] = part[d] + c * x[d];
      }
      ++i;
    } while (i < n && RowRefs::Row(pairs[i]) == row);
    for (int32_t d = 0; d < dim; ++d) g[d] = g[d] + part[d];
    if (adagrad) {
      AdagradAnyDim(dim, update.lr, g, slots[0], slots[1]);
    } else {
      ApplyRowUpdate(update, dim, g, slots);
    }
  }
}

}  // namespace

void ApplySortedRefUpdates(const uint64_t* pairs, size_t count, const GradientRefs& gradients,
                           const PreparedUpdate& update, bool accumulate, TableShard* storage,
                           float* scratch) {
  const OptimizerSettings& s = *update.settings;
  const bool adagrad = s.kind == EMBRT_OPTIMIZER_ADAGRAD && !update.clip_gradients &&
                       update.decay == 0.0f && !update.clip_weights;
  if (accumulate) {
#define EMBRT_CPU_SORTED_REF_RUNS_CASE(d) \
  case d:                                 \
    return SortedRefRuns##d(pairs, count, gradients, update, storage, adagrad);
    switch (storage->dim()) {
      EMBRT_CPU_FOR_EACH_COMPILED_DIM(EMBRT_CPU_SORTED_REF_RUNS_CASE)
#undef EMBRT_CPU_SORTED_REF_RUNS_CASE
      default:
        break;
    }
  }
  SortedRefRunsGeneric(pairs, count, gradients, update, accumulate, adagrad, storage, scratch);
}

void ApplyGroupedUpdates(ThreadPool& pool, const RowGrouping& grouping,
                         const PreparedUpdate& update, bool accumulate, bool every_row,
                         TableShard* storage, std::vector<std::vector<float>>* scratch) {
  const int32_t dim = storage->dim();
  const int num_slots = storage->num_slots();
  auto apply = [&](int64_t row, float* g) {
    float* slots[3];
    for (int s = 0; s < num_slots; ++s) slots[s] = storage->row(s, row);
    ApplyRowUpdate(update, dim, g, slots);
  };
  if (every_row) {
    pool.ParallelFor(storage->rows(), kMinRowsPerChunk, [&](int64_t begin, int64_t end, int w) {
      float* part = (*scratch)[w].data();
      float* g = part + dim;
      for (int64_t row = begin; row < end; ++row) {
        const int64_t u = grouping.Find(row);
        if (u >= 0) {
          SumRowGradient(grouping.begin(u), grouping.end(u), dim, part, g);
        } else {
          std::memset(g, 0, sizeof(float) * dim);
        }
        apply(row, g);
      }
    });
    return;
  }
  pool.ParallelFor(grouping.num_rows(), kMinRowsPerChunk, [&](int64_t begin, int64_t end, int w) {
    float* part = (*scratch)[w].data();
    float* g = part + dim;
    for (int64_t u = begin; u < end; ++u) {
      if (u + kPrefetchDistance < end) {
        const int64_t ahead = grouping.row(u + kPrefetchDistance);
        for (int s = 0; s < num_slots; ++s) PrefetchRow(storage->row(s, ahead), dim);
      }
      const int64_t row = grouping.row(u);
      if (accumulate) {
        SumRowGradient(grouping.begin(u), grouping.end(u), dim, part, g);
        apply(row, g);
        continue;
      }
      for (const Contribution* c = grouping.begin(u); c != grouping.end(u); ++c) {
        ScaledGradient(c->gradient, c->gain, dim, g);
        apply(row, g);
      }
    }
  });
}

void ApplyOwnedUpdates(const OwnedRows& owned, const PreparedUpdate& update, bool accumulate,
                       TableShard* storage, float* scratch) {
  const int32_t dim = storage->dim();
  const int num_slots = storage->num_slots();
  float* part = scratch;
  float* g = scratch + dim;
  const int64_t rows = owned.num_rows();
  for (int64_t i = 0; i < rows && i < kPrefetchDistance; ++i) {
    for (int s = 0; s < num_slots; ++s) PrefetchRow(storage->row(s, owned.row(i)), dim);
  }
  for (int64_t i = 0; i < rows; ++i) {
    if (i + kPrefetchDistance < rows) {
      const int64_t ahead = owned.row(i + kPrefetchDistance);
      for (int s = 0; s < num_slots; ++s) PrefetchRow(storage->row(s, ahead), dim);
    }
    const int64_t row = owned.row(i);
    float* slots[3];
    for (int s = 0; s < num_slots; ++s) slots[s] = storage->row(s, row);
    if (accumulate) {
      SumRowGradient(owned.begin(i), owned.end(i), dim, part, g);
      ApplyRowUpdate(update, dim, g, slots);
      continue;
    }
    for (const Contribution* c = owned.begin(i); c != owned.end(i); ++c) {
      ScaledGradient(c->gradient, c->gain, dim, g);
      ApplyRowUpdate(update, dim, g, slots);
    }
  }
}

}  // namespace cpu
}  // namespace embrt
