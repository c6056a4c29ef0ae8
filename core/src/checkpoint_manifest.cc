// Copyright embrt authors.
//
// Encoding, validation and compatibility checks of the checkpoint manifest.

#include "checkpoint_manifest.h"

#include <algorithm>
#include <cstring>
#include <numeric>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "checkpoint_checksums.h"
#include "checkpoint_hash.h"
#include "embrt/checkpoint.h"
#include "embrt/status_macros.h"

namespace embrt {
namespace internal {
namespace {

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "checkpoint files are little-endian; a big-endian reader needs byte swaps");

constexpr char kMagic[8] = {'E', 'M', 'B', 'R', 'T', 'C', 'K', 'P'};
constexpr size_t kHeaderBytes = 24;

void PutUint64(uint64_t value, char* out) { std::memcpy(out, &value, sizeof(value)); }
uint64_t GetUint64(const char* in) {
  uint64_t value;
  std::memcpy(&value, in, sizeof(value));
  return value;
}

bool IsFileNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '.' || c == '-';
}

// Checks that a slot's files hold every row of a `vocabulary_size` table exactly once, in one
// of the two layouts of checkpoint.proto.
absl::Status CheckCoverage(const CheckpointSlot& slot, int64_t vocabulary_size,
                           absl::string_view where) {
  const int n = slot.files_size();
  bool all_contiguous = true;
  for (const CheckpointFile& file : slot.files()) all_contiguous &= file.row_stride() == 1;
  if (all_contiguous) {
    std::vector<int> order(n);
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(),
              [&](int a, int b) { return slot.files(a).row_begin() < slot.files(b).row_begin(); });
    int64_t next = 0;
    for (int index : order) {
      const CheckpointFile& file = slot.files(index);
      if (file.row_begin() != next) {
        return absl::DataLossError(absl::StrCat(
            where, ": file ", file.path(), " starts at row ", file.row_begin(),
            " but the slot's files before it end at row ", next, " (rows missing or repeated)"));
      }
      next += file.rows();
    }
    if (next != vocabulary_size) {
      return absl::DataLossError(
          absl::StrCat(where, ": the files hold ", next, " rows, the table has ", vocabulary_size));
    }
    return absl::OkStatus();
  }
  std::vector<bool> seen(n, false);
  for (const CheckpointFile& file : slot.files()) {
    if (file.row_stride() != n || file.row_begin() >= n || seen[file.row_begin()]) {
      return absl::DataLossError(
          absl::StrCat(where, ": file ", file.path(), " has row_begin ", file.row_begin(),
                       " and row_stride ", file.row_stride(), "; a strided slot needs ", n,
                       " files with row_stride ", n, " and distinct row_begin in [0, ", n, ")"));
    }
    seen[file.row_begin()] = true;
    const int64_t expected_rows =
        file.row_begin() < vocabulary_size ? (vocabulary_size - file.row_begin() + n - 1) / n : 0;
    if (file.rows() != expected_rows) {
      return absl::DataLossError(absl::StrCat(where, ": file ", file.path(), " has ", file.rows(),
                                              " rows, expected ", expected_rows));
    }
  }
  return absl::OkStatus();
}

// A field of the stored config (or of the manifest) outside [low, high] is INVALID_ARGUMENT
// naming the field and the value.
absl::Status CheckRange(absl::string_view path, absl::string_view field, int64_t value,
                        int64_t low, int64_t high) {
  if (value >= low && value <= high) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat("manifest ", path, ": ", field, " ", value,
                                                 " is not in [", low, ", ", high, "]"));
}

// The layout fields an engine built from the stored config would be sized by.
absl::Status ValidateStoredLayout(const CheckpointManifest& manifest, absl::string_view path) {
  const EmbeddingConfig& config = manifest.config();
  EMBRT_RETURN_IF_ERROR(CheckRange(path, "config.per_replica_batch_size",
                                   config.per_replica_batch_size(), 0, kMaxBatchSize));
  EMBRT_RETURN_IF_ERROR(
      CheckRange(path, "config.num_replicas", config.num_replicas(), 1, kMaxReplicas));
  // num_hosts 0: the writer took its host count from its backend (host_id then unset).
  EMBRT_RETURN_IF_ERROR(CheckRange(path, "config.num_hosts", config.num_hosts(), 0, kMaxHosts));
  EMBRT_RETURN_IF_ERROR(CheckRange(path, "config.host_id", config.host_id(), 0,
                                   std::max(config.num_hosts() - 1, 0)));
  EMBRT_RETURN_IF_ERROR(
      CheckRange(path, "config.tables (count)", config.tables_size(), 0, kMaxTables));
  EMBRT_RETURN_IF_ERROR(
      CheckRange(path, "config.features (count)", config.features_size(), 0, kMaxFeatures));
  if (manifest.has_num_hosts()) {
    EMBRT_RETURN_IF_ERROR(CheckRange(path, "num_hosts", manifest.num_hosts(), 1, kMaxHosts));
  }
  return absl::OkStatus();
}

}  // namespace

bool IsPlainFileName(absl::string_view name) {
  if (name.empty() || name.size() > 255 || name == "." || name == "..") return false;
  return std::all_of(name.begin(), name.end(), IsFileNameChar);
}

bool IsSafeRelativePath(absl::string_view path) {
  const size_t slash = path.find('/');
  if (slash == absl::string_view::npos) return IsPlainFileName(path);
  return IsPlainFileName(path.substr(0, slash)) && IsPlainFileName(path.substr(slash + 1));
}

uint64_t Xxh3Of(const void* data, size_t size) { return XXH3_64bits(data, size); }

std::string EncodeManifestFile(const CheckpointManifest& manifest) {
  const std::string payload = manifest.SerializeAsString();
  std::string bytes(kHeaderBytes, '\0');
  std::memcpy(bytes.data(), kMagic, sizeof(kMagic));
  PutUint64(payload.size(), bytes.data() + 8);
  PutUint64(Xxh3Of(payload.data(), payload.size()), bytes.data() + 16);
  bytes += payload;
  return bytes;
}

absl::StatusOr<CheckpointManifest> DecodeManifestFile(absl::string_view bytes,
                                                      absl::string_view path) {
  if (bytes.size() < kHeaderBytes || std::memcmp(bytes.data(), kMagic, sizeof(kMagic)) != 0) {
    return absl::DataLossError(
        absl::StrCat("manifest ", path, " is not an embrt checkpoint manifest (bad header)"));
  }
  const uint64_t payload_size = GetUint64(bytes.data() + 8);
  if (payload_size != bytes.size() - kHeaderBytes) {
    return absl::DataLossError(
        absl::StrCat("manifest ", path, " is truncated or padded: ", bytes.size() - kHeaderBytes,
                     " payload bytes, header says ", payload_size));
  }
  const absl::string_view payload = bytes.substr(kHeaderBytes);
  if (Xxh3Of(payload.data(), payload.size()) != GetUint64(bytes.data() + 16)) {
    return absl::DataLossError(absl::StrCat("manifest ", path, " is corrupt (checksum mismatch)"));
  }
  CheckpointManifest manifest;
  if (!manifest.ParseFromArray(payload.data(), static_cast<int>(payload.size()))) {
    return absl::DataLossError(absl::StrCat("manifest ", path, " cannot be parsed"));
  }
  return manifest;
}

absl::StatusOr<OptimizerKind> OptimizerKindFromName(absl::string_view name) {
  for (OptimizerKind kind :
       {OptimizerKind::kSgd, OptimizerKind::kAdagrad, OptimizerKind::kAdagradMomentum,
        OptimizerKind::kAdam, OptimizerKind::kFtrl}) {
    if (OptimizerKindName(kind) == name) return kind;
  }
  return absl::InvalidArgumentError(absl::StrCat("unknown optimizer \"", name, "\""));
}

absl::Status ValidateManifest(const CheckpointManifest& manifest, absl::string_view path) {
  if (manifest.format_version() != kCheckpointFormatVersion) {
    return absl::InvalidArgumentError(
        absl::StrCat("manifest ", path, " has format version ", manifest.format_version(),
                     "; this embrt reads version ", kCheckpointFormatVersion));
  }
  if (manifest.step() < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("manifest ", path, " has negative step ", manifest.step()));
  }
  EMBRT_RETURN_IF_ERROR(ValidateStoredLayout(manifest, path));
  if (manifest.tables_size() < 1 || manifest.tables_size() > kMaxTables) {
    return absl::InvalidArgumentError(
        absl::StrCat("manifest ", path, " has ", manifest.tables_size(), " tables"));
  }
  absl::flat_hash_set<absl::string_view> table_names;
  absl::flat_hash_set<absl::string_view> file_paths;
  for (int t = 0; t < manifest.tables_size(); ++t) {
    const CheckpointTable& table = manifest.tables(t);
    const std::string where =
        absl::StrCat("manifest ", path, ", table ", t, " \"", table.name().substr(0, 256), "\"");
    if (table.name().empty() || table.name().size() > 1024) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": bad table name"));
    }
    if (!table_names.insert(table.name()).second) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": duplicate table name"));
    }
    if (table.vocabulary_size() < 1 || table.vocabulary_size() > kMaxVocabularySize) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": vocabulary_size ",
                                                     table.vocabulary_size(), " is not in [1, ",
                                                     kMaxVocabularySize, "]"));
    }
    if (table.dim() < 1 || table.dim() > kMaxDim) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": dim ", table.dim(), " is not in [1, ", kMaxDim, "]"));
    }
    absl::StatusOr<OptimizerKind> kind = OptimizerKindFromName(table.optimizer());
    if (!kind.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": ", kind.status().message()));
    }
    const std::vector<std::string>& slot_names = SlotNames(*kind);
    if (table.slots_size() != static_cast<int>(slot_names.size())) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": optimizer ", table.optimizer(), " has ", slot_names.size(),
                       " slots, the manifest lists ", table.slots_size()));
    }
    for (int s = 0; s < table.slots_size(); ++s) {
      const CheckpointSlot& slot = table.slots(s);
      const std::string slot_where =
          absl::StrCat(where, ", slot \"", slot.name().substr(0, 64), "\"");
      if (slot.name() != slot_names[s]) {
        return absl::InvalidArgumentError(absl::StrCat(slot_where, ": expected slot ", s, " of ",
                                                       table.optimizer(), " to be \"",
                                                       slot_names[s], "\""));
      }
      if (slot.files_size() < 1 || slot.files_size() > kMaxFilesPerSlot) {
        return absl::InvalidArgumentError(
            absl::StrCat(slot_where, ": has ", slot.files_size(), " files"));
      }
      for (const CheckpointFile& file : slot.files()) {
        if (!IsSafeRelativePath(file.path())) {
          return absl::InvalidArgumentError(absl::StrCat(
              slot_where, ": file path \"", file.path().substr(0, 300),
              "\" is not \"dir/name\" of plain file names (no '..', no absolute paths)"));
        }
        if (!file_paths.insert(file.path()).second) {
          return absl::InvalidArgumentError(
              absl::StrCat(slot_where, ": file ", file.path(), " is listed twice"));
        }
        if (file.rows() < 0 || file.rows() > table.vocabulary_size() || file.row_begin() < 0 ||
            file.row_begin() > std::max<int64_t>(table.vocabulary_size(), kMaxFilesPerSlot) ||
            file.row_stride() < 1 || file.row_stride() > kMaxFilesPerSlot) {
          return absl::InvalidArgumentError(
              absl::StrCat(slot_where, ": file ", file.path(), " has rows ", file.rows(),
                           ", row_begin ", file.row_begin(), ", row_stride ", file.row_stride(),
                           " for a table of ", table.vocabulary_size(), " rows"));
        }
        const int64_t expected_bytes = file.rows() * table.dim() * int64_t{4};
        if (file.byte_size() != expected_bytes) {
          return absl::InvalidArgumentError(
              absl::StrCat(slot_where, ": file ", file.path(), " has byte_size ", file.byte_size(),
                           ", expected rows * dim * 4 = ", expected_bytes));
        }
        if (file.has_chunk_bytes() || file.chunk_xxh3_64_size() > 0) {
          // Absent together (an older writer) or consistent: every byte in exactly one chunk.
          if (file.chunk_bytes() < 1 ||
              file.chunk_xxh3_64_size() != ChunkCount(file.byte_size(), file.chunk_bytes())) {
            return absl::InvalidArgumentError(absl::StrCat(
                slot_where, ": file ", file.path(), " has ", file.chunk_xxh3_64_size(),
                " chunk checksums of chunk_bytes ", file.chunk_bytes(), " for byte_size ",
                file.byte_size()));
          }
        }
      }
      EMBRT_RETURN_IF_ERROR(CheckCoverage(slot, table.vocabulary_size(), slot_where));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckManifestCompatible(const CheckpointManifest& manifest,
                                     const ResolvedConfig& config, absl::string_view path) {
  std::vector<std::string> problems;
  absl::flat_hash_set<absl::string_view> engine_tables;
  for (const ResolvedTable& table : config.tables) {
    engine_tables.insert(table.name);
    const CheckpointTable* stored = nullptr;
    for (const CheckpointTable& candidate : manifest.tables()) {
      if (candidate.name() == table.name) stored = &candidate;
    }
    if (stored == nullptr) {
      problems.push_back(absl::StrCat("no table \"", table.name, "\""));
      continue;
    }
    if (stored->vocabulary_size() != table.vocabulary_size) {
      problems.push_back(absl::StrCat("table \"", table.name, "\" has vocabulary_size ",
                                      stored->vocabulary_size(), ", the engine's has ",
                                      table.vocabulary_size));
    }
    if (stored->dim() != table.dim) {
      problems.push_back(absl::StrCat("table \"", table.name, "\" has dim ", stored->dim(),
                                      ", the engine's has ", table.dim));
    }
    const absl::string_view engine_optimizer = OptimizerKindName(table.optimizer.kind);
    if (stored->optimizer() != engine_optimizer) {
      problems.push_back(absl::StrCat("table \"", table.name, "\" was trained with optimizer ",
                                      stored->optimizer(), ", the engine's uses ",
                                      engine_optimizer));
    }
  }
  for (const CheckpointTable& stored : manifest.tables()) {
    if (!engine_tables.contains(stored.name())) {
      problems.push_back(absl::StrCat("table \"", stored.name(), "\" is not in the engine"));
    }
  }
  if (problems.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "checkpoint ", path, " does not match the engine's config: ", absl::StrJoin(problems, "; ")));
}

}  // namespace internal
}  // namespace embrt
