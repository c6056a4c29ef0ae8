// Copyright embrt authors.
//
// TF's lookup goldens (plugin_api/MATH.md §5.2, §5.5, §5.6 "weights 0.5") through
// embrt::Embedding on the cpu backend. Activations of integer tables are exact, so most checks
// are exact equality; the rest use TF's assertAllClose (rtol 1e-6, atol 1e-6).

#include <memory>
#include <vector>

#include "canonical_fixture.h"
#include "embrt/embedding.h"
#include "golden_fixture.h"
#include "gtest/gtest.h"

namespace embrt {
namespace golden {
namespace {

void ExpectAllClose(const std::vector<float>& actual, const std::vector<float>& expected,
                    const std::string& what) {
  ASSERT_EQ(actual.size(), expected.size()) << what;
  for (size_t i = 0; i < actual.size(); ++i) {
    EXPECT_TRUE(reference::AllClose(actual[i], expected[i], 1e-6))
        << what << "[" << i << "]: " << actual[i] << " vs TF " << expected[i];
  }
}

std::unique_ptr<Embedding> Loaded(const EmbeddingConfig& config) {
  absl::StatusOr<std::unique_ptr<Embedding>> embedding = CreateAndBuild(config);
  EXPECT_TRUE(embedding.ok()) << embedding.status();
  if (!embedding.ok()) return nullptr;
  const absl::Status status = LoadRowMajorCounting(**embedding);
  EXPECT_TRUE(status.ok()) << status;
  return std::move(*embedding);
}

// §5.2, one replica of 4 and two replicas of 2.
TEST(LookupGoldenTest, ForwardActivations) {
  for (int replicas : {1, 2}) {
    std::unique_ptr<Embedding> embedding = Loaded(CanonicalConfig("sgd {}", replicas));
    ASSERT_NE(embedding, nullptr);
    absl::StatusOr<std::vector<std::vector<float>>> all = LookupAllReplicas(*embedding, replicas);
    ASSERT_TRUE(all.ok()) << all.status();
    for (int f = 0; f < 3; ++f) {
      EXPECT_EQ((*all)[f], reference::CanonicalActivations()[f]) << "feature " << f << " R="
                                                                 << replicas;
    }
    // Loss 335 per §5.2: Σ_f mean_b Σ_d a².
    double loss = 0;
    for (int f = 0; f < 3; ++f) {
      for (float a : (*all)[f]) loss += static_cast<double>(a) * a / 4.0;
    }
    EXPECT_EQ(loss, 335.0);
  }
}

// §5.5 dense lookups: the 2020 variant (every replica gets the last two values of each list)
// and the newer one (the first four values form a global batch of 4, B = 2 per replica).
TEST(LookupGoldenTest, DenseLookups) {
  std::unique_ptr<Embedding> embedding = Loaded(CanonicalConfig("sgd {}", 2));
  ASSERT_NE(embedding, nullptr);
  const std::vector<int64_t> watched = {1, 1}, favorited = {0, 1}, friends = {1, 2};
  for (int r = 0; r < 2; ++r) {
    const std::vector<FeatureInput> inputs = {FeatureInput::Dense(watched),
                                              FeatureInput::Dense(favorited),
                                              FeatureInput::Dense(friends)};
    ASSERT_TRUE(embedding->Enqueue(inputs, {}, false, r).ok());
    absl::StatusOr<std::vector<Tensor>> a = embedding->Dequeue(r);
    ASSERT_TRUE(a.ok()) << a.status();
    EXPECT_EQ((*a)[0].shape, (std::vector<int64_t>{2, 4}));
    EXPECT_EQ((*a)[0].values, (std::vector<float>{4, 5, 6, 7, 4, 5, 6, 7}));
    EXPECT_EQ((*a)[1].values, (std::vector<float>{0, 1, 2, 3, 4, 5, 6, 7}));
    EXPECT_EQ((*a)[2].shape, (std::vector<int64_t>{2, 2}));
    EXPECT_EQ((*a)[2].values, (std::vector<float>{2, 3, 4, 5}));
  }
  const std::vector<std::vector<int64_t>> global = {{0, 0, 1, 0}, {0, 1, 1, 0}, {3, 0, 1, 2}};
  const int dims[] = {4, 4, 2};
  for (int r = 0; r < 2; ++r) {
    std::vector<std::vector<int64_t>> ids(3);
    std::vector<FeatureInput> inputs;
    for (int f = 0; f < 3; ++f) ids[f] = {global[f][2 * r], global[f][2 * r + 1]};
    // Rank-2 dense [B, 1] is reduced over its last axis, as on TPU.
    for (int f = 0; f < 3; ++f) inputs.push_back(FeatureInput::Dense(ids[f], {2, 1}));
    ASSERT_TRUE(embedding->Enqueue(inputs, {}, false, r).ok());
    absl::StatusOr<std::vector<Tensor>> a = embedding->Dequeue(r);
    ASSERT_TRUE(a.ok()) << a.status();
    for (int f = 0; f < 3; ++f) {
      std::vector<float> expected;
      for (int64_t id : ids[f]) {
        for (int d = 0; d < dims[f]; ++d) expected.push_back(static_cast<float>(id * dims[f] + d));
      }
      EXPECT_EQ((*a)[f].values, expected) << "replica " << r << " feature " << f;
      EXPECT_EQ((*a)[f].shape, (std::vector<int64_t>{2, dims[f]}));
    }
  }
}

// §5.5 CPU dense: rank-1 inputs of 6, 6 and 8 ids -> table[ids], shape [n, dim].
TEST(LookupGoldenTest, DenseLookupWithPerFeatureBatchSizes) {
  EmbeddingConfig config = CanonicalConfig("sgd {}", 1);
  config.clear_per_replica_batch_size();
  absl::StatusOr<std::unique_ptr<Embedding>> embedding = Embedding::Create(config);
  ASSERT_TRUE(embedding.ok()) << embedding.status();
  const std::vector<std::vector<int64_t>> shapes = {{6}, {6}, {8}};
  ASSERT_TRUE((*embedding)->BuildWithOutputShapes(shapes).ok());
  ASSERT_TRUE(LoadRowMajorCounting(**embedding).ok());
  const std::vector<std::vector<int64_t>> ids = {
      {0, 0, 1, 0, 1, 1}, {0, 1, 1, 0, 0, 1}, {3, 0, 1, 2, 3, 0, 1, 2}};
  const std::vector<FeatureInput> inputs = {FeatureInput::Dense(ids[0]),
                                            FeatureInput::Dense(ids[1]),
                                            FeatureInput::Dense(ids[2])};
  ASSERT_TRUE((*embedding)->Enqueue(inputs, {}, false).ok());
  absl::StatusOr<std::vector<Tensor>> a = (*embedding)->Dequeue();
  ASSERT_TRUE(a.ok()) << a.status();
  const int dims[] = {4, 4, 2};
  for (int f = 0; f < 3; ++f) {
    std::vector<float> expected;
    for (int64_t id : ids[f]) {
      for (int d = 0; d < dims[f]; ++d) expected.push_back(static_cast<float>(id * dims[f] + d));
    }
    EXPECT_EQ((*a)[f].values, expected) << "feature " << f;
  }
}

// §5.5 CPU sparse/ragged weighted: weights are the id values.
TEST(LookupGoldenTest, WeightedSparseAndRagged) {
  for (int replicas : {1, 2}) {
    std::unique_ptr<Embedding> embedding = Loaded(CanonicalConfig("sgd {}", replicas));
    ASSERT_NE(embedding, nullptr);
    absl::StatusOr<std::vector<std::vector<float>>> all =
        LookupAllReplicas(*embedding, replicas, /*weights_from_ids=*/true);
    ASSERT_TRUE(all.ok()) << all.status();
    EXPECT_EQ((*all)[0], (std::vector<float>{0, 0, 0, 0, 4, 5, 6, 7, 4, 5, 6, 7, 4, 5, 6, 7}));
    EXPECT_EQ((*all)[1], (std::vector<float>{4, 5, 6, 7, 4, 5, 6, 7, 0, 0, 0, 0, 4, 5, 6, 7}));
    ExpectAllClose((*all)[2], {6, 7, 3.3333333f, 4.3333333f, 6, 7, 3.3333333f, 4.3333333f},
                   "friends");
  }
}

// §5.5 sqrtn (user table): [3] -> [6, 7]; [0, 1, 2] -> [6, 9] / sqrt(3); weights 0.5 likewise.
TEST(LookupGoldenTest, SqrtnIsScaleInvariant) {
  std::unique_ptr<Embedding> embedding = Loaded(CanonicalConfig("sgd {}", 1, "SQRTN"));
  ASSERT_NE(embedding, nullptr);
  const std::vector<float> tf = {6, 7, 3.4641016f, 5.1961524f, 6, 7, 3.4641016f, 5.1961524f};
  for (std::optional<float> weight : {std::optional<float>(), std::optional<float>(0.5f)}) {
    CanonicalInputs inputs(0, 1, false, weight);
    ASSERT_TRUE(embedding->Enqueue(inputs.features(), inputs.weights(), false).ok());
    absl::StatusOr<std::vector<Tensor>> a = embedding->Dequeue();
    ASSERT_TRUE(a.ok()) << a.status();
    ExpectAllClose((*a)[2].values, tf, weight.has_value() ? "weights 0.5" : "unweighted");
  }
}

// §5.5 sequence lookup: friends with max_sequence_length 2, ragged and sparse inputs.
TEST(LookupGoldenTest, SequenceLookupPadsAndTruncates) {
  EmbeddingConfig config = CanonicalConfig("sgd {}", 1);
  config.mutable_features(2)->set_max_sequence_length(2);
  std::unique_ptr<Embedding> embedding = Loaded(config);
  ASSERT_NE(embedding, nullptr);
  const std::vector<float> expected = {6, 7, 0, 0, 0, 1, 2, 3, 6, 7, 0, 0, 0, 1, 2, 3};
  CanonicalInputs ragged(0, 1);
  ASSERT_TRUE(embedding->Enqueue(ragged.features(), {}, false).ok());
  absl::StatusOr<std::vector<Tensor>> a = embedding->Dequeue();
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ((*a)[2].shape, (std::vector<int64_t>{4, 2, 2}));
  EXPECT_EQ((*a)[2].values, expected);
  // The same ids as a SparseTensor [4, 3].
  const std::vector<int64_t> indices = {0, 0, 1, 0, 1, 1, 1, 2, 2, 0, 3, 0, 3, 1, 3, 2};
  const std::vector<int64_t> ids = {3, 0, 1, 2, 3, 0, 1, 2};
  std::vector<FeatureInput> sparse = {ragged.features()[0], ragged.features()[1],
                                      FeatureInput::Sparse(indices, ids, {4, 3})};
  ASSERT_TRUE(embedding->Enqueue(sparse, {}, false).ok());
  a = embedding->Dequeue();
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ((*a)[2].values, expected);
}

// ABI 1.1 positions: a SparseTensor sequence input with holes works as in TF (scatter of each
// id to [b, position]). friends L = 3, the user table holds row-major 0..31 (row r = [2r, 2r+1]):
// example 0 has id 3 at position 2 only, example 1 ids 0, 1 at positions 0 and 2, example 2 is
// empty, example 3 has id 2 at position 1 (and id 5 at position 3 >= L, dropped).
TEST(LookupGoldenTest, SparseSequenceWithHoles) {
  EmbeddingConfig config = CanonicalConfig("sgd {}", 1);
  config.mutable_features(2)->set_max_sequence_length(3);
  std::unique_ptr<Embedding> embedding = Loaded(config);
  ASSERT_NE(embedding, nullptr);
  CanonicalInputs canonical(0, 1);
  const std::vector<int64_t> indices = {0, 2, 1, 0, 1, 2, 3, 1, 3, 3};
  const std::vector<int64_t> ids = {3, 0, 1, 2, 5};
  std::vector<FeatureInput> inputs = {canonical.features()[0], canonical.features()[1],
                                      FeatureInput::Sparse(indices, ids, {4, 4})};
  ASSERT_TRUE(embedding->Enqueue(inputs, {}, false).ok());
  absl::StatusOr<std::vector<Tensor>> a = embedding->Dequeue();
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ((*a)[2].shape, (std::vector<int64_t>{4, 3, 2}));
  EXPECT_EQ((*a)[2].values, (std::vector<float>{0, 0, 0, 0, 6, 7,    //
                                                0, 1, 0, 0, 2, 3,    //
                                                0, 0, 0, 0, 0, 0,    //
                                                0, 0, 4, 5, 0, 0}));
}

// §5.5 high-dimensional: each example's sparse rows repeated 4 times on a new leading axis:
// dense_shape [4, 4, 2] (friends [4, 4, 3]); every [b] slice of [B, 4, dim] equals §5.2.
TEST(LookupGoldenTest, HighDimensionalSparseInputs) {
  EmbeddingConfig config = CanonicalConfig("sgd {}", 1);
  for (int f = 0; f < 3; ++f) {
    config.mutable_features(f)->add_output_shape(4);
    config.mutable_features(f)->add_output_shape(4);
  }
  std::unique_ptr<Embedding> embedding = Loaded(config);
  ASSERT_NE(embedding, nullptr);
  std::vector<std::vector<int64_t>> indices(3), ids(3);
  const auto& features = reference::CanonicalFeatures();
  for (int f = 0; f < 3; ++f) {
    for (int b = 0; b < 4; ++b) {
      for (int copy = 0; copy < 4; ++copy) {
        for (int32_t k = features[f].row_splits[copy]; k < features[f].row_splits[copy + 1];
             ++k) {
          indices[f].insert(indices[f].end(), {b, copy, k - features[f].row_splits[copy]});
          ids[f].push_back(features[f].ids[k]);
        }
      }
    }
  }
  const std::vector<FeatureInput> inputs = {FeatureInput::Sparse(indices[0], ids[0], {4, 4, 2}),
                                            FeatureInput::Sparse(indices[1], ids[1], {4, 4, 2}),
                                            FeatureInput::Sparse(indices[2], ids[2], {4, 4, 3})};
  absl::Status status = embedding->Enqueue(inputs, {}, false);
  ASSERT_TRUE(status.ok()) << status;
  absl::StatusOr<std::vector<Tensor>> a = embedding->Dequeue();
  ASSERT_TRUE(a.ok()) << a.status();
  for (int f = 0; f < 3; ++f) {
    const std::vector<float>& slice = reference::CanonicalActivations()[f];
    std::vector<float> expected;
    for (int b = 0; b < 4; ++b) expected.insert(expected.end(), slice.begin(), slice.end());
    EXPECT_EQ((*a)[f].values, expected) << "feature " << f;
    EXPECT_EQ((*a)[f].shape.size(), 3u);
  }
}

// §5.6 weights (0.5, None, 0.5): unweighted activations × (0.5, 1, 1).
TEST(LookupGoldenTest, WeightsOneHalf) {
  for (int replicas : {1, 2}) {
    std::unique_ptr<Embedding> embedding = Loaded(CanonicalConfig("sgd {}", replicas));
    ASSERT_NE(embedding, nullptr);
    std::vector<std::vector<float>> all(3);
    for (int r = 0; r < replicas; ++r) {
      CanonicalInputs inputs(r, replicas, false, 0.5f);
      ASSERT_TRUE(embedding->Enqueue(inputs.features(), inputs.weights(), false, r).ok());
      absl::StatusOr<std::vector<Tensor>> a = embedding->Dequeue(r);
      ASSERT_TRUE(a.ok()) << a.status();
      for (int f = 0; f < 3; ++f) {
        all[f].insert(all[f].end(), (*a)[f].values.begin(), (*a)[f].values.end());
      }
    }
    std::vector<float> half = reference::CanonicalActivations()[0];
    for (float& x : half) x *= 0.5f;
    EXPECT_EQ(all[0], half);
    EXPECT_EQ(all[1], reference::CanonicalActivations()[1]);
    EXPECT_EQ(all[2], reference::CanonicalActivations()[2]);
  }
}

}  // namespace
}  // namespace golden
}  // namespace embrt
