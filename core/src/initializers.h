// Copyright embrt authors.
//
// Initial table values (internal to the core).
//
// Random initializers draw from a counter-based generator keyed by (seed, table name, global
// row, column): a table is bit-identical whatever the backend, the chunking, the thread count or
// the host count and sharding.

#ifndef EMBRT_CORE_SRC_INITIALIZERS_H_
#define EMBRT_CORE_SRC_INITIALIZERS_H_

#include <cstdint>

#include "absl/types/span.h"
#include "embrt/config.h"

namespace embrt {
namespace internal {

// Writes the initial parameters of `row_count` local rows of `table` starting at
// `local_row_begin` on host `host_id` into `out` ([row_count, dim] row-major). `config` gives
// the global seed, host count and sharding.
void FillInitialParameters(const ResolvedConfig& config, int table, int host_id,
                           int64_t local_row_begin, int64_t row_count, absl::Span<float> out);

// 64 uniformly distributed bits for (key, row, column); the generator behind every random
// initializer. Exposed for tests.
uint64_t CounterRandomBits(uint64_t key, int64_t row, int64_t column, uint64_t attempt);

}  // namespace internal
}  // namespace embrt

#endif  // EMBRT_CORE_SRC_INITIALIZERS_H_
