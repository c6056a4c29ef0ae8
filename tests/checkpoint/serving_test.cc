// Copyright embrt authors.
//
// ServingLookup (core/src/serving.cc) on a checkpoint of the plugin_api/MATH.md §5.1 fixture:
// the §5.5 goldens (dense, sparse and ragged, weighted, sqrtn, sequence, output_shape with its
// error), TF's edge cases, input errors and concurrent lookups.

#include "embrt/serving.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <thread>

#include "absl/strings/str_cat.h"
#include "checkpoint_test_util.h"

namespace embrt {
namespace {

using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::FloatEq;
using ::testing::Pointwise;
using testing_util::ResolveOrDie;
using testing_util::StatusIs;
using testing_util::TempDir;

// video (sum) rows [4r .. 4r+3]; user (mean) and user_sqrtn rows [2r, 2r+1].
constexpr char kConfig[] = R"pb(
  tables { name: "video" vocabulary_size: 8 dim: 4 combiner: SUM }
  tables { name: "user" vocabulary_size: 16 dim: 2 combiner: MEAN }
  tables { name: "user_sqrtn" vocabulary_size: 16 dim: 2 combiner: SQRTN }
  features { name: "watched" table: "video" }
  features { name: "favorited" table: "video" }
  features { name: "friends" table: "user" }
  features { name: "friends_sqrtn" table: "user_sqrtn" }
  features { name: "friends_sequence" table: "user" max_sequence_length: 2 }
  features {
    name: "friends_2x2"
    table: "user"
    output_shape: [ 2, 2 ]
  }
  features {
    name: "friends_2x4"
    table: "user"
    output_shape: [ 2, 4 ]
  }
  features {
    name: "friends_3"
    table: "user"
    output_shape: [ 3 ]
  }
)pb";

const std::vector<int64_t> kWatchedIndices = {0, 0, 1, 0, 1, 1, 2, 0, 2, 1, 3, 0};
const std::vector<int64_t> kWatchedIds = {0, 0, 1, 0, 1, 1};
const std::vector<int64_t> kWatchedSplits = {0, 1, 3, 5, 6};
const std::vector<int64_t> kFavoritedSplits = {0, 2, 3, 4, 6};
const std::vector<int64_t> kFavoritedIds = {0, 1, 1, 0, 0, 1};
const std::vector<int64_t> kFriendsIndices = {0, 0, 1, 0, 1, 1, 1, 2, 2, 0, 3, 0, 3, 1, 3, 2};
const std::vector<int64_t> kFriendsSplits = {0, 1, 4, 5, 8};
const std::vector<int64_t> kFriendsIds = {3, 0, 1, 2, 3, 0, 1, 2};

class ServingTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = new TempDir();
    const ResolvedConfig config = ResolveOrDie(kConfig);
    auto counting = [&](const Embedding::RowSink& sink) -> absl::Status {
      for (int t = 0; t < 3; ++t) {
        const ResolvedTable& table = config.tables[t];
        std::vector<float> values(table.vocabulary_size * table.dim);
        for (size_t i = 0; i < values.size(); ++i) values[i] = static_cast<float>(i);
        std::vector<absl::Span<const float>> slots = {values};
        absl::Status status = sink(t, 0, table.vocabulary_size, slots);
        if (!status.ok()) return status;
      }
      return absl::OkStatus();
    };
    ASSERT_TRUE(WriteCheckpoint(config, 9, counting, root_->path()).ok());
  }
  static void TearDownTestSuite() { delete root_; }

  void SetUp() override {
    absl::StatusOr<std::unique_ptr<ServingLookup>> serving = ServingLookup::Open(root_->path());
    ASSERT_TRUE(serving.ok()) << serving.status();
    serving_ = std::move(*serving);
  }

  Tensor Lookup(absl::string_view feature, const FeatureInput& input,
                const std::optional<FeatureWeights>& weights = std::nullopt) {
    absl::StatusOr<Tensor> out = serving_->LookupFeature(feature, input, weights);
    EXPECT_TRUE(out.ok()) << out.status();
    return out.ok() ? *out : Tensor();
  }
  absl::Status Error(absl::string_view feature, const FeatureInput& input,
                     const std::optional<FeatureWeights>& weights = std::nullopt) {
    return serving_->LookupFeature(feature, input, weights).status();
  }

  static TempDir* root_;
  std::unique_ptr<ServingLookup> serving_;
};
TempDir* ServingTest::root_ = nullptr;

TEST_F(ServingTest, KnowsItsCheckpoint) {
  EXPECT_EQ(serving_->step(), 9);
  EXPECT_EQ(serving_->FindFeature("friends"), 2);
  EXPECT_EQ(serving_->FindFeature("nope"), -1);
  EXPECT_THAT(Error("nope", FeatureInput::Dense(kWatchedIds)),
              StatusIs(absl::StatusCode::kNotFound, "no feature \"nope\""));
}

TEST_F(ServingTest, DenseLookupIsAGather) {
  // test_cpu_dense_lookup: rank-1 ids -> [n, dim].
  Tensor watched = Lookup("watched", FeatureInput::Dense(kWatchedIds));
  EXPECT_THAT(watched.shape, ElementsAre(6, 4));
  EXPECT_THAT(watched.values, ElementsAreArray<float>({0, 1, 2, 3, 0, 1, 2, 3, 4, 5, 6, 7,
                                                       0, 1, 2, 3, 4, 5, 6, 7, 4, 5, 6, 7}));
  // The 2020 dense variant: friends [1, 2] -> [[2, 3], [4, 5]].
  const std::vector<int64_t> friends = {1, 2};
  Tensor out = Lookup("friends", FeatureInput::Dense(friends));
  EXPECT_THAT(out.values, ElementsAre(2, 3, 4, 5));
  // [n, 1] reduces the last axis (the TPU layout): [2, 1] -> [2, dim].
  out = Lookup("friends", FeatureInput::Dense(friends, {2, 1}));
  EXPECT_THAT(out.shape, ElementsAre(2, 2));
  EXPECT_THAT(out.values, ElementsAre(2, 3, 4, 5));
  // Higher rank: [1, 2, 1] -> [1, 2, dim].
  out = Lookup("friends", FeatureInput::Dense(friends, {1, 2, 1}));
  EXPECT_THAT(out.shape, ElementsAre(1, 2, 2));
}

TEST_F(ServingTest, UnweightedBagsMatchTheForwardGoldens) {
  Tensor watched = Lookup("watched", FeatureInput::Sparse(kWatchedIndices, kWatchedIds, {4, 2}));
  EXPECT_THAT(watched.shape, ElementsAre(4, 4));
  EXPECT_THAT(watched.values,
              ElementsAreArray<float>({0, 1, 2, 3, 4, 6, 8, 10, 4, 6, 8, 10, 4, 5, 6, 7}));
  Tensor favorited = Lookup("favorited", FeatureInput::Ragged(kFavoritedSplits, kFavoritedIds));
  EXPECT_THAT(favorited.values,
              ElementsAreArray<float>({4, 6, 8, 10, 4, 5, 6, 7, 0, 1, 2, 3, 4, 6, 8, 10}));
  Tensor friends = Lookup("friends", FeatureInput::Ragged(kFriendsSplits, kFriendsIds));
  EXPECT_THAT(friends.shape, ElementsAre(4, 2));
  EXPECT_THAT(friends.values, ElementsAreArray<float>({6, 7, 2, 3, 6, 7, 2, 3}));
}

TEST_F(ServingTest, WeightedSparseAndRaggedMatchTheCpuGoldens) {
  // Weights are the ids as floats (test_cpu_sparse_lookup / ragged).
  const std::vector<float> watched_w = {0, 0, 1, 0, 1, 1};
  const std::vector<float> favorited_w = {0, 1, 1, 0, 0, 1};
  const std::vector<float> friends_w = {3, 0, 1, 2, 3, 0, 1, 2};
  const std::vector<float> watched_expected = {0, 0, 0, 0, 4, 5, 6, 7, 4, 5, 6, 7, 4, 5, 6, 7};
  const std::vector<float> favorited_expected = {4, 5, 6, 7, 4, 5, 6, 7, 0, 0, 0, 0, 4, 5, 6, 7};
  const std::vector<float> friends_expected = {6, 7, 3.3333333f, 4.3333333f,
                                               6, 7, 3.3333333f, 4.3333333f};
  EXPECT_THAT(Lookup("watched", FeatureInput::Sparse(kWatchedIndices, kWatchedIds, {4, 2}),
                     FeatureWeights::Sparse(watched_w))
                  .values,
              Pointwise(FloatEq(), watched_expected));
  EXPECT_THAT(Lookup("watched", FeatureInput::Ragged(kWatchedSplits, kWatchedIds),
                     FeatureWeights::Ragged(watched_w))
                  .values,
              Pointwise(FloatEq(), watched_expected));
  EXPECT_THAT(Lookup("favorited", FeatureInput::Ragged(kFavoritedSplits, kFavoritedIds),
                     FeatureWeights::Ragged(favorited_w))
                  .values,
              Pointwise(FloatEq(), favorited_expected));
  EXPECT_THAT(Lookup("friends", FeatureInput::Sparse(kFriendsIndices, kFriendsIds, {4, 3}),
                     FeatureWeights::Sparse(friends_w))
                  .values,
              Pointwise(FloatEq(), friends_expected));
  EXPECT_THAT(Lookup("friends", FeatureInput::Ragged(kFriendsSplits, kFriendsIds),
                     FeatureWeights::Ragged(friends_w))
                  .values,
              Pointwise(FloatEq(), friends_expected));
}

TEST_F(ServingTest, SqrtnDividesBySqrtOfSquaredWeightsWithoutTheSeedTupleBug) {
  const std::vector<int64_t> splits = {0, 1, 4};
  const std::vector<int64_t> ids = {3, 0, 1, 2};
  const std::vector<float> expected = {6, 7, 3.4641016f, 5.1961524f};
  EXPECT_THAT(Lookup("friends_sqrtn", FeatureInput::Ragged(splits, ids)).values,
              Pointwise(FloatEq(), expected));
  const std::vector<float> halves = {0.5f, 0.5f, 0.5f, 0.5f};
  EXPECT_THAT(
      Lookup("friends_sqrtn", FeatureInput::Ragged(splits, ids), FeatureWeights::Ragged(halves))
          .values,
      Pointwise(FloatEq(), expected));
}

TEST_F(ServingTest, SequenceFeatureIsPaddedAndTruncated) {
  const std::vector<float> expected = {6, 7, 0, 0, 0, 1, 2, 3, 6, 7, 0, 0, 0, 1, 2, 3};
  Tensor ragged = Lookup("friends_sequence", FeatureInput::Ragged(kFriendsSplits, kFriendsIds));
  EXPECT_THAT(ragged.shape, ElementsAre(4, 2, 2));
  EXPECT_THAT(ragged.values, ElementsAreArray(expected));
  Tensor sparse =
      Lookup("friends_sequence", FeatureInput::Sparse(kFriendsIndices, kFriendsIds, {4, 3}));
  EXPECT_THAT(sparse.shape, ElementsAre(4, 2, 2));
  EXPECT_THAT(sparse.values, ElementsAreArray(expected));
}

TEST_F(ServingTest, RaggedOutputShapeCombinesOrSequencesOrFails) {
  const FeatureInput friends = FeatureInput::Ragged(kFriendsSplits, kFriendsIds);
  Tensor combined = Lookup("friends_2x2", friends);
  EXPECT_THAT(combined.shape, ElementsAre(2, 2, 2));
  EXPECT_THAT(combined.values, ElementsAreArray<float>({6, 7, 2, 3, 6, 7, 2, 3}));
  // 8 = 2 x 4 rows: sequence semantics with L = 2, reshaped to [2, 4, 2].
  Tensor sequence = Lookup("friends_2x4", friends);
  EXPECT_THAT(sequence.shape, ElementsAre(2, 4, 2));
  EXPECT_THAT(sequence.values,
              ElementsAreArray<float>({6, 7, 0, 0, 0, 1, 2, 3, 6, 7, 0, 0, 0, 1, 2, 3}));
  EXPECT_THAT(Error("friends_3", friends),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "Output shape set in the FeatureConfig should be the factor of the input "
                       "data batch size. But instead got output shape [3], input data batch "
                       "size 4"));
}

TEST_F(ServingTest, HigherRankSparseKeepsItsLeadingShape) {
  // Every example's friends bags, repeated on a new leading axis of 2: [2, 4, 3].
  std::vector<int64_t> indices, ids;
  for (int64_t a = 0; a < 2; ++a) {
    for (size_t k = 0; k < kFriendsIds.size(); ++k) {
      indices.insert(indices.end(), {a, kFriendsIndices[2 * k], kFriendsIndices[2 * k + 1]});
      ids.push_back(kFriendsIds[k]);
    }
  }
  Tensor out = Lookup("friends", FeatureInput::Sparse(indices, ids, {2, 4, 3}));
  EXPECT_THAT(out.shape, ElementsAre(2, 4, 2));
  EXPECT_THAT(out.values,
              ElementsAreArray<float>({6, 7, 2, 3, 6, 7, 2, 3, 6, 7, 2, 3, 6, 7, 2, 3}));
}

TEST_F(ServingTest, EmptyBagsAndZeroDenominatorsGiveZeros) {
  const std::vector<int64_t> splits = {0, 0, 2, 2};
  const std::vector<int64_t> ids = {1, 2};
  const std::vector<float> zeros = {0, 0};
  EXPECT_THAT(Lookup("friends", FeatureInput::Ragged(splits, ids)).values,
              ElementsAreArray<float>({0, 0, 3, 4, 0, 0}));
  // div_no_nan: mean with Σw = 0 and sqrtn with Σw² = 0 are zero, not NaN.
  EXPECT_THAT(
      Lookup("friends", FeatureInput::Ragged(splits, ids), FeatureWeights::Ragged(zeros)).values,
      ElementsAreArray<float>({0, 0, 0, 0, 0, 0}));
  EXPECT_THAT(
      Lookup("friends_sqrtn", FeatureInput::Ragged(splits, ids), FeatureWeights::Ragged(zeros))
          .values,
      ElementsAreArray<float>({0, 0, 0, 0, 0, 0}));
  // Sparse: trailing empty rows are kept (no segment_sum shape bug).
  const std::vector<int64_t> indices = {1, 0, 1, 1};
  EXPECT_THAT(Lookup("friends", FeatureInput::Sparse(indices, ids, {4, 2})).values,
              ElementsAreArray<float>({0, 0, 3, 4, 0, 0, 0, 0}));
}

TEST_F(ServingTest, SparseSafeLookupPrunesNonPositiveWeightsForMean) {
  // Bag [0, 1] with weights [-1, 2]: TF's safe sparse lookup drops the -1 entry (mean of row 1
  // alone); the ragged path uses the weights as they are: (-row0 + 2 row1) / 1.
  const std::vector<int64_t> indices = {0, 0, 0, 1};
  const std::vector<int64_t> ids = {0, 1};
  const std::vector<int64_t> splits = {0, 2};
  const std::vector<float> weights = {-1, 2};
  EXPECT_THAT(
      Lookup("friends", FeatureInput::Sparse(indices, ids, {1, 2}), FeatureWeights::Sparse(weights))
          .values,
      ElementsAre(2, 3));
  EXPECT_THAT(
      Lookup("friends", FeatureInput::Ragged(splits, ids), FeatureWeights::Ragged(weights)).values,
      ElementsAre(4, 5));
  // Sum keeps negative weights on both paths.
  EXPECT_THAT(
      Lookup("watched", FeatureInput::Sparse(indices, ids, {1, 2}), FeatureWeights::Sparse(weights))
          .values,
      ElementsAre(8, 9, 10, 11));
}

TEST_F(ServingTest, BadInputsAreInvalidArgumentNamingFeatureAndPosition) {
  const std::vector<int64_t> bad_ids = {1, 16};
  const std::vector<int64_t> negative = {-2};
  const std::vector<float> w2 = {1, 1};
  const std::vector<int64_t> splits = {0, 2};
  EXPECT_THAT(Error("friends", FeatureInput::Ragged(splits, bad_ids)),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "feature \"friends\" (table \"user\"): id 16 at position 1 is outside "
                       "[0, 16)"));
  EXPECT_THAT(Error("friends", FeatureInput::Dense(negative)),
              StatusIs(absl::StatusCode::kInvalidArgument, "id -2 at position 0"));
  EXPECT_THAT(Error("friends", FeatureInput::Dense(kFriendsIds), FeatureWeights::Dense(w2)),
              StatusIs(absl::StatusCode::kInvalidArgument, "but input is dense"));
  EXPECT_THAT(Error("friends", FeatureInput::Ragged(kFriendsSplits, kFriendsIds),
                    FeatureWeights::Sparse(w2)),
              StatusIs(absl::StatusCode::kInvalidArgument, "does not match the type"));
  EXPECT_THAT(Error("friends", FeatureInput::Ragged(kFriendsSplits, kFriendsIds),
                    FeatureWeights::Ragged(w2)),
              StatusIs(absl::StatusCode::kInvalidArgument, "2 weights for 8 ids"));
  EXPECT_THAT(
      Error("friends_sequence", FeatureInput::Ragged(splits, {1, 2}), FeatureWeights::Ragged(w2)),
      StatusIs(absl::StatusCode::kInvalidArgument, "but this is a sequence feature"));
  EXPECT_THAT(Error("friends_sequence", FeatureInput::Dense(kFriendsIds)),
              StatusIs(absl::StatusCode::kInvalidArgument, "its input is dense"));
  EXPECT_THAT(Error("friends", FeatureInput::Dense(kFriendsIds, {4, 2})),
              StatusIs(absl::StatusCode::kInvalidArgument, "needs a last dim of 1"));
  EXPECT_THAT(Error("friends", FeatureInput::Dense(kFriendsIds, {3})),
              StatusIs(absl::StatusCode::kInvalidArgument, "does not hold 8 ids"));
  EXPECT_THAT(Error("friends", FeatureInput::Sparse(kFriendsIds, kFriendsIds, {8})),
              StatusIs(absl::StatusCode::kInvalidArgument, "needs rank >= 2"));
  const std::vector<int64_t> unordered = {1, 0, 0, 0};
  EXPECT_THAT(Error("friends", FeatureInput::Sparse(unordered, {1, 2}, {2, 2})),
              StatusIs(absl::StatusCode::kInvalidArgument, "not in row-major order at index 1"));
  const std::vector<int64_t> outside = {0, 0, 0, 5};
  EXPECT_THAT(Error("friends", FeatureInput::Sparse(outside, {1, 2}, {2, 2})),
              StatusIs(absl::StatusCode::kInvalidArgument, "sparse index 1 [0, 5] is outside"));
  const std::vector<int64_t> bad_splits = {0, 3, 2};
  EXPECT_THAT(Error("friends", FeatureInput::Ragged(bad_splits, {1, 2})),
              StatusIs(absl::StatusCode::kInvalidArgument, "row_splits decrease at position 2"));
  const std::vector<int64_t> short_splits = {0, 1};
  EXPECT_THAT(Error("friends", FeatureInput::Ragged(short_splits, {1, 2})),
              StatusIs(absl::StatusCode::kInvalidArgument, "must start at 0 and end"));
  const std::vector<int64_t> huge = {0, 0};
  EXPECT_THAT(Error("friends", FeatureInput::Sparse(huge, {1}, {int64_t{1} << 40, 1 << 30})),
              StatusIs(absl::StatusCode::kInvalidArgument, "too large"));
  // Lookup of all features checks the counts.
  EXPECT_THAT(serving_->Lookup({}).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, "got 0 feature inputs"));
}

// Serving checks most ids as it prefetches their rows, 16 ids ahead: a bad id is found and
// named wherever it is, before, at and after that distance, and in every input kind.
TEST_F(ServingTest, AnIdOutsideTheTableIsNamedAtAnyPosition) {
  constexpr int kIds = 40;  // 8 bags of 5
  std::vector<int64_t> splits, indices;
  for (int b = 0; b <= kIds / 5; ++b) splits.push_back(5 * b);
  for (int k = 0; k < kIds; ++k) {
    indices.push_back(k / 5);
    indices.push_back(k % 5);
  }
  const std::vector<float> weights(kIds, 0.5f);
  for (int position : {0, 7, 15, 16, 17, 31, 39}) {
    for (int64_t bad : {int64_t{-1}, int64_t{8}, int64_t{1} << 40}) {
      std::vector<int64_t> ids(kIds);
      for (int k = 0; k < kIds; ++k) ids[k] = k % 8;
      ids[position] = bad;
      const std::string message =
          absl::StrCat("id ", bad, " at position ", position, " is outside [0, 8)");
      // "watched" looks up "video" (8 rows, sum).
      EXPECT_THAT(Error("watched", FeatureInput::Ragged(splits, ids)),
                  StatusIs(absl::StatusCode::kInvalidArgument, message));
      EXPECT_THAT(
          Error("watched", FeatureInput::Ragged(splits, ids), FeatureWeights::Ragged(weights)),
          StatusIs(absl::StatusCode::kInvalidArgument, message));
      EXPECT_THAT(Error("watched", FeatureInput::Dense(ids)),
                  StatusIs(absl::StatusCode::kInvalidArgument, message));
      EXPECT_THAT(Error("watched", FeatureInput::Sparse(indices, ids, {8, 5})),
                  StatusIs(absl::StatusCode::kInvalidArgument, message));
    }
  }
  // "friends" (16 rows, mean) with weights: sparse ids are checked before pruning, so a bad id
  // whose weight would prune it is refused too.
  std::vector<int64_t> ids(kIds, 3);
  ids[20] = 16;
  std::vector<float> pruning = weights;
  pruning[20] = 0.0f;
  EXPECT_THAT(
      Error("friends", FeatureInput::Sparse(indices, ids, {8, 5}), FeatureWeights::Sparse(pruning)),
      StatusIs(absl::StatusCode::kInvalidArgument, "id 16 at position 20 is outside [0, 16)"));
  EXPECT_THAT(Error("friends_sequence", FeatureInput::Ragged(splits, ids)),
              StatusIs(absl::StatusCode::kInvalidArgument, "id 16 at position 20"));
  // Sequence features (max_sequence_length 2, bags of 5): every id is checked, also those past
  // the length, which are dropped (positions 7, 17 and 39 are such), ragged and sparse.
  for (int position : {0, 7, 15, 16, 17, 31, 39}) {
    std::vector<int64_t> sequence_ids(kIds, 3);
    sequence_ids[position] = 16;
    const std::string message = absl::StrCat("id 16 at position ", position, " is outside [0, 16)");
    EXPECT_THAT(Error("friends_sequence", FeatureInput::Ragged(splits, sequence_ids)),
                StatusIs(absl::StatusCode::kInvalidArgument, message));
    EXPECT_THAT(Error("friends_sequence", FeatureInput::Sparse(indices, sequence_ids, {8, 5})),
                StatusIs(absl::StatusCode::kInvalidArgument, message));
  }
}

// The output's size comes from the request (a sparse dense_shape needs no ids at all), so it is
// bounded: a few bytes of request cannot make the server allocate without end.
TEST_F(ServingTest, OutputsLargerThanTheBoundAreInvalidArgument) {
  ServingOptions options;
  options.max_output_floats = 40;  // "watched" looks up "video", dim 4: at most 10 bags
  absl::StatusOr<std::unique_ptr<ServingLookup>> bounded =
      ServingLookup::Open(root_->path(), options);
  ASSERT_TRUE(bounded.ok()) << bounded.status();
  std::vector<int64_t> splits = {0};
  std::vector<int64_t> ids;
  for (int b = 0; b < 10; ++b) {
    ids.push_back(b % 8);
    splits.push_back(b + 1);
  }
  EXPECT_TRUE((*bounded)->LookupFeature("watched", FeatureInput::Ragged(splits, ids)).ok());
  ids.push_back(0);
  splits.push_back(11);
  EXPECT_THAT((*bounded)->LookupFeature("watched", FeatureInput::Ragged(splits, ids)).status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "output shape [11, 4] is invalid or holds more than 40 floats"));
  EXPECT_THAT((*bounded)
                  ->LookupFeature("watched", FeatureInput::Sparse({}, {}, {int64_t{1} << 20, 3}))
                  .status(),
              StatusIs(absl::StatusCode::kInvalidArgument, "holds more than 40 floats"));
  EXPECT_THAT((*bounded)
                  ->LookupFeature("watched", FeatureInput::Dense(std::vector<int64_t>(11, 1)))
                  .status(),
              StatusIs(absl::StatusCode::kInvalidArgument, "holds more than 40 floats"));
  options.max_output_floats = 0;
  EXPECT_THAT(ServingLookup::Open(root_->path(), options).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, "max_output_floats must be positive"));
}

// LookupFeatureInto writes what LookupFeature returns, whatever the tensor held before: every
// path (dense, bags with empty ones, sequences with padding and truncation, sparse bags with rows
// no index names, sparse sequences, output_shape) into tensors of NaN that are larger, as
// large or empty, and one tensor reused across all of them.
TEST_F(ServingTest, LookupFeatureIntoGivesLookupFeaturesBitsWhateverTheTensorHeld) {
  struct Request {
    const char* feature;
    FeatureInput input;
    std::optional<FeatureWeights> weights;
  };
  const std::vector<int64_t> empty_bag_splits = {0, 2, 2, 4, 6};
  const std::vector<float> weights = {0.5f, 0.0f, 2.0f, 1.0f, -1.0f, 3.0f, 1.0f, 0.25f};
  const std::vector<Request> requests = {
      {"watched", FeatureInput::Dense(kWatchedIds), std::nullopt},
      {"watched", FeatureInput::Sparse(kWatchedIndices, kWatchedIds, {4, 2}), std::nullopt},
      {"favorited", FeatureInput::Ragged(empty_bag_splits, kFavoritedIds), std::nullopt},
      {"friends", FeatureInput::Ragged(kFriendsSplits, kFriendsIds),
       FeatureWeights::Ragged(weights)},
      // dense_shape [6, 3]: rows 4 and 5 are named by no index; weights <= 0 are pruned.
      {"friends", FeatureInput::Sparse(kFriendsIndices, kFriendsIds, {6, 3}),
       FeatureWeights::Sparse(weights)},
      {"friends_sqrtn", FeatureInput::Ragged(kFriendsSplits, kFriendsIds), std::nullopt},
      {"friends_sequence", FeatureInput::Ragged(kFriendsSplits, kFriendsIds), std::nullopt},
      {"friends_sequence", FeatureInput::Sparse(kFriendsIndices, kFriendsIds, {4, 3}),
       std::nullopt},
      {"friends_2x4", FeatureInput::Ragged(kFriendsSplits, kFriendsIds), std::nullopt},
      {"friends_2x2", FeatureInput::Ragged(kFriendsSplits, kFriendsIds), std::nullopt},
  };
  Tensor reused;
  for (const Request& request : requests) {
    SCOPED_TRACE(request.feature);
    const Tensor expected = Lookup(request.feature, request.input, request.weights);
    ASSERT_FALSE(expected.values.empty());
    const int index = serving_->FindFeature(request.feature);
    for (size_t size : {expected.values.size() + 7, expected.values.size(), size_t{0}}) {
      Tensor out;
      out.shape = {1, 2, 3};
      out.values.assign(size, std::nanf(""));
      ASSERT_TRUE(serving_->LookupFeatureInto(index, request.input, request.weights, &out).ok());
      EXPECT_EQ(out.shape, expected.shape);
      ASSERT_EQ(out.values.size(), expected.values.size());
      EXPECT_EQ(
          std::memcmp(out.values.data(), expected.values.data(), out.values.size() * sizeof(float)),
          0)
          << "a tensor of " << size << " NaN";
    }
    ASSERT_TRUE(serving_->LookupFeatureInto(index, request.input, request.weights, &reused).ok());
    EXPECT_EQ(reused.shape, expected.shape);
    EXPECT_EQ(reused.values, expected.values);
  }
  // Errors: the same as LookupFeature's.
  Tensor out;
  const std::vector<int64_t> bad_ids = {0, 1, 9, 0, 1, 1};
  EXPECT_THAT(serving_->LookupFeatureInto(0, FeatureInput::Ragged(kWatchedSplits, bad_ids),
                                          std::nullopt, &out),
              StatusIs(absl::StatusCode::kInvalidArgument, "id 9 at position 2 is outside [0, 8)"));
  EXPECT_THAT(serving_->LookupFeatureInto(99, FeatureInput::Dense(kWatchedIds), std::nullopt, &out),
              StatusIs(absl::StatusCode::kInvalidArgument, "no feature 99"));
  EXPECT_THAT(
      serving_->LookupFeatureInto(0, FeatureInput::Dense(kWatchedIds), std::nullopt, nullptr),
      StatusIs(absl::StatusCode::kInvalidArgument, "out is null"));
}

TEST_F(ServingTest, ConcurrentLookupsAgree) {
  const FeatureInput friends = FeatureInput::Ragged(kFriendsSplits, kFriendsIds);
  const Tensor expected = Lookup("friends_2x4", friends);
  std::vector<std::thread> threads;
  std::vector<int> mismatches(4, 0);
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&, i] {
      for (int round = 0; round < 200; ++round) {
        absl::StatusOr<Tensor> out = serving_->LookupFeature("friends_2x4", friends);
        if (!out.ok() || out->values != expected.values) ++mismatches[i];
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_THAT(mismatches, ElementsAre(0, 0, 0, 0));
}

// Writes a checkpoint of `config` at step 3 into `root`, every value `value`.
absl::StatusOr<std::string> WriteFilledCheckpoint(const ResolvedConfig& config, float value,
                                                  const std::string& root) {
  const auto filled = [&](const Embedding::RowSink& sink) -> absl::Status {
    for (int t = 0; t < static_cast<int>(config.tables.size()); ++t) {
      const ResolvedTable& table = config.tables[t];
      std::vector<float> values(table.vocabulary_size * table.dim, value);
      std::vector<absl::Span<const float>> slots = {values};
      absl::Status status = sink(t, 0, table.vocabulary_size, slots);
      if (!status.ok()) return status;
    }
    return absl::OkStatus();
  };
  return WriteCheckpoint(config, 3, filled, root);
}

// Serving maps table files opened like every checkpoint file: a FIFO in place of one is an
// error at once, never a blocked open (ctest's TIMEOUT fails a hang).
TEST(ServingOpenTest, FifoInsteadOfATableFileIsDataLossNotAHang) {
  TempDir root;
  const ResolvedConfig config = ResolveOrDie(kConfig);
  absl::StatusOr<std::string> path = WriteFilledCheckpoint(config, 0.0f, root.path());
  ASSERT_TRUE(path.ok()) << path.status();
  std::string table_file;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(*path)) {
    if (entry.path().extension() == ".f32") table_file = entry.path().string();
  }
  ASSERT_FALSE(table_file.empty());
  ASSERT_EQ(unlink(table_file.c_str()), 0);
  ASSERT_EQ(mkfifo(table_file.c_str(), 0644), 0);
  EXPECT_THAT(ServingLookup::Open(root.path()).status(),
              StatusIs(absl::StatusCode::kDataLoss, "is a FIFO"));
}

// Serving verifies at Open on as many threads as asked, with the same answer: a flipped byte is
// DATA_LOSS naming the file and its chunk, and without verification only sizes are checked.
TEST(ServingOpenTest, VerifiesOnAnyThreadCountWithTheSameError) {
  TempDir root;
  const ResolvedConfig config = ResolveOrDie(kConfig);
  absl::StatusOr<std::string> path = WriteFilledCheckpoint(config, 1.0f, root.path());
  ASSERT_TRUE(path.ok()) << path.status();
  for (int threads : {0, 1, 3}) {
    ServingOptions options;
    options.verify_threads = threads;
    EXPECT_TRUE(ServingLookup::Open(root.path(), options).ok()) << threads;
  }
  const std::string file = *path + "/" + config.tables[1].name + "/parameters.f32";
  std::string bytes = testing_util::ReadFile(file);
  ASSERT_FALSE(bytes.empty());
  bytes[bytes.size() / 2] ^= 0x20;
  testing_util::WriteFile(file, bytes);
  for (int threads : {0, 1, 3}) {
    ServingOptions options;
    options.verify_threads = threads;
    EXPECT_THAT(ServingLookup::Open(root.path(), options).status(),
                StatusIs(absl::StatusCode::kDataLoss,
                         absl::StrCat(config.tables[1].name, "/parameters.f32 is corrupt (XXH3-64 "
                                      "checksum mismatch in bytes [0, ",
                                      bytes.size(), "))")))
        << threads;
  }
  ServingOptions unverified;
  unverified.verify_checksums = false;
  EXPECT_TRUE(ServingLookup::Open(root.path(), unverified).ok());
}

}  // namespace
}  // namespace embrt
