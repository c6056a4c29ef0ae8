// Copyright embrt authors.
//
// File: tools/training/memory_budget.h
// ------------------------------------
// Allocations sized by a flag or a config are checked before they are made: a request that
// cannot fit is RESOURCE_EXHAUSTED naming the flag and the bytes needed, rather than a
// std::bad_alloc (an abort) somewhere inside.

#ifndef EMBRT_TOOLS_TRAINING_MEMORY_BUDGET_H_
#define EMBRT_TOOLS_TRAINING_MEMORY_BUDGET_H_

#include <cstdint>
#include <new>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace embrt {
namespace training {

// The most memory this process can hope to allocate: the smaller of the machine's physical
// memory and the address-space and data-segment limits (RLIMIT_AS, RLIMIT_DATA).
int64_t MemoryLimitBytes();

// Bytes of the host-side buffers of one step that grow with the batch: activations and
// gradients of every feature, ids, scores; and the engine's per-step copies of the same
// (an estimate from above). Saturates at INT64_MAX instead of overflowing.
int64_t StepBufferBytes(int64_t batch_size, int64_t features, int64_t dim);

// OK when `bytes` fit under MemoryLimitBytes(); else RESOURCE_EXHAUSTED:
// "<what> needs <bytes> bytes of <purpose>, more than the <limit> bytes this process may use".
absl::Status CheckFitsInMemory(absl::string_view what, absl::string_view purpose, int64_t bytes);

// Runs `run` (returning absl::StatusOr<T>); a std::bad_alloc escaping it, an allocation the
// checks above did not foresee, becomes RESOURCE_EXHAUSTED naming what to lower (`knobs`)
// instead of an abort.
template <typename Run>
auto RunCatchingOutOfMemory(Run&& run, absl::string_view knobs) -> decltype(run()) {
  try {
    return run();
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError(
        absl::StrCat("out of memory (an allocation failed); lower ", knobs));
  }
}

}  // namespace training
}  // namespace embrt

#endif  // EMBRT_TOOLS_TRAINING_MEMORY_BUDGET_H_
