// Copyright embrt authors.
//
// File: embrt/embedding_tables.h
// ------------------------------
// Host copies of every table and optimizer slot, for inspection and export (TF's
// `embedding_tables` property, which on CPU returns the variables): read from a checkpoint
// (memory-mapped read-only, no copy) or retrieved from a live Embedding.
//
// Example:
//
//   EMBRT_ASSIGN_OR_RETURN(embrt::EmbeddingTables tables,
//                          embrt::EmbeddingTables::FromCheckpoint("/ckpts/model"));
//   const embrt::HostTable* video = tables.Find("video");
//   absl::Span<const float> row_3 = video->Row(video->SlotIndex("parameters"), 3);
//
// Thread safety: an EmbeddingTables is immutable; its const methods are safe for concurrent
// use. Copies share the underlying storage (the memory map or the retrieved rows), which lives
// as long as any copy.

#ifndef EMBRT_EMBEDDING_TABLES_H_
#define EMBRT_EMBEDDING_TABLES_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "embrt/config.h"
#include "embrt/embedding.h"

namespace embrt {

// One table: its parameters and optimizer slots, each [rows, dim] row-major.
struct HostTable {
  std::string name;
  int64_t vocabulary_size = 0;
  int32_t dim = 0;
  OptimizerKind optimizer = OptimizerKind::kSgd;
  // SlotNames(optimizer): "parameters" first.
  std::vector<std::string> slot_names;
  // Rows held: vocabulary_size, except for a live multi-host engine, where it is this host's
  // shard (local rows in local order, embrt/sharding.h).
  int64_t rows = 0;
  std::vector<absl::Span<const float>> slots;

  // Index of the slot called `name`, or -1.
  int SlotIndex(absl::string_view name) const;
  // Row `row` (< rows) of slot `slot`: dim floats.
  absl::Span<const float> Row(int slot, int64_t row) const {
    return slots[slot].subspan(static_cast<size_t>(row) * dim, static_cast<size_t>(dim));
  }
};

class EmbeddingTables {
 public:
  // Every table of a checkpoint (directory or root, see ResolveCheckpointPath), verified and
  // memory-mapped. Slots stored as several files (multi-host writers) are assembled into one
  // host copy each.
  static absl::StatusOr<EmbeddingTables> FromCheckpoint(const std::string& path_or_root);

  // Every table of `embedding` after all submitted work, copied to the host.
  static absl::StatusOr<EmbeddingTables> FromEmbedding(Embedding& embedding);

  // In table order.
  const std::vector<HostTable>& tables() const { return tables_; }
  // The table called `name`, or nullptr.
  const HostTable* Find(absl::string_view name) const;
  // Completed training steps of the source.
  int64_t step() const { return step_; }

 private:
  struct Storage;
  std::shared_ptr<const Storage> storage_;
  std::vector<HostTable> tables_;
  int64_t step_ = 0;
};

}  // namespace embrt

#endif  // EMBRT_EMBEDDING_TABLES_H_
