// Copyright embrt authors.
//
// File: tests/conformance/plugin_driver.h
// ---------------------------------------
// The conformance view of tests/testing/abi_driver.h: builds an EMBRT_EngineDescription from a
// reference::ModelSpec and wraps the engine calls in the reference's value types, so that tests
// can compare a plugin with the scalar reference. Raw access (api(), raw(), abi()) is there for
// tests that pass bad arguments on purpose.
//
// Thread safety: Plugin is immutable after Open. Engine calls for different replicas may run
// concurrently (as the ABI allows); everything else must not.

#ifndef EMBRT_TESTS_CONFORMANCE_PLUGIN_DRIVER_H_
#define EMBRT_TESTS_CONFORMANCE_PLUGIN_DRIVER_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "abi_driver.h"
#include "embrt/plugin_api.h"
#include "scalar_reference.h"

namespace embrt {
namespace conformance {

using abi_driver::CallResult;
using abi_driver::CodeName;
using abi_driver::Plugin;
using abi_driver::ToString;

// Engine-wide fields of the description that tests vary.
struct EngineSettings {
  int32_t pipeline_execution = 0;
  int32_t allow_nonfinite_gradients = 0;
  int32_t num_hosts = 1;
  int32_t host_id = 0;
};

// An EMBRT_EngineDescription built from a ModelSpec (every table holds all its rows, whatever
// num_hosts says). The public vectors may be edited before get() to build bad descriptions.
class Description : public abi_driver::Description {
 public:
  explicit Description(const reference::ModelSpec& model,
                       const std::map<std::string, std::string>& options = {},
                       const EngineSettings& settings = {});
};

// One engine on one plugin for one ModelSpec.
class Engine {
 public:
  // Creates the engine; on failure returns NULL and sets `result`.
  static std::unique_ptr<Engine> Create(const Plugin& plugin, const reference::ModelSpec& model,
                                        CallResult* result,
                                        std::map<std::string, std::string> options = {},
                                        const EngineSettings& settings = {});
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  const reference::ModelSpec& model() const { return model_; }
  EMBRT_Engine* raw() const { return engine_.raw(); }
  // The raw calls, for tests that pass bad arguments on purpose.
  abi_driver::Engine& abi() { return engine_; }

  // Passes each feature's positions when it has any (ABI 1.1). `struct_size_1_0`: the args and
  // inputs of a 1.0 host (no positions, no input_lifetime).
  CallResult Enqueue(int replica, EMBRT_Mode mode, const reference::ReplicaBatch& batch,
                     bool struct_size_1_0 = false);
  // Sizes the buffers from the model and receives into them.
  CallResult Recv(int replica, reference::Activations* activations);
  CallResult Send(int replica, const reference::Gradients& gradients,
                  const std::vector<float>& learning_rates = {});
  // Loads rows [row_begin, row_begin + row_count) of every slot of `table` from full-table
  // slot arrays (layout order).
  CallResult Load(int table, const std::vector<std::vector<float>>& slots, int64_t row_begin = 0,
                  int64_t row_count = -1);
  // Retrieves every slot of `table`, whole.
  CallResult Retrieve(int table, std::vector<std::vector<float>>* slots);
  CallResult Synchronize();

  // Loads every table and slot of `reference` (same model).
  CallResult LoadState(const reference::ScalarReference& reference);

 private:
  Engine(const Plugin& plugin, reference::ModelSpec model)
      : model_(std::move(model)), engine_(plugin) {}

  reference::ModelSpec model_;
  abi_driver::Engine engine_;
};

// Number of float values that differ by more than `max_ulps` units in the last place (NaNs
// compare equal to NaNs; +0 equals -0), with a description of the first few in `report`.
int64_t CountMismatches(const std::vector<float>& actual, const std::vector<float>& expected,
                        int max_ulps, const std::string& what, std::string* report);

}  // namespace conformance
}  // namespace embrt

#endif  // EMBRT_TESTS_CONFORMANCE_PLUGIN_DRIVER_H_
