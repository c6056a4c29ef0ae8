// Copyright embrt authors.
//
// File: tools/training/checkpoint_config.h
// ----------------------------------------
// The engine config `embrt eval` builds to restore a checkpoint. A checkpoint is untrusted
// input: it supplies only what a restore needs (tables, features, optimizers, the batch size
// as a default), never the plugin to load or the layout to allocate. The backend comes from
// the caller (--backend, default cpu); the stored backend name is information only
// (`embrt inspect` prints it). The layout is this run's, never the checkpoint's: one replica
// per host, the hosts from the backend (num_hosts 0: the mpirun job for the cpu backend, else
// one host); every checkpoint restores onto any host count.

#ifndef EMBRT_TOOLS_TRAINING_CHECKPOINT_CONFIG_H_
#define EMBRT_TOOLS_TRAINING_CHECKPOINT_CONFIG_H_

#include <string>

#include "absl/status/statusor.h"
#include "embrt/config.pb.h"

namespace embrt {
namespace training {

// The backend a restore uses when the caller names none.
inline constexpr char kDefaultRestoreBackend[] = "cpu";

// `stored` (a validated manifest's config) with the backend replaced by `backend` (empty:
// kDefaultRestoreBackend; no stored backend option survives), one replica, num_hosts 0 (from
// the backend) and no host_id, and
// per_replica_batch_size `batch_size` when > 0, else the stored one when > 0, else
// kDefaultBatchSize.
EmbeddingConfig ConfigForRestoring(const EmbeddingConfig& stored, const std::string& backend,
                                   int batch_size);

}  // namespace training
}  // namespace embrt

#endif  // EMBRT_TOOLS_TRAINING_CHECKPOINT_CONFIG_H_
