// Copyright embrt authors.

#include "tools/training/checkpoint_config.h"

#include "tools/training/default_config.h"

namespace embrt {
namespace training {

EmbeddingConfig ConfigForRestoring(const EmbeddingConfig& stored, const std::string& backend,
                                   int batch_size) {
  EmbeddingConfig config = stored;
  config.clear_backend();
  config.mutable_backend()->set_name(backend.empty() ? kDefaultRestoreBackend : backend);
  config.set_num_replicas(1);
  // The checkpoint may come from any host count; this run's hosts come from the backend
  // (mpirun for the cpu backend; one host otherwise).
  config.set_num_hosts(0);
  config.clear_host_id();
  config.set_per_replica_batch_size(batch_size > 0                          ? batch_size
                                    : stored.per_replica_batch_size() > 0 ? stored.per_replica_batch_size()
                                                                          : kDefaultBatchSize);
  return config;
}

}  // namespace training
}  // namespace embrt
