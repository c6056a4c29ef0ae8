// Copyright embrt authors.

#include "update.h"

#include <cstring>

#include "vector_ops.h"

namespace embrt {
namespace cpu {
namespace {

// Each worker gets at least this many rows, so small steps stay on one thread.
constexpr int64_t kMinRowsPerChunk = 64;
// Slot rows are requested this many rows ahead of their update.
constexpr int64_t kPrefetchDistance = 8;

}  // namespace

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
        if (c->gradient == nullptr) {
          std::memset(g, 0, sizeof(float) * dim);
        } else {
          for (int32_t d = 0; d < dim; ++d) g[d] = c->gain * c->gradient[d];
        }
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
      if (c->gradient == nullptr) {
        std::memset(g, 0, sizeof(float) * dim);
      } else {
        for (int32_t d = 0; d < dim; ++d) g[d] = c->gain * c->gradient[d];
      }
      ApplyRowUpdate(update, dim, g, slots);
    }
  }
}

}  // namespace cpu
}  // namespace embrt
