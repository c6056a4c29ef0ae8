// Copyright embrt authors.
//
// File: plugins/cpu/exchange.h
// ----------------------------
// The row and gradient exchange of a multi-host cpu engine, over a Transport. Every host holds
// one DIV or MOD shard of every table and drives its own block of global replicas
// (host h: global replicas h * R .. h * R + R - 1). The arithmetic stays in the canonical order
// of DESIGN.md §3 for any host count, so results are the same bits as one host holding every
// replica:
//
// Forward ("rows back"), once per lookup round (every local replica has enqueued):
//   for each table: the distinct ids of all this host's replicas and features (sorted), grouped
//   by owner; one all-to-all sends them, one all-to-all brings the raw rows back. The rows land
//   in a gathered [distinct ids, dim] array per table and every id of the batch is rewritten to
//   its index there, so the unchanged lookup kernels pool the bag in position order with gains
//   computed here, on the requester.
//
// Backward, once per training step (every local replica has sent its gradients):
//   accumulating tables: for each (local replica, row), the requester sums the row's
//     contributions gain * dL/da in (feature, bag, position) order (SumRowGradient over one
//     replica, exactly the first level of the one-host sum) and ships that partial to the owner;
//   without accumulation: every contribution (gain, dL/da) is shipped, in canonical order.
//   The owner receives the records in host order, hence in global replica order (the all-to-all
//   places host s's bytes at its offset, whatever order they arrived in), and adds them to its
//   RowGrouping in that order: with gain 1 a shipped partial is added exactly (0 + 1 * p == p),
//   so the owner's SumRowGradient is the one-host sum bit for bit, and it updates each touched
//   row once.
//
// Thread safety: FetchRows and SendGradients are collective and run on the engine's calling
// thread; GroupReceived runs on the device thread after SendGradients returned, before the next
// SendGradients.

#ifndef EMBRT_PLUGINS_CPU_EXCHANGE_H_
#define EMBRT_PLUGINS_CPU_EXCHANGE_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "backward.h"
#include "embrt/plugin_sdk.h"
#include "tables.h"
#include "transport.h"

namespace embrt {
namespace cpu {

// One feature's batch of one local replica, as the exchange sees it.
struct FeatureSlice {
  int32_t table = 0;
  int32_t dim = 0;
  int32_t max_sequence_length = 0;  // 0: one bag per row
  int64_t input_rows = 0;
  const int32_t* splits = nullptr;  // input_rows + 1
  int64_t* ids = nullptr;           // num_ids: global ids in; FetchRows makes them gathered rows
  size_t num_ids = 0;
  const float* gains = nullptr;      // per id (backward)
  const float* gradients = nullptr;  // activation-shaped, null = zero gradient (backward)
};
// Every feature of one local replica, in feature order.
using ReplicaSlices = std::vector<FeatureSlice>;

struct ExchangeTable {
  int64_t vocabulary_size = 0;
  int32_t dim = 0;
  bool accumulate = true;  // use_gradient_accumulation
};

class Exchange {
 public:
  Exchange(std::unique_ptr<Transport> transport, EMBRT_Sharding sharding, int32_t num_replicas,
           std::vector<ExchangeTable> tables);
  // With EMBRT_CPU_LOG_EXCHANGE=1 in the environment, prints one line per host to stderr:
  // rounds, gradient exchanges and bytes sent to other hosts (a readable per-rank log).
  ~Exchange();

  Transport& transport() { return *transport_; }

  // Collective. Fetches the rows of every id of `replicas` from their owners (this host answers
  // from `shards`, its own table shards) and rewrites the ids to gathered rows.
  sdk::Status FetchRows(std::vector<ReplicaSlices>& replicas,
                        const std::vector<const TableShard*>& shards);
  // Table t's gathered rows, [distinct ids, dim], valid until the next FetchRows.
  const float* gathered_rows(int32_t table) const { return gathered_[table].data(); }

  // Collective. Ships this host's gradient records (see the file comment) to the rows' owners.
  // `replicas` are the slices of the last FetchRows, with gains and gradients filled in.
  sdk::Status SendGradients(const std::vector<ReplicaSlices>& replicas);
  // Fills `grouping` with every received contribution to table t's local rows, in global
  // replica order. Throws std::runtime_error on a record outside the shard.
  void GroupReceived(int32_t table, int64_t table_rows, RowGrouping* grouping) const;

 private:
  struct Section {
    size_t offset = 0;  // byte offset of the first record in received_
    int64_t count = 0;
  };

  size_t RecordBytes(int32_t table) const;
  void AppendRecord(int32_t owner, int64_t local_row, int32_t replica, float gain,
                    const float* values, int32_t dim);

  std::unique_ptr<Transport> transport_;
  int64_t rounds_ = 0;     // FetchRows calls
  int64_t gradients_ = 0;  // SendGradients calls
  EMBRT_Sharding sharding_;
  int32_t num_replicas_;
  std::vector<ExchangeTable> tables_;

  // Forward, per table: sorted distinct global ids and their rows; reused across rounds.
  std::vector<std::vector<int64_t>> distinct_;
  std::vector<std::vector<float>> gathered_;
  // Per owner and table: indices into distinct_ in request order.
  std::vector<std::vector<std::vector<int64_t>>> requested_;

  // Per destination host, the bytes being built; one send and one receive buffer.
  std::vector<std::vector<char>> outgoing_;
  std::vector<char> send_;
  std::vector<int64_t> send_counts_;
  std::vector<char> received_;
  std::vector<int64_t> received_counts_;
  std::vector<char> replies_;
  // Backward: per source host and table, where its records are in received_.
  std::vector<std::vector<Section>> sections_;

  // Scratch of the requester's per-replica sums.
  std::vector<int64_t> occurrence_ids_;
  std::vector<Contribution> occurrences_;
  std::vector<size_t> order_;
  std::vector<Contribution> run_;
  std::vector<float> part_, sum_;
};

}  // namespace cpu
}  // namespace embrt

#endif  // EMBRT_PLUGINS_CPU_EXCHANGE_H_
