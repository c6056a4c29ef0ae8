// Copyright embrt authors.
//
// File: embrt/checkpoint.h
// ------------------------
// Checkpoints of every table and optimizer slot of an embrt::Embedding, written so that no
// crash ever loses the previous checkpoint, and restorable onto another host count, sharding,
// replica count or backend.
//
// Layout under a root directory:
//
//   root/
//     latest               text: the name of the newest complete checkpoint, e.g. "ckpt-1200"
//     ckpt-1200/
//       manifest.pb        embrt.CheckpointManifest (proto/embrt/checkpoint.proto), checksummed
//       manifest.txt       the same as text, for people
//       <table>/<slot>.f32 raw little-endian float32, row-major [vocabulary_size, dim]
//
// Tables are stored as logical tables in global row order, whatever the writer's sharding, so
// a file can be memory-mapped for serving (embrt/serving.h) and inspected (embrt/
// embedding_tables.h). Every file carries its size and an XXH3-64 checksum in the manifest.
//
// Saving writes into root/.tmp-ckpt-<step>-<pid>, fsyncs every file and directory, renames the
// directory to root/ckpt-<step> (never replacing an existing one) and then replaces root/latest atomically (temporary file,
// fsync, rename). Older checkpoints are deleted only after that, when keep_last asks for it.
// A crash at any point leaves `latest` naming a complete checkpoint.
//
// Restoring verifies every file's size and checksum: a corrupt, truncated or missing file is
// DATA_LOSS naming the file, and the engine is left as it was. Into an engine whose tables were
// never initialized (the usual restore: right after Build), files are verified while they are
// loaded, in one pass: a mismatch fails LoadTables, which then changes nothing visible (the
// initializers still run in full). Into an engine that holds values already, every file is
// verified before anything is loaded (two passes).
//
// Example:
//
//   embrt::CheckpointOptions options;
//   options.keep_last = 3;
//   EMBRT_ASSIGN_OR_RETURN(std::string path,
//                          embrt::SaveCheckpoint(*embedding, "/ckpts/model", options));
//   ...
//   EMBRT_RETURN_IF_ERROR(embrt::RestoreCheckpoint(*other_embedding, "/ckpts/model"));
//
// Thread safety: SaveCheckpoint and RestoreCheckpoint follow Embedding's rules for table
// calls (nothing else may run on the engine meanwhile). Two writers must not share a root
// directory at the same time. CheckpointReader's const methods are safe for concurrent use.

#ifndef EMBRT_CHECKPOINT_H_
#define EMBRT_CHECKPOINT_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "embrt/checkpoint.pb.h"
#include "embrt/config.h"
#include "embrt/embedding.h"

namespace embrt {

// The manifest format this library writes and the only one it reads.
inline constexpr int32_t kCheckpointFormatVersion = 1;

struct CheckpointOptions {
  // Keep only the newest `keep_last` checkpoints (by step) under the root, always including
  // the one just written; 0 keeps all. Older ones are deleted after the new one is complete.
  int keep_last = 0;
  // Also write manifest.txt (text format, never read back).
  bool write_text_manifest = true;
  // Recorded in the manifest; empty: "embrt".
  std::string created_by;
  // Delete leftovers of writers that crashed (root/.tmp-*-<pid> of processes that are gone).
  // Assumes that only processes of this machine write under the root.
  bool remove_stale_temporaries = true;
};

// Writes every table and slot of `embedding` after all submitted work, in bounded chunks
// (memory use independent of the table size), as root_dir/ckpt-<step>, and points
// root_dir/latest at it. Creates root_dir if needed. Returns the checkpoint's path.
// A checkpoint of the same step is never replaced: ALREADY_EXISTS, and nothing is written.
// A multi-host engine (num_hosts > 1)
// is saved by every host calling SaveCheckpoint with the same root_dir on a file system they
// all see: each host writes its shard as one file per slot ("<slot>.shard-<h>-of-<n>.f32",
// contiguous for DIV, strided for MOD), then host 0 writes the one manifest and `latest`
// after a barrier; every host returns the same status, and a failure or crash of any host
// leaves the previous checkpoint intact.
absl::StatusOr<std::string> SaveCheckpoint(Embedding& embedding, const std::string& root_dir,
                                           const CheckpointOptions& options = {});

// Restores `embedding` from a checkpoint directory, or from the one `latest` names when
// `path_or_root` is a root directory. The checkpoint must hold the same tables (by name) with
// the same vocabulary sizes, dims and optimizer kinds; host count, sharding, replicas and
// backend may differ. Every file is verified (see above); any error leaves the engine's
// visible state as it was.
struct RestoreOptions {
  // Threads that verify the files before a restore into trained tables (chunk by chunk where
  // the manifest has chunk checksums, as CheckpointReader::Options::verify_threads); 0: one per
  // CPU this process may run on, at most 8. The restored values and the error reported do not
  // depend on it.
  int verify_threads = 0;
};

// Restoring before the first step replaces the initializers. Sets the step.
absl::Status RestoreCheckpoint(Embedding& embedding, const std::string& path_or_root,
                               const RestoreOptions& options = {});

// -- Engine-free building blocks (what the two calls above are made of) --------------------

// Retrieves this host's rows of every table, passing them to the sink (Embedding::
// RetrieveTables has this shape).
using RetrieveTablesFunction = std::function<absl::Status(const Embedding::RowSink& sink)>;

// SaveCheckpoint without an Embedding: the tables of `config` at `step`, read from `retrieve`.
// One host only (INVALID_ARGUMENT for num_hosts > 1: use SaveCheckpoint).
absl::StatusOr<std::string> WriteCheckpoint(const ResolvedConfig& config, int64_t step,
                                            const RetrieveTablesFunction& retrieve,
                                            const std::string& root_dir,
                                            const CheckpointOptions& options = {});

// A checkpoint directory itself when it holds a manifest, else the checkpoint named by
// `path_or_root`/latest. NOT_FOUND when neither exists; DATA_LOSS when `latest` is broken.
absl::StatusOr<std::string> ResolveCheckpointPath(const std::string& path_or_root);

// An open checkpoint: the validated manifest and every file memory-mapped read-only.
//
// Thread safety: immutable after Open; every method is safe for concurrent use from any
// number of threads without external synchronization. Spans stay valid for the reader's
// lifetime.
class CheckpointReader {
 public:
  struct Options {
    // Check every file's XXH3-64 (reads every byte once). Sizes are always checked.
    bool verify_checksums = true;
    // Threads that verify at once, chunk by chunk where the manifest has chunk checksums
    // (checkpoint.proto); 0: one per CPU this process may run on, at most 8. The result and
    // the error reported do not depend on it.
    int verify_threads = 0;
  };

  // Opens a checkpoint (see ResolveCheckpointPath). A manifest that is corrupt, of another
  // format version or hostile (absurd sizes, paths leaving the directory) is DATA_LOSS or
  // INVALID_ARGUMENT before any table file is touched; a missing, truncated or corrupt table
  // file is DATA_LOSS naming it.
  static absl::StatusOr<std::unique_ptr<CheckpointReader>> Open(const std::string& path_or_root,
                                                                Options options);
  static absl::StatusOr<std::unique_ptr<CheckpointReader>> Open(const std::string& path_or_root) {
    return Open(path_or_root, Options());
  }

  ~CheckpointReader();
  CheckpointReader(const CheckpointReader&) = delete;
  CheckpointReader& operator=(const CheckpointReader&) = delete;

  // The checkpoint directory.
  const std::string& path() const;
  const CheckpointManifest& manifest() const;
  int64_t step() const { return manifest().step(); }
  int num_tables() const { return manifest().tables_size(); }
  // Index of the table called `name` in manifest().tables(), or -1.
  int FindTable(absl::string_view name) const;

  // OK when the checkpoint holds exactly the tables of `config` (by name) with the same
  // vocabulary sizes, dims, optimizer kinds and slots; INVALID_ARGUMENT naming the checkpoint,
  // table and field otherwise.
  absl::Status CheckCompatible(const ResolvedConfig& config) const;

  // Global row `row` of slot `slot` of table `table`: dim floats, memory-mapped. Indices must
  // be in range (checked in debug builds only).
  absl::Span<const float> Row(int table, int slot, int64_t row) const;

  // The whole slot, [vocabulary_size, dim] row-major, when it is stored as one file (what
  // today's writer produces); an empty span otherwise.
  absl::Span<const float> ContiguousSlot(int table, int slot) const;

  // Copies local rows [local_row_begin, local_row_begin + row_count) of host `host` of
  // `num_hosts` under `sharding` (embrt/sharding.h) of one slot into `out`
  // ([row_count, dim]). INVALID_ARGUMENT when the range or `out` does not fit.
  absl::Status ReadShardRows(int table, int slot, int num_hosts, int host, Sharding sharding,
                             int64_t local_row_begin, int64_t row_count,
                             absl::Span<float> out) const;

  // A filler for Embedding::LoadTables of an engine whose config is `config` (its host count,
  // host id and sharding pick the rows; tables are matched by name). Call CheckCompatible
  // first. The filler borrows this reader and `config`.
  Embedding::RowFiller MakeRowFiller(const ResolvedConfig& config) const;

 private:
  class Impl;
  class StreamingLoader;
  friend absl::Status RestoreCheckpoint(Embedding& embedding, const std::string& path_or_root,
                                       const RestoreOptions& options);
  explicit CheckpointReader(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace embrt

#endif  // EMBRT_CHECKPOINT_H_
