// Copyright embrt authors.
//
// File: embrt/embedding.h
// -----------------------
// embrt::Embedding is the host side of TF's TPU Embedding mid-level API: it validates a config,
// loads a backend plugin, builds the engine for a per-replica batch size, and then, per replica
// and step, enqueues ids, dequeues activations and applies gradients. The optimizer runs inside
// the backend.
//
// Example (one replica, the cpu backend):
//
//   EMBRT_ASSIGN_OR_RETURN(auto embedding, embrt::Embedding::Create(config));
//   EMBRT_RETURN_IF_ERROR(embedding->Build(/*per_replica_batch_size=*/256));
//   for (...) {
//     EMBRT_RETURN_IF_ERROR(embedding->Enqueue(features, weights, /*training=*/true));
//     EMBRT_ASSIGN_OR_RETURN(std::vector<embrt::Tensor> activations, embedding->Dequeue());
//     ... the host's own model computes d loss / d activations ...
//     EMBRT_RETURN_IF_ERROR(embedding->ApplyGradients(gradients));
//   }
//
// Lifecycle: Create -> Build -> steps. Per replica, a step is Enqueue, Dequeue and, for a
// training enqueue, ApplyGradients; anything out of that order is FAILED_PRECONDITION with the
// reason. Tables get their initial values lazily, just before the first call that needs them, so
// a checkpoint restored before the first step replaces the initializers instead of following
// them.
//
// Every call validates its input first; an error leaves the engine as it was (no half-enqueued
// batch, no partial update). Errors name the feature, table and position.
//
// Thread safety: Enqueue, Dequeue and ApplyGradients for different replicas may be called
// concurrently from different threads; calls for one replica must not overlap. Every other
// method must not run concurrently with any call on the same object.

#ifndef EMBRT_EMBEDDING_H_
#define EMBRT_EMBEDDING_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "embrt/config.h"
#include "embrt/config.pb.h"
#include "embrt/inputs.h"

namespace embrt {

struct EmbeddingOptions {
  // Dynamic learning rates: schedule name (LearningRate.dynamic) -> rate for the step about to
  // be applied (0 for the first). Evaluated at every ApplyGradients, on the calling replica's
  // thread (so it must be thread-safe when replicas run on several threads); every schedule a
  // table names must be here (Create: NOT_FOUND otherwise, INVALID_ARGUMENT for an empty
  // function). A rate that is NaN, Inf or negative fails that ApplyGradients.
  absl::flat_hash_map<std::string, std::function<float(int64_t step)>> learning_rate_schedules;
  // Receives warnings (e.g. a missing gradient treated as zero, a sequence length ignored
  // because of an explicit output shape). Calls are serialized. Default: one line on stderr.
  std::function<void(absl::string_view)> warning_sink;
  // Rows per chunk when loading or retrieving tables; 0 chooses chunks of about 16 MiB.
  int64_t chunk_rows = 0;
  // Enqueue borrows the caller's arrays (ids, row splits, weights) for the call only, and the
  // backend copies what it keeps. Set this to promise instead that they stay valid and
  // unchanged until the replica's step is complete: until its Dequeue (or DequeueInto) returns
  // for an inference step, until its ApplyGradients returns for a training step, or until a
  // failed Enqueue returns. A backend that can (attribute input_lifetime = 1; the cpu backend
  // for inference steps, and for training steps with one replica and no pipelining) then reads
  // them in place instead of copying them. Results are the same either way; breaking the
  // promise gives wrong activations or worse.
  //
  //   EmbeddingOptions options;
  //   options.inputs_outlive_step = true;
  //   ... Enqueue(features, {}, /*training=*/false); DequeueInto(outputs);  // then reuse ids
  bool inputs_outlive_step = false;
};

// The plugin a backend name resolved to, and what it says about itself.
struct BackendInfo {
  std::string path;  // the shared object that was loaded
  std::vector<std::pair<std::string, std::string>> attributes;  // values printed as text
};

class Embedding {
 public:
  // Validates `config` (see embrt/config.h) and loads its backend. Does not touch the device.
  static absl::StatusOr<std::unique_ptr<Embedding>> Create(const EmbeddingConfig& config,
                                                           EmbeddingOptions options = {});

  ~Embedding();
  Embedding(const Embedding&) = delete;
  Embedding& operator=(const Embedding&) = delete;

  // Creates the engine for `per_replica_batch_size` (0: the config's). Features without an
  // output_shape get [batch] (sequence features [batch, max_sequence_length]). A sequence
  // feature with its own output_shape, or given a shape other than [rows, max_sequence_length]
  // by BuildWithOutputShapes, is built as a plain feature (TF's newest TPU path ignores the
  // length then), with a warning. Plugin errors come back
  // with the plugin's code. A second Build is FAILED_PRECONDITION.
  absl::Status Build(int per_replica_batch_size = 0);

  // Creates the engine for explicit per-replica output shapes (without dim), one per feature
  // in config order; a feature's config output_shape takes priority, as in TF.
  absl::Status BuildWithOutputShapes(absl::Span<const std::vector<int64_t>> output_shapes);

  bool built() const;

  // Submits one step's ids for `replica`, one input per feature in config order. `weights` is
  // empty or has one entry per feature (nullopt: all weights 1). Returns before the lookup ends.
  //
  // Without a Build before, the first Enqueue builds the engine (TF's auto-build): each
  // feature's output shape is its config output_shape, else the one its input implies (dense
  // ids of shape S: S, without a last dimension of 1; sparse: dense_shape without the bag
  // axis; ragged: [rows]; a sequence feature's sparse or ragged input: [rows,
  // max_sequence_length]). Later inputs must match those shapes, as after an explicit Build:
  // another row count is INVALID_ARGUMENT ("batch size mismatch", TF's "inconsistent shape").
  // A failed first Enqueue builds nothing. With several replicas driven from several threads,
  // Build first (or make the first Enqueue before starting them).
  absl::Status Enqueue(absl::Span<const FeatureInput> features,
                       absl::Span<const std::optional<FeatureWeights>> weights = {},
                       bool training = true, int replica = 0);

  // Waits for `replica`'s lookup and returns one tensor per feature, shaped output_shape + [dim].
  absl::StatusOr<std::vector<Tensor>> Dequeue(int replica = 0);

  // As Dequeue, into caller-owned buffers of output_size(feature) floats each (no copy).
  absl::Status DequeueInto(absl::Span<const absl::Span<float>> outputs, int replica = 0);

  // Sends `replica`'s gradients for the step it last dequeued, one per feature, shaped like the
  // activations. A nullopt entry is a zero gradient (with a warning, as in TF). The update runs
  // once every replica has sent its gradients.
  absl::Status ApplyGradients(absl::Span<const std::optional<TensorView>> gradients,
                              int replica = 0);

  // Waits for all submitted work; reports a deferred backend error.
  absl::Status Synchronize();

  // -- Tables ------------------------------------------------------------------------------
  // Rows are this host's local rows of a table (embrt/sharding.h); slots follow
  // SlotNames(optimizer kind), each span [row_count, dim] row-major.

  // Fills rows [local_row_begin, local_row_begin + row_count) of every slot of `table`.
  using RowFiller = std::function<absl::Status(int table, int64_t local_row_begin,
                                               int64_t row_count,
                                               absl::Span<const absl::Span<float>> slots)>;
  // Receives rows of every slot of `table`, valid only during the call.
  using RowSink = std::function<absl::Status(int table, int64_t local_row_begin,
                                             int64_t row_count,
                                             absl::Span<const absl::Span<const float>> slots)>;

  // Loads every table and slot of this host's shards from `fill`, in bounded chunks. Before the
  // tables were first initialized this replaces the initializers. Needs Build. If `fill` or
  // the plugin fails part way, the chunks before stay loaded; before the first initialization
  // the initializers then still run in full at the next step.
  absl::Status LoadTables(const RowFiller& fill);

  // Points `slots` (one span per slot, each [row_count, dim] row-major) at rows
  // [local_row_begin, local_row_begin + row_count) of every slot of `table`, in memory the
  // source owns and keeps unchanged until LoadTablesFrom returns.
  using RowSource = std::function<absl::Status(int table, int64_t local_row_begin,
                                               int64_t row_count,
                                               absl::Span<absl::Span<const float>> slots)>;

  // As LoadTables, but the backend copies each chunk straight from the source's memory (e.g. a
  // memory-mapped file) instead of from a buffer the source fills: every byte crosses memory
  // once. Chunks are small (about kSourceChunkBytes per slot) so that a source that reads or
  // checks a chunk leaves it in the cache for the copy. Tables and rows come in order. The same
  // failure rules as LoadTables apply.
  static constexpr int64_t kSourceChunkBytes = int64_t{512} << 10;
  absl::Status LoadTablesFrom(const RowSource& source);

  // Retrieves every table and slot of this host's shards, after all submitted work, in bounded
  // chunks (memory use independent of the table size).
  absl::Status RetrieveTables(const RowSink& sink);

  // -- Hosts -------------------------------------------------------------------------------
  // Collectives over every host of a multi-host engine (num_hosts > 1), through the backend's
  // transport: every host calls them in the same order, after Build. With one host they return
  // at once. SaveCheckpoint uses them; so may an application (to split data, gather metrics).

  // OK on every host when `local` is OK on every host; else every host returns the code and
  // message of the lowest-numbered failing host, the message prefixed by "host <id>: ".
  absl::Status AgreeOnStatus(const absl::Status& local);
  // Returns once every host has called it and finished the work it submitted.
  absl::Status HostBarrier();
  // Every host's `local` bytes, in host order. Sizes may differ between hosts up to 64 MiB;
  // above that every host must send at least as much as the largest (a size over both 64 MiB
  // and the smallest host's size is RESOURCE_EXHAUSTED on every host, before anything is
  // allocated: a size another host announces is not trusted).
  absl::StatusOr<std::vector<std::string>> AllGatherFromHosts(absl::string_view local);

  // -- Introspection -----------------------------------------------------------------------

  const ResolvedConfig& config() const;
  const BackendInfo& backend() const;
  // Output shape of `feature` without dim; valid after Build.
  const std::vector<int64_t>& output_shape(int feature) const;
  // Floats in `feature`'s activation buffer: product(output_shape) * dim.
  int64_t output_size(int feature) const;
  // Completed training steps (every replica applied its gradients).
  int64_t step() const;
  // Sets the step counter, e.g. after restoring a checkpoint.
  void set_step(int64_t step);
  // True once the tables hold values: the initializers ran or a LoadTables succeeded. Until
  // then a failed LoadTables changes nothing visible (RestoreCheckpoint relies on it to verify
  // a checkpoint while loading it, in one pass).
  bool tables_initialized() const;

 private:
  class Impl;
  explicit Embedding(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace embrt

#endif  // EMBRT_EMBEDDING_H_
