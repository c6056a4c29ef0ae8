// Copyright embrt authors.
//
// EmbeddingTables: host views of every table and slot, from a checkpoint or a live engine.

#include "embrt/embedding_tables.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "checkpoint_manifest.h"
#include "embrt/checkpoint.h"
#include "embrt/sharding.h"
#include "embrt/status_macros.h"

namespace embrt {

// What the spans of an EmbeddingTables point into: a checkpoint's memory maps and/or owned
// host copies.
struct EmbeddingTables::Storage {
  std::unique_ptr<CheckpointReader> reader;
  std::vector<std::vector<float>> owned;
};

int HostTable::SlotIndex(absl::string_view name) const {
  for (size_t s = 0; s < slot_names.size(); ++s) {
    if (slot_names[s] == name) return static_cast<int>(s);
  }
  return -1;
}

const HostTable* EmbeddingTables::Find(absl::string_view name) const {
  for (const HostTable& table : tables_) {
    if (table.name == name) return &table;
  }
  return nullptr;
}

absl::StatusOr<EmbeddingTables> EmbeddingTables::FromCheckpoint(
    const std::string& path_or_root) {
  auto storage = std::make_shared<Storage>();
  EMBRT_ASSIGN_OR_RETURN(storage->reader, CheckpointReader::Open(path_or_root));
  const CheckpointReader& reader = *storage->reader;
  EmbeddingTables result;
  result.step_ = reader.step();
  for (int t = 0; t < reader.num_tables(); ++t) {
    const CheckpointTable& stored = reader.manifest().tables(t);
    HostTable& table = result.tables_.emplace_back();
    table.name = stored.name();
    table.vocabulary_size = stored.vocabulary_size();
    table.rows = stored.vocabulary_size();
    table.dim = stored.dim();
    EMBRT_ASSIGN_OR_RETURN(table.optimizer, internal::OptimizerKindFromName(stored.optimizer()));
    table.slot_names = SlotNames(table.optimizer);
    for (int s = 0; s < stored.slots_size(); ++s) {
      absl::Span<const float> whole = reader.ContiguousSlot(t, s);
      if (whole.empty()) {
        // Several files: assemble the logical table once.
        std::vector<float>& copy = storage->owned.emplace_back(
            static_cast<size_t>(table.vocabulary_size) * table.dim);
        EMBRT_RETURN_IF_ERROR(reader.ReadShardRows(t, s, 1, 0, DIV, 0, table.vocabulary_size,
                                                   absl::MakeSpan(copy)));
        whole = copy;
      }
      table.slots.push_back(whole);
    }
  }
  result.storage_ = std::move(storage);
  return result;
}

absl::StatusOr<EmbeddingTables> EmbeddingTables::FromEmbedding(Embedding& embedding) {
  const ResolvedConfig& config = embedding.config();
  auto storage = std::make_shared<Storage>();
  EmbeddingTables result;
  result.step_ = embedding.step();
  std::vector<size_t> first_slot(config.tables.size());
  for (size_t t = 0; t < config.tables.size(); ++t) {
    const ResolvedTable& resolved = config.tables[t];
    HostTable& table = result.tables_.emplace_back();
    table.name = resolved.name;
    table.vocabulary_size = resolved.vocabulary_size;
    table.dim = resolved.dim;
    table.optimizer = resolved.optimizer.kind;
    table.slot_names = SlotNames(resolved.optimizer.kind);
    table.rows = ShardRows(resolved.vocabulary_size, config.config.num_hosts(),
                           config.config.host_id());
    first_slot[t] = storage->owned.size();
    for (size_t s = 0; s < table.slot_names.size(); ++s) {
      storage->owned.emplace_back(static_cast<size_t>(table.rows) * table.dim);
    }
  }
  EMBRT_RETURN_IF_ERROR(embedding.RetrieveTables(
      [&](int t, int64_t begin, int64_t count,
          absl::Span<const absl::Span<const float>> slots) -> absl::Status {
        const HostTable& table = result.tables_[t];
        if (begin < 0 || count < 0 || begin > table.rows - count ||
            slots.size() != table.slot_names.size()) {
          return absl::InternalError(absl::StrCat("retrieve returned rows [", begin, ", +",
                                                  count, ") of table \"", table.name, "\""));
        }
        for (size_t s = 0; s < slots.size(); ++s) {
          std::copy(slots[s].begin(), slots[s].end(),
                    storage->owned[first_slot[t] + s].begin() + begin * table.dim);
        }
        return absl::OkStatus();
      }));
  for (size_t t = 0; t < result.tables_.size(); ++t) {
    HostTable& table = result.tables_[t];
    for (size_t s = 0; s < table.slot_names.size(); ++s) {
      table.slots.push_back(storage->owned[first_slot[t] + s]);
    }
  }
  result.storage_ = std::move(storage);
  return result;
}

}  // namespace embrt
