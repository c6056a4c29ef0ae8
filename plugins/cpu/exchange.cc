// Copyright embrt authors.

#include "exchange.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <numeric>
#include <stdexcept>
#include <string>
#include <utility>

#include "embrt/shard_layout.h"

namespace embrt {
namespace cpu {
namespace {

using sdk::Status;

// A gradient record: header, then dim floats (zeros when has_gradient is 0).
struct RecordHeader {
  int64_t local_row;  // on the owner
  int32_t replica;    // global replica
  float gain;
  int32_t has_gradient;
  int32_t unused;
};
static_assert(sizeof(RecordHeader) == 24, "records keep floats 4-byte aligned");

template <typename T>
void Append(std::vector<char>& out, const T* values, size_t count) {
  const size_t at = out.size();
  out.resize(at + sizeof(T) * count);
  if (count > 0) std::memcpy(out.data() + at, values, sizeof(T) * count);
}

template <typename T>
T Read(const char* p) {
  T value;
  std::memcpy(&value, p, sizeof(T));
  return value;
}

}  // namespace

Exchange::Exchange(std::unique_ptr<Transport> transport, EMBRT_Sharding sharding,
                   int32_t num_replicas, std::vector<ExchangeTable> tables)
    : transport_(std::move(transport)),
      sharding_(sharding),
      num_replicas_(num_replicas),
      tables_(std::move(tables)) {
  const size_t hosts = static_cast<size_t>(transport_->num_hosts());
  distinct_.resize(tables_.size());
  gathered_.resize(tables_.size());
  requested_.assign(hosts, std::vector<std::vector<int64_t>>(tables_.size()));
  outgoing_.resize(hosts);
  sections_.assign(hosts, std::vector<Section>(tables_.size()));
  int32_t max_dim = 1;
  for (const ExchangeTable& t : tables_) max_dim = std::max(max_dim, t.dim);
  part_.resize(max_dim);
  sum_.resize(max_dim);
}

Exchange::~Exchange() {
  const char* log = std::getenv("EMBRT_CPU_LOG_EXCHANGE");
  if (log == nullptr || std::string(log) != "1") return;
  const uint64_t bytes = transport_->off_host_bytes_sent();
  std::fprintf(stderr,
               "embrt cpu: host %d of %d: %lld lookup rounds, %lld gradient exchanges, %llu bytes "
               "sent to other hosts (%.0f per round)\n",
               transport_->host_id(), transport_->num_hosts(), static_cast<long long>(rounds_),
               static_cast<long long>(gradients_), static_cast<unsigned long long>(bytes),
               rounds_ > 0 ? static_cast<double>(bytes) / rounds_ : 0.0);
}

size_t Exchange::RecordBytes(int32_t table) const {
  return sizeof(RecordHeader) + sizeof(float) * static_cast<size_t>(tables_[table].dim);
}

// Lays out `outgoing_` one host after another into send_ and send_counts_.
static void Concatenate(std::vector<std::vector<char>>& outgoing, std::vector<char>* send,
                        std::vector<int64_t>* counts) {
  send->clear();
  counts->assign(outgoing.size(), 0);
  for (size_t h = 0; h < outgoing.size(); ++h) {
    (*counts)[h] = static_cast<int64_t>(outgoing[h].size());
    send->insert(send->end(), outgoing[h].begin(), outgoing[h].end());
  }
}

Status Exchange::FetchRows(std::vector<ReplicaSlices>& replicas,
                           const std::vector<const TableShard*>& shards) {
  const int32_t hosts = transport_->num_hosts();
  const int32_t me = transport_->host_id();
  ++rounds_;
  // 1. Per table, the sorted distinct ids of every replica's features; ids become indices.
  for (size_t t = 0; t < tables_.size(); ++t) {
    std::vector<int64_t>& distinct = distinct_[t];
    distinct.clear();
    for (ReplicaSlices& slices : replicas) {
      for (FeatureSlice& s : slices) {
        if (s.table == static_cast<int32_t>(t)) distinct.insert(distinct.end(), s.ids, s.ids + s.num_ids);
      }
    }
    std::sort(distinct.begin(), distinct.end());
    distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
    for (ReplicaSlices& slices : replicas) {
      for (FeatureSlice& s : slices) {
        if (s.table != static_cast<int32_t>(t)) continue;
        for (size_t k = 0; k < s.num_ids; ++k) {
          s.ids[k] = std::lower_bound(distinct.begin(), distinct.end(), s.ids[k]) - distinct.begin();
        }
      }
    }
    for (int32_t h = 0; h < hosts; ++h) requested_[h][t].clear();
    for (size_t u = 0; u < distinct.size(); ++u) {
      const sdk::ShardLocation at =
          sdk::LocateRow(distinct[u], tables_[t].vocabulary_size, hosts, sharding_);
      requested_[at.host][t].push_back(static_cast<int64_t>(u));
    }
  }
  // 2. Requests: per owner, for each table, a count and the owner's local rows.
  for (int32_t h = 0; h < hosts; ++h) {
    std::vector<char>& out = outgoing_[h];
    out.clear();
    for (size_t t = 0; t < tables_.size(); ++t) {
      const std::vector<int64_t>& wanted = requested_[h][t];
      const int64_t count = static_cast<int64_t>(wanted.size());
      Append(out, &count, 1);
      for (int64_t u : wanted) {
        const int64_t local =
            sdk::LocateRow(distinct_[t][u], tables_[t].vocabulary_size, hosts, sharding_).local_row;
        Append(out, &local, 1);
      }
    }
  }
  Concatenate(outgoing_, &send_, &send_counts_);
  // Its own receive buffer: received_ keeps the last gradient records, whose update may still
  // be held back (pipelining) until after this round.
  Status status = transport_->AllToAll(send_.data(), send_counts_, &requests_, &received_counts_,
                                       "ids to their owners");
  if (!status.ok()) return status;
  // 3. Answer every requester with the raw rows of this host's shards, in the order asked.
  size_t at = 0;
  for (int32_t h = 0; h < hosts; ++h) {
    std::vector<char>& out = outgoing_[h];
    out.clear();
    const size_t end = at + static_cast<size_t>(received_counts_[h]);
    for (size_t t = 0; t < tables_.size(); ++t) {
      if (at + sizeof(int64_t) > end) return Status::Internal("malformed row request from host " + std::to_string(h));
      const int64_t count = Read<int64_t>(requests_.data() + at);
      at += sizeof(int64_t);
      const TableShard& shard = *shards[t];
      for (int64_t i = 0; i < count; ++i) {
        const int64_t row = Read<int64_t>(requests_.data() + at);
        at += sizeof(int64_t);
        if (row < 0 || row >= shard.rows()) {
          return Status::Internal("host " + std::to_string(me) + ": host " + std::to_string(h) +
                                  " asked for local row " + std::to_string(row) + " of table " +
                                  std::to_string(t) + ", which has " +
                                  std::to_string(shard.rows()) + " rows here");
        }
        Append(out, shard.row(0, row), static_cast<size_t>(shard.dim()));
      }
    }
  }
  Concatenate(outgoing_, &send_, &send_counts_);
  status = transport_->AllToAll(send_.data(), send_counts_, &replies_, &received_counts_,
                                "rows back to their requesters");
  if (!status.ok()) return status;
  // 4. Rows into the gathered arrays, owner by owner in the order they were asked for.
  for (size_t t = 0; t < tables_.size(); ++t) {
    gathered_[t].resize(distinct_[t].size() * static_cast<size_t>(tables_[t].dim));
  }
  const char* p = replies_.data();
  for (int32_t h = 0; h < hosts; ++h) {
    for (size_t t = 0; t < tables_.size(); ++t) {
      const size_t row_bytes = sizeof(float) * static_cast<size_t>(tables_[t].dim);
      for (int64_t u : requested_[h][t]) {
        std::memcpy(gathered_[t].data() + u * tables_[t].dim, p, row_bytes);
        p += row_bytes;
      }
    }
  }
  if (p != replies_.data() + replies_.size()) {
    return Status::Internal("host " + std::to_string(me) + ": row replies have " +
                            std::to_string(replies_.size()) + " bytes, expected " +
                            std::to_string(p - replies_.data()));
  }
  return Status();
}

void Exchange::AppendRecord(int32_t owner, int64_t local_row, int32_t replica, float gain,
                            const float* values, int32_t dim) {
  RecordHeader header{local_row, replica, gain, values != nullptr ? 1 : 0, 0};
  std::vector<char>& out = outgoing_[owner];
  Append(out, &header, 1);
  const size_t at = out.size();
  out.resize(at + sizeof(float) * dim, 0);  // zeros for a null gradient
  if (values != nullptr) std::memcpy(out.data() + at, values, sizeof(float) * dim);
}

Status Exchange::SendGradients(const std::vector<ReplicaSlices>& replicas) {
  const int32_t hosts = transport_->num_hosts();
  const int32_t first_replica = transport_->host_id() * num_replicas_;
  ++gradients_;
  for (std::vector<char>& out : outgoing_) out.clear();
  std::vector<size_t> count_at(hosts);
  for (size_t t = 0; t < tables_.size(); ++t) {
    const ExchangeTable& table = tables_[t];
    const int32_t dim = table.dim;
    for (int32_t h = 0; h < hosts; ++h) {
      count_at[h] = outgoing_[h].size();
      const int64_t zero = 0;
      Append(outgoing_[h], &zero, 1);
    }
    std::vector<int64_t> counts(hosts, 0);
    for (size_t r = 0; r < replicas.size(); ++r) {
      const int32_t replica = first_replica + static_cast<int32_t>(r);
      // This replica's contributions to table t in canonical order: feature, bag, position.
      occurrence_ids_.clear();
      occurrences_.clear();
      for (const FeatureSlice& s : replicas[r]) {
        if (s.table != static_cast<int32_t>(t)) continue;
        for (int64_t b = 0; b < s.input_rows; ++b) {
          const int32_t begin = s.splits[b];
          for (int32_t k = begin; k < s.splits[b + 1]; ++k) {
            const float* g = nullptr;
            if (s.gradients != nullptr) {
              g = s.gradients +
                  GradientSlot(b, k, begin, s.positions, s.max_sequence_length) * dim;
            }
            occurrence_ids_.push_back(distinct_[t][s.ids[k]]);
            occurrences_.push_back(Contribution{g, s.gains[k], replica});
          }
        }
      }
      if (!table.accumulate) {
        for (size_t i = 0; i < occurrences_.size(); ++i) {
          const sdk::ShardLocation at =
              sdk::LocateRow(occurrence_ids_[i], table.vocabulary_size, hosts, sharding_);
          AppendRecord(at.host, at.local_row, replica, occurrences_[i].gain,
                       occurrences_[i].gradient, dim);
          ++counts[at.host];
        }
        continue;
      }
      // One partial per distinct row: its contributions stay in canonical order (stable sort).
      order_.resize(occurrences_.size());
      std::iota(order_.begin(), order_.end(), size_t{0});
      std::stable_sort(order_.begin(), order_.end(), [&](size_t a, size_t b) {
        return occurrence_ids_[a] < occurrence_ids_[b];
      });
      for (size_t i = 0; i < order_.size();) {
        const int64_t id = occurrence_ids_[order_[i]];
        run_.clear();
        for (; i < order_.size() && occurrence_ids_[order_[i]] == id; ++i) {
          run_.push_back(occurrences_[order_[i]]);
        }
        SumRowGradient(run_.data(), run_.data() + run_.size(), dim, part_.data(), sum_.data());
        const sdk::ShardLocation at = sdk::LocateRow(id, table.vocabulary_size, hosts, sharding_);
        AppendRecord(at.host, at.local_row, replica, 1.0f, sum_.data(), dim);
        ++counts[at.host];
      }
    }
    for (int32_t h = 0; h < hosts; ++h) {
      std::memcpy(outgoing_[h].data() + count_at[h], &counts[h], sizeof(int64_t));
    }
  }
  Concatenate(outgoing_, &send_, &send_counts_);
  Status status = transport_->AllToAll(send_.data(), send_counts_, &received_, &received_counts_,
                                       "gradients to the rows' owners");
  if (!status.ok()) return status;
  // Where each source's records of each table are.
  size_t at = 0;
  for (int32_t h = 0; h < hosts; ++h) {
    const size_t end = at + static_cast<size_t>(received_counts_[h]);
    for (size_t t = 0; t < tables_.size(); ++t) {
      if (at + sizeof(int64_t) > end) {
        return Status::Internal("malformed gradient records from host " + std::to_string(h));
      }
      Section& section = sections_[h][t];
      section.count = Read<int64_t>(received_.data() + at);
      section.offset = at + sizeof(int64_t);
      at = section.offset + static_cast<size_t>(section.count) * RecordBytes(t);
    }
    if (at != end) {
      return Status::Internal("gradient records from host " + std::to_string(h) +
                              " do not match their size");
    }
  }
  return Status();
}

void Exchange::GroupReceived(int32_t table, int64_t table_rows, RowGrouping* grouping) const {
  const size_t record = RecordBytes(table);
  int64_t total = 0;
  for (const std::vector<Section>& sections : sections_) total += sections[table].count;
  grouping->Begin(table_rows, static_cast<size_t>(total));
  for (const std::vector<Section>& sections : sections_) {  // host order = global replica order
    const Section& section = sections[table];
    for (int64_t i = 0; i < section.count; ++i) {
      const char* p = received_.data() + section.offset + static_cast<size_t>(i) * record;
      const RecordHeader header = Read<RecordHeader>(p);
      if (header.local_row < 0 || header.local_row >= table_rows) {
        throw std::runtime_error("gradient record for local row " +
                                 std::to_string(header.local_row) + " outside the shard of " +
                                 std::to_string(table_rows) + " rows");
      }
      const float* values =
          header.has_gradient ? reinterpret_cast<const float*>(p + sizeof(RecordHeader)) : nullptr;
      grouping->Add(header.local_row, values, header.gain, header.replica);
    }
  }
  grouping->Finish();
}

}  // namespace cpu
}  // namespace embrt
