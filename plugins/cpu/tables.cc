// Copyright embrt authors.

#include "tables.h"

#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/sysinfo.h>

#include <algorithm>
#include <string>

#include <cstdlib>
#include <cstring>
#include <new>

#include "row_copy.h"

namespace embrt {
namespace cpu {

ShardMap::ShardMap(int64_t vocabulary_size, int32_t num_hosts, int32_t host,
                   EMBRT_Sharding sharding)
    : num_hosts_(num_hosts),
      host_(host),
      sharding_(sharding),
      first_(sdk::DivFirstRow(vocabulary_size, num_hosts, host)),
      rows_(sdk::ShardRows(vocabulary_size, num_hosts, host)) {}

uint64_t AllocatableBytes() {
  uint64_t bytes = UINT64_MAX;
  struct sysinfo info;
  if (sysinfo(&info) == 0) {
    const uint64_t unit = info.mem_unit == 0 ? 1 : info.mem_unit;
    bytes = (static_cast<uint64_t>(info.totalram) + info.totalswap) * unit;
  }
  for (int resource : {RLIMIT_AS, RLIMIT_DATA}) {
    struct rlimit limit;
    if (getrlimit(resource, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY) {
      bytes = std::min<uint64_t>(bytes, limit.rlim_cur);
    }
  }
  return bytes;
}

sdk::Status CheckTablesFit(const std::vector<sdk::TableConfig>& tables, uint64_t allocatable) {
  uint64_t total = 0;
  for (size_t t = 0; t < tables.size(); ++t) {
    const sdk::TableConfig& table = tables[t];
    const uint64_t slots = static_cast<uint64_t>(sdk::SlotCount(table.optimizer.kind));
    uint64_t bytes = 0;
    const bool overflow =
        table.shard_rows < 0 || table.dim < 0 ||
        __builtin_mul_overflow(static_cast<uint64_t>(table.shard_rows),
                               static_cast<uint64_t>(table.dim), &bytes) ||
        __builtin_mul_overflow(bytes, slots, &bytes) ||
        __builtin_mul_overflow(bytes, uint64_t{sizeof(float)}, &bytes) ||
        __builtin_add_overflow(total, bytes, &total);
    if (overflow || total > allocatable) {
      return sdk::Status::ResourceExhausted(
          "cpu backend: table '" + table.name + "' (index " + std::to_string(t) + "): " +
          std::to_string(table.shard_rows) + " rows x dim " + std::to_string(table.dim) + " x " +
          std::to_string(slots) + " slots x 4 bytes = " +
          (overflow ? std::string("more bytes than 64 bits count")
                    : std::to_string(bytes) + " bytes" +
                          (total == bytes ? std::string()
                                          : " (" + std::to_string(total) +
                                                " bytes with the tables before it)") +
                          ", more than the " + std::to_string(allocatable) +
                          " bytes this process can allocate (memory + swap, capped by "
                          "RLIMIT_AS and RLIMIT_DATA)"));
    }
  }
  return sdk::Status();
}

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

void TableShard::Load(int64_t row_begin, int64_t row_count, const float* const* slots,
                      int64_t source_row) {
  // A restore or initialization writes the whole table: streaming stores where it cannot stay
  // in the cache anyway (row_copy.h).
  const size_t bytes = static_cast<size_t>(row_count) * dim_ * sizeof(float);
  const size_t slot_bytes = static_cast<size_t>(rows_) * dim_ * sizeof(float);
  for (int s = 0; s < num_slots(); ++s) {
    CopyIntoLargeRegion(row(s, row_begin), slots[s] + source_row * dim_, bytes, slot_bytes);
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
