// Copyright embrt authors.
//
// Restoring onto another backend (mock), host count, sharding and replica count, and
// restoring before the first step in place of the initializers (read from the mock's trace).

#include <fstream>
#include <random>

#include "embrt/sharding.h"
#include "engine_test_util.h"

namespace embrt {
namespace {

using testing_util::CreateBuilt;
using testing_util::CreateBuiltFrom;
using testing_util::EngineConfigText;
using testing_util::RandomTrainingStep;
using testing_util::Snapshot;
using testing_util::TempDir;

std::unique_ptr<Embedding> CreateMock(const std::string& extra,
                                      const std::string& trace_file = "") {
  absl::StatusOr<EmbeddingConfig> config =
      ParseConfigText(EngineConfigText("sgd {}", "mock", extra));
  EXPECT_TRUE(config.ok()) << config.status();
  if (!config.ok()) return nullptr;
  if (!trace_file.empty()) {
    (*config->mutable_backend()->mutable_options())["trace_file"] = trace_file;
  }
  return CreateBuiltFrom(*config, /*chunk_rows=*/6);
}

std::vector<std::string> ReadLines(const std::string& path) {
  std::vector<std::string> lines;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

int CountPrefix(const std::vector<std::string>& lines, const std::string& prefix) {
  int count = 0;
  for (const std::string& line : lines) count += line.rfind(prefix, 0) == 0;
  return count;
}

class CheckpointMockTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::unique_ptr<Embedding> trained = CreateBuilt(EngineConfigText("sgd {}", "cpu"));
    ASSERT_NE(trained, nullptr);
    std::mt19937 random(21);
    for (int step = 0; step < 2; ++step) ASSERT_TRUE(RandomTrainingStep(*trained, random).ok());
    ASSERT_TRUE(SaveCheckpoint(*trained, root_.path()).ok());
    absl::StatusOr<std::unique_ptr<CheckpointReader>> reader = CheckpointReader::Open(root_.path());
    ASSERT_TRUE(reader.ok()) << reader.status();
    reader_ = std::move(*reader);
  }

  TempDir root_;
  std::unique_ptr<CheckpointReader> reader_;
};

// A 1-host cpu checkpoint (SGD: the mock trains only SGD) restored on host 1 of 2 (DIV and MOD), or
// host 2 of 3, with two replicas, on the mock: the engine holds exactly the checkpoint's rows of
// its shard.
TEST_F(CheckpointMockTest, RestoresOntoAnotherBackendHostCountAndSharding) {
  for (const char* layout : {"num_hosts: 2 host_id: 1 sharding: DIV num_replicas: 2",
                             "num_hosts: 2 host_id: 1 sharding: MOD num_replicas: 2",
                             "num_hosts: 3 host_id: 2 sharding: MOD"}) {
    SCOPED_TRACE(layout);
    std::unique_ptr<Embedding> mock = CreateMock(layout);
    ASSERT_NE(mock, nullptr);
    ASSERT_TRUE(RestoreCheckpoint(*mock, root_.path()).ok());
    EXPECT_EQ(mock->step(), 2);
    const EmbeddingConfig& config = mock->config().config;
    const Snapshot local = testing_util::Retrieve(*mock);
    for (size_t t = 0; t < local.size(); ++t) {
      const ResolvedTable& table = mock->config().tables[t];
      const int stored = reader_->FindTable(table.name);
      const int64_t rows = ShardRows(table.vocabulary_size, config.num_hosts(), config.host_id());
      ASSERT_EQ(local[t].size(), 1u);
      for (size_t s = 0; s < 1; ++s) {
        ASSERT_EQ(local[t][s].size(), static_cast<size_t>(rows * table.dim));
        for (int64_t j = 0; j < rows; ++j) {
          const int64_t global = GlobalRow(j, table.vocabulary_size, config.num_hosts(),
                                           config.host_id(), config.sharding());
          const absl::Span<const float> expected =
              reader_->Row(stored, static_cast<int>(s), global);
          ASSERT_EQ(std::memcmp(local[t][s].data() + j * table.dim, expected.data(),
                                table.dim * sizeof(float)),
                    0)
              << table.name << " slot " << s << " local row " << j << " global row " << global;
        }
      }
    }
  }
}

TEST_F(CheckpointMockTest, RestoreBeforeTheFirstStepReplacesTheInitializers) {
  TempDir traces;
  const std::string restored_trace = traces.path() + "/restored.trace";
  std::unique_ptr<Embedding> mock = CreateMock("", restored_trace);
  ASSERT_NE(mock, nullptr);
  ASSERT_TRUE(RestoreCheckpoint(*mock, root_.path()).ok());
  // The restore's own loads: straight from the mapped files (LoadTablesFrom), one per
  // Embedding::kSourceChunkBytes piece, so one per table of 37, 20 and 11 rows.
  const int restore_loads = 3;
  EXPECT_EQ(CountPrefix(ReadLines(restored_trace), "LoadTableShard"), restore_loads);
  std::mt19937 random(3);
  const auto batch = testing_util::RandomBatch::Make(mock->config(), 4, random);
  ASSERT_TRUE(mock->Enqueue(batch.Inputs(), {}, /*training=*/false).ok());
  ASSERT_TRUE(mock->Dequeue().ok());
  // The first step did not initialize (and so overwrite) the restored tables.
  EXPECT_EQ(CountPrefix(ReadLines(restored_trace), "LoadTableShard"), restore_loads);
  const Snapshot tables = testing_util::Retrieve(*mock);
  for (size_t s = 0; s < 1; ++s) {
    const absl::Span<const float> stored = reader_->ContiguousSlot(0, static_cast<int>(s));
    EXPECT_EQ(std::memcmp(tables[0][s].data(), stored.data(), stored.size() * 4), 0);
  }

  // Without a restore, the first step loads the initializers.
  const std::string fresh_trace = traces.path() + "/fresh.trace";
  std::unique_ptr<Embedding> fresh = CreateMock("", fresh_trace);
  ASSERT_NE(fresh, nullptr);
  EXPECT_EQ(CountPrefix(ReadLines(fresh_trace), "LoadTableShard"), 0);
  ASSERT_TRUE(fresh->Enqueue(batch.Inputs(), {}, /*training=*/false).ok());
  ASSERT_TRUE(fresh->Dequeue().ok());
  // One load per chunk of 6 rows of each table.
  EXPECT_EQ(CountPrefix(ReadLines(fresh_trace), "LoadTableShard"), 7 + 4 + 2);
}

}  // namespace
}  // namespace embrt
