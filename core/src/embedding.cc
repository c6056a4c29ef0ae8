// Copyright embrt authors.
//
// embrt::Embedding: the per-replica step state machine around one plugin engine.
//
// Ownership of state, and who may touch it:
//   * set at Create / Build, read-only afterwards: the resolved config, the plugin, the feature
//     layouts and output shapes, the engine pointer;
//   * per replica (Replica): touched only by calls for that replica, which the caller serializes
//     (embedding.h), so different replicas never share mutable memory;
//   * shared between replicas: lazy table initialization (init_mutex_), the step counters
//     (step_mutex_) and the warning sink (warning_mutex_).

#include "embrt/embedding.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "all_finite.h"
#include "checked_math.h"
#include "device_description.h"
#include "embrt/sharding.h"
#include "embrt/status_macros.h"
#include "initializers.h"
#include "input_conversion.h"
#include "multi_host.h"
#include "plugin_loader.h"

namespace embrt {
namespace {

constexpr int64_t kDefaultChunkBytes = int64_t{16} << 20;

std::string ShapeText(absl::Span<const int64_t> shape) {
  return absl::StrCat("[", absl::StrJoin(shape, ", "), "]");
}

// The product of a shape that Build already checked (CheckOutputShape): it cannot overflow.
int64_t Product(absl::Span<const int64_t> shape) {
  return internal::CheckedProduct(shape).value_or(-1);
}

absl::string_view CombinerName(Combiner combiner) {
  switch (combiner) {
    case SUM:
      return "sum";
    case SQRTN:
      return "sqrtn";
    default:
      return "mean";
  }
}

// The value of attribute `name`, or `fallback` when the plugin does not report it.
std::string Attribute(const internal::LoadedPlugin& plugin, absl::string_view name,
                      absl::string_view fallback) {
  for (const auto& [key, value] : plugin.attributes) {
    if (key == name) return value;
  }
  return std::string(fallback);
}

bool ListContains(absl::string_view list, absl::string_view item) {
  for (absl::string_view entry : absl::StrSplit(list, ',', absl::SkipWhitespace())) {
    if (absl::StripAsciiWhitespace(entry) == item) return true;
  }
  return false;
}

// UNIMPLEMENTED when a table needs an optimizer, combiner or dim the plugin does not offer.
absl::Status CheckBackendSupports(const ResolvedConfig& config,
                                  const internal::LoadedPlugin& plugin) {
  const std::string name = Attribute(plugin, "name", plugin.path);
  const std::string optimizers =
      Attribute(plugin, "optimizers", "sgd,adagrad,adagrad_momentum,adam,ftrl");
  const std::string combiners = Attribute(plugin, "combiners", "sum,mean,sqrtn");
  int64_t max_dim = 0;
  if (!absl::SimpleAtoi(Attribute(plugin, "max_dim", "0"), &max_dim)) max_dim = 0;
  for (const ResolvedTable& table : config.tables) {
    const absl::string_view optimizer = OptimizerKindName(table.optimizer.kind);
    if (!ListContains(optimizers, optimizer)) {
      return absl::UnimplementedError(absl::StrCat(
          "backend '", name, "' (", plugin.path, ") does not support optimizer '", optimizer,
          "' of table '", table.name, "'; it supports: ", optimizers));
    }
    const absl::string_view combiner = CombinerName(table.combiner);
    if (!ListContains(combiners, combiner)) {
      return absl::UnimplementedError(absl::StrCat(
          "backend '", name, "' (", plugin.path, ") does not support combiner '", combiner,
          "' of table '", table.name, "'; it supports: ", combiners));
    }
    if (max_dim > 0 && table.dim > max_dim) {
      return absl::UnimplementedError(absl::StrCat(
          "backend '", name, "' (", plugin.path, ") supports dim up to ", max_dim,
          ", but table '", table.name, "' has dim ", table.dim));
    }
  }
  return absl::OkStatus();
}

void DefaultWarningSink(absl::string_view message) {
  std::fprintf(stderr, "embrt warning: %.*s\n", static_cast<int>(message.size()),
               message.data());
}

// Arguments of Engine_LoadTableShard or Engine_RetrieveTableShard for rows
// [begin, begin + count) of `table` on `shard`, one pointer per slot.
template <typename Args, typename SlotPointer>
Args TableShardArgs(size_t struct_size, EMBRT_Engine* engine, int table, int shard, int64_t begin,
                    int64_t count, std::vector<SlotPointer>& slots) {
  Args args{};
  args.struct_size = struct_size;
  args.engine = engine;
  args.table = table;
  args.shard = shard;
  args.row_begin = begin;
  args.row_count = count;
  args.slots = slots.data();
  args.num_slots = slots.size();
  return args;
}

// "<call> (table '<name>', rows <begin>..<end>)", for errors of a chunked load or retrieve.
std::string ChunkCallText(absl::string_view call, const std::string& table, int64_t begin,
                          int64_t count) {
  return absl::StrCat(call, " (table '", table, "', rows ", begin, "..", begin + count, ")");
}

// Feature f's weights in an Enqueue's `weights`, which is empty when the caller gave none.
const std::optional<FeatureWeights>& WeightsOf(
    absl::Span<const std::optional<FeatureWeights>> weights, int f) {
  static const std::optional<FeatureWeights> kNoWeights;
  return weights.empty() ? kNoWeights : weights[f];
}

}  // namespace

class Embedding::Impl {
 public:
  Impl(ResolvedConfig config, EmbeddingOptions options, internal::LoadedPlugin plugin)
      : config_(std::move(config)), options_(std::move(options)), plugin_(std::move(plugin)) {
    backend_.path = plugin_.path;
    backend_.attributes = plugin_.attributes;
    plugin_checks_inputs_ = Attribute(plugin_, "checks_ids_and_gradients", "0") == "1";
    if (!options_.warning_sink) options_.warning_sink = DefaultWarningSink;
    const int replicas = config_.config.num_replicas();
    replica_steps_.assign(replicas, 0);
  }

  ~Impl() {
    if (engine_ != nullptr) {
      EMBRT_Engine_Destroy_Args args{};
      args.struct_size = EMBRT_Engine_Destroy_Args_STRUCT_SIZE;
      args.engine = engine_;
      api()->Engine_Destroy(&args);
    }
  }

  absl::Status Build(int batch_size, absl::Span<const std::vector<int64_t>> given_shapes);
  // INVALID_ARGUMENT when feature f's output shape (dimensions >= 1) overflows with its dim.
  absl::Status CheckOutputShape(int f, absl::Span<const int64_t> shape) const;
  bool built() const { return engine_ != nullptr; }
  // TF's auto-build (_maybe_build): the first Enqueue without a Build builds with the output
  // shapes its inputs imply.
  absl::Status AutoBuild(absl::Span<const FeatureInput> features);
  bool tables_initialized() const {
    return tables_initialized_.load(std::memory_order_acquire);
  }

  absl::Status Enqueue(absl::Span<const FeatureInput> features,
                       absl::Span<const std::optional<FeatureWeights>> weights, bool training,
                       int replica);
  // Receives the activations into the buffers in the replica's activation_pointers.
  absl::Status Receive(int replica);
  absl::StatusOr<std::vector<Tensor>> Dequeue(int replica);
  absl::Status DequeueIntoSpans(absl::Span<const absl::Span<float>> outputs, int replica);
  absl::Status ApplyGradients(absl::Span<const std::optional<TensorView>> gradients,
                              int replica);
  // The local checks of Enqueue and ApplyGradients (every host agrees on their status).
  absl::Status PrepareEnqueue(absl::Span<const FeatureInput> features,
                              absl::Span<const std::optional<FeatureWeights>> weights,
                              int replica);
  absl::Status PrepareGradients(absl::Span<const std::optional<TensorView>> gradients,
                                int replica, int64_t* step);
  // INVALID_ARGUMENT naming the first id out of range in `features` (everything else already
  // checked by PrepareEnqueue), in ConvertFeatureInput's words; OK when every id is in range.
  absl::Status CheckIdRanges(absl::Span<const FeatureInput> features,
                             absl::Span<const std::optional<FeatureWeights>> weights) const;
  // INVALID_ARGUMENT naming the first NaN or Inf of `gradients` (shapes already checked).
  absl::Status CheckFiniteGradients(absl::Span<const std::optional<TensorView>> gradients,
                                    int replica) const;
  bool multi_host() const { return config_.config.num_hosts() > 1; }
  // Whether the core reads every id and gradient value itself before the plugin does. One host
  // leaves that pass to a plugin that declares checks_ids_and_gradients = 1 (plugin rules 13
  // and 26: it rejects them changing nothing), which saves a read of every id and gradient per
  // step; any other plugin may rely on the core, and several hosts check before they agree.
  bool core_checks_inputs() const { return multi_host() || !plugin_checks_inputs_; }
  absl::Status Synchronize();
  absl::Status AgreeOnStatus(const absl::Status& local);
  absl::Status HostBarrier();
  absl::StatusOr<std::vector<std::string>> AllGatherFromHosts(absl::string_view local);
  absl::Status LoadTables(const RowFiller& fill);
  absl::Status LoadTablesFrom(const RowSource& source);
  absl::Status RetrieveTables(const RowSink& sink);

  const ResolvedConfig& config() const { return config_; }
  const BackendInfo& backend() const { return backend_; }
  const std::vector<int64_t>& output_shape(int feature) const {
    return layouts_[feature].output_shape;
  }
  int64_t output_size(int feature) const { return output_sizes_[feature]; }
  int64_t step() const {
    absl::MutexLock lock(&step_mutex_);
    return *std::min_element(replica_steps_.begin(), replica_steps_.end());
  }
  void set_step(int64_t step) {
    absl::MutexLock lock(&step_mutex_);
    std::fill(replica_steps_.begin(), replica_steps_.end(), step);
  }

  absl::Status CheckSchedules() const;

 private:
  enum class Phase {
    kIdle,              // no step in flight
    kEnqueued,          // ids submitted, activations not yet received
    kAwaitingGradients  // a training step was dequeued; ApplyGradients must follow
  };

  // Everything one replica's calls touch, preallocated at Build.
  struct Replica {
    Phase phase = Phase::kIdle;
    bool last_training = true;  // mode of the last enqueue
    std::vector<internal::CsrFeature> csr;
    std::vector<EMBRT_FeatureInput> inputs;
    std::vector<const EMBRT_FeatureInput*> input_pointers;
    int32_t input_lifetime = EMBRT_INPUT_LIFETIME_CALL;  // of `inputs`, see PrepareEnqueue
    std::vector<float*> activation_pointers;
    std::vector<size_t> sizes;
    std::vector<const float*> gradient_pointers;
    std::vector<float> learning_rates;
  };

  const EMBRT_Api* api() const { return plugin_.api; }
  int num_features() const { return static_cast<int>(config_.features.size()); }
  std::string Label(int feature) const {
    return absl::StrCat("feature '", config_.features[feature].name, "' (#", feature,
                        ", table '", config_.tables[config_.features[feature].table_index].name,
                        "')");
  }
  std::string BackendLabel() const {
    return absl::StrCat("backend '", Attribute(plugin_, "name", plugin_.path), "'");
  }
  // `call` is only formatted on error: a steady-state step allocates nothing here.
  template <typename CallText>
  absl::Status Consume(EMBRT_Error* error, CallText&& call) const {
    if (error == nullptr) return absl::OkStatus();
    return internal::ConsumeError(api(), error, absl::StrCat(BackendLabel(), " ", call()));
  }

  absl::Status CheckBuilt(absl::string_view call) const {
    if (built()) return absl::OkStatus();
    return absl::FailedPreconditionError(absl::StrCat(
        call, " before Build: call Build(per_replica_batch_size) or BuildWithOutputShapes "
        "first"));
  }
  absl::Status CheckReplica(absl::string_view call, int replica) const {
    if (replica >= 0 && replica < static_cast<int>(replicas_.size())) return absl::OkStatus();
    return absl::InvalidArgumentError(absl::StrCat(
        call, ": replica ", replica, " is out of range; this host drives ", replicas_.size(),
        " replicas (0..", replicas_.size() - 1, ")"));
  }

  int64_t ChunkRows(const ResolvedTable& table) const {
    if (options_.chunk_rows > 0) return options_.chunk_rows;
    const int64_t slots = static_cast<int64_t>(SlotNames(table.optimizer.kind).size());
    return std::max<int64_t>(1, kDefaultChunkBytes / (int64_t{table.dim} * 4 * slots));
  }
  int64_t LocalRows(const ResolvedTable& table) const {
    return ShardRows(table.vocabulary_size, config_.config.num_hosts(), config_.config.host_id());
  }

  // One chunk of a table's local rows: slot buffers of `count` rows each, reused from chunk to
  // chunk (each buffer holds at least count * table.dim floats).
  using ChunkVisitor =
      absl::FunctionRef<absl::Status(int table_index, const ResolvedTable& table, int64_t begin,
                                     int64_t count, std::vector<std::vector<float>>& slot_buffers)>;
  // Calls `visit` for every chunk of at most ChunkRows(table) local rows of every table, tables
  // and rows in order; stops at the first error.
  absl::Status ForEachTableChunk(ChunkVisitor visit) const;

  // Loads every table in chunks; `fill` writes a chunk's slots.
  absl::Status LoadAllTables(const RowFiller& fill) ABSL_EXCLUSIVE_LOCKS_REQUIRED(init_mutex_);
  absl::Status EnsureTablesInitialized();

  ResolvedConfig config_;
  EmbeddingOptions options_;
  internal::LoadedPlugin plugin_;
  bool plugin_checks_inputs_ = false;  // its attribute checks_ids_and_gradients is 1
  BackendInfo backend_;

  // Set by Build.
  std::vector<internal::FeatureLayout> layouts_;
  std::vector<int64_t> output_sizes_;
  std::vector<int32_t> dims_;
  std::unique_ptr<internal::DeviceDescription> description_;
  EMBRT_Engine* engine_ = nullptr;
  std::vector<Replica> replicas_;

  absl::Mutex init_mutex_;
  std::atomic<bool> tables_initialized_{false};
  absl::Mutex auto_build_mutex_;  // serializes AutoBuild

  mutable absl::Mutex step_mutex_;
  // Per replica, the step its next ApplyGradients applies; step() is the minimum.
  std::vector<int64_t> replica_steps_ ABSL_GUARDED_BY(step_mutex_);

  absl::Mutex warning_mutex_;
};

absl::Status Embedding::Impl::CheckSchedules() const {
  for (const std::string& tag : config_.learning_rate_tags) {
    auto it = options_.learning_rate_schedules.find(tag);
    if (it == options_.learning_rate_schedules.end()) {
      return absl::NotFoundError(absl::StrCat(
          "dynamic learning rate '", tag, "' named by the config has no schedule in "
          "EmbeddingOptions::learning_rate_schedules"));
    }
    if (!it->second) {
      return absl::InvalidArgumentError(absl::StrCat(
          "the schedule of dynamic learning rate '", tag, "' is an empty function"));
    }
  }
  return absl::OkStatus();
}

absl::Status Embedding::Impl::CheckOutputShape(int f, absl::Span<const int64_t> shape) const {
  // The activations of one replica, shape x dim floats, must be countable in int64 and
  // addressable in bytes, and the rows a plugin sees (at most the shape's product) must fit the
  // ABI's int32 row splits. A wrapped product would build a feature of 0 or negative rows.
  const int32_t dim = config_.tables[config_.features[f].table_index].dim;
  const std::optional<int64_t> elements = internal::CheckedProduct(shape);
  const std::optional<int64_t> floats =
      elements.has_value() ? internal::CheckedMul<int64_t>(*elements, dim) : std::nullopt;
  if (!floats.has_value() || !internal::CheckedBytes(*floats, sizeof(float), 1).has_value()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Build: output shape ", ShapeText(shape), " of ", Label(f), " x dim ", dim,
        " has more elements than int64 can count"));
  }
  if (*elements > std::numeric_limits<int32_t>::max()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Build: output shape ", ShapeText(shape), " of ", Label(f), " has ", *elements,
        " elements; at most ", std::numeric_limits<int32_t>::max(),
        " rows per replica fit the plugin ABI's int32 row splits"));
  }
  return absl::OkStatus();
}

absl::Status Embedding::Impl::Build(int batch_size,
                                    absl::Span<const std::vector<int64_t>> given_shapes) {
  if (built()) {
    return absl::FailedPreconditionError("Build: the embedding is already built");
  }
  const int features = num_features();
  if (!given_shapes.empty() && static_cast<int>(given_shapes.size()) != features) {
    return absl::InvalidArgumentError(absl::StrCat(
        "BuildWithOutputShapes: got ", given_shapes.size(), " output shapes for ", features,
        " features"));
  }
  if (batch_size == 0) batch_size = config_.config.per_replica_batch_size();
  if (batch_size == 0 && !given_shapes.empty() && !given_shapes[0].empty()) {
    const int64_t leading = given_shapes[0][0];
    if (leading > std::numeric_limits<int>::max()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "BuildWithOutputShapes: the batch size ", leading, " of ", Label(0),
          "'s output shape ", ShapeText(given_shapes[0]), " does not fit int"));
    }
    batch_size = static_cast<int>(leading);
  }
  if (batch_size <= 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Build: per_replica_batch_size must be >= 1, got ", batch_size,
        " (neither the argument nor the config sets it)"));
  }

  // Output shapes in TF's priority: the feature's config > the given shapes > the batch.
  ResolvedConfig built_config = config_;
  std::vector<std::vector<int64_t>> shapes(features);
  std::vector<int64_t> input_rows(features);
  std::vector<std::string> warnings;
  for (int f = 0; f < features; ++f) {
    ResolvedFeature& feature = built_config.features[f];
    const int32_t length = feature.max_sequence_length;
    const bool config_shape = !feature.output_shape.empty();
    if (config_shape) {
      shapes[f] = feature.output_shape;
    } else if (!given_shapes.empty()) {
      shapes[f] = given_shapes[f];
    } else if (length > 0) {
      shapes[f] = {batch_size, length};
    } else {
      shapes[f] = {batch_size};
    }
    if (shapes[f].empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("Build: the output shape of ", Label(f), " is empty"));
    }
    for (int64_t d : shapes[f]) {
      if (d < 1) {
        return absl::InvalidArgumentError(absl::StrCat(
            "Build: output shape ", ShapeText(shapes[f]), " of ", Label(f),
            " is not fully defined (every dimension must be >= 1)"));
      }
    }
    EMBRT_RETURN_IF_ERROR(CheckOutputShape(f, shapes[f]));
    if (length > 0) {
      if (!config_shape && shapes[f].size() == 2 && shapes[f][1] == length) {
        input_rows[f] = shapes[f][0];
      } else {
        // TF's newest TPU path: the feature's own output_shape overrides the sequence length
        // (and so does a given shape other than [rows, max_sequence_length]).
        warnings.push_back(absl::StrCat(
            Label(f), " has max_sequence_length ", length, " but output shape ",
            ShapeText(shapes[f]), "; the sequence length is ignored"));
        feature.max_sequence_length = 0;
        input_rows[f] = Product(shapes[f]);
      }
    } else {
      input_rows[f] = Product(shapes[f]);
    }
    feature.output_shape = shapes[f];
  }

  auto description = std::make_unique<internal::DeviceDescription>(built_config, batch_size,
                                                                   shapes, input_rows);
  EMBRT_Engine_Create_Args args{};
  args.struct_size = EMBRT_Engine_Create_Args_STRUCT_SIZE;
  args.description = description->get();
  EMBRT_RETURN_IF_ERROR(Consume(api()->Engine_Create(&args), [] { return "Engine_Create"; }));
  if (args.engine == nullptr) {
    return absl::InternalError(
        absl::StrCat(BackendLabel(), " Engine_Create returned OK but no engine"));
  }
  if (built_config.config.num_hosts() > 1) {
    absl::Status same =
        internal::CheckSameConfigOnEveryHost(api(), args.engine, built_config, batch_size, shapes);
    if (!same.ok()) {
      EMBRT_Engine_Destroy_Args destroy{};
      destroy.struct_size = EMBRT_Engine_Destroy_Args_STRUCT_SIZE;
      destroy.engine = args.engine;
      api()->Engine_Destroy(&destroy);
      return same;
    }
  }

  config_ = std::move(built_config);
  description_ = std::move(description);
  engine_ = args.engine;
  layouts_.resize(features);
  output_sizes_.resize(features);
  dims_.resize(features);
  for (int f = 0; f < features; ++f) {
    internal::FeatureLayout& layout = layouts_[f];
    layout.feature_index = f;
    layout.feature = &config_.features[f];
    layout.table = &config_.tables[config_.features[f].table_index];
    layout.output_shape = shapes[f];
    layout.input_rows = input_rows[f];
    dims_[f] = layout.table->dim;
    output_sizes_[f] = Product(shapes[f]) * dims_[f];
  }
  replicas_.resize(config_.config.num_replicas());
  for (Replica& replica : replicas_) {
    replica.csr.resize(features);
    replica.inputs.assign(features, EMBRT_FeatureInput{});
    replica.input_pointers.resize(features);
    for (int f = 0; f < features; ++f) replica.input_pointers[f] = &replica.inputs[f];
    replica.activation_pointers.assign(features, nullptr);
    replica.sizes.resize(features);
    for (int f = 0; f < features; ++f) replica.sizes[f] = static_cast<size_t>(output_sizes_[f]);
    replica.gradient_pointers.assign(features, nullptr);
    replica.learning_rates.assign(config_.learning_rate_tags.size(), 0.0f);
  }
  for (const std::string& warning : warnings) options_.warning_sink(warning);
  return absl::OkStatus();
}

namespace {

// The output shape (without dim) an input implies, as TF's auto-build infers it: dense ids of
// shape S give S (rank >= 2: S without its last dimension, which must be 1); sparse ids give
// dense_shape without the bag axis; ragged ids give [rows]. A sequence feature's rank-2 sparse
// or ragged input gives [rows, max_sequence_length].
absl::StatusOr<std::vector<int64_t>> InferredOutputShape(const ResolvedFeature& feature,
                                                         const FeatureInput& input,
                                                         const std::string& label) {
  std::vector<int64_t> shape;
  switch (input.kind) {
    case InputKind::kDense:
      shape = input.shape.empty()
                  ? std::vector<int64_t>{static_cast<int64_t>(input.values.size())}
                  : input.shape;
      if (shape.size() >= 2) {
        if (shape.back() != 1) {
          return absl::InvalidArgumentError(absl::StrCat(
              "Enqueue (building from the first inputs): ", label, ": a dense input of rank ",
              shape.size(), " must have a last dimension of 1, got shape ", ShapeText(shape)));
        }
        shape.pop_back();
      }
      break;
    case InputKind::kSparse:
      if (input.shape.size() < 2) {
        return absl::InvalidArgumentError(absl::StrCat(
            "Enqueue (building from the first inputs): ", label,
            ": a sparse input must have rank 2 or more, got dense_shape ",
            ShapeText(input.shape)));
      }
      shape.assign(input.shape.begin(), input.shape.end() - 1);
      break;
    case InputKind::kRagged:
      if (input.row_splits.empty()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "Enqueue (building from the first inputs): ", label, ": ragged row_splits are empty"));
      }
      shape = {static_cast<int64_t>(input.row_splits.size()) - 1};
      break;
  }
  if (feature.max_sequence_length > 0 && input.kind != InputKind::kDense && shape.size() == 1) {
    shape.push_back(feature.max_sequence_length);
  }
  return shape;
}

}  // namespace

absl::Status Embedding::Impl::AutoBuild(absl::Span<const FeatureInput> features) {
  absl::MutexLock lock(&auto_build_mutex_);
  if (built()) return absl::OkStatus();
  const int count = num_features();
  if (static_cast<int>(features.size()) != count) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Enqueue: got ", features.size(), " feature inputs, the config has ", count,
        " features"));
  }
  std::vector<std::vector<int64_t>> shapes(count);
  for (int f = 0; f < count; ++f) {
    EMBRT_ASSIGN_OR_RETURN(shapes[f],
                           InferredOutputShape(config_.features[f], features[f], Label(f)));
  }
  return Build(0, shapes);
}

absl::Status Embedding::Impl::ForEachTableChunk(ChunkVisitor visit) const {
  std::vector<std::vector<float>> buffers;
  for (int t = 0; t < static_cast<int>(config_.tables.size()); ++t) {
    const ResolvedTable& table = config_.tables[t];
    const size_t slots = SlotNames(table.optimizer.kind).size();
    const int64_t rows = LocalRows(table);
    const int64_t chunk = std::min(ChunkRows(table), std::max<int64_t>(rows, 1));
    buffers.resize(slots);
    for (size_t s = 0; s < slots; ++s) buffers[s].resize(chunk * table.dim);
    for (int64_t begin = 0; begin < rows; begin += chunk) {
      EMBRT_RETURN_IF_ERROR(visit(t, table, begin, std::min(chunk, rows - begin), buffers));
    }
  }
  return absl::OkStatus();
}

absl::Status Embedding::Impl::LoadAllTables(const RowFiller& fill) {
  std::vector<absl::Span<float>> spans;
  std::vector<const float*> pointers;
  return ForEachTableChunk([&](int t, const ResolvedTable& table, int64_t begin, int64_t count,
                               std::vector<std::vector<float>>& buffers) -> absl::Status {
    spans.resize(buffers.size());
    pointers.resize(buffers.size());
    for (size_t s = 0; s < buffers.size(); ++s) {
      spans[s] = absl::MakeSpan(buffers[s].data(), count * table.dim);
      pointers[s] = buffers[s].data();
    }
    EMBRT_RETURN_IF_ERROR(fill(t, begin, count, spans));
    auto args = TableShardArgs<EMBRT_Engine_LoadTableShard_Args>(
        EMBRT_Engine_LoadTableShard_Args_STRUCT_SIZE, engine_, t, config_.config.host_id(), begin,
        count, pointers);
    return Consume(api()->Engine_LoadTableShard(&args), [&] {
      return ChunkCallText("Engine_LoadTableShard", table.name, begin, count);
    });
  });
}

absl::Status Embedding::Impl::EnsureTablesInitialized() {
  if (tables_initialized_.load(std::memory_order_acquire)) return absl::OkStatus();
  absl::MutexLock lock(&init_mutex_);
  if (tables_initialized_.load(std::memory_order_relaxed)) return absl::OkStatus();
  const int host = config_.config.host_id();
  EMBRT_RETURN_IF_ERROR(LoadAllTables(
      [&](int table, int64_t begin, int64_t count, absl::Span<const absl::Span<float>> slots) {
        internal::FillInitialParameters(config_, table, host, begin, count, slots[0]);
        const std::vector<float>& initial = config_.tables[table].optimizer.slot_initial_values;
        for (size_t s = 1; s < slots.size(); ++s) {
          std::fill(slots[s].begin(), slots[s].end(), initial[s - 1]);
        }
        return absl::OkStatus();
      }));
  tables_initialized_.store(true, std::memory_order_release);
  return absl::OkStatus();
}

absl::Status Embedding::Impl::Enqueue(absl::Span<const FeatureInput> features,
                                      absl::Span<const std::optional<FeatureWeights>> weights,
                                      bool training, int replica_index) {
  if (!built()) EMBRT_RETURN_IF_ERROR(AutoBuild(features));
  absl::Status local = PrepareEnqueue(features, weights, replica_index);
  // Several hosts: a bad input on one host fails this call on every host, before any exchange.
  if (multi_host() && built()) local = internal::AgreeOnStatus(api(), engine_, local);
  EMBRT_RETURN_IF_ERROR(local);
  Replica& replica = replicas_[replica_index];
  EMBRT_Engine_Enqueue_Args args{};
  args.struct_size = EMBRT_Engine_Enqueue_Args_STRUCT_SIZE;
  args.engine = engine_;
  args.replica = replica_index;
  args.mode = training ? EMBRT_MODE_TRAINING : EMBRT_MODE_INFERENCE;
  args.inputs = replica.input_pointers.data();
  args.num_inputs = replica.input_pointers.size();
  args.input_lifetime = replica.input_lifetime;
  absl::Status enqueued = Consume(api()->Engine_Enqueue(&args), [&] {
    return absl::StrCat("Engine_Enqueue (replica ", replica_index, ")");
  });
  if (!enqueued.ok()) {
    // One host leaves the range of the ids the plugin reads in place to the plugin (see
    // PrepareEnqueue): its rejection in the core's words (feature, table, row, position, id).
    if (enqueued.code() == absl::StatusCode::kInvalidArgument && !core_checks_inputs()) {
      EMBRT_RETURN_IF_ERROR(CheckIdRanges(features, weights));
    }
    return enqueued;
  }
  replica.phase = Phase::kEnqueued;
  replica.last_training = training;
  return absl::OkStatus();
}

absl::Status Embedding::Impl::PrepareEnqueue(
    absl::Span<const FeatureInput> features,
    absl::Span<const std::optional<FeatureWeights>> weights, int replica_index) {
  EMBRT_RETURN_IF_ERROR(CheckBuilt("Enqueue"));
  EMBRT_RETURN_IF_ERROR(CheckReplica("Enqueue", replica_index));
  Replica& replica = replicas_[replica_index];
  if (replica.phase == Phase::kEnqueued) {
    return absl::FailedPreconditionError(absl::StrCat(
        "Enqueue for replica ", replica_index,
        " while its previous step is still pending: Dequeue it first"));
  }
  if (replica.phase == Phase::kAwaitingGradients) {
    return absl::FailedPreconditionError(absl::StrCat(
        "Enqueue for replica ", replica_index,
        " while its previous training step awaits ApplyGradients"));
  }
  const int count = num_features();
  if (static_cast<int>(features.size()) != count) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Enqueue: got ", features.size(), " feature inputs, the config has ", count,
        " features"));
  }
  if (!weights.empty() && static_cast<int>(weights.size()) != count) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Enqueue: got ", weights.size(), " weights, expected none or one per feature (", count,
        ")"));
  }
  // Convert every feature before anything reaches the plugin: a bad one enqueues nothing.
  // Ids the plugin reads in place are range-checked only by a plugin that declares it checks
  // them (core_checks_inputs): a pass here would read every id once more per step. Enqueue
  // words that plugin's error (CheckIdRanges).
  const internal::IdCheck id_check =
      core_checks_inputs() ? internal::IdCheck::kAll : internal::IdCheck::kLeaveToPlugin;
  bool borrowed = false;  // some feature's ids or weights are the caller's arrays
  for (int f = 0; f < count; ++f) {
    EMBRT_RETURN_IF_ERROR(internal::ConvertFeatureInput(
        layouts_[f], features[f], WeightsOf(weights, f), &replica.csr[f], id_check));
    const internal::CsrFeature& csr = replica.csr[f];
    EMBRT_FeatureInput& input = replica.inputs[f];
    input.struct_size = EMBRT_FeatureInput_STRUCT_SIZE;
    input.ids = csr.id_view.data();
    input.num_ids = csr.id_view.size();
    input.row_splits = csr.row_splits.data();
    input.num_row_splits = csr.row_splits.size();
    input.weights = csr.weight_view.empty() ? nullptr : csr.weight_view.data();
    borrowed = borrowed || csr.borrowed;
    if (!csr.positions.empty() && api()->abi_minor < 1) {
      // A 1.0 plugin reads the k-th id of a row at position k: holes would land elsewhere.
      return absl::UnimplementedError(absl::StrCat(
          Label(f), ": a sparse sequence input with holes (a row with an id at a position after "
          "an empty one) needs sequence positions, which ", BackendLabel(),
          " does not read: it implements plugin ABI 1.", api()->abi_minor,
          " and positions came with ABI 1.1"));
    }
    input.positions = csr.positions.empty() ? nullptr : csr.positions.data();
    input.num_positions = csr.positions.size();
  }
  // The core's own buffers stay unchanged until this replica's next Enqueue, so the plugin may
  // read them in place until the step is complete; the caller's arrays only for this call,
  // unless the caller promised more (EmbeddingOptions::inputs_outlive_step).
  replica.input_lifetime = borrowed && !options_.inputs_outlive_step
                               ? EMBRT_INPUT_LIFETIME_CALL
                               : EMBRT_INPUT_LIFETIME_STEP;
  return EnsureTablesInitialized();
}

absl::Status Embedding::Impl::CheckIdRanges(
    absl::Span<const FeatureInput> features,
    absl::Span<const std::optional<FeatureWeights>> weights) const {
  internal::CsrFeature scratch;  // only on a failed Enqueue: allocating is fine
  for (int f = 0; f < static_cast<int>(features.size()); ++f) {
    EMBRT_RETURN_IF_ERROR(internal::ConvertFeatureInput(
        layouts_[f], features[f], WeightsOf(weights, f), &scratch, internal::IdCheck::kAll));
  }
  return absl::OkStatus();
}

absl::Status Embedding::Impl::Receive(int replica_index) {
  Replica& replica = replicas_[replica_index];
  EMBRT_Engine_RecvActivations_Args args{};
  args.struct_size = EMBRT_Engine_RecvActivations_Args_STRUCT_SIZE;
  args.engine = engine_;
  args.replica = replica_index;
  args.activations = replica.activation_pointers.data();
  args.activation_sizes = replica.sizes.data();
  args.num_activations = replica.activation_pointers.size();
  EMBRT_RETURN_IF_ERROR(Consume(api()->Engine_RecvActivations(&args), [&] {
    return absl::StrCat("Engine_RecvActivations (replica ", replica_index, ")");
  }));
  replica.phase = replica.last_training ? Phase::kAwaitingGradients : Phase::kIdle;
  return absl::OkStatus();
}

// Shared checks of Dequeue and DequeueInto.
#define EMBRT_CHECK_DEQUEUE_(call, replica_index)                                         \
  do {                                                                                    \
    EMBRT_RETURN_IF_ERROR(CheckBuilt(call));                                              \
    EMBRT_RETURN_IF_ERROR(CheckReplica(call, replica_index));                             \
    const Replica& r_ = replicas_[replica_index];                                         \
    if (r_.phase == Phase::kIdle) {                                                       \
      return absl::FailedPreconditionError(absl::StrCat(                                  \
          call, " for replica ", replica_index, " before Enqueue: no step is pending"));  \
    }                                                                                     \
    if (r_.phase == Phase::kAwaitingGradients) {                                          \
      return absl::FailedPreconditionError(absl::StrCat(                                  \
          call, " for replica ", replica_index,                                           \
          ": its step was already dequeued and awaits ApplyGradients"));                  \
    }                                                                                     \
  } while (false)

absl::StatusOr<std::vector<Tensor>> Embedding::Impl::Dequeue(int replica_index) {
  EMBRT_CHECK_DEQUEUE_("Dequeue", replica_index);
  const int count = num_features();
  std::vector<Tensor> tensors(count);
  Replica& replica = replicas_[replica_index];
  for (int f = 0; f < count; ++f) {
    tensors[f].shape = layouts_[f].output_shape;
    tensors[f].shape.push_back(dims_[f]);
    tensors[f].values.resize(output_sizes_[f]);
    replica.activation_pointers[f] = tensors[f].values.data();
  }
  EMBRT_RETURN_IF_ERROR(Receive(replica_index));
  return tensors;
}

absl::Status Embedding::Impl::DequeueIntoSpans(absl::Span<const absl::Span<float>> outputs,
                                               int replica_index) {
  EMBRT_CHECK_DEQUEUE_("DequeueInto", replica_index);
  const int count = num_features();
  if (static_cast<int>(outputs.size()) != count) {
    return absl::InvalidArgumentError(absl::StrCat(
        "DequeueInto: got ", outputs.size(), " output buffers for ", count, " features"));
  }
  Replica& replica = replicas_[replica_index];
  for (int f = 0; f < count; ++f) {
    if (static_cast<int64_t>(outputs[f].size()) != output_sizes_[f]) {
      return absl::InvalidArgumentError(absl::StrCat(
          "DequeueInto: the buffer of ", Label(f), " holds ", outputs[f].size(),
          " floats; its activations need ", output_sizes_[f], " (output shape ",
          ShapeText(layouts_[f].output_shape), " x dim ", dims_[f], ")"));
    }
  }
  for (int f = 0; f < count; ++f) replica.activation_pointers[f] = outputs[f].data();
  return Receive(replica_index);
}

#undef EMBRT_CHECK_DEQUEUE_

absl::Status Embedding::Impl::PrepareGradients(
    absl::Span<const std::optional<TensorView>> gradients, int replica_index, int64_t* step) {
  EMBRT_RETURN_IF_ERROR(CheckBuilt("ApplyGradients"));
  EMBRT_RETURN_IF_ERROR(CheckReplica("ApplyGradients", replica_index));
  Replica& replica = replicas_[replica_index];
  if (replica.phase != Phase::kAwaitingGradients) {
    if (!replica.last_training) {
      return absl::FailedPreconditionError(absl::StrCat(
          "ApplyGradients for replica ", replica_index,
          " after an inference enqueue (training=false): inference steps take no gradients"));
    }
    if (replica.phase == Phase::kEnqueued) {
      return absl::FailedPreconditionError(absl::StrCat(
          "ApplyGradients for replica ", replica_index,
          " before Dequeue: dequeue the step's activations first"));
    }
    return absl::FailedPreconditionError(absl::StrCat(
        "ApplyGradients for replica ", replica_index,
        " without a pending training step: call Enqueue(training=true) and Dequeue first"));
  }
  const int count = num_features();
  if (static_cast<int>(gradients.size()) != count) {
    return absl::InvalidArgumentError(absl::StrCat(
        "ApplyGradients: got ", gradients.size(), " gradients for ", count, " features"));
  }
  const bool allow_nonfinite = config_.config.allow_nonfinite_gradients();
  for (int f = 0; f < count; ++f) {
    if (!gradients[f].has_value()) {
      replica.gradient_pointers[f] = nullptr;
      continue;
    }
    const TensorView& gradient = *gradients[f];
    const std::vector<int64_t>& output_shape = layouts_[f].output_shape;
    bool shape_ok = gradient.shape.size() == output_shape.size() + 1 &&
                    std::equal(output_shape.begin(), output_shape.end(),
                               gradient.shape.begin()) &&
                    gradient.shape.back() == dims_[f];
    if (!shape_ok) {
      std::vector<int64_t> expected = output_shape;
      expected.push_back(dims_[f]);
      return absl::InvalidArgumentError(absl::StrCat(
          "Found gradient of shape ", ShapeText(gradient.shape), " at ", Label(f),
          ". Expected shape ", ShapeText(expected), "."));
    }
    if (static_cast<int64_t>(gradient.values.size()) != output_sizes_[f]) {
      return absl::InvalidArgumentError(absl::StrCat(
          "the gradient of ", Label(f), " has shape ", ShapeText(gradient.shape), " but holds ",
          gradient.values.size(), " values instead of ", output_sizes_[f]));
    }
    replica.gradient_pointers[f] = gradient.values.data();
  }
  // NaN and Inf: a plugin that declares it checks them rejects them itself, changing nothing
  // (plugin rule 26), in the pass where it reads the gradients. A second pass here would read
  // every gradient value once more per step (1.7M floats, ~5% of a DLRM step), so then the core
  // leaves it to the plugin and words its error in ApplyGradients (core_checks_inputs).
  if (core_checks_inputs() && !allow_nonfinite) {
    EMBRT_RETURN_IF_ERROR(CheckFiniteGradients(gradients, replica_index));
  }

  {
    absl::MutexLock lock(&step_mutex_);
    *step = replica_steps_[replica_index];
  }
  for (size_t tag = 0; tag < config_.learning_rate_tags.size(); ++tag) {
    const std::string& name = config_.learning_rate_tags[tag];
    const float rate = options_.learning_rate_schedules.at(name)(*step);
    if (!std::isfinite(rate) || rate < 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "dynamic learning rate '", name, "' is ", rate, " at step ", *step,
          "; it must be finite and >= 0"));
    }
    replica.learning_rates[tag] = rate;
  }

  return absl::OkStatus();
}

absl::Status Embedding::Impl::CheckFiniteGradients(
    absl::Span<const std::optional<TensorView>> gradients, int replica_index) const {
  for (int f = 0; f < static_cast<int>(gradients.size()); ++f) {
    if (!gradients[f].has_value()) continue;
    const absl::Span<const float> values = gradients[f]->values;
    // A branch-free pass at memory speed; the position is searched for only on failure.
    if (internal::AllFinite(values)) continue;
    for (size_t i = 0; i < values.size(); ++i) {
      if (!std::isfinite(values[i])) {
        return absl::InvalidArgumentError(absl::StrCat(
            "the gradient of ", Label(f), " has ", values[i], " at flat position ", i,
            " (replica ", replica_index, "); set allow_nonfinite_gradients to pass NaN or Inf"));
      }
    }
  }
  return absl::OkStatus();
}

absl::Status Embedding::Impl::ApplyGradients(
    absl::Span<const std::optional<TensorView>> gradients, int replica_index) {
  int64_t step = 0;
  absl::Status local = PrepareGradients(gradients, replica_index, &step);
  // Several hosts: a bad gradient on one host fails this call on every host.
  if (multi_host() && built()) local = internal::AgreeOnStatus(api(), engine_, local);
  EMBRT_RETURN_IF_ERROR(local);
  Replica& replica = replicas_[replica_index];
  const int count = num_features();
  EMBRT_Engine_SendGradients_Args args{};
  args.struct_size = EMBRT_Engine_SendGradients_Args_STRUCT_SIZE;
  args.engine = engine_;
  args.replica = replica_index;
  args.gradients = replica.gradient_pointers.data();
  args.gradient_sizes = replica.sizes.data();
  args.num_gradients = replica.gradient_pointers.size();
  args.learning_rates = replica.learning_rates.empty() ? nullptr : replica.learning_rates.data();
  args.num_learning_rates = replica.learning_rates.size();
  absl::Status sent = Consume(api()->Engine_SendGradients(&args), [&] {
    return absl::StrCat("Engine_SendGradients (replica ", replica_index, ")");
  });
  if (!sent.ok()) {
    // The plugin's rejection of a NaN or Inf, in the core's words (feature, table, position).
    if (sent.code() == absl::StatusCode::kInvalidArgument &&
        !config_.config.allow_nonfinite_gradients()) {
      EMBRT_RETURN_IF_ERROR(CheckFiniteGradients(gradients, replica_index));
    }
    return sent;
  }

  replica.phase = Phase::kIdle;
  {
    absl::MutexLock lock(&step_mutex_);
    ++replica_steps_[replica_index];
  }
  for (int f = 0; f < count; ++f) {
    if (gradients[f].has_value()) continue;
    // TF: a None gradient is a zero gradient, and the rows still count as touched.
    absl::MutexLock lock(&warning_mutex_);
    options_.warning_sink(absl::StrCat(
        "no gradient for ", Label(f), " in replica ", replica_index, " at step ", step,
        "; applying a zero gradient (its rows still count as touched, which matters for "
        "optimizers with momentum such as Adam)"));
  }
  return absl::OkStatus();
}

absl::Status Embedding::Impl::Synchronize() {
  EMBRT_RETURN_IF_ERROR(CheckBuilt("Synchronize"));
  EMBRT_RETURN_IF_ERROR(EnsureTablesInitialized());
  EMBRT_Engine_Synchronize_Args args{};
  args.struct_size = EMBRT_Engine_Synchronize_Args_STRUCT_SIZE;
  args.engine = engine_;
  return Consume(api()->Engine_Synchronize(&args), [] { return "Engine_Synchronize"; });
}

absl::Status Embedding::Impl::AgreeOnStatus(const absl::Status& local) {
  if (!multi_host()) return local;
  EMBRT_RETURN_IF_ERROR(CheckBuilt("AgreeOnStatus"));
  return internal::AgreeOnStatus(api(), engine_, local);
}

absl::Status Embedding::Impl::HostBarrier() {
  EMBRT_RETURN_IF_ERROR(CheckBuilt("HostBarrier"));
  EMBRT_RETURN_IF_ERROR(EnsureTablesInitialized());
  if (!multi_host()) return Synchronize();
  return internal::HostBarrier(api(), engine_);
}

absl::StatusOr<std::vector<std::string>> Embedding::Impl::AllGatherFromHosts(
    absl::string_view local) {
  if (!multi_host()) return std::vector<std::string>{std::string(local)};
  EMBRT_RETURN_IF_ERROR(CheckBuilt("AllGatherFromHosts"));
  return internal::AllGatherBytes(api(), engine_, config_.config.num_hosts(), local);
}

absl::Status Embedding::Impl::LoadTables(const RowFiller& fill) {
  EMBRT_RETURN_IF_ERROR(CheckBuilt("LoadTables"));
  absl::MutexLock lock(&init_mutex_);
  // Before the first initialization a failed load leaves tables_initialized_ false, so the
  // initializers still run in full later: the failed call changed nothing visible.
  EMBRT_RETURN_IF_ERROR(LoadAllTables(fill));
  tables_initialized_.store(true, std::memory_order_release);
  return absl::OkStatus();
}

absl::Status Embedding::Impl::LoadTablesFrom(const RowSource& source) {
  EMBRT_RETURN_IF_ERROR(CheckBuilt("LoadTablesFrom"));
  absl::MutexLock lock(&init_mutex_);
  std::vector<absl::Span<const float>> spans;
  std::vector<const float*> pointers;
  for (int t = 0; t < static_cast<int>(config_.tables.size()); ++t) {
    const ResolvedTable& table = config_.tables[t];
    const size_t slots = SlotNames(table.optimizer.kind).size();
    const int64_t rows = LocalRows(table);
    const int64_t chunk = std::max<int64_t>(1, kSourceChunkBytes / (int64_t{table.dim} * 4));
    pointers.resize(slots);
    for (int64_t begin = 0; begin < rows; begin += chunk) {
      const int64_t count = std::min(chunk, rows - begin);
      spans.assign(slots, {});
      EMBRT_RETURN_IF_ERROR(source(t, begin, count, absl::MakeSpan(spans)));
      for (size_t s = 0; s < slots; ++s) {
        if (spans[s].size() != static_cast<size_t>(count * table.dim)) {
          return absl::InternalError(absl::StrCat(
              "LoadTablesFrom: the source gave ", spans[s].size(), " floats for slot ", s,
              " of table '", table.name, "' rows ", begin, "..", begin + count, ", expected ",
              count * table.dim));
        }
        pointers[s] = spans[s].data();
      }
      auto args = TableShardArgs<EMBRT_Engine_LoadTableShard_Args>(
          EMBRT_Engine_LoadTableShard_Args_STRUCT_SIZE, engine_, t, config_.config.host_id(),
          begin, count, pointers);
      EMBRT_RETURN_IF_ERROR(Consume(api()->Engine_LoadTableShard(&args), [&] {
        return ChunkCallText("Engine_LoadTableShard", table.name, begin, count);
      }));
    }
  }
  tables_initialized_.store(true, std::memory_order_release);
  return absl::OkStatus();
}

absl::Status Embedding::Impl::RetrieveTables(const RowSink& sink) {
  EMBRT_RETURN_IF_ERROR(CheckBuilt("RetrieveTables"));
  EMBRT_RETURN_IF_ERROR(EnsureTablesInitialized());
  std::vector<float*> pointers;
  std::vector<absl::Span<const float>> spans;
  return ForEachTableChunk([&](int t, const ResolvedTable& table, int64_t begin, int64_t count,
                               std::vector<std::vector<float>>& buffers) -> absl::Status {
    pointers.resize(buffers.size());
    spans.resize(buffers.size());
    for (size_t s = 0; s < buffers.size(); ++s) {
      pointers[s] = buffers[s].data();
      spans[s] = absl::MakeConstSpan(buffers[s].data(), count * table.dim);
    }
    auto args = TableShardArgs<EMBRT_Engine_RetrieveTableShard_Args>(
        EMBRT_Engine_RetrieveTableShard_Args_STRUCT_SIZE, engine_, t, config_.config.host_id(),
        begin, count, pointers);
    EMBRT_RETURN_IF_ERROR(Consume(api()->Engine_RetrieveTableShard(&args), [&] {
      return ChunkCallText("Engine_RetrieveTableShard", table.name, begin, count);
    }));
    return sink(t, begin, count, spans);
  });
}

// -- Embedding ------------------------------------------------------------------------------

absl::StatusOr<std::unique_ptr<Embedding>> Embedding::Create(const EmbeddingConfig& config,
                                                             EmbeddingOptions options) {
  EMBRT_ASSIGN_OR_RETURN(ResolvedConfig resolved, ResolveConfig(config));
  EMBRT_ASSIGN_OR_RETURN(internal::LoadedPlugin plugin,
                         internal::LoadPlugin(config.backend().name()));
  EMBRT_RETURN_IF_ERROR(CheckBackendSupports(resolved, plugin));
  EMBRT_RETURN_IF_ERROR(internal::ResolveHosts(plugin, &resolved.config));
  auto impl = std::make_unique<Impl>(std::move(resolved), std::move(options), std::move(plugin));
  EMBRT_RETURN_IF_ERROR(impl->CheckSchedules());
  return std::unique_ptr<Embedding>(new Embedding(std::move(impl)));
}

Embedding::Embedding(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Embedding::~Embedding() = default;

absl::Status Embedding::Build(int per_replica_batch_size) {
  return impl_->Build(per_replica_batch_size, {});
}

absl::Status Embedding::BuildWithOutputShapes(
    absl::Span<const std::vector<int64_t>> output_shapes) {
  if (output_shapes.empty()) {
    return absl::InvalidArgumentError(
        "BuildWithOutputShapes: needs one output shape per feature, got none");
  }
  return impl_->Build(0, output_shapes);
}

bool Embedding::built() const { return impl_->built(); }

absl::Status Embedding::Enqueue(absl::Span<const FeatureInput> features,
                                absl::Span<const std::optional<FeatureWeights>> weights,
                                bool training, int replica) {
  return impl_->Enqueue(features, weights, training, replica);
}

absl::StatusOr<std::vector<Tensor>> Embedding::Dequeue(int replica) {
  return impl_->Dequeue(replica);
}

absl::Status Embedding::DequeueInto(absl::Span<const absl::Span<float>> outputs, int replica) {
  return impl_->DequeueIntoSpans(outputs, replica);
}

absl::Status Embedding::ApplyGradients(absl::Span<const std::optional<TensorView>> gradients,
                                       int replica) {
  return impl_->ApplyGradients(gradients, replica);
}

absl::Status Embedding::Synchronize() { return impl_->Synchronize(); }
absl::Status Embedding::AgreeOnStatus(const absl::Status& local) {
  return impl_->AgreeOnStatus(local);
}
absl::Status Embedding::HostBarrier() { return impl_->HostBarrier(); }
absl::StatusOr<std::vector<std::string>> Embedding::AllGatherFromHosts(absl::string_view local) {
  return impl_->AllGatherFromHosts(local);
}
absl::Status Embedding::LoadTables(const RowFiller& fill) { return impl_->LoadTables(fill); }
absl::Status Embedding::LoadTablesFrom(const RowSource& source) {
  return impl_->LoadTablesFrom(source);
}
absl::Status Embedding::RetrieveTables(const RowSink& sink) {
  return impl_->RetrieveTables(sink);
}
const ResolvedConfig& Embedding::config() const { return impl_->config(); }
const BackendInfo& Embedding::backend() const { return impl_->backend(); }
const std::vector<int64_t>& Embedding::output_shape(int feature) const {
  return impl_->output_shape(feature);
}
int64_t Embedding::output_size(int feature) const { return impl_->output_size(feature); }
int64_t Embedding::step() const { return impl_->step(); }
void Embedding::set_step(int64_t step) { impl_->set_step(step); }
bool Embedding::tables_initialized() const { return impl_->tables_initialized(); }

}  // namespace embrt
