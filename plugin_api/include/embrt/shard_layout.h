// Copyright embrt authors.
//
// File: embrt/shard_layout.h
// --------------------------
// The one implementation of the DIV/MOD sharding math, shared by libembrt (embrt/sharding.h
// wraps it for the proto enum) and plugins (through embrt/plugin_sdk.h). It depends on nothing
// but the C header, so plugins that must not see protobuf can use it.
//
// Which rows of a table each host holds. Both strategies give host h floor(V/n) rows, plus one
// when h < V % n (TF's shard sizes):
//   DIV: contiguous ranges. 13 rows on 5 hosts: [0,1,2] [3,4,5] [6,7,8] [9,10] [11,12]
//   MOD: row i on host i % n. 13 rows on 5 hosts: [0,5,10] [1,6,11] [2,7,12] [3,8] [4,9]
// Local row j of host h is the j-th row of that host's list.
//
// Thread safety: pure functions.

#ifndef EMBRT_SHARD_LAYOUT_H_
#define EMBRT_SHARD_LAYOUT_H_

#include <cstdint>

#include "embrt/plugin_api.h"

namespace embrt {
namespace sdk {

// Rows of a `vocabulary_size` table held by `host` of `num_hosts` (DIV and MOD alike).
inline int64_t ShardRows(int64_t vocabulary_size, int32_t num_hosts, int32_t host) {
  return vocabulary_size / num_hosts + (host < vocabulary_size % num_hosts ? 1 : 0);
}

// Under DIV, the global row of local row 0 on `host`.
inline int64_t DivFirstRow(int64_t vocabulary_size, int32_t num_hosts, int32_t host) {
  const int64_t base = vocabulary_size / num_hosts;
  const int64_t extra = vocabulary_size % num_hosts;
  return host * base + (host < extra ? host : extra);
}

// The global row id of local row `local_row` on `host`.
inline int64_t GlobalRow(int64_t local_row, int64_t vocabulary_size, int32_t num_hosts,
                         int32_t host, EMBRT_Sharding sharding) {
  if (sharding == EMBRT_SHARDING_MOD) return local_row * num_hosts + host;
  return DivFirstRow(vocabulary_size, num_hosts, host) + local_row;
}

// The host that holds global row `row`, and its local row there.
struct ShardLocation {
  int host;
  int64_t local_row;
};
inline ShardLocation LocateRow(int64_t row, int64_t vocabulary_size, int32_t num_hosts,
                               EMBRT_Sharding sharding) {
  if (sharding == EMBRT_SHARDING_MOD) {
    return {static_cast<int>(row % num_hosts), row / num_hosts};
  }
  const int64_t base = vocabulary_size / num_hosts;
  const int64_t extra = vocabulary_size % num_hosts;
  const int64_t long_rows = extra * (base + 1);  // rows held by the hosts with one extra row
  if (row < long_rows) {
    return {static_cast<int>(row / (base + 1)), row % (base + 1)};
  }
  const int64_t rest = row - long_rows;
  return {static_cast<int>(extra + rest / base), rest % base};
}

}  // namespace sdk
}  // namespace embrt

#endif  // EMBRT_SHARD_LAYOUT_H_
