// Copyright embrt authors.
//
// SaveCheckpoint / RestoreCheckpoint with a real engine (the cpu backend): bit-identical round
// trips for every optimizer after training, restoring into fresh and trained engines, and
// corrupt or mismatched checkpoints that must leave the engine exactly as it was.

#include <fcntl.h>
#include <unistd.h>

#include <random>
#include <string>

#include "checkpoint_manifest.h"
#include "engine_test_util.h"

namespace embrt {
namespace {

using testing_util::AllOptimizers;
using testing_util::CreateBuilt;
using testing_util::EngineConfigText;
using testing_util::RandomTrainingStep;
using testing_util::ReadFile;
using testing_util::Retrieve;
using testing_util::SameBits;
using testing_util::Snapshot;
using testing_util::StatusIs;
using testing_util::TempDir;
using testing_util::WriteFile;

class CheckpointRoundTripTest : public ::testing::TestWithParam<std::string> {
 protected:
  std::string Config() const { return EngineConfigText(GetParam(), "cpu"); }
};

TEST_P(CheckpointRoundTripTest, RestoresEveryTableAndSlotBitIdentical) {
  std::unique_ptr<Embedding> trained = CreateBuilt(Config());
  ASSERT_NE(trained, nullptr);
  std::mt19937 random(1);
  for (int step = 0; step < 3; ++step) ASSERT_TRUE(RandomTrainingStep(*trained, random).ok());
  ASSERT_EQ(trained->step(), 3);
  const Snapshot before = Retrieve(*trained);
  // The slots moved away from their initial values, so the comparison means something.
  for (const auto& table : before) {
    for (size_t s = 1; s < table.size(); ++s) {
      EXPECT_NE(*std::min_element(table[s].begin(), table[s].end()),
                *std::max_element(table[s].begin(), table[s].end()))
          << "slot " << s << " is constant";
    }
  }

  TempDir root;
  absl::StatusOr<std::string> path = SaveCheckpoint(*trained, root.path());
  ASSERT_TRUE(path.ok()) << path.status();
  EXPECT_EQ(*path, root.path() + "/ckpt-3");
  // Saving does not disturb the engine.
  EXPECT_TRUE(SameBits(Retrieve(*trained), before));

  // Restore before the first step of a fresh engine, with another chunk size.
  std::unique_ptr<Embedding> restored = CreateBuilt(Config(), /*chunk_rows=*/5);
  ASSERT_NE(restored, nullptr);
  ASSERT_TRUE(RestoreCheckpoint(*restored, root.path()).ok());
  EXPECT_EQ(restored->step(), 3);
  EXPECT_TRUE(SameBits(Retrieve(*restored), before));

  // Both continue identically.
  std::mt19937 random_a(7), random_b(7);
  for (int step = 0; step < 2; ++step) {
    ASSERT_TRUE(RandomTrainingStep(*trained, random_a).ok());
    ASSERT_TRUE(RandomTrainingStep(*restored, random_b).ok());
  }
  EXPECT_TRUE(SameBits(Retrieve(*trained), Retrieve(*restored)));
  EXPECT_EQ(restored->step(), 5);

  // Restoring into an engine that has trained already replaces its tables too.
  std::unique_ptr<Embedding> busy = CreateBuilt(Config());
  std::mt19937 random_c(3);
  ASSERT_TRUE(RandomTrainingStep(*busy, random_c).ok());
  ASSERT_TRUE(RestoreCheckpoint(*busy, *path).ok());
  EXPECT_EQ(busy->step(), 3);
  EXPECT_TRUE(SameBits(Retrieve(*busy), before));
}

INSTANTIATE_TEST_SUITE_P(Optimizers, CheckpointRoundTripTest, ::testing::ValuesIn(AllOptimizers()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           return info.param.substr(0, info.param.find(' '));
                         });

// -- Bad checkpoints leave the engine untouched ---------------------------------------------

class CheckpointRestoreFailureTest : public ::testing::Test {
 protected:
  void SetUp() override {
    source_ = CreateBuilt(EngineConfigText("adam {}", "cpu"));
    ASSERT_NE(source_, nullptr);
    std::mt19937 random(11);
    for (int step = 0; step < 2; ++step) ASSERT_TRUE(RandomTrainingStep(*source_, random).ok());
    absl::StatusOr<std::string> path = SaveCheckpoint(*source_, root_.path());
    ASSERT_TRUE(path.ok()) << path.status();
    path_ = *path;

    target_ = CreateBuilt(EngineConfigText("adam {}", "cpu"));
    ASSERT_NE(target_, nullptr);
    std::mt19937 other(12);
    ASSERT_TRUE(RandomTrainingStep(*target_, other).ok());
    target_before_ = Retrieve(*target_);
  }

  // Restoring fails with `code` and a message containing `substring`, and the target engine
  // keeps its tables, slots and step.
  void ExpectRestoreFailsUntouched(absl::StatusCode code, const std::string& substring) {
    const absl::Status status = RestoreCheckpoint(*target_, root_.path());
    EXPECT_THAT(status, StatusIs(code, substring));
    EXPECT_EQ(target_->step(), 1);
    EXPECT_TRUE(SameBits(Retrieve(*target_), target_before_));
  }

  TempDir root_;
  std::string path_;
  std::unique_ptr<Embedding> source_, target_;
  Snapshot target_before_;
};

TEST_F(CheckpointRestoreFailureTest, FlippedByte) {
  const std::string file = path_ + "/beta/velocities.f32";
  std::string bytes = ReadFile(file);
  bytes[bytes.size() - 1] ^= 0x01;
  WriteFile(file, bytes);
  ExpectRestoreFailsUntouched(absl::StatusCode::kDataLoss, "beta/velocities.f32 is corrupt");
}

TEST_F(CheckpointRestoreFailureTest, TruncatedFile) {
  ASSERT_EQ(truncate((path_ + "/alpha/momenta.f32").c_str(), 64), 0);
  ExpectRestoreFailsUntouched(absl::StatusCode::kDataLoss, "alpha/momenta.f32 is 64 bytes");
}

TEST_F(CheckpointRestoreFailureTest, MissingFile) {
  ASSERT_EQ(unlink((path_ + "/beta/parameters.f32").c_str()), 0);
  ExpectRestoreFailsUntouched(absl::StatusCode::kDataLoss, "beta/parameters.f32 is missing");
}

TEST_F(CheckpointRestoreFailureTest, WrongManifestVersion) {
  absl::StatusOr<CheckpointManifest> manifest =
      internal::DecodeManifestFile(ReadFile(path_ + "/manifest.pb"), "m");
  ASSERT_TRUE(manifest.ok());
  manifest->set_format_version(kCheckpointFormatVersion + 1);
  WriteFile(path_ + "/manifest.pb", internal::EncodeManifestFile(*manifest));
  ExpectRestoreFailsUntouched(absl::StatusCode::kInvalidArgument,
                              path_ + "/manifest.pb has format version 2");
}

TEST_F(CheckpointRestoreFailureTest, ManifestOfAnotherConfig) {
  std::unique_ptr<Embedding> other = CreateBuilt(EngineConfigText("adagrad {}", "cpu"));
  ASSERT_NE(other, nullptr);
  TempDir other_root;
  ASSERT_TRUE(SaveCheckpoint(*other, other_root.path()).ok());
  const absl::Status status = RestoreCheckpoint(*target_, other_root.path());
  EXPECT_THAT(status,
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "\"alpha\" was trained with optimizer adagrad, the engine's uses adam"));
  EXPECT_THAT(std::string(status.message()), ::testing::HasSubstr(other_root.path() + "/ckpt-0"));
  EXPECT_EQ(target_->step(), 1);
  EXPECT_TRUE(SameBits(Retrieve(*target_), target_before_));
}

// Into a fresh engine the files are verified while they are loaded (one pass): a file found
// corrupt at its last byte fails the restore after other files were loaded already, and still
// nothing is visible: the engine reads back its initializers, at step 0.
TEST_F(CheckpointRestoreFailureTest, OnePassRestoreIntoAFreshEngineChangesNothingVisible) {
  const std::string file = path_ + "/beta/velocities.f32";
  std::string bytes = ReadFile(file);
  bytes[bytes.size() - 1] ^= 0x01;
  WriteFile(file, bytes);
  std::unique_ptr<Embedding> fresh = CreateBuilt(EngineConfigText("adam {}", "cpu"),
                                                 /*chunk_rows=*/3);
  ASSERT_NE(fresh, nullptr);
  ASSERT_FALSE(fresh->tables_initialized());
  EXPECT_THAT(RestoreCheckpoint(*fresh, root_.path()),
              StatusIs(absl::StatusCode::kDataLoss, "beta/velocities.f32 is corrupt"));
  EXPECT_FALSE(fresh->tables_initialized());
  EXPECT_EQ(fresh->step(), 0);
  std::unique_ptr<Embedding> untouched = CreateBuilt(EngineConfigText("adam {}", "cpu"));
  ASSERT_NE(untouched, nullptr);
  EXPECT_TRUE(SameBits(Retrieve(*fresh), Retrieve(*untouched)));
}

TEST_F(CheckpointRestoreFailureTest, OnePassRestoreIntoAFreshEngineIsBitIdentical) {
  std::unique_ptr<Embedding> fresh = CreateBuilt(EngineConfigText("adam {}", "cpu"),
                                                 /*chunk_rows=*/3);
  ASSERT_NE(fresh, nullptr);
  ASSERT_TRUE(RestoreCheckpoint(*fresh, root_.path()).ok());
  EXPECT_TRUE(fresh->tables_initialized());
  EXPECT_EQ(fresh->step(), 2);
  EXPECT_TRUE(SameBits(Retrieve(*fresh), Retrieve(*source_)));
}

TEST_F(CheckpointRestoreFailureTest, IntactCheckpointStillRestores) {
  ASSERT_TRUE(RestoreCheckpoint(*target_, root_.path()).ok());
  EXPECT_EQ(target_->step(), 2);
  EXPECT_TRUE(SameBits(Retrieve(*target_), Retrieve(*source_)));
}

// -- Files of several pieces (the memory-mapped restore) ----------------------------------

// A table of 9000 rows x dim 32 (1,152,000 bytes per slot file): each file is handed to the
// backend in three pieces of at most Embedding::kSourceChunkBytes, straight from its memory map.
std::string MultiPieceConfigText() {
  return R"pb(
    tables {
      name: "big"
      vocabulary_size: 9000
      dim: 32
      initializer { random_uniform { minval: -1 maxval: 1 } }
    }
    tables { name: "small" vocabulary_size: 5 dim: 3 }
    features { name: "f0" table: "big" }
    features { name: "f1" table: "small" }
    per_replica_batch_size: 4
    seed: 7
    optimizer { adagrad {} learning_rate { constant: 0.1 } }
    backend { name: "cpu" })pb";
}

class MultiPieceRestoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    static_assert(int64_t{9000} * 32 * 4 > 2 * Embedding::kSourceChunkBytes);
    source_ = CreateBuilt(MultiPieceConfigText());
    ASSERT_NE(source_, nullptr);
    std::mt19937 random(5);
    for (int step = 0; step < 2; ++step) ASSERT_TRUE(RandomTrainingStep(*source_, random).ok());
    absl::StatusOr<std::string> path = SaveCheckpoint(*source_, root_.path());
    ASSERT_TRUE(path.ok()) << path.status();
    path_ = *path;
    file_ = path_ + "/big/accumulators.f32";
  }

  // Flips one bit `offset` bytes into the big table's accumulator file.
  void FlipByteAt(size_t offset) {
    std::string bytes = ReadFile(file_);
    ASSERT_LT(offset, bytes.size());
    bytes[offset] ^= 0x10;
    WriteFile(file_, bytes);
  }

  TempDir root_;
  std::string path_, file_;
  std::unique_ptr<Embedding> source_;
};

TEST_F(MultiPieceRestoreTest, FreshAndTrainedEnginesRestoreBitIdentical) {
  std::unique_ptr<Embedding> fresh = CreateBuilt(MultiPieceConfigText());
  ASSERT_NE(fresh, nullptr);
  ASSERT_TRUE(RestoreCheckpoint(*fresh, root_.path()).ok());
  EXPECT_TRUE(SameBits(Retrieve(*fresh), Retrieve(*source_)));

  std::unique_ptr<Embedding> trained = CreateBuilt(MultiPieceConfigText());
  ASSERT_NE(trained, nullptr);
  std::mt19937 other(6);
  ASSERT_TRUE(RandomTrainingStep(*trained, other).ok());
  ASSERT_TRUE(RestoreCheckpoint(*trained, root_.path()).ok());
  EXPECT_EQ(trained->step(), 2);
  EXPECT_TRUE(SameBits(Retrieve(*trained), Retrieve(*source_)));
}

// A corrupt byte in the first, a middle or the last piece of a mapped file: into a fresh engine
// each piece but a file's last is hashed after the backend copied it (from the cache), the last
// one before it is handed out, and pieces before the bad one and other files were already handed
// to the backend; the restore fails just the same, and the engine shows nothing of the files it
// loaded (initializers, step 0).
TEST_F(MultiPieceRestoreTest, CorruptPieceIntoAFreshEngineChangesNothingVisible) {
  const size_t size = ReadFile(file_).size();
  for (size_t offset : {size_t{10}, size_t{Embedding::kSourceChunkBytes} + 1000, size - 10}) {
    SCOPED_TRACE(offset);
    const std::string intact = ReadFile(file_);
    FlipByteAt(offset);
    std::unique_ptr<Embedding> fresh = CreateBuilt(MultiPieceConfigText());
    ASSERT_NE(fresh, nullptr);
    EXPECT_THAT(RestoreCheckpoint(*fresh, root_.path()),
                StatusIs(absl::StatusCode::kDataLoss, "big/accumulators.f32 is corrupt"));
    EXPECT_FALSE(fresh->tables_initialized());
    EXPECT_EQ(fresh->step(), 0);
    std::unique_ptr<Embedding> untouched = CreateBuilt(MultiPieceConfigText());
    ASSERT_NE(untouched, nullptr);
    EXPECT_TRUE(SameBits(Retrieve(*fresh), Retrieve(*untouched)));
    WriteFile(file_, intact);
  }
  // Put back intact, the same files restore.
  std::unique_ptr<Embedding> fresh = CreateBuilt(MultiPieceConfigText());
  ASSERT_NE(fresh, nullptr);
  ASSERT_TRUE(RestoreCheckpoint(*fresh, root_.path()).ok());
  EXPECT_TRUE(SameBits(Retrieve(*fresh), Retrieve(*source_)));
}

// Into a trained engine every mapped file is verified before any piece is loaded.
TEST_F(MultiPieceRestoreTest, CorruptMiddlePieceIntoATrainedEngineChangesNothing) {
  FlipByteAt(Embedding::kSourceChunkBytes + 1000);
  std::unique_ptr<Embedding> trained = CreateBuilt(MultiPieceConfigText());
  ASSERT_NE(trained, nullptr);
  std::mt19937 other(6);
  ASSERT_TRUE(RandomTrainingStep(*trained, other).ok());
  const Snapshot before = Retrieve(*trained);
  EXPECT_THAT(RestoreCheckpoint(*trained, root_.path()),
              StatusIs(absl::StatusCode::kDataLoss, "big/accumulators.f32 is corrupt"));
  EXPECT_EQ(trained->step(), 1);
  EXPECT_TRUE(SameBits(Retrieve(*trained), before));
}

// Files of more than one 16 MiB checksum chunk (70,000 x 64 floats, 17.9 MB per slot): the
// writer's chunk checksums verify, a trained engine restores them bit for bit, and a flipped
// byte in a second chunk is DATA_LOSS naming that chunk's bytes, with the engine unchanged, on
// any number of verifying threads (RestoreOptions).
TEST(ChunkedRestoreTest, TrainedEngineVerifiesEveryChunkFirst) {
  const std::string config = R"pb(
    tables {
      name: "wide"
      vocabulary_size: 70000
      dim: 64
      initializer { random_uniform { minval: -1 maxval: 1 } }
    }
    features { name: "f" table: "wide" }
    per_replica_batch_size: 4
    seed: 3
    optimizer { adagrad {} learning_rate { constant: 0.1 } }
    backend { name: "cpu" options { key: "threads" value: "2" } })pb";
  std::unique_ptr<Embedding> source = CreateBuilt(config);
  ASSERT_NE(source, nullptr);
  std::mt19937 random(11);
  ASSERT_TRUE(RandomTrainingStep(*source, random).ok());
  TempDir root;
  absl::StatusOr<std::string> path = SaveCheckpoint(*source, root.path());
  ASSERT_TRUE(path.ok()) << path.status();

  std::unique_ptr<Embedding> trained = CreateBuilt(config);
  ASSERT_NE(trained, nullptr);
  std::mt19937 other(12);
  ASSERT_TRUE(RandomTrainingStep(*trained, other).ok());
  ASSERT_TRUE(RandomTrainingStep(*trained, other).ok());
  const Snapshot before = Retrieve(*trained);

  const std::string file = *path + "/wide/parameters.f32";
  const off_t offset = (off_t{16} << 20) + 12345;  // in the second chunk
  char byte = 0;
  {
    const int fd = ::open(file.c_str(), O_RDWR);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::pread(fd, &byte, 1, offset), 1);
    const char flipped = static_cast<char>(byte ^ 0x08);
    ASSERT_EQ(::pwrite(fd, &flipped, 1, offset), 1);
    ::close(fd);
  }
  for (int threads : {0, 1, 3}) {  // the same error whatever the verifying threads
    RestoreOptions options;
    options.verify_threads = threads;
    EXPECT_THAT(RestoreCheckpoint(*trained, root.path(), options),
                StatusIs(absl::StatusCode::kDataLoss,
                         "wide/parameters.f32 is corrupt (XXH3-64 checksum mismatch in bytes "
                         "[16777216, 17920000))"))
        << threads << " threads";
    EXPECT_EQ(trained->step(), 2);
    EXPECT_TRUE(SameBits(Retrieve(*trained), before));
  }

  {
    const int fd = ::open(file.c_str(), O_RDWR);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::pwrite(fd, &byte, 1, offset), 1);
    ::close(fd);
  }
  RestoreOptions one_thread;
  one_thread.verify_threads = 1;
  ASSERT_TRUE(RestoreCheckpoint(*trained, root.path(), one_thread).ok());
  EXPECT_EQ(trained->step(), 1);
  EXPECT_TRUE(SameBits(Retrieve(*trained), Retrieve(*source)));
}

// A file shorter than the manifest says is refused on its size before it is mapped (reading a
// map past the end of its file would raise SIGBUS), into fresh and trained engines alike.
TEST_F(MultiPieceRestoreTest, ShortFileIsDataLossBeforeItIsMapped) {
  ASSERT_EQ(truncate(file_.c_str(), Embedding::kSourceChunkBytes + 4), 0);
  std::unique_ptr<Embedding> fresh = CreateBuilt(MultiPieceConfigText());
  ASSERT_NE(fresh, nullptr);
  EXPECT_THAT(RestoreCheckpoint(*fresh, root_.path()),
              StatusIs(absl::StatusCode::kDataLoss, "big/accumulators.f32 is 524292 bytes"));
  EXPECT_FALSE(fresh->tables_initialized());

  std::unique_ptr<Embedding> trained = CreateBuilt(MultiPieceConfigText());
  ASSERT_NE(trained, nullptr);
  std::mt19937 other(6);
  ASSERT_TRUE(RandomTrainingStep(*trained, other).ok());
  const Snapshot before = Retrieve(*trained);
  EXPECT_THAT(RestoreCheckpoint(*trained, root_.path()),
              StatusIs(absl::StatusCode::kDataLoss, "big/accumulators.f32 is 524292 bytes"));
  EXPECT_TRUE(SameBits(Retrieve(*trained), before));
}

// -- Embedding::LoadTablesFrom ----------------------------------------------------------------

// Chunks come in order, at most kSourceChunkBytes per slot, and the backend copies from the
// source's memory: the engine reads back exactly what the source pointed at.
TEST(LoadTablesFromTest, LoadsInOrderedBoundedChunksFromTheSourcesMemory) {
  std::unique_ptr<Embedding> engine = CreateBuilt(MultiPieceConfigText());
  ASSERT_NE(engine, nullptr);
  Snapshot values = Retrieve(*engine);  // shaped [table][slot][rows * dim]
  float next = 1.0f;
  for (auto& table : values) {
    for (auto& slot : table) {
      for (float& value : slot) value = next++;
    }
  }
  std::unique_ptr<Embedding> fresh = CreateBuilt(MultiPieceConfigText());
  ASSERT_NE(fresh, nullptr);
  std::vector<int64_t> next_row(values.size(), 0);
  int last_table = 0;
  const absl::Status loaded = fresh->LoadTablesFrom(
      [&](int table, int64_t begin, int64_t count, absl::Span<absl::Span<const float>> slots) {
        EXPECT_GE(table, last_table);
        last_table = table;
        EXPECT_EQ(begin, next_row[table]);
        next_row[table] += count;
        const int64_t dim = fresh->config().tables[table].dim;
        EXPECT_LE(count * dim * 4, std::max<int64_t>(Embedding::kSourceChunkBytes, dim * 4));
        EXPECT_EQ(slots.size(), values[table].size());
        for (size_t s = 0; s < slots.size(); ++s) {
          slots[s] = absl::MakeConstSpan(values[table][s].data() + begin * dim, count * dim);
        }
        return absl::OkStatus();
      });
  ASSERT_TRUE(loaded.ok()) << loaded;
  EXPECT_EQ(next_row, (std::vector<int64_t>{9000, 5}));
  EXPECT_TRUE(fresh->tables_initialized());
  EXPECT_TRUE(SameBits(Retrieve(*fresh), values));
}

TEST(LoadTablesFromTest, ASpanOfTheWrongSizeIsAnErrorAndAFreshEngineShowsNothing) {
  std::unique_ptr<Embedding> fresh = CreateBuilt(MultiPieceConfigText());
  ASSERT_NE(fresh, nullptr);
  std::vector<float> too_short(3);
  EXPECT_THAT(fresh->LoadTablesFrom([&](int, int64_t, int64_t,
                                        absl::Span<absl::Span<const float>> slots) {
    for (auto& slot : slots) slot = absl::MakeConstSpan(too_short);
    return absl::OkStatus();
  }),
              StatusIs(absl::StatusCode::kInternal, "the source gave 3 floats for slot 0"));
  EXPECT_FALSE(fresh->tables_initialized());
  std::unique_ptr<Embedding> untouched = CreateBuilt(MultiPieceConfigText());
  ASSERT_NE(untouched, nullptr);
  EXPECT_TRUE(SameBits(Retrieve(*fresh), Retrieve(*untouched)));
}

}  // namespace
}  // namespace embrt
