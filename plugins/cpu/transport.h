// Copyright embrt authors.
//
// File: plugins/cpu/transport.h
// -----------------------------
// What the cpu backend needs from the wire between hosts, and nothing more: the host count and
// this host's id, a status agreement, a barrier, an all-gather and one variable-sized all-to-all
// of bytes. mpi_transport.h implements it over Open MPI; exchange.h builds the row and gradient
// exchange on top of it, so neither the engine nor the kernels see MPI.
//
// Every call is collective: every host calls it, in the same order, from one thread at a time.
// Errors name this host and the operation ("host 1 of 4: MPI_Alltoallv (rows back): ...").

#ifndef EMBRT_PLUGINS_CPU_TRANSPORT_H_
#define EMBRT_PLUGINS_CPU_TRANSPORT_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "embrt/plugin_sdk.h"

namespace embrt {
namespace cpu {

class Transport {
 public:
  virtual ~Transport() = default;

  virtual int32_t num_hosts() const = 0;
  virtual int32_t host_id() const = 0;

  // OK on every host when every `local` is OK; otherwise every host returns the code and
  // message of the lowest-numbered failing host, the message prefixed by "host <id>: ".
  virtual sdk::Status AgreeStatus(const sdk::Status& local) = 0;
  virtual sdk::Status Barrier() = 0;
  // `gathered` holds num_hosts() * size bytes; host h's bytes land at h * size. A host whose
  // `size` differs from host 0's fails the call on every host (INVALID_ARGUMENT).
  virtual sdk::Status AllGather(const void* local, size_t size, void* gathered) = 0;
  // Sends send_counts[h] bytes, taken one host after another from `send`, to host h; fills
  // `received` with every host's bytes for this host, in host order, and received_counts[h].
  // `what` names the exchange in errors.
  virtual sdk::Status AllToAll(const char* send, const std::vector<int64_t>& send_counts,
                               std::vector<char>* received, std::vector<int64_t>* received_counts,
                               const char* what) = 0;

  // Bytes this host has sent to other hosts by AllToAll so far (its own part excluded).
  virtual uint64_t off_host_bytes_sent() const = 0;
};

}  // namespace cpu
}  // namespace embrt

#endif  // EMBRT_PLUGINS_CPU_TRANSPORT_H_
