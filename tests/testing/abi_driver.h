// Copyright embrt authors.
//
// File: tests/testing/abi_driver.h
// --------------------------------
// Drives a backend plugin through nothing but embrt/plugin_api.h and dlopen, as a vendor would
// test its own .so: loads the plugin, owns an EMBRT_EngineDescription and everything it points
// to, and wraps each engine call so that it returns the plugin's error as plain values. The
// suites (conformance, cpu, mock) build descriptions from their own specs on top of this.
//
// Thread safety: Plugin is immutable after Open. Engine calls for different replicas may run
// concurrently (as the ABI allows); everything else must not.

#ifndef EMBRT_TESTS_TESTING_ABI_DRIVER_H_
#define EMBRT_TESTS_TESTING_ABI_DRIVER_H_

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "embrt/plugin_api.h"

namespace embrt {
namespace abi_driver {

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

  // Plugin_Attributes as a map name -> value (empty when the call failed).
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

// Named values for hyperparameters (booleans are INT64 0/1). The name is copied by AddTable.
EMBRT_NamedValue FloatValue(const char* name, float value);
EMBRT_NamedValue BoolValue(const char* name, bool value);

// Owns an EMBRT_EngineDescription and everything it points to. Suites add tables, features and
// options, set the engine-wide fields of `description`, then call Finish once. After Finish the
// public vectors and fields may be edited (not resized) to build bad descriptions.
class Description {
 public:
  Description() = default;
  Description(const Description&) = delete;
  Description& operator=(const Description&) = delete;

  // Appends a table whose optimizer is `optimizer` plus `hyperparameters` (names copied).
  void AddTable(const std::string& name, int64_t vocabulary_size, int32_t dim,
                EMBRT_Combiner combiner, const EMBRT_OptimizerDescription& optimizer,
                const std::vector<EMBRT_NamedValue>& hyperparameters, int64_t shard_rows);
  void AddFeature(const std::string& name, int32_t table, int32_t max_sequence_length,
                  int64_t input_rows);
  void AddOption(const std::string& key, const std::string& value);
  // Points the description at the tables, features and options (per_replica_batch_size: the
  // first feature's input_rows, or `empty_batch_size` without features).
  void Finish(int32_t empty_batch_size);

  EMBRT_EngineDescription* get() { return &description; }

  std::vector<EMBRT_OptimizerDescription> optimizers;
  std::vector<std::vector<EMBRT_NamedValue>> hyperparameters;
  std::vector<EMBRT_TableDescription> tables;
  std::vector<EMBRT_FeatureDescription> features;
  std::vector<std::vector<int64_t>> output_shapes;
  EMBRT_EngineDescription description{};

 private:
  const std::string& Keep(std::string s);

  std::deque<std::string> strings_;  // stable storage for every string
  std::vector<EMBRT_NamedValue> option_values_;
  std::vector<const EMBRT_TableDescription*> table_pointers_;
  std::vector<const EMBRT_FeatureDescription*> feature_pointers_;
};

// Fills `optimizer` with the fields every description needs (struct size, kind, learning rate)
// and no clipping; callers override the rest.
EMBRT_OptimizerDescription Optimizer(EMBRT_OptimizerKind kind, float learning_rate,
                                     int32_t learning_rate_tag);

// One engine on one plugin, destroyed with the object (or by Destroy). Every call passes the
// engine handle as it is, NULL included, so that tests may drive a failed Create on purpose.
// Whether an input type has a .positions vector.
template <typename T, typename = void>
struct HasPositions : std::false_type {};
template <typename T>
struct HasPositions<T, std::void_t<decltype(std::declval<T>().positions)>> : std::true_type {};

class Engine {
 public:
  explicit Engine(const Plugin& plugin) : plugin_(plugin) {}
  ~Engine() { Destroy(); }
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Engine_Create; on success the engine is held (and OK with a NULL engine is INTERNAL).
  CallResult Create(EMBRT_EngineDescription* description);
  void Destroy();
  EMBRT_Engine* raw() const { return engine_; }
  const Plugin& plugin() const { return plugin_; }

  // `inputs` is any vector of values with .ids, .row_splits and .weights vectors (empty
  // row_splits / weights are passed as NULL) and optionally .positions (ABI 1.1; empty: NULL).
  template <typename InputT>
  CallResult Enqueue(int32_t replica, EMBRT_Mode mode, const std::vector<InputT>& inputs) {
    std::vector<EMBRT_FeatureInput> structs;
    for (const InputT& input : inputs) {
      structs.push_back(FeatureInput(input.ids, input.row_splits, input.weights));
      if constexpr (HasPositions<InputT>::value) {
        if (!input.positions.empty()) {
          structs.back().positions = input.positions.data();
          structs.back().num_positions = input.positions.size();
        }
      }
    }
    return EnqueueRaw(replica, mode, structs);
  }
  CallResult EnqueueRaw(int32_t replica, EMBRT_Mode mode,
                        const std::vector<EMBRT_FeatureInput>& inputs);
  // Enqueue's input_lifetime from now on (ABI 1.1; EMBRT_INPUT_LIFETIME_CALL at first).
  void set_input_lifetime(int32_t lifetime) { input_lifetime_ = lifetime; }
  CallResult RecvInto(int32_t replica, const std::vector<float*>& buffers,
                      const std::vector<size_t>& sizes);
  // An empty gradient is passed as NULL (zero gradient); empty learning_rates as NULL.
  CallResult Send(int32_t replica, const std::vector<std::vector<float>>& gradients,
                  const std::vector<float>& learning_rates = {});
  CallResult SendRaw(int32_t replica, const std::vector<const float*>& gradients,
                     const std::vector<size_t>& sizes, const float* learning_rates,
                     size_t num_learning_rates);
  CallResult LoadRaw(int32_t table, int32_t shard, int64_t row_begin, int64_t row_count,
                     const std::vector<const float*>& slots);
  CallResult RetrieveRaw(int32_t table, int32_t shard, int64_t row_begin, int64_t row_count,
                         const std::vector<float*>& slots);
  CallResult Synchronize();

 private:
  static EMBRT_FeatureInput FeatureInput(const std::vector<int64_t>& ids,
                                         const std::vector<int32_t>& row_splits,
                                         const std::vector<float>& weights);

  const Plugin& plugin_;
  EMBRT_Engine* engine_ = nullptr;
  int32_t input_lifetime_ = EMBRT_INPUT_LIFETIME_CALL;
};

}  // namespace abi_driver
}  // namespace embrt

#endif  // EMBRT_TESTS_TESTING_ABI_DRIVER_H_
