// Copyright embrt authors.

#include "tables.h"

#include <sys/mman.h>

#include <cstdlib>
#include <cstring>
#include <new>

namespace embrt {
namespace cpu {

ShardMap::ShardMap(int64_t vocabulary_size, int32_t num_hosts, int32_t host,
                   EMBRT_Sharding sharding)
    : num_hosts_(num_hosts),
      host_(host),
      sharding_(sharding),
      first_(sdk::DivFirstRow(vocabulary_size, num_hosts, host)),
      rows_(sdk::ShardRows(vocabulary_size, num_hosts, host)) {}

void* AllocateZeroed(size_t bytes) {
  constexpr size_t kHugePage = size_t{2} << 20;
  const size_t alignment = bytes >= 2 * kHugePage ? kHugePage : 64;
  bytes = (bytes + alignment - 1) / alignment * alignment;
  void* p = std::aligned_alloc(alignment, bytes);
  if (p == nullptr) throw std::bad_alloc();
#ifdef MADV_HUGEPAGE
  if (alignment == kHugePage) madvise(p, bytes, MADV_HUGEPAGE);  // advice only: may fail
#endif
  std::memset(p, 0, bytes);
  return p;
}

void FreeAllocated(void* p) { std::free(p); }

TableShard::TableShard(int64_t rows, int32_t dim, int num_slots) : rows_(rows), dim_(dim) {
  slots_.reserve(num_slots);
  for (int s = 0; s < num_slots; ++s) {
    slots_.emplace_back(static_cast<size_t>(rows) * static_cast<size_t>(dim));
  }
}

void TableShard::Load(int64_t row_begin, int64_t row_count, const float* const* slots) {
  const size_t count = static_cast<size_t>(row_count) * dim_;
  for (int s = 0; s < num_slots(); ++s) {
    if (count > 0) std::memcpy(row(s, row_begin), slots[s], count * sizeof(float));
  }
}

void TableShard::Retrieve(int64_t row_begin, int64_t row_count, float* const* slots) const {
  const size_t count = static_cast<size_t>(row_count) * dim_;
  for (int s = 0; s < num_slots(); ++s) {
    if (count > 0) std::memcpy(slots[s], row(s, row_begin), count * sizeof(float));
  }
}

}  // namespace cpu
}  // namespace embrt
