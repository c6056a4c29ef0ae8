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
#include "embrt/config.h"
#include "embrt/embedding.h"
#include "embrt/inputs.h"
#include "embrt/sharding.h"
#include "gtest/gtest.h"

namespace embrt {
namespace {

constexpr int kLocalReplicas = 2;
constexpr int kBatch = 4;

std::string ConfigText(const std::string& layout, const std::string& learning_rate = "0.05") {
  return absl::StrCat(R"pb(
    tables {
      name: "wide"
      vocabulary_size: 23
      dim: 5
      combiner: MEAN
      initializer { random_uniform { minval: -1 maxval: 1 } }
    }
    tables {
      name: "hot"
      vocabulary_size: 3
      dim: 4
      combiner: SQRTN
      initializer { truncated_normal { seed: 3 } }
    }
    features { name: "bags" table: "wide" }
    features { name: "one_hot" table: "hot" }
    features { name: "clicks" table: "wide" max_sequence_length: 3 }
    per_replica_batch_size: 4
    seed: 11
    optimizer {
      adam {}
      learning_rate { constant: )pb",
                      learning_rate, R"pb( }
      gradient_clipping { lower: -0.5 upper: 0.5 }
      weight_decay_factor: 0.01
    }
    backend { name: "cpu" options { key: "threads" value: "1" } }
  )pb",
                      layout);
}

std::unique_ptr<Embedding> Create(const std::string& text) {
  absl::StatusOr<EmbeddingConfig> config = ParseConfigText(text);
  EXPECT_TRUE(config.ok()) << config.status();
  if (!config.ok()) return nullptr;
  absl::StatusOr<std::unique_ptr<Embedding>> embedding = Embedding::Create(*config);
  EXPECT_TRUE(embedding.ok()) << embedding.status();
  if (!embedding.ok()) return nullptr;
  return std::move(*embedding);
}

// A small deterministic generator, so every host makes the same global batch.
struct Lcg {
  uint64_t state;
  uint64_t Next() {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return state >> 33;
  }
};

// Global replica `replica`'s inputs and gradients at step `step`.
struct ReplicaStep {
  std::vector<int64_t> bag_splits, bag_ids, hot_ids, click_splits, click_ids;
  std::vector<float> bag_weights;
  std::vector<std::vector<float>> gradients;  // per feature

  ReplicaStep(int step, int replica) {
    Lcg random{static_cast<uint64_t>(step * 1000 + replica + 1)};
    bag_splits.push_back(0);
    click_splits.push_back(0);
    for (int b = 0; b < kBatch; ++b) {
      const int bag = static_cast<int>(random.Next() % 4);  // empty bags too
      for (int k = 0; k < bag; ++k) {
        bag_ids.push_back(static_cast<int64_t>(random.Next() % 23));
        bag_weights.push_back(0.25f * static_cast<float>(1 + random.Next() % 4));
      }
      bag_splits.push_back(static_cast<int64_t>(bag_ids.size()));
      hot_ids.push_back(static_cast<int64_t>(random.Next() % 3));  // every host hits every row
      const int clicks = static_cast<int>(random.Next() % 4);
      for (int k = 0; k < clicks; ++k) click_ids.push_back(static_cast<int64_t>(random.Next() % 23));
      click_splits.push_back(static_cast<int64_t>(click_ids.size()));
    }
    for (int size : {kBatch * 5, kBatch * 4, kBatch * 3 * 5}) {
      std::vector<float> g(size);
      for (float& v : g) v = static_cast<float>(static_cast<int>(random.Next() % 2001) - 1000) / 1000.0f;
      gradients.push_back(std::move(g));
    }
  }
  std::vector<FeatureInput> Inputs() const {
    return {FeatureInput::Ragged(bag_splits, bag_ids), FeatureInput::Dense(hot_ids),
            FeatureInput::Ragged(click_splits, click_ids)};
  }
  std::vector<std::optional<FeatureWeights>> Weights() const {
    return {FeatureWeights::Ragged(bag_weights), std::nullopt, std::nullopt};
  }
};

// Activations per (step, local replica) and every table's slots by global row.
struct Outcome {
  std::vector<std::vector<Tensor>> activations;
  std::vector<std::vector<std::vector<float>>> tables;  // [table][slot], [local rows, dim]
};

// Runs `steps` training steps for global replicas [first, first + replicas).
void Train(Embedding& embedding, int steps, int first, int replicas, Outcome* out) {
  for (int s = 0; s < steps; ++s) {
    std::vector<ReplicaStep> batch;
    for (int r = 0; r < replicas; ++r) batch.emplace_back(s, first + r);
    std::vector<std::vector<FeatureInput>> inputs;
    std::vector<std::vector<std::optional<FeatureWeights>>> weights;
    for (int r = 0; r < replicas; ++r) {
      inputs.push_back(batch[r].Inputs());
      weights.push_back(batch[r].Weights());
    }
    for (int r = 0; r < replicas; ++r) {
      ASSERT_TRUE(embedding.Enqueue(inputs[r], weights[r], true, r).ok());
    }
    for (int r = 0; r < replicas; ++r) {
      absl::StatusOr<std::vector<Tensor>> a = embedding.Dequeue(r);
      ASSERT_TRUE(a.ok()) << a.status();
      out->activations.push_back(std::move(*a));
    }
    for (int r = 0; r < replicas; ++r) {
      std::vector<std::optional<TensorView>> gradients;
      for (size_t f = 0; f < 3; ++f) {
        std::vector<int64_t> shape = out->activations.back()[f].shape;
        gradients.push_back(TensorView{batch[r].gradients[f], shape});
      }
      ASSERT_TRUE(embedding.ApplyGradients(gradients, r).ok());
    }
  }
  const auto& tables = embedding.config().tables;
  out->tables.assign(tables.size(), {});
  absl::Status status = embedding.RetrieveTables(
      [&](int t, int64_t begin, int64_t count, absl::Span<const absl::Span<const float>> slots) {
        auto& table = out->tables[t];
        table.resize(slots.size());
        for (size_t s = 0; s < slots.size(); ++s) {
          table[s].insert(table[s].end(), slots[s].begin(), slots[s].end());
        }
        return absl::OkStatus();
      });
  ASSERT_TRUE(status.ok()) << status;
}

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
    one_host_ = Create(ConfigText(absl::StrCat("num_hosts: 1 num_replicas: ",
                                               hosts_ * kLocalReplicas, " ", GetParam())));
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
}  // namespace embrt
