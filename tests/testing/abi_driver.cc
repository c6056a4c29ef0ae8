// Copyright embrt authors.
//
// The plugin driver: dlopen, the description, and the engine calls (see the header).

#include "abi_driver.h"

#include <dlfcn.h>

#include <cmath>
#include <cstring>
#include <utility>

namespace embrt {
namespace abi_driver {

const char* CodeName(EMBRT_ErrorCode code) {
  static const char* const kNames[] = {
      "OK",          "CANCELLED",         "UNKNOWN",         "INVALID_ARGUMENT",
      "DEADLINE_EXCEEDED", "NOT_FOUND",   "ALREADY_EXISTS",  "PERMISSION_DENIED",
      "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE",
      "UNIMPLEMENTED", "INTERNAL",        "UNAVAILABLE",     "DATA_LOSS",
      "UNAUTHENTICATED"};
  if (code < 0 || code > 16) return "(not a canonical code)";
  return kNames[code];
}

std::string ToString(const CallResult& result) {
  if (result.ok()) return "OK";
  return std::string(CodeName(result.code)) + ": " + result.message;
}

std::unique_ptr<Plugin> Plugin::Open(const std::string& path, std::string* error) {
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* message = dlerror();
    *error = "dlopen(" + path + "): " + (message != nullptr ? message : "unknown error");
    return nullptr;
  }
  // Never dlclose: a call into an unloaded plugin would crash.
  auto plugin = std::unique_ptr<Plugin>(new Plugin);
  plugin->path_ = path;
  plugin->get_api_ =
      reinterpret_cast<EMBRT_GetPluginApi_Fn*>(dlsym(handle, EMBRT_GET_PLUGIN_API_SYMBOL));
  if (plugin->get_api_ == nullptr) {
    *error = path + " does not export " EMBRT_GET_PLUGIN_API_SYMBOL;
    return nullptr;
  }
  const EMBRT_HostInfo host = {EMBRT_HostInfo_STRUCT_SIZE, EMBRT_ABI_MAJOR, EMBRT_ABI_MINOR};
  plugin->api_ = plugin->get_api_(&host);
  if (plugin->api_ == nullptr) {
    *error = path + ": EMBRT_GetPluginApi returned NULL for ABI 1.0";
    return nullptr;
  }
  if (plugin->api_->Plugin_Attributes != nullptr) {
    EMBRT_Plugin_Attributes_Args args{};
    args.struct_size = EMBRT_Plugin_Attributes_Args_STRUCT_SIZE;
    if (plugin->Consume(plugin->api_->Plugin_Attributes(&args)).ok()) {
      for (size_t i = 0; i < args.num_attributes; ++i) {
        const EMBRT_NamedValue& v = args.attributes[i];
        plugin->attributes_[std::string(v.name, v.name_size)] = &v;
      }
    }
  }
  return plugin;
}

CallResult Plugin::Consume(EMBRT_Error* error) const {
  CallResult result;
  if (error == nullptr) return result;
  EMBRT_Error_GetCode_Args code{};
  code.struct_size = EMBRT_Error_GetCode_Args_STRUCT_SIZE;
  code.error = error;
  api_->Error_GetCode(&code);
  result.code = code.code == EMBRT_CODE_OK ? EMBRT_CODE_UNKNOWN : code.code;
  EMBRT_Error_Message_Args message{};
  message.struct_size = EMBRT_Error_Message_Args_STRUCT_SIZE;
  message.error = error;
  api_->Error_Message(&message);
  if (message.message != nullptr) result.message.assign(message.message, message.message_size);
  EMBRT_Error_Destroy_Args destroy{};
  destroy.struct_size = EMBRT_Error_Destroy_Args_STRUCT_SIZE;
  destroy.error = error;
  api_->Error_Destroy(&destroy);
  return result;
}

std::string Plugin::name() const {
  auto it = attributes_.find("name");
  if (it == attributes_.end() || it->second->type != EMBRT_VALUE_STRING) return "";
  return std::string(it->second->string_value, it->second->string_value_size);
}

bool Plugin::exact_math() const {
  auto it = attributes_.find("exact_math");
  return it != attributes_.end() && it->second->type == EMBRT_VALUE_INT64 &&
         it->second->int64_value == 1;
}

EMBRT_NamedValue FloatValue(const char* name, float value) {
  EMBRT_NamedValue v{};
  v.struct_size = EMBRT_NamedValue_STRUCT_SIZE;
  v.name = name;
  v.name_size = std::strlen(name);
  v.type = EMBRT_VALUE_FLOAT;
  v.float_value = value;
  return v;
}

EMBRT_NamedValue BoolValue(const char* name, bool value) {
  EMBRT_NamedValue v{};
  v.struct_size = EMBRT_NamedValue_STRUCT_SIZE;
  v.name = name;
  v.name_size = std::strlen(name);
  v.type = EMBRT_VALUE_INT64;
  v.int64_value = value ? 1 : 0;
  return v;
}

EMBRT_OptimizerDescription Optimizer(EMBRT_OptimizerKind kind, float learning_rate,
                                     int32_t learning_rate_tag) {
  EMBRT_OptimizerDescription o{};
  o.struct_size = EMBRT_OptimizerDescription_STRUCT_SIZE;
  o.kind = kind;
  o.learning_rate = learning_rate;
  o.learning_rate_tag = learning_rate_tag;
  o.use_gradient_accumulation = 1;
  o.clip_weight_min = -INFINITY;
  o.clip_weight_max = INFINITY;
  o.clip_gradient_min = -INFINITY;
  o.clip_gradient_max = INFINITY;
  return o;
}

const std::string& Description::Keep(std::string s) {
  strings_.push_back(std::move(s));
  return strings_.back();
}

void Description::AddTable(const std::string& name, int64_t vocabulary_size, int32_t dim,
                           EMBRT_Combiner combiner, const EMBRT_OptimizerDescription& optimizer,
                           const std::vector<EMBRT_NamedValue>& table_hyperparameters,
                           int64_t shard_rows) {
  std::vector<EMBRT_NamedValue> values = table_hyperparameters;
  for (EMBRT_NamedValue& v : values) {
    const std::string& kept = Keep(std::string(v.name, v.name_size));
    v.name = kept.data();
  }
  hyperparameters.push_back(std::move(values));
  optimizers.push_back(optimizer);
  const std::string& kept_name = Keep(name);
  EMBRT_TableDescription d{};
  d.struct_size = EMBRT_TableDescription_STRUCT_SIZE;
  d.name = kept_name.data();
  d.name_size = kept_name.size();
  d.vocabulary_size = vocabulary_size;
  d.dim = dim;
  d.combiner = combiner;
  d.shard_rows = shard_rows;
  tables.push_back(d);
}

void Description::AddFeature(const std::string& name, int32_t table, int32_t max_sequence_length,
                             int64_t input_rows) {
  std::vector<int64_t> shape = {input_rows};
  if (max_sequence_length > 0) shape.push_back(max_sequence_length);
  output_shapes.push_back(std::move(shape));
  const std::string& kept_name = Keep(name);
  EMBRT_FeatureDescription d{};
  d.struct_size = EMBRT_FeatureDescription_STRUCT_SIZE;
  d.name = kept_name.data();
  d.name_size = kept_name.size();
  d.table_index = table;
  d.max_sequence_length = max_sequence_length;
  d.input_rows = input_rows;
  features.push_back(d);
}

void Description::AddOption(const std::string& key, const std::string& value) {
  const std::string& k = Keep(key);
  const std::string& v = Keep(value);
  EMBRT_NamedValue nv{};
  nv.struct_size = EMBRT_NamedValue_STRUCT_SIZE;
  nv.name = k.data();
  nv.name_size = k.size();
  nv.type = EMBRT_VALUE_STRING;
  nv.string_value = v.data();
  nv.string_value_size = v.size();
  option_values_.push_back(nv);
}

void Description::Finish(int32_t empty_batch_size) {
  // Pointers into the vectors are taken only now, when they no longer grow.
  for (size_t t = 0; t < tables.size(); ++t) {
    optimizers[t].hyperparameters = hyperparameters[t].empty() ? nullptr : hyperparameters[t].data();
    optimizers[t].num_hyperparameters = hyperparameters[t].size();
    tables[t].optimizer = &optimizers[t];
    table_pointers_.push_back(&tables[t]);
  }
  for (size_t f = 0; f < features.size(); ++f) {
    features[f].output_shape = output_shapes[f].data();
    features[f].output_rank = output_shapes[f].size();
    feature_pointers_.push_back(&features[f]);
  }
  description.struct_size = EMBRT_EngineDescription_STRUCT_SIZE;
  description.tables = table_pointers_.data();
  description.num_tables = table_pointers_.size();
  description.features = feature_pointers_.data();
  description.num_features = feature_pointers_.size();
  description.per_replica_batch_size =
      features.empty() ? empty_batch_size : static_cast<int32_t>(features[0].input_rows);
  description.options = option_values_.empty() ? nullptr : option_values_.data();
  description.num_options = option_values_.size();
}

CallResult Engine::Create(EMBRT_EngineDescription* description) {
  Destroy();
  EMBRT_Engine_Create_Args args{};
  args.struct_size = EMBRT_Engine_Create_Args_STRUCT_SIZE;
  args.description = description;
  CallResult result = plugin_.Consume(plugin_.api()->Engine_Create(&args));
  if (!result.ok()) return result;
  if (args.engine == nullptr) return {EMBRT_CODE_INTERNAL, "Engine_Create returned OK and a NULL engine"};
  engine_ = args.engine;
  return result;
}

void Engine::Destroy() {
  if (engine_ == nullptr) return;
  EMBRT_Engine_Destroy_Args args{};
  args.struct_size = EMBRT_Engine_Destroy_Args_STRUCT_SIZE;
  args.engine = engine_;
  plugin_.api()->Engine_Destroy(&args);
  engine_ = nullptr;
}

EMBRT_FeatureInput Engine::FeatureInput(const std::vector<int64_t>& ids,
                                        const std::vector<int32_t>& row_splits,
                                        const std::vector<float>& weights) {
  EMBRT_FeatureInput in{};
  in.struct_size = EMBRT_FeatureInput_STRUCT_SIZE;
  in.ids = ids.data();
  in.num_ids = ids.size();
  in.row_splits = row_splits.empty() ? nullptr : row_splits.data();
  in.num_row_splits = row_splits.size();
  in.weights = weights.empty() ? nullptr : weights.data();
  return in;
}

CallResult Engine::EnqueueRaw(int32_t replica, EMBRT_Mode mode,
                              const std::vector<EMBRT_FeatureInput>& inputs) {
  std::vector<const EMBRT_FeatureInput*> pointers;
  for (const EMBRT_FeatureInput& in : inputs) pointers.push_back(&in);
  EMBRT_Engine_Enqueue_Args args{};
  args.struct_size = EMBRT_Engine_Enqueue_Args_STRUCT_SIZE;
  args.engine = engine_;
  args.replica = replica;
  args.mode = mode;
  args.inputs = pointers.data();
  args.num_inputs = pointers.size();
  args.input_lifetime = input_lifetime_;
  return plugin_.Consume(plugin_.api()->Engine_Enqueue(&args));
}

CallResult Engine::RecvInto(int32_t replica, const std::vector<float*>& buffers,
                            const std::vector<size_t>& sizes) {
  EMBRT_Engine_RecvActivations_Args args{};
  args.struct_size = EMBRT_Engine_RecvActivations_Args_STRUCT_SIZE;
  args.engine = engine_;
  args.replica = replica;
  args.activations = buffers.data();
  args.activation_sizes = sizes.data();
  args.num_activations = buffers.size();
  return plugin_.Consume(plugin_.api()->Engine_RecvActivations(&args));
}

CallResult Engine::Send(int32_t replica, const std::vector<std::vector<float>>& gradients,
                        const std::vector<float>& learning_rates) {
  std::vector<const float*> buffers;
  std::vector<size_t> sizes;
  for (const std::vector<float>& g : gradients) {
    buffers.push_back(g.empty() ? nullptr : g.data());
    sizes.push_back(g.size());
  }
  return SendRaw(replica, buffers, sizes,
                 learning_rates.empty() ? nullptr : learning_rates.data(),
                 learning_rates.size());
}

CallResult Engine::SendRaw(int32_t replica, const std::vector<const float*>& gradients,
                           const std::vector<size_t>& sizes, const float* learning_rates,
                           size_t num_learning_rates) {
  EMBRT_Engine_SendGradients_Args args{};
  args.struct_size = EMBRT_Engine_SendGradients_Args_STRUCT_SIZE;
  args.engine = engine_;
  args.replica = replica;
  args.gradients = gradients.data();
  args.gradient_sizes = sizes.data();
  args.num_gradients = gradients.size();
  args.learning_rates = learning_rates;
  args.num_learning_rates = num_learning_rates;
  return plugin_.Consume(plugin_.api()->Engine_SendGradients(&args));
}

CallResult Engine::LoadRaw(int32_t table, int32_t shard, int64_t row_begin, int64_t row_count,
                           const std::vector<const float*>& slots) {
  EMBRT_Engine_LoadTableShard_Args args{};
  args.struct_size = EMBRT_Engine_LoadTableShard_Args_STRUCT_SIZE;
  args.engine = engine_;
  args.table = table;
  args.shard = shard;
  args.row_begin = row_begin;
  args.row_count = row_count;
  args.slots = slots.data();
  args.num_slots = slots.size();
  return plugin_.Consume(plugin_.api()->Engine_LoadTableShard(&args));
}

CallResult Engine::RetrieveRaw(int32_t table, int32_t shard, int64_t row_begin,
                               int64_t row_count, const std::vector<float*>& slots) {
  EMBRT_Engine_RetrieveTableShard_Args args{};
  args.struct_size = EMBRT_Engine_RetrieveTableShard_Args_STRUCT_SIZE;
  args.engine = engine_;
  args.table = table;
  args.shard = shard;
  args.row_begin = row_begin;
  args.row_count = row_count;
  args.slots = slots.data();
  args.num_slots = slots.size();
  return plugin_.Consume(plugin_.api()->Engine_RetrieveTableShard(&args));
}

CallResult Engine::Synchronize() {
  EMBRT_Engine_Synchronize_Args args{};
  args.struct_size = EMBRT_Engine_Synchronize_Args_STRUCT_SIZE;
  args.engine = engine_;
  return plugin_.Consume(plugin_.api()->Engine_Synchronize(&args));
}

}  // namespace abi_driver
}  // namespace embrt
