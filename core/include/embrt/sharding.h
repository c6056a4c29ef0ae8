// Copyright embrt authors.
//
// File: embrt/sharding.h
// ----------------------
// Which rows of a table each host holds. Both strategies give host h
// floor(V/n) rows, plus one when h < V % n (TF's shard sizes):
//   DIV: contiguous ranges. 13 rows on 5 hosts: [0,1,2] [3,4,5] [6,7,8] [9,10] [11,12]
//   MOD: row i on host i % n. 13 rows on 5 hosts: [0,5,10] [1,6,11] [2,7,12] [3,8] [4,9]
// Local row j of host h is the j-th row of that host's list.
// The math lives in embrt/shard_layout.h; this header adapts it to the proto enum.

#ifndef EMBRT_SHARDING_H_
#define EMBRT_SHARDING_H_

#include <cstdint>

#include "embrt/config.pb.h"
#include "embrt/shard_layout.h"

namespace embrt {

// Thin wrappers over embrt/shard_layout.h (the one implementation, shared with plugins) that
// take the proto `Sharding` enum.

// The C ABI value of a proto `Sharding` (anything but MOD is DIV).
inline EMBRT_Sharding ToAbiSharding(Sharding sharding) {
  return sharding == MOD ? EMBRT_SHARDING_MOD : EMBRT_SHARDING_DIV;
}

// Rows of a `vocabulary_size` table held by `host` of `num_hosts`.
inline int64_t ShardRows(int64_t vocabulary_size, int num_hosts, int host) {
  return sdk::ShardRows(vocabulary_size, num_hosts, host);
}

// The global row id of local row `local_row` on `host`.
inline int64_t GlobalRow(int64_t local_row, int64_t vocabulary_size, int num_hosts, int host,
                         Sharding sharding) {
  return sdk::GlobalRow(local_row, vocabulary_size, num_hosts, host, ToAbiSharding(sharding));
}

// The host that holds global row `row`, and its local row there.
using sdk::ShardLocation;
inline ShardLocation LocateRow(int64_t row, int64_t vocabulary_size, int num_hosts,
                               Sharding sharding) {
  return sdk::LocateRow(row, vocabulary_size, num_hosts, ToAbiSharding(sharding));
}

}  // namespace embrt

#endif  // EMBRT_SHARDING_H_
