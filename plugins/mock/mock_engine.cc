// Copyright embrt authors.

#include "mock_engine.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <sstream>
#include <utility>

namespace embrt {
namespace mock {
namespace {

// Ids printed per feature in the trace before "..." (keeps the file small for big batches).
constexpr size_t kTraceIdsPerFeature = 64;

std::string Quoted(const std::string& name) { return "'" + name + "'"; }

const char* ModeName(EMBRT_Mode mode) {
  return mode == EMBRT_MODE_TRAINING    ? "TRAINING"
         : mode == EMBRT_MODE_INFERENCE ? "INFERENCE"
                                        : "UNKNOWN";
}

sdk::Status ValidateConfig(const sdk::EngineConfig& c) {
  auto bad = [](const std::string& m) { return sdk::Status::InvalidArgument(m); };
  if (c.num_replicas < 1) {
    return bad("description.num_replicas must be >= 1, got " + std::to_string(c.num_replicas));
  }
  if (c.num_hosts < 1) {
    return bad("description.num_hosts must be >= 1, got " + std::to_string(c.num_hosts));
  }
  if (c.host_id < 0 || c.host_id >= c.num_hosts) {
    return bad("description.host_id " + std::to_string(c.host_id) + " is outside [0, " +
               std::to_string(c.num_hosts) + ")");
  }
  if (c.sharding != EMBRT_SHARDING_DIV && c.sharding != EMBRT_SHARDING_MOD) {
    return bad("description.sharding has unknown value " + std::to_string(c.sharding));
  }
  if (c.num_learning_rate_tags < 0) {
    return bad("description.num_learning_rate_tags must be >= 0, got " +
               std::to_string(c.num_learning_rate_tags));
  }
  for (size_t t = 0; t < c.tables.size(); ++t) {
    const sdk::TableConfig& table = c.tables[t];
    const std::string where = "table " + std::to_string(t) + " " + Quoted(table.name);
    if (table.vocabulary_size < 1) {
      return bad(where + ": vocabulary_size must be >= 1, got " +
                 std::to_string(table.vocabulary_size));
    }
    if (table.dim < 1) return bad(where + ": dim must be >= 1, got " + std::to_string(table.dim));
    if (table.combiner < EMBRT_COMBINER_SUM || table.combiner > EMBRT_COMBINER_SQRTN) {
      return bad(where + ": unknown combiner " + std::to_string(table.combiner));
    }
    if (table.quantization_num_buckets != 0) {
      return sdk::Status::Unimplemented(where +
                                        ": simulated quantization is not supported by the mock");
    }
    if (sdk::SlotCount(table.optimizer.kind) == 0) {
      return bad(where + ": unknown optimizer kind " + std::to_string(table.optimizer.kind));
    }
    if (table.optimizer.kind != EMBRT_OPTIMIZER_SGD) {  // README rule 11: only what it claims
      return sdk::Status::Unimplemented(
          where + ": optimizer kind " + std::to_string(table.optimizer.kind) +
          " is not supported by the mock (attribute optimizers=sgd)");
    }
    if (table.optimizer.learning_rate_tag >= c.num_learning_rate_tags) {
      return bad(where + ": learning_rate_tag " +
                 std::to_string(table.optimizer.learning_rate_tag) + " is not below " +
                 "num_learning_rate_tags " + std::to_string(c.num_learning_rate_tags));
    }
    const int64_t expected = sdk::ShardRows(table.vocabulary_size, c.num_hosts, c.host_id);
    if (table.shard_rows != expected) {
      return bad(where + ": shard_rows " + std::to_string(table.shard_rows) + " but host " +
                 std::to_string(c.host_id) + " of " + std::to_string(c.num_hosts) + " holds " +
                 std::to_string(expected) + " rows");
    }
  }
  for (size_t f = 0; f < c.features.size(); ++f) {
    const sdk::FeatureConfig& feature = c.features[f];
    const std::string where = "feature " + std::to_string(f) + " " + Quoted(feature.name);
    if (feature.table_index < 0 || static_cast<size_t>(feature.table_index) >= c.tables.size()) {
      return bad(where + ": table_index " + std::to_string(feature.table_index) +
                 " is outside [0, " + std::to_string(c.tables.size()) + ")");
    }
    if (feature.max_sequence_length < 0 || feature.max_sequence_length > (1 << 20)) {
      return bad(where + ": max_sequence_length " + std::to_string(feature.max_sequence_length) +
                 " is outside [0, 1048576]");
    }
    if (feature.input_rows < 0 || feature.input_rows > (int64_t{1} << 31)) {
      return bad(where + ": input_rows " + std::to_string(feature.input_rows) +
                 " is outside [0, 2^31]");
    }
    const int64_t dim = c.tables[static_cast<size_t>(feature.table_index)].dim;
    int64_t activations = 0;
    if (__builtin_mul_overflow(feature.input_rows, std::max<int64_t>(feature.max_sequence_length, 1),
                               &activations) ||
        __builtin_mul_overflow(activations, dim, &activations) ||
        activations > (int64_t{1} << 40)) {
      return bad(where + ": input_rows " + std::to_string(feature.input_rows) +
                 " x max_sequence_length x dim " + std::to_string(dim) +
                 " is more than 2^40 activations");
    }
    if (!feature.output_shape.empty()) {
      int64_t product = 1;
      for (int64_t d : feature.output_shape) {
        if (d < 0 || d > (int64_t{1} << 31)) {
          return bad(where + ": output_shape has dimension " + std::to_string(d));
        }
        if (__builtin_mul_overflow(product, d, &product) || product > (int64_t{1} << 40)) {
          return bad(where + ": output_shape is too large");
        }
      }
      const int64_t positions = feature.max_sequence_length > 0 ? feature.max_sequence_length : 1;
      if (product != feature.input_rows * positions) {
        return bad(where + ": output_shape holds " + std::to_string(product) +
                   " positions but input_rows * max(max_sequence_length, 1) is " +
                   std::to_string(feature.input_rows * positions));
      }
    }
  }
  return sdk::Status();
}

// RESOURCE_EXHAUSTED when the tables, with every row written (as the core's initialization
// does), would need more than `max_bytes`: refused now rather than by running out of memory.
sdk::Status CheckTableBytes(const sdk::EngineConfig& c, int64_t max_bytes) {
  int64_t total = 0;
  for (size_t t = 0; t < c.tables.size(); ++t) {
    const sdk::TableConfig& table = c.tables[t];
    const int64_t slots = sdk::SlotCount(table.optimizer.kind);
    int64_t bytes = 0;
    const bool overflow = __builtin_mul_overflow(table.shard_rows, int64_t{table.dim}, &bytes) ||
                          __builtin_mul_overflow(bytes, slots, &bytes) ||
                          __builtin_mul_overflow(bytes, int64_t{sizeof(float)}, &bytes) ||
                          __builtin_add_overflow(total, bytes, &total);
    if (overflow || total > max_bytes) {
      const std::string size =
          overflow ? "more bytes than int64 counts" : std::to_string(bytes) + " bytes";
      return sdk::Status::ResourceExhausted(
          "mock backend: table " + std::to_string(t) + " " + Quoted(table.name) + ": " +
          std::to_string(table.shard_rows) + " rows x dim " + std::to_string(table.dim) + " x " +
          std::to_string(slots) + " slots x 4 bytes = " + size +
          (overflow ? "" : ", " + std::to_string(total) + " bytes with the tables before it") +
          "; the mock holds at most max_table_bytes = " + std::to_string(max_bytes) +
          " (a backend option)");
    }
  }
  return sdk::Status();
}

std::string CreateLine(const sdk::EngineConfig& c) {
  std::ostringstream out;
  out << "Create tables=" << c.tables.size() << " features=" << c.features.size()
      << " replicas=" << c.num_replicas << " hosts=" << c.num_hosts << " host_id=" << c.host_id
      << " batch=" << c.per_replica_batch_size;
  return out.str();
}

template <typename T>
void AppendList(std::ostringstream& out, const T* values, size_t count, size_t limit) {
  if (values == nullptr) {
    out << "null";
    return;
  }
  out << '[';
  for (size_t i = 0; i < count && i < limit; ++i) out << (i ? "," : "") << values[i];
  if (count > limit) out << ",...";
  out << ']';
}

std::string ShardLine(const char* call, int32_t table, int32_t shard, int64_t row_begin,
                      int64_t row_count, size_t num_slots) {
  return std::string(call) + " table=" + std::to_string(table) + " shard=" + std::to_string(shard) +
         " rows=[" + std::to_string(row_begin) + "," + std::to_string(row_begin + row_count) +
         ") slots=" + std::to_string(num_slots);
}

// Calls visit(slot, global_row, offset) for every slot and every local row in
// [row_begin, row_begin + row_count) of table `t`, slot by slot; `offset` is where the row
// starts in the caller's [row_count, dim] slot array.
template <typename Visit>
void ForEachShardRow(const sdk::EngineConfig& config, const sdk::TableConfig& t, int64_t row_begin,
                     int64_t row_count, size_t num_slots, Visit&& visit) {
  const size_t dim = static_cast<size_t>(t.dim);
  for (size_t s = 0; s < num_slots; ++s) {
    for (int64_t i = 0; i < row_count; ++i) {
      const int64_t row = sdk::GlobalRow(row_begin + i, t.vocabulary_size, config.num_hosts,
                                         config.host_id, config.sharding);
      visit(static_cast<int>(s), row, static_cast<size_t>(i) * dim);
    }
  }
}

}  // namespace

sdk::Status MockEngine::Create(const sdk::EngineConfig& config,
                               std::unique_ptr<sdk::Engine>* engine) {
  MockOptions options;
  sdk::Status status = ParseOptions(config.options, &options);
  if (!status.ok()) return status;
  auto trace = std::make_unique<CallTrace>();
  status = trace->Open(options.trace_file);
  if (!status.ok()) return status;
  auto faults = std::make_unique<FaultInjector>(options.faults);
  status = faults->OnCall(Call::kCreate);
  if (status.ok()) status = ValidateConfig(config);
  if (status.ok()) status = CheckTableBytes(config, options.max_table_bytes);
  trace->Write(CreateLine(config), status);
  if (!status.ok()) return status;
  engine->reset(new MockEngine(config, std::move(trace), std::move(faults)));
  return sdk::Status();
}

MockEngine::MockEngine(sdk::EngineConfig config, std::unique_ptr<CallTrace> trace,
                       std::unique_ptr<FaultInjector> faults)
    : config_(std::move(config)), trace_(std::move(trace)), faults_(std::move(faults)) {
  for (size_t t = 0; t < config_.tables.size(); ++t) {
    tables_.emplace_back(static_cast<int32_t>(t), config_.tables[t].dim,
                         sdk::SlotCount(config_.tables[t].optimizer.kind));
  }
  replicas_.resize(static_cast<size_t>(config_.num_replicas));
  for (ReplicaState& replica : replicas_) replica.pending.resize(config_.tables.size());
}

MockEngine::~MockEngine() {
  faults_->OnCall(Call::kDestroy);  // only a delay can apply: Destroy cannot fail
  trace_->Write("Destroy", sdk::Status());
}

template <typename Body, typename Describe>
sdk::Status MockEngine::Traced(Call call, Body&& body, Describe&& describe) {
  sdk::Status status = faults_->OnCall(call);
  const bool injected = !status.ok();
  if (!injected) status = body();
  if (trace_->enabled()) trace_->Write(describe(!injected && status.ok()), status);
  return status;
}

size_t MockEngine::ActivationSize(size_t f) const {
  const sdk::FeatureConfig& feature = config_.features[f];
  const int64_t positions = feature.max_sequence_length > 0 ? feature.max_sequence_length : 1;
  return static_cast<size_t>(feature.input_rows * positions *
                             config_.tables[static_cast<size_t>(feature.table_index)].dim);
}

sdk::Status MockEngine::CheckReplica(int32_t replica) const {
  if (replica < 0 || replica >= config_.num_replicas) {
    return sdk::Status::InvalidArgument("replica " + std::to_string(replica) + " is outside [0, " +
                                        std::to_string(config_.num_replicas) + ")");
  }
  return sdk::Status();
}

// ----- Enqueue -------------------------------------------------------------------------------

sdk::Status MockEngine::EnqueueWithLifetime(int32_t replica, EMBRT_Mode mode,
                                            const sdk::FeatureInputView* inputs,
                                            size_t num_inputs, int32_t input_lifetime) {
  // The lifetime travels as an argument: Enqueue calls for different replicas may run at once.
  return Traced(
      Call::kEnqueue, [&] { return DoEnqueue(replica, mode, inputs, num_inputs); },
      [&](bool valid) {
        std::ostringstream out;
        out << "Enqueue replica=" << replica << " mode=" << ModeName(mode)
            << " features=" << num_inputs;
        if (input_lifetime == EMBRT_INPUT_LIFETIME_STEP) out << " input_lifetime=STEP";
        if (!valid) return out.str();
        out << " ids=[";
        for (size_t f = 0; f < num_inputs; ++f) {
          out << (f ? "," : "");
          AppendList(out, inputs[f].ids, inputs[f].num_ids, kTraceIdsPerFeature);
        }
        out << "] row_splits=[";
        for (size_t f = 0; f < num_inputs; ++f) {
          out << (f ? "," : "");
          AppendList(out, inputs[f].row_splits, inputs[f].num_row_splits, kTraceIdsPerFeature + 1);
        }
        out << "] weights=[";
        for (size_t f = 0; f < num_inputs; ++f) {
          out << (f ? "," : "");
          AppendList(out, inputs[f].weights, inputs[f].num_ids, kTraceIdsPerFeature);
        }
        out << "]";
        return out.str();
      });
}

sdk::Status MockEngine::Enqueue(int32_t replica, EMBRT_Mode mode,
                                const sdk::FeatureInputView* inputs, size_t num_inputs) {
  return EnqueueWithLifetime(replica, mode, inputs, num_inputs, EMBRT_INPUT_LIFETIME_CALL);
}

sdk::Status MockEngine::CopyFeature(size_t f, const sdk::FeatureInputView& in,
                                    FeatureBatch* batch) const {
  const sdk::FeatureConfig& feature = config_.features[f];
  const sdk::TableConfig& table = config_.tables[static_cast<size_t>(feature.table_index)];
  const std::string where = "feature " + std::to_string(f) + " " + Quoted(feature.name);
  const size_t rows = static_cast<size_t>(feature.input_rows);
  if (in.num_ids > 0 && in.ids == nullptr) {
    return sdk::Status::InvalidArgument(where + ": ids is NULL but num_ids is " +
                                        std::to_string(in.num_ids));
  }
  batch->row_splits.clear();
  if (in.row_splits == nullptr) {
    if (in.num_ids != rows) {
      return sdk::Status::InvalidArgument(
          where + ": without row_splits there must be one id per row (" + std::to_string(rows) +
          "), got " + std::to_string(in.num_ids) + " ids");
    }
    for (size_t b = 0; b <= rows; ++b) batch->row_splits.push_back(static_cast<int32_t>(b));
  } else {
    if (in.num_row_splits != rows + 1) {
      return sdk::Status::InvalidArgument(
          where + ": row_splits has " + std::to_string(in.num_row_splits) +
          " entries, expected input_rows + 1 = " + std::to_string(rows + 1));
    }
    if (in.row_splits[0] != 0) {
      return sdk::Status::InvalidArgument(where + ": row_splits[0] is " +
                                          std::to_string(in.row_splits[0]) + ", expected 0");
    }
    for (size_t b = 0; b < rows; ++b) {
      if (in.row_splits[b + 1] < in.row_splits[b]) {
        return sdk::Status::InvalidArgument(where + ": row_splits are not ascending at row " +
                                            std::to_string(b) + " (" +
                                            std::to_string(in.row_splits[b]) + " then " +
                                            std::to_string(in.row_splits[b + 1]) + ")");
      }
    }
    if (static_cast<size_t>(in.row_splits[rows]) != in.num_ids) {
      return sdk::Status::InvalidArgument(where + ": row_splits end at " +
                                          std::to_string(in.row_splits[rows]) + " but num_ids is " +
                                          std::to_string(in.num_ids));
    }
    batch->row_splits.assign(in.row_splits, in.row_splits + rows + 1);
  }
  for (size_t b = 0; b < rows; ++b) {
    for (int32_t k = batch->row_splits[b]; k < batch->row_splits[b + 1]; ++k) {
      const int64_t id = in.ids[k];
      if (id < 0 || id >= table.vocabulary_size) {
        return sdk::Status::InvalidArgument(where + " row " + std::to_string(b) + " position " +
                                            std::to_string(k - batch->row_splits[b]) + ": id " +
                                            std::to_string(id) + " is outside [0, " +
                                            std::to_string(table.vocabulary_size) + ") of table " +
                                            Quoted(table.name));
      }
    }
  }
  if (in.weights != nullptr && feature.max_sequence_length > 0) {
    return sdk::Status::InvalidArgument(where + " is a sequence feature: it takes no weights");
  }
  for (size_t k = 0; in.weights != nullptr && k < in.num_ids; ++k) {
    if (!std::isfinite(in.weights[k])) {
      return sdk::Status::InvalidArgument(where + ": weight " + std::to_string(k) + " is " +
                                          std::to_string(in.weights[k]) + " (must be finite)");
    }
  }
  if (in.positions != nullptr) {  // ABI 1.1 sequence positions
    if (feature.max_sequence_length == 0) {
      return sdk::Status::InvalidArgument(where + ": positions given but the feature has no "
                                          "sequence (max_sequence_length 0)");
    }
    if (in.num_positions != in.num_ids) {
      return sdk::Status::InvalidArgument(where + ": " + std::to_string(in.num_positions) +
                                          " positions for " + std::to_string(in.num_ids) +
                                          " ids");
    }
    for (size_t b = 0; b < rows; ++b) {
      for (int32_t k = batch->row_splits[b]; k < batch->row_splits[b + 1]; ++k) {
        const int32_t p = in.positions[k];
        if (p < 0 || p >= feature.max_sequence_length ||
            (k > batch->row_splits[b] && p <= in.positions[k - 1])) {
          return sdk::Status::InvalidArgument(
              where + " row " + std::to_string(b) + ": position " + std::to_string(p) +
              " is outside [0, " + std::to_string(feature.max_sequence_length) +
              ") or not after the row's previous position");
        }
      }
    }
  }
  batch->ids.assign(in.ids, in.ids + in.num_ids);
  if (in.weights == nullptr) {
    batch->weights.clear();
  } else {
    batch->weights.assign(in.weights, in.weights + in.num_ids);
  }
  if (in.positions == nullptr) {
    batch->positions.clear();
  } else {
    batch->positions.assign(in.positions, in.positions + in.num_ids);
  }
  return sdk::Status();
}

sdk::Status MockEngine::DoEnqueue(int32_t replica, EMBRT_Mode mode,
                                  const sdk::FeatureInputView* inputs, size_t num_inputs) {
  sdk::Status status = CheckReplica(replica);
  if (!status.ok()) return status;
  if (mode != EMBRT_MODE_TRAINING && mode != EMBRT_MODE_INFERENCE) {
    return sdk::Status::InvalidArgument("Enqueue: unknown mode " + std::to_string(mode));
  }
  if (num_inputs != config_.features.size()) {
    return sdk::Status::InvalidArgument("Enqueue: got " + std::to_string(num_inputs) +
                                        " feature inputs, expected " +
                                        std::to_string(config_.features.size()));
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    const ReplicaState& state = replicas_[static_cast<size_t>(replica)];
    if (state.phase == Phase::kEnqueued) {
      return sdk::Status::FailedPrecondition(
          "Enqueue: replica " + std::to_string(replica) +
          " already has an enqueued step that was not received (call RecvActivations first)");
    }
    if (state.phase == Phase::kReceived) {
      return sdk::Status::FailedPrecondition(
          "Enqueue: replica " + std::to_string(replica) +
          " has a training step without gradients (call SendGradients first)");
    }
  }
  // Only this replica's caller touches its batch (calls for one replica are serialized), but the
  // copy is built aside so that a bad feature leaves the previous batch as it was.
  std::vector<FeatureBatch> batch(num_inputs);
  for (size_t f = 0; f < num_inputs; ++f) {
    status = CopyFeature(f, inputs[f], &batch[f]);
    if (!status.ok()) return status;
  }
  std::lock_guard<std::mutex> lock(mu_);
  ReplicaState& state = replicas_[static_cast<size_t>(replica)];
  state.batch = std::move(batch);
  state.mode = mode;
  state.phase = Phase::kEnqueued;
  return sdk::Status();
}

// ----- RecvActivations -----------------------------------------------------------------------

sdk::Status MockEngine::RecvActivations(int32_t replica, float* const* activations,
                                        const size_t* activation_sizes, size_t num_activations) {
  return Traced(
      Call::kRecvActivations,
      [&] { return DoRecv(replica, activations, activation_sizes, num_activations); },
      [&](bool) {
        return "RecvActivations replica=" + std::to_string(replica) +
               " features=" + std::to_string(num_activations);
      });
}

sdk::Status MockEngine::DoRecv(int32_t replica, float* const* activations, const size_t* sizes,
                               size_t num_activations) {
  sdk::Status status = CheckReplica(replica);
  if (!status.ok()) return status;
  if (num_activations != config_.features.size()) {
    return sdk::Status::InvalidArgument("RecvActivations: got " + std::to_string(num_activations) +
                                        " activation buffers, expected " +
                                        std::to_string(config_.features.size()));
  }
  for (size_t f = 0; f < num_activations; ++f) {
    const std::string where =
        "RecvActivations: feature " + std::to_string(f) + " " + Quoted(config_.features[f].name);
    if (sizes[f] != ActivationSize(f)) {
      return sdk::Status::InvalidArgument(where + ": buffer holds " + std::to_string(sizes[f]) +
                                          " floats, expected " + std::to_string(ActivationSize(f)));
    }
    if (activations[f] == nullptr && sizes[f] > 0) {
      return sdk::Status::InvalidArgument(where + ": buffer is NULL");
    }
  }
  std::unique_lock<std::mutex> lock(mu_);
  ReplicaState& state = replicas_[static_cast<size_t>(replica)];
  if (state.phase != Phase::kEnqueued) {
    return sdk::Status::FailedPrecondition("RecvActivations: replica " + std::to_string(replica) +
                                           " has no enqueued step (call Enqueue first)");
  }
  // The lookup sees every update this replica took part in: wait for the other replicas' part.
  step_applied_.wait(lock, [&] { return applied_steps_ >= state.sent_steps; });
  for (size_t f = 0; f < num_activations; ++f) {
    const sdk::FeatureConfig& feature = config_.features[f];
    const size_t t = static_cast<size_t>(feature.table_index);
    if (sizes[f] == 0) continue;
    LookupFeature(tables_[t], config_.tables[t].combiner, feature.max_sequence_length,
                  state.batch[f], activations[f]);
  }
  state.phase = state.mode == EMBRT_MODE_TRAINING ? Phase::kReceived : Phase::kIdle;
  return sdk::Status();
}

// ----- SendGradients -------------------------------------------------------------------------

sdk::Status MockEngine::SendGradients(int32_t replica, const float* const* gradients,
                                      const size_t* gradient_sizes, size_t num_gradients,
                                      const float* learning_rates, size_t num_learning_rates) {
  int64_t step = 0;
  return Traced(
      Call::kSendGradients,
      [&] {
        sdk::Status s = DoSend(replica, gradients, gradient_sizes, num_gradients, learning_rates,
                               num_learning_rates);
        if (s.ok()) {
          std::lock_guard<std::mutex> lock(mu_);
          step = replicas_[static_cast<size_t>(replica)].sent_steps;
        }
        return s;
      },
      [&](bool valid) {
        std::ostringstream out;
        out << "SendGradients replica=" << replica << " features=" << num_gradients;
        if (!valid) return out.str();
        out << " step=" << step << " null_gradients=[";
        bool first = true;
        for (size_t f = 0; f < num_gradients; ++f) {
          if (gradients[f] != nullptr) continue;
          out << (first ? "" : ",") << f;
          first = false;
        }
        out << "] learning_rates=";
        AppendList(out, learning_rates, num_learning_rates, num_learning_rates);
        return out.str();
      });
}

sdk::Status MockEngine::CheckGradient(size_t f, const float* gradient, size_t size) const {
  if (gradient == nullptr) return sdk::Status();
  const std::string where =
      "SendGradients: feature " + std::to_string(f) + " " + Quoted(config_.features[f].name);
  if (size != ActivationSize(f)) {
    return sdk::Status::InvalidArgument(where + ": gradient holds " + std::to_string(size) +
                                        " floats, expected " + std::to_string(ActivationSize(f)));
  }
  if (config_.allow_nonfinite_gradients) return sdk::Status();
  for (size_t i = 0; i < size; ++i) {
    if (!std::isfinite(gradient[i])) {
      const size_t dim = static_cast<size_t>(
          config_.tables[static_cast<size_t>(config_.features[f].table_index)].dim);
      std::ostringstream out;
      out << where << ": gradient " << gradient[i] << " at position " << i / dim << " column "
          << i % dim << " is not finite";
      return sdk::Status::InvalidArgument(out.str());
    }
  }
  return sdk::Status();
}

sdk::Status MockEngine::DoSend(int32_t replica, const float* const* gradients, const size_t* sizes,
                               size_t num_gradients, const float* learning_rates,
                               size_t num_rates) {
  sdk::Status status = CheckReplica(replica);
  if (!status.ok()) return status;
  {
    std::lock_guard<std::mutex> lock(mu_);
    const ReplicaState& state = replicas_[static_cast<size_t>(replica)];
    const std::string who = "SendGradients: replica " + std::to_string(replica);
    if (state.mode == EMBRT_MODE_INFERENCE && state.phase != Phase::kReceived) {
      return sdk::Status::FailedPrecondition(who + ": the last step was enqueued for INFERENCE");
    }
    if (state.phase == Phase::kEnqueued) {
      return sdk::Status::FailedPrecondition(who + ": call RecvActivations first");
    }
    if (state.phase != Phase::kReceived) {
      return sdk::Status::FailedPrecondition(who + ": no received training step");
    }
  }
  if (num_gradients != config_.features.size()) {
    return sdk::Status::InvalidArgument("SendGradients: got " + std::to_string(num_gradients) +
                                        " gradient buffers, expected " +
                                        std::to_string(config_.features.size()));
  }
  for (size_t f = 0; f < num_gradients; ++f) {
    status = CheckGradient(f, gradients[f], sizes[f]);
    if (!status.ok()) return status;
  }
  const size_t tags = static_cast<size_t>(config_.num_learning_rate_tags);
  const bool rates_needed = replica == 0 && tags > 0;
  if ((rates_needed || num_rates > 0) && num_rates != tags) {
    return sdk::Status::InvalidArgument(
        "SendGradients: got " + std::to_string(num_rates) +
        " learning rates, expected num_learning_rate_tags = " + std::to_string(tags));
  }
  // This replica's row sums, in (feature, bag, position) order, built aside.
  std::vector<RowGradients> sums(config_.tables.size());
  for (size_t f = 0; f < num_gradients; ++f) {
    const sdk::FeatureConfig& feature = config_.features[f];
    const size_t t = static_cast<size_t>(feature.table_index);
    std::lock_guard<std::mutex> lock(mu_);  // the batch is only read; the lock keeps TSan happy
    AccumulateFeatureGradient(
        config_.tables[t].dim, config_.tables[t].combiner, feature.max_sequence_length,
        replicas_[static_cast<size_t>(replica)].batch[f], gradients[f], &sums[t]);
  }
  std::lock_guard<std::mutex> lock(mu_);
  ReplicaState& state = replicas_[static_cast<size_t>(replica)];
  state.pending = std::move(sums);
  state.phase = Phase::kIdle;
  ++state.sent_steps;
  if (replica == 0) learning_rates_.assign(learning_rates, learning_rates + num_rates);
  if (++replicas_sent_ == config_.num_replicas) {
    ApplyStep();
    replicas_sent_ = 0;
    ++applied_steps_;
    step_applied_.notify_all();
  }
  return sdk::Status();
}

void MockEngine::ApplyStep() {
  for (size_t t = 0; t < tables_.size(); ++t) {
    const sdk::TableConfig& table = config_.tables[t];
    const size_t dim = static_cast<size_t>(table.dim);
    const float rate = table.optimizer.learning_rate_tag >= 0
                           ? learning_rates_[static_cast<size_t>(table.optimizer.learning_rate_tag)]
                           : table.optimizer.learning_rate;
    // Row step gradients: the per-replica sums added in replica order.
    RowGradients total;
    for (ReplicaState& replica : replicas_) {
      for (const auto& [row, sum] : replica.pending[t]) {
        auto [it, inserted] = total.emplace(row, sum);
        if (inserted) continue;
        for (size_t c = 0; c < dim; ++c) it->second[c] += sum[c];
      }
      replica.pending[t].clear();
    }
    std::vector<float> values(dim);
    for (const auto& [row, gradient] : total) {
      tables_[t].ReadRow(0, row, values.data());
      for (size_t c = 0; c < dim; ++c) values[c] = values[c] - rate * gradient[c];
      tables_[t].WriteRow(0, row, values.data());
    }
  }
}

// ----- LoadTableShard / RetrieveTableShard / Synchronize ------------------------------------

sdk::Status MockEngine::CheckShardRange(const char* call, int32_t table, int32_t shard,
                                        int64_t row_begin, int64_t row_count, size_t num_slots,
                                        const void* const* slots) const {
  const std::string who = call;
  if (table < 0 || static_cast<size_t>(table) >= config_.tables.size()) {
    return sdk::Status::InvalidArgument(who + ": table " + std::to_string(table) +
                                        " is outside [0, " + std::to_string(config_.tables.size()) +
                                        ")");
  }
  const sdk::TableConfig& t = config_.tables[static_cast<size_t>(table)];
  const std::string where = who + ": table " + std::to_string(table) + " " + Quoted(t.name);
  if (shard != config_.host_id) {
    return sdk::Status::InvalidArgument(where + ": shard " + std::to_string(shard) +
                                        " is not this host's (" + std::to_string(config_.host_id) +
                                        ")");
  }
  if (row_begin < 0 || row_count < 0 || row_begin > t.shard_rows ||
      row_count > t.shard_rows - row_begin) {
    return sdk::Status::InvalidArgument(
        where + ": rows [" + std::to_string(row_begin) + ", " + std::to_string(row_begin) + " + " +
        std::to_string(row_count) + ") are outside the shard's [0, " +
        std::to_string(t.shard_rows) + ")");
  }
  const size_t expected = static_cast<size_t>(sdk::SlotCount(t.optimizer.kind));
  if (num_slots != expected) {
    return sdk::Status::InvalidArgument(where + ": got " + std::to_string(num_slots) +
                                        " slots, the optimizer has " + std::to_string(expected));
  }
  for (size_t s = 0; s < num_slots && row_count > 0; ++s) {
    if (slots[s] == nullptr) {
      return sdk::Status::InvalidArgument(where + ": slot " + std::to_string(s) + " is NULL");
    }
  }
  return sdk::Status();
}

sdk::Status MockEngine::LoadTableShard(int32_t table, int32_t shard, int64_t row_begin,
                                       int64_t row_count, const float* const* slots,
                                       size_t num_slots) {
  return Traced(
      Call::kLoadTableShard,
      [&] {
        sdk::Status status =
            CheckShardRange("LoadTableShard", table, shard, row_begin, row_count, num_slots,
                            reinterpret_cast<const void* const*>(slots));
        if (!status.ok()) return status;
        std::lock_guard<std::mutex> lock(mu_);
        MockTable& shard_table = tables_[static_cast<size_t>(table)];
        ForEachShardRow(config_, config_.tables[static_cast<size_t>(table)], row_begin, row_count,
                        num_slots, [&](int slot, int64_t row, size_t offset) {
                          shard_table.WriteRow(slot, row, slots[slot] + offset);
                        });
        return sdk::Status();
      },
      [&](bool) {
        return ShardLine("LoadTableShard", table, shard, row_begin, row_count, num_slots);
      });
}

sdk::Status MockEngine::RetrieveTableShard(int32_t table, int32_t shard, int64_t row_begin,
                                           int64_t row_count, float* const* slots,
                                           size_t num_slots) {
  return Traced(
      Call::kRetrieveTableShard,
      [&] {
        sdk::Status status =
            CheckShardRange("RetrieveTableShard", table, shard, row_begin, row_count, num_slots,
                            reinterpret_cast<const void* const*>(slots));
        if (!status.ok()) return status;
        std::lock_guard<std::mutex> lock(mu_);
        MockTable& shard_table = tables_[static_cast<size_t>(table)];
        ForEachShardRow(config_, config_.tables[static_cast<size_t>(table)], row_begin, row_count,
                        num_slots, [&](int slot, int64_t row, size_t offset) {
                          shard_table.ReadRow(slot, row, slots[slot] + offset);
                        });
        return sdk::Status();
      },
      [&](bool) {
        return ShardLine("RetrieveTableShard", table, shard, row_begin, row_count, num_slots);
      });
}

sdk::Status MockEngine::Synchronize() {
  // Work runs inside the calls, so there is nothing to wait for and no deferred error; a step
  // that not every replica has sent gradients for stays open.
  return Traced(
      Call::kSynchronize, [] { return sdk::Status(); },
      [](bool) { return std::string("Synchronize"); });
}

// ----- Simulated host collectives ------------------------------------------------------------

sdk::Status MockEngine::AgreeStatus(const sdk::Status& local) {
  sdk::Status agreed;
  if (!local.ok()) {
    agreed = sdk::Status(local.code(),
                         "host " + std::to_string(config_.host_id) + ": " + local.message());
  }
  trace_->Write("AgreeStatus code=" + std::to_string(local.code()), agreed);
  return agreed;
}

sdk::Status MockEngine::Barrier() {
  trace_->Write("Barrier", sdk::Status());
  return sdk::Status();
}

sdk::Status MockEngine::AllGather(const void* local, size_t size, void* gathered) {
  for (int32_t h = 0; h < config_.num_hosts; ++h) {
    if (size > 0) std::memcpy(static_cast<char*>(gathered) + h * size, local, size);
  }
  trace_->Write("AllGather size=" + std::to_string(size), sdk::Status());
  return sdk::Status();
}

}  // namespace mock
}  // namespace embrt
