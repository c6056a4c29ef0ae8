// Copyright embrt authors.
//
// mpi_transport.h for a build without Open MPI (libopenmpi-dev missing): one host only.

#include "mpi_transport.h"

namespace embrt {
namespace cpu {

sdk::Status MpiTopology(int32_t* num_hosts, int32_t* host_id) {
  *num_hosts = 1;
  *host_id = 0;
  return sdk::Status();
}

sdk::Status CreateMpiTransport(int32_t num_hosts, int32_t host_id,
                               std::unique_ptr<Transport>* transport) {
  return sdk::Status::Unimplemented(
      "cpu backend: built without Open MPI (install libopenmpi-dev and rebuild), so it cannot "
      "be host " + std::to_string(host_id) + " of " + std::to_string(num_hosts));
}

}  // namespace cpu
}  // namespace embrt
