// Copyright embrt authors.
//
// Tests of WriteCheckpoint (core/src/checkpoint_writer.cc) without an engine: the directory
// layout, the manifest, `latest`, keep_last, refusing to overwrite a step, and failures that must leave
// the root as it was.

#include <dirent.h>

#include <algorithm>
#include <string>
#include <vector>

#include "checkpoint_manifest.h"
#include "checkpoint_test_util.h"

namespace embrt {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;
using testing_util::ReadFile;
using testing_util::ResolveOrDie;
using testing_util::StatusIs;
using testing_util::SyntheticTables;
using testing_util::TempDir;

constexpr char kConfig[] = R"pb(
  tables {
    name: "video"
    vocabulary_size: 8
    dim: 4
    optimizer { adagrad {} }
  }
  tables {
    name: "user"
    vocabulary_size: 13
    dim: 2
    optimizer { ftrl {} }
  }
  tables { name: "odd/name" vocabulary_size: 5 dim: 3 }
  tables { name: "manifest.pb" vocabulary_size: 2 dim: 1 }
  features { name: "watched" table: "video" }
  features { name: "friends" table: "user" }
  features { name: "misc" table: "odd/name" }
  features { name: "clash" table: "manifest.pb" }
)pb";

std::vector<std::string> List(const std::string& dir) {
  std::vector<std::string> names;
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return names;
  while (dirent* e = readdir(d)) {
    const std::string name = e->d_name;
    if (name != "." && name != "..") names.push_back(name);
  }
  closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

TEST(CheckpointWriterTest, WritesLayoutManifestAndLatest) {
  const ResolvedConfig config = ResolveOrDie(kConfig);
  const SyntheticTables tables = SyntheticTables::Make(config, 7);
  TempDir root;
  absl::StatusOr<std::string> path =
      WriteCheckpoint(config, 42, tables.AsRetrieve(config), root.path() + "/a/b");
  ASSERT_TRUE(path.ok()) << path.status();
  EXPECT_EQ(*path, root.path() + "/a/b/ckpt-42");
  EXPECT_THAT(List(root.path() + "/a/b"), ElementsAre("ckpt-42", "latest"));
  EXPECT_EQ(ReadFile(root.path() + "/a/b/latest"), "ckpt-42\n");
  // Table directories use the table name when it is a plain file name.
  // A name that is not a plain file name, or one that clashes, becomes "table-<index>".
  EXPECT_THAT(List(*path),
              ElementsAre("manifest.pb", "manifest.txt", "table-2", "table-3", "user", "video"));
  EXPECT_THAT(List(*path + "/video"), ElementsAre("accumulators.f32", "parameters.f32"));
  EXPECT_THAT(List(*path + "/user"),
              ElementsAre("accumulators.f32", "linears.f32", "parameters.f32"));

  // The parameter file is the raw table, row-major little-endian float32.
  const std::string bytes = ReadFile(*path + "/user/linears.f32");
  ASSERT_EQ(bytes.size(), 13u * 2 * 4);
  EXPECT_EQ(std::memcmp(bytes.data(), tables.values[1][2].data(), bytes.size()), 0);

  absl::StatusOr<CheckpointManifest> manifest =
      internal::DecodeManifestFile(ReadFile(*path + "/manifest.pb"), "m");
  ASSERT_TRUE(manifest.ok()) << manifest.status();
  EXPECT_EQ(manifest->format_version(), kCheckpointFormatVersion);
  EXPECT_EQ(manifest->step(), 42);
  EXPECT_EQ(manifest->created_by(), "embrt");
  EXPECT_GT(manifest->created_unix_micros(), 0);
  ASSERT_EQ(manifest->tables_size(), 4);
  const CheckpointTable& user = manifest->tables(1);
  EXPECT_EQ(user.name(), "user");
  EXPECT_EQ(user.vocabulary_size(), 13);
  EXPECT_EQ(user.dim(), 2);
  EXPECT_EQ(user.optimizer(), "ftrl");
  ASSERT_EQ(user.slots_size(), 3);
  EXPECT_EQ(user.slots(2).name(), "linears");
  ASSERT_EQ(user.slots(2).files_size(), 1);
  const CheckpointFile& file = user.slots(2).files(0);
  EXPECT_EQ(file.path(), "user/linears.f32");
  EXPECT_EQ(file.rows(), 13);
  EXPECT_EQ(file.row_begin(), 0);
  EXPECT_EQ(file.byte_size(), 13 * 2 * 4);
  EXPECT_EQ(file.xxh3_64(), internal::Xxh3Of(bytes.data(), bytes.size()));
  EXPECT_EQ(manifest->tables(2).name(), "odd/name");
  EXPECT_EQ(manifest->tables(2).slots(0).files(0).path(), "table-2/parameters.f32");
  EXPECT_EQ(manifest->tables(3).slots(0).files(0).path(), "table-3/parameters.f32");
  EXPECT_EQ(manifest->config().tables_size(), 4);
  EXPECT_TRUE(CheckpointReader::Open(*path).ok());
}

TEST(CheckpointWriterTest, ChunksOutOfOrderGiveTheSameFilesAndChecksums) {
  const ResolvedConfig config = ResolveOrDie(kConfig);
  const SyntheticTables tables = SyntheticTables::Make(config, 3);
  TempDir in_order, reversed;
  ASSERT_TRUE(WriteCheckpoint(config, 1, tables.AsRetrieve(config), in_order.path()).ok());
  ASSERT_TRUE(WriteCheckpoint(config, 1, tables.AsRetrieve(config, true), reversed.path()).ok());
  for (const char* file : {"video/parameters.f32", "user/accumulators.f32"}) {
    EXPECT_EQ(ReadFile(in_order.path() + "/ckpt-1/" + file),
              ReadFile(reversed.path() + "/ckpt-1/" + file));
  }
  auto a = internal::DecodeManifestFile(ReadFile(in_order.path() + "/ckpt-1/manifest.pb"), "a");
  auto b = internal::DecodeManifestFile(ReadFile(reversed.path() + "/ckpt-1/manifest.pb"), "b");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->tables(1).slots(1).files(0).xxh3_64(), b->tables(1).slots(1).files(0).xxh3_64());
  EXPECT_TRUE(CheckpointReader::Open(reversed.path()).ok());
}

// A file larger than a write piece (2 MiB, aligned in the file), from chunks whose ends fall
// between piece boundaries: every byte lands where it belongs, and the checksum computed while
// writing matches the file (CheckpointReader::Open verifies it).
TEST(CheckpointWriterTest, LargeFileFromUnalignedChunksIsExactAndVerifies) {
  const ResolvedConfig config = ResolveOrDie(R"pb(
    tables { name: "wide" vocabulary_size: 30000 dim: 37 }
    features { table: "wide" })pb");
  const SyntheticTables tables = SyntheticTables::Make(config, 3);
  TempDir root;
  absl::StatusOr<std::string> path = WriteCheckpoint(
      config, 1,
      [&](const Embedding::RowSink& sink) {
        return tables.Retrieve(config, sink, /*chunk_rows=*/10001);  // 1,480,148 bytes
      },
      root.path());
  ASSERT_TRUE(path.ok()) << path.status();
  const std::string bytes = ReadFile(*path + "/wide/parameters.f32");
  ASSERT_EQ(bytes.size(), size_t{30000} * 37 * 4);
  EXPECT_EQ(std::memcmp(bytes.data(), tables.values[0][0].data(), bytes.size()), 0);
  absl::StatusOr<std::unique_ptr<CheckpointReader>> reader = CheckpointReader::Open(*path);
  EXPECT_TRUE(reader.ok()) << reader.status();
}

TEST(CheckpointWriterTest, KeepLastDeletesOlderCheckpointsAfterTheNewOne) {
  const ResolvedConfig config = ResolveOrDie(kConfig);
  TempDir root;
  CheckpointOptions options;
  options.keep_last = 2;
  options.write_text_manifest = false;
  for (int step = 1; step <= 5; ++step) {
    const SyntheticTables tables = SyntheticTables::Make(config, step);
    ASSERT_TRUE(
        WriteCheckpoint(config, step * 10, tables.AsRetrieve(config), root.path(), options).ok());
  }
  EXPECT_THAT(List(root.path()), ElementsAre("ckpt-40", "ckpt-50", "latest"));
  EXPECT_THAT(List(root.path() + "/ckpt-50"),
              UnorderedElementsAre("manifest.pb", "table-2", "table-3", "user", "video"));
  // keep_last 1 keeps only the new one; 0 keeps everything.
  options.keep_last = 1;
  const SyntheticTables tables = SyntheticTables::Make(config, 6);
  ASSERT_TRUE(WriteCheckpoint(config, 60, tables.AsRetrieve(config), root.path(), options).ok());
  EXPECT_THAT(List(root.path()), ElementsAre("ckpt-60", "latest"));
  options.keep_last = 0;
  ASSERT_TRUE(WriteCheckpoint(config, 70, tables.AsRetrieve(config), root.path(), options).ok());
  EXPECT_THAT(List(root.path()), ElementsAre("ckpt-60", "ckpt-70", "latest"));
}

TEST(CheckpointWriterTest, SameStepIsAnErrorAndNeverOverwrites) {
  const ResolvedConfig config = ResolveOrDie(kConfig);
  TempDir root;
  const SyntheticTables first = SyntheticTables::Make(config, 1);
  const SyntheticTables second = SyntheticTables::Make(config, 2);
  ASSERT_TRUE(WriteCheckpoint(config, 5, first.AsRetrieve(config), root.path()).ok());
  EXPECT_THAT(WriteCheckpoint(config, 5, second.AsRetrieve(config), root.path()),
              ::testing::Property(&absl::StatusOr<std::string>::status,
                                  StatusIs(absl::StatusCode::kAlreadyExists, "ckpt-5")));
  EXPECT_THAT(List(root.path()), ElementsAre("ckpt-5", "latest"));
  auto reader = CheckpointReader::Open(root.path());
  ASSERT_TRUE(reader.ok()) << reader.status();
  EXPECT_EQ((*reader)->Row(0, 0, 3)[1], SyntheticTables::Value(1, 0, 0, 3, 1));
}

TEST(CheckpointWriterTest, FailedRetrieveLeavesTheRootAsItWas) {
  const ResolvedConfig config = ResolveOrDie(kConfig);
  TempDir root;
  const SyntheticTables tables = SyntheticTables::Make(config, 1);
  ASSERT_TRUE(WriteCheckpoint(config, 1, tables.AsRetrieve(config), root.path()).ok());
  int calls = 0;
  const RetrieveTablesFunction failing = [&](const Embedding::RowSink& sink) -> absl::Status {
    absl::Status status = tables.Retrieve(
        config, [&](int t, int64_t b, int64_t n, absl::Span<const absl::Span<const float>> s) {
          if (++calls == 4) return absl::UnavailableError("device lost");
          return sink(t, b, n, s);
        });
    return status;
  };
  EXPECT_THAT(WriteCheckpoint(config, 2, failing, root.path()),
              ::testing::Property(&absl::StatusOr<std::string>::status,
                                  StatusIs(absl::StatusCode::kUnavailable, "device lost")));
  EXPECT_THAT(List(root.path()), ElementsAre("ckpt-1", "latest"));
  EXPECT_EQ(ReadFile(root.path() + "/latest"), "ckpt-1\n");

  // A backend that returns too few rows is caught too.
  const RetrieveTablesFunction short_read = [&](const Embedding::RowSink& sink) {
    return sink(0, 0, 1, {});
  };
  EXPECT_FALSE(WriteCheckpoint(config, 3, short_read, root.path()).ok());
  const RetrieveTablesFunction nothing = [](const Embedding::RowSink&) { return absl::OkStatus(); };
  EXPECT_THAT(WriteCheckpoint(config, 3, nothing, root.path()),
              ::testing::Property(&absl::StatusOr<std::string>::status,
                                  StatusIs(absl::StatusCode::kInternal, "0 of 8 rows")));
  EXPECT_THAT(List(root.path()), ElementsAre("ckpt-1", "latest"));
}

TEST(CheckpointWriterTest, StaleTemporariesOfDeadWritersAreRemoved) {
  const ResolvedConfig config = ResolveOrDie(kConfig);
  TempDir root;
  // pid 2^22 + 1 is above Linux's pid_max limit, so no such process exists.
  const std::string stale = root.path() + "/.tmp-ckpt-9-4194305";
  ASSERT_EQ(mkdir(stale.c_str(), 0755), 0);
  const SyntheticTables tables = SyntheticTables::Make(config, 1);
  ASSERT_TRUE(WriteCheckpoint(config, 1, tables.AsRetrieve(config), root.path()).ok());
  EXPECT_THAT(List(root.path()), ElementsAre("ckpt-1", "latest"));
}

TEST(CheckpointWriterTest, WriteCheckpointIsForOneHost) {
  // Several hosts save through SaveCheckpoint (tests/multihost/multihost_checkpoint_test.cc).
  const ResolvedConfig config = ResolveOrDie(std::string(kConfig) + " num_hosts: 2 host_id: 0");
  TempDir root;
  const SyntheticTables tables = SyntheticTables::Make(config, 1);
  const absl::Status status =
      WriteCheckpoint(config, 1, tables.AsRetrieve(config), root.path()).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_THAT(std::string(status.message()), HasSubstr("SaveCheckpoint"));
}

}  // namespace
}  // namespace embrt
