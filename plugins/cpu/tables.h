// Copyright embrt authors.
//
// File: plugins/cpu/tables.h
// --------------------------
// Storage of this host's shard of every table: one flat, 64-byte-aligned, row-major
// [shard_rows, dim] float32 array per slot (slot 0 is the parameters, then the optimizer's slots
// in layout order), and the map from a global id to a local row (math in embrt/shard_layout.h).
//
//   local row j of slot s starts at  slots[s] + j * dim
//   DIV: host h holds the contiguous ids [first(h), first(h) + shard_rows)
//   MOD: host h holds ids h, h + n, h + 2n, ...; id i is local row i / n
//   (both: host h holds floor(V / n) rows, plus one when h < V % n)
//
// Thread safety: none; the engine serializes access (kernels write disjoint rows).

#ifndef EMBRT_PLUGINS_CPU_TABLES_H_
#define EMBRT_PLUGINS_CPU_TABLES_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "embrt/plugin_api.h"
#include "embrt/plugin_sdk.h"

namespace embrt {
namespace cpu {

// Which ids this host owns and where they live.
class ShardMap {
 public:
  ShardMap() = default;
  ShardMap(int64_t vocabulary_size, int32_t num_hosts, int32_t host, EMBRT_Sharding sharding);

  // True when global id `id` (already known to be in [0, V)) lives on this host.
  bool Owns(int64_t id) const {
    if (num_hosts_ == 1) return true;
    if (sharding_ == EMBRT_SHARDING_MOD) return id % num_hosts_ == host_;
    return id >= first_ && id < first_ + rows_;
  }
  // Local row of an owned id.
  int64_t LocalRow(int64_t id) const {
    if (num_hosts_ == 1) return id;
    if (sharding_ == EMBRT_SHARDING_MOD) return id / num_hosts_;
    return id - first_;
  }
  int64_t rows() const { return rows_; }

 private:
  int32_t num_hosts_ = 1;
  int32_t host_ = 0;
  EMBRT_Sharding sharding_ = EMBRT_SHARDING_DIV;
  int64_t first_ = 0;
  int64_t rows_ = 0;
};

// Bytes this process can hope to allocate and touch: physical memory plus swap, capped by
// RLIMIT_AS and RLIMIT_DATA when they are set.
uint64_t AllocatableBytes();

// RESOURCE_EXHAUSTED when the shards of `tables` (shard_rows x dim x slots x 4 bytes, summed)
// cannot fit `allocatable` bytes or overflow 64 bits, naming the first table that does not
// fit, its rows, dim, slots and bytes. Checked at Engine_Create, before any allocation, so that
// a huge config is refused with a reason instead of "out of memory" (or an endless zero-fill).
sdk::Status CheckTablesFit(const std::vector<sdk::TableConfig>& tables, uint64_t allocatable);

// Zero-filled memory for `bytes` bytes, 64-byte aligned; from 4 MiB on, 2 MiB aligned and
// advised to use transparent huge pages (random row access over a large table otherwise pays a
// TLB miss per row). Never returns null: throws std::bad_alloc.
void* AllocateZeroed(size_t bytes);
void FreeAllocated(void* p);

// A zero-filled array of trivially copyable T from AllocateZeroed.
template <typename T>
class AlignedArray {
 public:
  AlignedArray() = default;
  explicit AlignedArray(size_t count)
      : data_(count == 0 ? nullptr : static_cast<T*>(AllocateZeroed(count * sizeof(T)))),
        size_(count) {}
  T* data() { return data_.get(); }
  const T* data() const { return data_.get(); }
  size_t size() const { return size_; }
  T& operator[](size_t i) { return data_.get()[i]; }
  const T& operator[](size_t i) const { return data_.get()[i]; }

 private:
  struct Free {
    void operator()(T* p) const { FreeAllocated(p); }
  };
  std::unique_ptr<T, Free> data_;
  size_t size_ = 0;
};
using AlignedFloats = AlignedArray<float>;

// One table's shard: `num_slots` arrays of [rows, dim].
class TableShard {
 public:
  TableShard(int64_t rows, int32_t dim, int num_slots);

  int64_t rows() const { return rows_; }
  int32_t dim() const { return dim_; }
  int num_slots() const { return static_cast<int>(slots_.size()); }
  float* slot(int s) { return slots_[s].data(); }
  const float* slot(int s) const { return slots_[s].data(); }
  float* row(int s, int64_t local_row) { return slots_[s].data() + local_row * dim_; }
  const float* row(int s, int64_t local_row) const { return slots_[s].data() + local_row * dim_; }

  // Copies rows [row_begin, row_begin + row_count) in or out; the caller has checked ranges.
  // Load reads them from row `source_row` on of each of `slots` (a part of a larger load) and
  // uses streaming stores when the slots are larger than the last-level cache.
  void Load(int64_t row_begin, int64_t row_count, const float* const* slots,
            int64_t source_row = 0);
  void Retrieve(int64_t row_begin, int64_t row_count, float* const* slots) const;

 private:
  int64_t rows_;
  int32_t dim_;
  std::vector<AlignedFloats> slots_;
};

}  // namespace cpu
}  // namespace embrt

#endif  // EMBRT_PLUGINS_CPU_TABLES_H_
