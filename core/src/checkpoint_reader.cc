// Copyright embrt authors.
//
// Reading checkpoints: manifest checks, memory-mapped table files verified before use, rows
// mapped onto any host count and sharding, and RestoreCheckpoint (embrt/checkpoint.h).

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <numeric>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "checkpoint_checksums.h"
#include "checkpoint_hash.h"
#include "checkpoint_manifest.h"
#include "embrt/checkpoint.h"
#include "embrt/sharding.h"
#include "embrt/status_macros.h"
#include "posix_file.h"

namespace embrt {
namespace {

bool Exists(const std::string& path) {
  struct stat info;
  return ::lstat(path.c_str(), &info) == 0;
}

}  // namespace

absl::StatusOr<std::string> ResolveCheckpointPath(const std::string& path_or_root) {
  std::string path = path_or_root;
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  if (Exists(absl::StrCat(path, "/", internal::kManifestFileName))) return path;
  const std::string latest = absl::StrCat(path, "/", internal::kLatestFileName);
  if (!Exists(latest)) {
    return absl::NotFoundError(absl::StrCat("no checkpoint at ", path, ": it has neither ",
                                            internal::kManifestFileName, " nor ",
                                            internal::kLatestFileName));
  }
  absl::StatusOr<std::string> contents = internal::ReadSmallFile(latest, 4096);
  if (!contents.ok()) {
    return absl::DataLossError(
        absl::StrCat("cannot read ", latest, ": ", contents.status().message()));
  }
  const absl::string_view name = absl::StripAsciiWhitespace(*contents);
  if (!internal::IsPlainFileName(name)) {
    return absl::DataLossError(absl::StrCat(latest, " does not name a checkpoint directory: \"",
                                            name.substr(0, 100), "\""));
  }
  const std::string checkpoint = absl::StrCat(path, "/", name);
  struct stat info;
  if (::lstat(checkpoint.c_str(), &info) == 0 && !S_ISDIR(info.st_mode)) {
    return absl::DataLossError(absl::StrCat(latest, " names ", checkpoint,
                                            ", which is not a directory (symbolic links inside a "
                                            "checkpoint root are not followed)"));
  }
  if (!Exists(absl::StrCat(checkpoint, "/", internal::kManifestFileName))) {
    return absl::DataLossError(absl::StrCat(latest, " names ", checkpoint, ", which has no ",
                                            internal::kManifestFileName));
  }
  return checkpoint;
}

class CheckpointReader::Impl {
 public:
  struct File {
    internal::MappedFile map;
    std::string relative_path;
    int64_t byte_size = 0;
    uint64_t xxh3 = 0;
    int64_t chunk_bytes = 0;  // 0: no chunk checksums (an older writer)
    std::vector<uint64_t> chunk_xxh3;
    int64_t row_begin = 0;
    int64_t rows = 0;
    int64_t row_stride = 1;
  };
  struct Slot {
    std::vector<File> files;
    bool contiguous = true;
    // Contiguous: file indices by row_begin. Strided: file index for each row_begin.
    std::vector<int> file_order;
  };
  struct Table {
    int64_t vocabulary_size = 0;
    int32_t dim = 0;
    std::vector<Slot> slots;
  };

  std::string path;
  internal::UniqueFd dir;  // the checkpoint directory, to open files below it again
  CheckpointManifest manifest;
  std::vector<Table> tables;

  // Opens a table file again and checks its size on the new descriptor (a restore maps the
  // file from it, so every mapped byte exists).
  absl::StatusOr<internal::UniqueFd> Reopen(const File& file) const {
    const std::string display = absl::StrCat(path, "/", file.relative_path);
    absl::StatusOr<internal::UniqueFd> fd = internal::OpenBelow(dir.get(), file.relative_path,
                                                                display);
    if (!fd.ok()) {
      return absl::DataLossError(absl::StrCat("checkpoint file ", display,
                                              " is missing or unreadable: ",
                                              fd.status().message()));
    }
    struct stat info;
    if (::fstat(fd->get(), &info) != 0 || info.st_size != file.byte_size) {
      return absl::DataLossError(absl::StrCat("checkpoint file ", display,
                                              " changed size while being restored"));
    }
    return fd;
  }

  // What VerifyFiles needs to check `file`'s bytes at `data`.
  internal::FileToVerify ToVerify(const File& file, const unsigned char* data) const {
    internal::FileToVerify item;
    item.data = data;
    item.size = static_cast<size_t>(file.byte_size);
    item.xxh3 = file.xxh3;
    item.chunk_bytes = file.chunk_bytes;
    item.chunk_xxh3 = file.chunk_xxh3;
    item.display_path = absl::StrCat(path, "/", file.relative_path);
    return item;
  }

  // Every file's checksums, over the maps the rows are read from (several threads where the
  // files have chunk checksums).
  absl::Status VerifyMaps(int threads) const {
    std::vector<internal::FileToVerify> files;
    for (const Table& table : tables) {
      for (const Slot& slot : table.slots) {
        for (const File& file : slot.files) files.push_back(ToVerify(file, file.map.data()));
      }
    }
    return internal::VerifyFiles(files, threads);
  }

  // Pass one of a two-pass restore: every file still has the size it was mapped at, and its
  // checksums match (on `threads` threads, as VerifyMaps).
  absl::Status VerifyAll(int threads) const {
    for (const Table& table : tables) {
      for (const Slot& slot : table.slots) {
        for (const File& file : slot.files) EMBRT_RETURN_IF_ERROR(Reopen(file).status());
      }
    }
    return VerifyMaps(threads);
  }

  // The file holding global `row` and the row's index inside it.
  std::pair<const File*, int64_t> Locate(const Slot& slot, int64_t row) const {
    if (!slot.contiguous) {
      const int64_t n = static_cast<int64_t>(slot.files.size());
      return {&slot.files[slot.file_order[row % n]], row / n};
    }
    if (slot.files.size() == 1) return {&slot.files[0], row};
    // The last file (in row order) whose row_begin <= row and that holds rows.
    auto it = std::upper_bound(
        slot.file_order.begin(), slot.file_order.end(), row,
        [&](int64_t value, int index) { return value < slot.files[index].row_begin; });
    while (true) {
      const File& file = slot.files[*--it];
      if (row < file.row_begin + file.rows) return {&file, row - file.row_begin};
    }
  }

  const float* RowPointer(const File& file, int64_t index, int32_t dim) const {
    return reinterpret_cast<const float*>(file.map.data()) + index * dim;
  }
};

CheckpointReader::CheckpointReader(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
CheckpointReader::~CheckpointReader() = default;

const std::string& CheckpointReader::path() const { return impl_->path; }
const CheckpointManifest& CheckpointReader::manifest() const { return impl_->manifest; }

int CheckpointReader::FindTable(absl::string_view name) const {
  for (int t = 0; t < impl_->manifest.tables_size(); ++t) {
    if (impl_->manifest.tables(t).name() == name) return t;
  }
  return -1;
}

absl::StatusOr<std::unique_ptr<CheckpointReader>> CheckpointReader::Open(
    const std::string& path_or_root, Options options) {
  auto impl = std::make_unique<Impl>();
  EMBRT_ASSIGN_OR_RETURN(impl->path, ResolveCheckpointPath(path_or_root));
  const std::string manifest_path = absl::StrCat(impl->path, "/", internal::kManifestFileName);
  absl::StatusOr<std::string> bytes =
      internal::ReadSmallFile(manifest_path, internal::kMaxManifestBytes + 24);
  if (!bytes.ok()) {
    return absl::DataLossError(absl::StrCat("cannot read manifest: ", bytes.status().message()));
  }
  EMBRT_ASSIGN_OR_RETURN(impl->manifest, internal::DecodeManifestFile(*bytes, manifest_path));
  EMBRT_RETURN_IF_ERROR(internal::ValidateManifest(impl->manifest, manifest_path));

  impl->dir = internal::UniqueFd(
      ::open(impl->path.c_str(), O_RDONLY | O_DIRECTORY | O_NONBLOCK | O_CLOEXEC));
  const internal::UniqueFd& dir = impl->dir;
  if (!dir.valid()) {
    return internal::ErrnoStatus(errno, absl::StrCat("open directory ", impl->path));
  }
  for (const CheckpointTable& stored : impl->manifest.tables()) {
    Impl::Table& table = impl->tables.emplace_back();
    table.vocabulary_size = stored.vocabulary_size();
    table.dim = stored.dim();
    for (const CheckpointSlot& stored_slot : stored.slots()) {
      Impl::Slot& slot = table.slots.emplace_back();
      for (const CheckpointFile& entry : stored_slot.files()) {
        const std::string display = absl::StrCat(impl->path, "/", entry.path());
        absl::StatusOr<internal::UniqueFd> fd =
            internal::OpenBelow(dir.get(), entry.path(), display);
        if (!fd.ok()) {
          return absl::DataLossError(absl::StrCat(
              "checkpoint file ", display, " is missing or unreadable: ", fd.status().message()));
        }
        struct stat info;
        if (::fstat(fd->get(), &info) != 0) {
          return internal::ErrnoStatus(errno, absl::StrCat("stat ", display));
        }
        if (!S_ISREG(info.st_mode) || info.st_size != entry.byte_size()) {
          return absl::DataLossError(absl::StrCat("checkpoint file ", display, " is ", info.st_size,
                                                  " bytes, the manifest says ", entry.byte_size(),
                                                  " (truncated or replaced)"));
        }
        // Mapped only now that its size, checked on this descriptor, is the manifest's.
        EMBRT_ASSIGN_OR_RETURN(
            internal::MappedFile map,
            internal::MappedFile::Map(fd->get(), static_cast<size_t>(entry.byte_size()), display,
                                      /*populate=*/options.verify_checksums));
        Impl::File& file = slot.files.emplace_back();
        file.relative_path = entry.path();
        file.byte_size = entry.byte_size();
        file.xxh3 = entry.xxh3_64();
        file.chunk_bytes = entry.chunk_bytes();
        file.chunk_xxh3.assign(entry.chunk_xxh3_64().begin(), entry.chunk_xxh3_64().end());
        file.map = std::move(map);
        file.row_begin = entry.row_begin();
        file.rows = entry.rows();
        file.row_stride = entry.row_stride();

        slot.contiguous &= entry.row_stride() == 1;
      }
      const int n = static_cast<int>(slot.files.size());
      slot.file_order.resize(n);
      if (slot.contiguous) {
        std::iota(slot.file_order.begin(), slot.file_order.end(), 0);
        std::sort(slot.file_order.begin(), slot.file_order.end(),
                  [&](int a, int b) { return slot.files[a].row_begin < slot.files[b].row_begin; });
      } else {
        for (int f = 0; f < n; ++f) slot.file_order[slot.files[f].row_begin] = f;
      }
    }
  }
  if (options.verify_checksums) EMBRT_RETURN_IF_ERROR(impl->VerifyMaps(options.verify_threads));
  return std::unique_ptr<CheckpointReader>(new CheckpointReader(std::move(impl)));
}

absl::Status CheckpointReader::CheckCompatible(const ResolvedConfig& config) const {
  return internal::CheckManifestCompatible(impl_->manifest, config, impl_->path);
}

absl::Span<const float> CheckpointReader::Row(int table, int slot, int64_t row) const {
  const Impl::Table& t = impl_->tables[table];
  const auto [file, index] = impl_->Locate(t.slots[slot], row);
  return {impl_->RowPointer(*file, index, t.dim), static_cast<size_t>(t.dim)};
}

absl::Span<const float> CheckpointReader::ContiguousSlot(int table, int slot) const {
  const Impl::Table& t = impl_->tables[table];
  const Impl::Slot& s = t.slots[slot];
  if (s.files.size() != 1 || s.files[0].map.data() == nullptr) return {};
  return {reinterpret_cast<const float*>(s.files[0].map.data()),
          static_cast<size_t>(t.vocabulary_size) * t.dim};
}

absl::Status CheckpointReader::ReadShardRows(int table, int slot, int num_hosts, int host,
                                             Sharding sharding, int64_t local_row_begin,
                                             int64_t row_count, absl::Span<float> out) const {
  if (table < 0 || table >= num_tables() || slot < 0 ||
      slot >= static_cast<int>(impl_->tables[table].slots.size())) {
    return absl::InvalidArgumentError(
        absl::StrCat("checkpoint ", impl_->path, " has no table ", table, " slot ", slot));
  }
  const Impl::Table& t = impl_->tables[table];
  const Impl::Slot& s = t.slots[slot];
  if (num_hosts < 1 || host < 0 || host >= num_hosts) {
    return absl::InvalidArgumentError(absl::StrCat("host ", host, " of ", num_hosts));
  }
  const int64_t shard_rows = ShardRows(t.vocabulary_size, num_hosts, host);
  if (local_row_begin < 0 || row_count < 0 || local_row_begin > shard_rows - row_count ||
      out.size() != static_cast<size_t>(row_count) * t.dim) {
    return absl::InvalidArgumentError(
        absl::StrCat("rows [", local_row_begin, ", +", row_count, ") into ", out.size(),
                     " floats do not fit host ", host, "'s ", shard_rows, " rows of table \"",
                     impl_->manifest.tables(table).name(), "\" (dim ", t.dim, ")"));
  }
  float* destination = out.data();
  int64_t j = 0;
  while (j < row_count) {
    const int64_t row =
        GlobalRow(local_row_begin + j, t.vocabulary_size, num_hosts, host, sharding);
    const auto [file, index] = impl_->Locate(s, row);
    // DIV (or one host) makes consecutive local rows consecutive global rows: copy the run
    // that stays inside this file at once.
    int64_t run = 1;
    if ((sharding == DIV || num_hosts == 1) && file->row_stride == 1) {
      run = std::min(row_count - j, file->rows - index);
    }
    std::memcpy(destination, impl_->RowPointer(*file, index, t.dim),
                static_cast<size_t>(run) * t.dim * sizeof(float));
    destination += run * t.dim;
    j += run;
  }
  return absl::OkStatus();
}

Embedding::RowFiller CheckpointReader::MakeRowFiller(const ResolvedConfig& config) const {
  return [this, &config](int table, int64_t local_row_begin, int64_t row_count,
                         absl::Span<const absl::Span<float>> slots) -> absl::Status {
    if (table < 0 || table >= static_cast<int>(config.tables.size())) {
      return absl::InternalError(absl::StrCat("restore asked for table ", table));
    }
    const int stored = FindTable(config.tables[table].name);
    if (stored < 0 || slots.size() != impl_->tables[stored].slots.size()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "checkpoint ", impl_->path, " does not match table \"", config.tables[table].name, "\""));
    }
    const EmbeddingConfig& layout = config.config;
    for (size_t s = 0; s < slots.size(); ++s) {
      EMBRT_RETURN_IF_ERROR(ReadShardRows(stored, static_cast<int>(s), layout.num_hosts(),
                                          layout.host_id(), layout.sharding(), local_row_begin,
                                          row_count, slots[s]));
    }
    return absl::OkStatus();
  };
}

// Loads an engine from a checkpoint whose slots are single contiguous files, onto one host,
// without copying the data into a buffer first: each file is memory-mapped and
// Embedding::LoadTablesFrom hands the backend pointers into the map, a chunk of a few hundred
// KiB at a time. With `verify`, each chunk is hashed right after the backend copied it (at the
// next call, reading it from the L2 cache), except a file's last chunk, hashed before it is
// handed out: a file whose checksum does not match fails that call, before LoadTablesFrom
// returns. VerifyAll hashes every file through
// the same maps first, for a restore that must not load anything unverified.
//
// A file is mapped only after its size, checked on the descriptor it is mapped from, equals the
// manifest's byte size, so every mapped byte exists. A concurrent truncation of a checkpoint
// file by another process while it is restored would still raise SIGBUS; that is outside the
// threat model (README.md): embrt never changes a finished checkpoint's files in place (a save
// writes a new directory, deletion unlinks, which keeps a mapped file intact), and the
// serving reader maps the same files for its whole life under the same assumption.
class CheckpointReader::StreamingLoader {
 public:
  StreamingLoader(const CheckpointReader::Impl& impl, const ResolvedConfig& config, bool verify)
      : impl_(impl), config_(config), verify_(verify) {
    streams_.resize(impl.tables.size());
    for (size_t t = 0; t < impl.tables.size(); ++t) streams_[t].resize(impl.tables[t].slots.size());
  }

  // True when every table of `config` can be streamed: one host, one file per slot.
  static bool CanStream(const CheckpointReader& reader, const ResolvedConfig& config) {
    if (config.config.num_hosts() != 1) return false;
    for (const ResolvedTable& table : config.tables) {
      const int stored = reader.FindTable(table.name);
      if (stored < 0) return false;
      for (const Impl::Slot& slot : reader.impl_->tables[stored].slots) {
        if (slot.files.size() != 1 || slot.files[0].row_stride != 1) return false;
      }
    }
    return true;
  }

  // Verifies every file of every table of the config through its map on `threads` threads
  // (internal::VerifyFiles; pass one of two: the loads then read the same maps).
  absl::Status VerifyAll(int threads) {
    std::vector<internal::FileToVerify> files;
    for (const ResolvedTable& table : config_.tables) {
      const int stored = FindStored(table.name);
      const Impl::Table& t = impl_.tables[stored];
      for (size_t s = 0; s < t.slots.size(); ++s) {
        const Impl::File& file = t.slots[s].files[0];
        EMBRT_ASSIGN_OR_RETURN(const internal::MappedFile* map, MapOnce(streams_[stored][s], file));
        files.push_back(impl_.ToVerify(file, map->data()));
      }
    }
    return internal::VerifyFiles(files, threads);
  }

  // The Embedding::RowSource: points `slots` into the maps (hashing each piece with `verify`).
  absl::Status Source(int table, int64_t begin, int64_t count,
                      absl::Span<absl::Span<const float>> slots) {
    const int stored = table >= 0 && table < static_cast<int>(config_.tables.size())
                           ? FindStored(config_.tables[table].name)
                           : -1;
    if (stored < 0 || slots.size() != impl_.tables[stored].slots.size()) {
      return absl::InternalError(absl::StrCat("restore asked for table ", table));
    }
    const Impl::Table& t = impl_.tables[stored];
    for (size_t s = 0; s < slots.size(); ++s) {
      const Impl::File& file = t.slots[s].files[0];
      Stream& stream = streams_[stored][s];
      if (begin != stream.next_row || count < 0 || count > t.vocabulary_size - begin) {
        return absl::InternalError(absl::StrCat("restore asked for rows [", begin, ", +", count,
                                                ") of ", file.relative_path, " out of order"));
      }
      EMBRT_ASSIGN_OR_RETURN(const internal::MappedFile* map, MapOnce(stream, file));
      if (verify_ && stream.hash == nullptr) {
        stream.hash.reset(XXH3_createState());
        if (stream.hash == nullptr) return absl::ResourceExhaustedError("XXH3 state");
        XXH3_64bits_reset(stream.hash.get());
      }
      const float* rows = reinterpret_cast<const float*>(map->data()) + begin * t.dim;
      const size_t floats = static_cast<size_t>(count) * t.dim;
      slots[s] = absl::MakeConstSpan(rows, floats);
      stream.next_row += count;
      if (verify_) {
        // The piece handed out last time was copied by the backend since: hashing it now reads
        // it from the cache. The last piece of a file is hashed before it is handed out, so a
        // file that does not match its checksum fails this call and its load.
        HashPending(stream);
        stream.pending = reinterpret_cast<const unsigned char*>(rows);
        stream.pending_bytes = floats * sizeof(float);
        if (stream.next_row == t.vocabulary_size) {
          // Not copied yet, so not in the cache.
          internal::HashUncachedBytes(stream.hash.get(), stream.pending, stream.pending_bytes);
          stream.pending_bytes = 0;
          EMBRT_RETURN_IF_ERROR(CheckDigest(XXH3_64bits_digest(stream.hash.get()), file));
          stream.hash.reset();
        }
      }
    }
    return absl::OkStatus();
  }

  // Every file of every table of the config was read to its end.
  absl::Status Finish() const {
    for (const ResolvedTable& table : config_.tables) {
      const int stored = FindStored(table.name);
      for (const Stream& stream : streams_[stored]) {
        if (stream.next_row != impl_.tables[stored].vocabulary_size) {
          return absl::InternalError(absl::StrCat("restore of table \"", table.name,
                                                  "\" stopped at row ", stream.next_row));
        }
      }
    }
    return absl::OkStatus();
  }

 private:
  struct Stream {
    internal::MappedFile map;  // kept until the loader ends: the backend copies from it
    bool mapped = false;
    internal::Xxh3State hash;
    // With verify: the piece handed out last and not hashed yet.
    const unsigned char* pending = nullptr;
    size_t pending_bytes = 0;
    int64_t next_row = 0;
  };

  // Maps `file` on first use: opened again below the checkpoint directory (never following a
  // link, never blocking on a FIFO), its size checked on that descriptor, then mapped with
  // every page mapped at once (the whole file is about to be read, once or twice).
  absl::StatusOr<const internal::MappedFile*> MapOnce(Stream& stream, const Impl::File& file) {
    if (!stream.mapped) {
      EMBRT_ASSIGN_OR_RETURN(internal::UniqueFd fd, impl_.Reopen(file));
      EMBRT_ASSIGN_OR_RETURN(
          stream.map,
          internal::MappedFile::Map(fd.get(), static_cast<size_t>(file.byte_size),
                                    absl::StrCat(impl_.path, "/", file.relative_path),
                                    /*populate=*/true));
      stream.mapped = true;
    }
    return &stream.map;
  }

  static void HashPending(Stream& stream) {
    if (stream.pending_bytes > 0) {
      XXH3_64bits_update(stream.hash.get(), stream.pending, stream.pending_bytes);
    }
    stream.pending_bytes = 0;
  }

  absl::Status CheckDigest(uint64_t digest, const Impl::File& file) const {
    if (digest == file.xxh3) return absl::OkStatus();
    return absl::DataLossError(absl::StrCat("checkpoint file ", impl_.path, "/",
                                            file.relative_path,
                                            " is corrupt (XXH3-64 checksum mismatch)"));
  }

  int FindStored(const std::string& name) const {
    for (int t = 0; t < impl_.manifest.tables_size(); ++t) {
      if (impl_.manifest.tables(t).name() == name) return t;
    }
    return -1;
  }

  const CheckpointReader::Impl& impl_;
  const ResolvedConfig& config_;
  const bool verify_;
  std::vector<std::vector<Stream>> streams_;
};

absl::Status RestoreCheckpoint(Embedding& embedding, const std::string& path_or_root,
                               const RestoreOptions& restore_options) {
  // Sizes are checked at Open; checksums below, before the restore can be seen.
  CheckpointReader::Options options;
  options.verify_checksums = false;
  EMBRT_ASSIGN_OR_RETURN(std::unique_ptr<CheckpointReader> reader,
                         CheckpointReader::Open(path_or_root, options));
  const ResolvedConfig& config = embedding.config();
  EMBRT_RETURN_IF_ERROR(reader->CheckCompatible(config));
  const bool streamable = CheckpointReader::StreamingLoader::CanStream(*reader, config);
  // Before the tables were first initialized, a failed LoadTables changes nothing visible
  // (the initializers still run in full): the checksums can be verified while loading, in
  // one pass. Afterwards the tables hold values that a half-done load would destroy: verify
  // every file first, then load (two passes).
  const bool one_pass = streamable && !embedding.tables_initialized();
  if (streamable) {
    CheckpointReader::StreamingLoader loader(*reader->impl_, config, /*verify=*/one_pass);
    if (!one_pass) EMBRT_RETURN_IF_ERROR(loader.VerifyAll(restore_options.verify_threads));
    EMBRT_RETURN_IF_ERROR(embedding.LoadTablesFrom(
        [&loader](int table, int64_t begin, int64_t count,
                  absl::Span<absl::Span<const float>> slots) {
          return loader.Source(table, begin, count, slots);
        }));
    EMBRT_RETURN_IF_ERROR(loader.Finish());
  } else {
    EMBRT_RETURN_IF_ERROR(reader->impl_->VerifyAll(restore_options.verify_threads));
    EMBRT_RETURN_IF_ERROR(embedding.LoadTables(reader->MakeRowFiller(config)));
  }
  embedding.set_step(reader->step());
  return absl::OkStatus();
}

}  // namespace embrt
