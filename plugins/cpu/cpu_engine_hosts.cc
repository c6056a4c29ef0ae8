// Copyright embrt authors.
//
// The multi-host part of CpuEngine: how a lookup round and a training step reach the other
// hosts (exchange.h) and the collectives the core asks for. cpu_engine.cc only calls in here
// where exchange_ is set (num_hosts > 1).
//
// Order of collectives, the same on every host because every host makes the same calls:
//   Enqueue(r):        agree on the status and the mode; after the last local replica: rows
//                      (2 all-to-alls)
//   SendGradients(r):  agree on the status; after the last local replica: gradients (1 all-to-all)
// A multi-host engine is driven from one thread. Which tables a lookup reads is the one-host
// rule: without pipelining, after the previous step's update; with pipeline_execution, the
// update of step k-1 is held back and released right after the rows of the TRAINING round of
// step k were fetched (or by Synchronize, Load, Retrieve, Barrier or destruction, which every
// host calls at the same point), so the round reads the owners' tables after exactly the updates
// < k-1. The update itself is local (it reads the gradient records the exchange kept), so holding
// it back changes no collective.

#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "cpu_engine.h"
#include "mpi_transport.h"

namespace embrt {
namespace cpu {

using sdk::Status;

Status CpuEngine::CreateHostTransport(const sdk::EngineConfig& config,
                                      std::unique_ptr<Transport>* transport) {
  return CreateMpiTransport(config.num_hosts, config.host_id, transport);
}

Status CpuEngine::AgreeOnEnqueue(const Status& local, int32_t replica, EMBRT_Mode mode) {
  Status status = local;
  if (status.ok()) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!round_lookups_.empty() && replicas_[round_lookups_.front().replica].mode != mode) {
      status = Status::FailedPrecondition(
          "Enqueue for replica " + std::to_string(replica) + ": with num_hosts > 1 every " +
          "replica of a step must be enqueued in the same mode (TRAINING or INFERENCE) as " +
          "replica " + std::to_string(round_lookups_.front().replica));
    }
  }
  status = exchange_->transport().AgreeStatus(status);
  if (!status.ok()) return status;
  // Every host must enqueue this replica in the same mode, or the hosts' steps drift apart.
  const int32_t mine = mode;
  std::vector<int32_t> modes(exchange_->transport().num_hosts());
  status = exchange_->transport().AllGather(&mine, sizeof(mine), modes.data());
  if (!status.ok()) return status;
  for (size_t h = 1; h < modes.size(); ++h) {
    if (modes[h] == modes[0]) continue;
    auto name = [](int32_t m) { return m == EMBRT_MODE_TRAINING ? "TRAINING" : "INFERENCE"; };
    return Status::FailedPrecondition(
        "Enqueue for replica " + std::to_string(replica) + ": host " + std::to_string(h) +
        " enqueued it for " + name(modes[h]) + ", host 0 for " + name(modes[0]) +
        "; every host must run the same kind of step");
  }
  return Status();
}

Status CpuEngine::CheckLookupRoundStarted(int32_t replica) const {
  for (const Task& task : round_lookups_) {
    if (task.replica != replica) continue;
    return Status::FailedPrecondition(
        "RecvActivations for replica " + std::to_string(replica) + ": with num_hosts > 1 the " +
        "lookup starts when every local replica has enqueued (" +
        std::to_string(round_lookups_.size()) + " of " + std::to_string(num_replicas_) +
        " have); enqueue them all before receiving");
  }
  return Status();
}

std::vector<ReplicaSlices> CpuEngine::Slices(const std::vector<int64_t>& steps) {
  std::vector<ReplicaSlices> out(num_replicas_);
  for (int32_t r = 0; r < num_replicas_; ++r) {
    StepBuffer& buffer = replicas_[r].buffers[steps[r] % 2];
    out[r].resize(features_.size());
    for (size_t f = 0; f < features_.size(); ++f) {
      const Feature& feature = features_[f];
      FeatureBatch& batch = buffer.features[f];
      FeatureSlice& s = out[r][f];
      s.table = feature.table;
      s.dim = feature.dim;
      s.max_sequence_length = feature.max_sequence_length;
      s.input_rows = feature.input_rows;
      s.splits = batch.split_data;
      s.positions = batch.positions.empty() ? nullptr : batch.positions.data();
      s.ids = batch.rows.data();
      s.num_ids = batch.rows.size();
      s.gains = batch.gains.data();
      s.gradients = batch.has_gradients ? batch.gradients.data() : nullptr;
    }
  }
  return out;
}

Status CpuEngine::Broken(const Status& status) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (deferred_error_.ok()) deferred_error_ = status;
  }
  changed_.notify_all();
  return status;
}

Status CpuEngine::StartLookupRound() {
  std::vector<Task> lookups;
  {
    std::unique_lock<std::mutex> lock(mutex_);
    if (pipeline_execution_) {
      // Every earlier update but a held-back one (step k-1 for this round's step k) is applied:
      // owners answer with the tables after exactly the updates < k-1, as on one host.
      WaitHelping(lock, [&] { return queue_.empty() && !device_busy_; });
    } else {
      Drain(lock);  // the previous update is applied: owners answer with its rows
    }
    if (!deferred_error_.ok()) return deferred_error_;
    lookups.swap(round_lookups_);
  }
  std::vector<int64_t> steps(num_replicas_, 0);
  for (const Task& task : lookups) steps[task.replica] = task.step;
  std::vector<ReplicaSlices> slices = Slices(steps);
  std::vector<const TableShard*> shards;
  for (const Table& table : tables_) shards.push_back(table.storage.get());
  Status status = exchange_->FetchRows(slices, shards);
  if (!status.ok()) return Broken(status);
  {
    std::unique_lock<std::mutex> lock(mutex_);
    for (const Task& task : lookups) queue_.push_back(task);
    // Pipelining: a TRAINING round releases the update of the previous step, behind its lookups
    // (which read the fetched copies, not the tables). Every host does it at this same point of
    // its calls, after the same collectives; an INFERENCE round keeps it held, like one host.
    ReleaseDeferredUpdate(lock, /*flush=*/false);
  }
  changed_.notify_all();
  device_wake_.notify_one();  // the fetched round's lookups are queued
  return Status();
}

Status CpuEngine::FinishStepAcrossHosts(int64_t step) {
  {
    std::unique_lock<std::mutex> lock(mutex_);
    Drain(lock);  // the lookups wrote the gains the records carry
    if (!deferred_error_.ok()) return deferred_error_;
  }
  Status status = exchange_->SendGradients(Slices(std::vector<int64_t>(num_replicas_, step)));
  if (!status.ok()) return Broken(status);
  {
    std::unique_lock<std::mutex> lock(mutex_);
    QueueUpdate(step, lock);
  }
  changed_.notify_all();
  return Status();
}

Status CpuEngine::AgreeStatus(const Status& local) {
  if (exchange_ != nullptr) return exchange_->transport().AgreeStatus(local);
  if (local.ok()) return Status();
  return Status(local.code(), "host " + std::to_string(host_id_) + ": " + local.message());
}

Status CpuEngine::Barrier() {
  {
    std::unique_lock<std::mutex> lock(mutex_);
    Drain(lock);
    if (!deferred_error_.ok()) return deferred_error_;
  }
  return exchange_ != nullptr ? exchange_->transport().Barrier() : Status();
}

Status CpuEngine::AllGather(const void* local, size_t size, void* gathered) {
  if (exchange_ != nullptr) return exchange_->transport().AllGather(local, size, gathered);
  if (size > 0) std::memcpy(gathered, local, size);
  return Status();
}

uint64_t CpuEngine::off_host_bytes_sent() const {
  return exchange_ != nullptr ? exchange_->transport().off_host_bytes_sent() : 0;
}

}  // namespace cpu
}  // namespace embrt
