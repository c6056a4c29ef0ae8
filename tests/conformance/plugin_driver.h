// Copyright embrt authors.
//
// File: tests/conformance/plugin_driver.h
// ---------------------------------------
// A thin C++ driver of a backend plugin through nothing but embrt/plugin_api.h and dlopen: what
// a vendor has when testing its own .so. It loads a plugin, builds an EMBRT_EngineDescription
// from a reference::ModelSpec, and wraps the engine calls so that tests can compare a plugin
// with the scalar reference. Raw access (api(), raw()) is there for tests that pass bad
// arguments on purpose.
//
// Thread safety: Plugin is immutable after Open. Engine calls for different replicas may run
// concurrently (as the ABI allows); everything else must not.

#ifndef EMBRT_TESTS_CONFORMANCE_PLUGIN_DRIVER_H_
#define EMBRT_TESTS_CONFORMANCE_PLUGIN_DRIVER_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "embrt/plugin_api.h"
#include "scalar_reference.h"

namespace embrt {
namespace conformance {

// The outcome of one ABI call: the plugin's error converted to plain values (and destroyed).
struct CallResult {
  EMBRT_ErrorCode code = EMBRT_CODE_OK;
  std::string message;
  bool ok() const { return code == EMBRT_CODE_OK; }
};

// "OK" or "CODE_NAME: message", for test failure messages.
std::string ToString(const CallResult& result);
const char* CodeName(EMBRT_ErrorCode code);

// A plugin shared object, loaded with dlopen(RTLD_NOW | RTLD_LOCAL) and never unloaded.
class Plugin {
 public:
  // Loads `path` and asks for ABI 1.0. On failure returns NULL and sets `error`.
  static std::unique_ptr<Plugin> Open(const std::string& path, std::string* error);

  const std::string& path() const { return path_; }
  EMBRT_GetPluginApi_Fn* get_api() const { return get_api_; }
  const EMBRT_Api* api() const { return api_; }

  // Converts `error` (NULL: OK) and destroys it.
  CallResult Consume(EMBRT_Error* error) const;

  // Plugin_Attributes as a map name -> value (NULL when the call failed).
  const std::map<std::string, const EMBRT_NamedValue*>& attributes() const { return attributes_; }
  std::string name() const;  // attribute "name", "" when absent
  // attribute exact_math == 1
  bool exact_math() const;

 private:
  std::string path_;
  EMBRT_GetPluginApi_Fn* get_api_ = nullptr;
  const EMBRT_Api* api_ = nullptr;
  std::map<std::string, const EMBRT_NamedValue*> attributes_;
};

// Owns an EMBRT_EngineDescription (and everything it points to) built from a ModelSpec. The
// public vectors may be edited before get() to build bad descriptions.
class Description {
 public:
  explicit Description(const reference::ModelSpec& model,
                       std::map<std::string, std::string> options = {});
  Description(const Description&) = delete;
  Description& operator=(const Description&) = delete;

  // Rebuilds the pointer arrays from the vectors below and returns the description.
  EMBRT_EngineDescription* get();

  std::vector<EMBRT_OptimizerDescription> optimizers;
  std::vector<std::vector<EMBRT_NamedValue>> hyperparameters;
  std::vector<EMBRT_TableDescription> tables;
  std::vector<EMBRT_FeatureDescription> features;
  std::vector<std::vector<int64_t>> output_shapes;
  EMBRT_EngineDescription description{};

 private:
  std::vector<std::string> names_;  // stable storage for every string
  std::map<std::string, std::string> options_;
  std::vector<EMBRT_NamedValue> option_values_;
  std::vector<const EMBRT_TableDescription*> table_pointers_;
  std::vector<const EMBRT_FeatureDescription*> feature_pointers_;
};

// One engine on one plugin for one ModelSpec.
class Engine {
 public:
  // Creates the engine; on failure returns NULL and sets `result`.
  static std::unique_ptr<Engine> Create(const Plugin& plugin, const reference::ModelSpec& model,
                                        CallResult* result,
                                        std::map<std::string, std::string> options = {});
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  const reference::ModelSpec& model() const { return model_; }
  EMBRT_Engine* raw() const { return engine_; }

  CallResult Enqueue(int replica, EMBRT_Mode mode, const reference::ReplicaBatch& batch);
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
  Engine(const Plugin& plugin, reference::ModelSpec model, EMBRT_Engine* engine)
      : plugin_(plugin), model_(std::move(model)), engine_(engine) {}

  const Plugin& plugin_;
  reference::ModelSpec model_;
  EMBRT_Engine* engine_;
};

// Number of float values that differ by more than `max_ulps` units in the last place (NaNs
// compare equal to NaNs; +0 equals -0), with a description of the first few in `report`.
int64_t CountMismatches(const std::vector<float>& actual, const std::vector<float>& expected,
                        int max_ulps, const std::string& what, std::string* report);

}  // namespace conformance
}  // namespace embrt

#endif  // EMBRT_TESTS_CONFORMANCE_PLUGIN_DRIVER_H_
