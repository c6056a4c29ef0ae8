// Copyright embrt authors.
//
// Test harness: loads libembrt_backend_mock.so with dlopen (never the core's loader, through
// tests/testing/abi_driver.h), builds engine descriptions from small specs, and drives one engine
// through the C table.

#ifndef EMBRT_TESTS_PLUGIN_API_MOCK_HARNESS_H_
#define EMBRT_TESTS_PLUGIN_API_MOCK_HARNESS_H_

#include <cmath>
#include <cstdint>
#include <fstream>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "abi_driver.h"
#include "embrt/plugin_api.h"
#include "gtest/gtest.h"

namespace embrt {
namespace testing {

// The mock plugin, loaded once and kept loaded for the process (NULL when it cannot be loaded).
inline const abi_driver::Plugin* MockPlugin() {
  static const abi_driver::Plugin* plugin = [] {
    std::string error;
    return abi_driver::Plugin::Open(EMBRT_MOCK_PLUGIN_PATH, &error).release();
  }();
  return plugin;
}

// The mock's C table.
inline const EMBRT_Api* MockApi() {
  const abi_driver::Plugin* plugin = MockPlugin();
  return plugin == nullptr ? nullptr : plugin->api();
}

// An error taken out of an EMBRT_Error* (which is destroyed). code 0 means OK.
using Result = abi_driver::CallResult;

inline Result Take(EMBRT_Error* error) { return MockPlugin()->Consume(error); }

struct TableSpec {
  std::string name;
  int64_t vocabulary_size = 8;
  int32_t dim = 2;
  EMBRT_Combiner combiner = EMBRT_COMBINER_SUM;
  EMBRT_OptimizerKind optimizer = EMBRT_OPTIMIZER_SGD;
  float learning_rate = 0.5f;
  int32_t learning_rate_tag = -1;
};

struct FeatureSpec {
  std::string name;
  int32_t table = 0;
  int64_t input_rows = 2;
  int32_t max_sequence_length = 0;
};

struct EngineSpec {
  std::vector<TableSpec> tables;
  std::vector<FeatureSpec> features;
  int32_t num_replicas = 1;
  int32_t num_hosts = 1;
  int32_t host_id = 0;
  EMBRT_Sharding sharding = EMBRT_SHARDING_DIV;
  int32_t num_learning_rate_tags = 0;
  bool allow_nonfinite_gradients = false;
  std::vector<std::pair<std::string, std::string>> options;
};

// Rows held by `host`, as the core computes them.
inline int64_t ShardRowsOf(int64_t vocabulary_size, int32_t hosts, int32_t host) {
  return vocabulary_size / hosts + (host < vocabulary_size % hosts ? 1 : 0);
}

// An EMBRT_EngineDescription and the storage it points into (no clipping, no hyperparameters).
class Description : public abi_driver::Description {
 public:
  explicit Description(const EngineSpec& spec) : spec_(spec) {
    for (const TableSpec& s : spec_.tables) {
      AddTable(s.name, s.vocabulary_size, s.dim, s.combiner,
               abi_driver::Optimizer(s.optimizer, s.learning_rate, s.learning_rate_tag), {},
               ShardRowsOf(s.vocabulary_size, spec_.num_hosts, spec_.host_id));
    }
    for (const FeatureSpec& s : spec_.features) {
      AddFeature(s.name, s.table, s.max_sequence_length, s.input_rows);
    }
    for (const auto& [name, value] : spec_.options) AddOption(name, value);
    description.num_replicas = spec_.num_replicas;
    description.num_hosts = spec_.num_hosts;
    description.host_id = spec_.host_id;
    description.sharding = spec_.sharding;
    description.num_learning_rate_tags = spec_.num_learning_rate_tags;
    description.allow_nonfinite_gradients = spec_.allow_nonfinite_gradients ? 1 : 0;
    Finish(/*empty_batch_size=*/0);
  }

  const EngineSpec& spec() const { return spec_; }
  std::vector<EMBRT_TableDescription>& tables() { return abi_driver::Description::tables; }
  std::vector<EMBRT_FeatureDescription>& features() { return abi_driver::Description::features; }

 private:
  EngineSpec spec_;
};

// One feature's input; empty row_splits / weights are passed as NULL.
struct Input {
  std::vector<int64_t> ids;
  std::vector<int32_t> row_splits;
  std::vector<float> weights;
};

inline Result CreateEngine(const EngineSpec& spec, EMBRT_Engine** engine) {
  Description description(spec);
  EMBRT_Engine_Create_Args args = {EMBRT_Engine_Create_Args_STRUCT_SIZE, nullptr, description.get(),
                                   nullptr};
  Result result = Take(MockApi()->Engine_Create(&args));
  *engine = args.engine;
  return result;
}

// One engine driven through the C table. Floats in buffers are exact copies.
class MockEngine {
 public:
  explicit MockEngine(const EngineSpec& spec) : spec_(spec), engine_(*MockPlugin()) {
    Description description(spec);
    create_result_ = engine_.Create(description.get());
  }
  MockEngine(const MockEngine&) = delete;
  MockEngine& operator=(const MockEngine&) = delete;

  const Result& create_result() const { return create_result_; }
  EMBRT_Engine* get() const { return engine_.raw(); }
  void Destroy() { engine_.Destroy(); }

  // Floats of feature f's activations.
  size_t ActivationSize(size_t f) const {
    const FeatureSpec& feature = spec_.features[f];
    const int64_t positions = feature.max_sequence_length > 0 ? feature.max_sequence_length : 1;
    return static_cast<size_t>(feature.input_rows * positions *
                               spec_.tables[static_cast<size_t>(feature.table)].dim);
  }

  Result Enqueue(int32_t replica, EMBRT_Mode mode, const std::vector<Input>& inputs) {
    return engine_.Enqueue(replica, mode, inputs);
  }

  // Hand-made C inputs (older or newer struct sizes, poisoned pointers).
  Result EnqueueRaw(int32_t replica, EMBRT_Mode mode,
                    const std::vector<EMBRT_FeatureInput>& inputs) {
    return engine_.EnqueueRaw(replica, mode, inputs);
  }

  // Receives into freshly sized buffers (filled with -7 first, so unwritten floats show).
  Result Recv(int32_t replica, std::vector<std::vector<float>>* activations) {
    activations->assign(spec_.features.size(), {});
    std::vector<float*> buffers;
    std::vector<size_t> sizes;
    for (size_t f = 0; f < spec_.features.size(); ++f) {
      (*activations)[f].assign(ActivationSize(f), -7.0f);
      buffers.push_back((*activations)[f].data());
      sizes.push_back((*activations)[f].size());
    }
    return RecvInto(replica, buffers, sizes);
  }

  Result RecvInto(int32_t replica, const std::vector<float*>& buffers,
                  const std::vector<size_t>& sizes) {
    return engine_.RecvInto(replica, buffers, sizes);
  }

  // An empty gradient vector is passed as NULL (zero gradient).
  Result Send(int32_t replica, const std::vector<std::vector<float>>& gradients,
              const std::vector<float>& learning_rates = {}) {
    return engine_.Send(replica, gradients, learning_rates);
  }

  Result Load(int32_t table, int64_t row_begin, int64_t row_count,
              const std::vector<std::vector<float>>& slots, int32_t shard = -1) {
    std::vector<const float*> pointers;
    for (const auto& s : slots) pointers.push_back(s.data());
    return engine_.LoadRaw(table, shard < 0 ? spec_.host_id : shard, row_begin, row_count,
                           pointers);
  }

  // Retrieves `num_slots` slots of [row_count, dim] floats.
  Result Retrieve(int32_t table, int64_t row_begin, int64_t row_count, size_t num_slots,
                  std::vector<std::vector<float>>* slots, int32_t shard = -1) {
    const size_t dim = static_cast<size_t>(spec_.tables[static_cast<size_t>(table)].dim);
    slots->assign(num_slots, std::vector<float>(static_cast<size_t>(row_count) * dim, -7.0f));
    std::vector<float*> pointers;
    for (auto& s : *slots) pointers.push_back(s.data());
    return engine_.RetrieveRaw(table, shard < 0 ? spec_.host_id : shard, row_begin, row_count,
                               pointers);
  }

  // The parameters of one table (row_count rows from row_begin), or an empty vector on error.
  std::vector<float> Parameters(int32_t table, int64_t row_begin, int64_t row_count) {
    std::vector<std::vector<float>> slots;
    const auto& t = spec_.tables[static_cast<size_t>(table)];
    const size_t num_slots = t.optimizer == EMBRT_OPTIMIZER_SGD       ? 1
                             : t.optimizer == EMBRT_OPTIMIZER_ADAGRAD ? 2
                                                                      : 3;
    Result r = Retrieve(table, row_begin, row_count, num_slots, &slots);
    EXPECT_TRUE(r.ok()) << r.message;
    return r.ok() ? slots[0] : std::vector<float>();
  }

  Result Synchronize() { return engine_.Synchronize(); }

 private:
  EngineSpec spec_;
  abi_driver::Engine engine_;
  Result create_result_;
};

// The documented value of a row the mock never wrote (README.md).
inline float DefaultValue(int64_t table, int64_t row, int64_t column) {
  return static_cast<float>(1000 * table + row) + static_cast<float>(column) / 1000.0f;
}

// A fresh, empty file path under the test's temporary directory.
inline std::string TempFile(const std::string& name) {
  std::string path = ::testing::TempDir() + "/" + name;
  std::remove(path.c_str());
  return path;
}

inline std::vector<std::string> ReadLines(const std::string& path) {
  std::vector<std::string> lines;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// One table (vocabulary 8, dim 2, sum, SGD lr 0.5) and one feature of 2 rows.
inline EngineSpec SmallSpec() {
  EngineSpec spec;
  spec.tables.push_back(TableSpec{"t0"});
  spec.features.push_back(FeatureSpec{"f0"});
  return spec;
}

}  // namespace testing
}  // namespace embrt

#endif  // EMBRT_TESTS_PLUGIN_API_MOCK_HARNESS_H_
