// Copyright embrt authors.
//
// Fuzz target: the checkpoint manifest and reader on a temporary directory. The input is
// either a raw manifest.pb (header, checksum and payload as given), or a manifest payload that
// the harness wraps with a correct header and, when asked, backs with table files of the sizes
// and checksums the manifest names, so that the fuzzer reaches the checks behind the
// checksums. An opened checkpoint must answer every read of its rows in range.

#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "checkpoint_checksums.h"
#include "checkpoint_manifest.h"
#include "embrt/checkpoint.h"
#include "fuzz_input.h"

namespace {

namespace fs = std::filesystem;

constexpr int64_t kMaxFileBytes = int64_t{1} << 16;

// One directory per process, emptied for every input.
const std::string& CheckpointDir() {
  static const std::string* const path = [] {
    const char* dir = std::getenv("TMPDIR");
    std::string pattern =
        std::string(dir != nullptr && *dir ? dir : "/tmp") + "/embrt_checkpoint_fuzz_XXXXXX";
    FUZZ_CHECK(::mkdtemp(pattern.data()) != nullptr);
    return new std::string(pattern);
  }();
  return *path;
}

void WriteFile(const fs::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// A manifest.pb: "EMBRTCKP", payload size and XXH3-64, little-endian (checkpoint_manifest.h).
std::string WithHeader(const std::string& payload) {
  std::string out = "EMBRTCKP";
  const uint64_t size = payload.size();
  const uint64_t checksum = embrt::internal::Xxh3Of(payload.data(), payload.size());
  for (uint64_t word : {size, checksum}) {
    for (int b = 0; b < 8; ++b) out.push_back(static_cast<char>((word >> (8 * b)) & 0xff));
  }
  return out + payload;
}

// Creates the files the manifest names (safe paths, small sizes) with `fill` bytes, and sets
// their checksums (whole and, where the entry has them, per chunk) to match when
// `fix_checksums`.
void BackWithFiles(embrt::CheckpointManifest& manifest, const fs::path& dir, uint8_t fill,
                   bool fix_checksums) {
  for (embrt::CheckpointTable& table : *manifest.mutable_tables()) {
    for (embrt::CheckpointSlot& slot : *table.mutable_slots()) {
      for (embrt::CheckpointFile& file : *slot.mutable_files()) {
        if (!embrt::internal::IsSafeRelativePath(file.path())) continue;
        if (file.byte_size() < 0 || file.byte_size() > kMaxFileBytes) continue;
        const std::string bytes(static_cast<size_t>(file.byte_size()), static_cast<char>(fill));
        const fs::path path = dir / file.path();
        std::error_code ec;
        fs::create_directories(path.parent_path(), ec);
        WriteFile(path, bytes);
        if (!fix_checksums) continue;
        file.set_xxh3_64(embrt::internal::Xxh3Of(bytes.data(), bytes.size()));
        // Chunk checksums too, where their count fits the size (else Open rejects the entry).
        const int64_t chunk = file.chunk_bytes();
        if (chunk < 1 ||
            file.chunk_xxh3_64_size() != embrt::internal::ChunkCount(file.byte_size(), chunk)) {
          continue;
        }
        for (int c = 0; c < file.chunk_xxh3_64_size(); ++c) {
          const size_t begin = static_cast<size_t>(c * chunk);
          file.set_chunk_xxh3_64(c, embrt::internal::Xxh3Of(
                                        bytes.data() + begin,
                                        std::min(static_cast<size_t>(chunk), bytes.size() - begin)));
        }
      }
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  embrt::fuzz::FuzzInput in(data, size);
  const fs::path dir = CheckpointDir();
  std::error_code ec;
  for (const fs::directory_entry& entry : fs::directory_iterator(dir, ec)) {
    fs::remove_all(entry.path(), ec);
  }
  const int mode = static_cast<int>(in.TakeInRange(0, 2));
  const uint8_t fill = in.Take<uint8_t>();
  const bool verify = in.TakeBool();
  const int num_hosts = static_cast<int>(in.TakeInRange(1, 3));
  const std::string rest = in.TakeRest();
  if (mode == 0) {
    WriteFile(dir / embrt::internal::kManifestFileName, rest);
  } else {
    embrt::CheckpointManifest manifest;
    if (manifest.ParseFromString(rest)) {
      BackWithFiles(manifest, dir, fill, /*fix_checksums=*/mode == 2);
      WriteFile(dir / embrt::internal::kManifestFileName,
                WithHeader(manifest.SerializeAsString()));
    } else {
      WriteFile(dir / embrt::internal::kManifestFileName, WithHeader(rest));
    }
  }

  embrt::CheckpointReader::Options options;
  options.verify_checksums = verify;
  absl::StatusOr<std::unique_ptr<embrt::CheckpointReader>> reader =
      embrt::CheckpointReader::Open(dir.string(), options);
  if (!reader.ok()) return 0;
  const embrt::CheckpointManifest& manifest = (*reader)->manifest();
  for (int t = 0; t < (*reader)->num_tables(); ++t) {
    const embrt::CheckpointTable& table = manifest.tables(t);
    FUZZ_CHECK(table.vocabulary_size() >= 1 && table.dim() >= 1);
    FUZZ_CHECK((*reader)->FindTable(table.name()) == t);
    for (int s = 0; s < table.slots_size(); ++s) {
      absl::Span<const float> whole = (*reader)->ContiguousSlot(t, s);
      FUZZ_CHECK(whole.empty() || static_cast<int64_t>(whole.size()) ==
                                      table.vocabulary_size() * table.dim());
      float sum = 0;
      for (float v : (*reader)->Row(t, s, table.vocabulary_size() - 1)) sum += v;
      (void)sum;
      const int64_t rows = std::min<int64_t>(table.vocabulary_size() / num_hosts, 8);
      std::vector<float> out(static_cast<size_t>(rows * table.dim()));
      (void)(*reader)->ReadShardRows(t, s, num_hosts, 0, embrt::DIV, 0, rows,
                                     absl::MakeSpan(out));
    }
  }
  return 0;
}
