// Copyright embrt authors.
//
// A plugin that does not declare `checks_ids_and_gradients`, for embedding_checks_test: it
// leaves ids and gradients to the core, and reports (FAILED_PRECONDITION, which the core passes
// on unchanged) any id out of range or any NaN/Inf that still reaches it. So a test sees the
// core's own INVALID_ARGUMENT only when the core checked before calling the plugin.
// Activations are zeros; tables are not stored.

#include <cmath>
#include <memory>
#include <string>

#include "embrt/plugin_sdk.h"

namespace {

namespace sdk = embrt::sdk;

class TrustingEngine : public sdk::Engine {
 public:
  explicit TrustingEngine(sdk::EngineConfig config) : config_(std::move(config)) {}

  sdk::Status Enqueue(int32_t, EMBRT_Mode, const sdk::FeatureInputView* inputs,
                      size_t num_inputs) override {
    for (size_t f = 0; f < num_inputs && f < config_.features.size(); ++f) {
      const int64_t vocabulary = config_.tables[config_.features[f].table_index].vocabulary_size;
      for (size_t i = 0; i < inputs[f].num_ids; ++i) {
        const int64_t id = inputs[f].ids[i];
        if (id < 0 || id >= vocabulary) {
          return sdk::Status(EMBRT_CODE_FAILED_PRECONDITION,
                             "id " + std::to_string(id) + " reached the trusting plugin");
        }
      }
    }
    return sdk::Status();
  }
  sdk::Status RecvActivations(int32_t, float* const* activations, const size_t* sizes,
                              size_t num_activations) override {
    for (size_t f = 0; f < num_activations; ++f) {
      for (size_t i = 0; i < sizes[f]; ++i) activations[f][i] = 0.0f;
    }
    return sdk::Status();
  }
  sdk::Status SendGradients(int32_t, const float* const* gradients, const size_t* sizes,
                            size_t num_gradients, const float*, size_t) override {
    for (size_t f = 0; f < num_gradients; ++f) {
      if (gradients[f] == nullptr) continue;
      for (size_t i = 0; i < sizes[f]; ++i) {
        if (!std::isfinite(gradients[f][i])) {
          return sdk::Status(EMBRT_CODE_FAILED_PRECONDITION,
                             "a NaN or Inf gradient reached the trusting plugin");
        }
      }
    }
    return sdk::Status();
  }
  sdk::Status LoadTableShard(int32_t, int32_t, int64_t, int64_t, const float* const*,
                             size_t) override {
    return sdk::Status();
  }
  sdk::Status RetrieveTableShard(int32_t, int32_t, int64_t, int64_t row_count,
                                 float* const* slots, size_t num_slots) override {
    (void)row_count;
    (void)slots;
    (void)num_slots;
    return sdk::Status();
  }
  sdk::Status Synchronize() override { return sdk::Status(); }

 private:
  sdk::EngineConfig config_;
};

struct TrustingPlugin {
  static const EMBRT_NamedValue* Attributes(size_t* count) {
    static const EMBRT_NamedValue kAttributes[] = {
        sdk::StringAttribute("name", "trusting"),
        sdk::StringAttribute("abi_version", "1.1"),
        sdk::StringAttribute("optimizers", "sgd"),
    };
    *count = sizeof(kAttributes) / sizeof(kAttributes[0]);
    return kAttributes;
  }
  static sdk::Status Create(const sdk::EngineConfig& config,
                            std::unique_ptr<sdk::Engine>* engine) {
    *engine = std::make_unique<TrustingEngine>(config);
    return sdk::Status();
  }
};

}  // namespace

EMBRT_DEFINE_PLUGIN(TrustingPlugin)
