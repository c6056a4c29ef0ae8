// Copyright embrt authors.
//
// File: tests/cpu/cpu_test_harness.h
// ----------------------------------
// Drives libembrt_backend_cpu.so through its C table only (dlopen of the built plugin, by
// tests/testing/abi_driver.h), with small value types for tables, features and inputs, so that
// each test reads like the math.

#ifndef EMBRT_TESTS_CPU_CPU_TEST_HARNESS_H_
#define EMBRT_TESTS_CPU_CPU_TEST_HARNESS_H_

#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "abi_driver.h"
#include "embrt/plugin_api.h"

namespace embrt {
namespace cpu_test {

constexpr float kInf = std::numeric_limits<float>::infinity();

// The plugin's C table; the test aborts (gtest failure) when it cannot be loaded.
const EMBRT_Api* CpuApi();

using Result = abi_driver::CallResult;

struct TableSpec {
  std::string name = "table";
  int64_t vocabulary_size = 8;
  int32_t dim = 4;
  EMBRT_Combiner combiner = EMBRT_COMBINER_SUM;
  EMBRT_OptimizerKind optimizer = EMBRT_OPTIMIZER_SGD;
  float learning_rate = 0.1f;
  int32_t learning_rate_tag = -1;
  bool use_gradient_accumulation = true;
  float clip_weight_min = -kInf, clip_weight_max = kInf;
  float clip_gradient_min = -kInf, clip_gradient_max = kInf;
  float weight_decay_factor = 0.0f;
  bool multiply_weight_decay_factor_by_learning_rate = false;
  std::vector<std::pair<std::string, float>> hyperparameters;  // floats; booleans as 0/1
};

struct FeatureSpec {
  std::string name = "feature";
  int32_t table = 0;
  int32_t max_sequence_length = 0;
  int64_t input_rows = 4;
};

struct EngineSpec {
  std::vector<TableSpec> tables;
  std::vector<FeatureSpec> features;
  int32_t num_replicas = 1;
  int32_t num_hosts = 1;
  int32_t host_id = 0;
  EMBRT_Sharding sharding = EMBRT_SHARDING_DIV;
  bool pipeline_execution = false;
  int32_t num_learning_rate_tags = 0;
  bool allow_nonfinite_gradients = false;
  std::vector<std::pair<std::string, std::string>> options;  // e.g. {"threads", "2"}
  int64_t shard_rows_override = -1;  // >= 0: lie about shard_rows (error tests)
};

// One feature's input. Empty splits/weights are passed as NULL.
struct Input {
  std::vector<int64_t> ids;
  std::vector<int32_t> row_splits;
  std::vector<float> weights;
};

// Builds an input from bags: {{0}, {0, 1}, {}} -> ids and row splits.
Input Bags(const std::vector<std::vector<int64_t>>& bags,
           const std::vector<std::vector<float>>& weights = {});

int SlotCount(EMBRT_OptimizerKind kind);

// One engine, destroyed with the object.
class CpuEngine {
 public:
  explicit CpuEngine(const EngineSpec& spec);
  ~CpuEngine();
  CpuEngine(const CpuEngine&) = delete;
  CpuEngine& operator=(const CpuEngine&) = delete;

  const Result& create_result() const { return create_result_; }
  bool ok() const { return engine_ != nullptr && engine_->raw() != nullptr; }
  const EngineSpec& spec() const { return spec_; }

  // Floats of feature f's activation (and gradient) buffer.
  size_t ActivationSize(int f) const;
  int64_t ShardRows(int t) const;

  Result Enqueue(int32_t replica, const std::vector<Input>& inputs,
                 EMBRT_Mode mode = EMBRT_MODE_TRAINING);
  // Enqueue's input_lifetime from now on (EMBRT_INPUT_LIFETIME_CALL at first).
  void set_input_lifetime(int32_t lifetime) { engine_->set_input_lifetime(lifetime); }
  Result Recv(int32_t replica, std::vector<std::vector<float>>* activations);
  Result RecvRaw(int32_t replica, const std::vector<float*>& buffers,
                 const std::vector<size_t>& sizes);
  // A gradient entry that is empty is passed as NULL (zero gradient).
  Result Send(int32_t replica, const std::vector<std::vector<float>>& gradients,
              const std::vector<float>& learning_rates = {});
  // Raw form, for size errors.
  Result SendRaw(int32_t replica, const std::vector<const float*>& gradients,
                 const std::vector<size_t>& sizes, const float* learning_rates,
                 size_t num_learning_rates);
  Result Load(int32_t table, int64_t row_begin, const std::vector<std::vector<float>>& slots,
              int32_t shard = -1);
  Result LoadRaw(int32_t table, int32_t shard, int64_t row_begin, int64_t row_count,
                 const std::vector<const float*>& slots);
  // Retrieves `row_count` rows (all when negative) of every slot.
  Result Retrieve(int32_t table, std::vector<std::vector<float>>* slots, int64_t row_begin = 0,
                  int64_t row_count = -1, int32_t shard = -1);
  Result Synchronize();

  // Everything: every slot of every table, for bitwise comparisons.
  std::vector<std::vector<std::vector<float>>> RetrieveAll();

  // Enqueue + Recv + Send(gradient = f(activations)) for every replica, lockstep.
  Result Step(const std::vector<std::vector<Input>>& per_replica_inputs,
              const std::vector<std::vector<std::vector<float>>>& per_replica_gradients,
              const std::vector<float>& learning_rates = {});

 private:
  EngineSpec spec_;
  Result create_result_;
  std::unique_ptr<abi_driver::Engine> engine_;  // NULL only when the plugin did not load
};

// Table r*dim + c = start + r * dim + c ("row-major 0..n").
std::vector<float> RowMajor(int64_t rows, int32_t dim, float start = 0.0f);
std::vector<float> Filled(int64_t rows, int32_t dim, float value);

}  // namespace cpu_test
}  // namespace embrt

#endif  // EMBRT_TESTS_CPU_CPU_TEST_HARNESS_H_
