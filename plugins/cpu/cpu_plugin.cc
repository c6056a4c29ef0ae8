// Copyright embrt authors.
//
// File: plugins/cpu/cpu_plugin.cc
// -------------------------------
// Entry point of libembrt_backend_cpu.so: its attributes and the C table (plugin_sdk.h).

#include <memory>

#include "cpu_engine.h"
#include "embrt/plugin_sdk.h"
#include "mpi_transport.h"

namespace embrt {
namespace cpu {

struct CpuPlugin {
  static const EMBRT_NamedValue* Attributes(size_t* count) {
    static const EMBRT_NamedValue kAttributes[] = {
        sdk::StringAttribute("name", "cpu"),
        sdk::StringAttribute("vendor", "embrt"),
        sdk::StringAttribute("plugin_version", "0.1.0"),
        sdk::StringAttribute("abi_version", "1.1"),
        sdk::Int64Attribute("deterministic", 1),
        sdk::Int64Attribute("exact_math", 1),
        sdk::StringAttribute("optimizers", "sgd,adagrad,adagrad_momentum,adam,ftrl"),
        sdk::StringAttribute("combiners", "sum,mean,sqrtn"),
        sdk::Int64Attribute("max_dim", 0),
        sdk::Int64Attribute("multi_host", EMBRT_CPU_MULTI_HOST),
        sdk::Int64Attribute("quantization", 1),
        sdk::Int64Attribute("pipelining", 1),  // exactly one step stale (cpu_engine.h)
        sdk::Int64Attribute("input_lifetime", 1),  // INFERENCE ids read in place (cpu_engine.h)
        // Its id and NaN/Inf checks are the only ones on one host (CopyInputs, CheckGradients).
        sdk::Int64Attribute("checks_ids_and_gradients", 1),
    };
    *count = sizeof(kAttributes) / sizeof(kAttributes[0]);
    return kAttributes;
  }
  // Opts in to the SDK's multi-host slots (plugin_sdk.h): hosts are MPI ranks.
  static sdk::Status HostTopology(int32_t* num_hosts, int32_t* host_id) {
    return MpiTopology(num_hosts, host_id);
  }
  static sdk::Status Create(const sdk::EngineConfig& config, std::unique_ptr<sdk::Engine>* engine) {
    return CpuEngine::Create(config, engine);
  }
};

}  // namespace cpu
}  // namespace embrt

EMBRT_DEFINE_PLUGIN(embrt::cpu::CpuPlugin)
