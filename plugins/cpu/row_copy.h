// Copyright embrt authors.
//
// File: plugins/cpu/row_copy.h
// ----------------------------
// Bulk copies into table storage. A restore writes a whole table that is larger than any cache
// and is not read again soon; ordinary stores first read every destination line into the cache
// (read for ownership) and later write it back, so each byte of the table crosses memory twice.
// Non-temporal (streaming) stores write whole lines straight to memory: one crossing. The bytes
// written are the same either way.

#ifndef EMBRT_PLUGINS_CPU_ROW_COPY_H_
#define EMBRT_PLUGINS_CPU_ROW_COPY_H_

#include <cstddef>

namespace embrt {
namespace cpu {

// Copies `bytes` from `source` to `destination` (the two must not overlap) with non-temporal
// stores for every whole 64-byte line of the destination (ordinary stores for the unaligned
// head and tail), then a store fence, so the bytes are visible to any thread that later
// synchronizes with this one. Without x86-64 it is memcpy.
void StreamingCopy(void* destination, const void* source, size_t bytes);

// Copies as memcpy does, or with StreamingCopy when the copy belongs to a region of
// `region_bytes` that cannot stay in the cache anyway (larger than the last-level cache) and
// the copy itself is large enough (at least 64 KiB) for streaming stores to pay off.
void CopyIntoLargeRegion(void* destination, const void* source, size_t bytes,
                         size_t region_bytes);

// The size of the last-level cache this process sees (sysconf), or 32 MiB when unknown.
size_t LastLevelCacheBytes();

}  // namespace cpu
}  // namespace embrt

#endif  // EMBRT_PLUGINS_CPU_ROW_COPY_H_
