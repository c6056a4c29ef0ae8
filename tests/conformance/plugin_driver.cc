// Copyright embrt authors.
//
// The plugin driver: dlopen, the description, and the engine calls (see the header).

#include "plugin_driver.h"

#include <dlfcn.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <deque>
#include <sstream>
#include <utility>

namespace embrt {
namespace conformance {
namespace {

// Storage for strings that EMBRT_NamedValue / descriptions point into (never moves).
std::deque<std::string>& StringPool() {
  static auto* pool = new std::deque<std::string>;
  return *pool;
}

const std::string& Keep(std::string s) {
  StringPool().push_back(std::move(s));
  return StringPool().back();
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

std::vector<EMBRT_NamedValue> Hyperparameters(const reference::OptimizerSpec& opt) {
  switch (opt.kind) {
    case reference::Optimizer::kSgd:
      return {};
    case reference::Optimizer::kAdagrad:
      return {FloatValue("initial_accumulator_value", opt.adagrad.initial_accumulator_value)};
    case reference::Optimizer::kAdagradMomentum:
      return {FloatValue("momentum", opt.adagrad_momentum.momentum),
              BoolValue("use_nesterov", opt.adagrad_momentum.use_nesterov),
              FloatValue("exponent", opt.adagrad_momentum.exponent),
              FloatValue("beta2", opt.adagrad_momentum.beta2),
              FloatValue("epsilon", opt.adagrad_momentum.epsilon)};
    case reference::Optimizer::kAdam:
      return {FloatValue("beta_1", opt.adam.beta_1), FloatValue("beta_2", opt.adam.beta_2),
              FloatValue("epsilon", opt.adam.epsilon), BoolValue("lazy_adam", opt.adam.lazy_adam),
              BoolValue("sum_inside_sqrt", opt.adam.sum_inside_sqrt)};
    case reference::Optimizer::kFtrl:
      return {FloatValue("learning_rate_power", opt.ftrl.learning_rate_power),
              FloatValue("l1_regularization_strength", opt.ftrl.l1_regularization_strength),
              FloatValue("l2_regularization_strength", opt.ftrl.l2_regularization_strength),
              FloatValue("beta", opt.ftrl.beta),
              FloatValue("initial_accumulator_value", opt.ftrl.initial_accumulator_value),
              BoolValue("multiply_linear_by_learning_rate",
                        opt.ftrl.multiply_linear_by_learning_rate)};
  }
  return {};
}

// Maps a float to an integer whose order is the float order, so that ULP distances subtract.
int64_t OrderedBits(float x) {
  int32_t bits;
  std::memcpy(&bits, &x, sizeof(bits));
  return bits < 0 ? -static_cast<int64_t>(bits & 0x7fffffff) : static_cast<int64_t>(bits);
}

}  // namespace

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

Description::Description(const reference::ModelSpec& model,
                         std::map<std::string, std::string> options)
    : options_(std::move(options)) {
  const size_t num_tables = model.tables.size();
  optimizers.resize(num_tables);
  hyperparameters.resize(num_tables);
  tables.resize(num_tables);
  for (size_t t = 0; t < num_tables; ++t) {
    const reference::TableSpec& spec = model.tables[t];
    const reference::OptimizerSpec& opt = spec.optimizer;
    hyperparameters[t] = Hyperparameters(opt);
    EMBRT_OptimizerDescription& o = optimizers[t];
    o = {};
    o.struct_size = EMBRT_OptimizerDescription_STRUCT_SIZE;
    o.kind = static_cast<EMBRT_OptimizerKind>(opt.kind);
    o.learning_rate = opt.learning_rate;
    o.learning_rate_tag = opt.learning_rate_tag;
    o.use_gradient_accumulation = opt.use_gradient_accumulation ? 1 : 0;
    o.clip_weight_min = opt.clip_weight_min;
    o.clip_weight_max = opt.clip_weight_max;
    o.clip_gradient_min = opt.clip_gradient_min;
    o.clip_gradient_max = opt.clip_gradient_max;
    o.weight_decay_factor = opt.weight_decay_factor;
    o.multiply_weight_decay_factor_by_learning_rate =
        opt.multiply_weight_decay_factor_by_learning_rate ? 1 : 0;
    o.hyperparameters = hyperparameters[t].data();
    o.num_hyperparameters = hyperparameters[t].size();

    const std::string& name = Keep(spec.name.empty() ? "table_" + std::to_string(t) : spec.name);
    EMBRT_TableDescription& d = tables[t];
    d = {};
    d.struct_size = EMBRT_TableDescription_STRUCT_SIZE;
    d.name = name.data();
    d.name_size = name.size();
    d.vocabulary_size = spec.vocabulary_size;
    d.dim = spec.dim;
    d.combiner = static_cast<EMBRT_Combiner>(spec.combiner);
    d.optimizer = &optimizers[t];
    d.shard_rows = spec.vocabulary_size;
  }
  const size_t num_features = model.features.size();
  features.resize(num_features);
  output_shapes.resize(num_features);
  for (size_t f = 0; f < num_features; ++f) {
    const reference::FeatureSpec& spec = model.features[f];
    output_shapes[f] = {spec.input_rows};
    if (spec.max_sequence_length > 0) output_shapes[f].push_back(spec.max_sequence_length);
    const std::string& name =
        Keep(spec.name.empty() ? "feature_" + std::to_string(f) : spec.name);
    EMBRT_FeatureDescription& d = features[f];
    d = {};
    d.struct_size = EMBRT_FeatureDescription_STRUCT_SIZE;
    d.name = name.data();
    d.name_size = name.size();
    d.table_index = spec.table;
    d.max_sequence_length = spec.max_sequence_length;
    d.input_rows = spec.input_rows;
    d.output_shape = output_shapes[f].data();
    d.output_rank = output_shapes[f].size();
  }
  for (const auto& [key, value] : options_) {
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
  for (const EMBRT_TableDescription& t : tables) table_pointers_.push_back(&t);
  for (const EMBRT_FeatureDescription& f : features) feature_pointers_.push_back(&f);

  description.struct_size = EMBRT_EngineDescription_STRUCT_SIZE;
  description.tables = table_pointers_.data();
  description.num_tables = table_pointers_.size();
  description.features = feature_pointers_.data();
  description.num_features = feature_pointers_.size();
  int64_t batch = model.features.empty() ? 1 : model.features[0].input_rows;
  description.per_replica_batch_size = static_cast<int32_t>(batch);
  description.num_replicas = model.num_replicas;
  description.num_hosts = 1;
  description.host_id = 0;
  description.sharding = EMBRT_SHARDING_DIV;
  description.pipeline_execution = 0;
  description.num_learning_rate_tags = model.num_learning_rate_tags;
  description.allow_nonfinite_gradients = 0;
  description.options = option_values_.empty() ? nullptr : option_values_.data();
  description.num_options = option_values_.size();
}

EMBRT_EngineDescription* Description::get() { return &description; }

std::unique_ptr<Engine> Engine::Create(const Plugin& plugin, const reference::ModelSpec& model,
                                       CallResult* result,
                                       std::map<std::string, std::string> options) {
  Description description(model, std::move(options));
  EMBRT_Engine_Create_Args args{};
  args.struct_size = EMBRT_Engine_Create_Args_STRUCT_SIZE;
  args.description = description.get();
  *result = plugin.Consume(plugin.api()->Engine_Create(&args));
  if (!result->ok()) return nullptr;
  if (args.engine == nullptr) {
    *result = {EMBRT_CODE_INTERNAL, "Engine_Create returned OK and a NULL engine"};
    return nullptr;
  }
  return std::unique_ptr<Engine>(new Engine(plugin, model, args.engine));
}

Engine::~Engine() {
  EMBRT_Engine_Destroy_Args args{};
  args.struct_size = EMBRT_Engine_Destroy_Args_STRUCT_SIZE;
  args.engine = engine_;
  plugin_.api()->Engine_Destroy(&args);
}

CallResult Engine::Enqueue(int replica, EMBRT_Mode mode, const reference::ReplicaBatch& batch) {
  std::vector<EMBRT_FeatureInput> inputs(batch.size());
  std::vector<const EMBRT_FeatureInput*> pointers;
  for (size_t f = 0; f < batch.size(); ++f) {
    EMBRT_FeatureInput& in = inputs[f];
    in = {};
    in.struct_size = EMBRT_FeatureInput_STRUCT_SIZE;
    in.ids = batch[f].ids.data();
    in.num_ids = batch[f].ids.size();
    in.row_splits = batch[f].row_splits.empty() ? nullptr : batch[f].row_splits.data();
    in.num_row_splits = batch[f].row_splits.size();
    in.weights = batch[f].weights.empty() ? nullptr : batch[f].weights.data();
    pointers.push_back(&in);
  }
  EMBRT_Engine_Enqueue_Args args{};
  args.struct_size = EMBRT_Engine_Enqueue_Args_STRUCT_SIZE;
  args.engine = engine_;
  args.replica = replica;
  args.mode = mode;
  args.inputs = pointers.data();
  args.num_inputs = pointers.size();
  return plugin_.Consume(plugin_.api()->Engine_Enqueue(&args));
}

CallResult Engine::Recv(int replica, reference::Activations* activations) {
  activations->assign(model_.features.size(), {});
  std::vector<float*> buffers;
  std::vector<size_t> sizes;
  for (size_t f = 0; f < model_.features.size(); ++f) {
    // NaN-filled so that a value the plugin forgets to write cannot pass as zero.
    (*activations)[f].assign(reference::ActivationSize(model_, static_cast<int>(f)), NAN);
    buffers.push_back((*activations)[f].data());
    sizes.push_back((*activations)[f].size());
  }
  EMBRT_Engine_RecvActivations_Args args{};
  args.struct_size = EMBRT_Engine_RecvActivations_Args_STRUCT_SIZE;
  args.engine = engine_;
  args.replica = replica;
  args.activations = buffers.data();
  args.activation_sizes = sizes.data();
  args.num_activations = buffers.size();
  return plugin_.Consume(plugin_.api()->Engine_RecvActivations(&args));
}

CallResult Engine::Send(int replica, const reference::Gradients& gradients,
                        const std::vector<float>& learning_rates) {
  std::vector<const float*> buffers;
  std::vector<size_t> sizes;
  for (const std::vector<float>& g : gradients) {
    buffers.push_back(g.empty() ? nullptr : g.data());
    sizes.push_back(g.size());
  }
  EMBRT_Engine_SendGradients_Args args{};
  args.struct_size = EMBRT_Engine_SendGradients_Args_STRUCT_SIZE;
  args.engine = engine_;
  args.replica = replica;
  args.gradients = buffers.data();
  args.gradient_sizes = sizes.data();
  args.num_gradients = buffers.size();
  args.learning_rates = learning_rates.empty() ? nullptr : learning_rates.data();
  args.num_learning_rates = learning_rates.size();
  return plugin_.Consume(plugin_.api()->Engine_SendGradients(&args));
}

CallResult Engine::Load(int table, const std::vector<std::vector<float>>& slots,
                        int64_t row_begin, int64_t row_count) {
  const int64_t dim = model_.tables[table].dim;
  if (row_count < 0) row_count = model_.tables[table].vocabulary_size - row_begin;
  std::vector<const float*> pointers;
  for (const std::vector<float>& slot : slots) pointers.push_back(slot.data() + row_begin * dim);
  EMBRT_Engine_LoadTableShard_Args args{};
  args.struct_size = EMBRT_Engine_LoadTableShard_Args_STRUCT_SIZE;
  args.engine = engine_;
  args.table = table;
  args.shard = 0;
  args.row_begin = row_begin;
  args.row_count = row_count;
  args.slots = pointers.data();
  args.num_slots = pointers.size();
  return plugin_.Consume(plugin_.api()->Engine_LoadTableShard(&args));
}

CallResult Engine::Retrieve(int table, std::vector<std::vector<float>>* slots) {
  const reference::TableSpec& spec = model_.tables[table];
  const size_t count = reference::SlotNames(spec.optimizer.kind).size();
  slots->assign(count, std::vector<float>(spec.vocabulary_size * spec.dim, NAN));
  std::vector<float*> pointers;
  for (std::vector<float>& slot : *slots) pointers.push_back(slot.data());
  EMBRT_Engine_RetrieveTableShard_Args args{};
  args.struct_size = EMBRT_Engine_RetrieveTableShard_Args_STRUCT_SIZE;
  args.engine = engine_;
  args.table = table;
  args.shard = 0;
  args.row_begin = 0;
  args.row_count = spec.vocabulary_size;
  args.slots = pointers.data();
  args.num_slots = pointers.size();
  return plugin_.Consume(plugin_.api()->Engine_RetrieveTableShard(&args));
}

CallResult Engine::Synchronize() {
  EMBRT_Engine_Synchronize_Args args{};
  args.struct_size = EMBRT_Engine_Synchronize_Args_STRUCT_SIZE;
  args.engine = engine_;
  return plugin_.Consume(plugin_.api()->Engine_Synchronize(&args));
}

CallResult Engine::LoadState(const reference::ScalarReference& reference) {
  for (size_t t = 0; t < model_.tables.size(); ++t) {
    std::vector<std::vector<float>> slots;
    for (int s = 0; s < reference.num_slots(static_cast<int>(t)); ++s) {
      slots.push_back(reference.slot(static_cast<int>(t), s));
    }
    CallResult result = Load(static_cast<int>(t), slots);
    if (!result.ok()) return result;
  }
  return {};
}

int64_t CountMismatches(const std::vector<float>& actual, const std::vector<float>& expected,
                        int max_ulps, const std::string& what, std::string* report) {
  std::ostringstream out;
  out.precision(9);
  int64_t mismatches = 0;
  if (actual.size() != expected.size()) {
    out << what << ": " << actual.size() << " values, expected " << expected.size() << "\n";
    *report += out.str();
    return static_cast<int64_t>(std::max(actual.size(), expected.size()));
  }
  for (size_t i = 0; i < actual.size(); ++i) {
    const float a = actual[i];
    const float e = expected[i];
    bool same;
    if (std::isnan(a) || std::isnan(e)) {
      same = std::isnan(a) && std::isnan(e);
    } else {
      const int64_t distance = OrderedBits(a) - OrderedBits(e);
      same = (distance < 0 ? -distance : distance) <= max_ulps;
    }
    if (!same && ++mismatches <= 5) {
      out << what << "[" << i << "]: " << a << " expected " << e << "\n";
    }
  }
  if (mismatches > 5) out << what << ": " << mismatches << " values differ in all\n";
  *report += out.str();
  return mismatches;
}

}  // namespace conformance
}  // namespace embrt
