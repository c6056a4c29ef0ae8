// Copyright embrt authors.
//
// Sparse sequence inputs with holes through embrt::Embedding (ABI 1.1 positions): a 1.1 plugin
// gets the positions; a 1.0 plugin cannot read them, so the core refuses the holes with
// UNIMPLEMENTED naming the feature, and the same input without holes still works.

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "embrt/config.h"
#include "embrt/embedding.h"
#include "embrt/inputs.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace embrt {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

// One table of rows 1.0 (constant initializer), one sequence feature with L = 3, B = 2.
std::unique_ptr<Embedding> Build(const std::string& backend) {
  absl::StatusOr<EmbeddingConfig> config = ParseConfigText(absl::StrCat(R"pb(
    tables {
      name: "t"
      vocabulary_size: 8
      dim: 2
      combiner: SUM
      initializer { constant { value: 1 } }
    }
    features { name: "clicks" table: "t" max_sequence_length: 3 }
    optimizer { sgd {} }
    per_replica_batch_size: 2
    backend { name: ")pb", backend, R"pb(" })pb"));
  EXPECT_TRUE(config.ok()) << config.status();
  if (!config.ok()) return nullptr;
  EmbeddingOptions options;
  options.warning_sink = [](absl::string_view) {};
  absl::StatusOr<std::unique_ptr<Embedding>> embedding = Embedding::Create(*config, options);
  EXPECT_TRUE(embedding.ok()) << embedding.status();
  if (!embedding.ok()) return nullptr;
  const absl::Status built = (*embedding)->Build();
  EXPECT_TRUE(built.ok()) << built;
  return built.ok() ? std::move(*embedding) : nullptr;
}

// Row 0: ids at positions 0 and 2 (a hole at 1); row 1: one id at position 1.
const std::vector<int64_t> kHoleIndices = {0, 0, 0, 2, 1, 1};
// The same ids packed from position 0.
const std::vector<int64_t> kPackedIndices = {0, 0, 0, 1, 1, 0};
const std::vector<int64_t> kIds = {3, 5, 7};

absl::StatusOr<std::vector<float>> Lookup(Embedding& embedding,
                                          const std::vector<int64_t>& indices) {
  std::vector<FeatureInput> inputs = {FeatureInput::Sparse(indices, kIds, {2, 3})};
  absl::Status enqueued = embedding.Enqueue(inputs, {}, false);
  if (!enqueued.ok()) return enqueued;
  absl::StatusOr<std::vector<Tensor>> a = embedding.Dequeue();
  if (!a.ok()) return a.status();
  return (*a)[0].values;
}

TEST(SequencePositionsTest, AnAbi11PluginGetsTheHoles) {
  std::unique_ptr<Embedding> embedding = Build("skeleton_c");
  ASSERT_NE(embedding, nullptr);
  absl::StatusOr<std::vector<float>> a = Lookup(*embedding, kHoleIndices);
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(*a, (std::vector<float>{1, 1, 0, 0, 1, 1,  //
                                    0, 0, 1, 1, 0, 0}));
}

TEST(SequencePositionsTest, AnAbi10PluginGetsNoHoles) {
  std::unique_ptr<Embedding> embedding = Build(EMBRT_TEST_PLUGIN_ABI_1_0);
  ASSERT_NE(embedding, nullptr);
  absl::StatusOr<std::vector<float>> holes = Lookup(*embedding, kHoleIndices);
  EXPECT_EQ(holes.status().code(), absl::StatusCode::kUnimplemented) << holes.status();
  EXPECT_THAT(holes.status().message(),
              AllOf(HasSubstr("feature 'clicks'"), HasSubstr("holes"), HasSubstr("ABI 1.0")));
  // Nothing was enqueued: the packed input (no positions needed) works right after.
  absl::StatusOr<std::vector<float>> packed = Lookup(*embedding, kPackedIndices);
  ASSERT_TRUE(packed.ok()) << packed.status();
  EXPECT_EQ(*packed, (std::vector<float>{1, 1, 1, 1, 0, 0,  //
                                         1, 1, 0, 0, 0, 0}));
}

}  // namespace
}  // namespace embrt
