// Copyright embrt authors.

#include "cpu_test_harness.h"

#include <dlfcn.h>

#include "gtest/gtest.h"

namespace embrt {
namespace cpu_test {
namespace {

Result Consume(EMBRT_Error* error) {
  Result result;
  if (error == nullptr) return result;
  const EMBRT_Api* api = CpuApi();
  EMBRT_Error_GetCode_Args code{EMBRT_Error_GetCode_Args_STRUCT_SIZE, nullptr, error, 0};
  api->Error_GetCode(&code);
  EMBRT_Error_Message_Args message{EMBRT_Error_Message_Args_STRUCT_SIZE, nullptr, error, nullptr,
                                   0};
  api->Error_Message(&message);
  result.code = code.code;
  result.message.assign(message.message, message.message_size);
  EMBRT_Error_Destroy_Args destroy{EMBRT_Error_Destroy_Args_STRUCT_SIZE, nullptr, error};
  api->Error_Destroy(&destroy);
  return result;
}

EMBRT_NamedValue FloatValue(const std::string& name, float value) {
  EMBRT_NamedValue v{};
  v.struct_size = EMBRT_NamedValue_STRUCT_SIZE;
  v.name = name.data();
  v.name_size = name.size();
  v.type = EMBRT_VALUE_FLOAT;
  v.float_value = value;
  return v;
}

}  // namespace

const EMBRT_Api* CpuApi() {
  static const EMBRT_Api* api = [] {
    void* handle = dlopen(EMBRT_CPU_PLUGIN_PATH, RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) return static_cast<const EMBRT_Api*>(nullptr);
    auto* get = reinterpret_cast<EMBRT_GetPluginApi_Fn*>(dlsym(handle, "EMBRT_GetPluginApi"));
    if (get == nullptr) return static_cast<const EMBRT_Api*>(nullptr);
    EMBRT_HostInfo host{EMBRT_HostInfo_STRUCT_SIZE, EMBRT_ABI_MAJOR, EMBRT_ABI_MINOR};
    return get(&host);
  }();
  if (api == nullptr) ADD_FAILURE() << "cannot load " << EMBRT_CPU_PLUGIN_PATH << ": " << dlerror();
  return api;
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
  const EMBRT_Api* api = CpuApi();
  if (api == nullptr) return;
  // Everything the description points at lives until Engine_Create returns.
  std::vector<std::vector<EMBRT_NamedValue>> hyper(spec.tables.size());
  std::vector<EMBRT_OptimizerDescription> optimizers(spec.tables.size());
  std::vector<EMBRT_TableDescription> tables(spec.tables.size());
  std::vector<const EMBRT_TableDescription*> table_ptrs;
  for (size_t t = 0; t < spec.tables.size(); ++t) {
    const TableSpec& ts = spec.tables[t];
    for (const auto& [name, value] : ts.hyperparameters) hyper[t].push_back(FloatValue(name, value));
    EMBRT_OptimizerDescription& o = optimizers[t];
    o = EMBRT_OptimizerDescription{};
    o.struct_size = EMBRT_OptimizerDescription_STRUCT_SIZE;
    o.kind = ts.optimizer;
    o.learning_rate = ts.learning_rate;
    o.learning_rate_tag = ts.learning_rate_tag;
    o.use_gradient_accumulation = ts.use_gradient_accumulation ? 1 : 0;
    o.clip_weight_min = ts.clip_weight_min;
    o.clip_weight_max = ts.clip_weight_max;
    o.clip_gradient_min = ts.clip_gradient_min;
    o.clip_gradient_max = ts.clip_gradient_max;
    o.weight_decay_factor = ts.weight_decay_factor;
    o.multiply_weight_decay_factor_by_learning_rate =
        ts.multiply_weight_decay_factor_by_learning_rate ? 1 : 0;
    o.hyperparameters = hyper[t].data();
    o.num_hyperparameters = hyper[t].size();
    EMBRT_TableDescription& d = tables[t];
    d = EMBRT_TableDescription{};
    d.struct_size = EMBRT_TableDescription_STRUCT_SIZE;
    d.name = ts.name.data();
    d.name_size = ts.name.size();
    d.vocabulary_size = ts.vocabulary_size;
    d.dim = ts.dim;
    d.combiner = ts.combiner;
    d.optimizer = &optimizers[t];
    d.shard_rows = spec.shard_rows_override >= 0 ? spec.shard_rows_override : ShardRows(t);
  }
  for (const auto& d : tables) table_ptrs.push_back(&d);
  std::vector<std::vector<int64_t>> shapes(spec.features.size());
  std::vector<EMBRT_FeatureDescription> features(spec.features.size());
  std::vector<const EMBRT_FeatureDescription*> feature_ptrs;
  for (size_t f = 0; f < spec.features.size(); ++f) {
    const FeatureSpec& fs = spec.features[f];
    shapes[f] = {fs.input_rows};
    if (fs.max_sequence_length > 0) shapes[f].push_back(fs.max_sequence_length);
    EMBRT_FeatureDescription& d = features[f];
    d = EMBRT_FeatureDescription{};
    d.struct_size = EMBRT_FeatureDescription_STRUCT_SIZE;
    d.name = fs.name.data();
    d.name_size = fs.name.size();
    d.table_index = fs.table;
    d.max_sequence_length = fs.max_sequence_length;
    d.input_rows = fs.input_rows;
    d.output_shape = shapes[f].data();
    d.output_rank = shapes[f].size();
  }
  for (const auto& d : features) feature_ptrs.push_back(&d);
  std::vector<EMBRT_NamedValue> options;
  for (const auto& [name, value] : spec.options) {
    EMBRT_NamedValue v{};
    v.struct_size = EMBRT_NamedValue_STRUCT_SIZE;
    v.name = name.data();
    v.name_size = name.size();
    v.type = EMBRT_VALUE_STRING;
    v.string_value = value.data();
    v.string_value_size = value.size();
    options.push_back(v);
  }
  EMBRT_EngineDescription description{};
  description.struct_size = EMBRT_EngineDescription_STRUCT_SIZE;
  description.tables = table_ptrs.data();
  description.num_tables = table_ptrs.size();
  description.features = feature_ptrs.data();
  description.num_features = feature_ptrs.size();
  description.per_replica_batch_size =
      spec.features.empty() ? 0 : static_cast<int32_t>(spec.features[0].input_rows);
  description.num_replicas = spec.num_replicas;
  description.num_hosts = spec.num_hosts;
  description.host_id = spec.host_id;
  description.sharding = spec.sharding;
  description.pipeline_execution = spec.pipeline_execution ? 1 : 0;
  description.num_learning_rate_tags = spec.num_learning_rate_tags;
  description.allow_nonfinite_gradients = spec.allow_nonfinite_gradients ? 1 : 0;
  description.options = options.data();
  description.num_options = options.size();
  EMBRT_Engine_Create_Args args{EMBRT_Engine_Create_Args_STRUCT_SIZE, nullptr, &description,
                                nullptr};
  create_result_ = Consume(api->Engine_Create(&args));
  engine_ = args.engine;
}

CpuEngine::~CpuEngine() {
  if (engine_ == nullptr) return;
  EMBRT_Engine_Destroy_Args args{EMBRT_Engine_Destroy_Args_STRUCT_SIZE, nullptr, engine_};
  CpuApi()->Engine_Destroy(&args);
}

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
  std::vector<EMBRT_FeatureInput> structs(inputs.size());
  std::vector<const EMBRT_FeatureInput*> pointers;
  for (size_t f = 0; f < inputs.size(); ++f) {
    EMBRT_FeatureInput& in = structs[f];
    in = EMBRT_FeatureInput{};
    in.struct_size = EMBRT_FeatureInput_STRUCT_SIZE;
    in.ids = inputs[f].ids.data();
    in.num_ids = inputs[f].ids.size();
    in.row_splits = inputs[f].row_splits.empty() ? nullptr : inputs[f].row_splits.data();
    in.num_row_splits = inputs[f].row_splits.size();
    in.weights = inputs[f].weights.empty() ? nullptr : inputs[f].weights.data();
    pointers.push_back(&in);
  }
  EMBRT_Engine_Enqueue_Args args{EMBRT_Engine_Enqueue_Args_STRUCT_SIZE, nullptr, engine_, replica,
                                 mode, pointers.data(), pointers.size()};
  return Consume(CpuApi()->Engine_Enqueue(&args));
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
  EMBRT_Engine_RecvActivations_Args args{EMBRT_Engine_RecvActivations_Args_STRUCT_SIZE, nullptr,
                                         engine_, replica, buffers.data(), sizes.data(),
                                         buffers.size()};
  return Consume(CpuApi()->Engine_RecvActivations(&args));
}

Result CpuEngine::Send(int32_t replica, const std::vector<std::vector<float>>& gradients,
                       const std::vector<float>& learning_rates) {
  std::vector<const float*> pointers;
  std::vector<size_t> sizes;
  for (const auto& g : gradients) {
    pointers.push_back(g.empty() ? nullptr : g.data());
    sizes.push_back(g.size());
  }
  return SendRaw(replica, pointers, sizes,
                 learning_rates.empty() ? nullptr : learning_rates.data(), learning_rates.size());
}

Result CpuEngine::SendRaw(int32_t replica, const std::vector<const float*>& gradients,
                          const std::vector<size_t>& sizes, const float* learning_rates,
                          size_t num_learning_rates) {
  EMBRT_Engine_SendGradients_Args args{EMBRT_Engine_SendGradients_Args_STRUCT_SIZE,
                                       nullptr,
                                       engine_,
                                       replica,
                                       gradients.data(),
                                       sizes.data(),
                                       gradients.size(),
                                       learning_rates,
                                       num_learning_rates};
  return Consume(CpuApi()->Engine_SendGradients(&args));
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
  EMBRT_Engine_LoadTableShard_Args args{EMBRT_Engine_LoadTableShard_Args_STRUCT_SIZE,
                                        nullptr,
                                        engine_,
                                        table,
                                        shard,
                                        row_begin,
                                        row_count,
                                        slots.data(),
                                        slots.size()};
  return Consume(CpuApi()->Engine_LoadTableShard(&args));
}

Result CpuEngine::Retrieve(int32_t table, std::vector<std::vector<float>>* slots,
                           int64_t row_begin, int64_t row_count, int32_t shard) {
  const TableSpec& ts = spec_.tables[table];
  if (row_count < 0) row_count = ShardRows(table) - row_begin;
  slots->assign(SlotCount(ts.optimizer), std::vector<float>(row_count * ts.dim, -999.0f));
  std::vector<float*> pointers;
  for (auto& s : *slots) pointers.push_back(s.data());
  EMBRT_Engine_RetrieveTableShard_Args args{EMBRT_Engine_RetrieveTableShard_Args_STRUCT_SIZE,
                                            nullptr,
                                            engine_,
                                            table,
                                            shard < 0 ? spec_.host_id : shard,
                                            row_begin,
                                            row_count,
                                            pointers.data(),
                                            pointers.size()};
  return Consume(CpuApi()->Engine_RetrieveTableShard(&args));
}

Result CpuEngine::Synchronize() {
  EMBRT_Engine_Synchronize_Args args{EMBRT_Engine_Synchronize_Args_STRUCT_SIZE, nullptr, engine_};
  return Consume(CpuApi()->Engine_Synchronize(&args));
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
