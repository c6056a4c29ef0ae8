// Copyright embrt authors.
//
// TF's simulated quantization (plugin_api/MATH.md §4.7, goldens §5.8) through the public
// API, embrt::Embedding on the cpu backend: each looked-up element is quantized before the
// combiner, the stored table stays f32 and gradients pass straight through.

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
#include "golden_fixture.h"
#include "gtest/gtest.h"

namespace embrt {
namespace golden {
namespace {

// §5.8 inputs: row r of each table holds kValues[r] in every column.
const std::vector<float> kThreeBucketValues = {0.4f, 0.6f, 5.0f, -0.5f, -0.51f, -2.0f};
const std::vector<float> kFiveBucketValues = {0.1f, 0.125f, 0.3f, 0.99f};

constexpr int kBatch = 6;

// Tables: q3 (dim 2, sum, 3 buckets in [-1, 1]), q3mean (same rows, mean combiner), q5 (dim 1,
// sum, 5 buckets in [0, 1]). Features f3, f3mean, f5 look them up; SGD with lr 0.1.
EmbeddingConfig QuantizedConfig() {
  const std::string text = absl::StrCat(R"pb(
    tables {
      name: "q3" vocabulary_size: 6 dim: 2 combiner: SUM
      quantization { num_buckets: 3 lower: -1 upper: 1 }
    }
    tables {
      name: "q3mean" vocabulary_size: 6 dim: 2 combiner: MEAN
      quantization { num_buckets: 3 lower: -1 upper: 1 }
    }
    tables {
      name: "q5" vocabulary_size: 4 dim: 1 combiner: SUM
      quantization { num_buckets: 5 lower: 0 upper: 1 }
    }
    features { name: "f3" table: "q3" }
    features { name: "f3mean" table: "q3mean" }
    features { name: "f5" table: "q5" }
    optimizer { sgd {} learning_rate { constant: 0.1 } }
    backend { name: "cpu" }
    per_replica_batch_size: )pb",
                                        kBatch);
  absl::StatusOr<EmbeddingConfig> config = ParseConfigText(text);
  EXPECT_TRUE(config.ok()) << config.status();
  return config.ok() ? *config : EmbeddingConfig();
}

const std::vector<float>& ValuesOf(const std::string& table) {
  return table == "q5" ? kFiveBucketValues : kThreeBucketValues;
}

absl::Status LoadValues(Embedding& embedding) {
  return embedding.LoadTables([&](int table, int64_t begin, int64_t count,
                                  absl::Span<const absl::Span<float>> slots) {
    const ResolvedTable& t = embedding.config().tables[table];
    const std::vector<float>& values = ValuesOf(t.name);
    for (int64_t r = 0; r < count; ++r) {
      for (int32_t d = 0; d < t.dim; ++d) slots[0][r * t.dim + d] = values[begin + r];
    }
    return absl::OkStatus();
  });
}

// Feature inputs in config order (features f3, f3mean, f5), owning their arrays.
struct Inputs {
  // f3: bag b holds id b. f3mean: two-id bags. f5: one id per bag, rows 0 and 3 twice.
  std::vector<int64_t> f3_splits = {0, 1, 2, 3, 4, 5, 6};
  std::vector<int64_t> f3_ids = {0, 1, 2, 3, 4, 5};
  std::vector<int64_t> mean_splits = {0, 2, 4, 6, 8, 10, 12};
  std::vector<int64_t> mean_ids = {0, 1, 1, 4, 2, 5, 3, 3, 0, 3, 0, 2};
  std::vector<int64_t> f5_splits = {0, 1, 2, 3, 4, 5, 6};
  std::vector<int64_t> f5_ids = {0, 1, 2, 3, 0, 3};

  std::vector<FeatureInput> Features() const {
    return {FeatureInput::Ragged(f3_splits, f3_ids), FeatureInput::Ragged(mean_splits, mean_ids),
            FeatureInput::Ragged(f5_splits, f5_ids)};
  }
};

// The index of feature `name` in the resolved config.
int FeatureIndex(const Embedding& embedding, const std::string& name) {
  for (size_t f = 0; f < embedding.config().features.size(); ++f) {
    if (embedding.config().features[f].name == name) return static_cast<int>(f);
  }
  ADD_FAILURE() << "no feature " << name;
  return 0;
}

class QuantizationActivationsTest : public ::testing::TestWithParam<bool> {};

TEST_P(QuantizationActivationsTest, ActivationsAreTheQuantizedRows) {
  const bool training = GetParam();
  absl::StatusOr<std::unique_ptr<Embedding>> embedding = CreateAndBuild(QuantizedConfig());
  ASSERT_TRUE(embedding.ok()) << embedding.status();
  ASSERT_TRUE(LoadValues(**embedding).ok());
  Inputs inputs;
  const std::vector<std::optional<FeatureWeights>> no_weights(3);
  ASSERT_TRUE((*embedding)->Enqueue(inputs.Features(), no_weights, training).ok());
  absl::StatusOr<std::vector<Tensor>> activations = (*embedding)->Dequeue();
  ASSERT_TRUE(activations.ok()) << activations.status();

  // §5.8, 3 buckets in [-1, 1]: 0.4→0, 0.6→1, 5.0→1, −0.5→0 (half up), −0.51→−1, −2→−1.
  const std::vector<float>& f3 = (*activations)[FeatureIndex(**embedding, "f3")].values;
  EXPECT_EQ(f3, (std::vector<float>{0, 0, 1, 1, 1, 1, 0, 0, -1, -1, -1, -1}));
  // §5.8, 5 buckets in [0, 1]: 0.1→0, 0.125→0.25, 0.3→0.25, 0.99→1.
  const std::vector<float>& f5 = (*activations)[FeatureIndex(**embedding, "f5")].values;
  EXPECT_EQ(f5, (std::vector<float>{0.0f, 0.25f, 0.25f, 1.0f, 0.0f, 1.0f}));
  // Before the combiner: mean of quantized rows, e.g. bag {0.4, 0.6} is (0 + 1) / 2 = 0.5,
  // whereas quantizing the mean 0.5 would give 1.
  const std::vector<float>& mean = (*activations)[FeatureIndex(**embedding, "f3mean")].values;
  EXPECT_EQ(mean, (std::vector<float>{0.5f, 0.5f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f,
                                      0.5f, 0.5f}));
  if (training) {
    std::vector<std::optional<TensorView>> none(3);
    ASSERT_TRUE((*embedding)->ApplyGradients(none).ok());
  }
}

INSTANTIATE_TEST_SUITE_P(TrainingAndInference, QuantizationActivationsTest, ::testing::Bool());

TEST(QuantizationGoldenTest, BackwardIsStraightThroughAndStorageStaysF32) {
  absl::StatusOr<std::unique_ptr<Embedding>> embedding = CreateAndBuild(QuantizedConfig());
  ASSERT_TRUE(embedding.ok()) << embedding.status();
  ASSERT_TRUE(LoadValues(**embedding).ok());
  Inputs inputs;
  const std::vector<std::optional<FeatureWeights>> no_weights(3);
  ASSERT_TRUE((*embedding)->Enqueue(inputs.Features(), no_weights, true).ok());
  absl::StatusOr<std::vector<Tensor>> activations = (*embedding)->Dequeue();
  ASSERT_TRUE(activations.ok()) << activations.status();
  // dL/da = 1 everywhere; f3mean gets no gradient (its rows still count as touched, g = 0).
  std::vector<Tensor> gradients = *activations;
  for (Tensor& t : gradients) t.values.assign(t.values.size(), 1.0f);
  std::vector<std::optional<TensorView>> views(3);
  for (const char* name : {"f3", "f5"}) {
    const int f = FeatureIndex(**embedding, name);
    views[f] = TensorView::Of(gradients[f]);
  }
  ASSERT_TRUE((*embedding)->ApplyGradients(views).ok());

  absl::StatusOr<std::vector<std::vector<std::vector<float>>>> tables = RetrieveAll(**embedding);
  ASSERT_TRUE(tables.ok()) << tables.status();
  for (size_t t = 0; t < tables->size(); ++t) {
    const ResolvedTable& table = (*embedding)->config().tables[t];
    const std::vector<float>& values = ValuesOf(table.name);
    const std::vector<float>& stored = (*tables)[t][0];
    ASSERT_EQ(stored.size(), values.size() * table.dim) << table.name;
    for (size_t r = 0; r < values.size(); ++r) {
      // The gradient of a row is the unquantized one: its number of occurrences (sum combiner,
      // gradient 1); the step moves the stored, unquantized value by lr·g.
      float g = 0.0f;
      if (table.name == "q3") g = 1.0f;
      if (table.name == "q5") g = (r == 0 || r == 3) ? 2.0f : 1.0f;
      const float expected = values[r] - 0.1f * g;
      for (int32_t d = 0; d < table.dim; ++d) {
        EXPECT_EQ(stored[r * table.dim + d], expected) << table.name << " row " << r;
      }
    }
  }
}

TEST(QuantizationGoldenTest, SequenceFeaturesSeeQuantizedRows) {
  absl::StatusOr<EmbeddingConfig> config = ParseConfigText(R"pb(
    tables {
      name: "q5" vocabulary_size: 4 dim: 1 combiner: SUM
      quantization { num_buckets: 5 lower: 0 upper: 1 }
    }
    features { name: "seq" table: "q5" max_sequence_length: 3 }
    backend { name: "cpu" }
    per_replica_batch_size: 2
  )pb");
  ASSERT_TRUE(config.ok()) << config.status();
  absl::StatusOr<std::unique_ptr<Embedding>> embedding = CreateAndBuild(*config);
  ASSERT_TRUE(embedding.ok()) << embedding.status();
  ASSERT_TRUE(LoadValues(**embedding).ok());
  // Row 0 is shorter than L (zero padding); row 1 is longer (id 1 at position 3 is dropped).
  const std::vector<int64_t> splits = {0, 2, 6};
  const std::vector<int64_t> ids = {0, 1, 2, 3, 0, 1};
  const std::vector<FeatureInput> features = {FeatureInput::Ragged(splits, ids)};
  const std::vector<std::optional<FeatureWeights>> no_weights(1);
  ASSERT_TRUE((*embedding)->Enqueue(features, no_weights, false).ok());
  absl::StatusOr<std::vector<Tensor>> activations = (*embedding)->Dequeue();
  ASSERT_TRUE(activations.ok()) << activations.status();
  EXPECT_EQ((*activations)[0].values, (std::vector<float>{0.0f, 0.25f, 0.0f, 0.25f, 1.0f, 0.0f}));
}

TEST(QuantizationGoldenTest, MockBackendRefusesQuantizedTables) {
  EmbeddingConfig config = QuantizedConfig();
  config.mutable_backend()->set_name("mock");
  absl::StatusOr<std::unique_ptr<Embedding>> embedding = CreateAndBuild(config);
  ASSERT_FALSE(embedding.ok());
  EXPECT_EQ(embedding.status().code(), absl::StatusCode::kUnimplemented) << embedding.status();
  EXPECT_NE(embedding.status().message().find("'q3'"), absl::string_view::npos)
      << embedding.status();
}

}  // namespace
}  // namespace golden
}  // namespace embrt
