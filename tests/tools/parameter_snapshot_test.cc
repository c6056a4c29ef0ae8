// Copyright embrt authors.

#include "tools/training/parameter_snapshot.h"

#include <memory>
#include <optional>
#include <vector>

#include "embrt/config.h"
#include "embrt/embedding.h"
#include "embrt/embedding_tables.h"
#include "gtest/gtest.h"

namespace embrt {
namespace training {
namespace {

std::unique_ptr<Embedding> SmallEmbedding() {
  absl::StatusOr<EmbeddingConfig> config = ParseConfigText(R"pb(
    tables {
      name: "a"
      vocabulary_size: 50
      dim: 3
      initializer { truncated_normal { stddev: 0.1 } }
    }
    tables { name: "b" vocabulary_size: 20 dim: 3 }
    features { name: "fa" table: "a" }
    features { name: "fb" table: "b" }
    optimizer {
      adagrad { initial_accumulator_value: 0.1 }
      learning_rate { constant: 0.5 }
    }
    backend { name: "cpu" }
    per_replica_batch_size: 4
  )pb");
  EXPECT_TRUE(config.ok()) << config.status();
  absl::StatusOr<std::unique_ptr<Embedding>> embedding = Embedding::Create(*config);
  EXPECT_TRUE(embedding.ok()) << embedding.status();
  EXPECT_TRUE((*embedding)->Build().ok());
  return std::move(*embedding);
}

void Step(Embedding& embedding) {
  const std::vector<int64_t> a = {1, 2, 3, 49}, b = {0, 5, 5, 19};
  ASSERT_TRUE(embedding.Enqueue({FeatureInput::Dense(a), FeatureInput::Dense(b)}).ok());
  absl::StatusOr<std::vector<Tensor>> activations = embedding.Dequeue();
  ASSERT_TRUE(activations.ok());
  std::vector<std::optional<TensorView>> gradients;
  for (Tensor& t : *activations) {
    for (float& v : t.values) v = 1.0f;
    gradients.push_back(TensorView::Of(t));
  }
  ASSERT_TRUE(embedding.ApplyGradients(gradients).ok());
}

TEST(ParameterSnapshotTest, RestoresTablesAndSlotsBitForBit) {
  std::unique_ptr<Embedding> embedding = SmallEmbedding();
  Step(*embedding);
  ParameterSnapshot snapshot;
  EXPECT_TRUE(snapshot.empty());
  EXPECT_FALSE(snapshot.Restore(*embedding).ok());
  ASSERT_TRUE(snapshot.Capture(*embedding).ok());
  absl::StatusOr<EmbeddingTables> captured = EmbeddingTables::FromEmbedding(*embedding);
  ASSERT_TRUE(captured.ok());
  Step(*embedding);
  Step(*embedding);
  absl::StatusOr<EmbeddingTables> moved = EmbeddingTables::FromEmbedding(*embedding);
  ASSERT_TRUE(moved.ok());
  ASSERT_TRUE(snapshot.Restore(*embedding).ok());
  absl::StatusOr<EmbeddingTables> restored = EmbeddingTables::FromEmbedding(*embedding);
  ASSERT_TRUE(restored.ok());
  auto values = [](const EmbeddingTables& tables, int t, int s) {
    const absl::Span<const float> span = tables.tables()[t].slots[s];
    return std::vector<float>(span.begin(), span.end());
  };
  for (int t = 0; t < 2; ++t) {
    ASSERT_EQ(captured->tables()[t].slots.size(), 2u);  // parameters, accumulators
    for (int s = 0; s < 2; ++s) {
      EXPECT_EQ(values(*restored, t, s), values(*captured, t, s)) << t << " " << s;
      EXPECT_NE(values(*moved, t, s), values(*captured, t, s)) << "the steps changed nothing";
    }
  }
}

}  // namespace
}  // namespace training
}  // namespace embrt
