// Copyright embrt authors.

#include "backward.h"

#include <algorithm>
#include <cstring>

#include "vector_ops.h"

namespace embrt {
namespace cpu {
namespace {

// Tables up to this many rows map rows densely (4 bytes per row, kept across steps).
constexpr int64_t kDenseMapMaxRows = int64_t{1} << 21;

inline uint64_t HashRow(int64_t row) { return static_cast<uint64_t>(row) * 0x9E3779B97F4A7C15ull; }

}  // namespace

void RowGrouping::Begin(int64_t table_rows, size_t expected_contributions) {
  if (dense_) {
    for (int64_t row : rows_) dense_map_[row] = -1;
  } else {
    for (int64_t row : rows_) {
      uint64_t slot = (HashRow(row) >> 20) & mask_;
      while (keys_[slot] != row) slot = (slot + 1) & mask_;
      keys_[slot] = -1;
    }
  }
  rows_.clear();
  contribution_row_.clear();
  contributions_.clear();
  dense_ = table_rows <= kDenseMapMaxRows;
  if (dense_) {
    if (static_cast<int64_t>(dense_map_.size()) != table_rows) {
      dense_map_ = AlignedArray<int32_t>(table_rows);
      std::fill(dense_map_.data(), dense_map_.data() + table_rows, -1);
    }
  } else {
    size_t wanted = 16;
    while (wanted < 2 * expected_contributions) wanted *= 2;
    if (keys_.size() < wanted) {
      keys_.assign(wanted, -1);
      values_.assign(wanted, 0);
      mask_ = wanted - 1;
    }
  }
  contribution_row_.reserve(expected_contributions);
  contributions_.reserve(expected_contributions);
}

void RowGrouping::Grow() {
  std::vector<int64_t> old_keys;
  std::vector<int32_t> old_values;
  old_keys.swap(keys_);
  old_values.swap(values_);
  keys_.assign(old_keys.size() * 2, -1);
  values_.assign(old_keys.size() * 2, 0);
  mask_ = keys_.size() - 1;
  for (size_t i = 0; i < old_keys.size(); ++i) {
    if (old_keys[i] < 0) continue;
    uint64_t slot = (HashRow(old_keys[i]) >> 20) & mask_;
    while (keys_[slot] >= 0) slot = (slot + 1) & mask_;
    keys_[slot] = old_keys[i];
    values_[slot] = old_values[i];
  }
}

int32_t RowGrouping::FindOrInsert(int64_t row) {
  if (dense_) {
    int32_t& u = dense_map_[row];
    if (u < 0) {
      u = static_cast<int32_t>(rows_.size());
      rows_.push_back(row);
    }
    return u;
  }
  if (2 * (rows_.size() + 1) > keys_.size()) Grow();
  uint64_t slot = (HashRow(row) >> 20) & mask_;
  for (;;) {
    if (keys_[slot] == row) return values_[slot];
    if (keys_[slot] < 0) break;
    slot = (slot + 1) & mask_;
  }
  keys_[slot] = row;
  values_[slot] = static_cast<int32_t>(rows_.size());
  rows_.push_back(row);
  return values_[slot];
}

int64_t RowGrouping::Find(int64_t row) const {
  if (dense_) return dense_map_[row];
  uint64_t slot = (HashRow(row) >> 20) & mask_;
  for (;;) {
    if (keys_[slot] == row) return values_[slot];
    if (keys_[slot] < 0) return -1;
    slot = (slot + 1) & mask_;
  }
}

void RowGrouping::Finish() {
  const size_t rows = rows_.size();
  offsets_.assign(rows + 1, 0);
  for (int32_t u : contribution_row_) ++offsets_[u + 1];
  for (size_t u = 0; u < rows; ++u) offsets_[u + 1] += offsets_[u];
  sorted_.resize(contributions_.size());
  // Stable scatter: `next` reuses offsets_ shifted by one slot, then is restored.
  for (size_t i = 0; i < contributions_.size(); ++i) {
    sorted_[offsets_[contribution_row_[i]]++] = contributions_[i];
  }
  for (size_t u = rows; u > 0; --u) offsets_[u] = offsets_[u - 1];
  offsets_[0] = 0;
}

void OwnedRows::Clear() {
  pairs_.Clear();
  contributions_.clear();
}

void RowRefs::Sort(size_t count, int64_t table_rows) {
  count_ = count;
  const size_t n = count;
  // A few pairs (a tiny step): a stable insertion sort beats clearing the digit counts.
  constexpr size_t kInsertionSortMax = 32;
  if (n <= kInsertionSortMax) {
    for (size_t i = 1; i < n; ++i) {
      const uint64_t pair = pairs_[i];
      size_t j = i;
      for (; j > 0 && Row(pairs_[j - 1]) > Row(pair); --j) pairs_[j] = pairs_[j - 1];
      pairs_[j] = pair;
    }
    return;
  }
  // As few passes as digits of at most 12 bits allow, the bits spread evenly over them (23-bit
  // rows: two 12-bit passes, not 11 + 11 + 1).
  constexpr int kMaxDigitBits = 12;
  int bits = 1;
  while (bits < 32 && (int64_t{1} << bits) < table_rows) ++bits;
  const int passes = (bits + kMaxDigitBits - 1) / kMaxDigitBits;
  const int digit_bits = (bits + passes - 1) / passes;
  const uint32_t digit_mask = (1u << digit_bits) - 1;
  const size_t buckets = size_t{1} << digit_bits;
  if (spare_.size() < pairs_.size()) spare_.resize(pairs_.size());
  // Every pass's digit counts in one read of the pairs.
  counts_.assign(buckets * passes, 0u);
  uint32_t* counts = counts_.data();
  const uint64_t* in = pairs_.data();
  for (size_t i = 0; i < n; ++i) {
    const uint32_t row = Row(in[i]);
    for (int p = 0; p < passes; ++p)
      ++counts[p * buckets + ((row >> (p * digit_bits)) & digit_mask)];
  }
  for (int p = 0; p < passes; ++p) {
    uint32_t* c = counts + p * buckets;
    uint32_t total = 0;
    for (size_t d = 0; d < buckets; ++d) {
      const uint32_t here = c[d];
      c[d] = total;
      total += here;
    }
    const int shift = 32 + p * digit_bits;
    const uint64_t* from = pairs_.data();
    uint64_t* to = spare_.data();
    for (size_t i = 0; i < n; ++i) {  // stable: equal digits keep their order
      const uint64_t pair = from[i];
      to[c[(pair >> shift) & digit_mask]++] = pair;
    }
    pairs_.swap(spare_);
  }
}

void OwnedRows::Finish(int64_t table_rows) {
  const size_t n = pairs_.size();
  pairs_.Sort(n, table_rows);
  const uint64_t* pairs = pairs_.pairs();
  sorted_.resize(n);
  rows_.clear();
  offsets_.clear();
  for (size_t i = 0; i < n; ++i) {
    const uint32_t row = RowRefs::Row(pairs[i]);
    if (i == 0 || row != RowRefs::Row(pairs[i - 1])) {
      rows_.push_back(row);
      offsets_.push_back(static_cast<uint32_t>(i));
    }
    sorted_[i] = contributions_[RowRefs::Ref(pairs[i])];
  }
  offsets_.push_back(static_cast<uint32_t>(n));
}

namespace {

// SumRowGradient for dim = kDim (a multiple of 16): `part` and `step` live in registers and
// `step` is stored once; the same operations in the same order as the generic loop.
template <int kDim>
__attribute__((always_inline)) inline void SumRowGradientFixed(const Contribution* begin,
                                                               const Contribution* end,
                                                               float* step_out) {
  constexpr int kVectors = kDim / 16;
  Floats16 step[kVectors] = {};
  Floats16 part[kVectors] = {};
  int32_t replica = begin == end ? 0 : begin->replica;
  for (const Contribution* c = begin; c != end; ++c) {
    if (c->replica != replica) {
      for (int v = 0; v < kVectors; ++v) {
        step[v] = step[v] + part[v];
        part[v] = Floats16{};
      }
      replica = c->replica;
    }
    if (c->gradient == nullptr) continue;
    for (int v = 0; v < kVectors; ++v) {
      Floats16 g;
      std::memcpy(&g, c->gradient + 16 * v, sizeof(g));
      part[v] = part[v] + c->gain * g;
    }
  }
  if (begin != end) {
    for (int v = 0; v < kVectors; ++v) step[v] = step[v] + part[v];
  }
  std::memcpy(step_out, step, sizeof(step));
}

#define EMBRT_CPU_SUM_FIXED(dim)                                                          \
  EMBRT_CPU_MULTIVERSION void SumRowGradient##dim(const Contribution* begin,              \
                                                  const Contribution* end, float* step) { \
    SumRowGradientFixed<dim>(begin, end, step);                                           \
  }
EMBRT_CPU_SUM_FIXED(16)
EMBRT_CPU_SUM_FIXED(32)
EMBRT_CPU_SUM_FIXED(64)
EMBRT_CPU_SUM_FIXED(128)
#undef EMBRT_CPU_SUM_FIXED

}  // namespace

EMBRT_CPU_MULTIVERSION
void SumRowGradientGeneric(const Contribution* begin, const Contribution* end, int32_t dim,
                           float* part, float* step) {
  std::memset(step, 0, sizeof(float) * dim);
  std::memset(part, 0, sizeof(float) * dim);
  if (begin == end) return;
  int32_t replica = begin->replica;
  for (const Contribution* c = begin; c != end; ++c) {
    if (c->replica != replica) {
      for (int32_t d = 0; d < dim; ++d) step[d] = step[d] + part[d];
      std::memset(part, 0, sizeof(float) * dim);
      replica = c->replica;
    }
    if (c->gradient != nullptr) AddScaledRow(dim, c->gain, c->gradient, part);
  }
  for (int32_t d = 0; d < dim; ++d) step[d] = step[d] + part[d];
}

namespace {

// 1 when `*value` is NaN or Inf (every exponent bit set), else 0: a bit test without a branch,
// so that the loops below vectorize.
__attribute__((always_inline)) inline uint32_t NonFinite(const float* value) {
  uint32_t bits;
  std::memcpy(&bits, value, sizeof(bits));
  return static_cast<uint32_t>((bits & 0x7f800000u) == 0x7f800000u);
}

}  // namespace

// Both stream the host's gradients (8 MiB a step for 16,384 bags of dim 128) in blocks that
// prefetch ahead (vector_ops.h); branch-free and vectorized inside a block.
constexpr size_t kFloatsPerBlock = kStreamBlockBytes / sizeof(float);

namespace {

// Whether every one of n floats is finite; with kCopy also copies them to `out`. Inlined into
// each kernel clone below.
template <bool kCopy>
__attribute__((always_inline)) inline bool StreamFinite(const float* __restrict in,
                                                        float* __restrict out, size_t n) {
  uint32_t bad = 0;
  for (size_t b = 0; b < n; b += kFloatsPerBlock) {
    PrefetchStreamBlock(in + b, in + n);
    const size_t end = std::min(n, b + kFloatsPerBlock);
    for (size_t i = b; i < end; ++i) {
      if constexpr (kCopy) out[i] = in[i];
      bad |= NonFinite(in + i);
    }
  }
  return bad == 0;
}

}  // namespace

EMBRT_CPU_MULTIVERSION
bool CopyFinite(const float* in, float* out, size_t n) { return StreamFinite<true>(in, out, n); }

EMBRT_CPU_MULTIVERSION
bool AllFinite(const float* in, size_t n) { return StreamFinite<false>(in, nullptr, n); }

void SumRowGradient(const Contribution* begin, const Contribution* end, int32_t dim, float* part,
                    float* step) {
  switch (dim) {
    case 16:
      return SumRowGradient16(begin, end, step);
    case 32:
      return SumRowGradient32(begin, end, step);
    case 64:
      return SumRowGradient64(begin, end, step);
    case 128:
      return SumRowGradient128(begin, end, step);
    default:
      return SumRowGradientGeneric(begin, end, dim, part, step);
  }
}

}  // namespace cpu
}  // namespace embrt
