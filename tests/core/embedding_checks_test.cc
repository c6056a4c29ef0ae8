// Copyright embrt authors.
//
// Who checks ids and gradients on one host (core/src/embedding.cc): the core itself, unless the
// plugin declares `checks_ids_and_gradients = 1` (plugin_api/README.md rules 11, 13 and 26).
// Against tests/core/test_plugins/trusting_plugin.cc, which declares nothing and reports any
// bad value that reaches it with FAILED_PRECONDITION: the core's INVALID_ARGUMENT proves the
// core caught it first. The cpu backend declares the attribute; the test of its side (the core
// rewords the plugin's rejection) is EmbeddingTest.OneHostWordsThePluginsRejectionOfAnIdOutOfRange.

#include <cmath>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "embrt/config.h"
#include "embrt/embedding.h"
#include "embrt/inputs.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "plugin_loader.h"

namespace embrt {
namespace {

using ::testing::HasSubstr;

std::unique_ptr<Embedding> Build(const std::string& backend, bool inputs_outlive_step) {
  absl::StatusOr<EmbeddingConfig> config = ParseConfigText(absl::StrCat(R"pb(
    tables {
      name: "video"
      vocabulary_size: 8
      dim: 4
      combiner: SUM
      optimizer { sgd {} learning_rate { constant: 0.1 } }
    }
    features { name: "watched" table: "video" }
    per_replica_batch_size: 2
    backend { name: ")pb", backend, "\" }"));
  EXPECT_TRUE(config.ok()) << config.status();
  if (!config.ok()) return nullptr;
  EmbeddingOptions options;
  options.inputs_outlive_step = inputs_outlive_step;
  absl::StatusOr<std::unique_ptr<Embedding>> embedding = Embedding::Create(*config, options);
  EXPECT_TRUE(embedding.ok()) << embedding.status();
  if (!embedding.ok()) return nullptr;
  const absl::Status built = (*embedding)->Build();
  EXPECT_TRUE(built.ok()) << built;
  return built.ok() ? *std::move(embedding) : nullptr;
}

bool Declares(const std::string& backend) {
  absl::StatusOr<internal::LoadedPlugin> plugin = internal::LoadPlugin(backend);
  EXPECT_TRUE(plugin.ok()) << plugin.status();
  if (!plugin.ok()) return false;
  for (const auto& [key, value] : plugin->attributes) {
    if (key == "checks_ids_and_gradients") return value == "1";
  }
  return false;
}

TEST(EmbeddingChecksTest, ShippedBackendsDeclareTheirChecksAndTheTrustingPluginDoesNot) {
  EXPECT_TRUE(Declares("cpu"));
  EXPECT_TRUE(Declares("mock"));
  EXPECT_FALSE(Declares(EMBRT_TEST_PLUGIN_TRUSTING));
}

TEST(EmbeddingChecksTest, TheCoreChecksIdsForAPluginThatDoesNotDeclareItChecksThem) {
  const std::vector<int64_t> splits = {0, 1, 2};
  const std::vector<int64_t> ids = {3, 8};
  const std::vector<int64_t> dense_ids = {-1, 2};
  for (bool in_place : {false, true}) {
    for (bool training : {false, true}) {
      SCOPED_TRACE(absl::StrCat(in_place ? "inputs_outlive_step" : "copied",
                                training ? ", training" : ", inference"));
      std::unique_ptr<Embedding> embedding = Build(EMBRT_TEST_PLUGIN_TRUSTING, in_place);
      ASSERT_NE(embedding, nullptr);
      const FeatureInput ragged = FeatureInput::Ragged(splits, ids);
      absl::Status status = embedding->Enqueue({&ragged, 1}, {}, training);
      EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
      EXPECT_THAT(status.message(), HasSubstr("feature 'watched' (#0, table 'video'): id 8 at "
                                              "row 1, position 0 is out of range"));
      const FeatureInput dense = FeatureInput::Dense(dense_ids, {2, 1});
      status = embedding->Enqueue({&dense, 1}, {}, training);
      EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
      EXPECT_THAT(status.message(), HasSubstr("id -1 at row 0, position 0 is negative"));
    }
  }
}

TEST(EmbeddingChecksTest, TheCoreChecksGradientsForAPluginThatDoesNotDeclareItChecksThem) {
  std::unique_ptr<Embedding> embedding = Build(EMBRT_TEST_PLUGIN_TRUSTING, false);
  ASSERT_NE(embedding, nullptr);
  const std::vector<int64_t> ids = {3, 4};
  const FeatureInput dense = FeatureInput::Dense(ids, {2, 1});
  ASSERT_TRUE(embedding->Enqueue({&dense, 1}, {}, true).ok());
  absl::StatusOr<std::vector<Tensor>> activations = embedding->Dequeue();
  ASSERT_TRUE(activations.ok()) << activations.status();
  Tensor gradient{{2, 4}, std::vector<float>(8, 0.5f)};
  gradient.values[6] = std::numeric_limits<float>::quiet_NaN();
  const std::vector<std::optional<TensorView>> gradients = {TensorView::Of(gradient)};
  const absl::Status status = embedding->ApplyGradients(gradients);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_THAT(status.message(), HasSubstr("has nan at flat position 6"));
}

}  // namespace
}  // namespace embrt
