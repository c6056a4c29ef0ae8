// Copyright embrt authors.
//
// embrt::Embedding on several hosts (started by mpirun, one process per host), against an
// in-process 1-host Embedding with every replica: the core takes num_hosts and host_id from the
// cpu backend (num_hosts: 0), checks that every host runs the same config, and makes a bad
// input on one host fail the call on every host without changing anything.

#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "embrt/config.h"
#include "embrt/embedding.h"
#include "embrt/inputs.h"
#include "embrt/sharding.h"
#include "gtest/gtest.h"
#include "training_fixture.h"

namespace embrt {
namespace multihost_test {
namespace {

void ExpectSameBytes(const Embedding& multi, const Outcome& one_host, const Outcome& mine,
                     int steps) {
  const EmbeddingConfig& layout = multi.config().config;
  const int hosts = layout.num_hosts();
  const int host = layout.host_id();
  for (int s = 0; s < steps; ++s) {
    for (int r = 0; r < kLocalReplicas; ++r) {
      const int global = host * kLocalReplicas + r;
      const auto& expected = one_host.activations[s * hosts * kLocalReplicas + global];
      const auto& actual = mine.activations[s * kLocalReplicas + r];
      for (size_t f = 0; f < expected.size(); ++f) {
        ASSERT_EQ(expected[f].values.size(), actual[f].values.size());
        EXPECT_EQ(std::memcmp(expected[f].values.data(), actual[f].values.data(),
                              sizeof(float) * expected[f].values.size()),
                  0)
            << "step " << s << " global replica " << global << " feature " << f;
      }
    }
  }
  for (size_t t = 0; t < mine.tables.size(); ++t) {
    const ResolvedTable& table = multi.config().tables[t];
    for (size_t s = 0; s < mine.tables[t].size(); ++s) {
      const int64_t rows = ShardRows(table.vocabulary_size, hosts, host);
      for (int64_t j = 0; j < rows; ++j) {
        const int64_t g = GlobalRow(j, table.vocabulary_size, hosts, host, layout.sharding());
        EXPECT_EQ(std::memcmp(mine.tables[t][s].data() + j * table.dim,
                              one_host.tables[t][s].data() + g * table.dim,
                              sizeof(float) * table.dim),
                  0)
            << table.name << " slot " << s << " global row " << g;
      }
    }
  }
}

class MultiHostEmbeddingTest : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    multi_ = Create(ConfigText(absl::StrCat("num_hosts: 0 num_replicas: ", kLocalReplicas, " ",
                                            GetParam())));
    ASSERT_NE(multi_, nullptr);
    hosts_ = multi_->config().config.num_hosts();
    host_ = multi_->config().config.host_id();
    if (hosts_ < 2) GTEST_SKIP() << "one process: start this test with mpirun -np 2 (or more)";
    // Several hosts run a pipelined engine unpipelined (plugins/cpu/README.md), so the one-host
    // reference runs without pipelining, which one host makes exactly one step stale.
    one_host_ = Create(ConfigText(absl::StrCat(
        "num_hosts: 1 num_replicas: ", hosts_ * kLocalReplicas, " ",
        absl::StrReplaceAll(GetParam(), {{"pipeline_execution: true", ""}}))));
    ASSERT_NE(one_host_, nullptr);
    ASSERT_TRUE(multi_->Build(kBatch).ok());
    ASSERT_TRUE(one_host_->Build(kBatch).ok());
  }
  std::unique_ptr<Embedding> multi_, one_host_;
  int hosts_ = 1;
  int host_ = 0;
};

TEST_P(MultiHostEmbeddingTest, TrainingIsByteEqualToOneHost) {
  constexpr int kSteps = 3;
  Outcome expected, actual;
  Train(*one_host_, kSteps, 0, hosts_ * kLocalReplicas, &expected);
  Train(*multi_, kSteps, host_ * kLocalReplicas, kLocalReplicas, &actual);
  ExpectSameBytes(*multi_, expected, actual, kSteps);
}

TEST_P(MultiHostEmbeddingTest, BadIdOnOneHostFailsEveryHostAndChangesNothing) {
  // Host 1's replica 0 sends id 23 of a 23-row table: every host's Enqueue of replica 0 fails
  // with host 1's status, then every host goes on as if the call had not happened.
  ReplicaStep bad(0, host_ * kLocalReplicas);
  if (host_ == 1) bad.bag_ids.push_back(23), bad.bag_splits.back() += 1, bad.bag_weights.push_back(1.0f);
  absl::Status status = multi_->Enqueue(bad.Inputs(), bad.Weights(), true, 0);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_TRUE(absl::StartsWith(status.message(), "host 1: ")) << status;
  EXPECT_TRUE(absl::StrContains(status.message(), "23")) << status;
  constexpr int kSteps = 2;
  Outcome expected, actual;
  Train(*one_host_, kSteps, 0, hosts_ * kLocalReplicas, &expected);
  Train(*multi_, kSteps, host_ * kLocalReplicas, kLocalReplicas, &actual);
  ExpectSameBytes(*multi_, expected, actual, kSteps);
}

INSTANTIATE_TEST_SUITE_P(Layouts, MultiHostEmbeddingTest,
                         ::testing::Values("sharding: DIV", "sharding: MOD",
                                           "sharding: MOD pipeline_execution: true"));

TEST(MultiHostConfigTest, AnotherConfigOnOneHostFailsBuildOnEveryHost) {
  // Host 1 trains with another learning rate: Build fails everywhere, naming host 1.
  std::unique_ptr<Embedding> probe = Create(ConfigText("num_hosts: 0"));
  ASSERT_NE(probe, nullptr);
  const int host = probe->config().config.host_id();
  if (probe->config().config.num_hosts() < 2) GTEST_SKIP() << "needs mpirun -np 2 or more";
  std::unique_ptr<Embedding> embedding =
      Create(ConfigText("num_hosts: 0", host == 1 ? "0.07" : "0.05"));
  ASSERT_NE(embedding, nullptr);
  absl::Status status = embedding->Build(kBatch);
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition) << status;
  EXPECT_TRUE(absl::StrContains(status.message(), "host 1 runs another config")) << status;
}

}  // namespace
}  // namespace multihost_test
}  // namespace embrt
