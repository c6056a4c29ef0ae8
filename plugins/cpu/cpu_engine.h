// Copyright embrt authors.
//
// File: plugins/cpu/cpu_engine.h
// ------------------------------
// The cpu backend's engine: this host's table shards, the per-replica step state machine, and a
// device thread that runs lookups and updates in submission order on a plugin-owned pool.
//
// Step protocol, per replica r (FAILED_PRECONDITION on any other order):
//   Enqueue -> RecvActivations -> (TRAINING only) SendGradients -> Enqueue ...
// Step k's update runs when every replica has sent gradients for its k-th training step. It is
// queued on the device thread behind every task submitted before it, so it never overlaps a
// lookup. Which tables a lookup reads is defined by call order, never by timing:
//   pipeline_execution off: the lookup of a replica's step k (k = training steps it has sent)
//     reads the tables after update k-1. If update k-1 still waits for other replicas, the lookup
//     is held back (Enqueue still returns at once; RecvActivations waits).
//   pipeline_execution on: the lookup of step k reads the tables after exactly the updates of
//     steps < k-1 (one step stale, like the TPU). Update k-1 is held back until every replica
//     has enqueued its training step k (so those lookups are queued before it; several hosts:
//     until their rows were fetched, cpu_engine_hosts.cc), or until Synchronize, Load, Retrieve
//     or destruction, which apply it first.
// Small tasks run on the calling thread when the device thread is idle (same order, no thread
// switch); everything else runs on the device thread, except that a lookup with nothing queued
// behind it is left a short grace to its RecvActivations, which then runs it on the caller's
// thread, writing straight into the caller's buffers (DeviceLoop).
// One replica on one host without pipelining (synchronous_update_): nothing can run between a
// SendGradients and its update, so SendGradients waits for the update (queued as usual, and
// mostly run by the waiting caller itself), which reads the caller's gradients in place
// (checked for NaN/Inf in a read-only pass first, so a rejected call still changes nothing)
// and, with input_lifetime STEP, the Enqueue's ids too.
// A replica may run one step ahead: its SendGradients for step k+1 waits until every replica
// has sent step k.
//
// Thread safety: as plugin_api.h says. Calls for different replicas may be concurrent; calls for
// one replica are serialized by the host; Load, Retrieve, Synchronize and destruction are never
// concurrent with anything else. All shared state is guarded by mutex_.

#ifndef EMBRT_PLUGINS_CPU_CPU_ENGINE_H_
#define EMBRT_PLUGINS_CPU_CPU_ENGINE_H_

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "backward.h"
#include "embrt/plugin_sdk.h"
#include "exchange.h"
#include "lookup.h"
#include "optimizers.h"
#include "tables.h"
#include "thread_pool.h"
#include "transport.h"
#include "update.h"

namespace embrt {
namespace cpu {

class CpuEngine : public sdk::Engine {
 public:
  // Validates `config` and builds the engine; tables and slots start as zeros.
  static sdk::Status Create(const sdk::EngineConfig& config, std::unique_ptr<sdk::Engine>* engine);
  ~CpuEngine() override;

  sdk::Status Enqueue(int32_t replica, EMBRT_Mode mode, const sdk::FeatureInputView* inputs,
                      size_t num_inputs) override;
  // With EMBRT_INPUT_LIFETIME_STEP, an INFERENCE step on one host reads the host's ids and
  // weights in place (after checking them) instead of copying them: its lookup ends before
  // RecvActivations returns. So does a TRAINING step when its update runs before SendGradients
  // returns (synchronous_update_); otherwise it copies them, since its update runs after
  // SendGradients has returned.
  sdk::Status EnqueueWithLifetime(int32_t replica, EMBRT_Mode mode,
                                  const sdk::FeatureInputView* inputs, size_t num_inputs,
                                  int32_t input_lifetime) override;
  sdk::Status RecvActivations(int32_t replica, float* const* activations,
                              const size_t* activation_sizes, size_t num_activations) override;
  sdk::Status SendGradients(int32_t replica, const float* const* gradients,
                            const size_t* gradient_sizes, size_t num_gradients,
                            const float* learning_rates, size_t num_learning_rates) override;
  sdk::Status LoadTableShard(int32_t table, int32_t shard, int64_t row_begin, int64_t row_count,
                             const float* const* slots, size_t num_slots) override;
  sdk::Status RetrieveTableShard(int32_t table, int32_t shard, int64_t row_begin, int64_t row_count,
                                 float* const* slots, size_t num_slots) override;
  sdk::Status Synchronize() override;

  // Multi-host collectives (cpu_engine_hosts.cc); with one host they need no transport.
  sdk::Status AgreeStatus(const sdk::Status& local) override;
  sdk::Status Barrier() override;
  sdk::Status AllGather(const void* local, size_t size, void* gathered) override;
  // Bytes this host sent to other hosts so far (0 with one host); for benchmarks and logs.
  uint64_t off_host_bytes_sent() const;

 private:
  struct Table {
    std::string name;
    int64_t vocabulary_size;
    int32_t dim;
    EMBRT_Combiner combiner;
    std::optional<Quantization> quantization;  // applied to looked-up rows only
    OptimizerSettings optimizer;
    ShardMap shard;
    std::vector<int32_t> features;  // in feature order
    std::unique_ptr<TableShard> storage;
    RowGrouping grouping;  // reused across steps
    // The step's update through UpdateTouchedTables (PlanGradientRefs); reused across steps.
    struct TouchedPlan {
      int64_t ids = 0;  // contributions, all replicas
      int owners = 1;
      bool use_refs = false;  // GradientRefs below are valid
      int slot_bits = 0;
      std::vector<const float*> bases;    // per group
      std::vector<const float*> gains;    // per group
      std::vector<int32_t> group_replica;  // per group
    } touched;

    const Quantization* QuantizationOrNull() const {
      return quantization.has_value() ? &*quantization : nullptr;
    }
  };
  struct Feature {
    std::string name;
    std::string label;  // "feature 'name' (index f)", for messages
    int32_t table;
    int32_t dim;
    int32_t max_sequence_length;  // 0: one bag per row
    int64_t input_rows;
    size_t activation_floats;  // input_rows * max(1, L) * dim
  };
  // One feature's batch for one replica and step.
  struct FeatureBatch {
    // What the lookup and the update read: rows.data() and weights.data(), or the host's ids
    // and weights read in place (input_lifetime STEP on one host, where local row == id:
    // INFERENCE, or TRAINING with synchronous_update_).
    const int64_t* row_data = nullptr;
    const float* weight_data = nullptr;  // null: every weight is 1
    size_t num_ids = 0;
    // input_rows + 1 splits: splits.data(), or the host's splits read in place (as the ids,
    // for a feature without a sequence; checked ascending in the ids' parallel pass).
    const int32_t* split_data = nullptr;
    std::vector<int32_t> splits;   // copied splits; empty when read in place
    std::vector<int64_t> rows;     // local row per id (copied; empty when read in place)
    std::vector<float> weights;    // per id (copied); empty means every weight is 1
    std::vector<int32_t> positions;  // sequence position per id (ABI 1.1); empty: the k-th id
                                     // of a row is at position k
    std::vector<float> gains;      // per id, written by the lookup; empty when unit_gains
    bool unit_gains = false;       // every gain is 1 (sequence, sum without weights, or an
                                   // unweighted mean or sqrtn of one id per bag)
    // Every bag holds one id (splits 0, 1, 2, ...); only looked for where gains may vary (not a
    // sequence, not an unweighted sum), else false.
    bool one_id_per_bag = false;
    std::vector<float> gradients;  // activation-shaped copy (unless read in place)
    // What the update reads when has_gradients: gradients.data(), or with synchronous_update_
    // the caller's buffer, valid until its SendGradients returns.
    const float* gradient_data = nullptr;
    bool has_gradients = false;
  };
  struct StepBuffer {
    std::vector<FeatureBatch> features;
    std::vector<float> learning_rates;  // replica 0's, for the update
  };
  enum class Phase { kIdle, kEnqueued, kReceived };
  struct Replica {
    Phase phase = Phase::kIdle;
    EMBRT_Mode mode = 0;
    EMBRT_Mode last_received_mode = 0;
    int64_t step = 0;  // training steps sent
    int64_t enqueued_training_step = -1;  // the last step enqueued for TRAINING
    bool lookup_done = false;
    // When Enqueue queued this replica's lookup for the device (RecvActivations measures from
    // it how soon the host dequeues: prompt_dequeues_); unset for a step run inline or held
    // back.
    std::optional<std::chrono::steady_clock::time_point> lookup_queued_at;
    StepBuffer buffers[2];                        // step k uses buffers[k % 2]
    std::vector<std::vector<float>> activations;  // per feature
  };
  struct Task {
    bool is_update;
    int32_t replica;  // lookups only
    int64_t step;
  };

  CpuEngine(const sdk::EngineConfig& config, int threads, std::unique_ptr<Transport> transport);

  // The transport of host config.host_id of config.num_hosts (MPI), or FAILED_PRECONDITION.
  static sdk::Status CreateHostTransport(const sdk::EngineConfig& config,
                                         std::unique_ptr<Transport>* transport);
  // Validation and copy of an Enqueue, changing no state but the replica's unused buffer.
  sdk::Status PrepareEnqueue(int32_t replica, EMBRT_Mode mode, const sdk::FeatureInputView* inputs,
                             size_t num_inputs, bool in_place, int64_t* step);
  // Validation of a SendGradients; also copies the gradients into the replica's unsent step
  // buffer (checked for NaN/Inf in the same pass), which nothing reads until the call succeeds.
  // `in_place`: only checks them (the update reads them before the call returns).
  sdk::Status CheckGradients(int32_t replica, const float* const* gradients,
                             const size_t* gradient_sizes, size_t num_gradients,
                             const float* learning_rates, size_t num_learning_rates, bool in_place,
                             int64_t* step);
  // After a rejected SendGradients of a step whose ids are read in place: copies them, since the
  // host may reuse its arrays once that call has returned, and the update runs only with a
  // later, successful SendGradients. (The lookup has run; it alone reads the weights.)
  void KeepIdsForRetry(int32_t replica);
  // Whether every gradient float is finite (NULL gradients have none), checked in one parallel
  // read-only pass on the pool (CheckOnPool): for gradients read in place
  // (synchronous_update_). Without mutex_.
  bool GradientsFinite(const float* const* gradients);
  // Submits update `step` and the lookups held behind it, or, pipelining on, holds the update
  // back (ReleaseDeferredUpdate; several hosts: StartLookupRound). mutex_ held through `lock`.
  void QueueUpdate(int64_t step, std::unique_lock<std::mutex>& lock);

  // Several hosts (cpu_engine_hosts.cc). Every host agrees on the Enqueue's status (a replica
  // enqueued in another mode than the step's first one fails too).
  sdk::Status AgreeOnEnqueue(const sdk::Status& local, int32_t replica, EMBRT_Mode mode);
  // Every local replica has enqueued: wait for the previous update (pipelining: for all but a
  // held-back one), fetch the rows of the round's ids from their owners, then queue the lookups
  // and, pipelining in a TRAINING round, the held-back update behind them.
  sdk::Status StartLookupRound();
  // FAILED_PRECONDITION when `replica`'s lookup waits for other local replicas to enqueue
  // (mutex_ held).
  sdk::Status CheckLookupRoundStarted(int32_t replica) const;
  // Every local replica has sent step `step`: ship the gradient records, then queue the update.
  sdk::Status FinishStepAcrossHosts(int64_t step);
  // The exchange's view of every local replica's batch of `step`s (per replica, its own step).
  std::vector<ReplicaSlices> Slices(const std::vector<int64_t>& steps);
  // An exchange failure leaves the hosts out of step: the engine refuses every later call.
  sdk::Status Broken(const sdk::Status& status);

  sdk::Status CheckReplica(int32_t replica) const;
  // One host: true when every id is in [0, vocabulary); copies them to `rows` unless null
  // (CheckOnPool). With `splits` (`num_rows` + 1 of them, read in place), also true only when
  // they never descend: the same pass checks a proportional share of them per worker.
  bool CheckIds(const int64_t* ids, size_t count, int64_t vocabulary, int64_t* rows,
                const int32_t* splits, int64_t num_rows);
  // Whether `check(begin, end)` holds for every part of [0, total): a read-only check run
  // before a call changes anything (CheckIds, GradientsFinite). Split among the pool's workers,
  // at least `min_per_part` items each, when the device is idle; else run on this thread.
  // Without mutex_.
  template <typename Check>
  bool CheckOnPool(int64_t total, int64_t min_per_part, Check check);
  // Checks the inputs and copies them into `buffer`; `in_place`: the ids and weights are only
  // checked, and the batch points at them.
  sdk::Status CopyInputs(int32_t replica, const sdk::FeatureInputView* inputs, size_t num_inputs,
                         bool in_place, StepBuffer* buffer);
  static sdk::Status CheckPositions(const std::string& where, const sdk::FeatureInputView& in,
                                    const int32_t* splits, int64_t rows,
                                    int32_t max_sequence_length);
  sdk::Status CheckRows(int32_t table, int32_t shard, int64_t row_begin, int64_t row_count,
                        const void* const* slots, size_t num_slots) const;

  void DeviceLoop();
  // Runs `task` here when nothing is queued or running and the task is small, else queues it
  // for the device thread. mutex_ is held through `lock` (released while a task runs here).
  // Returns true when it queued the task. `wake_device` false: the caller then notifies
  // device_wake_ itself after unlocking mutex_ (a thread woken under the lock at once blocks on
  // it, and has to be woken a second time).
  bool Submit(const Task& task, std::unique_lock<std::mutex>& lock, bool wake_device = true);
  bool RunsInline(const Task& task) const;
  // Runs the next queued task on this thread if the device thread is idle; false if none ran.
  bool RunNextTaskHere(std::unique_lock<std::mutex>& lock);
  // Takes the front of queue_ (mutex_ held, queue_ not empty).
  Task PopTask();
  // Runs `task` on this thread with mutex_ released (held through `lock` before and after, and
  // no task running): marks the device busy, executes, then does Finish's bookkeeping. Returns
  // the task's error. A lookup writes into `outputs` when given (see Execute).
  sdk::Status RunTaskHere(const Task& task, std::unique_lock<std::mutex>& lock,
                          float* const* outputs = nullptr);
  // Runs `work` on this thread holding the device (its pool) with mutex_ released: marks the
  // device busy, unlocks, runs, locks again and marks it idle (mutex_ held through `lock`
  // before and after, no task running). RunTaskHere and CheckOnPool go through it.
  template <typename Work>
  void RunHoldingDevice(std::unique_lock<std::mutex>& lock, Work work) {
    device_busy_ = true;
    lock.unlock();
    work();
    lock.lock();
    device_busy_ = false;
    if (!queue_.empty()) device_wake_.notify_one();  // the device thread may wait for this
  }
  // Waits until `done()`, running queued tasks here meanwhile rather than sleeping while the
  // device thread is still waking up (same order: tasks are taken from the front).
  template <typename Done>
  void WaitHelping(std::unique_lock<std::mutex>& lock, Done done) {
    while (!done()) {
      if (!RunNextTaskHere(lock)) changed_.wait(lock);
    }
  }
  // Without mutex_. A lookup writes into `outputs` (per feature) when given, else into the
  // replica's activations.
  sdk::Status Execute(const Task& task, float* const* outputs = nullptr);
  void Finish(const Task& task, const sdk::Status& error);  // with mutex_: bookkeeping, notify
  // Pipelining: submits the held-back update once every replica has enqueued the next training
  // step, or at once when `flush`. mutex_ held through `lock`.
  void ReleaseDeferredUpdate(std::unique_lock<std::mutex>& lock, bool flush);
  void RunLookup(int32_t replica, int64_t step, float* const* outputs);
  void RunUpdate(int64_t step);
  // Fills table.grouping with the step's contributions (RowGrouping::Finish done).
  void GroupContributions(Table& table, int64_t step);
  // The step's update of the tables that UpdateTouchedRows updates, all in one ParallelFor over
  // (table, owner) items, balanced by ids, so that many small tables use every worker.
  void UpdateTouchedTables(int64_t step, const std::vector<PreparedUpdate>& updates);
  // Per table, before the ParallelFor: whether its contributions fit GradientRefs (refs of 32
  // bits; every gain 1, or one id per bag), and if so, fills its TouchedPlan.
  void PlanGradientRefs(Table& table, int64_t step);
  // One (table, owner) item of UpdateTouchedTables on worker `worker`: the owner's rows.
  void UpdateOwnedRows(Table& table, int64_t step, int owner, int owners,
                       const PreparedUpdate& update, int worker);
  // Calls fn(local row, gradient or null, gain, replica) for every contribution of `table` in
  // step `step`, in canonical order: replica, feature, bag, position.
  template <typename Fn>
  void ForEachContribution(const Table& table, int64_t step, Fn fn) const {
    for (int32_t replica = 0; replica < num_replicas_; ++replica) {
      const StepBuffer& buffer = replicas_[replica].buffers[step % 2];
      for (int32_t f : table.features) {
        const Feature& feature = features_[f];
        const FeatureBatch& batch = buffer.features[f];
        const float* gradient = batch.has_gradients ? batch.gradient_data : nullptr;
        const int32_t* positions = batch.positions.empty() ? nullptr : batch.positions.data();
        for (int64_t b = 0; b < feature.input_rows; ++b) {
          const int32_t begin = batch.split_data[b];
          for (int32_t k = begin; k < batch.split_data[b + 1]; ++k) {
            const float* g = nullptr;
            if (gradient != nullptr) {
              g = gradient + GradientSlot(b, k, begin, positions, feature.max_sequence_length) *
                                 table.dim;
            }
            fn(batch.row_data[k], g, batch.unit_gains ? 1.0f : batch.gains[k], replica);
          }
        }
      }
    }
  }
  // The same contributions as GradientRefs see them (PlanGradientRefs): calls
  // fn(local row, ref) in canonical order, ref = group << slot_bits | GradientSlot, where group
  // = replica * table.features.size() + the feature's index in table.features.
  template <typename Fn>
  void ForEachGradientRef(const Table& table, int64_t step, int slot_bits, Fn fn) const {
    uint32_t group = 0;
    for (int32_t replica = 0; replica < num_replicas_; ++replica) {
      const StepBuffer& buffer = replicas_[replica].buffers[step % 2];
      for (int32_t f : table.features) {
        const Feature& feature = features_[f];
        const FeatureBatch& batch = buffer.features[f];
        const uint32_t high = group++ << slot_bits;
        const int32_t* splits = batch.split_data;
        const auto* rows = batch.row_data;  // whatever width FeatureBatch keeps rows in
        if (feature.max_sequence_length == 0) {
          for (int64_t b = 0; b < feature.input_rows; ++b) {
            const uint32_t ref = high | static_cast<uint32_t>(b);
            for (int32_t k = splits[b]; k < splits[b + 1]; ++k) fn(rows[k], ref);
          }
          continue;
        }
        const int32_t* positions = batch.positions.empty() ? nullptr : batch.positions.data();
        for (int64_t b = 0; b < feature.input_rows; ++b) {
          const int32_t begin = splits[b];
          for (int32_t k = begin; k < splits[b + 1]; ++k) {
            fn(rows[k], high | static_cast<uint32_t>(GradientSlot(
                                   b, k, begin, positions, feature.max_sequence_length)));
          }
        }
      }
    }
  }
  // Waits (mutex_ held through `lock`) until the device queue is empty and idle.
  void Drain(std::unique_lock<std::mutex>& lock);

  std::vector<Table> tables_;
  std::vector<Feature> features_;
  int32_t num_replicas_;
  int32_t num_hosts_;
  int32_t host_id_;
  bool pipeline_execution_;
  int32_t num_learning_rate_tags_;
  bool allow_nonfinite_gradients_;
  // One replica, one host, no pipelining: the update runs before SendGradients returns.
  bool synchronous_update_;
  int32_t max_dim_ = 0;

  ThreadPool pool_;
  std::vector<std::vector<float>> worker_scratch_;  // per pool worker, 2 * max_dim_ floats
  std::vector<OwnedRows> owned_rows_;               // per pool worker, reused across steps
  std::vector<RowRefs> row_refs_;                   // per pool worker, reused across steps
  struct UpdateItem {
    int32_t table;
    int32_t owner;
  };
  std::vector<UpdateItem> update_items_;  // UpdateTouchedTables' items, reused across steps

  std::mutex mutex_;
  std::condition_variable changed_;  // any state below changed
  // The device thread sleeps here, not on changed_: it is woken only when it has something to
  // do (a task queued, the device freed with tasks queued, stop_), not by every step's
  // bookkeeping (e.g. the Finish of a lookup its caller ran). On a 2-core machine each needless
  // wake-up preempted a thread of the lookup or contended for mutex_ with it (issue 13).
  std::condition_variable device_wake_;
  // Guarded by mutex_.
  std::vector<Replica> replicas_;
  std::deque<Task> queue_;
  std::vector<Task> held_lookups_;  // lookups waiting for the update of step - 1 (pipelining off)
  int64_t collecting_step_ = 0;     // the step whose gradients are being collected
  int32_t sent_for_collecting_ = 0;
  int64_t completed_updates_ = 0;
  int64_t deferred_update_ = -1;  // pipelining: a collected step whose update is held back
  bool device_busy_ = false;
  bool stop_ = false;
  uint64_t submitted_ = 0;  // tasks Submit has queued so far (DeviceLoop's lone-lookup grace)
  // How many RecvActivations in a row came within kLoneLookupGrace of their Enqueue. From
  // kPromptDequeuesToStopWaking on, Enqueue does not wake the device thread for a lookup with
  // nothing queued before it: the caller runs it anyway, and the wake-up alone took a core from
  // the caller's pool (EnqueueWithLifetime). One later RecvActivations starts the count again,
  // and its host gets the background lookup back; a host that alternates keeps it.
  int prompt_dequeues_ = 0;
  sdk::Status deferred_error_;
  std::thread device_thread_;

  // Several hosts only (null with one): the row and gradient exchange, and the lookups of the
  // round being enqueued (one per local replica), in replica-call order.
  std::unique_ptr<Exchange> exchange_;
  std::vector<Task> round_lookups_;
  std::vector<int64_t> round_steps_;  // per replica, the step of its lookup in the last round
};

}  // namespace cpu
}  // namespace embrt

#endif  // EMBRT_PLUGINS_CPU_CPU_ENGINE_H_
