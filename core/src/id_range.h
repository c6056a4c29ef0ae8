// Copyright embrt authors.
//
// The range check of a batch's ids, shared by the input conversion (Enqueue) and serving;
// internal to the core.

#ifndef EMBRT_CORE_SRC_ID_RANGE_H_
#define EMBRT_CORE_SRC_ID_RANGE_H_

#include <cstddef>
#include <cstdint>

namespace embrt {
namespace internal {

// True when every id is in [0, vocabulary): one branch-free, vectorized pass that only reads
// (callers look for the first bad id, to name it, only when this is false).
bool IdsInRange(const int64_t* ids, size_t count, uint64_t vocabulary);

}  // namespace internal
}  // namespace embrt

#endif  // EMBRT_CORE_SRC_ID_RANGE_H_
