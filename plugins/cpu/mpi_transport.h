// Copyright embrt authors.
//
// File: plugins/cpu/mpi_transport.h
// ---------------------------------
// Transport over Open MPI: one MPI process per host, the world rank is the host id.
//
// Lifecycle inside a plugin that a host loads at run time (reference/multihost_mpi.md §3):
//   * MPI is initialized only when a multi-host engine or the topology needs it, and only if
//     the application has not initialized it already (then we use the application's MPI);
//   * we finalize it at process exit only if we initialized it; the plugin is linked with
//     -z nodelete, so unloading and loading it again never initializes MPI twice;
//   * each engine talks on its own duplicate of MPI_COMM_WORLD, with MPI_ERRORS_RETURN, so MPI
//     errors become statuses and never mix with the application's own traffic;
//   * a process started without mpirun is one host, and MPI is then not initialized at all.
// Thread safety: MPI is asked for MPI_THREAD_SERIALIZED; one engine's calls come from one
// thread at a time (the thread that drives the engine).

#ifndef EMBRT_PLUGINS_CPU_MPI_TRANSPORT_H_
#define EMBRT_PLUGINS_CPU_MPI_TRANSPORT_H_

#include <cstdint>
#include <memory>

#include "embrt/plugin_sdk.h"
#include "transport.h"

namespace embrt {
namespace cpu {

// The job's host count and this process's host id. Without a launcher (no OMPI_COMM_WORLD_SIZE
// in the environment and MPI not initialized by the application) it is 1 and 0, and MPI is not
// touched.
sdk::Status MpiTopology(int32_t* num_hosts, int32_t* host_id);

// A transport for host `host_id` of `num_hosts`: FAILED_PRECONDITION when the MPI job does not
// have exactly num_hosts processes or this process's rank is not host_id (with how to start
// it), or when MPI was already finalized.
sdk::Status CreateMpiTransport(int32_t num_hosts, int32_t host_id,
                               std::unique_ptr<Transport>* transport);

}  // namespace cpu
}  // namespace embrt

#endif  // EMBRT_PLUGINS_CPU_MPI_TRANSPORT_H_
