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

}  // namespace cpu
}  // namespace embrt

#endif  // EMBRT_PLUGINS_CPU_UPDATE_H_
