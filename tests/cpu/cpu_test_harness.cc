// Copyright embrt authors.

#include "cpu_test_harness.h"

#include <memory>

#include "gtest/gtest.h"

namespace embrt {
namespace cpu_test {
namespace {

// Loaded once and never unloaded; NULL (a gtest failure) when it cannot be loaded.
const abi_driver::Plugin* CpuPlugin() {
  static std::string error;
  static const abi_driver::Plugin* plugin =
      abi_driver::Plugin::Open(EMBRT_CPU_PLUGIN_PATH, &error).release();
  if (plugin == nullptr) ADD_FAILURE() << "cannot load " << EMBRT_CPU_PLUGIN_PATH << ": " << error;
  return plugin;
}

}  // namespace

const EMBRT_Api* CpuApi() {
  const abi_driver::Plugin* plugin = CpuPlugin();
  return plugin == nullptr ? nullptr : plugin->api();
}

Input Bags(const std::vector<std::vector<int64_t>>& bags,
           const std::vector<std::vector<float>>& weights) {
  Input input;
  input.row_splits.push_back(0);
  for (size_t b = 0; b < bags.size(); ++b) {
    for (size_t k = 0; k < bags[b].size(); ++k) {
      input.ids.push_back(bags[b][k]);
      if (!weights.empty()) input.weights.push_back(weights[b][k]);
    }
    input.row_splits.push_back(static_cast<int32_t>(input.ids.size()));
  }
  return input;
}

int SlotCount(EMBRT_OptimizerKind kind) {
  switch (kind) {
    case EMBRT_OPTIMIZER_SGD:
      return 1;
    case EMBRT_OPTIMIZER_ADAGRAD:
      return 2;
    default:
      return 3;
  }
}

std::vector<float> RowMajor(int64_t rows, int32_t dim, float start) {
  std::vector<float> v(rows * dim);
  for (size_t i = 0; i < v.size(); ++i) v[i] = start + static_cast<float>(i);
  return v;
}

std::vector<float> Filled(int64_t rows, int32_t dim, float value) {
  return std::vector<float>(rows * dim, value);
}

CpuEngine::CpuEngine(const EngineSpec& spec) : spec_(spec) {
  const abi_driver::Plugin* plugin = CpuPlugin();
  if (plugin == nullptr) return;
  abi_driver::Description description;
  for (size_t t = 0; t < spec.tables.size(); ++t) {
    const TableSpec& ts = spec.tables[t];
    std::vector<EMBRT_NamedValue> hyperparameters;
    for (const auto& [name, value] : ts.hyperparameters) {
      hyperparameters.push_back(abi_driver::FloatValue(name.c_str(), value));
    }
    EMBRT_OptimizerDescription o =
        abi_driver::Optimizer(ts.optimizer, ts.learning_rate, ts.learning_rate_tag);
    o.use_gradient_accumulation = ts.use_gradient_accumulation ? 1 : 0;
    o.clip_weight_min = ts.clip_weight_min;
    o.clip_weight_max = ts.clip_weight_max;
    o.clip_gradient_min = ts.clip_gradient_min;
    o.clip_gradient_max = ts.clip_gradient_max;
    o.weight_decay_factor = ts.weight_decay_factor;
    o.multiply_weight_decay_factor_by_learning_rate =
        ts.multiply_weight_decay_factor_by_learning_rate ? 1 : 0;
    description.AddTable(ts.name, ts.vocabulary_size, ts.dim, ts.combiner, o, hyperparameters,
                         spec.shard_rows_override >= 0 ? spec.shard_rows_override : ShardRows(t));
  }
  for (const FeatureSpec& fs : spec.features) {
    description.AddFeature(fs.name, fs.table, fs.max_sequence_length, fs.input_rows);
  }
  for (const auto& [name, value] : spec.options) description.AddOption(name, value);
  EMBRT_EngineDescription& d = description.description;
  d.num_replicas = spec.num_replicas;
  d.num_hosts = spec.num_hosts;
  d.host_id = spec.host_id;
  d.sharding = spec.sharding;
  d.pipeline_execution = spec.pipeline_execution ? 1 : 0;
  d.num_learning_rate_tags = spec.num_learning_rate_tags;
  d.allow_nonfinite_gradients = spec.allow_nonfinite_gradients ? 1 : 0;
  description.Finish(/*empty_batch_size=*/0);
  engine_ = std::make_unique<abi_driver::Engine>(*plugin);
  create_result_ = engine_->Create(description.get());
}

CpuEngine::~CpuEngine() = default;

size_t CpuEngine::ActivationSize(int f) const {
  const FeatureSpec& fs = spec_.features[f];
  return static_cast<size_t>(fs.input_rows) * std::max(1, fs.max_sequence_length) *
         spec_.tables[fs.table].dim;
}

int64_t CpuEngine::ShardRows(int t) const {
  const int64_t v = spec_.tables[t].vocabulary_size;
  return v / spec_.num_hosts + (spec_.host_id < v % spec_.num_hosts ? 1 : 0);
}

Result CpuEngine::Enqueue(int32_t replica, const std::vector<Input>& inputs, EMBRT_Mode mode) {
  return engine_->Enqueue(replica, mode, inputs);
}

Result CpuEngine::Recv(int32_t replica, std::vector<std::vector<float>>* activations) {
  activations->resize(spec_.features.size());
  std::vector<float*> buffers;
  std::vector<size_t> sizes;
  for (size_t f = 0; f < spec_.features.size(); ++f) {
    (*activations)[f].assign(ActivationSize(static_cast<int>(f)), -12345.0f);
    buffers.push_back((*activations)[f].data());
    sizes.push_back((*activations)[f].size());
  }
  return RecvRaw(replica, buffers, sizes);
}

Result CpuEngine::RecvRaw(int32_t replica, const std::vector<float*>& buffers,
                          const std::vector<size_t>& sizes) {
  return engine_->RecvInto(replica, buffers, sizes);
}

Result CpuEngine::Send(int32_t replica, const std::vector<std::vector<float>>& gradients,
                       const std::vector<float>& learning_rates) {
  return engine_->Send(replica, gradients, learning_rates);
}

Result CpuEngine::SendRaw(int32_t replica, const std::vector<const float*>& gradients,
                          const std::vector<size_t>& sizes, const float* learning_rates,
                          size_t num_learning_rates) {
  return engine_->SendRaw(replica, gradients, sizes, learning_rates, num_learning_rates);
}

Result CpuEngine::Load(int32_t table, int64_t row_begin,
                       const std::vector<std::vector<float>>& slots, int32_t shard) {
  std::vector<const float*> pointers;
  for (const auto& s : slots) pointers.push_back(s.data());
  const int64_t rows = slots.empty() ? 0 : slots[0].size() / spec_.tables[table].dim;
  return LoadRaw(table, shard < 0 ? spec_.host_id : shard, row_begin, rows, pointers);
}

Result CpuEngine::LoadRaw(int32_t table, int32_t shard, int64_t row_begin, int64_t row_count,
                          const std::vector<const float*>& slots) {
  return engine_->LoadRaw(table, shard, row_begin, row_count, slots);
}

Result CpuEngine::Retrieve(int32_t table, std::vector<std::vector<float>>* slots, int64_t row_begin,
                           int64_t row_count, int32_t shard) {
  const TableSpec& ts = spec_.tables[table];
  if (row_count < 0) row_count = ShardRows(table) - row_begin;
  slots->assign(SlotCount(ts.optimizer), std::vector<float>(row_count * ts.dim, -999.0f));
  std::vector<float*> pointers;
  for (auto& s : *slots) pointers.push_back(s.data());
  return engine_->RetrieveRaw(table, shard < 0 ? spec_.host_id : shard, row_begin, row_count,
                              pointers);
}

Result CpuEngine::Synchronize() {
  return engine_->Synchronize();
}

std::vector<std::vector<std::vector<float>>> CpuEngine::RetrieveAll() {
  std::vector<std::vector<std::vector<float>>> all(spec_.tables.size());
  for (size_t t = 0; t < spec_.tables.size(); ++t) {
    Result r = Retrieve(static_cast<int32_t>(t), &all[t]);
    EXPECT_TRUE(r.ok()) << r.message;
  }
  return all;
}

Result CpuEngine::Step(const std::vector<std::vector<Input>>& per_replica_inputs,
                       const std::vector<std::vector<std::vector<float>>>& per_replica_gradients,
                       const std::vector<float>& learning_rates) {
  for (int32_t r = 0; r < spec_.num_replicas; ++r) {
    Result result = Enqueue(r, per_replica_inputs[r]);
    if (!result.ok()) return result;
  }
  for (int32_t r = 0; r < spec_.num_replicas; ++r) {
    std::vector<std::vector<float>> activations;
    Result result = Recv(r, &activations);
    if (!result.ok()) return result;
  }
  for (int32_t r = 0; r < spec_.num_replicas; ++r) {
    Result result = Send(r, per_replica_gradients[r], learning_rates);
    if (!result.ok()) return result;
  }
  return Result();
}

}  // namespace cpu_test
}  // namespace embrt
