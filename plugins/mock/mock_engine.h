// Copyright embrt authors.
//
// MockEngine: the device side of one mock engine (see README.md for the behaviour).
//
// Thread safety: as plugin_api.h requires. Calls for different replicas may run concurrently;
// one mutex guards all state (the mock is cheap, so it never needs finer locks), and
// RecvActivations waits on a condition variable until the replica's earlier steps are applied.
// Every method validates everything before it changes anything, so an error leaves the engine
// as it was.

#ifndef EMBRT_PLUGINS_MOCK_MOCK_ENGINE_H_
#define EMBRT_PLUGINS_MOCK_MOCK_ENGINE_H_

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "call_trace.h"
#include "embrt/plugin_sdk.h"
#include "fault_injection.h"
#include "mock_lookup.h"
#include "mock_options.h"
#include "mock_tables.h"

namespace embrt {
namespace mock {

class MockEngine : public sdk::Engine {
 public:
  // Validates `config` and its backend options; INVALID_ARGUMENT names the bad field.
  static sdk::Status Create(const sdk::EngineConfig& config, std::unique_ptr<sdk::Engine>* engine);

  ~MockEngine() override;

  sdk::Status Enqueue(int32_t replica, EMBRT_Mode mode, const sdk::FeatureInputView* inputs,
                      size_t num_inputs) override;
  // Always copies; traces " input_lifetime=STEP" when the host passed STEP (ABI 1.1).
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

  // Simulated host collectives (ABI 1.1): the mock is one host of a job whose other hosts all
  // pass OK and hold the same bytes, so the core's multi-host plumbing runs in one process.
  // Each call is traced ("AgreeStatus code=<c>", "Barrier", "AllGather size=<n>").
  sdk::Status AgreeStatus(const sdk::Status& local) override;
  sdk::Status Barrier() override;
  sdk::Status AllGather(const void* local, size_t size, void* gathered) override;

 private:
  enum class Phase { kIdle, kEnqueued, kReceived };

  struct ReplicaState {
    Phase phase = Phase::kIdle;
    EMBRT_Mode mode = 0;                // of the last Enqueue
    int64_t sent_steps = 0;             // training steps whose gradients were sent
    std::vector<FeatureBatch> batch;    // the enqueued ids, one per feature
    std::vector<RowGradients> pending;  // per table: this replica's sums for the open step
  };

  MockEngine(sdk::EngineConfig config, std::unique_ptr<CallTrace> trace,
             std::unique_ptr<FaultInjector> faults);

  // Floats in feature `f`'s activation (and gradient) buffer.
  size_t ActivationSize(size_t f) const;

  sdk::Status CheckReplica(int32_t replica) const;
  sdk::Status CheckShardRange(const char* call, int32_t table, int32_t shard, int64_t row_begin,
                              int64_t row_count, size_t num_slots, const void* const* slots) const;
  sdk::Status CopyFeature(size_t f, const sdk::FeatureInputView& input, FeatureBatch* batch) const;
  sdk::Status CheckGradient(size_t f, const float* gradient, size_t size) const;

  sdk::Status DoEnqueue(int32_t replica, EMBRT_Mode mode, const sdk::FeatureInputView* inputs,
                        size_t num_inputs);
  sdk::Status DoRecv(int32_t replica, float* const* activations, const size_t* sizes,
                     size_t num_activations);
  sdk::Status DoSend(int32_t replica, const float* const* gradients, const size_t* sizes,
                     size_t num_gradients, const float* learning_rates, size_t num_rates);

  // Sums the replicas' gradients in replica order and applies one SGD update per touched row.
  // Requires mu_.
  void ApplyStep();

  // Runs the fault injector, then `body`, and writes the trace line: `describe(ok)` returns the
  // call's text (with details of the arguments only when they were valid).
  template <typename Body, typename Describe>
  sdk::Status Traced(Call call, Body&& body, Describe&& describe);

  const sdk::EngineConfig config_;
  const std::unique_ptr<CallTrace> trace_;
  const std::unique_ptr<FaultInjector> faults_;

  std::mutex mu_;
  std::condition_variable step_applied_;
  std::vector<MockTable> tables_;       // guarded by mu_
  std::vector<ReplicaState> replicas_;  // guarded by mu_
  int64_t applied_steps_ = 0;           // guarded by mu_
  int32_t replicas_sent_ = 0;           // guarded by mu_: for step applied_steps_ + 1
  std::vector<float> learning_rates_;   // guarded by mu_: replica 0's, for the open step
};

}  // namespace mock
}  // namespace embrt

#endif  // EMBRT_PLUGINS_MOCK_MOCK_ENGINE_H_
