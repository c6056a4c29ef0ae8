// Copyright embrt authors.
//
// File: plugins/cpu/backward.h
// ----------------------------
// The backward pass of one table for one step: group every contribution by the row it goes to
// (duplicate ids merged), keeping the canonical order inside each row, then sum.
//
// Contributions are added in the canonical order: replica 0..R-1 (global replica order), then
// feature index, bag index, position. Each is (local row, gain, gradient vector or null).
//
// RowGrouping::Finish makes, for every distinct row u (numbered in order of first appearance),
// the list of its contributions in the order they were added (a stable counting sort). Nothing is
// allocated per id: every buffer is kept and reused across steps.
//
// SumRowGradient, for one row (dim-wide vectors):
//   step = 0
//   for each replica r that touched the row, in order:
//     part = 0
//     for each contribution c of replica r, in order: part = part + c.gain * c.gradient
//     step = step + part
//   (a null gradient is a zero gradient: nothing is added, but the row is still touched)
//
// Thread safety: Add/Finish/Clear are single-threaded; after Finish, rows may be read and summed
// from many threads at once.

#ifndef EMBRT_PLUGINS_CPU_BACKWARD_H_
#define EMBRT_PLUGINS_CPU_BACKWARD_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "tables.h"

namespace embrt {
namespace cpu {

struct Contribution {
  const float* gradient;  // dim floats, or null for a zero gradient
  float gain;
  int32_t replica;
};

class RowGrouping {
 public:
  // Prepares for a table of `table_rows` local rows; drops the previous step's rows (O(rows)).
  void Begin(int64_t table_rows, size_t expected_contributions);
  void Add(int64_t row, const float* gradient, float gain, int32_t replica) {
    int32_t u = FindOrInsert(row);
    contribution_row_.push_back(u);
    contributions_.push_back(Contribution{gradient, gain, replica});
  }
  void Finish();

  int64_t num_rows() const { return static_cast<int64_t>(rows_.size()); }
  int64_t row(int64_t u) const { return rows_[u]; }
  const Contribution* begin(int64_t u) const { return sorted_.data() + offsets_[u]; }
  const Contribution* end(int64_t u) const { return sorted_.data() + offsets_[u + 1]; }
  // The distinct-row number of local row `row`, or -1 when the step did not touch it.
  int64_t Find(int64_t row) const;

 private:
  int32_t FindOrInsert(int64_t row);
  void Grow();

  // Small tables use a dense row -> u map; large ones an open-addressing hash (keys_ = -1 free).
  bool dense_ = true;
  AlignedArray<int32_t> dense_map_;
  std::vector<int64_t> keys_;
  std::vector<int32_t> values_;
  uint64_t mask_ = 0;

  std::vector<int64_t> rows_;
  std::vector<int32_t> contribution_row_;
  std::vector<Contribution> contributions_;
  std::vector<Contribution> sorted_;
  std::vector<int64_t> offsets_;
};

// The activation (and gradient) row of the id at index k of bag b, whose bag starts at index
// `begin`: b for a bag; for a sequence feature (max_sequence_length L > 0), b * L + its position
// (positions[k], or k - begin when there are no positions). One formula for the update and the
// multi-host exchange.
inline int64_t GradientSlot(int64_t b, int32_t k, int32_t begin, const int32_t* positions,
                            int32_t max_sequence_length) {
  if (max_sequence_length == 0) return b;
  const int64_t position = positions != nullptr ? positions[k] : k - begin;
  return b * max_sequence_length + position;
}

// (row, ref) pairs of 32-bit rows and refs, packed in one 64-bit word (row in the high half),
// sorted by row with a stable LSD radix sort: pairs of one row keep the order they were
// written in. Work is O(pairs), never O(table rows); buffers are kept and reused across steps.
// Write pairs with Append, or through pairs() after Reserve.
class RowRefs {
 public:
  static uint64_t Pack(uint32_t row, uint32_t ref) { return uint64_t{row} << 32 | ref; }
  static uint32_t Row(uint64_t pair) { return static_cast<uint32_t>(pair >> 32); }
  static uint32_t Ref(uint64_t pair) { return static_cast<uint32_t>(pair); }

  void Clear() { count_ = 0; }
  // Room for `n` pairs in all; keeps the pairs written so far.
  void Reserve(size_t n) {
    if (pairs_.size() < n) pairs_.resize(n);
  }
  void Append(uint32_t row, uint32_t ref) {
    if (count_ == pairs_.size()) Reserve(std::max<size_t>(64, 2 * count_));
    pairs_[count_++] = Pack(row, ref);
  }
  uint64_t* pairs() { return pairs_.data(); }
  const uint64_t* pairs() const { return pairs_.data(); }
  size_t size() const { return count_; }
  // Takes the first `count` pairs (written through pairs(); at most what was reserved) and
  // sorts them by row. `table_rows`: every row is below it, and it is at most 2^32.
  void Sort(size_t count, int64_t table_rows);

 private:
  std::vector<uint64_t> pairs_, spare_;
  std::vector<uint32_t> counts_;
  size_t count_ = 0;
};

// The same grouping for the rows one worker owns, without a row map: Add collects (row,
// contribution) pairs in canonical order, Finish sorts them by row (RowRefs, so each row keeps
// the canonical order) and lists the distinct rows in ascending order. Rows are 32-bit.
// Which worker owns a row (OwnerOf) changes only who computes it, never what is computed.
class OwnedRows {
 public:
  void Clear();
  void Add(uint32_t row, const float* gradient, float gain, int32_t replica) {
    pairs_.Append(row, static_cast<uint32_t>(contributions_.size()));
    contributions_.push_back(Contribution{gradient, gain, replica});
  }
  // `table_rows`: rows of the shard (every row added is below it, and it is at most 2^32).
  void Finish(int64_t table_rows);

  int64_t num_rows() const { return static_cast<int64_t>(rows_.size()); }
  int64_t row(int64_t i) const { return rows_[i]; }
  const Contribution* begin(int64_t i) const { return sorted_.data() + offsets_[i]; }
  const Contribution* end(int64_t i) const { return sorted_.data() + offsets_[i + 1]; }

 private:
  RowRefs pairs_;
  std::vector<Contribution> contributions_;
  std::vector<Contribution> sorted_;
  std::vector<uint32_t> rows_;
  std::vector<uint32_t> offsets_;
};

// Splits rows [0, table_rows) among `owners` workers: OwnerOf(row) = floor(row * scale / 2^32)
// with scale = ceil(owners * 2^32 / table_rows), clamped to owners - 1 (near-equal shares,
// with a multiply instead of a division per id).
struct RowOwners {
  RowOwners(int64_t table_rows, int owners)
      : owners(owners),
        scale(((static_cast<uint64_t>(owners) << 32) + table_rows - 1) / table_rows) {}
  int OwnerOf(uint32_t row) const {
    const uint64_t owner = (static_cast<uint64_t>(row) * scale) >> 32;
    return owner < static_cast<uint64_t>(owners) ? static_cast<int>(owner) : owners - 1;
  }
  int owners;
  uint64_t scale;
};

// Copies n floats from `in` to `out` (not overlapping) and returns whether every one is finite,
// in one vectorized pass (an IEEE exponent of all ones is Inf or NaN).
bool CopyFinite(const float* in, float* out, size_t n);
// Whether every one of n floats is finite: CopyFinite's check without the copy, for gradients
// the update reads in place.
bool AllFinite(const float* in, size_t n);

// Sums one row's contributions (see the file comment). `part` is dim floats of scratch. Dims
// 16, 32, 64 and 128 run a specialization that keeps both sums in registers; the others run
// SumRowGradientGeneric. Both do the same operations in the same order.
void SumRowGradient(const Contribution* begin, const Contribution* end, int32_t dim, float* part,
                    float* step);
void SumRowGradientGeneric(const Contribution* begin, const Contribution* end, int32_t dim,
                           float* part, float* step);

}  // namespace cpu
}  // namespace embrt

#endif  // EMBRT_PLUGINS_CPU_BACKWARD_H_
