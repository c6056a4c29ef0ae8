// Copyright embrt authors.
//
// Writing checkpoints: files in a temporary directory, fsynced, renamed into place, then the
// `latest` pointer replaced atomically, then old checkpoints deleted (embrt/checkpoint.h).

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "checkpoint_checksums.h"
#include "checkpoint_manifest.h"
#include "embrt/checkpoint.h"
#include "embrt/sharding.h"
#include "embrt/status_macros.h"
#include "google/protobuf/text_format.h"
#include "posix_file.h"

namespace embrt {
namespace {

using internal::ErrnoStatus;
using internal::UniqueFd;

// Files are written in pieces of at most this size that never cross a multiple of it in the
// file, each hashed right after its write (it is still in the cache). Where the file system
// keeps large folios in the page cache (ext4 from Linux 6.16), an aligned 2 MiB write fills one
// 2 MiB folio, and a restore maps it with one page-table entry instead of 512 (populating and
// unmapping a 1 GiB map then take about 2 ms instead of about 40, and reading it misses the
// TLB far less).
constexpr size_t kWritePieceBytes = size_t{2} << 20;

// One slot file being written.
struct SlotFile {
  std::string relative_path;
  std::string path;
  UniqueFd fd;
  std::optional<internal::FileHasher> hasher;
  int64_t next_row = 0;  // rows arrive in order: the hashes are computed while writing
  bool in_order = true;  // otherwise they are computed from the file afterwards
  int64_t rows_written = 0;
  uint64_t checksum = 0;
  std::vector<uint64_t> chunk_checksums;  // of each internal::kChecksumChunkBytes
};

struct TableFiles {
  std::string directory;  // relative to the checkpoint directory
  int64_t rows = 0;
  int32_t dim = 0;
  std::vector<SlotFile> slots;
};

// Directory names for the tables: the table's name where it is a plain file name, otherwise
// (or on a clash) "table-<index>" made unique.
std::vector<std::string> TableDirectories(const ResolvedConfig& config) {
  std::vector<std::string> names;
  // The manifests live beside the table directories.
  absl::flat_hash_set<std::string> used = {internal::kManifestFileName,
                                           internal::kTextManifestFileName};
  for (size_t t = 0; t < config.tables.size(); ++t) {
    std::string name = config.tables[t].name;
    if (!internal::IsPlainFileName(name) || absl::StartsWith(name, ".") || used.contains(name)) {
      name = absl::StrCat("table-", t);
      while (used.contains(name)) name += "_";
    }
    used.insert(name);
    names.push_back(std::move(name));
  }
  return names;
}

absl::Status ComputeChecksumsFromFile(SlotFile& file, int64_t bytes) {
  EMBRT_ASSIGN_OR_RETURN(internal::FileHasher hasher, internal::FileHasher::Create());
  std::vector<char> buffer(size_t{4} << 20);
  for (int64_t offset = 0; offset < bytes;) {
    const size_t chunk = static_cast<size_t>(std::min<int64_t>(buffer.size(), bytes - offset));
    EMBRT_RETURN_IF_ERROR(
        internal::PreadAll(file.fd.get(), buffer.data(), chunk, offset, file.path));
    hasher.Update(buffer.data(), chunk);
    offset += static_cast<int64_t>(chunk);
  }
  file.checksum = hasher.FileDigest();
  file.chunk_checksums = hasher.TakeChunkDigests();
  return absl::OkStatus();
}

// Records `file`'s checksums in its manifest entry.
void SetChecksums(const SlotFile& file, CheckpointFile* entry) {
  entry->set_xxh3_64(file.checksum);
  entry->set_chunk_bytes(internal::kChecksumChunkBytes);
  for (uint64_t checksum : file.chunk_checksums) entry->add_chunk_xxh3_64(checksum);
}

// The table directories inside checkpoint directory `dir` (one writer creates them).
absl::Status CreateTableDirectories(const std::string& dir, const ResolvedConfig& config) {
  for (const std::string& name : TableDirectories(config)) {
    const std::string table_dir = absl::StrCat(dir, "/", name);
    if (::mkdir(table_dir.c_str(), 0755) != 0) {
      return ErrnoStatus(errno, absl::StrCat("create directory ", table_dir));
    }
  }
  return absl::OkStatus();
}

// Which rows of every table one writer stores: all of them (one host), or host `host_id`'s
// shard of `num_hosts` as one file per slot (DIV: contiguous, MOD: strided; checkpoint.proto).
struct ShardPart {
  int num_hosts = 1;
  int host_id = 0;
  Sharding sharding = DIV;

  std::string FileName(const std::string& slot) const {
    if (num_hosts == 1) return absl::StrCat(slot, ".f32");
    return absl::StrCat(slot, ".shard-", host_id, "-of-", num_hosts, ".f32");
  }
  // The manifest entry of this part's file of a table (checksum aside).
  CheckpointFile Entry(const std::string& directory, const std::string& slot,
                       int64_t vocabulary_size, int32_t dim) const {
    CheckpointFile entry;
    entry.set_path(absl::StrCat(directory, "/", FileName(slot)));
    const int64_t rows = ShardRows(vocabulary_size, num_hosts, host_id);
    entry.set_rows(rows);
    if (num_hosts == 1 || sharding == DIV) {
      entry.set_row_begin(num_hosts == 1 ? 0 : GlobalRow(0, vocabulary_size, num_hosts, host_id, DIV));
      entry.set_row_stride(1);
    } else {
      entry.set_row_begin(host_id);
      entry.set_row_stride(num_hosts);
    }
    entry.set_byte_size(rows * dim * int64_t{4});
    return entry;
  }
};

// Writes this part's file of every table and slot into `dir` (whose table directories exist)
// and makes them durable; `entries[t][s]` receives each file's manifest entry.
absl::Status WriteShardFiles(const std::string& dir, const ResolvedConfig& config,
                             const RetrieveTablesFunction& retrieve, const ShardPart& part,
                             std::vector<std::vector<CheckpointFile>>* entries) {
  const std::vector<std::string> directories = TableDirectories(config);
  std::vector<TableFiles> tables(config.tables.size());
  for (size_t t = 0; t < config.tables.size(); ++t) {
    const ResolvedTable& table = config.tables[t];
    TableFiles& files = tables[t];
    files.directory = directories[t];
    files.rows = ShardRows(table.vocabulary_size, part.num_hosts, part.host_id);
    files.dim = table.dim;
    for (const std::string& slot_name : SlotNames(table.optimizer.kind)) {
      SlotFile file;
      file.relative_path = absl::StrCat(files.directory, "/", part.FileName(slot_name));
      file.path = absl::StrCat(dir, "/", file.relative_path);
      file.fd = UniqueFd(::open(file.path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
      if (!file.fd.valid()) return ErrnoStatus(errno, absl::StrCat("create ", file.path));
      EMBRT_ASSIGN_OR_RETURN(internal::FileHasher hasher, internal::FileHasher::Create());
      file.hasher.emplace(std::move(hasher));
      files.slots.push_back(std::move(file));
    }
  }

  const Embedding::RowSink sink =
      [&](int table, int64_t local_row_begin, int64_t row_count,
          absl::Span<const absl::Span<const float>> slots) -> absl::Status {
    if (table < 0 || table >= static_cast<int>(tables.size())) {
      return absl::InternalError(
          absl::StrCat("checkpoint writer got rows of table ", table, " of ", tables.size()));
    }
    TableFiles& files = tables[table];
    if (slots.size() != files.slots.size() || local_row_begin < 0 || row_count < 0 ||
        local_row_begin > files.rows - row_count) {
      return absl::InternalError(
          absl::StrCat("checkpoint writer got ", slots.size(), " slots of rows [", local_row_begin,
                       ", +", row_count, ") of table \"", config.tables[table].name, "\" (",
                       files.slots.size(), " slots, ", files.rows, " rows)"));
    }
    const size_t floats = static_cast<size_t>(row_count) * files.dim;
    for (size_t s = 0; s < slots.size(); ++s) {
      SlotFile& file = files.slots[s];
      if (slots[s].size() != floats) {
        return absl::InternalError(absl::StrCat("checkpoint writer got ", slots[s].size(),
                                                " floats for ", row_count, " rows of ",
                                                file.relative_path));
      }
      const size_t bytes = floats * sizeof(float);
      const int64_t offset = local_row_begin * files.dim * int64_t{4};
      const bool hash_now = file.in_order && local_row_begin == file.next_row;
      // Written and hashed in aligned pieces (kWritePieceBytes), each hashed right after the
      // write has pulled it into the cache: every byte leaves memory once.
      const char* data = reinterpret_cast<const char*>(slots[s].data());
      for (size_t done = 0; done < bytes;) {
        const size_t to_boundary =
            kWritePieceBytes - static_cast<size_t>(offset + static_cast<int64_t>(done)) %
                                   kWritePieceBytes;
        const size_t piece = std::min(to_boundary, bytes - done);
        EMBRT_RETURN_IF_ERROR(internal::PwriteAll(file.fd.get(), data + done, piece,
                                                  offset + static_cast<int64_t>(done),
                                                  file.path));
        if (hash_now) file.hasher->Update(data + done, piece);
        done += piece;
      }
      // Start the disk on these bytes now, so the final fsync has little left to wait for.
      ::sync_file_range(file.fd.get(), offset, static_cast<off64_t>(bytes),
                        SYNC_FILE_RANGE_WRITE);
      if (hash_now) {
        file.next_row += row_count;
      } else {
        file.in_order = false;
      }
      file.rows_written += row_count;
    }
    return absl::OkStatus();
  };
  EMBRT_RETURN_IF_ERROR(retrieve(sink));

  entries->assign(tables.size(), {});
  for (size_t t = 0; t < tables.size(); ++t) {
    TableFiles& files = tables[t];
    const ResolvedTable& table = config.tables[t];
    const std::vector<std::string>& slot_names = SlotNames(table.optimizer.kind);
    const int64_t bytes = files.rows * files.dim * int64_t{4};
    for (size_t s = 0; s < files.slots.size(); ++s) {
      SlotFile& file = files.slots[s];
      if (file.rows_written != files.rows || (file.in_order && file.next_row != files.rows)) {
        return absl::InternalError(absl::StrCat("the backend returned ", file.rows_written, " of ",
                                                files.rows, " rows of ", file.relative_path));
      }
      if (file.in_order) {
        file.checksum = file.hasher->FileDigest();
        file.chunk_checksums = file.hasher->TakeChunkDigests();
      } else {
        EMBRT_RETURN_IF_ERROR(ComputeChecksumsFromFile(file, bytes));
      }
      EMBRT_RETURN_IF_ERROR(internal::FsyncFd(file.fd.get(), file.path));
      EMBRT_RETURN_IF_ERROR(file.fd.Close(file.path));
      CheckpointFile entry =
          part.Entry(files.directory, slot_names[s], table.vocabulary_size, table.dim);
      SetChecksums(file, &entry);
      (*entries)[t].push_back(std::move(entry));
    }
    EMBRT_RETURN_IF_ERROR(internal::FsyncDirectory(absl::StrCat(dir, "/", files.directory)));
  }
  return absl::OkStatus();
}

// Writes the manifest of a checkpoint whose files are `files[t][s]` (every writer's file of
// table t, slot s) into `dir` and makes the directory durable.
absl::Status WriteManifest(const std::string& dir, const ResolvedConfig& config, int64_t step,
                           const CheckpointOptions& options,
                           const std::vector<std::vector<std::vector<CheckpointFile>>>& files) {
  CheckpointManifest manifest;
  manifest.set_format_version(kCheckpointFormatVersion);
  *manifest.mutable_config() = config.config;
  manifest.set_step(step);
  manifest.set_created_by(options.created_by.empty() ? "embrt" : options.created_by);
  manifest.set_created_unix_micros(std::chrono::duration_cast<std::chrono::microseconds>(
                                       std::chrono::system_clock::now().time_since_epoch())
                                       .count());
  manifest.set_num_hosts(config.config.num_hosts());
  manifest.set_sharding(config.config.sharding());
  for (size_t t = 0; t < config.tables.size(); ++t) {
    const ResolvedTable& table = config.tables[t];
    CheckpointTable* stored = manifest.add_tables();
    stored->set_name(table.name);
    stored->set_vocabulary_size(table.vocabulary_size);
    stored->set_dim(table.dim);
    stored->set_optimizer(std::string(OptimizerKindName(table.optimizer.kind)));
    const std::vector<std::string>& slot_names = SlotNames(table.optimizer.kind);
    for (size_t s = 0; s < slot_names.size(); ++s) {
      CheckpointSlot* slot = stored->add_slots();
      slot->set_name(slot_names[s]);
      for (const CheckpointFile& file : files[t][s]) *slot->add_files() = file;
    }
  }
  // What readers check, checked before it is written (other hosts' checksums included).
  const absl::Status valid = internal::ValidateManifest(manifest, dir);
  if (!valid.ok()) {
    return absl::InternalError(absl::StrCat("the checkpoint writer assembled a manifest that no "
                                            "reader would accept: ", valid.message()));
  }
  EMBRT_RETURN_IF_ERROR(internal::WriteNewFileDurably(
      absl::StrCat(dir, "/", internal::kManifestFileName), internal::EncodeManifestFile(manifest)));
  if (options.write_text_manifest) {
    std::string text;
    google::protobuf::TextFormat::PrintToString(manifest, &text);
    EMBRT_RETURN_IF_ERROR(internal::WriteNewFileDurably(
        absl::StrCat(dir, "/", internal::kTextManifestFileName), text));
  }
  return internal::FsyncDirectory(dir);
}

absl::StatusOr<std::vector<std::string>> ListDirectory(const std::string& path) {
  DIR* dir = ::opendir(path.c_str());
  if (dir == nullptr) return ErrnoStatus(errno, absl::StrCat("open directory ", path));
  std::vector<std::string> names;
  while (const dirent* entry = ::readdir(dir)) {
    const absl::string_view name = entry->d_name;
    if (name != "." && name != "..") names.emplace_back(name);
  }
  ::closedir(dir);
  return names;
}

// Removes root/.tmp-*-<pid> left by writers that died (best effort).
void RemoveStaleTemporaries(const std::string& root) {
  absl::StatusOr<std::vector<std::string>> names = ListDirectory(root);
  if (!names.ok()) return;
  for (const std::string& name : *names) {
    if (!absl::StartsWith(name, internal::kTemporaryPrefix)) continue;
    int pid = 0;
    const size_t dash = name.rfind('-');
    if (dash == std::string::npos || !absl::SimpleAtoi(name.substr(dash + 1), &pid) || pid <= 0 ||
        pid == ::getpid()) {
      continue;
    }
    if (::kill(pid, 0) != 0 && errno == ESRCH) {
      internal::RemoveTree(absl::StrCat(root, "/", name)).IgnoreError();
    }
  }
}

// Deletes checkpoints beyond the newest `keep_last` by step, never `keep_name` (best effort:
// the new checkpoint is complete already; a later save retries).
void DeleteOldCheckpoints(const std::string& root, int keep_last, const std::string& keep_name) {
  absl::StatusOr<std::vector<std::string>> names = ListDirectory(root);
  if (!names.ok()) return;
  std::vector<std::pair<int64_t, std::string>> checkpoints;
  for (const std::string& name : *names) {
    int64_t step = 0;
    if (absl::StartsWith(name, internal::kCheckpointPrefix) &&
        absl::SimpleAtoi(name.substr(sizeof(internal::kCheckpointPrefix) - 1), &step)) {
      checkpoints.emplace_back(step, name);
    }
  }
  std::sort(checkpoints.rbegin(), checkpoints.rend());
  int kept = 0;
  for (const auto& [step, name] : checkpoints) {
    if (name == keep_name || kept < keep_last - 1) {
      if (name != keep_name) ++kept;
      continue;
    }
    // Out of the way first, so a crash mid-deletion never leaves a half checkpoint behind
    // under a checkpoint's name.
    const std::string doomed =
        absl::StrCat(root, "/", internal::kTemporaryPrefix, "delete-", name, "-", ::getpid());
    if (::rename(absl::StrCat(root, "/", name).c_str(), doomed.c_str()) == 0) {
      internal::RemoveTree(doomed).IgnoreError();
    }
  }
  internal::FsyncDirectory(root).IgnoreError();
}

absl::Status CreateDirectories(const std::string& path) {
  if (path.empty()) return absl::InvalidArgumentError("empty checkpoint root directory");
  for (size_t slash = path.find('/', 1);; slash = path.find('/', slash + 1)) {
    const std::string prefix = path.substr(0, slash);
    if (::mkdir(prefix.c_str(), 0755) != 0 && errno != EEXIST) {
      return ErrnoStatus(errno, absl::StrCat("create directory ", prefix));
    }
    if (slash == std::string::npos) break;
  }
  struct stat info;
  if (::stat(path.c_str(), &info) != 0 || !S_ISDIR(info.st_mode)) {
    return absl::InvalidArgumentError(
        absl::StrCat("checkpoint root ", path, " is not a directory"));
  }
  return absl::OkStatus();
}

absl::Status ExistsError(const std::string& final_path) {
  return absl::AlreadyExistsError(
      absl::StrCat("checkpoint ", final_path,
                   " exists already; a checkpoint is never overwritten (remove it first)"));
}

// Moves the complete checkpoint `temporary` to `final_path`, which must not exist.
absl::Status MoveIntoPlace(const std::string& temporary, const std::string& final_path) {
  if (::renameat2(AT_FDCWD, temporary.c_str(), AT_FDCWD, final_path.c_str(), RENAME_NOREPLACE) ==
      0) {
    return absl::OkStatus();
  }
  if (errno == EEXIST) return ExistsError(final_path);
  if (errno != EINVAL && errno != ENOSYS) {
    return ErrnoStatus(errno, absl::StrCat("rename ", temporary, " to ", final_path));
  }
  // A file system without RENAME_NOREPLACE: rename(2) would replace an empty directory only,
  // and a checkpoint is never empty.
  struct stat info;
  if (::lstat(final_path.c_str(), &info) == 0) return ExistsError(final_path);
  if (::rename(temporary.c_str(), final_path.c_str()) != 0) {
    if (errno == EEXIST || errno == ENOTEMPTY) return ExistsError(final_path);
    return ErrnoStatus(errno, absl::StrCat("rename ", temporary, " to ", final_path));
  }
  return absl::OkStatus();
}

// Moves the complete checkpoint `temporary` into place as root/name, points `latest` at it and
// deletes old checkpoints.
absl::Status Publish(const std::string& root, const std::string& temporary,
                     const std::string& name, const CheckpointOptions& options) {
  absl::Status moved = MoveIntoPlace(temporary, absl::StrCat(root, "/", name));
  if (moved.ok()) moved = internal::FsyncDirectory(root);
  if (!moved.ok()) {
    internal::RemoveTree(temporary).IgnoreError();
    return moved;
  }

  const std::string latest_temporary =
      absl::StrCat(root, "/", internal::kTemporaryPrefix, "latest-", ::getpid());
  EMBRT_RETURN_IF_ERROR(internal::RemoveTree(latest_temporary));
  EMBRT_RETURN_IF_ERROR(internal::WriteNewFileDurably(latest_temporary, name + "\n"));
  const std::string latest = absl::StrCat(root, "/", internal::kLatestFileName);
  if (::rename(latest_temporary.c_str(), latest.c_str()) != 0) {
    return ErrnoStatus(errno, absl::StrCat("rename ", latest_temporary, " to ", latest));
  }
  EMBRT_RETURN_IF_ERROR(internal::FsyncDirectory(root));

  if (options.keep_last > 0) DeleteOldCheckpoints(root, options.keep_last, name);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::string> WriteCheckpoint(const ResolvedConfig& config, int64_t step,
                                            const RetrieveTablesFunction& retrieve,
                                            const std::string& root_dir,
                                            const CheckpointOptions& options) {
  if (config.config.num_hosts() != 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "WriteCheckpoint writes one host's tables; a multi-host engine (num_hosts ",
        config.config.num_hosts(), ") is saved by SaveCheckpoint, which writes every host's shard"));
  }
  if (step < 0) return absl::InvalidArgumentError(absl::StrCat("negative step ", step));
  std::string root = root_dir;
  while (root.size() > 1 && root.back() == '/') root.pop_back();
  EMBRT_RETURN_IF_ERROR(CreateDirectories(root));
  if (options.remove_stale_temporaries) RemoveStaleTemporaries(root);

  const std::string name = absl::StrCat(internal::kCheckpointPrefix, step);
  struct stat info;
  if (::lstat(absl::StrCat(root, "/", name).c_str(), &info) == 0) {
    return ExistsError(absl::StrCat(root, "/", name));
  }
  const std::string temporary =
      absl::StrCat(root, "/", internal::kTemporaryPrefix, name, "-", ::getpid());
  EMBRT_RETURN_IF_ERROR(internal::RemoveTree(temporary));
  if (::mkdir(temporary.c_str(), 0755) != 0) {
    return ErrnoStatus(errno, absl::StrCat("create directory ", temporary));
  }
  std::vector<std::vector<CheckpointFile>> entries;
  absl::Status written = CreateTableDirectories(temporary, config);
  if (written.ok()) written = WriteShardFiles(temporary, config, retrieve, ShardPart{}, &entries);
  if (written.ok()) {
    std::vector<std::vector<std::vector<CheckpointFile>>> files(entries.size());
    for (size_t t = 0; t < entries.size(); ++t) {
      for (CheckpointFile& entry : entries[t]) files[t].push_back({std::move(entry)});
    }
    written = WriteManifest(temporary, config, step, options, files);
  }
  if (!written.ok()) {
    internal::RemoveTree(temporary).IgnoreError();
    return written;
  }
  EMBRT_RETURN_IF_ERROR(Publish(root, temporary, name, options));
  return absl::StrCat(root, "/", name);
}

namespace {

// SaveCheckpoint of a multi-host engine; every host calls it. Host 0 creates the temporary
// directory, every host writes its shard files into it, then (after a barrier) host 0 writes
// the one manifest with every host's checksums, moves the checkpoint into place and updates
// `latest`. Until that rename the previous checkpoint is untouched, whichever host fails or
// dies. Every step ends in a status agreement, so all hosts return the same result.
absl::StatusOr<std::string> SaveOnEveryHost(Embedding& embedding, const std::string& root_dir,
                                            const CheckpointOptions& options) {
  const ResolvedConfig& config = embedding.config();
  const int hosts = config.config.num_hosts();
  const int host = config.config.host_id();
  const int64_t step = embedding.step();
  std::string root = root_dir;
  while (root.size() > 1 && root.back() == '/') root.pop_back();
  const std::string name = absl::StrCat(internal::kCheckpointPrefix, step);
  // 1. Host 0 makes the temporary directory; every host learns its name (host 0's pid).
  absl::Status local;
  if (host == 0) {
    local = CreateDirectories(root);
    if (local.ok() && options.remove_stale_temporaries) RemoveStaleTemporaries(root);
    struct stat info;
    if (local.ok() && ::lstat(absl::StrCat(root, "/", name).c_str(), &info) == 0) {
      local = ExistsError(absl::StrCat(root, "/", name));  // before any host writes a byte
    }
  }
  const std::string pid = absl::StrCat(::getpid());
  EMBRT_ASSIGN_OR_RETURN(std::vector<std::string> pids, embedding.AllGatherFromHosts(pid));
  const std::string temporary =
      absl::StrCat(root, "/", internal::kTemporaryPrefix, name, "-", pids[0]);
  if (host == 0 && local.ok()) {
    local = internal::RemoveTree(temporary);
    if (local.ok() && ::mkdir(temporary.c_str(), 0755) != 0) {
      local = ErrnoStatus(errno, absl::StrCat("create directory ", temporary));
    }
    if (local.ok()) local = CreateTableDirectories(temporary, config);
  }
  EMBRT_RETURN_IF_ERROR(embedding.AgreeOnStatus(local));
  // 2. Every host writes its shard.
  const ShardPart part{hosts, host, config.config.sharding()};
  std::vector<std::vector<CheckpointFile>> entries;
  local = WriteShardFiles(
      temporary, config,
      [&embedding](const Embedding::RowSink& sink) { return embedding.RetrieveTables(sink); },
      part, &entries);
  // Host 0 writes the manifest: it needs every host's checksums, in table and slot order
  // (the rest of each entry it can work out itself).
  CheckpointSlot checksums;
  for (const auto& table : entries) {
    for (const CheckpointFile& file : table) {
      CheckpointFile* sums = checksums.add_files();
      sums->set_xxh3_64(file.xxh3_64());
      sums->set_chunk_bytes(file.chunk_bytes());
      *sums->mutable_chunk_xxh3_64() = file.chunk_xxh3_64();
    }
  }
  absl::Status agreed = embedding.AgreeOnStatus(local);
  if (!agreed.ok()) {
    if (host == 0) internal::RemoveTree(temporary).IgnoreError();
    return agreed;
  }
  EMBRT_ASSIGN_OR_RETURN(std::vector<std::string> all_checksums,
                         embedding.AllGatherFromHosts(checksums.SerializeAsString()));
  EMBRT_RETURN_IF_ERROR(embedding.HostBarrier());
  // 3. Host 0: the manifest of every host's files, then the rename and `latest`.
  if (host == 0) {
    std::vector<std::vector<std::vector<CheckpointFile>>> files(config.tables.size());
    const std::vector<std::string> directories = TableDirectories(config);
    for (size_t t = 0; t < config.tables.size(); ++t) {
      const ResolvedTable& table = config.tables[t];
      const std::vector<std::string>& slot_names = SlotNames(table.optimizer.kind);
      files[t].resize(slot_names.size());
    }
    for (int h = 0; h < hosts && local.ok(); ++h) {
      const ShardPart other{hosts, h, config.config.sharding()};
      CheckpointSlot sums;
      if (!sums.ParseFromString(all_checksums[h])) {
        local = absl::InternalError(absl::StrCat("host ", h, " sent unreadable checksums"));
        break;
      }
      int k = 0;
      for (size_t t = 0; t < config.tables.size(); ++t) {
        const ResolvedTable& table = config.tables[t];
        const std::vector<std::string>& slot_names = SlotNames(table.optimizer.kind);
        for (size_t s = 0; s < slot_names.size(); ++s, ++k) {
          CheckpointFile entry =
              other.Entry(directories[t], slot_names[s], table.vocabulary_size, table.dim);
          if (k >= sums.files_size()) {
            local = absl::InternalError(absl::StrCat("host ", h, " sent too few checksums"));
            break;
          }
          const CheckpointFile& from_host = sums.files(k);
          entry.set_xxh3_64(from_host.xxh3_64());
          entry.set_chunk_bytes(from_host.chunk_bytes());
          *entry.mutable_chunk_xxh3_64() = from_host.chunk_xxh3_64();
          files[t][s].push_back(std::move(entry));
        }
      }
    }
    if (local.ok()) local = WriteManifest(temporary, config, step, options, files);
    if (local.ok()) {
      local = Publish(root, temporary, name, options);
    } else {
      internal::RemoveTree(temporary).IgnoreError();
    }
  }
  EMBRT_RETURN_IF_ERROR(embedding.AgreeOnStatus(local));
  return absl::StrCat(root, "/", name);
}

}  // namespace

absl::StatusOr<std::string> SaveCheckpoint(Embedding& embedding, const std::string& root_dir,
                                           const CheckpointOptions& options) {
  CheckpointOptions effective = options;
  if (effective.created_by.empty()) {
    effective.created_by = absl::StrCat("embrt (backend ", embedding.backend().path, ")");
  }
  if (embedding.config().config.num_hosts() > 1) {
    return SaveOnEveryHost(embedding, root_dir, effective);
  }
  return WriteCheckpoint(
      embedding.config(), embedding.step(),
      [&embedding](const Embedding::RowSink& sink) { return embedding.RetrieveTables(sink); },
      root_dir, effective);
}

}  // namespace embrt
