// Copyright embrt authors.
//
// File: tests/multihost/host_topology.h
// -------------------------------------
// For tests started by mpirun: this process's host and the host count, asked of the cpu
// plugin's Plugin_HostTopology (the tests themselves never call MPI).

#ifndef EMBRT_TESTS_MULTIHOST_HOST_TOPOLOGY_H_
#define EMBRT_TESTS_MULTIHOST_HOST_TOPOLOGY_H_

#include <cstdint>
#include <string>

#include "abi_driver.h"
#include "embrt/plugin_api.h"

namespace embrt {
namespace multihost_test {

struct Topology {
  int32_t num_hosts = 1;
  int32_t host_id = 0;
};

// The plugin's topology; a gtest failure (and 1 host) when the call fails.
inline Topology HostTopology(const abi_driver::Plugin& plugin, std::string* error) {
  Topology topology;
  const EMBRT_Api* api = plugin.api();
  if (!EMBRT_API_HAS(api, Plugin_HostTopology)) {
    *error = plugin.path() + " has no Plugin_HostTopology";
    return topology;
  }
  EMBRT_Plugin_HostTopology_Args args{};
  args.struct_size = EMBRT_Plugin_HostTopology_Args_STRUCT_SIZE;
  abi_driver::CallResult result = plugin.Consume(api->Plugin_HostTopology(&args));
  if (!result.ok()) {
    *error = abi_driver::ToString(result);
    return topology;
  }
  topology.num_hosts = args.num_hosts;
  topology.host_id = args.host_id;
  return topology;
}

}  // namespace multihost_test
}  // namespace embrt

#endif  // EMBRT_TESTS_MULTIHOST_HOST_TOPOLOGY_H_
