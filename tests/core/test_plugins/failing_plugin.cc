// Copyright embrt authors.
//
// A minimal, well-formed plugin written with plugin_sdk.h whose Engine_Create always fails with
// UNAVAILABLE, for plugin_loader_test (error conversion and attributes).

#include <memory>

#include "embrt/plugin_sdk.h"

namespace {

struct FailingPlugin {
  static const EMBRT_NamedValue* Attributes(size_t* count) {
    static const EMBRT_NamedValue kAttributes[] = {
        embrt::sdk::StringAttribute("name", "failing"),
        embrt::sdk::StringAttribute("abi_version", "1.1"),
        embrt::sdk::Int64Attribute("max_dim", 128),
        embrt::sdk::Int64Attribute("deterministic", 1),
    };
    *count = sizeof(kAttributes) / sizeof(kAttributes[0]);
    return kAttributes;
  }
  static embrt::sdk::Status Create(const embrt::sdk::EngineConfig& config,
                                   std::unique_ptr<embrt::sdk::Engine>* engine) {
    return embrt::sdk::Status(
        EMBRT_CODE_UNAVAILABLE,
        "device 7 is busy (" + std::to_string(config.tables.size()) + " tables asked for)");
  }
};

}  // namespace

EMBRT_DEFINE_PLUGIN(FailingPlugin)
