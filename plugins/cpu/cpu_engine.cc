// Copyright embrt authors.

#include "cpu_engine.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <exception>
#include <limits>
#include <new>

#include "lookup.h"
#include "update.h"
#include "vector_ops.h"

namespace embrt {
namespace cpu {
namespace {

using sdk::Status;

std::string Quote(const std::string& s) { return "'" + s + "'"; }

// Lookup and update loops hand each worker at least this many bags or rows.
constexpr int64_t kMinBagsPerChunk = 256;
// Steps with at most this many ids (all features) run on the calling thread when the device
// thread is idle: for them a thread switch costs more than the work.
constexpr int64_t kMaxInlineIds = 1024;
// How long the device thread leaves a lone lookup to its RecvActivations (DeviceLoop).
constexpr std::chrono::microseconds kLoneLookupGrace(50);
// RecvActivations within the grace in a row after which Enqueue leaves a lone lookup to its
// RecvActivations without waking the device thread (CpuEngine::prompt_dequeues_).
constexpr int kPromptDequeuesToStopWaking = 2;
// The update splits a table's rows among workers from this many ids per worker on.
constexpr int64_t kMinIdsPerOwner = 4096;
// The NaN/Inf check of gradients read in place gives each worker at least this many floats.
constexpr int64_t kMinFloatsPerCheck = 1 << 16;
// Enqueue's id range check (one host) gives each worker at least this many ids.
constexpr int64_t kMinIdsPerCheck = 8192;
// A LoadTableShard gives each worker at least this many bytes to copy.
constexpr int64_t kMinLoadBytesPerPart = int64_t{128} << 10;

Status ParseThreads(const sdk::EngineConfig& config, int* threads) {
  *threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  for (const sdk::NamedValue& option : config.options) {
    if (option.name != "threads") {
      return Status::Unimplemented("cpu backend: unknown option " + Quote(option.name) +
                                   " (supported: threads)");
    }
    std::string text =
        option.type == EMBRT_VALUE_INT64 ? std::to_string(option.int64_value) : option.string_value;
    char* end = nullptr;
    long value = std::strtol(text.c_str(), &end, 10);
    if (text.empty() || end == nullptr || *end != '\0' || value < 1 || value > 1024) {
      return Status::InvalidArgument("cpu backend: option threads=" + Quote(text) +
                                     " is not an integer in [1, 1024]");
    }
    *threads = static_cast<int>(value);
  }
  return Status();
}

// Blocks of 512 bytes, each prefetching the one 2 KiB ahead (vector_ops.h): the ids are
// mostly not in cache (a batch is used once). Branch-free and vectorized inside a block.
constexpr size_t kIdsPerBlock = kStreamBlockBytes / sizeof(int64_t);

// True when every id is in [0, vocabulary): one branch-free pass, which with kCopy also copies
// the ids to `rows`. Inlined into each kernel clone below.
template <bool kCopy>
__attribute__((always_inline)) inline bool StreamIdsInRange(const int64_t* __restrict__ ids,
                                                            size_t count, int64_t vocabulary,
                                                            int64_t* __restrict__ rows) {
  uint64_t bad = 0;
  for (size_t k = 0; k < count; k += kIdsPerBlock) {
    PrefetchStreamBlock(ids + k, ids + count);
    const size_t end = std::min(count, k + kIdsPerBlock);
    for (size_t j = k; j < end; ++j) {
      const int64_t id = ids[j];
      bad |= static_cast<uint64_t>(id) >= static_cast<uint64_t>(vocabulary);
      if constexpr (kCopy) rows[j] = id;
    }
  }
  return bad == 0;
}

// True when every id is in [0, vocabulary): a pass that only reads.
EMBRT_CPU_MULTIVERSION
bool IdsInRange(const int64_t* ids, size_t count, int64_t vocabulary) {
  return StreamIdsInRange<false>(ids, count, vocabulary, nullptr);
}

// As IdsInRange, also copying the ids to `rows` in the same pass.
EMBRT_CPU_MULTIVERSION
bool CopyIdsInRange(const int64_t* ids, size_t count, int64_t vocabulary, int64_t* rows) {
  return StreamIdsInRange<true>(ids, count, vocabulary, rows);
}

// True when `count` >= 1 splits never descend: one branch-free pass, which with kCopy also
// copies them to `out`. Inlined into each kernel clone below.
template <bool kCopy>
__attribute__((always_inline)) inline bool StreamAscending(const int32_t* __restrict__ splits,
                                                           int64_t count,
                                                           int32_t* __restrict__ out) {
  uint32_t descending = 0;
  if constexpr (kCopy) out[0] = splits[0];
  for (int64_t i = 1; i < count; ++i) {
    descending |= splits[i] < splits[i - 1] ? 1u : 0u;
    if constexpr (kCopy) out[i] = splits[i];
  }
  return descending == 0;
}

// Copies `count` >= 1 splits to `out`; true when they never descend.
EMBRT_CPU_MULTIVERSION
bool CopyAscending(const int32_t* splits, int64_t count, int32_t* out) {
  return StreamAscending<true>(splits, count, out);
}

// As CopyAscending without the copy, for splits read in place.
EMBRT_CPU_MULTIVERSION
bool Ascending(const int32_t* splits, int64_t count) {
  return StreamAscending<false>(splits, count, nullptr);
}

// The error for `rows` + 1 splits that descend somewhere: names the first descending pair.
Status DescendingSplits(const std::string& where, const int32_t* splits, int64_t rows) {
  for (int64_t b = 0; b < rows; ++b) {
    if (splits[b + 1] < splits[b]) {
      return Status::InvalidArgument(where + ": row_splits are not ascending at row " +
                                     std::to_string(b) + " (" + std::to_string(splits[b]) +
                                     " then " + std::to_string(splits[b + 1]) + ")");
    }
  }
  return Status::Internal(where + ": row_splits were found descending, then not");
}

// The error for splits whose last value is not the id count.
Status SplitsEndMismatch(const std::string& where, const sdk::FeatureInputView& in) {
  return Status::InvalidArgument(where + ": row_splits end at " +
                                 std::to_string(in.row_splits[in.num_row_splits - 1]) +
                                 " but there are " + std::to_string(in.num_ids) + " ids");
}

// True when splits[b] == b for every b < `count`: one id per bag.
EMBRT_CPU_MULTIVERSION
bool IsIota(const int32_t* __restrict__ splits, int64_t count) {
  uint32_t other = 0;
  for (int64_t b = 0; b < count; ++b) other |= splits[b] != static_cast<int32_t>(b) ? 1u : 0u;
  return other == 0;
}

}  // namespace

Status CpuEngine::Create(const sdk::EngineConfig& config, std::unique_ptr<sdk::Engine>* engine) {
  if (config.num_replicas < 1) {
    return Status::InvalidArgument("num_replicas must be >= 1, got " +
                                   std::to_string(config.num_replicas));
  }
  if (config.num_hosts < 1 || config.host_id < 0 || config.host_id >= config.num_hosts) {
    return Status::InvalidArgument("host_id " + std::to_string(config.host_id) +
                                   " is not in [0, num_hosts=" + std::to_string(config.num_hosts) +
                                   ")");
  }
  if (config.sharding != EMBRT_SHARDING_DIV && config.sharding != EMBRT_SHARDING_MOD) {
    return Status::InvalidArgument("unknown sharding " + std::to_string(config.sharding));
  }
  if (config.num_learning_rate_tags < 0) {
    return Status::InvalidArgument("num_learning_rate_tags is negative");
  }
  for (size_t t = 0; t < config.tables.size(); ++t) {
    const sdk::TableConfig& table = config.tables[t];
    const std::string where = "table " + Quote(table.name) + " (index " + std::to_string(t) + ")";
    if (table.vocabulary_size < 1) {
      return Status::InvalidArgument(where + ": vocabulary_size must be >= 1, got " +
                                     std::to_string(table.vocabulary_size));
    }
    if (table.dim < 1) {
      return Status::InvalidArgument(where + ": dim must be >= 1, got " +
                                     std::to_string(table.dim));
    }
    if (table.combiner != EMBRT_COMBINER_SUM && table.combiner != EMBRT_COMBINER_MEAN &&
        table.combiner != EMBRT_COMBINER_SQRTN) {
      return Status::Unimplemented(where + ": combiner " + std::to_string(table.combiner) +
                                   " is not supported");
    }
    if (table.quantization_num_buckets != 0 &&
        (table.quantization_num_buckets < 2 || !std::isfinite(table.quantization_lower) ||
         !std::isfinite(table.quantization_upper) ||
         !(table.quantization_lower < table.quantization_upper))) {
      return Status::InvalidArgument(
          where + ": quantization needs num_buckets >= 2 and finite lower < upper, got " +
          std::to_string(table.quantization_num_buckets) + " buckets in [" +
          std::to_string(table.quantization_lower) + ", " +
          std::to_string(table.quantization_upper) + "]");
    }
    const int64_t expected =
        sdk::ShardRows(table.vocabulary_size, config.num_hosts, config.host_id);
    if (table.shard_rows != expected) {
      return Status::InvalidArgument(where + ": shard_rows " + std::to_string(table.shard_rows) +
                                     " but host " + std::to_string(config.host_id) + " of " +
                                     std::to_string(config.num_hosts) + " holds " +
                                     std::to_string(expected) + " rows");
    }
    OptimizerSettings settings;
    Status status =
        ParseOptimizer(table.optimizer, table.name, config.num_learning_rate_tags, &settings);
    if (!status.ok()) return status;
  }
  for (size_t f = 0; f < config.features.size(); ++f) {
    const sdk::FeatureConfig& feature = config.features[f];
    const std::string where =
        "feature " + Quote(feature.name) + " (index " + std::to_string(f) + ")";
    if (feature.table_index < 0 ||
        static_cast<size_t>(feature.table_index) >= config.tables.size()) {
      return Status::InvalidArgument(where + ": table_index " +
                                     std::to_string(feature.table_index) + " is out of range");
    }
    if (feature.max_sequence_length < 0) {
      return Status::InvalidArgument(where + ": max_sequence_length is negative");
    }
    if (feature.input_rows < 0 || feature.input_rows > std::numeric_limits<int32_t>::max()) {
      return Status::InvalidArgument(where + ": input_rows " + std::to_string(feature.input_rows) +
                                     " is out of range");
    }
  }
  if (Status fits = CheckTablesFit(config.tables, AllocatableBytes()); !fits.ok()) return fits;
  int threads = 1;
  Status status = ParseThreads(config, &threads);
  if (!status.ok()) return status;
  std::unique_ptr<Transport> transport;
  if (config.num_hosts > 1) {
    status = CreateHostTransport(config, &transport);
    if (!status.ok()) return status;
  }
  engine->reset(new CpuEngine(config, threads, std::move(transport)));
  return Status();
}

CpuEngine::CpuEngine(const sdk::EngineConfig& config, int threads,
                     std::unique_ptr<Transport> transport)
    : num_replicas_(config.num_replicas),
      num_hosts_(config.num_hosts),
      host_id_(config.host_id),
      pipeline_execution_(config.pipeline_execution),
      num_learning_rate_tags_(config.num_learning_rate_tags),
      allow_nonfinite_gradients_(config.allow_nonfinite_gradients),
      synchronous_update_(config.num_replicas == 1 && config.num_hosts == 1 &&
                          !config.pipeline_execution),
      pool_(threads) {
  tables_.resize(config.tables.size());
  for (size_t t = 0; t < config.tables.size(); ++t) {
    const sdk::TableConfig& in = config.tables[t];
    Table& table = tables_[t];
    table.name = in.name;
    table.vocabulary_size = in.vocabulary_size;
    table.dim = in.dim;
    table.combiner = in.combiner;
    if (in.quantization_num_buckets != 0) {
      table.quantization = Quantization{in.quantization_num_buckets, in.quantization_lower,
                                        in.quantization_upper};
    }
    ParseOptimizer(in.optimizer, in.name, config.num_learning_rate_tags, &table.optimizer);
    table.shard = ShardMap(in.vocabulary_size, config.num_hosts, config.host_id, config.sharding);
    table.storage =
        std::make_unique<TableShard>(in.shard_rows, in.dim, sdk::SlotCount(table.optimizer.kind));
    max_dim_ = std::max(max_dim_, in.dim);
  }
  for (size_t f = 0; f < config.features.size(); ++f) {
    const sdk::FeatureConfig& in = config.features[f];
    Feature feature;
    feature.name = in.name;
    feature.label = "feature " + Quote(in.name) + " (index " + std::to_string(f) + ")";
    feature.table = in.table_index;
    feature.dim = tables_[in.table_index].dim;
    feature.max_sequence_length = in.max_sequence_length;
    feature.input_rows = in.input_rows;
    feature.activation_floats =
        static_cast<size_t>(in.input_rows) * std::max(1, in.max_sequence_length) * feature.dim;
    features_.push_back(feature);
    tables_[in.table_index].features.push_back(static_cast<int32_t>(f));
  }
  if (transport != nullptr) {
    std::vector<ExchangeTable> exchanged;
    for (const Table& table : tables_) {
      exchanged.push_back(ExchangeTable{table.vocabulary_size, table.dim,
                                        table.optimizer.use_gradient_accumulation});
    }
    exchange_ = std::make_unique<Exchange>(std::move(transport), config.sharding, num_replicas_,
                                           std::move(exchanged));
  }
  worker_scratch_.assign(pool_.size(), std::vector<float>(2 * static_cast<size_t>(max_dim_)));
  owned_rows_.resize(pool_.size());
  row_refs_.resize(pool_.size());
  replicas_.resize(num_replicas_);
  for (Replica& replica : replicas_) {
    for (StepBuffer& buffer : replica.buffers) buffer.features.resize(features_.size());
    replica.activations.resize(features_.size());
    for (size_t f = 0; f < features_.size(); ++f) {
      replica.activations[f].assign(features_[f].activation_floats, 0.0f);
    }
  }
  device_thread_ = std::thread([this] { DeviceLoop(); });
}

CpuEngine::~CpuEngine() {
  {
    std::unique_lock<std::mutex> lock(mutex_);
    Drain(lock);  // applies a deferred update too, so Retrieve-less users lose nothing
    stop_ = true;
  }
  changed_.notify_all();
  device_wake_.notify_one();
  device_thread_.join();
}

Status CpuEngine::CheckReplica(int32_t replica) const {
  if (replica < 0 || replica >= num_replicas_) {
    return Status::InvalidArgument("replica " + std::to_string(replica) + " is not in [0, " +
                                   std::to_string(num_replicas_) + ")");
  }
  return Status();
}

// ---------------------------------------------------------------------------------------------
// Enqueue

// ABI 1.1 sequence positions: one per id, strictly ascending inside each row, in [0, L).
Status CpuEngine::CheckPositions(const std::string& where, const sdk::FeatureInputView& in,
                                 const int32_t* splits, int64_t rows,
                                 int32_t max_sequence_length) {
  if (in.num_positions != in.num_ids) {
    return Status::InvalidArgument(where + ": " + std::to_string(in.num_positions) +
                                   " positions for " + std::to_string(in.num_ids) + " ids");
  }
  for (int64_t b = 0; b < rows; ++b) {
    for (int32_t k = splits[b]; k < splits[b + 1]; ++k) {
      const int32_t p = in.positions[k];
      if (p < 0 || p >= max_sequence_length ||
          (k > splits[b] && p <= in.positions[k - 1])) {
        return Status::InvalidArgument(
            where + ": row " + std::to_string(b) + ", id " + std::to_string(k - splits[b]) +
            ": position " + std::to_string(p) + " is outside [0, " +
            std::to_string(max_sequence_length) +
            ") or not after the row's previous position");
      }
    }
  }
  return Status();
}

Status CpuEngine::CopyInputs(int32_t replica, const sdk::FeatureInputView* inputs,
                             size_t num_inputs, bool in_place, StepBuffer* buffer) {
  if (num_inputs != features_.size()) {
    return Status::InvalidArgument("Enqueue for replica " + std::to_string(replica) + ": got " +
                                   std::to_string(num_inputs) + " feature inputs, expected " +
                                   std::to_string(features_.size()));
  }
  for (size_t f = 0; f < features_.size(); ++f) {
    const Feature& feature = features_[f];
    const Table& table = tables_[feature.table];
    const sdk::FeatureInputView& in = inputs[f];
    FeatureBatch& batch = buffer->features[f];
    const std::string& where = feature.label;
    const int64_t rows = feature.input_rows;
    bool rows_done = false;
    if (in.num_ids > static_cast<size_t>(std::numeric_limits<int32_t>::max())) {
      return Status::InvalidArgument(where + ": " + std::to_string(in.num_ids) +
                                     " ids do not fit int32 row splits");
    }
    if (in.num_ids > 0 && in.ids == nullptr) {
      return Status::InvalidArgument(where + ": ids is NULL with num_ids " +
                                     std::to_string(in.num_ids));
    }
    // Splits read in place with the ids (one host, no sequence, some ids): their order is
    // checked in the ids' parallel pass below rather than in a serial copy here.
    const bool borrowed_splits = in_place && in.row_splits != nullptr && in.num_ids > 0 &&
                                 feature.max_sequence_length == 0 && in.positions == nullptr;
    if (in.row_splits == nullptr) {
      if (in.num_ids != static_cast<size_t>(rows)) {
        return Status::InvalidArgument(where +
                                       ": without row_splits there must be one id per "
                                       "row: got " +
                                       std::to_string(in.num_ids) + " ids for " +
                                       std::to_string(rows) + " rows");
      }
      batch.splits.resize(rows + 1);
      for (int64_t b = 0; b <= rows; ++b) batch.splits[b] = static_cast<int32_t>(b);
    } else {
      if (in.num_row_splits != static_cast<size_t>(rows + 1)) {
        return Status::InvalidArgument(where + ": row_splits has " +
                                       std::to_string(in.num_row_splits) + " entries, expected " +
                                       std::to_string(rows + 1) + " (input_rows + 1)");
      }
      if (in.row_splits[0] != 0) {
        return Status::InvalidArgument(where + ": row_splits[0] is " +
                                       std::to_string(in.row_splits[0]) + ", expected 0");
      }
      // Copied and checked in one branch-free pass (into this step's buffer, which nothing
      // reads until the Enqueue succeeds).
      if (!borrowed_splits) {
        batch.splits.resize(rows + 1);
        if (!CopyAscending(in.row_splits, rows + 1, batch.splits.data())) {
          return DescendingSplits(where, in.row_splits, rows);
        }
        if (static_cast<size_t>(in.row_splits[rows]) != in.num_ids) {
          return SplitsEndMismatch(where, in);
        }
      }
    }
    if (borrowed_splits) batch.splits.clear();
    batch.split_data = borrowed_splits ? in.row_splits : batch.splits.data();
    if (in.positions != nullptr && feature.max_sequence_length == 0) {
      return Status::InvalidArgument(where +
                                     ": positions are given but the feature has no sequence "
                                     "(max_sequence_length 0)");
    }
    batch.positions.clear();
    if (in.positions != nullptr) {
      Status positions = CheckPositions(where, in, batch.split_data, rows,
                                        feature.max_sequence_length);
      if (!positions.ok()) return positions;
      batch.positions.assign(in.positions, in.positions + in.num_ids);
    }
    if (feature.max_sequence_length > 0) {
      if (in.weights != nullptr) {
        return Status::InvalidArgument(where +
                                       " is a sequence feature: weights are not "
                                       "supported");
      }
      for (int64_t b = 0; b < rows; ++b) {
        const int32_t length = batch.split_data[b + 1] - batch.split_data[b];
        if (length > feature.max_sequence_length) {
          return Status::InvalidArgument(where + ": row " + std::to_string(b) + " has " +
                                         std::to_string(length) + " ids, more than " +
                                         "max_sequence_length " +
                                         std::to_string(feature.max_sequence_length));
        }
      }
    }
    batch.num_ids = in.num_ids;
    // One host: local row == id. A flat, branch-free pass checks (and copies, unless read in
    // place) every id; the per-bag loop below only runs to find and name a bad id, or to map
    // ids of a shard.
    if (num_hosts_ == 1) {
      if (!in_place) batch.rows.resize(in.num_ids);
      rows_done = CheckIds(in.ids, in.num_ids, table.vocabulary_size,
                           in_place ? nullptr : batch.rows.data(),
                           borrowed_splits ? in.row_splits : nullptr, rows);
    }
    if (borrowed_splits) {  // in the order of the copying path: splits, then ids
      if (!rows_done && !Ascending(in.row_splits, rows + 1)) {
        return DescendingSplits(where, in.row_splits, rows);
      }
      if (static_cast<size_t>(in.row_splits[rows]) != in.num_ids) {
        return SplitsEndMismatch(where, in);
      }
    }
    const bool borrowed = rows_done && in_place;  // the lookup reads the host's ids
    batch.rows.resize(borrowed ? 0 : in.num_ids);
    batch.row_data = borrowed ? in.ids : batch.rows.data();
    for (int64_t b = 0; b < rows && !rows_done; ++b) {
      for (int32_t k = batch.split_data[b]; k < batch.split_data[b + 1]; ++k) {
        const int64_t id = in.ids[k];
        if (id < 0 || id >= table.vocabulary_size) {
          return Status::InvalidArgument(where + ": row " + std::to_string(b) + ", position " +
                                         std::to_string(k - batch.split_data[b]) + ": id " +
                                         std::to_string(id) + " is out of range [0, " +
                                         std::to_string(table.vocabulary_size) + ") of table " +
                                         Quote(table.name));
        }
        if (exchange_ != nullptr) {
          batch.rows[k] = id;  // global: the exchange fetches it from its owner
          continue;
        }
        if (!table.shard.Owns(id)) {
          return Status::Unimplemented(where + ": row " + std::to_string(b) + ": id " +
                                       std::to_string(id) + " of table " + Quote(table.name) +
                                       " lives on another host, and the cpu backend " +
                                       "has no transport between hosts yet");
        }
        batch.rows[k] = table.shard.LocalRow(id);
      }
    }
    if (in.weights != nullptr) {
      for (size_t k = 0; k < in.num_ids; ++k) {
        if (!std::isfinite(in.weights[k])) {
          return Status::InvalidArgument(where + ": weight " + std::to_string(k) + " is " +
                                         std::to_string(in.weights[k]) + " (must be finite)");
        }
      }
      if (in_place) {
        batch.weights.clear();
        batch.weight_data = in.weights;
      } else {
        batch.weights.assign(in.weights, in.weights + in.num_ids);
        batch.weight_data = batch.weights.data();
      }
    } else {
      batch.weights.clear();
      batch.weight_data = nullptr;
    }
    // Every gain is 1 for a sequence and an unweighted sum. Otherwise a bag's gains depend on
    // its ids, unless every bag holds one id: then a gain is that id's weight, or exactly 1
    // without weights (1 / 1 and 1 / sqrt(1): single-valued categorical features under TF's
    // default mean). Found here once per batch; the update's ref plan reads it too.
    const bool gains_vary = feature.max_sequence_length == 0 &&
                            (table.combiner != EMBRT_COMBINER_SUM || batch.weight_data != nullptr);
    batch.one_id_per_bag = gains_vary && in.num_ids == static_cast<size_t>(rows) &&
                           IsIota(batch.split_data, rows + 1);
    batch.unit_gains = exchange_ == nullptr &&  // the exchange sends every gain
                       (!gains_vary || (batch.weight_data == nullptr && batch.one_id_per_bag));
    batch.gains.resize(batch.unit_gains ? 0 : in.num_ids);
    batch.has_gradients = false;
  }
  return Status();
}

template <typename Check>
bool CpuEngine::CheckOnPool(int64_t total, int64_t min_per_part, Check check) {
  if (pool_.size() == 1 || total < 2 * min_per_part) return check(0, total);
  // The pool is the device's: hold the device as a task does. Busy (an update or another
  // replica's lookup running): checked here rather than waited for.
  std::unique_lock<std::mutex> lock(mutex_);
  if (device_busy_ || !queue_.empty()) {
    lock.unlock();
    return check(0, total);
  }
  std::vector<uint8_t> passed(pool_.size(), 1);  // per worker
  RunHoldingDevice(lock, [&] {
    pool_.ParallelFor(total, min_per_part, [&](int64_t begin, int64_t end, int worker) {
      if (!check(begin, end)) passed[worker] = 0;
    });
  });
  lock.unlock();
  changed_.notify_all();
  return std::all_of(passed.begin(), passed.end(), [](uint8_t ok) { return ok != 0; });
}

bool CpuEngine::CheckIds(const int64_t* ids, size_t count, int64_t vocabulary, int64_t* rows,
                         const int32_t* splits, int64_t num_rows) {
  // It runs on the caller before the lookup can start: split among the workers like the lookup.
  // A part of the ids [begin, end) also checks the pairs of splits ending in (S(begin), S(end)]
  // with S(x) = x * num_rows / count: the parts tile both arrays.
  const int64_t total = static_cast<int64_t>(count);
  auto split_at = [&](int64_t x) { return x == total ? num_rows : x * num_rows / total; };
  auto check = [&](int64_t begin, int64_t end) {
    const size_t n = static_cast<size_t>(end - begin);
    const bool ids_ok = rows == nullptr ? IdsInRange(ids + begin, n, vocabulary)
                                        : CopyIdsInRange(ids + begin, n, vocabulary, rows + begin);
    if (splits == nullptr || !ids_ok) return ids_ok;
    const int64_t first = split_at(begin);
    return Ascending(splits + first, split_at(end) - first + 1);
  };
  return CheckOnPool(total, kMinIdsPerCheck, check);
}

Status CpuEngine::Enqueue(int32_t replica, EMBRT_Mode mode, const sdk::FeatureInputView* inputs,
                          size_t num_inputs) {
  return EnqueueWithLifetime(replica, mode, inputs, num_inputs, EMBRT_INPUT_LIFETIME_CALL);
}

Status CpuEngine::EnqueueWithLifetime(int32_t replica, EMBRT_Mode mode,
                                      const sdk::FeatureInputView* inputs, size_t num_inputs,
                                      int32_t input_lifetime) {
  // In place only where nothing reads the inputs after the step is complete: INFERENCE (no
  // update later) or TRAINING with the update done before SendGradients returns; one host
  // (the exchange rewrites the ids).
  const bool in_place = input_lifetime == EMBRT_INPUT_LIFETIME_STEP &&
                        (mode == EMBRT_MODE_INFERENCE || synchronous_update_) &&
                        exchange_ == nullptr && num_hosts_ == 1;
  int64_t step = 0;
  bool wake_device = false;
  Status status = PrepareEnqueue(replica, mode, inputs, num_inputs, in_place, &step);
  // Several hosts: a call that fails on one host fails on all, before anything is exchanged.
  if (exchange_ != nullptr) status = AgreeOnEnqueue(status, replica, mode);
  if (!status.ok()) return status;
  bool round_complete = false;
  {
    std::unique_lock<std::mutex> lock(mutex_);
    Replica& r = replicas_[replica];
    r.phase = Phase::kEnqueued;
    r.mode = mode;
    r.lookup_done = false;
    const Task task{false, replica, step};
    if (exchange_ != nullptr) {
      round_lookups_.push_back(task);  // queued by StartLookupRound once its rows are here
      round_complete = round_lookups_.size() == static_cast<size_t>(num_replicas_);
      // A held-back update is released by StartLookupRound, after the rows were fetched.
      if (mode == EMBRT_MODE_TRAINING) r.enqueued_training_step = step;
    } else {
      if (!pipeline_execution_ && step >= 1 && collecting_step_ <= step - 1) {
        held_lookups_.push_back(task);
      } else if (Submit(task, lock, /*wake_device=*/false)) {
        r.lookup_queued_at = std::chrono::steady_clock::now();
        // Alone in the queue for a host that dequeues at once, the lookup is left to its
        // RecvActivations: the device thread would only sleep through its grace (DeviceLoop),
        // and on a 2-core machine its wake-up preempts a thread of the pool (issue 13: 1-8% of
        // a two-thread lookup of bags of 1 on average, bench/README.md). Otherwise it starts
        // the lookup in the background, overlapping the host's work until RecvActivations.
        wake_device = !(prompt_dequeues_ >= kPromptDequeuesToStopWaking && queue_.size() == 1);
      }
      if (mode == EMBRT_MODE_TRAINING) {
        r.enqueued_training_step = step;
        ReleaseDeferredUpdate(lock, /*flush=*/false);
      }
    }
  }
  changed_.notify_all();
  if (wake_device) device_wake_.notify_one();
  if (round_complete) return StartLookupRound();
  return Status();
}

Status CpuEngine::PrepareEnqueue(int32_t replica, EMBRT_Mode mode,
                                 const sdk::FeatureInputView* inputs, size_t num_inputs,
                                 bool in_place, int64_t* step_out) {
  Status status = CheckReplica(replica);
  if (!status.ok()) return status;
  if (mode != EMBRT_MODE_TRAINING && mode != EMBRT_MODE_INFERENCE) {
    return Status::InvalidArgument("Enqueue: mode " + std::to_string(mode) +
                                   " is neither TRAINING nor INFERENCE");
  }
  int64_t step;
  {
    std::unique_lock<std::mutex> lock(mutex_);
    Replica& r = replicas_[replica];
    if (r.phase == Phase::kEnqueued) {
      return Status::FailedPrecondition("Enqueue for replica " + std::to_string(replica) +
                                        ": its previous step has not been received");
    }
    if (r.phase == Phase::kReceived) {
      return Status::FailedPrecondition("Enqueue for replica " + std::to_string(replica) +
                                        ": its previous training step has no gradients yet");
    }
    step = r.step;
    // buffers[step % 2] was last read by the update of step - 2.
    WaitHelping(lock, [&] { return completed_updates_ >= step - 1; });
  }
  *step_out = step;
  StepBuffer& buffer = replicas_[replica].buffers[step % 2];
  return CopyInputs(replica, inputs, num_inputs, in_place, &buffer);
}

// ---------------------------------------------------------------------------------------------
// RecvActivations

Status CpuEngine::RecvActivations(int32_t replica, float* const* activations,
                                  const size_t* activation_sizes, size_t num_activations) {
  Status status = CheckReplica(replica);
  if (!status.ok()) return status;
  if (num_activations != features_.size()) {
    return Status::InvalidArgument("RecvActivations for replica " + std::to_string(replica) +
                                   ": got " + std::to_string(num_activations) +
                                   " buffers, expected " + std::to_string(features_.size()));
  }
  for (size_t f = 0; f < features_.size(); ++f) {
    if (activation_sizes[f] != features_[f].activation_floats) {
      return Status::InvalidArgument("RecvActivations: feature " + Quote(features_[f].name) +
                                     " (index " + std::to_string(f) + "): buffer holds " +
                                     std::to_string(activation_sizes[f]) + " floats, expected " +
                                     std::to_string(features_[f].activation_floats));
    }
    if (activations[f] == nullptr && activation_sizes[f] > 0) {
      return Status::InvalidArgument("RecvActivations: feature " + Quote(features_[f].name) +
                                     ": buffer is NULL");
    }
  }
  EMBRT_Mode mode;
  bool written = false;  // the lookup wrote into `activations` itself
  {
    std::unique_lock<std::mutex> lock(mutex_);
    Replica& r = replicas_[replica];
    if (r.phase != Phase::kEnqueued) {
      return Status::FailedPrecondition("RecvActivations for replica " + std::to_string(replica) +
                                        ": nothing was enqueued");
    }
    if (exchange_ != nullptr) {
      status = CheckLookupRoundStarted(replica);  // else this would wait forever
      if (!status.ok()) return status;
    }
    if (r.lookup_queued_at.has_value()) {
      const bool prompt =
          std::chrono::steady_clock::now() - *r.lookup_queued_at <= kLoneLookupGrace;
      prompt_dequeues_ = prompt ? std::min(prompt_dequeues_ + 1, kPromptDequeuesToStopWaking) : 0;
      r.lookup_queued_at.reset();
    }
    // While waiting, run queued work here. When this replica's lookup is next in line, it
    // writes straight into the caller's buffers, which also saves the copy below.
    while (!r.lookup_done && deferred_error_.ok()) {
      if (!device_busy_ && !queue_.empty() && !queue_.front().is_update &&
          queue_.front().replica == replica) {
        written = RunTaskHere(PopTask(), lock, activations).ok();
      } else if (!RunNextTaskHere(lock)) {
        changed_.wait(lock);
      }
    }
    if (!deferred_error_.ok()) return deferred_error_;
    mode = r.mode;
  }
  Replica& r = replicas_[replica];
  for (size_t f = 0; f < features_.size() && !written; ++f) {
    if (features_[f].activation_floats > 0) {
      std::memcpy(activations[f], r.activations[f].data(),
                  sizeof(float) * features_[f].activation_floats);
    }
  }
  std::lock_guard<std::mutex> lock(mutex_);
  r.phase = mode == EMBRT_MODE_TRAINING ? Phase::kReceived : Phase::kIdle;
  r.last_received_mode = mode;
  return Status();
}

// ---------------------------------------------------------------------------------------------
// SendGradients

Status CpuEngine::SendGradients(int32_t replica, const float* const* gradients,
                                const size_t* gradient_sizes, size_t num_gradients,
                                const float* learning_rates, size_t num_learning_rates) {
  int64_t step = 0;
  // The update runs before this call returns (synchronous_update_): read the gradients in place.
  const bool in_place = synchronous_update_;
  Status status = CheckGradients(replica, gradients, gradient_sizes, num_gradients, learning_rates,
                                 num_learning_rates, in_place, &step);
  if (exchange_ != nullptr) status = exchange_->transport().AgreeStatus(status);
  if (!status.ok()) {
    if (in_place) KeepIdsForRetry(replica);
    return status;
  }
  StepBuffer& buffer = replicas_[replica].buffers[step % 2];
  for (size_t f = 0; f < features_.size(); ++f) {  // checked (and copied) by CheckGradients
    FeatureBatch& batch = buffer.features[f];
    batch.has_gradients = gradients[f] != nullptr;
    batch.gradient_data = !batch.has_gradients ? nullptr
                          : in_place           ? gradients[f]
                                               : batch.gradients.data();
  }
  if (replica == 0) {
    buffer.learning_rates.assign(learning_rates, learning_rates + num_learning_rates);
  }
  bool exchange_gradients = false;
  {
    std::unique_lock<std::mutex> lock(mutex_);
    // A replica one step ahead waits until every replica has sent the previous step.
    changed_.wait(lock, [&] { return collecting_step_ >= step; });
    Replica& r = replicas_[replica];
    r.phase = Phase::kIdle;
    r.last_received_mode = EMBRT_MODE_TRAINING;
    ++r.step;
    if (++sent_for_collecting_ == num_replicas_) {
      if (exchange_ != nullptr) {
        exchange_gradients = true;  // queued below, once the owners have the gradients
      } else {
        QueueUpdate(step, lock);
      }
    }
  }
  changed_.notify_all();
  if (exchange_gradients) return FinishStepAcrossHosts(step);
  return Status();
}

void CpuEngine::QueueUpdate(int64_t step, std::unique_lock<std::mutex>& lock) {
  ++collecting_step_;
  sent_for_collecting_ = 0;
  if (pipeline_execution_) {
    // Held back until every replica's lookup of step + 1 is queued (one step stale); with
    // several hosts, until the rows of step + 1 were fetched (StartLookupRound).
    deferred_update_ = step;
    if (exchange_ == nullptr) ReleaseDeferredUpdate(lock, /*flush=*/false);
    return;
  }
  Submit(Task{true, -1, step}, lock);
  // It reads the caller's gradients (and maybe ids) in place: done before SendGradients returns.
  if (synchronous_update_) WaitHelping(lock, [&] { return completed_updates_ > step; });
  std::vector<Task> held;
  held.swap(held_lookups_);
  for (const Task& task : held) Submit(task, lock);
}

Status CpuEngine::CheckGradients(int32_t replica, const float* const* gradients,
                                 const size_t* gradient_sizes, size_t num_gradients,
                                 const float* learning_rates, size_t num_learning_rates,
                                 bool in_place, int64_t* step_out) {
  Status status = CheckReplica(replica);
  if (!status.ok()) return status;
  int64_t step;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    const Replica& r = replicas_[replica];
    if (r.phase != Phase::kReceived) {
      std::string why;
      if (r.phase == Phase::kEnqueued) {
        why = "its step has not been received (call RecvActivations first)";
      } else if (r.last_received_mode == EMBRT_MODE_INFERENCE) {
        why = "its last step was enqueued for INFERENCE";
      } else if (r.last_received_mode == EMBRT_MODE_TRAINING) {
        why = "gradients for its last step were already sent";
      } else {
        why = "no step has been enqueued and received";
      }
      return Status::FailedPrecondition("SendGradients for replica " + std::to_string(replica) +
                                        ": " + why);
    }
    step = r.step;
  }
  const std::string who = "SendGradients for replica " + std::to_string(replica);
  if (num_gradients != features_.size()) {
    return Status::InvalidArgument(who + ": got " + std::to_string(num_gradients) +
                                   " gradients, expected " + std::to_string(features_.size()));
  }
  if (learning_rates != nullptr || (replica == 0 && num_learning_rate_tags_ > 0)) {
    if (learning_rates == nullptr ||
        num_learning_rates != static_cast<size_t>(num_learning_rate_tags_)) {
      return Status::InvalidArgument(
          who + ": got " + std::to_string(learning_rates == nullptr ? 0 : num_learning_rates) +
          " learning rates, expected " + std::to_string(num_learning_rate_tags_));
    }
  }
  for (size_t f = 0; f < features_.size(); ++f) {
    if (gradients[f] != nullptr && gradient_sizes[f] != features_[f].activation_floats) {
      return Status::InvalidArgument(who + ": feature " + Quote(features_[f].name) + " (index " +
                                     std::to_string(f) + "): gradient holds " +
                                     std::to_string(gradient_sizes[f]) + " floats, expected " +
                                     std::to_string(features_[f].activation_floats));
    }
  }
  // Copy the gradients (the update may run after this call returns) and check them in the same
  // pass, or in place only check them, in a pass that writes nothing, before the update reads
  // them. This writes only this replica's unsent step buffer, which nothing reads until
  // SendGradients succeeds, so a rejected call still changes nothing.
  StepBuffer& buffer = replicas_[replica].buffers[step % 2];
  const bool all_finite = in_place && !allow_nonfinite_gradients_ && GradientsFinite(gradients);
  for (size_t f = 0; f < features_.size(); ++f) {
    const float* g = gradients[f];
    if (g == nullptr) continue;
    const size_t n = features_[f].activation_floats;
    if (in_place) {
      if (allow_nonfinite_gradients_ || all_finite || AllFinite(g, n)) continue;
    } else {
      std::vector<float>& copy = buffer.features[f].gradients;
      copy.resize(n);
      if (CopyFinite(g, copy.data(), n) || allow_nonfinite_gradients_) continue;
    }
    size_t i = 0;
    while (std::isfinite(g[i])) ++i;
    const Feature& feature = features_[f];
    const size_t column = i % feature.dim;
    const size_t position = i / feature.dim;
    std::string at;
    if (feature.max_sequence_length > 0) {
      at = "row " + std::to_string(position / feature.max_sequence_length) + ", position " +
           std::to_string(position % feature.max_sequence_length);
    } else {
      at = "row " + std::to_string(position);
    }
    return Status::InvalidArgument(who + ": feature " + Quote(feature.name) + " (index " +
                                   std::to_string(f) + "): gradient at " + at + ", column " +
                                   std::to_string(column) + " is " + std::to_string(g[i]) +
                                   "; nothing from this replica's step was applied");
  }
  *step_out = step;
  return Status();
}

void CpuEngine::KeepIdsForRetry(int32_t replica) {
  if (!CheckReplica(replica).ok()) return;  // the call was rejected for its replica number
  std::lock_guard<std::mutex> lock(mutex_);
  const Replica& r = replicas_[replica];
  if (r.phase != Phase::kReceived) return;  // no training step waits for its gradients
  std::vector<FeatureBatch>& batches = replicas_[replica].buffers[r.step % 2].features;
  for (size_t f = 0; f < batches.size(); ++f) {
    FeatureBatch& batch = batches[f];
    if (batch.num_ids > 0 && batch.rows.empty()) {  // read in place
      batch.rows.assign(batch.row_data, batch.row_data + batch.num_ids);
      batch.row_data = batch.rows.data();
    }
    if (batch.splits.empty() && batch.split_data != nullptr) {  // read in place too
      batch.splits.assign(batch.split_data, batch.split_data + features_[f].input_rows + 1);
      batch.split_data = batch.splits.data();
    }
  }
}

bool CpuEngine::GradientsFinite(const float* const* gradients) {
  // Every feature's gradient floats numbered one after another, split among the workers.
  int64_t total = 0;
  for (size_t f = 0; f < features_.size(); ++f) {
    if (gradients[f] != nullptr) total += static_cast<int64_t>(features_[f].activation_floats);
  }
  return CheckOnPool(total, kMinFloatsPerCheck, [&](int64_t begin, int64_t end) {
    int64_t first = 0;
    for (size_t f = 0; f < features_.size() && first < end; ++f) {
      if (gradients[f] == nullptr) continue;
      const int64_t last = first + static_cast<int64_t>(features_[f].activation_floats);
      const int64_t b = std::max(begin, first), e = std::min(end, last);
      if (b < e && !AllFinite(gradients[f] + (b - first), static_cast<size_t>(e - b))) {
        return false;
      }
      first = last;
    }
    return true;
  });
}

// ---------------------------------------------------------------------------------------------
// Load, retrieve, synchronize

void CpuEngine::ReleaseDeferredUpdate(std::unique_lock<std::mutex>& lock, bool flush) {
  if (deferred_update_ < 0) return;
  if (!flush) {
    for (const Replica& r : replicas_) {
      if (r.enqueued_training_step <= deferred_update_) return;
    }
  }
  const Task task{true, -1, deferred_update_};
  deferred_update_ = -1;
  Submit(task, lock);
}

void CpuEngine::Drain(std::unique_lock<std::mutex>& lock) {
  ReleaseDeferredUpdate(lock, /*flush=*/true);
  WaitHelping(lock, [&] { return queue_.empty() && !device_busy_; });
}

Status CpuEngine::Synchronize() {
  std::unique_lock<std::mutex> lock(mutex_);
  Drain(lock);
  return deferred_error_;
}

Status CpuEngine::CheckRows(int32_t table, int32_t shard, int64_t row_begin, int64_t row_count,
                            const void* const* slots, size_t num_slots) const {
  if (table < 0 || static_cast<size_t>(table) >= tables_.size()) {
    return Status::InvalidArgument("table index " + std::to_string(table) + " is not in [0, " +
                                   std::to_string(tables_.size()) + ")");
  }
  const Table& t = tables_[table];
  const std::string where = "table " + Quote(t.name);
  if (shard != host_id_) {
    return Status::InvalidArgument(where + ": shard " + std::to_string(shard) +
                                   " is not this host's (" + std::to_string(host_id_) + " of " +
                                   std::to_string(num_hosts_) + ")");
  }
  const int64_t rows = t.storage->rows();
  if (row_begin < 0 || row_count < 0 || row_begin > rows || row_count > rows - row_begin) {
    return Status::InvalidArgument(where + ": rows [" + std::to_string(row_begin) + ", " +
                                   std::to_string(row_begin) + " + " + std::to_string(row_count) +
                                   ") are outside the shard's " + std::to_string(rows) + " rows");
  }
  if (num_slots != static_cast<size_t>(t.storage->num_slots())) {
    return Status::InvalidArgument(where + ": got " + std::to_string(num_slots) +
                                   " slots, its optimizer has " +
                                   std::to_string(t.storage->num_slots()));
  }
  for (size_t s = 0; s < num_slots; ++s) {
    if (slots[s] == nullptr && row_count > 0) {
      return Status::InvalidArgument(where + ": slot " + std::to_string(s) + " is NULL");
    }
  }
  return Status();
}

Status CpuEngine::LoadTableShard(int32_t table, int32_t shard, int64_t row_begin, int64_t row_count,
                                 const float* const* slots, size_t num_slots) {
  std::unique_lock<std::mutex> lock(mutex_);
  Drain(lock);
  Status status = CheckRows(table, shard, row_begin, row_count,
                            reinterpret_cast<const void* const*>(slots), num_slots);
  if (!status.ok()) return status;
  // A restore copies whole tables, a few hundred KiB per call: split among the workers where
  // each part pays for the fork-join (nothing else runs: the device is drained and mutex_ held).
  TableShard& storage = *tables_[table].storage;
  const int64_t row_bytes = int64_t{storage.dim()} * storage.num_slots() * 4;
  pool_.ParallelFor(row_count, std::max<int64_t>(1, kMinLoadBytesPerPart / row_bytes),
                    [&](int64_t begin, int64_t end, int) {
                      storage.Load(row_begin + begin, end - begin, slots, begin);
                    });
  return Status();
}

Status CpuEngine::RetrieveTableShard(int32_t table, int32_t shard, int64_t row_begin,
                                     int64_t row_count, float* const* slots, size_t num_slots) {
  std::unique_lock<std::mutex> lock(mutex_);
  Drain(lock);
  Status status = CheckRows(table, shard, row_begin, row_count,
                            reinterpret_cast<const void* const*>(slots), num_slots);
  if (!status.ok()) return status;
  tables_[table].storage->Retrieve(row_begin, row_count, slots);
  return Status();
}

// ---------------------------------------------------------------------------------------------
// The device thread

void CpuEngine::DeviceLoop() {
  std::unique_lock<std::mutex> lock(mutex_);
  uint64_t waited_for = 0;  // submitted_ when the last lone lookup's grace began (0: none)
  for (;;) {
    // A task run inline by a caller (Submit) keeps device_busy_ set: wait for it.
    device_wake_.wait(lock, [&] { return !device_busy_ && (stop_ || !queue_.empty()); });
    if (queue_.empty()) return;  // stop_ and nothing left
    // A lookup with nothing queued behind it is most often dequeued right away: its
    // RecvActivations then runs it on the caller's thread, straight into the caller's buffers,
    // which saves a copy of every activation and a wake-up. Leave it a short grace (sleeping,
    // so it costs no core) before taking it, which keeps it overlapping with whatever the
    // caller does instead. Only the thread that runs it differs: the results are the same.
    // A caller that takes the lookup does not wake this thread: it wakes when the grace ends,
    // finds the queue empty and sleeps again (one wake-up per lookup instead of three).
    const bool lone_lookup = queue_.size() == 1 && !queue_.front().is_update && !stop_;
    if (lone_lookup && waited_for != submitted_) {
      waited_for = submitted_;
      device_wake_.wait_for(lock, kLoneLookupGrace, [&] {
        return stop_ || device_busy_ || queue_.size() != 1 || submitted_ != waited_for;
      });
      continue;  // decide again: taken by its caller, joined by other work, or still waiting
    }
    RunTaskHere(PopTask(), lock);
  }
}

bool CpuEngine::RunNextTaskHere(std::unique_lock<std::mutex>& lock) {
  if (device_busy_ || queue_.empty()) return false;
  RunTaskHere(PopTask(), lock);
  return true;
}

CpuEngine::Task CpuEngine::PopTask() {
  const Task task = queue_.front();
  queue_.pop_front();
  return task;
}

Status CpuEngine::RunTaskHere(const Task& task, std::unique_lock<std::mutex>& lock,
                              float* const* outputs) {
  Status error;
  RunHoldingDevice(lock, [&] { error = Execute(task, outputs); });
  Finish(task, error);
  return error;
}

bool CpuEngine::RunsInline(const Task& task) const {
  int64_t ids = 0;
  if (task.is_update) {
    for (const Table& table : tables_) {
      if (table.optimizer.kind == EMBRT_OPTIMIZER_ADAM && !table.optimizer.lazy_adam) return false;
    }
    for (const Replica& r : replicas_) {
      for (const FeatureBatch& batch : r.buffers[task.step % 2].features) ids += batch.num_ids;
    }
  } else {
    for (const FeatureBatch& batch : replicas_[task.replica].buffers[task.step % 2].features) {
      ids += batch.num_ids;
    }
  }
  return ids <= kMaxInlineIds;
}

bool CpuEngine::Submit(const Task& task, std::unique_lock<std::mutex>& lock, bool wake_device) {
  if (queue_.empty() && !device_busy_ && RunsInline(task)) {
    // Nothing is queued or running, so running it here keeps the order, and a small step does
    // not pay for waking the device thread and then being woken by it.
    RunTaskHere(task, lock);
    return false;
  }
  queue_.push_back(task);
  ++submitted_;
  changed_.notify_all();
  if (wake_device) device_wake_.notify_one();
  return true;
}

Status CpuEngine::Execute(const Task& task, float* const* outputs) {
  try {
    if (task.is_update) {
      RunUpdate(task.step);
    } else {
      RunLookup(task.replica, task.step, outputs);
    }
  } catch (const std::bad_alloc&) {
    return Status::ResourceExhausted("cpu backend: out of memory on the device thread");
  } catch (const std::exception& e) {
    return Status::Internal(std::string("cpu backend device thread: ") + e.what());
  }
  return Status();
}

void CpuEngine::Finish(const Task& task, const Status& error) {
  if (!error.ok() && deferred_error_.ok()) deferred_error_ = error;
  if (task.is_update) {
    ++completed_updates_;
  } else {
    replicas_[task.replica].lookup_done = true;
  }
  changed_.notify_all();
}

void CpuEngine::RunLookup(int32_t replica, int64_t step, float* const* outputs) {
  Replica& r = replicas_[replica];
  StepBuffer& buffer = r.buffers[step % 2];
  // Bags of all features numbered one after another; every bag is one independent work item.
  int64_t total_bags = 0;
  for (const Feature& feature : features_) total_bags += feature.input_rows;
  pool_.ParallelFor(total_bags, kMinBagsPerChunk, [&](int64_t begin, int64_t end, int) {
    int64_t first = 0;
    for (size_t f = 0; f < features_.size() && first < end; ++f) {
      const Feature& feature = features_[f];
      const int64_t last = first + feature.input_rows;
      const int64_t b0 = std::max(begin, first) - first;
      const int64_t b1 = std::min(end, last) - first;
      first = last;
      if (b0 >= b1) continue;
      FeatureBatch& batch = buffer.features[f];
      const Table& table = tables_[feature.table];
      // Several hosts: ids were rewritten to rows of the gathered array (exchange.h).
      const float* parameters = exchange_ != nullptr ? exchange_->gathered_rows(feature.table)
                                                     : table.storage->slot(0);
      float* out = outputs != nullptr ? outputs[f] : r.activations[f].data();
      // Every gain is 1 (sequence positions, unweighted sums): on one host no gains are
      // written and the backward reads 1; several hosts send the gains with the gradients.
      if (!batch.unit_gains) {
        const bool sequence = feature.max_sequence_length > 0;
        ComputeGains(sequence ? EMBRT_COMBINER_SUM : table.combiner, batch.split_data,
                     sequence ? nullptr : batch.weight_data, b0, b1, batch.gains.data());
      }
      if (feature.max_sequence_length > 0) {
        LookupSequence(parameters, feature.dim, feature.max_sequence_length, batch.split_data,
                       batch.row_data, b0, b1, out, table.QuantizationOrNull(),
                       batch.positions.empty() ? nullptr : batch.positions.data());
      } else {
        LookupBags(parameters, feature.dim, batch.split_data, batch.row_data,
                   batch.gains.data(), b0, b1, out, table.QuantizationOrNull(), batch.unit_gains);
      }
    }
  });
}

void CpuEngine::RunUpdate(int64_t step) {
  const std::vector<float>& rates = replicas_[0].buffers[step % 2].learning_rates;
  std::vector<PreparedUpdate> updates(tables_.size());
  bool any_touched = false;
  for (Table& table : tables_) {
    const OptimizerSettings& settings = table.optimizer;
    const bool every_row = settings.kind == EMBRT_OPTIMIZER_ADAM && !settings.lazy_adam;
    table.touched.ids = 0;
    if (table.features.empty() && !every_row) continue;
    const int32_t tag = settings.learning_rate_tag;
    const float lr = tag >= 0 ? rates[tag] : settings.learning_rate;
    const PreparedUpdate update = PrepareUpdate(settings, lr);
    updates[&table - tables_.data()] = update;
    if (exchange_ == nullptr && !every_row && table.storage->rows() <= (int64_t{1} << 32)) {
      PlanGradientRefs(table, step);  // updated below, with every other such table
      any_touched = true;
      continue;
    }
    // Several hosts (the exchange groups what it received), every row (non-lazy Adam), or a
    // shard too large for 32-bit rows: one row map for all.
    GroupContributions(table, step);
    ApplyGroupedUpdates(pool_, table.grouping, update, settings.use_gradient_accumulation,
                        every_row, table.storage.get(), &worker_scratch_);
  }
  if (any_touched) UpdateTouchedTables(step, updates);
}

void CpuEngine::PlanGradientRefs(Table& table, int64_t step) {
  Table::TouchedPlan& plan = table.touched;
  plan.ids = 0;
  plan.use_refs = true;
  int64_t max_slots = 1;
  plan.bases.clear();
  plan.gains.clear();
  plan.group_replica.clear();
  for (int32_t replica = 0; replica < num_replicas_; ++replica) {
    const StepBuffer& buffer = replicas_[replica].buffers[step % 2];
    for (int32_t f : table.features) {
      const FeatureBatch& batch = buffer.features[f];
      const int64_t ids = static_cast<int64_t>(batch.num_ids);
      plan.ids += ids;
      // A gain per id: the ref's slot (the bag) must also name the id, so one id per bag.
      if (!batch.unit_gains) plan.use_refs &= batch.one_id_per_bag;
      plan.gains.push_back(batch.unit_gains ? nullptr : batch.gains.data());
      plan.bases.push_back(batch.has_gradients ? batch.gradient_data : nullptr);
      plan.group_replica.push_back(replica);
      max_slots = std::max<int64_t>(
          max_slots, features_[f].input_rows * std::max(1, features_[f].max_sequence_length));
    }
  }
  int slot_bits = 0;
  while ((int64_t{1} << slot_bits) < max_slots) ++slot_bits;
  int group_bits = 0;
  while ((size_t{1} << group_bits) < plan.bases.size()) ++group_bits;
  plan.slot_bits = slot_bits;
  plan.use_refs &= slot_bits < 32 && slot_bits + group_bits <= 32;
  plan.owners = static_cast<int>(
      std::max<int64_t>(1, std::min<int64_t>(pool_.size(), plan.ids / kMinIdsPerOwner)));
}

void CpuEngine::UpdateTouchedTables(int64_t step, const std::vector<PreparedUpdate>& updates) {
  // Items (table, owner), in table order, each weighed by the ids it scans (every id of its
  // table, when the table has several owners) plus those it sorts and sums (its share).
  update_items_.clear();
  std::vector<int64_t> weights;
  int64_t total = 0, ids = 0;
  for (size_t t = 0; t < tables_.size(); ++t) {
    const Table::TouchedPlan& plan = tables_[t].touched;
    if (plan.ids == 0) continue;
    ids += plan.ids;
    for (int owner = 0; owner < plan.owners; ++owner) {
      update_items_.push_back(UpdateItem{static_cast<int32_t>(t), owner});
      const int64_t weight = (plan.owners > 1 ? plan.ids : 0) + 3 * plan.ids / plan.owners + 1;
      weights.push_back(weight);
      total += weight;
    }
  }
  if (update_items_.empty()) return;
  // Contiguous runs of items per worker, cut where the running weight crosses k * total /
  // workers. Who runs an item never changes what it computes.
  const int workers = static_cast<int>(std::max<int64_t>(
      1, std::min<int64_t>({pool_.size(), ids / kMinIdsPerOwner,
                            static_cast<int64_t>(update_items_.size())})));
  std::vector<size_t> first(workers + 1, update_items_.size());
  first[0] = 0;
  int64_t before = 0;
  int next = 1;
  for (size_t i = 0; i < update_items_.size(); ++i) {
    // Item i goes to the worker its weight's midpoint falls in.
    const int w = static_cast<int>((2 * before + weights[i]) * workers / (2 * total));
    while (next <= w) first[next++] = i;
    before += weights[i];
  }
  pool_.ParallelFor(workers, 1, [&](int64_t begin, int64_t end, int worker) {
    for (int64_t w = begin; w < end; ++w) {
      for (size_t i = first[w]; i < first[w + 1]; ++i) {
        const UpdateItem& item = update_items_[i];
        Table& table = tables_[item.table];
        UpdateOwnedRows(table, step, item.owner, table.touched.owners, updates[item.table],
                        worker);
      }
    }
  });
}

void CpuEngine::UpdateOwnedRows(Table& table, int64_t step, int owner, int owners,
                                const PreparedUpdate& update, int worker) {
  // One pass over the step's ids picks the rows this owner updates.
  const RowOwners split(table.storage->rows(), owners);
  const bool accumulate = table.optimizer.use_gradient_accumulation;
  float* scratch = worker_scratch_[worker].data();
  const Table::TouchedPlan& plan = table.touched;
  if (plan.use_refs) {
    // 8-byte (row, ref) pairs; the gradient and gain are found from the ref.
    RowRefs& pairs = row_refs_[worker];
    pairs.Reserve(static_cast<size_t>(plan.ids));
    uint64_t* out = pairs.pairs();
    size_t count = 0;
    if (owners == 1) {
      ForEachGradientRef(table, step, plan.slot_bits, [&](int64_t row, uint32_t ref) {
        out[count++] = RowRefs::Pack(static_cast<uint32_t>(row), ref);
      });
    } else {
      ForEachGradientRef(table, step, plan.slot_bits, [&](int64_t row, uint32_t ref) {
        const uint32_t row32 = static_cast<uint32_t>(row);
        out[count] = RowRefs::Pack(row32, ref);
        count += split.OwnerOf(row32) == owner;
      });
    }
    pairs.Sort(count, table.storage->rows());
    const GradientRefs gradients{plan.bases.data(), plan.gains.data(), plan.group_replica.data(),
                                 plan.slot_bits, num_replicas_ == 1};
    ApplySortedRefUpdates(pairs.pairs(), count, gradients, update, accumulate,
                          table.storage.get(), scratch);
    return;
  }
  OwnedRows& owned = owned_rows_[worker];
  owned.Clear();
  ForEachContribution(table, step, [&](int64_t row, const float* g, float gain, int32_t r) {
    const uint32_t row32 = static_cast<uint32_t>(row);
    if (owners == 1 || split.OwnerOf(row32) == owner) owned.Add(row32, g, gain, r);
  });
  owned.Finish(table.storage->rows());
  ApplyOwnedUpdates(owned, update, accumulate, table.storage.get(), scratch);
}

void CpuEngine::GroupContributions(Table& table, int64_t step) {
  if (exchange_ != nullptr) {  // every host's contributions to this host's rows
    exchange_->GroupReceived(static_cast<int32_t>(&table - tables_.data()), table.storage->rows(),
                             &table.grouping);
    return;
  }
  // Every contribution, in canonical order: replica, feature, bag, position.
  size_t expected = 0;
  for (int32_t f : table.features) {
    expected += replicas_[0].buffers[step % 2].features[f].num_ids;
  }
  RowGrouping& grouping = table.grouping;
  grouping.Begin(table.storage->rows(), expected * num_replicas_);
  ForEachContribution(table, step, [&](int64_t row, const float* g, float gain, int32_t replica) {
    grouping.Add(row, g, gain, replica);
  });
  grouping.Finish();
}

}  // namespace cpu
}  // namespace embrt
