// Copyright embrt authors.
//
// File: tests/multihost/training_fixture.h
// ----------------------------------------
// A small config (three features on two tables, Adam with clipping and weight decay, a hot
// 3-row table every host hits) and deterministic per-(step, global replica) batches, so that
// every host of an mpirun job and an in-process 1-host engine train on the same global batch.

#ifndef EMBRT_TESTS_MULTIHOST_TRAINING_FIXTURE_H_
#define EMBRT_TESTS_MULTIHOST_TRAINING_FIXTURE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "embrt/config.h"
#include "embrt/embedding.h"
#include "embrt/inputs.h"
#include "gtest/gtest.h"

namespace embrt {
namespace multihost_test {

constexpr int kLocalReplicas = 2;
constexpr int kBatch = 4;

inline std::string ConfigText(const std::string& layout, const std::string& learning_rate = "0.05") {
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

inline std::unique_ptr<Embedding> Create(const std::string& text) {
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
inline void Train(Embedding& embedding, int steps, int first, int replicas, Outcome* out) {
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

}  // namespace multihost_test
}  // namespace embrt

#endif  // EMBRT_TESTS_MULTIHOST_TRAINING_FIXTURE_H_
