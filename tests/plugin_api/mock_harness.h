// Copyright embrt authors.
//
// Test harness: loads libembrt_backend_mock.so with dlopen (never the core's loader), builds
// engine descriptions from small specs, and drives one engine through the C table.

#ifndef EMBRT_TESTS_PLUGIN_API_MOCK_HARNESS_H_
#define EMBRT_TESTS_PLUGIN_API_MOCK_HARNESS_H_

#include <dlfcn.h>

#include <cmath>
#include <cstdint>
#include <fstream>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "embrt/plugin_api.h"
#include "gtest/gtest.h"

namespace embrt {
namespace testing {

// The mock's C table, loaded once and kept loaded for the process.
inline const EMBRT_Api* MockApi() {
  static const EMBRT_Api* api = []() -> const EMBRT_Api* {
    void* library = dlopen(EMBRT_MOCK_PLUGIN_PATH, RTLD_NOW | RTLD_LOCAL);
    if (library == nullptr) return nullptr;
    auto* get =
        reinterpret_cast<EMBRT_GetPluginApi_Fn*>(dlsym(library, EMBRT_GET_PLUGIN_API_SYMBOL));
    if (get == nullptr) return nullptr;
    EMBRT_HostInfo host = {EMBRT_HostInfo_STRUCT_SIZE, EMBRT_ABI_MAJOR, EMBRT_ABI_MINOR};
    return get(&host);
  }();
  return api;
}

// An error taken out of an EMBRT_Error* (which is destroyed). code 0 means OK.
struct Result {
  EMBRT_ErrorCode code = EMBRT_CODE_OK;
  std::string message;
  bool ok() const { return code == EMBRT_CODE_OK; }
};

inline Result Take(EMBRT_Error* error) {
  Result result;
  if (error == nullptr) return result;
  const EMBRT_Api* api = MockApi();
  EMBRT_Error_GetCode_Args code = {EMBRT_Error_GetCode_Args_STRUCT_SIZE, nullptr, error, 0};
  api->Error_GetCode(&code);
  EMBRT_Error_Message_Args message = {EMBRT_Error_Message_Args_STRUCT_SIZE, nullptr, error, nullptr,
                                      0};
  api->Error_Message(&message);
  result.code = code.code;
  result.message.assign(message.message, message.message_size);
  EMBRT_Error_Destroy_Args destroy = {EMBRT_Error_Destroy_Args_STRUCT_SIZE, nullptr, error};
  api->Error_Destroy(&destroy);
  return result;
}

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

// An EMBRT_EngineDescription and the storage it points into.
class Description {
 public:
  explicit Description(const EngineSpec& spec) : spec_(spec) {
    const size_t num_tables = spec_.tables.size();
    const size_t num_features = spec_.features.size();
    optimizers_.resize(num_tables);
    tables_.resize(num_tables);
    features_.resize(num_features);
    shapes_.resize(num_features);
    for (size_t t = 0; t < num_tables; ++t) {
      const TableSpec& s = spec_.tables[t];
      EMBRT_OptimizerDescription& o = optimizers_[t];
      o = EMBRT_OptimizerDescription{};
      o.struct_size = EMBRT_OptimizerDescription_STRUCT_SIZE;
      o.kind = s.optimizer;
      o.learning_rate = s.learning_rate;
      o.learning_rate_tag = s.learning_rate_tag;
      o.use_gradient_accumulation = 1;
      o.clip_weight_min = -INFINITY;
      o.clip_weight_max = INFINITY;
      o.clip_gradient_min = -INFINITY;
      o.clip_gradient_max = INFINITY;
      EMBRT_TableDescription& d = tables_[t];
      d = EMBRT_TableDescription{};
      d.struct_size = EMBRT_TableDescription_STRUCT_SIZE;
      d.name = s.name.data();
      d.name_size = s.name.size();
      d.vocabulary_size = s.vocabulary_size;
      d.dim = s.dim;
      d.combiner = s.combiner;
      d.optimizer = &optimizers_[t];
      d.shard_rows = ShardRowsOf(s.vocabulary_size, spec_.num_hosts, spec_.host_id);
    }
    for (size_t f = 0; f < num_features; ++f) {
      const FeatureSpec& s = spec_.features[f];
      shapes_[f] = {s.input_rows};
      if (s.max_sequence_length > 0) shapes_[f].push_back(s.max_sequence_length);
      EMBRT_FeatureDescription& d = features_[f];
      d = EMBRT_FeatureDescription{};
      d.struct_size = EMBRT_FeatureDescription_STRUCT_SIZE;
      d.name = s.name.data();
      d.name_size = s.name.size();
      d.table_index = s.table;
      d.max_sequence_length = s.max_sequence_length;
      d.input_rows = s.input_rows;
      d.output_shape = shapes_[f].data();
      d.output_rank = shapes_[f].size();
    }
    for (auto& t : tables_) table_pointers_.push_back(&t);
    for (auto& f : features_) feature_pointers_.push_back(&f);
    for (const auto& [name, value] : spec_.options) {
      EMBRT_NamedValue v{};
      v.struct_size = EMBRT_NamedValue_STRUCT_SIZE;
      v.name = name.data();
      v.name_size = name.size();
      v.type = EMBRT_VALUE_STRING;
      v.string_value = value.data();
      v.string_value_size = value.size();
      options_.push_back(v);
    }
    description_ = EMBRT_EngineDescription{};
    description_.struct_size = EMBRT_EngineDescription_STRUCT_SIZE;
    description_.tables = table_pointers_.data();
    description_.num_tables = num_tables;
    description_.features = feature_pointers_.data();
    description_.num_features = num_features;
    description_.per_replica_batch_size =
        num_features > 0 ? static_cast<int32_t>(spec_.features[0].input_rows) : 0;
    description_.num_replicas = spec_.num_replicas;
    description_.num_hosts = spec_.num_hosts;
    description_.host_id = spec_.host_id;
    description_.sharding = spec_.sharding;
    description_.num_learning_rate_tags = spec_.num_learning_rate_tags;
    description_.allow_nonfinite_gradients = spec_.allow_nonfinite_gradients ? 1 : 0;
    description_.options = options_.data();
    description_.num_options = options_.size();
  }
  Description(const Description&) = delete;
  Description& operator=(const Description&) = delete;

  EMBRT_EngineDescription* get() { return &description_; }
  const EngineSpec& spec() const { return spec_; }
  std::vector<EMBRT_TableDescription>& tables() { return tables_; }
  std::vector<EMBRT_FeatureDescription>& features() { return features_; }

 private:
  EngineSpec spec_;  // owns the strings the description points to
  std::vector<EMBRT_OptimizerDescription> optimizers_;
  std::vector<EMBRT_TableDescription> tables_;
  std::vector<EMBRT_FeatureDescription> features_;
  std::vector<std::vector<int64_t>> shapes_;
  std::vector<const EMBRT_TableDescription*> table_pointers_;
  std::vector<const EMBRT_FeatureDescription*> feature_pointers_;
  std::vector<EMBRT_NamedValue> options_;
  EMBRT_EngineDescription description_;
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
  explicit MockEngine(const EngineSpec& spec) : spec_(spec) {
    create_result_ = CreateEngine(spec, &engine_);
  }
  ~MockEngine() { Destroy(); }
  MockEngine(const MockEngine&) = delete;
  MockEngine& operator=(const MockEngine&) = delete;

  const Result& create_result() const { return create_result_; }
  EMBRT_Engine* get() const { return engine_; }
  void Destroy() {
    if (engine_ == nullptr) return;
    EMBRT_Engine_Destroy_Args args = {EMBRT_Engine_Destroy_Args_STRUCT_SIZE, nullptr, engine_};
    MockApi()->Engine_Destroy(&args);
    engine_ = nullptr;
  }

  // Floats of feature f's activations.
  size_t ActivationSize(size_t f) const {
    const FeatureSpec& feature = spec_.features[f];
    const int64_t positions = feature.max_sequence_length > 0 ? feature.max_sequence_length : 1;
    return static_cast<size_t>(feature.input_rows * positions *
                               spec_.tables[static_cast<size_t>(feature.table)].dim);
  }

  Result Enqueue(int32_t replica, EMBRT_Mode mode, const std::vector<Input>& inputs) {
    std::vector<EMBRT_FeatureInput> c_inputs(inputs.size());
    std::vector<const EMBRT_FeatureInput*> pointers;
    for (size_t f = 0; f < inputs.size(); ++f) {
      EMBRT_FeatureInput& in = c_inputs[f];
      in = EMBRT_FeatureInput{};
      in.struct_size = EMBRT_FeatureInput_STRUCT_SIZE;
      in.ids = inputs[f].ids.data();
      in.num_ids = inputs[f].ids.size();
      in.row_splits = inputs[f].row_splits.empty() ? nullptr : inputs[f].row_splits.data();
      in.num_row_splits = inputs[f].row_splits.size();
      in.weights = inputs[f].weights.empty() ? nullptr : inputs[f].weights.data();
      pointers.push_back(&in);
    }
    EMBRT_Engine_Enqueue_Args args = {EMBRT_Engine_Enqueue_Args_STRUCT_SIZE,
                                      nullptr,
                                      engine_,
                                      replica,
                                      mode,
                                      pointers.data(),
                                      pointers.size()};
    return Take(MockApi()->Engine_Enqueue(&args));
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
    EMBRT_Engine_RecvActivations_Args args = {EMBRT_Engine_RecvActivations_Args_STRUCT_SIZE,
                                              nullptr,
                                              engine_,
                                              replica,
                                              buffers.data(),
                                              sizes.data(),
                                              buffers.size()};
    return Take(MockApi()->Engine_RecvActivations(&args));
  }

  // An empty gradient vector is passed as NULL (zero gradient).
  Result Send(int32_t replica, const std::vector<std::vector<float>>& gradients,
              const std::vector<float>& learning_rates = {}) {
    std::vector<const float*> buffers;
    std::vector<size_t> sizes;
    for (const auto& g : gradients) {
      buffers.push_back(g.empty() ? nullptr : g.data());
      sizes.push_back(g.size());
    }
    EMBRT_Engine_SendGradients_Args args = {
        EMBRT_Engine_SendGradients_Args_STRUCT_SIZE,
        nullptr,
        engine_,
        replica,
        buffers.data(),
        sizes.data(),
        buffers.size(),
        learning_rates.empty() ? nullptr : learning_rates.data(),
        learning_rates.size()};
    return Take(MockApi()->Engine_SendGradients(&args));
  }

  Result Load(int32_t table, int64_t row_begin, int64_t row_count,
              const std::vector<std::vector<float>>& slots, int32_t shard = -1) {
    std::vector<const float*> pointers;
    for (const auto& s : slots) pointers.push_back(s.data());
    EMBRT_Engine_LoadTableShard_Args args = {EMBRT_Engine_LoadTableShard_Args_STRUCT_SIZE,
                                             nullptr,
                                             engine_,
                                             table,
                                             shard < 0 ? spec_.host_id : shard,
                                             row_begin,
                                             row_count,
                                             pointers.data(),
                                             pointers.size()};
    return Take(MockApi()->Engine_LoadTableShard(&args));
  }

  // Retrieves `num_slots` slots of [row_count, dim] floats.
  Result Retrieve(int32_t table, int64_t row_begin, int64_t row_count, size_t num_slots,
                  std::vector<std::vector<float>>* slots, int32_t shard = -1) {
    const size_t dim = static_cast<size_t>(spec_.tables[static_cast<size_t>(table)].dim);
    slots->assign(num_slots, std::vector<float>(static_cast<size_t>(row_count) * dim, -7.0f));
    std::vector<float*> pointers;
    for (auto& s : *slots) pointers.push_back(s.data());
    EMBRT_Engine_RetrieveTableShard_Args args = {EMBRT_Engine_RetrieveTableShard_Args_STRUCT_SIZE,
                                                 nullptr,
                                                 engine_,
                                                 table,
                                                 shard < 0 ? spec_.host_id : shard,
                                                 row_begin,
                                                 row_count,
                                                 pointers.data(),
                                                 pointers.size()};
    return Take(MockApi()->Engine_RetrieveTableShard(&args));
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

  Result Synchronize() {
    EMBRT_Engine_Synchronize_Args args = {EMBRT_Engine_Synchronize_Args_STRUCT_SIZE, nullptr,
                                          engine_};
    return Take(MockApi()->Engine_Synchronize(&args));
  }

 private:
  EngineSpec spec_;
  EMBRT_Engine* engine_ = nullptr;
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
