// Copyright embrt authors.
//
// Tests of CheckpointReader (core/src/checkpoint_reader.cc, checkpoint_manifest.cc) without an
// engine: rows for any host count and sharding, multi-file layouts, corruption and hostile
// manifests.

#include <sys/stat.h>
#include <unistd.h>

#include <functional>
#include <string>
#include <vector>

#include "checkpoint_manifest.h"
#include "checkpoint_test_util.h"
#include "embrt/sharding.h"

namespace embrt {
namespace {

using testing_util::ReadFile;
using testing_util::ResolveOrDie;
using testing_util::StatusIs;
using testing_util::SyntheticTables;
using testing_util::TempDir;
using testing_util::WriteFile;

constexpr char kConfig[] = R"pb(
  tables {
    name: "video"
    vocabulary_size: 8
    dim: 4
    optimizer { adam {} }
  }
  tables {
    name: "user"
    vocabulary_size: 13
    dim: 2
    optimizer { adagrad_momentum {} }
  }
  features { name: "watched" table: "video" }
  features { name: "friends" table: "user" }
)pb";

class CheckpointReaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config_ = ResolveOrDie(kConfig);
    tables_ = SyntheticTables::Make(config_, 5);
    absl::StatusOr<std::string> path =
        WriteCheckpoint(config_, 17, tables_.AsRetrieve(config_), root_.path());
    ASSERT_TRUE(path.ok()) << path.status();
    path_ = *path;
  }

  absl::Status OpenStatus(const std::string& path) { return CheckpointReader::Open(path).status(); }

  CheckpointManifest LoadManifest() {
    absl::StatusOr<CheckpointManifest> manifest =
        internal::DecodeManifestFile(ReadFile(path_ + "/manifest.pb"), "m");
    EXPECT_TRUE(manifest.ok()) << manifest.status();
    return manifest.ok() ? *manifest : CheckpointManifest();
  }
  void StoreManifest(const CheckpointManifest& manifest) {
    WriteFile(path_ + "/manifest.pb", internal::EncodeManifestFile(manifest));
  }

  ResolvedConfig config_;
  SyntheticTables tables_;
  TempDir root_;
  std::string path_;
};

TEST_F(CheckpointReaderTest, ReadsEverySlotBitIdentical) {
  absl::StatusOr<std::unique_ptr<CheckpointReader>> reader = CheckpointReader::Open(root_.path());
  ASSERT_TRUE(reader.ok()) << reader.status();
  EXPECT_EQ((*reader)->path(), path_);
  EXPECT_EQ((*reader)->step(), 17);
  ASSERT_EQ((*reader)->num_tables(), 2);
  EXPECT_EQ((*reader)->FindTable("user"), 1);
  EXPECT_EQ((*reader)->FindTable("nope"), -1);
  EXPECT_TRUE((*reader)->CheckCompatible(config_).ok());
  for (int t = 0; t < 2; ++t) {
    for (size_t s = 0; s < tables_.values[t].size(); ++s) {
      const std::vector<float>& expected = tables_.values[t][s];
      absl::Span<const float> slot = (*reader)->ContiguousSlot(t, static_cast<int>(s));
      ASSERT_EQ(slot.size(), expected.size());
      EXPECT_EQ(std::memcmp(slot.data(), expected.data(), expected.size() * 4), 0);
      const int dim = config_.tables[t].dim;
      absl::Span<const float> row = (*reader)->Row(t, static_cast<int>(s), 5);
      EXPECT_EQ(std::vector<float>(row.begin(), row.end()),
                std::vector<float>(expected.begin() + 5 * dim, expected.begin() + 6 * dim));
    }
  }
}

// The rows a host of another host count and sharding would load: local row j of host h is
// global row GlobalRow(j, ...) (13 rows on 5 hosts: DIV [0,1,2] [3,4,5] ..., MOD [0,5,10] ...).
TEST_F(CheckpointReaderTest, ShardRowsForAnyHostCountAndSharding) {
  auto reader = CheckpointReader::Open(path_);
  ASSERT_TRUE(reader.ok()) << reader.status();
  const int dim = 2;
  for (Sharding sharding : {DIV, MOD}) {
    for (int hosts : {1, 2, 5, 13, 20}) {
      for (int host = 0; host < hosts; ++host) {
        const int64_t rows = ShardRows(13, hosts, host);
        for (int slot = 0; slot < 3; ++slot) {
          std::vector<float> out(rows * dim, -1.0f);
          ASSERT_TRUE(
              (*reader)
                  ->ReadShardRows(1, slot, hosts, host, sharding, 0, rows, absl::MakeSpan(out))
                  .ok());
          for (int64_t j = 0; j < rows; ++j) {
            const int64_t global = GlobalRow(j, 13, hosts, host, sharding);
            for (int c = 0; c < dim; ++c) {
              ASSERT_EQ(out[j * dim + c], SyntheticTables::Value(5, 1, slot, global, c))
                  << "hosts " << hosts << " host " << host << " sharding " << sharding;
            }
          }
        }
      }
    }
  }
  // The plugin_api/MATH.md example: host 1 of 2, DIV holds rows 7..12, MOD the odd rows.
  std::vector<float> out(2 * dim);
  ASSERT_TRUE((*reader)->ReadShardRows(1, 0, 2, 1, DIV, 1, 2, absl::MakeSpan(out)).ok());
  EXPECT_EQ(out[0], SyntheticTables::Value(5, 1, 0, 8, 0));
  ASSERT_TRUE((*reader)->ReadShardRows(1, 0, 2, 1, MOD, 1, 2, absl::MakeSpan(out)).ok());
  EXPECT_EQ(out[0], SyntheticTables::Value(5, 1, 0, 3, 0));
  EXPECT_EQ(out[2], SyntheticTables::Value(5, 1, 0, 5, 0));
  // Ranges outside the shard are rejected.
  EXPECT_EQ((*reader)->ReadShardRows(1, 0, 2, 1, MOD, 5, 2, absl::MakeSpan(out)).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ((*reader)->ReadShardRows(1, 0, 2, 2, MOD, 0, 1, absl::MakeSpan(out)).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ((*reader)->ReadShardRows(1, 3, 1, 0, DIV, 0, 1, absl::MakeSpan(out)).code(),
            absl::StatusCode::kInvalidArgument);
}

// Rewrites slot `slot` of table `table` as `parts` files, either contiguous ranges or strided
// (row_stride = parts), the layouts a multi-host writer produces.
void SplitSlot(const std::string& path, CheckpointManifest* manifest, int table, int slot,
               int parts, bool strided) {
  CheckpointSlot* stored = manifest->mutable_tables(table)->mutable_slots(slot);
  const CheckpointFile whole = stored->files(0);
  const std::string bytes = ReadFile(path + "/" + whole.path());
  const int64_t rows = manifest->tables(table).vocabulary_size();
  const int64_t row_bytes = manifest->tables(table).dim() * 4;
  unlink((path + "/" + whole.path()).c_str());
  stored->clear_files();
  for (int p = 0; p < parts; ++p) {
    std::string part;
    CheckpointFile* file = stored->add_files();
    if (strided) {
      for (int64_t r = p; r < rows; r += parts) part += bytes.substr(r * row_bytes, row_bytes);
      file->set_row_begin(p);
      file->set_row_stride(parts);
    } else {
      const int64_t begin = rows * p / parts, end = rows * (p + 1) / parts;
      part = bytes.substr(begin * row_bytes, (end - begin) * row_bytes);
      file->set_row_begin(begin);
    }
    file->set_path(absl::StrCat(whole.path(), ".shard-", p, "-of-", parts));
    file->set_rows(static_cast<int64_t>(part.size()) / row_bytes);
    file->set_byte_size(part.size());
    file->set_xxh3_64(internal::Xxh3Of(part.data(), part.size()));
    WriteFile(path + "/" + file->path(), part);
  }
}

TEST_F(CheckpointReaderTest, ReadsPerHostShardFilesContiguousAndStrided) {
  CheckpointManifest manifest = LoadManifest();
  SplitSlot(path_, &manifest, 1, 0, 3, /*strided=*/false);
  SplitSlot(path_, &manifest, 1, 1, 5, /*strided=*/true);
  SplitSlot(path_, &manifest, 1, 2, 20, /*strided=*/true);  // more files than rows
  StoreManifest(manifest);
  auto reader = CheckpointReader::Open(path_);
  ASSERT_TRUE(reader.ok()) << reader.status();
  EXPECT_TRUE((*reader)->ContiguousSlot(1, 0).empty());
  for (int slot = 0; slot < 3; ++slot) {
    for (Sharding sharding : {DIV, MOD}) {
      for (int hosts : {1, 3, 4}) {
        for (int host = 0; host < hosts; ++host) {
          const int64_t rows = ShardRows(13, hosts, host);
          std::vector<float> out(rows * 2);
          ASSERT_TRUE(
              (*reader)
                  ->ReadShardRows(1, slot, hosts, host, sharding, 0, rows, absl::MakeSpan(out))
                  .ok());
          for (int64_t j = 0; j < rows; ++j) {
            const int64_t global = GlobalRow(j, 13, hosts, host, sharding);
            ASSERT_EQ(out[j * 2 + 1], SyntheticTables::Value(5, 1, slot, global, 1));
          }
        }
      }
      for (int64_t r = 0; r < 13; ++r) {
        ASSERT_EQ((*reader)->Row(1, slot, r)[0], SyntheticTables::Value(5, 1, slot, r, 0));
      }
    }
  }
}

// -- Corruption: every case is DATA_LOSS naming the file --------------------------------------

TEST_F(CheckpointReaderTest, FlippedByteIsDataLossNamingTheFile) {
  const std::string file = path_ + "/user/momenta.f32";
  std::string bytes = ReadFile(file);
  bytes[37] ^= 0x10;
  WriteFile(file, bytes);
  EXPECT_THAT(OpenStatus(root_.path()),
              StatusIs(absl::StatusCode::kDataLoss, "user/momenta.f32 is corrupt"));
  // Without checksum verification only sizes are checked.
  CheckpointReader::Options options;
  options.verify_checksums = false;
  EXPECT_TRUE(CheckpointReader::Open(path_, options).ok());
}

// Every file carries one checksum per 16 MiB chunk beside the whole file's (the small
// files here: one chunk, the whole file). A checkpoint written before chunk checksums (no
// chunk fields) still opens, and is still verified, by its whole-file checksums.
TEST_F(CheckpointReaderTest, EveryFileHasChunkChecksumsAndOlderManifestsStillVerify) {
  CheckpointManifest manifest = LoadManifest();
  for (CheckpointTable& table : *manifest.mutable_tables()) {
    for (CheckpointSlot& slot : *table.mutable_slots()) {
      for (CheckpointFile& file : *slot.mutable_files()) {
        EXPECT_EQ(file.chunk_bytes(), int64_t{16} << 20) << file.path();
        ASSERT_EQ(file.chunk_xxh3_64_size(), 1) << file.path();
        EXPECT_EQ(file.chunk_xxh3_64(0), file.xxh3_64()) << file.path();
        file.clear_chunk_bytes();
        file.clear_chunk_xxh3_64();
      }
    }
  }
  StoreManifest(manifest);
  EXPECT_TRUE(CheckpointReader::Open(path_).ok());
  const std::string file = path_ + "/video/parameters.f32";
  std::string bytes = ReadFile(file);
  bytes[5] ^= 0x01;
  WriteFile(file, bytes);
  EXPECT_THAT(OpenStatus(path_), StatusIs(absl::StatusCode::kDataLoss,
                                          "video/parameters.f32 is corrupt (XXH3-64 checksum "
                                          "mismatch)"));
}

// A file verified by its chunks names the chunk's bytes; with several corrupt files the error
// is the first one in manifest order, whatever the number of verifying threads.
TEST_F(CheckpointReaderTest, CorruptChunkIsDataLossNamingItsBytesForAnyThreadCount) {
  for (const char* name : {"/user/momenta.f32", "/video/velocities.f32"}) {
    const std::string file = path_ + name;
    std::string bytes = ReadFile(file);
    bytes[bytes.size() - 1] ^= 0x40;
    WriteFile(file, bytes);
  }
  for (int threads : {1, 2, 3, 8}) {
    CheckpointReader::Options options;
    options.verify_threads = threads;
    EXPECT_THAT(CheckpointReader::Open(path_, options).status(),
                StatusIs(absl::StatusCode::kDataLoss,
                         "video/velocities.f32 is corrupt (XXH3-64 checksum mismatch in bytes "
                         "[0, 128))"))
        << threads << " threads";
  }
}

TEST_F(CheckpointReaderTest, TruncatedFileIsDataLoss) {
  ASSERT_EQ(truncate((path_ + "/video/velocities.f32").c_str(), 100), 0);
  EXPECT_THAT(OpenStatus(path_),
              StatusIs(absl::StatusCode::kDataLoss, "video/velocities.f32 is 100 bytes"));
}

TEST_F(CheckpointReaderTest, MissingFileIsDataLoss) {
  ASSERT_EQ(unlink((path_ + "/video/parameters.f32").c_str()), 0);
  EXPECT_THAT(OpenStatus(path_),
              StatusIs(absl::StatusCode::kDataLoss, "video/parameters.f32 is missing"));
}

TEST_F(CheckpointReaderTest, SymbolicLinkInsteadOfAFileIsRefused) {
  const std::string file = path_ + "/video/parameters.f32";
  ASSERT_EQ(rename(file.c_str(), (root_.path() + "/elsewhere").c_str()), 0);
  ASSERT_EQ(symlink((root_.path() + "/elsewhere").c_str(), file.c_str()), 0);
  EXPECT_THAT(OpenStatus(path_), StatusIs(absl::StatusCode::kDataLoss, "video/parameters.f32"));
}

// -- Non-regular files never block: a FIFO anywhere is an error at once ---------------------
// (ctest's TIMEOUT turns a hang into a failure.)

void ReplaceWithFifo(const std::string& path) {
  ASSERT_EQ(unlink(path.c_str()), 0) << path;
  ASSERT_EQ(mkfifo(path.c_str(), 0644), 0) << path;
}

TEST_F(CheckpointReaderTest, FifoInsteadOfATableFileIsAnErrorNotAHang) {
  ReplaceWithFifo(path_ + "/video/parameters.f32");
  EXPECT_THAT(OpenStatus(path_),
              StatusIs(absl::StatusCode::kDataLoss, "video/parameters.f32 is a FIFO"));
}

TEST_F(CheckpointReaderTest, FifoInsteadOfTheManifestIsAnErrorNotAHang) {
  ReplaceWithFifo(path_ + "/manifest.pb");
  EXPECT_THAT(OpenStatus(path_), StatusIs(absl::StatusCode::kDataLoss, "manifest.pb is a FIFO"));
  EXPECT_THAT(OpenStatus(root_.path()), StatusIs(absl::StatusCode::kDataLoss, "is a FIFO"));
}

TEST_F(CheckpointReaderTest, FifoInsteadOfLatestIsAnErrorNotAHang) {
  ReplaceWithFifo(root_.path() + "/latest");
  EXPECT_THAT(OpenStatus(root_.path()), StatusIs(absl::StatusCode::kDataLoss, "latest is a FIFO"));
}

TEST_F(CheckpointReaderTest, SymbolicLinksInsideARootAreNotFollowedButTheGivenPathIs) {
  // The path the caller gives may be a link...
  const std::string link = root_.path() + "/link-to-checkpoint";
  ASSERT_EQ(symlink(path_.c_str(), link.c_str()), 0);
  EXPECT_TRUE(CheckpointReader::Open(link).ok());
  // ...but `latest` naming a link, or `latest` being one, is refused.
  WriteFile(root_.path() + "/latest", "link-to-checkpoint\n");
  EXPECT_THAT(OpenStatus(root_.path()),
              StatusIs(absl::StatusCode::kDataLoss, "which is not a directory"));
  ASSERT_EQ(unlink((root_.path() + "/latest").c_str()), 0);
  WriteFile(root_.path() + "/elsewhere", "ckpt-17\n");
  ASSERT_EQ(symlink((root_.path() + "/elsewhere").c_str(), (root_.path() + "/latest").c_str()), 0);
  EXPECT_THAT(OpenStatus(root_.path()), StatusIs(absl::StatusCode::kDataLoss, "symbolic link"));
}

TEST_F(CheckpointReaderTest, CorruptOrTruncatedManifestIsDataLoss) {
  const std::string file = path_ + "/manifest.pb";
  const std::string good = ReadFile(file);
  std::string bytes = good;
  bytes[bytes.size() / 2] ^= 1;
  WriteFile(file, bytes);
  EXPECT_THAT(OpenStatus(path_), StatusIs(absl::StatusCode::kDataLoss, "manifest.pb is corrupt"));
  WriteFile(file, good.substr(0, good.size() - 3));
  EXPECT_THAT(OpenStatus(path_), StatusIs(absl::StatusCode::kDataLoss, "truncated"));
  WriteFile(file, "hello");
  EXPECT_THAT(OpenStatus(path_), StatusIs(absl::StatusCode::kDataLoss, "bad header"));
  WriteFile(file, good);
  EXPECT_TRUE(CheckpointReader::Open(path_).ok());
}

TEST_F(CheckpointReaderTest, WrongFormatVersionIsRejected) {
  CheckpointManifest manifest = LoadManifest();
  manifest.set_format_version(2);
  StoreManifest(manifest);
  EXPECT_THAT(OpenStatus(path_), StatusIs(absl::StatusCode::kInvalidArgument, "format version 2"));
}

TEST_F(CheckpointReaderTest, ManifestOfAnotherConfigIsIncompatible) {
  auto reader = CheckpointReader::Open(path_);
  ASSERT_TRUE(reader.ok());
  const ResolvedConfig other = ResolveOrDie(R"pb(
    tables {
      name: "video"
      vocabulary_size: 9
      dim: 4
      optimizer { adam {} }
    }
    tables {
      name: "user"
      vocabulary_size: 13
      dim: 3
      optimizer { sgd {} }
    }
    tables { name: "extra" vocabulary_size: 13 dim: 3 }
    features { table: "video" }
    features { table: "user" }
    features { table: "extra" }
  )pb");
  const absl::Status status = (*reader)->CheckCompatible(other);
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kInvalidArgument, path_));
  for (const char* part :
       {"\"video\" has vocabulary_size 8, the engine's has 9",
        "\"user\" has dim 2, the engine's has 3",
        "optimizer adagrad_momentum, the engine's uses sgd", "no table \"extra\""}) {
    EXPECT_THAT(std::string(status.message()), ::testing::HasSubstr(part));
  }
  const ResolvedConfig fewer = ResolveOrDie(R"pb(
    tables {
      name: "video"
      vocabulary_size: 8
      dim: 4
      optimizer { adam {} }
    }
    features { table: "video" }
  )pb");
  EXPECT_THAT((*reader)->CheckCompatible(fewer),
              StatusIs(absl::StatusCode::kInvalidArgument, "\"user\" is not in the engine"));
  // Another host count, sharding, replica count and backend are fine.
  const ResolvedConfig moved = ResolveOrDie(std::string(kConfig) +
                                            R"pb(num_hosts: 3
                                                 host_id: 2
                                                 sharding: MOD
                                                 num_replicas: 4
                                                 backend { name: "mock" })pb");
  EXPECT_TRUE((*reader)->CheckCompatible(moved).ok());
}

TEST_F(CheckpointReaderTest, LatestPointingNowhereIsDataLoss) {
  WriteFile(root_.path() + "/latest", "ckpt-99\n");
  EXPECT_THAT(OpenStatus(root_.path()), StatusIs(absl::StatusCode::kDataLoss, "ckpt-99"));
  WriteFile(root_.path() + "/latest", "../../etc\n");
  EXPECT_THAT(OpenStatus(root_.path()),
              StatusIs(absl::StatusCode::kDataLoss, "does not name a checkpoint directory"));
  EXPECT_THAT(OpenStatus(root_.path() + "/nothing-here"),
              StatusIs(absl::StatusCode::kNotFound, "no checkpoint"));
}

// -- Hostile manifests: rejected before any table file is opened or anything is allocated ---

struct HostileCase {
  const char* name;
  std::function<void(CheckpointManifest*)> mutate;
  const char* expected_message;
};

class HostileManifestTest : public CheckpointReaderTest,
                            public ::testing::WithParamInterface<HostileCase> {};

TEST_P(HostileManifestTest, IsRejected) {
  CheckpointManifest manifest = LoadManifest();
  GetParam().mutate(&manifest);
  StoreManifest(manifest);
  const absl::Status status = OpenStatus(path_);
  ASSERT_FALSE(status.ok());
  EXPECT_TRUE(status.code() == absl::StatusCode::kInvalidArgument ||
              status.code() == absl::StatusCode::kDataLoss)
      << status;
  EXPECT_THAT(std::string(status.message()), ::testing::HasSubstr(GetParam().expected_message));
}

CheckpointFile* UserParameters(CheckpointManifest* m) {
  return m->mutable_tables(1)->mutable_slots(0)->mutable_files(0);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, HostileManifestTest,
    ::testing::Values(
        HostileCase{"NegativeVocabulary",
                    [](CheckpointManifest* m) { m->mutable_tables(0)->set_vocabulary_size(-8); },
                    "vocabulary_size -8"},
        HostileCase{"HugeVocabulary",
                    [](CheckpointManifest* m) {
                      m->mutable_tables(0)->set_vocabulary_size(int64_t{1} << 62);
                    },
                    "vocabulary_size"},
        HostileCase{"ZeroDim", [](CheckpointManifest* m) { m->mutable_tables(1)->set_dim(0); },
                    "dim 0"},
        HostileCase{"NegativeDim", [](CheckpointManifest* m) { m->mutable_tables(1)->set_dim(-3); },
                    "dim -3"},
        HostileCase{"HugeDim",
                    [](CheckpointManifest* m) { m->mutable_tables(1)->set_dim(1 << 30); }, "dim"},
        HostileCase{"AbsurdRows",
                    [](CheckpointManifest* m) {
                      UserParameters(m)->set_rows(int64_t{1} << 60);
                      UserParameters(m)->set_byte_size(int64_t{1} << 62);
                    },
                    "rows"},
        HostileCase{"ByteSizeDisagrees",
                    [](CheckpointManifest* m) { UserParameters(m)->set_byte_size(1 << 20); },
                    "byte_size"},
        HostileCase{"DotDotPath",
                    [](CheckpointManifest* m) { UserParameters(m)->set_path("../latest"); },
                    "not \"dir/name\""},
        HostileCase{"AbsolutePath",
                    [](CheckpointManifest* m) { UserParameters(m)->set_path("/etc/passwd"); },
                    "not \"dir/name\""},
        HostileCase{"DeepPath",
                    [](CheckpointManifest* m) { UserParameters(m)->set_path("a/b/c.f32"); },
                    "not \"dir/name\""},
        HostileCase{"DotDotDirectory",
                    [](CheckpointManifest* m) { UserParameters(m)->set_path("../parameters.f32"); },
                    "not \"dir/name\""},
        HostileCase{"EmptyPath", [](CheckpointManifest* m) { UserParameters(m)->set_path(""); },
                    "not \"dir/name\""},
        HostileCase{"SameFileTwice",
                    [](CheckpointManifest* m) {
                      UserParameters(m)->set_path(m->tables(1).slots(1).files(0).path());
                    },
                    "listed twice"},
        HostileCase{"UnknownOptimizer",
                    [](CheckpointManifest* m) { m->mutable_tables(0)->set_optimizer("lion"); },
                    "unknown optimizer"},
        HostileCase{"WrongSlotName",
                    [](CheckpointManifest* m) {
                      m->mutable_tables(0)->mutable_slots(1)->set_name("accumulators");
                    },
                    "expected slot 1"},
        HostileCase{
            "MissingSlot",
            [](CheckpointManifest* m) { m->mutable_tables(0)->mutable_slots()->RemoveLast(); },
            "has 3 slots"},
        HostileCase{"RowsMissing",
                    [](CheckpointManifest* m) {
                      UserParameters(m)->set_rows(12);
                      UserParameters(m)->set_byte_size(12 * 2 * 4);
                    },
                    "hold 12 rows"},
        HostileCase{"RowsShifted",
                    [](CheckpointManifest* m) { UserParameters(m)->set_row_begin(1); },
                    "starts at row 1"},
        HostileCase{"BadStride",
                    [](CheckpointManifest* m) { UserParameters(m)->set_row_stride(2); },
                    "row_stride"},
        HostileCase{
            "NoFiles",
            [](CheckpointManifest* m) { m->mutable_tables(0)->mutable_slots(0)->clear_files(); },
            "has 0 files"},
        HostileCase{"DuplicateTable",
                    [](CheckpointManifest* m) { m->mutable_tables(1)->set_name("video"); },
                    "duplicate table name"},
        HostileCase{"NoTables", [](CheckpointManifest* m) { m->clear_tables(); }, "0 tables"},
        HostileCase{"NegativeStep", [](CheckpointManifest* m) { m->set_step(-1); },
                    "negative step"},
        // The stored config's layout (what `embrt eval` would size an engine by).
        HostileCase{"HugeBatch",
                    [](CheckpointManifest* m) {
                      m->mutable_config()->set_per_replica_batch_size(2000000000);
                    },
                    "config.per_replica_batch_size 2000000000 is not in [0, 16777216]"},
        HostileCase{"NegativeBatch",
                    [](CheckpointManifest* m) {
                      m->mutable_config()->set_per_replica_batch_size(-1);
                    },
                    "config.per_replica_batch_size -1"},
        HostileCase{"HugeReplicaCount",
                    [](CheckpointManifest* m) { m->mutable_config()->set_num_replicas(100000); },
                    "config.num_replicas 100000"},
        HostileCase{"HugeHostCount",
                    [](CheckpointManifest* m) { m->mutable_config()->set_num_hosts(1 << 30); },
                    "config.num_hosts 1073741824"},
        HostileCase{"HostIdOutOfRange",
                    [](CheckpointManifest* m) {
                      m->mutable_config()->set_num_hosts(2);
                      m->mutable_config()->set_host_id(7);
                    },
                    "config.host_id 7 is not in [0, 1]"},
        HostileCase{"ManifestHostCount", [](CheckpointManifest* m) { m->set_num_hosts(-4); },
                    "num_hosts -4"},
        // Chunk checksums: absent together, or one per chunk_bytes of the file.
        HostileCase{"ChunkChecksumMissing",
                    [](CheckpointManifest* m) {
                      UserParameters(m)->mutable_chunk_xxh3_64()->RemoveLast();
                    },
                    "has 0 chunk checksums of chunk_bytes 16777216 for byte_size 104"},
        HostileCase{"ChunkChecksumExtra",
                    [](CheckpointManifest* m) { UserParameters(m)->add_chunk_xxh3_64(7); },
                    "has 2 chunk checksums"},
        HostileCase{"ZeroChunkBytes",
                    [](CheckpointManifest* m) { UserParameters(m)->set_chunk_bytes(0); },
                    "chunk_bytes 0"},
        HostileCase{"NegativeChunkBytes",
                    [](CheckpointManifest* m) { UserParameters(m)->set_chunk_bytes(-16); },
                    "chunk_bytes -16"},
        HostileCase{"ChunkChecksumsWithoutChunkBytes",
                    [](CheckpointManifest* m) { UserParameters(m)->clear_chunk_bytes(); },
                    "chunk_bytes 0"},
        HostileCase{"ChunkBytesTooSmallForTheCount",
                    [](CheckpointManifest* m) { UserParameters(m)->set_chunk_bytes(8); },
                    "has 1 chunk checksums of chunk_bytes 8 for byte_size 104"}),
    [](const ::testing::TestParamInfo<HostileCase>& info) { return info.param.name; });

}  // namespace
}  // namespace embrt
