// Copyright embrt authors.

#include "checkpoint_checksums.h"

#include <sched.h>

#include <algorithm>
#include <atomic>
#include <exception>
#include <limits>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "checkpoint_hash.h"

namespace embrt {
namespace internal {

void Xxh3StateDeleter::operator()(XXH3_state_s* state) const { XXH3_freeState(state); }

FileHasher::FileHasher(Xxh3State file, Xxh3State chunk)
    : file_(std::move(file)), chunk_(std::move(chunk)) {
  XXH3_64bits_reset(file_.get());
  XXH3_64bits_reset(chunk_.get());
}

FileHasher::FileHasher(FileHasher&&) noexcept = default;
FileHasher& FileHasher::operator=(FileHasher&&) noexcept = default;
FileHasher::~FileHasher() = default;

absl::StatusOr<FileHasher> FileHasher::Create() {
  Xxh3State file(XXH3_createState());
  Xxh3State chunk(XXH3_createState());
  if (file == nullptr || chunk == nullptr) {
    return absl::ResourceExhaustedError("cannot allocate an XXH3 state");
  }
  return FileHasher(std::move(file), std::move(chunk));
}

void FileHasher::Update(const void* data, size_t size) {
  const unsigned char* bytes = static_cast<const unsigned char*>(data);
  XXH3_64bits_update(file_.get(), bytes, size);
  while (size > 0) {
    const int64_t to_boundary = kChecksumChunkBytes - bytes_ % kChecksumChunkBytes;
    const size_t piece = static_cast<size_t>(std::min<int64_t>(to_boundary, size));
    XXH3_64bits_update(chunk_.get(), bytes, piece);
    bytes += piece;
    size -= piece;
    bytes_ += static_cast<int64_t>(piece);
    if (bytes_ % kChecksumChunkBytes == 0) {
      chunk_digests_.push_back(XXH3_64bits_digest(chunk_.get()));
      XXH3_64bits_reset(chunk_.get());
    }
  }
}

uint64_t FileHasher::FileDigest() const { return XXH3_64bits_digest(file_.get()); }

std::vector<uint64_t> FileHasher::TakeChunkDigests() {
  if (bytes_ % kChecksumChunkBytes != 0) chunk_digests_.push_back(XXH3_64bits_digest(chunk_.get()));
  return std::move(chunk_digests_);
}

namespace {

// One piece of work: a whole file (chunk < 0) or one chunk of it.
struct VerifyItem {
  size_t file;
  int64_t chunk;
  size_t begin;
  size_t size;
};

std::vector<VerifyItem> ListItems(absl::Span<const FileToVerify> files) {
  std::vector<VerifyItem> items;
  for (size_t f = 0; f < files.size(); ++f) {
    const FileToVerify& file = files[f];
    if (file.chunk_bytes <= 0) {
      items.push_back({f, -1, 0, file.size});
      continue;
    }
    const size_t chunk_bytes = static_cast<size_t>(file.chunk_bytes);
    for (size_t begin = 0, c = 0; begin < file.size; begin += chunk_bytes, ++c) {
      items.push_back(
          {f, static_cast<int64_t>(c), begin, std::min(chunk_bytes, file.size - begin)});
    }
  }
  return items;
}

bool ItemMatches(const FileToVerify& file, const VerifyItem& item, XXH3_state_t* state) {
  XXH3_64bits_reset(state);
  HashUncachedBytes(state, file.data + item.begin, item.size);
  const uint64_t digest = XXH3_64bits_digest(state);
  if (item.chunk < 0) return digest == file.xxh3;
  return digest == file.chunk_xxh3[item.chunk];  // VerifyFiles checked the count
}

absl::Status MismatchError(const FileToVerify& file, const VerifyItem& item) {
  if (item.chunk < 0) {
    return absl::DataLossError(absl::StrCat("checkpoint file ", file.display_path,
                                            " is corrupt (XXH3-64 checksum mismatch)"));
  }
  return absl::DataLossError(absl::StrCat("checkpoint file ", file.display_path,
                                          " is corrupt (XXH3-64 checksum mismatch in bytes [",
                                          item.begin, ", ", item.begin + item.size, "))"));
}

}  // namespace

int DefaultVerifyThreads() {
  constexpr int kMaxThreads = 8;
  cpu_set_t cpus;
  CPU_ZERO(&cpus);
  int count = 0;
  if (::sched_getaffinity(0, sizeof(cpus), &cpus) == 0) count = CPU_COUNT(&cpus);
  if (count < 1) count = static_cast<int>(std::thread::hardware_concurrency());
  return std::clamp(count, 1, kMaxThreads);
}

absl::Status VerifyFiles(absl::Span<const FileToVerify> files, int threads) {
  for (const FileToVerify& file : files) {
    if (file.chunk_bytes > 0 && static_cast<int64_t>(file.chunk_xxh3.size()) !=
                                    ChunkCount(static_cast<int64_t>(file.size), file.chunk_bytes)) {
      return absl::InternalError(absl::StrCat("checkpoint file ", file.display_path, " has ",
                                              file.chunk_xxh3.size(), " chunk checksums for ",
                                              file.size, " bytes"));
    }
  }
  const std::vector<VerifyItem> items = ListItems(files);
  if (threads < 1) threads = DefaultVerifyThreads();
  threads = static_cast<int>(std::min<size_t>(static_cast<size_t>(threads), items.size()));

  // Items are taken in increasing order; one above a known mismatch is not needed (the error
  // is the first mismatch), so every item below the final first mismatch is always checked.
  std::atomic<size_t> next{0};
  std::atomic<size_t> first_mismatch{std::numeric_limits<size_t>::max()};
  std::atomic<bool> out_of_memory{false};
  auto work = [&] {
    const Xxh3State state(XXH3_createState());
    if (state == nullptr) {
      out_of_memory.store(true);
      return;
    }
    for (;;) {
      const size_t i = next.fetch_add(1, std::memory_order_relaxed);
      if (i >= items.size() || i > first_mismatch.load(std::memory_order_relaxed)) return;
      if (ItemMatches(files[items[i].file], items[i], state.get())) continue;
      size_t seen = first_mismatch.load(std::memory_order_relaxed);
      while (i < seen && !first_mismatch.compare_exchange_weak(seen, i)) {
      }
    }
  };
  std::vector<std::thread> helpers;
  try {
    helpers.reserve(threads > 1 ? threads - 1 : 0);
    for (int t = 1; t < threads; ++t) helpers.emplace_back(work);
  } catch (const std::exception&) {
    // No thread (or memory) to spare: the threads already started and this one take the list.
  }
  work();
  for (std::thread& helper : helpers) helper.join();
  const size_t mismatch = first_mismatch.load();
  if (mismatch < items.size()) return MismatchError(files[items[mismatch].file], items[mismatch]);
  if (out_of_memory.load() && next.load() < items.size()) {
    return absl::ResourceExhaustedError("cannot allocate an XXH3 state");
  }
  return absl::OkStatus();
}

}  // namespace internal
}  // namespace embrt
