// Copyright embrt authors.
//
// The mock backend's entry point: its attributes and engine factory, turned into the C table
// of plugin_api.h by the SDK. libembrt_backend_mock.so exports only EMBRT_GetPluginApi.

#include <memory>

#include "embrt/plugin_sdk.h"
#include "mock_engine.h"

namespace embrt {
namespace mock {

struct MockPlugin {
  static const EMBRT_NamedValue* Attributes(size_t* count) {
    static const EMBRT_NamedValue kAttributes[] = {
        sdk::StringAttribute("name", "mock"),
        sdk::StringAttribute("vendor", "embrt"),
        sdk::StringAttribute("plugin_version", "0.1.0"),
        sdk::StringAttribute("abi_version", "1.1"),
        sdk::Int64Attribute("deterministic", 1),
        sdk::Int64Attribute("exact_math", 0),
        // Other optimizers are UNIMPLEMENTED; SGD ignores clipping and weight decay, hence
        // exact_math = 0.
        sdk::StringAttribute("optimizers", "sgd"),
        sdk::StringAttribute("combiners", "sum,mean,sqrtn"),
        sdk::Int64Attribute("multi_host", 1),  // simulated: see MockEngine
        sdk::Int64Attribute("quantization", 0),  // a quantized table is UNIMPLEMENTED
        sdk::Int64Attribute("pipelining", 0),    // pipeline_execution = 1 runs as 0
        sdk::Int64Attribute("checks_ids_and_gradients", 1),  // rules 13 and 26, conformance-tested
    };
    *count = sizeof(kAttributes) / sizeof(kAttributes[0]);
    return kAttributes;
  }

  // A process is one host: the mock simulates the others (MockEngine::AgreeStatus).
  static sdk::Status HostTopology(int32_t* num_hosts, int32_t* host_id) {
    *num_hosts = 1;
    *host_id = 0;
    return sdk::Status();
  }

  static sdk::Status Create(const sdk::EngineConfig& config, std::unique_ptr<sdk::Engine>* engine) {
    return MockEngine::Create(config, engine);
  }
};

}  // namespace mock
}  // namespace embrt

EMBRT_DEFINE_PLUGIN(::embrt::mock::MockPlugin)
