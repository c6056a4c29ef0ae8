// Copyright embrt authors.
//
// File: plugins/cpu/update.h
// --------------------------
// The update phase of one table for one step, after RowGrouping::Finish:
//
//   every_row (non-lazy Adam):  for each local row r of the shard:
//                                 g = touched(r) ? SumRowGradient(r) : 0;  ApplyRowUpdate(r, g)
//   accumulate:                 for each touched row u:  ApplyRowUpdate(u, SumRowGradient(u))
//   otherwise:                  for each touched row u, for each contribution c of u in order:
//                                 ApplyRowUpdate(u, c.gain * c.gradient)   (null: g = 0)
//
// Rows are split across the pool's workers (contiguous ranges of touched rows, or each worker's
// owned rows); each row's arithmetic is the same whatever the split, so the result does not
// depend on the number of workers.

#ifndef EMBRT_PLUGINS_CPU_UPDATE_H_
#define EMBRT_PLUGINS_CPU_UPDATE_H_

#include <vector>

#include "backward.h"
#include "optimizers.h"
#include "tables.h"
#include "thread_pool.h"

namespace embrt {
namespace cpu {

// `scratch` holds one buffer per pool worker of at least 2 * dim floats.
void ApplyGroupedUpdates(ThreadPool& pool, const RowGrouping& grouping,
                         const PreparedUpdate& update, bool accumulate, bool every_row,
                         TableShard* storage, std::vector<std::vector<float>>* scratch);

// The same for the rows of one worker's OwnedRows, on the calling thread (the accumulate and
// per-contribution cases; every_row needs every row and uses ApplyGroupedUpdates). `scratch`
// holds at least 2 * dim floats.
void ApplyOwnedUpdates(const OwnedRows& owned, const PreparedUpdate& update, bool accumulate,
                       TableShard* storage, float* scratch);

// Where the gradient and gain of a contribution are, from a 32-bit ref: ref = group <<
// slot_bits | slot, where group numbers a (replica, feature) pair in canonical order
// (replica-major) and slot is the activation row (GradientSlot). The contribution's gradient is
// bases[group] + slot * dim (null base: a zero gradient), its gain gains[group][slot] (null:
// every gain of the group is 1; a group with gains has one id per bag, so slot = id index), and
// its replica group_replica[group]. Refs ascend in canonical order.
struct GradientRefs {
  const float* const* bases;
  const float* const* gains;
  const int32_t* group_replica;
  int slot_bits;     // < 32
  bool one_replica;  // every group is replica 0's
};

// The same update as ApplyOwnedUpdates for one worker's contributions, given as
// packed (row, ref) pairs sorted by row (RowRefs::Sort: each row's refs in canonical order). The
// sum of a row is SumRowGradient's (for a unit gain the multiply is left out: 1 * g == g); for dims
// 1-15 (each compiled for its dim) and 16, 32, 64 and 128 it is summed in registers and, for
// Adagrad without clipping or decay, the row is updated in the same pass (the same operations
// as ApplyRowUpdate). `scratch` holds at
// least 2 * dim floats.
void ApplySortedRefUpdates(const uint64_t* pairs, size_t count, const GradientRefs& gradients,
                           const PreparedUpdate& update, bool accumulate, TableShard* storage,
                           float* scratch);

}  // namespace cpu
}  // namespace embrt

#endif  // EMBRT_PLUGINS_CPU_UPDATE_H_
