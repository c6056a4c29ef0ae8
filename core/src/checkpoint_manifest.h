// Copyright embrt authors.
//
// The checkpoint manifest (internal to the core): its file encoding, the checks that make a
// hostile or corrupt manifest harmless, and the comparison with an engine's config.
//
// manifest.pb is a 24-byte header followed by the serialized CheckpointManifest:
//   bytes 0..7   "EMBRTCKP"
//   bytes 8..15  payload size, uint64 little-endian
//   bytes 16..23 XXH3-64 (seed 0) of the payload, uint64 little-endian
// so that a flipped byte in the manifest is DATA_LOSS rather than a silently different value.

#ifndef EMBRT_CORE_SRC_CHECKPOINT_MANIFEST_H_
#define EMBRT_CORE_SRC_CHECKPOINT_MANIFEST_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "embrt/checkpoint.pb.h"
#include "embrt/config.h"

namespace embrt {
namespace internal {

inline constexpr char kManifestFileName[] = "manifest.pb";
inline constexpr char kTextManifestFileName[] = "manifest.txt";
inline constexpr char kLatestFileName[] = "latest";
inline constexpr char kCheckpointPrefix[] = "ckpt-";
inline constexpr char kTemporaryPrefix[] = ".tmp-";

// Limits that keep a hostile manifest from driving allocations or arithmetic overflow.
inline constexpr int64_t kMaxManifestBytes = int64_t{64} << 20;
inline constexpr int64_t kMaxVocabularySize = int64_t{1} << 40;
inline constexpr int32_t kMaxDim = 1 << 20;
inline constexpr int kMaxTables = 1 << 16;
inline constexpr int kMaxFilesPerSlot = 1 << 16;
// Bounds on the layout of the stored config: a reader that builds an engine from it (embrt
// eval) must never be driven into a huge allocation or loop by it.
inline constexpr int32_t kMaxBatchSize = 1 << 24;
inline constexpr int32_t kMaxReplicas = 1 << 12;
inline constexpr int32_t kMaxHosts = 1 << 12;
inline constexpr int kMaxFeatures = 1 << 16;

// True for a non-empty name of at most 255 characters from [A-Za-z0-9_.-] that is not "."
// or "..": safe as one path component anywhere.
bool IsPlainFileName(absl::string_view name);

// "name" or "dir/name" with both parts plain file names.
bool IsSafeRelativePath(absl::string_view path);

// XXH3-64 with seed 0.
uint64_t Xxh3Of(const void* data, size_t size);

std::string EncodeManifestFile(const CheckpointManifest& manifest);

// Checks the header and checksum and parses; `path` names the file in errors (DATA_LOSS).
absl::StatusOr<CheckpointManifest> DecodeManifestFile(absl::string_view bytes,
                                                      absl::string_view path);

// Checks everything a reader relies on before touching any table file: the format version,
// the stored config's layout (per_replica_batch_size, num_replicas, num_hosts, host_id, table
// and feature counts within the limits above; its backend name is information only),
// table names, sizes within limits, known optimizers with their slots in order, safe and
// unique file paths, byte sizes, and that each slot's files hold every row exactly once
// (checkpoint.proto). `path` names the manifest in errors.
absl::Status ValidateManifest(const CheckpointManifest& manifest, absl::string_view path);

// The optimizer kind called `name` (OptimizerKindName), or INVALID_ARGUMENT.
absl::StatusOr<OptimizerKind> OptimizerKindFromName(absl::string_view name);

// Compares a validated manifest with an engine's config (see CheckpointReader::
// CheckCompatible).
absl::Status CheckManifestCompatible(const CheckpointManifest& manifest,
                                     const ResolvedConfig& config, absl::string_view path);

}  // namespace internal
}  // namespace embrt

#endif  // EMBRT_CORE_SRC_CHECKPOINT_MANIFEST_H_
