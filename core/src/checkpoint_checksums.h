// Copyright embrt authors.
//
// Checksums of checkpoint table files (internal to the core). A writer records the XXH3-64 of
// each file's bytes and, in checkpoints written since the chunk fields exist (optional fields
// of format version 1), of each kChecksumChunkBytes chunk of it (checkpoint.proto). The
// whole-file checksum must be read in one sequential pass; the chunk checksums let a reader
// verify one file with several threads, which is what bounds a restore into a trained engine
// (every byte verified before the first row changes, then loaded).

#ifndef EMBRT_CORE_SRC_CHECKPOINT_CHECKSUMS_H_
#define EMBRT_CORE_SRC_CHECKPOINT_CHECKSUMS_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"

struct XXH3_state_s;

namespace embrt {
namespace internal {

// Owns an XXH3 state (XXH3_createState / XXH3_freeState).
struct Xxh3StateDeleter {
  void operator()(XXH3_state_s* state) const;
};
using Xxh3State = std::unique_ptr<XXH3_state_s, Xxh3StateDeleter>;

// The size of a checksummed chunk of a table file (the last chunk of a file may be shorter).
// 16 MiB: about a millisecond of hashing each, 512 bytes of checksums per GiB of table.
inline constexpr int64_t kChecksumChunkBytes = int64_t{16} << 20;

// The number of chunks of `chunk_bytes` (> 0) that cover `byte_size` bytes.
inline int64_t ChunkCount(int64_t byte_size, int64_t chunk_bytes) {
  return byte_size / chunk_bytes + (byte_size % chunk_bytes != 0 ? 1 : 0);
}

// Hashes one file's bytes as they are written, in order: the XXH3-64 of the whole file and of
// each kChecksumChunkBytes chunk. Pieces may cross chunk boundaries.
//
//   absl::StatusOr<FileHasher> hasher = FileHasher::Create();
//   hasher->Update(piece, size);  ...
//   uint64_t whole = hasher->FileDigest();
//   std::vector<uint64_t> chunks = hasher->TakeChunkDigests();
class FileHasher {
 public:
  // RESOURCE_EXHAUSTED when the hash states cannot be allocated.
  static absl::StatusOr<FileHasher> Create();

  FileHasher(FileHasher&&) noexcept;
  FileHasher& operator=(FileHasher&&) noexcept;
  ~FileHasher();

  // Adds the next `size` bytes of the file.
  void Update(const void* data, size_t size);
  // Bytes added so far.
  int64_t bytes() const { return bytes_; }
  // The XXH3-64 of every byte added so far.
  uint64_t FileDigest() const;
  // The chunk checksums of every byte added so far (the last chunk ends where the bytes do);
  // the hasher is then spent.
  std::vector<uint64_t> TakeChunkDigests();

 private:
  FileHasher(Xxh3State file, Xxh3State chunk);

  Xxh3State file_;
  Xxh3State chunk_;
  int64_t bytes_ = 0;
  std::vector<uint64_t> chunk_digests_;
};

// One table file to verify: its bytes (a memory map) and the checksums its manifest entry
// gives.
struct FileToVerify {
  const unsigned char* data = nullptr;
  size_t size = 0;
  uint64_t xxh3 = 0;  // of the whole file
  // 0: the entry has no chunk checksums (a checkpoint written before them); the whole file is
  // then hashed in one pass.
  int64_t chunk_bytes = 0;
  absl::Span<const uint64_t> chunk_xxh3;  // ChunkCount(size, chunk_bytes) values
  std::string display_path;               // for errors
};

// Verifies every byte of every file: chunk by chunk where the entry has chunk checksums
// (spread over up to `threads` threads), whole otherwise (one thread per file). DATA_LOSS
// names the first mismatch in file and chunk order, whatever the thread count; the
// chunks after a found mismatch may be skipped. `threads` < 1 means DefaultVerifyThreads().
absl::Status VerifyFiles(absl::Span<const FileToVerify> files, int threads = 0);

// The threads VerifyFiles uses by default: the CPUs this process may run on, at most 8.
int DefaultVerifyThreads();

}  // namespace internal
}  // namespace embrt

#endif  // EMBRT_CORE_SRC_CHECKPOINT_CHECKSUMS_H_
