/* Copyright embrt authors.
 *
 * File: embrt/plugin_api.h
 * ------------------------
 * The stable C ABI between embrt's core and a backend plugin (a shared object that owns the
 * embedding tables on one kind of device). This is the only file a plugin author needs. It is
 * standalone C11: it includes only <stddef.h> and <stdint.h>, and it compiles as C and as C++.
 *
 * A plugin exports exactly one symbol, EMBRT_GetPluginApi, which returns a static table of
 * function pointers (EMBRT_Api). Every function takes a single `..._Args` struct that starts with
 * `struct_size` and `extension_start`; fields marked `// out` are written by the callee.
 *
 * The numbered rules a plugin must follow (ownership, threading, errors, arithmetic order) are
 * in plugin_api/README.md; they are summarized next to each function below.
 *
 * Example (host side, error handling elided):
 *
 *   EMBRT_HostInfo host = {EMBRT_HostInfo_STRUCT_SIZE, EMBRT_ABI_MAJOR, EMBRT_ABI_MINOR};
 *   const EMBRT_Api* api = EMBRT_GetPluginApi(&host);
 *   EMBRT_Engine_Create_Args create = {EMBRT_Engine_Create_Args_STRUCT_SIZE};
 *   create.description = &description;
 *   EMBRT_Error* error = api->Engine_Create(&create);
 *   ... api->Engine_Enqueue(...), api->Engine_RecvActivations(...), api->Engine_SendGradients(...)
 */
#ifndef EMBRT_PLUGIN_API_H_
#define EMBRT_PLUGIN_API_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------------------------
 * Versioning
 *
 * EMBRT_ABI_MAJOR changes on any removal, reordering or type change of a released field or
 * function; a host refuses a plugin whose major differs from its own. EMBRT_ABI_MINOR changes
 * when fields or functions are appended; both sides then use `struct_size` to see what the other
 * knows: a callee reads only the fields that lie inside the caller's `struct_size` and treats the
 * rest as their documented defaults. Every released layout is pinned by static assertions at the
 * end of this file, and plugin_api/CHANGELOG.md has an entry per minor version.
 * ------------------------------------------------------------------------------------------- */
#define EMBRT_ABI_MAJOR 1
#define EMBRT_ABI_MINOR 1

/* Size of a struct up to and including `member`: the `struct_size` a caller that knows fields up
 * to `member` sets. */
#define EMBRT_STRUCT_SIZE(type, member) \
  (offsetof(type, member) + sizeof(((type*)0)->member))

/* True when a struct whose `struct_size` is `size` contains `member` of `type`. */
#define EMBRT_HAS_FIELD(type, size, member) ((size) >= EMBRT_STRUCT_SIZE(type, member))

/* True when `api` (a const EMBRT_Api*) has a non-NULL function `fn`. Check before every call
 * of a function added after 1.0. */
#define EMBRT_API_HAS(api, fn)                                      \
  (EMBRT_HAS_FIELD(EMBRT_Api, (api)->struct_size, fn) && (api)->fn != NULL)

/* Reserved for future extensions of an args struct; NULL today. */
typedef struct EMBRT_Extension {
  size_t struct_size;
  int32_t type;
  struct EMBRT_Extension* next;
} EMBRT_Extension;

/* ---------------------------------------------------------------------------------------------
 * Enumerations (int32_t with explicit values; never reused)
 * ------------------------------------------------------------------------------------------- */

/* Error codes: the canonical codes of absl::StatusCode / gRPC. Choose as Abseil advises: bad
 * input -> INVALID_ARGUMENT, wrong state -> FAILED_PRECONDITION, unsupported -> UNIMPLEMENTED,
 * out of memory -> RESOURCE_EXHAUSTED, a bug -> INTERNAL. */
typedef int32_t EMBRT_ErrorCode;
#define EMBRT_CODE_OK 0
#define EMBRT_CODE_CANCELLED 1
#define EMBRT_CODE_UNKNOWN 2
#define EMBRT_CODE_INVALID_ARGUMENT 3
#define EMBRT_CODE_DEADLINE_EXCEEDED 4
#define EMBRT_CODE_NOT_FOUND 5
#define EMBRT_CODE_ALREADY_EXISTS 6
#define EMBRT_CODE_PERMISSION_DENIED 7
#define EMBRT_CODE_RESOURCE_EXHAUSTED 8
#define EMBRT_CODE_FAILED_PRECONDITION 9
#define EMBRT_CODE_ABORTED 10
#define EMBRT_CODE_OUT_OF_RANGE 11
#define EMBRT_CODE_UNIMPLEMENTED 12
#define EMBRT_CODE_INTERNAL 13
#define EMBRT_CODE_UNAVAILABLE 14
#define EMBRT_CODE_DATA_LOSS 15
#define EMBRT_CODE_UNAUTHENTICATED 16

typedef int32_t EMBRT_Combiner;
#define EMBRT_COMBINER_SUM 1
#define EMBRT_COMBINER_MEAN 2
#define EMBRT_COMBINER_SQRTN 3

/* Optimizers, with their slots in load/retrieve order. Every slot is [rows, dim] float32,
 * row-major. Hidden gradient accumulators are never exposed.
 *   SGD               parameters
 *   ADAGRAD           parameters, accumulators
 *   ADAGRAD_MOMENTUM  parameters, accumulators, momenta
 *   ADAM              parameters, momenta, velocities
 *   FTRL              parameters, accumulators, linears */
typedef int32_t EMBRT_OptimizerKind;
#define EMBRT_OPTIMIZER_SGD 1
#define EMBRT_OPTIMIZER_ADAGRAD 2
#define EMBRT_OPTIMIZER_ADAGRAD_MOMENTUM 3
#define EMBRT_OPTIMIZER_ADAM 4
#define EMBRT_OPTIMIZER_FTRL 5

typedef int32_t EMBRT_Sharding;
#define EMBRT_SHARDING_DIV 0 /* contiguous rows per host; the first V % hosts get one more */
#define EMBRT_SHARDING_MOD 1 /* row i lives on host i % hosts, at local row i / hosts */

typedef int32_t EMBRT_Mode;
#define EMBRT_MODE_TRAINING 1  /* SendGradients must follow RecvActivations */
#define EMBRT_MODE_INFERENCE 2 /* SendGradients is FAILED_PRECONDITION */

typedef int32_t EMBRT_ValueType;
#define EMBRT_VALUE_STRING 1
#define EMBRT_VALUE_INT64 2
#define EMBRT_VALUE_FLOAT 3

/* ---------------------------------------------------------------------------------------------
 * Plain data
 * ------------------------------------------------------------------------------------------- */

/* A named value: attributes, backend options and optimizer hyperparameters. Strings are not
 * NUL-terminated in general: use the sizes. */
typedef struct EMBRT_NamedValue {
  size_t struct_size;
  const char* name;
  size_t name_size;
  EMBRT_ValueType type;
  const char* string_value; /* EMBRT_VALUE_STRING */
  size_t string_value_size;
  int64_t int64_value; /* EMBRT_VALUE_INT64; booleans are 0 or 1 */
  float float_value;   /* EMBRT_VALUE_FLOAT */
} EMBRT_NamedValue;

/* Optimizer of one table. Hyperparameters are named after the fields of proto/embrt/config.proto
 * (all EMBRT_VALUE_FLOAT except booleans, which are EMBRT_VALUE_INT64 0/1):
 *   ADAGRAD           initial_accumulator_value
 *   ADAGRAD_MOMENTUM  momentum, use_nesterov, exponent, beta2, epsilon
 *   ADAM              beta_1, beta_2, epsilon, lazy_adam, sum_inside_sqrt
 *   FTRL              learning_rate_power, l1_regularization_strength,
 *                     l2_regularization_strength, beta, initial_accumulator_value,
 *                     multiply_linear_by_learning_rate
 * The core always sends every hyperparameter of the kind, with defaults filled in. Initial slot
 * values are not the plugin's business: the core loads them. */
typedef struct EMBRT_OptimizerDescription {
  size_t struct_size;
  EMBRT_Extension* extension_start;
  EMBRT_OptimizerKind kind;
  float learning_rate;        /* used when learning_rate_tag < 0 */
  int32_t learning_rate_tag;  /* >= 0: index into SendGradients' learning_rates */
  int32_t use_gradient_accumulation; /* 0 or 1 */
  float clip_weight_min;      /* -INFINITY when unset */
  float clip_weight_max;      /* +INFINITY when unset */
  float clip_gradient_min;    /* -INFINITY when unset */
  float clip_gradient_max;    /* +INFINITY when unset */
  float weight_decay_factor;  /* 0: off */
  int32_t multiply_weight_decay_factor_by_learning_rate; /* 0 or 1 */
  const EMBRT_NamedValue* hyperparameters;
  size_t num_hyperparameters;
} EMBRT_OptimizerDescription;

/* One table, in table order (its index is the table id used everywhere else).
 * Simulated quantization (TF's QuantizationConfig), when quantization_num_buckets >= 2: every
 * element x of a looked-up row, before the combiner or the sequence output, becomes
 *   x = min(max(x, lower), upper); q = (upper - lower) / (num_buckets - 1);
 *   x = floor((x - lower) / q + 0.5f) * q + lower
 * in float32, in that order. Forward only: gradients and the stored rows are unchanged. The core
 * guarantees finite lower < upper. quantization_num_buckets == 0 (also what a caller with an
 * older, smaller struct gives): no quantization. */
typedef struct EMBRT_TableDescription {
  size_t struct_size;
  EMBRT_Extension* extension_start;
  const char* name;
  size_t name_size;
  int64_t vocabulary_size; /* logical rows of the whole table, over all hosts */
  int32_t dim;
  EMBRT_Combiner combiner;
  const EMBRT_OptimizerDescription* optimizer;
  int64_t shard_rows; /* rows held by this host (see EMBRT_Sharding) */
  int32_t quantization_num_buckets; /* 0: off, else >= 2 */
  float quantization_lower;
  float quantization_upper;
} EMBRT_TableDescription;

/* One feature, in config order (its index is the feature id used by Enqueue, RecvActivations
 * and SendGradients). Input rows: `input_rows` bags of ids per replica and step.
 *   max_sequence_length == 0: activations are [input_rows, dim]; a row is one bag reduced by
 *     the table's combiner.
 *   max_sequence_length == L > 0: activations are [input_rows, L, dim]; position p of row b is
 *     the p-th id of the row (no combiner), zeros where the row is shorter than L. The core has
 *     already dropped ids past L.
 * output_shape is the shape the host sees, without dim (its product times dim is the buffer
 * size in floats); the plugin needs only input_rows and max_sequence_length. */
typedef struct EMBRT_FeatureDescription {
  size_t struct_size;
  EMBRT_Extension* extension_start;
  const char* name;
  size_t name_size;
  int32_t table_index;
  int32_t max_sequence_length;
  int64_t input_rows;
  const int64_t* output_shape;
  size_t output_rank;
} EMBRT_FeatureDescription;

/* Everything a plugin needs to set up its device. Built by the core from the validated config;
 * borrowed for the duration of Engine_Create only (copy what you keep). */
typedef struct EMBRT_EngineDescription {
  size_t struct_size;
  EMBRT_Extension* extension_start;
  const EMBRT_TableDescription* const* tables;
  size_t num_tables;
  const EMBRT_FeatureDescription* const* features;
  size_t num_features;
  int32_t per_replica_batch_size;
  int32_t num_replicas; /* replicas (device ordinals) on this host */
  int32_t num_hosts;
  int32_t host_id;
  EMBRT_Sharding sharding;
  int32_t pipeline_execution; /* 0 or 1, see README rule on steps */
  int32_t num_learning_rate_tags;
  int32_t allow_nonfinite_gradients; /* 0: NaN/Inf gradients are INVALID_ARGUMENT */
  const EMBRT_NamedValue* options; /* backend options from the config, all strings */
  size_t num_options;
} EMBRT_EngineDescription;

/* One feature's ids for one replica and step, in compressed sparse row form.
 *   row_splits: input_rows + 1 ascending offsets into ids, row_splits[0] == 0; NULL means one
 *     id per row (num_ids == input_rows).
 *   weights: num_ids weights, NULL means every weight is 1.
 *   positions (1.1): for a sequence feature only, num_ids sequence positions, one per id:
 *     strictly ascending inside each row and 0 <= position < max_sequence_length, so a row may
 *     have holes (TF's sparse sequence input). NULL (and every 1.0 caller) means the p-th id of
 *     a row is at position p. Non-NULL for a feature without a sequence is INVALID_ARGUMENT.
 * Borrowed for the duration of Engine_Enqueue, or longer when Enqueue's input_lifetime says so. */
typedef struct EMBRT_FeatureInput {
  size_t struct_size;
  const int64_t* ids;
  size_t num_ids;
  const int32_t* row_splits; /* optional, can be NULL */
  size_t num_row_splits;
  const float* weights; /* optional, can be NULL */
  /* ABI 1.1 */
  const int32_t* positions; /* optional, can be NULL */
  size_t num_positions;
} EMBRT_FeatureInput;

/* ---------------------------------------------------------------------------------------------
 * Opaque objects
 * ------------------------------------------------------------------------------------------- */

/* An error, allocated by the plugin and destroyed by the host with Error_Destroy. NULL means OK. */
typedef struct EMBRT_Error EMBRT_Error;

/* One engine: the device state for one EMBRT_EngineDescription. */
typedef struct EMBRT_Engine EMBRT_Engine;

/* ---------------------------------------------------------------------------------------------
 * Errors
 * ------------------------------------------------------------------------------------------- */

typedef struct EMBRT_Error_Destroy_Args {
  size_t struct_size;
  EMBRT_Extension* extension_start;
  EMBRT_Error* error; /* may be NULL */
} EMBRT_Error_Destroy_Args;
/* Frees `error`. Thread-safe. */
typedef void EMBRT_Error_Destroy(EMBRT_Error_Destroy_Args* args);

typedef struct EMBRT_Error_Message_Args {
  size_t struct_size;
  EMBRT_Extension* extension_start;
  const EMBRT_Error* error;
  const char* message; /* out: lives as long as `error`; not NUL-terminated in general */
  size_t message_size; /* out */
} EMBRT_Error_Message_Args;
/* Thread-safe. */
typedef void EMBRT_Error_Message(EMBRT_Error_Message_Args* args);

typedef struct EMBRT_Error_GetCode_Args {
  size_t struct_size;
  EMBRT_Extension* extension_start;
  const EMBRT_Error* error;
  EMBRT_ErrorCode code; /* out: never EMBRT_CODE_OK */
} EMBRT_Error_GetCode_Args;
/* Thread-safe. */
typedef void EMBRT_Error_GetCode(EMBRT_Error_GetCode_Args* args);

/* ---------------------------------------------------------------------------------------------
 * Plugin
 * ------------------------------------------------------------------------------------------- */

/* Attributes describe the plugin without touching any hardware. Keys and their defaults when
 * absent:
 *   name (string, required), vendor (string, ""), plugin_version (string, ""),
 *   abi_version (string "major.minor", required), deterministic (int64, 0),
 *   exact_math (int64, 0: 1 claims bit-exact results against the canonical arithmetic order),
 *   optimizers (string, comma-separated: "sgd,adagrad,adagrad_momentum,adam,ftrl"),
 *   combiners (string, "sum,mean,sqrtn"), max_dim (int64, 0 = no limit),
 *   multi_host (int64, 0),
 *   since 1.1: quantization (int64, 0: 1 claims simulated quantization, else UNIMPLEMENTED at
 *   Engine_Create for a quantized table), pipelining (int64, 0: 1 claims the one-step-stale
 *   lookups of pipeline_execution = 1; a plugin with 0 runs such an engine unpipelined, which
 *   is conformant but slower), input_lifetime (int64, 0: 1 says the plugin reads inputs in
 *   place when Enqueue's input_lifetime allows it). */
typedef struct EMBRT_Plugin_Attributes_Args {
  size_t struct_size;
  EMBRT_Extension* extension_start;
  const EMBRT_NamedValue* attributes; /* out: static, lives as long as the process */
  size_t num_attributes;              /* out */
} EMBRT_Plugin_Attributes_Args;
/* Thread-safe; may be called before any engine exists. */
typedef EMBRT_Error* EMBRT_Plugin_Attributes(EMBRT_Plugin_Attributes_Args* args);

/* ---------------------------------------------------------------------------------------------
 * Engine
 *
 * Threading: calls for different replicas (Enqueue, RecvActivations, SendGradients) may run
 * concurrently from different threads; calls for one replica are serialized by the host.
 * Engine_Create, Engine_Destroy, LoadTableShard, RetrieveTableShard and Synchronize are never
 * concurrent with any other call on the same engine.
 *
 * Failure: a function that returns an error leaves the engine as it was (no half-enqueued
 * batch, no partial update) and writes no output.
 * ------------------------------------------------------------------------------------------- */

typedef struct EMBRT_Engine_Create_Args {
  size_t struct_size;
  EMBRT_Extension* extension_start;
  const EMBRT_EngineDescription* description; /* borrowed for the call */
  EMBRT_Engine* engine;                       /* out: owned by the caller, Engine_Destroy */
} EMBRT_Engine_Create_Args;
/* Sets up the device for `description`. Tables and slots start as zeros until loaded, unless
 * the backend documents other deterministic start values (the mock does); the core loads every
 * row before the first step either way.
 * Returns INVALID_ARGUMENT for a description the plugin cannot serve (naming the field), and
 * UNIMPLEMENTED for an optimizer, combiner or option it does not support. */
typedef EMBRT_Error* EMBRT_Engine_Create(EMBRT_Engine_Create_Args* args);

typedef struct EMBRT_Engine_Destroy_Args {
  size_t struct_size;
  EMBRT_Extension* extension_start;
  EMBRT_Engine* engine; /* may be NULL */
} EMBRT_Engine_Destroy_Args;
/* Waits for submitted work, then frees everything. */
typedef void EMBRT_Engine_Destroy(EMBRT_Engine_Destroy_Args* args);

typedef struct EMBRT_Engine_Enqueue_Args {
  size_t struct_size;
  EMBRT_Extension* extension_start;
  EMBRT_Engine* engine;
  int32_t replica; /* 0 <= replica < num_replicas */
  EMBRT_Mode mode;
  const EMBRT_FeatureInput* const* inputs; /* num_features entries, in feature order */
  size_t num_inputs;
  /* ABI 1.1: how long the host keeps `inputs` (the arrays, and the EMBRT_FeatureInput structs)
   * valid and unchanged. EMBRT_INPUT_LIFETIME_CALL (0, also every 1.0 host): for this call
   * only. EMBRT_INPUT_LIFETIME_STEP: until this replica's step is complete, that is until
   * its SendGradients returns (TRAINING) or its RecvActivations returns (INFERENCE), or until a
   * failed Enqueue returns. A plugin may then read the inputs in place instead of copying them;
   * what it needs after the step is complete (a deferred update) it copies before returning. */
  int32_t input_lifetime;
} EMBRT_Engine_Enqueue_Args;
#define EMBRT_INPUT_LIFETIME_CALL 0
#define EMBRT_INPUT_LIFETIME_STEP 1
/* Submits one step's ids for one replica. The plugin copies the inputs before returning and may
 * return before the lookup has run. Ids that are negative or >= vocabulary_size, or row splits
 * that are not ascending, are INVALID_ARGUMENT naming the feature, row and id; the plugin checks
 * them although the core already has, and never reads out of bounds. Enqueue while this replica
 * still has an unreceived step, or a training step without gradients, is FAILED_PRECONDITION. */
typedef EMBRT_Error* EMBRT_Engine_Enqueue(EMBRT_Engine_Enqueue_Args* args);

typedef struct EMBRT_Engine_RecvActivations_Args {
  size_t struct_size;
  EMBRT_Extension* extension_start;
  EMBRT_Engine* engine;
  int32_t replica;
  float* const* activations;      /* num_features caller-owned buffers, in feature order */
  const size_t* activation_sizes; /* floats in each buffer: product(output_shape) * dim */
  size_t num_activations;
} EMBRT_Engine_RecvActivations_Args;
/* Blocks until the replica's lookup is done and writes the activations straight into the
 * caller's buffers. Without a preceding Enqueue: FAILED_PRECONDITION. */
typedef EMBRT_Error* EMBRT_Engine_RecvActivations(EMBRT_Engine_RecvActivations_Args* args);

typedef struct EMBRT_Engine_SendGradients_Args {
  size_t struct_size;
  EMBRT_Extension* extension_start;
  EMBRT_Engine* engine;
  int32_t replica;
  const float* const* gradients; /* num_features entries; an entry may be NULL (zero gradient,
                                    rows still count as touched) */
  const size_t* gradient_sizes;  /* floats in each non-NULL entry, as activation_sizes */
  size_t num_gradients;
  const float* learning_rates; /* num_learning_rate_tags values, in tag order; may be NULL when
                                  there are no tags */
  size_t num_learning_rates;
} EMBRT_Engine_SendGradients_Args;
/* Submits the replica's gradients for the step it last received. The optimizer step of a table
 * runs when every replica of every host has sent its gradients: a row's gradient is summed over
 * features, samples and replicas first, in the canonical order of README rule 9, then each
 * touched row gets exactly one update. Dynamic learning rates are taken from replica 0's call.
 * After an INFERENCE enqueue, or without a received step: FAILED_PRECONDITION. NaN or Inf in a
 * gradient (unless allowed): INVALID_ARGUMENT naming feature and position, nothing applied. */
typedef EMBRT_Error* EMBRT_Engine_SendGradients(EMBRT_Engine_SendGradients_Args* args);

typedef struct EMBRT_Engine_LoadTableShard_Args {
  size_t struct_size;
  EMBRT_Extension* extension_start;
  EMBRT_Engine* engine;
  int32_t table;
  int32_t shard;      /* the host id whose rows these are; must be this host's */
  int64_t row_begin;  /* first local row of the shard */
  int64_t row_count;
  const float* const* slots; /* the optimizer's slots in layout order, each [row_count, dim] */
  size_t num_slots;
} EMBRT_Engine_LoadTableShard_Args;
/* Writes rows of parameters and slots. Called in chunks of any size; waits for submitted work
 * first. Out-of-range rows or a wrong slot count are INVALID_ARGUMENT. */
typedef EMBRT_Error* EMBRT_Engine_LoadTableShard(EMBRT_Engine_LoadTableShard_Args* args);

typedef struct EMBRT_Engine_RetrieveTableShard_Args {
  size_t struct_size;
  EMBRT_Extension* extension_start;
  EMBRT_Engine* engine;
  int32_t table;
  int32_t shard;
  int64_t row_begin;
  int64_t row_count;
  float* const* slots; /* caller-owned, the optimizer's slots in layout order */
  size_t num_slots;
} EMBRT_Engine_RetrieveTableShard_Args;
/* Reads rows of parameters and slots back, after all submitted work. */
typedef EMBRT_Error* EMBRT_Engine_RetrieveTableShard(EMBRT_Engine_RetrieveTableShard_Args* args);

typedef struct EMBRT_Engine_Synchronize_Args {
  size_t struct_size;
  EMBRT_Extension* extension_start;
  EMBRT_Engine* engine;
} EMBRT_Engine_Synchronize_Args;
/* Waits for all submitted work and reports any deferred error. */
typedef EMBRT_Error* EMBRT_Engine_Synchronize(EMBRT_Engine_Synchronize_Args* args);

/* ---------------------------------------------------------------------------------------------
 * Hosts (ABI 1.1)
 *
 * A plugin that claims `multi_host = 1` owns the transport between hosts (for the cpu backend,
 * Open MPI; one process per host). The core stays free of any transport and asks the plugin for
 * the few collective steps it needs itself. A plugin without multi-host support leaves these
 * slots NULL; the host then refuses num_hosts > 1 naming the `multi_host` attribute.
 *
 * Collectives (AgreeStatus, Barrier, AllGather) must be called by every host of the engine, in
 * the same order, from the thread that drives Load/Retrieve/Synchronize (never concurrently with
 * another call on the same engine). A transport failure is an error naming the host (rank) and
 * the operation; a host that dies makes the others fail, or the job end, within a bounded time,
 * never hang.
 * ------------------------------------------------------------------------------------------- */

typedef struct EMBRT_Plugin_HostTopology_Args {
  size_t struct_size;
  EMBRT_Extension* extension_start;
  int32_t num_hosts; /* out: hosts of the job this process belongs to (1 without a transport) */
  int32_t host_id;   /* out: this process's host, 0 <= host_id < num_hosts */
} EMBRT_Plugin_HostTopology_Args;
/* Where this process stands among the hosts, as the plugin's transport sees them (for MPI, the
 * world size and rank; initializes the transport on first use). A process started without a
 * launcher is one host: 1 and 0. The core calls it when the config leaves num_hosts to the
 * backend. Thread-safe. */
typedef EMBRT_Error* EMBRT_Plugin_HostTopology(EMBRT_Plugin_HostTopology_Args* args);

typedef struct EMBRT_Engine_AgreeStatus_Args {
  size_t struct_size;
  EMBRT_Extension* extension_start;
  EMBRT_Engine* engine;
  EMBRT_ErrorCode local_code; /* this host's status: EMBRT_CODE_OK or an error code */
  const char* local_message;  /* not NUL-terminated; ignored when local_code is OK */
  size_t local_message_size;
} EMBRT_Engine_AgreeStatus_Args;
/* Collective. Returns NULL on every host when every host passed EMBRT_CODE_OK; otherwise every
 * host returns an error with the code and message of the lowest-numbered failing host, the
 * message prefixed by "host <id>: ". The core calls it after validating a call locally and
 * before anything is exchanged, so that a bad input on one host fails that call everywhere. */
typedef EMBRT_Error* EMBRT_Engine_AgreeStatus(EMBRT_Engine_AgreeStatus_Args* args);

typedef struct EMBRT_Engine_Barrier_Args {
  size_t struct_size;
  EMBRT_Extension* extension_start;
  EMBRT_Engine* engine;
} EMBRT_Engine_Barrier_Args;
/* Collective. Returns once every host has called it (and all work each submitted before is
 * done on its device). Used before the checkpoint manifest is written. */
typedef EMBRT_Error* EMBRT_Engine_Barrier(EMBRT_Engine_Barrier_Args* args);

typedef struct EMBRT_Engine_AllGather_Args {
  size_t struct_size;
  EMBRT_Extension* extension_start;
  EMBRT_Engine* engine;
  const void* local;     /* `size` bytes of this host */
  size_t size;           /* the same on every host, else INVALID_ARGUMENT on every host */
  void* gathered;        /* out: caller-owned, num_hosts * size bytes, host h's at h * size */
} EMBRT_Engine_AllGather_Args;
/* Collective. Every host receives every host's bytes, in host order: config hashes compared at
 * engine creation, checkpoint checksums gathered for the manifest. */
typedef EMBRT_Error* EMBRT_Engine_AllGather(EMBRT_Engine_AllGather_Args* args);

/* ---------------------------------------------------------------------------------------------
 * The function table
 * ------------------------------------------------------------------------------------------- */

typedef struct EMBRT_Api {
  size_t struct_size; /* of the plugin's EMBRT_Api */
  int32_t abi_major;
  int32_t abi_minor;

  EMBRT_Error_Destroy* Error_Destroy;
  EMBRT_Error_Message* Error_Message;
  EMBRT_Error_GetCode* Error_GetCode;

  EMBRT_Plugin_Attributes* Plugin_Attributes;

  EMBRT_Engine_Create* Engine_Create;
  EMBRT_Engine_Destroy* Engine_Destroy;
  EMBRT_Engine_Enqueue* Engine_Enqueue;
  EMBRT_Engine_RecvActivations* Engine_RecvActivations;
  EMBRT_Engine_SendGradients* Engine_SendGradients;
  EMBRT_Engine_LoadTableShard* Engine_LoadTableShard;
  EMBRT_Engine_RetrieveTableShard* Engine_RetrieveTableShard;
  EMBRT_Engine_Synchronize* Engine_Synchronize;

  /* ABI 1.1: NULL in a plugin without multi-host support (check with EMBRT_API_HAS). */
  EMBRT_Plugin_HostTopology* Plugin_HostTopology;
  EMBRT_Engine_AgreeStatus* Engine_AgreeStatus;
  EMBRT_Engine_Barrier* Engine_Barrier;
  EMBRT_Engine_AllGather* Engine_AllGather;
} EMBRT_Api;

/* What the host tells the plugin about itself. */
typedef struct EMBRT_HostInfo {
  size_t struct_size;
  int32_t abi_major;
  int32_t abi_minor;
} EMBRT_HostInfo;

/* The one exported symbol. Returns a static table that lives as long as the process, or NULL
 * when the plugin cannot serve the host's ABI major version. Must not touch any hardware. */
#define EMBRT_GET_PLUGIN_API_SYMBOL "EMBRT_GetPluginApi"
typedef const EMBRT_Api* EMBRT_GetPluginApi_Fn(const EMBRT_HostInfo* host);

/* ---------------------------------------------------------------------------------------------
 * struct_size values of the current ABI (1.1), of ABI 1.0 where 1.1 grew a struct, and pinned
 * layouts (LP64)
 * ------------------------------------------------------------------------------------------- */

#define EMBRT_HostInfo_STRUCT_SIZE EMBRT_STRUCT_SIZE(EMBRT_HostInfo, abi_minor)
#define EMBRT_Api_STRUCT_SIZE EMBRT_STRUCT_SIZE(EMBRT_Api, Engine_AllGather)
#define EMBRT_Api_STRUCT_SIZE_1_0 EMBRT_STRUCT_SIZE(EMBRT_Api, Engine_Synchronize)
#define EMBRT_NamedValue_STRUCT_SIZE EMBRT_STRUCT_SIZE(EMBRT_NamedValue, float_value)
#define EMBRT_OptimizerDescription_STRUCT_SIZE \
  EMBRT_STRUCT_SIZE(EMBRT_OptimizerDescription, num_hyperparameters)
#define EMBRT_TableDescription_STRUCT_SIZE \
  EMBRT_STRUCT_SIZE(EMBRT_TableDescription, quantization_upper)
#define EMBRT_FeatureDescription_STRUCT_SIZE \
  EMBRT_STRUCT_SIZE(EMBRT_FeatureDescription, output_rank)
#define EMBRT_EngineDescription_STRUCT_SIZE \
  EMBRT_STRUCT_SIZE(EMBRT_EngineDescription, num_options)
#define EMBRT_FeatureInput_STRUCT_SIZE EMBRT_STRUCT_SIZE(EMBRT_FeatureInput, num_positions)
#define EMBRT_FeatureInput_STRUCT_SIZE_1_0 EMBRT_STRUCT_SIZE(EMBRT_FeatureInput, weights)
#define EMBRT_Error_Destroy_Args_STRUCT_SIZE EMBRT_STRUCT_SIZE(EMBRT_Error_Destroy_Args, error)
#define EMBRT_Error_Message_Args_STRUCT_SIZE \
  EMBRT_STRUCT_SIZE(EMBRT_Error_Message_Args, message_size)
#define EMBRT_Error_GetCode_Args_STRUCT_SIZE EMBRT_STRUCT_SIZE(EMBRT_Error_GetCode_Args, code)
#define EMBRT_Plugin_Attributes_Args_STRUCT_SIZE \
  EMBRT_STRUCT_SIZE(EMBRT_Plugin_Attributes_Args, num_attributes)
#define EMBRT_Engine_Create_Args_STRUCT_SIZE EMBRT_STRUCT_SIZE(EMBRT_Engine_Create_Args, engine)
#define EMBRT_Engine_Destroy_Args_STRUCT_SIZE EMBRT_STRUCT_SIZE(EMBRT_Engine_Destroy_Args, engine)
#define EMBRT_Engine_Enqueue_Args_STRUCT_SIZE \
  EMBRT_STRUCT_SIZE(EMBRT_Engine_Enqueue_Args, input_lifetime)
#define EMBRT_Engine_Enqueue_Args_STRUCT_SIZE_1_0 \
  EMBRT_STRUCT_SIZE(EMBRT_Engine_Enqueue_Args, num_inputs)
#define EMBRT_Engine_RecvActivations_Args_STRUCT_SIZE \
  EMBRT_STRUCT_SIZE(EMBRT_Engine_RecvActivations_Args, num_activations)
#define EMBRT_Engine_SendGradients_Args_STRUCT_SIZE \
  EMBRT_STRUCT_SIZE(EMBRT_Engine_SendGradients_Args, num_learning_rates)
#define EMBRT_Engine_LoadTableShard_Args_STRUCT_SIZE \
  EMBRT_STRUCT_SIZE(EMBRT_Engine_LoadTableShard_Args, num_slots)
#define EMBRT_Engine_RetrieveTableShard_Args_STRUCT_SIZE \
  EMBRT_STRUCT_SIZE(EMBRT_Engine_RetrieveTableShard_Args, num_slots)
#define EMBRT_Engine_Synchronize_Args_STRUCT_SIZE \
  EMBRT_STRUCT_SIZE(EMBRT_Engine_Synchronize_Args, engine)
#define EMBRT_Plugin_HostTopology_Args_STRUCT_SIZE \
  EMBRT_STRUCT_SIZE(EMBRT_Plugin_HostTopology_Args, host_id)
#define EMBRT_Engine_AgreeStatus_Args_STRUCT_SIZE \
  EMBRT_STRUCT_SIZE(EMBRT_Engine_AgreeStatus_Args, local_message_size)
#define EMBRT_Engine_Barrier_Args_STRUCT_SIZE EMBRT_STRUCT_SIZE(EMBRT_Engine_Barrier_Args, engine)
#define EMBRT_Engine_AllGather_Args_STRUCT_SIZE \
  EMBRT_STRUCT_SIZE(EMBRT_Engine_AllGather_Args, gathered)

#if defined(__LP64__) || defined(_LP64)
#ifdef __cplusplus
#define EMBRT_STATIC_ASSERT static_assert
#else
#define EMBRT_STATIC_ASSERT _Static_assert
#endif
EMBRT_STATIC_ASSERT(offsetof(EMBRT_Api, abi_major) == 8, "EMBRT_Api 1.0 layout");
EMBRT_STATIC_ASSERT(offsetof(EMBRT_Api, Error_Destroy) == 16, "EMBRT_Api 1.0 layout");
EMBRT_STATIC_ASSERT(offsetof(EMBRT_Api, Plugin_Attributes) == 40, "EMBRT_Api 1.0 layout");
EMBRT_STATIC_ASSERT(offsetof(EMBRT_Api, Engine_Synchronize) == 104, "EMBRT_Api 1.0 layout");
EMBRT_STATIC_ASSERT(EMBRT_Api_STRUCT_SIZE_1_0 == 112, "EMBRT_Api 1.0 layout");
EMBRT_STATIC_ASSERT(EMBRT_HostInfo_STRUCT_SIZE == 16, "EMBRT_HostInfo 1.0 layout");
EMBRT_STATIC_ASSERT(offsetof(EMBRT_NamedValue, type) == 24, "EMBRT_NamedValue 1.0 layout");
EMBRT_STATIC_ASSERT(offsetof(EMBRT_NamedValue, int64_value) == 48, "EMBRT_NamedValue 1.0");
EMBRT_STATIC_ASSERT(EMBRT_NamedValue_STRUCT_SIZE == 60, "EMBRT_NamedValue 1.0 layout");
EMBRT_STATIC_ASSERT(offsetof(EMBRT_OptimizerDescription, kind) == 16, "optimizer 1.0 layout");
EMBRT_STATIC_ASSERT(offsetof(EMBRT_OptimizerDescription, hyperparameters) == 56,
                    "EMBRT_OptimizerDescription 1.0 layout");
EMBRT_STATIC_ASSERT(EMBRT_OptimizerDescription_STRUCT_SIZE == 72,
                    "EMBRT_OptimizerDescription 1.0 layout");
EMBRT_STATIC_ASSERT(offsetof(EMBRT_TableDescription, vocabulary_size) == 32,
                    "EMBRT_TableDescription 1.0 layout");
EMBRT_STATIC_ASSERT(offsetof(EMBRT_TableDescription, shard_rows) == 56,
                    "EMBRT_TableDescription 1.0 layout");
EMBRT_STATIC_ASSERT(offsetof(EMBRT_TableDescription, quantization_num_buckets) == 64,
                    "EMBRT_TableDescription 1.0 layout");
EMBRT_STATIC_ASSERT(EMBRT_TableDescription_STRUCT_SIZE == 76,
                    "EMBRT_TableDescription 1.0 layout");
EMBRT_STATIC_ASSERT(offsetof(EMBRT_FeatureDescription, input_rows) == 40,
                    "EMBRT_FeatureDescription 1.0 layout");
EMBRT_STATIC_ASSERT(EMBRT_FeatureDescription_STRUCT_SIZE == 64,
                    "EMBRT_FeatureDescription 1.0 layout");
EMBRT_STATIC_ASSERT(offsetof(EMBRT_EngineDescription, per_replica_batch_size) == 48,
                    "EMBRT_EngineDescription 1.0 layout");
EMBRT_STATIC_ASSERT(offsetof(EMBRT_EngineDescription, options) == 80,
                    "EMBRT_EngineDescription 1.0 layout");
EMBRT_STATIC_ASSERT(EMBRT_EngineDescription_STRUCT_SIZE == 96,
                    "EMBRT_EngineDescription 1.0 layout");
EMBRT_STATIC_ASSERT(EMBRT_FeatureInput_STRUCT_SIZE_1_0 == 48, "EMBRT_FeatureInput 1.0 layout");
EMBRT_STATIC_ASSERT(EMBRT_Engine_Enqueue_Args_STRUCT_SIZE_1_0 == 48, "Enqueue args 1.0 layout");
EMBRT_STATIC_ASSERT(EMBRT_Engine_RecvActivations_Args_STRUCT_SIZE == 56,
                    "RecvActivations args 1.0 layout");
EMBRT_STATIC_ASSERT(EMBRT_Engine_SendGradients_Args_STRUCT_SIZE == 72,
                    "SendGradients args 1.0 layout");
EMBRT_STATIC_ASSERT(EMBRT_Engine_LoadTableShard_Args_STRUCT_SIZE == 64,
                    "LoadTableShard args 1.0 layout");
EMBRT_STATIC_ASSERT(EMBRT_Engine_RetrieveTableShard_Args_STRUCT_SIZE == 64,
                    "RetrieveTableShard args 1.0 layout");
/* ABI 1.1 */
EMBRT_STATIC_ASSERT(offsetof(EMBRT_Api, Plugin_HostTopology) == 112, "EMBRT_Api 1.1 layout");
EMBRT_STATIC_ASSERT(offsetof(EMBRT_Api, Engine_AllGather) == 136, "EMBRT_Api 1.1 layout");
EMBRT_STATIC_ASSERT(EMBRT_Api_STRUCT_SIZE == 144, "EMBRT_Api 1.1 layout");
EMBRT_STATIC_ASSERT(offsetof(EMBRT_FeatureInput, positions) == 48, "EMBRT_FeatureInput 1.1");
EMBRT_STATIC_ASSERT(EMBRT_FeatureInput_STRUCT_SIZE == 64, "EMBRT_FeatureInput 1.1 layout");
EMBRT_STATIC_ASSERT(offsetof(EMBRT_Engine_Enqueue_Args, input_lifetime) == 48,
                    "Enqueue args 1.1 layout");
EMBRT_STATIC_ASSERT(EMBRT_Engine_Enqueue_Args_STRUCT_SIZE == 52, "Enqueue args 1.1 layout");
EMBRT_STATIC_ASSERT(EMBRT_Plugin_HostTopology_Args_STRUCT_SIZE == 24,
                    "HostTopology args 1.1 layout");
EMBRT_STATIC_ASSERT(offsetof(EMBRT_Engine_AgreeStatus_Args, local_code) == 24,
                    "AgreeStatus args 1.1 layout");
EMBRT_STATIC_ASSERT(EMBRT_Engine_AgreeStatus_Args_STRUCT_SIZE == 48,
                    "AgreeStatus args 1.1 layout");
EMBRT_STATIC_ASSERT(EMBRT_Engine_Barrier_Args_STRUCT_SIZE == 24, "Barrier args 1.1 layout");
EMBRT_STATIC_ASSERT(EMBRT_Engine_AllGather_Args_STRUCT_SIZE == 48, "AllGather args 1.1 layout");
#undef EMBRT_STATIC_ASSERT
#endif /* LP64 */

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* EMBRT_PLUGIN_API_H_ */
