// Copyright embrt authors.
//
// core/src/checkpoint_checksums.h: FileHasher gives XXH3-64 of the whole file and of each
// 16 MiB chunk however the bytes arrive; VerifyFiles checks files by chunks on several threads
// (or whole, for entries without chunk checksums) and reports the first mismatch in file and
// chunk order for any thread count.

#include "checkpoint_checksums.h"

#include <xxhash.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace embrt {
namespace internal {
namespace {

using ::testing::HasSubstr;

std::vector<unsigned char> RandomBytes(size_t size, uint64_t seed) {
  std::mt19937_64 random(seed);
  std::vector<unsigned char> bytes(size);
  for (unsigned char& b : bytes) b = static_cast<unsigned char>(random());
  return bytes;
}

TEST(FileHasherTest, WholeAndChunkDigestsForAnySizeAndPieces) {
  constexpr size_t kChunk = static_cast<size_t>(kChecksumChunkBytes);
  const std::vector<unsigned char> bytes = RandomBytes(2 * kChunk + kChunk / 2, 7);
  std::mt19937_64 random(11);
  for (size_t size :
       {size_t{0}, size_t{1}, kChunk - 1, kChunk, kChunk + 1, 2 * kChunk, bytes.size()}) {
    absl::StatusOr<FileHasher> hasher = FileHasher::Create();
    ASSERT_TRUE(hasher.ok()) << hasher.status();
    // Pieces of random sizes up to 3 MiB, so some cross a chunk boundary.
    for (size_t done = 0; done < size;) {
      const size_t piece = std::min<size_t>(size - done, random() % (size_t{3} << 20) + 1);
      hasher->Update(bytes.data() + done, piece);
      done += piece;
    }
    EXPECT_EQ(hasher->bytes(), static_cast<int64_t>(size));
    EXPECT_EQ(hasher->FileDigest(), XXH3_64bits(bytes.data(), size)) << size;
    const std::vector<uint64_t> chunks = hasher->TakeChunkDigests();
    ASSERT_EQ(static_cast<int64_t>(chunks.size()),
              ChunkCount(static_cast<int64_t>(size), kChecksumChunkBytes))
        << size;
    for (size_t c = 0; c < chunks.size(); ++c) {
      const size_t begin = c * kChunk;
      EXPECT_EQ(chunks[c], XXH3_64bits(bytes.data() + begin, std::min(kChunk, size - begin)))
          << "size " << size << ", chunk " << c;
    }
  }
}

// Three files: two with chunk checksums (chunks of 4 KiB, the last one short), one without.
class VerifyFilesTest : public ::testing::Test {
 protected:
  static constexpr int64_t kChunk = 4096;

  void SetUp() override {
    const size_t sizes[] = {5 * kChunk + 100, 3 * kChunk, 2 * kChunk + 1};
    for (int f = 0; f < 3; ++f) {
      bytes_.push_back(RandomBytes(sizes[f], 100 + f));
      const std::vector<unsigned char>& b = bytes_.back();
      std::vector<uint64_t> chunks;
      for (size_t begin = 0; begin < b.size(); begin += kChunk) {
        chunks.push_back(XXH3_64bits(b.data() + begin, std::min<size_t>(kChunk, b.size() - begin)));
      }
      chunk_sums_.push_back(chunks);
      whole_sums_.push_back(XXH3_64bits(b.data(), b.size()));
    }
  }

  std::vector<FileToVerify> Files() const {
    std::vector<FileToVerify> files(3);
    for (int f = 0; f < 3; ++f) {
      files[f].data = bytes_[f].data();
      files[f].size = bytes_[f].size();
      files[f].xxh3 = whole_sums_[f];
      files[f].display_path = "ckpt/file" + std::to_string(f);
      if (f != 1) {  // file 1 is verified whole
        files[f].chunk_bytes = kChunk;
        files[f].chunk_xxh3 = chunk_sums_[f];
      }
    }
    return files;
  }

  std::vector<std::vector<unsigned char>> bytes_;
  std::vector<std::vector<uint64_t>> chunk_sums_;
  std::vector<uint64_t> whole_sums_;
};

TEST_F(VerifyFilesTest, IntactFilesPassOnAnyThreadCount) {
  for (int threads : {0, 1, 2, 3, 8, 64}) {
    EXPECT_TRUE(VerifyFiles(Files(), threads).ok()) << threads;
  }
  EXPECT_TRUE(VerifyFiles({}, 4).ok());
}

TEST_F(VerifyFilesTest, FirstMismatchInFileAndChunkOrderWhateverTheThreads) {
  bytes_[2][kChunk + 7] ^= 0x01;      // file 2, chunk 1
  bytes_[0][5 * kChunk + 3] ^= 0x80;  // file 0, its short last chunk
  bytes_[1][2] ^= 0x04;               // file 1, verified whole
  for (int threads : {1, 2, 3, 8}) {
    const absl::Status status = VerifyFiles(Files(), threads);
    EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss) << status;
    EXPECT_THAT(std::string(status.message()),
                HasSubstr("ckpt/file0 is corrupt (XXH3-64 checksum mismatch in bytes [20480, "
                          "20580))"))
        << threads << " threads";
  }
  bytes_[0][5 * kChunk + 3] ^= 0x80;  // file 0 mended: file 1, whole
  for (int threads : {1, 2, 8}) {
    const absl::Status status = VerifyFiles(Files(), threads);
    EXPECT_THAT(std::string(status.message()),
                HasSubstr("ckpt/file1 is corrupt (XXH3-64 checksum mismatch)"))
        << threads << " threads";
  }
  bytes_[1][2] ^= 0x04;
  const absl::Status status = VerifyFiles(Files(), 2);
  EXPECT_THAT(std::string(status.message()),
              HasSubstr("ckpt/file2 is corrupt (XXH3-64 checksum mismatch in bytes [4096, 8192))"));
}

// A wrong chunk checksum fails even where the whole-file checksum is right: the chunks alone
// decide when the entry has them.
TEST_F(VerifyFilesTest, ChunkChecksumsDecideWhereTheEntryHasThem) {
  chunk_sums_[2][2] ^= 1;
  const absl::Status status = VerifyFiles(Files(), 2);
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss) << status;
  EXPECT_THAT(std::string(status.message()), HasSubstr("ckpt/file2"));
}

TEST_F(VerifyFilesTest, ChunkCountNotMatchingTheSizeIsInternal) {
  std::vector<FileToVerify> files = Files();
  files[0].chunk_xxh3 = files[0].chunk_xxh3.subspan(1);
  EXPECT_EQ(VerifyFiles(files, 2).code(), absl::StatusCode::kInternal);
}

}  // namespace
}  // namespace internal
}  // namespace embrt
