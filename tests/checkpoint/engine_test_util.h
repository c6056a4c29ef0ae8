// Copyright embrt authors.
//
// Helpers for checkpoint tests that drive a real engine: configs per optimizer, random
// training steps and whole-table snapshots.

#ifndef EMBRT_TESTS_CHECKPOINT_ENGINE_TEST_UTIL_H_
#define EMBRT_TESTS_CHECKPOINT_ENGINE_TEST_UTIL_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "checkpoint_test_util.h"
#include "embrt/embedding.h"
#include "embrt/status_macros.h"

namespace embrt {
namespace testing_util {

// Three tables (sum, sqrtn, mean), four features (one a sequence feature), batch 4.
inline std::string EngineConfigText(const std::string& optimizer, const std::string& backend,
                                    const std::string& extra = "") {
  return absl::StrCat(R"pb(
                        tables {
                          name: "alpha"
                          vocabulary_size: 37
                          dim: 8
                          combiner: SUM
                          initializer { random_uniform { minval: -1 maxval: 1 } }
                        }
                        tables { name: "beta" vocabulary_size: 20 dim: 3 combiner: SQRTN }
                        tables {
                          name: "gamma"
                          vocabulary_size: 11
                          dim: 5
                          combiner: MEAN
                          initializer { truncated_normal { seed: 4 } }
                        }
                        features { name: "f0" table: "alpha" }
                        features { name: "f1" table: "beta" }
                        features { name: "f2" table: "alpha" max_sequence_length: 3 }
                        features { name: "f3" table: "gamma" }
                        per_replica_batch_size: 4
                        seed: 99
                        optimizer {)pb",
                      optimizer, R"pb(                                       learning_rate { constant: 0.05 } }
                                                                             backend { name: ")pb",
                      backend, "\" } ", extra);
}

inline std::vector<std::string> AllOptimizers() {
  return {"sgd {}", "adagrad {}", "adagrad_momentum { momentum: 0.9 use_nesterov: true }",
          "adam {}", "ftrl { l1_regularization_strength: 0.01 }"};
}

// An Embedding created from `config` and built (NULL, with a test failure, on error).
inline std::unique_ptr<Embedding> CreateBuiltFrom(const EmbeddingConfig& config,
                                                  int64_t chunk_rows = 7) {
  EmbeddingOptions options;
  options.chunk_rows = chunk_rows;
  options.warning_sink = [](absl::string_view) {};
  absl::StatusOr<std::unique_ptr<Embedding>> embedding = Embedding::Create(config, options);
  EXPECT_TRUE(embedding.ok()) << embedding.status();
  if (!embedding.ok()) return nullptr;
  absl::Status built = (*embedding)->Build();
  EXPECT_TRUE(built.ok()) << built;
  return built.ok() ? std::move(*embedding) : nullptr;
}

inline std::unique_ptr<Embedding> CreateBuilt(const std::string& text, int64_t chunk_rows = 7) {
  absl::StatusOr<EmbeddingConfig> config = ParseConfigText(text);
  EXPECT_TRUE(config.ok()) << config.status();
  if (!config.ok()) return nullptr;
  return CreateBuiltFrom(*config, chunk_rows);
}

// Random ragged ids (bags of 0..3 ids) for every feature, owned.
struct RandomBatch {
  std::vector<std::vector<int64_t>> splits, ids;
  std::vector<std::vector<float>> weights;

  static RandomBatch Make(const ResolvedConfig& config, int batch, std::mt19937& random) {
    RandomBatch b;
    for (const ResolvedFeature& feature : config.features) {
      const int64_t vocab = config.tables[feature.table_index].vocabulary_size;
      auto& splits = b.splits.emplace_back(1, 0);
      auto& ids = b.ids.emplace_back();
      auto& weights = b.weights.emplace_back();
      for (int row = 0; row < batch; ++row) {
        const int n = static_cast<int>(random() % 4);
        for (int k = 0; k < n; ++k) {
          ids.push_back(static_cast<int64_t>(random() % vocab));
          weights.push_back(0.25f + static_cast<float>(random() % 8) / 4.0f);
        }
        splits.push_back(static_cast<int64_t>(ids.size()));
      }
    }
    return b;
  }

  std::vector<FeatureInput> Inputs() const {
    std::vector<FeatureInput> inputs;
    for (size_t f = 0; f < ids.size(); ++f)
      inputs.push_back(FeatureInput::Ragged(splits[f], ids[f]));
    return inputs;
  }
  // Weights for non-sequence features (sequence features take none).
  std::vector<std::optional<FeatureWeights>> Weights(const ResolvedConfig& config) const {
    std::vector<std::optional<FeatureWeights>> w;
    for (size_t f = 0; f < ids.size(); ++f) {
      if (config.features[f].max_sequence_length > 0) {
        w.emplace_back(std::nullopt);
      } else {
        w.emplace_back(FeatureWeights::Ragged(weights[f]));
      }
    }
    return w;
  }
};

// One training step with random ids and gradients drawn from `random`.
inline absl::Status RandomTrainingStep(Embedding& embedding, std::mt19937& random) {
  const ResolvedConfig& config = embedding.config();
  const RandomBatch batch = RandomBatch::Make(config, 4, random);
  EMBRT_RETURN_IF_ERROR(embedding.Enqueue(batch.Inputs(), batch.Weights(config), true));
  EMBRT_ASSIGN_OR_RETURN(std::vector<Tensor> activations, embedding.Dequeue());
  std::uniform_real_distribution<float> gradient(-1.0f, 1.0f);
  for (Tensor& t : activations) {
    for (float& v : t.values) v = gradient(random);
  }
  std::vector<std::optional<TensorView>> views;
  for (const Tensor& t : activations) views.push_back(TensorView::Of(t));
  return embedding.ApplyGradients(views);
}

// Every slot of every table: [table][slot] = rows row-major, as retrieved.
using Snapshot = std::vector<std::vector<std::vector<float>>>;
inline Snapshot Retrieve(Embedding& embedding) {
  Snapshot snapshot(embedding.config().tables.size());
  absl::Status status =
      embedding.RetrieveTables([&](int table, int64_t begin, int64_t count,
                                   absl::Span<const absl::Span<const float>> slots) {
        auto& stored = snapshot[table];
        stored.resize(slots.size());
        const size_t dim = embedding.config().tables[table].dim;
        for (size_t s = 0; s < slots.size(); ++s) {
          stored[s].resize(std::max(stored[s].size(), static_cast<size_t>(begin + count) * dim));
          std::copy(slots[s].begin(), slots[s].end(), stored[s].begin() + begin * dim);
        }
        return absl::OkStatus();
      });
  EXPECT_TRUE(status.ok()) << status;
  return snapshot;
}

// Bitwise equality of two snapshots (NaN-safe, -0 != +0).
inline bool SameBits(const Snapshot& a, const Snapshot& b) {
  if (a.size() != b.size()) return false;
  for (size_t t = 0; t < a.size(); ++t) {
    if (a[t].size() != b[t].size()) return false;
    for (size_t s = 0; s < a[t].size(); ++s) {
      if (a[t][s].size() != b[t][s].size() ||
          std::memcmp(a[t][s].data(), b[t][s].data(), a[t][s].size() * 4) != 0) {
        return false;
      }
    }
  }
  return true;
}

}  // namespace testing_util
}  // namespace embrt

#endif  // EMBRT_TESTS_CHECKPOINT_ENGINE_TEST_UTIL_H_
