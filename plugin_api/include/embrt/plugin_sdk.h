// Copyright embrt authors.
//
// File: embrt/plugin_sdk.h
// ------------------------
// An optional, header-only C++17 helper that turns a C++ engine class into the C function table
// of embrt/plugin_api.h. It depends on nothing but the standard library and the C header.
//
// What it does for a plugin:
//   * reads every args struct through `struct_size` (fields the caller does not know read as
//     zero / NULL), so old and new hosts both work;
//   * copies the engine description into plain C++ values (sdk::EngineConfig);
//   * catches every exception at the boundary: std::bad_alloc becomes RESOURCE_EXHAUSTED, any
//     other exception INTERNAL; nothing ever unwinds into the host;
//   * owns the EMBRT_Error object and its three functions.
//
// Example:
//
//   class MyEngine : public embrt::sdk::Engine { ... };
//   struct MyPlugin {
//     // A static array that lives as long as the process.
//     static const EMBRT_NamedValue* Attributes(size_t* count);
//     static embrt::sdk::Status Create(const embrt::sdk::EngineConfig& config,
//                                      std::unique_ptr<embrt::sdk::Engine>* engine);
//   };
//   EMBRT_DEFINE_PLUGIN(MyPlugin)
//
// Multi-host plugins (ABI 1.1) opt in by giving the plugin class one more static function,
//     static embrt::sdk::Status HostTopology(int32_t* num_hosts, int32_t* host_id);
// and by overriding Engine::AgreeStatus, Barrier and AllGather. The SDK then fills the four 1.1
// slots of the table; a plugin class without HostTopology leaves them NULL, so the host refuses
// num_hosts > 1 for it (and the plugin should report the attribute multi_host = 0).
//
// Build the plugin with hidden visibility and plugin_api/plugin_exports.map so that
// EMBRT_GetPluginApi is its only exported symbol.

#ifndef EMBRT_PLUGIN_SDK_H_
#define EMBRT_PLUGIN_SDK_H_

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <exception>
#include <memory>
#include <new>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "embrt/plugin_api.h"
#include "embrt/shard_layout.h"  // sdk::ShardRows, GlobalRow, LocateRow (DIV/MOD math)

// The plugin's error object. Each plugin has its own definition (symbols are hidden), and the
// host only ever hands an error back to the plugin that made it.
struct EMBRT_Error {
  EMBRT_ErrorCode code;
  std::string message;
};

namespace embrt {
namespace sdk {

// A status without any dependency: code 0 is OK.
class Status {
 public:
  Status() = default;
  Status(EMBRT_ErrorCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status InvalidArgument(std::string m) { return {EMBRT_CODE_INVALID_ARGUMENT, std::move(m)}; }
  static Status FailedPrecondition(std::string m) {
    return {EMBRT_CODE_FAILED_PRECONDITION, std::move(m)};
  }
  static Status Unimplemented(std::string m) { return {EMBRT_CODE_UNIMPLEMENTED, std::move(m)}; }
  static Status Internal(std::string m) { return {EMBRT_CODE_INTERNAL, std::move(m)}; }
  static Status ResourceExhausted(std::string m) {
    return {EMBRT_CODE_RESOURCE_EXHAUSTED, std::move(m)};
  }

  bool ok() const { return code_ == EMBRT_CODE_OK; }
  EMBRT_ErrorCode code() const { return code_; }
  const std::string& message() const { return message_; }

 private:
  EMBRT_ErrorCode code_ = EMBRT_CODE_OK;
  std::string message_;
};

// Number of [rows, dim] slots (parameters included) of an optimizer kind, in load/retrieve
// order; 0 when unknown.
inline int SlotCount(EMBRT_OptimizerKind kind) {
  switch (kind) {
    case EMBRT_OPTIMIZER_SGD:
      return 1;
    case EMBRT_OPTIMIZER_ADAGRAD:
      return 2;
    case EMBRT_OPTIMIZER_ADAGRAD_MOMENTUM:
    case EMBRT_OPTIMIZER_ADAM:
    case EMBRT_OPTIMIZER_FTRL:
      return 3;
    default:
      return 0;
  }
}

// Returns a copy of `*args` in which every field outside the caller's `struct_size` is zero.
template <typename Args>
Args ReadArgs(const Args* args) {
  Args copy;
  std::memset(static_cast<void*>(&copy), 0, sizeof(copy));
  if (args == nullptr) return copy;
  size_t size = args->struct_size < sizeof(Args) ? args->struct_size : sizeof(Args);
  std::memcpy(static_cast<void*>(&copy), static_cast<const void*>(args), size);
  copy.struct_size = sizeof(Args);
  return copy;
}

inline std::string ToString(const char* data, size_t size) {
  return data == nullptr ? std::string() : std::string(data, size);
}

// A named value copied out of an EMBRT_NamedValue.
struct NamedValue {
  std::string name;
  EMBRT_ValueType type = 0;
  std::string string_value;
  int64_t int64_value = 0;
  float float_value = 0.0f;
};

struct OptimizerConfig {
  EMBRT_OptimizerKind kind = 0;
  float learning_rate = 0.0f;
  int32_t learning_rate_tag = -1;
  bool use_gradient_accumulation = true;
  float clip_weight_min = 0.0f;
  float clip_weight_max = 0.0f;
  float clip_gradient_min = 0.0f;
  float clip_gradient_max = 0.0f;
  float weight_decay_factor = 0.0f;
  bool multiply_weight_decay_factor_by_learning_rate = false;
  std::vector<NamedValue> hyperparameters;

  // The hyperparameter `name` as a float (INT64 values converted), or `fallback` when absent.
  float Hyperparameter(const std::string& name, float fallback) const {
    for (const NamedValue& v : hyperparameters) {
      if (v.name != name) continue;
      if (v.type == EMBRT_VALUE_FLOAT) return v.float_value;
      if (v.type == EMBRT_VALUE_INT64) return static_cast<float>(v.int64_value);
    }
    return fallback;
  }
};

struct TableConfig {
  std::string name;
  int64_t vocabulary_size = 0;
  int32_t dim = 0;
  EMBRT_Combiner combiner = 0;
  OptimizerConfig optimizer;
  int64_t shard_rows = 0;
  // Simulated quantization of looked-up rows (plugin_api.h); 0 buckets: off.
  int32_t quantization_num_buckets = 0;
  float quantization_lower = 0.0f;
  float quantization_upper = 0.0f;
};

struct FeatureConfig {
  std::string name;
  int32_t table_index = 0;
  int32_t max_sequence_length = 0;
  int64_t input_rows = 0;
  std::vector<int64_t> output_shape;
};

// A plain C++ copy of EMBRT_EngineDescription.
struct EngineConfig {
  std::vector<TableConfig> tables;
  std::vector<FeatureConfig> features;
  int32_t per_replica_batch_size = 0;
  int32_t num_replicas = 0;
  int32_t num_hosts = 0;
  int32_t host_id = 0;
  EMBRT_Sharding sharding = EMBRT_SHARDING_DIV;
  bool pipeline_execution = false;
  int32_t num_learning_rate_tags = 0;
  bool allow_nonfinite_gradients = false;
  std::vector<NamedValue> options;

  // The backend option `name`, or `fallback` when absent.
  std::string Option(const std::string& name, const std::string& fallback) const {
    for (const NamedValue& v : options) {
      if (v.name == name) return v.string_value;
    }
    return fallback;
  }
};

inline std::vector<NamedValue> CopyNamedValues(const EMBRT_NamedValue* values, size_t count) {
  std::vector<NamedValue> out;
  if (values == nullptr) return out;
  out.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    EMBRT_NamedValue v = ReadArgs(&values[i]);
    NamedValue copy;
    copy.name = ToString(v.name, v.name_size);
    copy.type = v.type;
    copy.string_value = ToString(v.string_value, v.string_value_size);
    copy.int64_value = v.int64_value;
    copy.float_value = v.float_value;
    out.push_back(std::move(copy));
  }
  return out;
}

// Copies `description` into `config`. Returns INVALID_ARGUMENT on NULL entries.
inline Status CopyDescription(const EMBRT_EngineDescription* description, EngineConfig* config) {
  if (description == nullptr) return Status::InvalidArgument("engine description is NULL");
  EMBRT_EngineDescription d = ReadArgs(description);
  if (d.num_tables > 0 && d.tables == nullptr) {
    return Status::InvalidArgument("description.tables is NULL");
  }
  if (d.num_features > 0 && d.features == nullptr) {
    return Status::InvalidArgument("description.features is NULL");
  }
  EngineConfig out;
  for (size_t t = 0; t < d.num_tables; ++t) {
    if (d.tables[t] == nullptr) {
      return Status::InvalidArgument("description.tables[" + std::to_string(t) + "] is NULL");
    }
    EMBRT_TableDescription table = ReadArgs(d.tables[t]);
    TableConfig copy;
    copy.name = ToString(table.name, table.name_size);
    copy.vocabulary_size = table.vocabulary_size;
    copy.dim = table.dim;
    copy.combiner = table.combiner;
    copy.shard_rows = table.shard_rows;
    copy.quantization_num_buckets = table.quantization_num_buckets;
    copy.quantization_lower = table.quantization_lower;
    copy.quantization_upper = table.quantization_upper;
    if (table.optimizer == nullptr) {
      return Status::InvalidArgument("table '" + copy.name + "' has no optimizer");
    }
    EMBRT_OptimizerDescription o = ReadArgs(table.optimizer);
    copy.optimizer.kind = o.kind;
    copy.optimizer.learning_rate = o.learning_rate;
    copy.optimizer.learning_rate_tag = o.learning_rate_tag;
    copy.optimizer.use_gradient_accumulation = o.use_gradient_accumulation != 0;
    copy.optimizer.clip_weight_min = o.clip_weight_min;
    copy.optimizer.clip_weight_max = o.clip_weight_max;
    copy.optimizer.clip_gradient_min = o.clip_gradient_min;
    copy.optimizer.clip_gradient_max = o.clip_gradient_max;
    copy.optimizer.weight_decay_factor = o.weight_decay_factor;
    copy.optimizer.multiply_weight_decay_factor_by_learning_rate =
        o.multiply_weight_decay_factor_by_learning_rate != 0;
    copy.optimizer.hyperparameters = CopyNamedValues(o.hyperparameters, o.num_hyperparameters);
    out.tables.push_back(std::move(copy));
  }
  for (size_t f = 0; f < d.num_features; ++f) {
    if (d.features[f] == nullptr) {
      return Status::InvalidArgument("description.features[" + std::to_string(f) + "] is NULL");
    }
    EMBRT_FeatureDescription feature = ReadArgs(d.features[f]);
    FeatureConfig copy;
    copy.name = ToString(feature.name, feature.name_size);
    copy.table_index = feature.table_index;
    copy.max_sequence_length = feature.max_sequence_length;
    copy.input_rows = feature.input_rows;
    if (feature.output_shape != nullptr) {
      copy.output_shape.assign(feature.output_shape, feature.output_shape + feature.output_rank);
    }
    out.features.push_back(std::move(copy));
  }
  out.per_replica_batch_size = d.per_replica_batch_size;
  out.num_replicas = d.num_replicas;
  out.num_hosts = d.num_hosts;
  out.host_id = d.host_id;
  out.sharding = d.sharding;
  out.pipeline_execution = d.pipeline_execution != 0;
  out.num_learning_rate_tags = d.num_learning_rate_tags;
  out.allow_nonfinite_gradients = d.allow_nonfinite_gradients != 0;
  out.options = CopyNamedValues(d.options, d.num_options);
  *config = std::move(out);
  return Status();
}

// One feature's input for one replica, as Engine_Enqueue received it (borrowed for the call).
struct FeatureInputView {
  const int64_t* ids = nullptr;
  size_t num_ids = 0;
  const int32_t* row_splits = nullptr;  // optional, can be null: one id per row
  size_t num_row_splits = 0;
  const float* weights = nullptr;  // optional, can be null: every weight is 1
  const int32_t* positions = nullptr;  // ABI 1.1, optional: sequence positions, one per id
  size_t num_positions = 0;
};

// The device side of one engine. Threading as in plugin_api.h: calls for different replicas
// may be concurrent; Load, Retrieve and Synchronize are never concurrent with anything else.
// Every method must leave the engine unchanged when it returns an error.
class Engine {
 public:
  virtual ~Engine() = default;
  virtual Status Enqueue(int32_t replica, EMBRT_Mode mode, const FeatureInputView* inputs,
                         size_t num_inputs) = 0;
  // ABI 1.1: Enqueue with the host's `input_lifetime` (EMBRT_INPUT_LIFETIME_CALL or _STEP,
  // plugin_api.h), which Engine_Enqueue passes here. An engine that reads inputs in place under
  // STEP overrides this (and advertises the attribute input_lifetime = 1); the default ignores
  // the lifetime and calls Enqueue, which copies what it keeps.
  virtual Status EnqueueWithLifetime(int32_t replica, EMBRT_Mode mode,
                                     const FeatureInputView* inputs, size_t num_inputs,
                                     int32_t input_lifetime) {
    (void)input_lifetime;
    return Enqueue(replica, mode, inputs, num_inputs);
  }
  virtual Status RecvActivations(int32_t replica, float* const* activations,
                                 const size_t* activation_sizes, size_t num_activations) = 0;
  virtual Status SendGradients(int32_t replica, const float* const* gradients,
                               const size_t* gradient_sizes, size_t num_gradients,
                               const float* learning_rates, size_t num_learning_rates) = 0;
  virtual Status LoadTableShard(int32_t table, int32_t shard, int64_t row_begin,
                                int64_t row_count, const float* const* slots,
                                size_t num_slots) = 0;
  virtual Status RetrieveTableShard(int32_t table, int32_t shard, int64_t row_begin,
                                    int64_t row_count, float* const* slots, size_t num_slots) = 0;
  virtual Status Synchronize() = 0;

  // Multi-host collectives (ABI 1.1, plugin_api.h "Hosts"). Only called when the plugin class
  // opted in (see the file comment); the defaults say the engine has no transport.
  // AgreeStatus returns OK on every host when every `local` is OK, else the status of the
  // lowest-numbered failing host with its message prefixed by "host <id>: ".
  virtual Status AgreeStatus(const Status& local) {
    return local.ok() ? Status() : local;
  }
  virtual Status Barrier() { return Status::Unimplemented("Engine_Barrier: no transport"); }
  // `gathered` holds num_hosts * size bytes; host h's bytes land at h * size.
  virtual Status AllGather(const void* local, size_t size, void* gathered) {
    (void)local;
    (void)size;
    (void)gathered;
    return Status::Unimplemented("Engine_AllGather: no transport");
  }
};

// True when the plugin class `Plugin` declares `static Status HostTopology(int32_t*, int32_t*)`.
template <typename Plugin, typename = void>
struct HasHostTopology : std::false_type {};
template <typename Plugin>
struct HasHostTopology<Plugin, std::void_t<decltype(Plugin::HostTopology(
                                   static_cast<int32_t*>(nullptr), static_cast<int32_t*>(nullptr)))>>
    : std::true_type {};

namespace internal {

inline EMBRT_Error* MakeError(Status status) {
  if (status.ok()) return nullptr;
  try {
    return new EMBRT_Error{status.code(), status.message()};
  } catch (...) {
    // Out of memory while reporting an error: a static error the host must not free would break
    // the contract, so report a code-only error if even that fails.
    static EMBRT_Error* const kOutOfMemory =
        new (std::nothrow) EMBRT_Error{EMBRT_CODE_RESOURCE_EXHAUSTED, ""};
    return kOutOfMemory;
  }
}

// Runs `body` (returning Status) and turns every exception into an error object.
template <typename Body>
EMBRT_Error* Guard(const char* what, Body&& body) {
  try {
    return MakeError(body());
  } catch (const std::bad_alloc&) {
    return MakeError(Status::ResourceExhausted(std::string(what) + ": out of memory"));
  } catch (const std::exception& e) {
    return MakeError(Status::Internal(std::string(what) + ": " + e.what()));
  } catch (...) {
    return MakeError(Status::Internal(std::string(what) + ": unknown exception"));
  }
}

inline Engine* EngineOf(EMBRT_Engine* engine) { return reinterpret_cast<Engine*>(engine); }

inline Status NullEngine(const char* call) {
  return Status::InvalidArgument(std::string(call) + ": engine is NULL");
}

template <typename Plugin>
struct Functions {
  static void ErrorDestroy(EMBRT_Error_Destroy_Args* args) {
    if (args == nullptr) return;
    EMBRT_Error_Destroy_Args a = ReadArgs(args);
    delete a.error;
  }
  static void ErrorMessage(EMBRT_Error_Message_Args* args) {
    if (args == nullptr) return;
    EMBRT_Error_Message_Args a = ReadArgs(args);
    if (!EMBRT_HAS_FIELD(EMBRT_Error_Message_Args, args->struct_size, message_size)) return;
    args->message = a.error == nullptr ? "" : a.error->message.data();
    args->message_size = a.error == nullptr ? 0 : a.error->message.size();
  }
  static void ErrorGetCode(EMBRT_Error_GetCode_Args* args) {
    if (args == nullptr) return;
    EMBRT_Error_GetCode_Args a = ReadArgs(args);
    if (!EMBRT_HAS_FIELD(EMBRT_Error_GetCode_Args, args->struct_size, code)) return;
    args->code = a.error == nullptr ? EMBRT_CODE_UNKNOWN : a.error->code;
  }
  static EMBRT_Error* Attributes(EMBRT_Plugin_Attributes_Args* args) {
    return Guard("Plugin_Attributes", [&] {
      if (args == nullptr) return Status::InvalidArgument("Plugin_Attributes: args is NULL");
      if (!EMBRT_HAS_FIELD(EMBRT_Plugin_Attributes_Args, args->struct_size, num_attributes)) {
        return Status::InvalidArgument("Plugin_Attributes: struct_size too small");
      }
      size_t count = 0;
      const EMBRT_NamedValue* values = Plugin::Attributes(&count);
      args->attributes = values;
      args->num_attributes = count;
      return Status();
    });
  }
  static EMBRT_Error* Create(EMBRT_Engine_Create_Args* args) {
    return Guard("Engine_Create", [&] {
      if (args == nullptr) return Status::InvalidArgument("Engine_Create: args is NULL");
      if (!EMBRT_HAS_FIELD(EMBRT_Engine_Create_Args, args->struct_size, engine)) {
        return Status::InvalidArgument("Engine_Create: struct_size too small");
      }
      EMBRT_Engine_Create_Args a = ReadArgs(args);
      EngineConfig config;
      Status status = CopyDescription(a.description, &config);
      if (!status.ok()) return status;
      std::unique_ptr<Engine> engine;
      status = Plugin::Create(config, &engine);
      if (!status.ok()) return status;
      if (engine == nullptr) return Status::Internal("Engine_Create: plugin returned no engine");
      args->engine = reinterpret_cast<EMBRT_Engine*>(engine.release());
      return Status();
    });
  }
  static void Destroy(EMBRT_Engine_Destroy_Args* args) {
    if (args == nullptr) return;
    EMBRT_Engine_Destroy_Args a = ReadArgs(args);
    try {
      delete EngineOf(a.engine);
    } catch (...) {
      // A destructor that throws has nowhere to report to; the engine is gone either way.
    }
  }
  static EMBRT_Error* Enqueue(EMBRT_Engine_Enqueue_Args* args) {
    return Guard("Engine_Enqueue", [&] {
      EMBRT_Engine_Enqueue_Args a = ReadArgs(args);
      if (a.engine == nullptr) return NullEngine("Engine_Enqueue");
      if (a.num_inputs > 0 && a.inputs == nullptr) {
        return Status::InvalidArgument("Engine_Enqueue: inputs is NULL");
      }
      std::vector<FeatureInputView> views(a.num_inputs);
      for (size_t i = 0; i < a.num_inputs; ++i) {
        if (a.inputs[i] == nullptr) {
          return Status::InvalidArgument("Engine_Enqueue: inputs[" + std::to_string(i) +
                                         "] is NULL");
        }
        EMBRT_FeatureInput in = ReadArgs(a.inputs[i]);
        views[i] = FeatureInputView{in.ids,     in.num_ids,  in.row_splits,  in.num_row_splits,
                                    in.weights, in.positions, in.num_positions};
      }
      return EngineOf(a.engine)->EnqueueWithLifetime(a.replica, a.mode, views.data(),
                                                     views.size(), a.input_lifetime);
    });
  }
  static EMBRT_Error* Recv(EMBRT_Engine_RecvActivations_Args* args) {
    return Guard("Engine_RecvActivations", [&] {
      EMBRT_Engine_RecvActivations_Args a = ReadArgs(args);
      if (a.engine == nullptr) return NullEngine("Engine_RecvActivations");
      if (a.num_activations > 0 && (a.activations == nullptr || a.activation_sizes == nullptr)) {
        return Status::InvalidArgument("Engine_RecvActivations: activation buffers are NULL");
      }
      return EngineOf(a.engine)->RecvActivations(a.replica, a.activations, a.activation_sizes,
                                                 a.num_activations);
    });
  }
  static EMBRT_Error* Send(EMBRT_Engine_SendGradients_Args* args) {
    return Guard("Engine_SendGradients", [&] {
      EMBRT_Engine_SendGradients_Args a = ReadArgs(args);
      if (a.engine == nullptr) return NullEngine("Engine_SendGradients");
      if (a.num_gradients > 0 && (a.gradients == nullptr || a.gradient_sizes == nullptr)) {
        return Status::InvalidArgument("Engine_SendGradients: gradient arrays are NULL");
      }
      if (a.num_learning_rates > 0 && a.learning_rates == nullptr) {
        return Status::InvalidArgument("Engine_SendGradients: learning_rates is NULL");
      }
      return EngineOf(a.engine)->SendGradients(a.replica, a.gradients, a.gradient_sizes,
                                               a.num_gradients, a.learning_rates,
                                               a.num_learning_rates);
    });
  }
  static EMBRT_Error* Load(EMBRT_Engine_LoadTableShard_Args* args) {
    return Guard("Engine_LoadTableShard", [&] {
      EMBRT_Engine_LoadTableShard_Args a = ReadArgs(args);
      if (a.engine == nullptr) return NullEngine("Engine_LoadTableShard");
      if (a.num_slots > 0 && a.slots == nullptr) {
        return Status::InvalidArgument("Engine_LoadTableShard: slots is NULL");
      }
      return EngineOf(a.engine)->LoadTableShard(a.table, a.shard, a.row_begin, a.row_count,
                                                a.slots, a.num_slots);
    });
  }
  static EMBRT_Error* Retrieve(EMBRT_Engine_RetrieveTableShard_Args* args) {
    return Guard("Engine_RetrieveTableShard", [&] {
      EMBRT_Engine_RetrieveTableShard_Args a = ReadArgs(args);
      if (a.engine == nullptr) return NullEngine("Engine_RetrieveTableShard");
      if (a.num_slots > 0 && a.slots == nullptr) {
        return Status::InvalidArgument("Engine_RetrieveTableShard: slots is NULL");
      }
      return EngineOf(a.engine)->RetrieveTableShard(a.table, a.shard, a.row_begin, a.row_count,
                                                    a.slots, a.num_slots);
    });
  }
  static EMBRT_Error* Synchronize(EMBRT_Engine_Synchronize_Args* args) {
    return Guard("Engine_Synchronize", [&] {
      EMBRT_Engine_Synchronize_Args a = ReadArgs(args);
      if (a.engine == nullptr) return NullEngine("Engine_Synchronize");
      return EngineOf(a.engine)->Synchronize();
    });
  }
  static EMBRT_Error* HostTopology(EMBRT_Plugin_HostTopology_Args* args) {
    return Guard("Plugin_HostTopology", [&] {
      if (args == nullptr) return Status::InvalidArgument("Plugin_HostTopology: args is NULL");
      if (!EMBRT_HAS_FIELD(EMBRT_Plugin_HostTopology_Args, args->struct_size, host_id)) {
        return Status::InvalidArgument("Plugin_HostTopology: struct_size too small");
      }
      int32_t num_hosts = 1;
      int32_t host_id = 0;
      Status status = Plugin::HostTopology(&num_hosts, &host_id);
      if (!status.ok()) return status;
      args->num_hosts = num_hosts;
      args->host_id = host_id;
      return Status();
    });
  }
  static EMBRT_Error* AgreeStatus(EMBRT_Engine_AgreeStatus_Args* args) {
    return Guard("Engine_AgreeStatus", [&] {
      EMBRT_Engine_AgreeStatus_Args a = ReadArgs(args);
      if (a.engine == nullptr) return NullEngine("Engine_AgreeStatus");
      Status local;
      if (a.local_code != EMBRT_CODE_OK) {
        local = Status(a.local_code, ToString(a.local_message, a.local_message_size));
      }
      return EngineOf(a.engine)->AgreeStatus(local);
    });
  }
  static EMBRT_Error* Barrier(EMBRT_Engine_Barrier_Args* args) {
    return Guard("Engine_Barrier", [&] {
      EMBRT_Engine_Barrier_Args a = ReadArgs(args);
      if (a.engine == nullptr) return NullEngine("Engine_Barrier");
      return EngineOf(a.engine)->Barrier();
    });
  }
  static EMBRT_Error* AllGather(EMBRT_Engine_AllGather_Args* args) {
    return Guard("Engine_AllGather", [&] {
      EMBRT_Engine_AllGather_Args a = ReadArgs(args);
      if (a.engine == nullptr) return NullEngine("Engine_AllGather");
      if (a.size > 0 && (a.local == nullptr || a.gathered == nullptr)) {
        return Status::InvalidArgument("Engine_AllGather: local or gathered is NULL");
      }
      return EngineOf(a.engine)->AllGather(a.local, a.size, a.gathered);
    });
  }
};

// The 1.1 host slots: filled for a plugin class with HostTopology, NULL otherwise.
template <typename Plugin, bool kMultiHost = HasHostTopology<Plugin>::value>
struct HostSlots {
  static constexpr EMBRT_Plugin_HostTopology* kTopology = nullptr;
  static constexpr EMBRT_Engine_AgreeStatus* kAgree = nullptr;
  static constexpr EMBRT_Engine_Barrier* kBarrier = nullptr;
  static constexpr EMBRT_Engine_AllGather* kAllGather = nullptr;
};
template <typename Plugin>
struct HostSlots<Plugin, true> {
  static constexpr EMBRT_Plugin_HostTopology* kTopology = &Functions<Plugin>::HostTopology;
  static constexpr EMBRT_Engine_AgreeStatus* kAgree = &Functions<Plugin>::AgreeStatus;
  static constexpr EMBRT_Engine_Barrier* kBarrier = &Functions<Plugin>::Barrier;
  static constexpr EMBRT_Engine_AllGather* kAllGather = &Functions<Plugin>::AllGather;
};

template <typename Plugin>
const EMBRT_Api* GetApi(const EMBRT_HostInfo* host) {
  static const EMBRT_Api kApi = {
      EMBRT_Api_STRUCT_SIZE,
      EMBRT_ABI_MAJOR,
      EMBRT_ABI_MINOR,
      &Functions<Plugin>::ErrorDestroy,
      &Functions<Plugin>::ErrorMessage,
      &Functions<Plugin>::ErrorGetCode,
      &Functions<Plugin>::Attributes,
      &Functions<Plugin>::Create,
      &Functions<Plugin>::Destroy,
      &Functions<Plugin>::Enqueue,
      &Functions<Plugin>::Recv,
      &Functions<Plugin>::Send,
      &Functions<Plugin>::Load,
      &Functions<Plugin>::Retrieve,
      &Functions<Plugin>::Synchronize,
      HostSlots<Plugin>::kTopology,  // 1.1: NULL unless the plugin class opted in
      HostSlots<Plugin>::kAgree,
      HostSlots<Plugin>::kBarrier,
      HostSlots<Plugin>::kAllGather,
  };
  if (host == nullptr) return nullptr;
  EMBRT_HostInfo info = ReadArgs(host);
  if (info.abi_major != EMBRT_ABI_MAJOR) return nullptr;
  return &kApi;
}

}  // namespace internal

// Helpers for a plugin's static attribute array.
constexpr EMBRT_NamedValue StringAttribute(const char* name, const char* value) {
  return EMBRT_NamedValue{EMBRT_NamedValue_STRUCT_SIZE,
                          name,
                          std::char_traits<char>::length(name),
                          EMBRT_VALUE_STRING,
                          value,
                          std::char_traits<char>::length(value),
                          0,
                          0.0f};
}
constexpr EMBRT_NamedValue Int64Attribute(const char* name, int64_t value) {
  return EMBRT_NamedValue{EMBRT_NamedValue_STRUCT_SIZE,
                          name,
                          std::char_traits<char>::length(name),
                          EMBRT_VALUE_INT64,
                          nullptr,
                          0,
                          value,
                          0.0f};
}

}  // namespace sdk
}  // namespace embrt

// Defines the plugin's one exported symbol for `Plugin` (see the file comment).
#define EMBRT_DEFINE_PLUGIN(Plugin)                                                     \
  extern "C" __attribute__((visibility("default"))) const EMBRT_Api* EMBRT_GetPluginApi( \
      const EMBRT_HostInfo* host) {                                                       \
    return ::embrt::sdk::internal::GetApi<Plugin>(host);                                 \
  }

#endif  // EMBRT_PLUGIN_SDK_H_
