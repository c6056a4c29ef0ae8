// Copyright embrt authors.
//
// Checkpoints of multi-host engines (started by mpirun, one process per host): SaveCheckpoint
// on N hosts writes every host's shard and one manifest, and the checkpoint holds the same
// bytes as the checkpoint of a 1-host engine that trained on the same global batch. It
// restores onto 1, 2 and 4 hosts (the rows each host of M would load) and onto this job's
// N hosts, bytes equal after the round trip, and ServingLookup reads it.

#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "embrt/checkpoint.h"
#include "embrt/config.h"
#include "embrt/embedding.h"
#include "embrt/serving.h"
#include "embrt/sharding.h"
#include "gtest/gtest.h"
#include "training_fixture.h"

namespace embrt {
namespace multihost_test {
namespace {

// Every row of every slot of two checkpoints compared byte for byte; "" when equal.
std::string CompareCheckpoints(const std::string& a_path, const std::string& b_path) {
  auto a = CheckpointReader::Open(a_path);
  auto b = CheckpointReader::Open(b_path);
  if (!a.ok()) return a.status().ToString();
  if (!b.ok()) return b.status().ToString();
  if ((*a)->step() != (*b)->step()) return "steps differ";
  for (int t = 0; t < (*a)->num_tables(); ++t) {
    const auto& table = (*a)->manifest().tables(t);
    const int u = (*b)->FindTable(table.name());
    if (u < 0) return "missing table " + table.name();
    for (int s = 0; s < table.slots_size(); ++s) {
      for (int64_t row = 0; row < table.vocabulary_size(); ++row) {
        absl::Span<const float> x = (*a)->Row(t, s, row);
        absl::Span<const float> y = (*b)->Row(u, s, row);
        if (x.size() != y.size() || std::memcmp(x.data(), y.data(), x.size() * 4) != 0) {
          return absl::StrCat(table.name(), " slot ", s, " row ", row, " differs");
        }
      }
    }
  }
  return "";
}

// Every local row of every slot of `embedding`, [table][slot].
std::vector<std::vector<std::vector<float>>> Retrieve(Embedding& embedding) {
  std::vector<std::vector<std::vector<float>>> out(embedding.config().tables.size());
  absl::Status status = embedding.RetrieveTables(
      [&](int t, int64_t, int64_t, absl::Span<const absl::Span<const float>> slots) {
        out[t].resize(slots.size());
        for (size_t s = 0; s < slots.size(); ++s) {
          out[t][s].insert(out[t][s].end(), slots[s].begin(), slots[s].end());
        }
        return absl::OkStatus();
      });
  EXPECT_TRUE(status.ok()) << status;
  return out;
}

TEST(MultiHostCheckpointTest, SavedByEveryHostRestoresOntoAnyHostCount) {
  std::unique_ptr<Embedding> multi =
      Create(ConfigText(absl::StrCat("num_hosts: 0 num_replicas: ", kLocalReplicas,
                                     " sharding: MOD")));
  ASSERT_NE(multi, nullptr);
  const int hosts = multi->config().config.num_hosts();
  const int host = multi->config().config.host_id();
  if (hosts < 2) GTEST_SKIP() << "one process: start this test with mpirun -np 2 (or more)";
  ASSERT_TRUE(multi->Build(kBatch).ok());
  // One root for the job: host 0's pid names it.
  auto pids = multi->AllGatherFromHosts(absl::StrCat(::getpid()));
  ASSERT_TRUE(pids.ok()) << pids.status();
  const std::string root = absl::StrCat(::testing::TempDir(), "/embrt-multihost-ckpt-", (*pids)[0]);
  const std::string root_one = absl::StrCat(root, "-one-host-", host);

  constexpr int kSteps = 2;
  Outcome mine, expected;
  Train(*multi, kSteps, host * kLocalReplicas, kLocalReplicas, &mine);
  std::unique_ptr<Embedding> one_host = Create(ConfigText(
      absl::StrCat("num_hosts: 1 num_replicas: ", hosts * kLocalReplicas, " sharding: MOD")));
  ASSERT_NE(one_host, nullptr);
  ASSERT_TRUE(one_host->Build(kBatch).ok());
  Train(*one_host, kSteps, 0, hosts * kLocalReplicas, &expected);

  absl::StatusOr<std::string> saved = SaveCheckpoint(*multi, root);
  ASSERT_TRUE(saved.ok()) << saved.status();
  absl::StatusOr<std::string> saved_one = SaveCheckpoint(*one_host, root_one);
  ASSERT_TRUE(saved_one.ok()) << saved_one.status();
  // Every host sees the same finished checkpoint: one manifest, every host's shard files.
  EXPECT_EQ(CompareCheckpoints(*saved, *saved_one), "");
  auto reader = CheckpointReader::Open(root);
  ASSERT_TRUE(reader.ok()) << reader.status();
  EXPECT_EQ((*reader)->manifest().tables(0).slots(0).files_size(), hosts);
  EXPECT_EQ((*reader)->step(), kSteps);

  // N -> M for M = 1, 2, 4 (DIV and MOD): the rows RestoreCheckpoint loads onto host h of M
  // (CheckpointReader::ReadShardRows, what its row filler calls) are the 1-host rows.
  const std::vector<std::vector<std::vector<float>>> full = Retrieve(*one_host);
  for (int m : {1, 2, 4}) {
    for (Sharding sharding : {DIV, MOD}) {
      for (int h = 0; h < m; ++h) {
        for (int t = 0; t < (*reader)->num_tables(); ++t) {
          const ResolvedTable& table = one_host->config().tables[t];
          ASSERT_EQ((*reader)->FindTable(table.name), t);
          const int64_t rows = ShardRows(table.vocabulary_size, m, h);
          std::vector<float> local(rows * table.dim);
          for (size_t s = 0; s < full[t].size(); ++s) {
            ASSERT_TRUE((*reader)
                            ->ReadShardRows(t, static_cast<int>(s), m, h, sharding, 0, rows,
                                            absl::MakeSpan(local))
                            .ok());
            for (int64_t j = 0; j < rows; ++j) {
              const int64_t g = GlobalRow(j, table.vocabulary_size, m, h, sharding);
              ASSERT_EQ(std::memcmp(local.data() + j * table.dim,
                                    full[t][s].data() + g * table.dim, table.dim * 4),
                        0)
                  << "host " << h << " of " << m << ": " << table.name << " slot " << s
                  << " row " << g;
            }
          }
        }
      }
    }
  }

  // 1 -> N -> saved again: the same bytes (a round trip through this job's hosts, DIV now).
  std::unique_ptr<Embedding> restored = Create(ConfigText(
      absl::StrCat("num_hosts: 0 num_replicas: ", kLocalReplicas, " sharding: DIV")));
  ASSERT_NE(restored, nullptr);
  ASSERT_TRUE(restored->Build(kBatch).ok());
  ASSERT_TRUE(RestoreCheckpoint(*restored, *saved_one).ok());
  const std::string root_again = root + "-again";
  absl::StatusOr<std::string> again = SaveCheckpoint(*restored, root_again);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(CompareCheckpoints(*again, *saved_one), "");

  // ServingLookup reads the multi-host checkpoint as it reads the 1-host one.
  auto serving = ServingLookup::Open(root);
  auto serving_one = ServingLookup::Open(root_one);
  ASSERT_TRUE(serving.ok()) << serving.status();
  ASSERT_TRUE(serving_one.ok()) << serving_one.status();
  ReplicaStep batch(7, host);
  auto a = (*serving)->Lookup(batch.Inputs(), batch.Weights());
  auto b = (*serving_one)->Lookup(batch.Inputs(), batch.Weights());
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE(b.ok()) << b.status();
  for (size_t f = 0; f < a->size(); ++f) {
    EXPECT_EQ(std::memcmp((*a)[f].values.data(), (*b)[f].values.data(),
                          (*a)[f].values.size() * 4),
              0);
  }
  ASSERT_TRUE(multi->AgreeOnStatus(absl::OkStatus()).ok());  // everyone is done reading
  std::filesystem::remove_all(root_one);
  if (host == 0) {
    std::filesystem::remove_all(root);
    std::filesystem::remove_all(root_again);
  }
}

}  // namespace
}  // namespace multihost_test
}  // namespace embrt
