// Copyright embrt authors.
//
// Tests for core/src/input_conversion.cc: dense / sparse / ragged ids -> CSR, with TF's checks.

#include "input_conversion.h"

#include <cstdint>
#include <limits>
#include <optional>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace embrt {
namespace internal {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// The canonical fixture of plugin_api/MATH.md §5.1: table "video" (vocab 8) looked up by
// "watched" with 4 rows per replica.
class InputConversionTest : public ::testing::Test {
 protected:
  InputConversionTest() {
    table_.name = "video";
    table_.vocabulary_size = 8;
    table_.dim = 4;
    feature_.name = "watched";
    feature_.table_index = 0;
    layout_.feature_index = 2;
    layout_.feature = &feature_;
    layout_.table = &table_;
    layout_.output_shape = {4};
    layout_.input_rows = 4;
  }

  absl::Status Convert(const FeatureInput& input,
                       const std::optional<FeatureWeights>& weights = std::nullopt) {
    return ConvertFeatureInput(layout_, input, weights, &csr_);
  }

  void MakeSequence(int32_t length) {
    feature_.max_sequence_length = length;
    layout_.output_shape = {4, length};
  }

  ResolvedTable table_;
  ResolvedFeature feature_;
  FeatureLayout layout_;
  CsrFeature csr_;
};

// The watched feature of §5.1 as COO.
const std::vector<int64_t> kWatchedIndices = {0, 0, 1, 0, 1, 1, 2, 0, 2, 1, 3, 0};
const std::vector<int64_t> kWatchedValues = {0, 0, 1, 0, 1, 1};

TEST_F(InputConversionTest, DenseRankOneIsOneIdPerRow) {
  std::vector<int64_t> ids = {0, 0, 1, 0};
  ASSERT_TRUE(Convert(FeatureInput::Dense(ids)).ok());
  EXPECT_THAT(csr_.id_view, ElementsAre(0, 0, 1, 0));
  EXPECT_THAT(csr_.row_splits, ElementsAre(0, 1, 2, 3, 4));
  EXPECT_THAT(csr_.weight_view, IsEmpty());
}

TEST_F(InputConversionTest, DenseLastDimensionOneIsReduced) {
  std::vector<int64_t> ids = {7, 6, 5, 4};
  ASSERT_TRUE(Convert(FeatureInput::Dense(ids, {4, 1})).ok());
  EXPECT_THAT(csr_.id_view, ElementsAre(7, 6, 5, 4));
  EXPECT_THAT(csr_.row_splits, ElementsAre(0, 1, 2, 3, 4));
}

TEST_F(InputConversionTest, DenseHighRankFlattensLeadingDimensions) {
  layout_.output_shape = {2, 2};
  std::vector<int64_t> ids = {1, 2, 3, 4};
  ASSERT_TRUE(Convert(FeatureInput::Dense(ids, {2, 2, 1})).ok());
  EXPECT_THAT(csr_.id_view, ElementsAre(1, 2, 3, 4));
  EXPECT_THAT(csr_.row_splits, ElementsAre(0, 1, 2, 3, 4));
}

TEST_F(InputConversionTest, DenseLastDimensionOtherThanOneIsRejected) {
  layout_.input_rows = 2;
  std::vector<int64_t> ids = {1, 2, 3, 4};
  absl::Status status = Convert(FeatureInput::Dense(ids, {2, 2}));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), AllOf(HasSubstr("feature 'watched'"), HasSubstr("table 'video'"),
                                      HasSubstr("last dimension of 1"), HasSubstr("[2, 2]")));
}

TEST_F(InputConversionTest, DenseShapeMustHoldTheIds) {
  std::vector<int64_t> ids = {1, 2, 3};
  absl::Status status = Convert(FeatureInput::Dense(ids, {4, 1}));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("holds 4 ids but 3 were given"));
}

TEST_F(InputConversionTest, WeightsOnDenseInputAreRejected) {
  std::vector<int64_t> ids = {0, 1, 2, 3};
  std::vector<float> weights = {1, 1, 1, 1};
  absl::Status status = Convert(FeatureInput::Dense(ids), FeatureWeights::Dense(weights));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), AllOf(HasSubstr("Weight specified for dense input"),
                                      HasSubstr("feature 'watched'"), HasSubstr("table 'video'")));
}

TEST_F(InputConversionTest, SparseBagsAreTheLastAxis) {
  ASSERT_TRUE(Convert(FeatureInput::Sparse(kWatchedIndices, kWatchedValues, {4, 2})).ok());
  EXPECT_THAT(csr_.id_view, ElementsAre(0, 0, 1, 0, 1, 1));
  EXPECT_THAT(csr_.row_splits, ElementsAre(0, 1, 3, 5, 6));
  EXPECT_THAT(csr_.weight_view, IsEmpty());
}

TEST_F(InputConversionTest, SparseEmptyRowsInsideAndAtTheEnd) {
  // Rows 0 and 3 are empty; row 2 skips position 0 (a bag does not care about positions).
  std::vector<int64_t> indices = {1, 0, 1, 1, 2, 1};
  std::vector<int64_t> values = {5, 6, 7};
  ASSERT_TRUE(Convert(FeatureInput::Sparse(indices, values, {4, 3})).ok());
  EXPECT_THAT(csr_.id_view, ElementsAre(5, 6, 7));
  EXPECT_THAT(csr_.row_splits, ElementsAre(0, 0, 2, 3, 3));
}

TEST_F(InputConversionTest, SparseWeightsFollowTheIds) {
  std::vector<float> weights = {0.5f, 1.5f, 2.5f, 3.5f, 4.5f, 5.5f};
  ASSERT_TRUE(Convert(FeatureInput::Sparse(kWatchedIndices, kWatchedValues, {4, 2}),
                      FeatureWeights::Sparse(weights))
                  .ok());
  EXPECT_THAT(csr_.weight_view, ElementsAre(0.5f, 1.5f, 2.5f, 3.5f, 4.5f, 5.5f));
}

TEST_F(InputConversionTest, SparseHigherRankIsFlattenedToRows) {
  // dense_shape [2, 2, 3]: rows are (0,0), (0,1), (1,0), (1,1).
  layout_.output_shape = {2, 2};
  std::vector<int64_t> indices = {0, 0, 0, 0, 0, 2, 0, 1, 1, 1, 1, 0};
  std::vector<int64_t> values = {1, 2, 3, 4};
  ASSERT_TRUE(Convert(FeatureInput::Sparse(indices, values, {2, 2, 3})).ok());
  EXPECT_THAT(csr_.id_view, ElementsAre(1, 2, 3, 4));
  EXPECT_THAT(csr_.row_splits, ElementsAre(0, 2, 3, 3, 4));
}

TEST_F(InputConversionTest, SparseRankOneIsRejected) {
  std::vector<int64_t> indices = {0, 1};
  std::vector<int64_t> values = {1, 2};
  absl::Status status = Convert(FeatureInput::Sparse(indices, values, {4}));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("rank 2 or more"));
}

TEST_F(InputConversionTest, SparseIndicesOutOfOrderAreRejected) {
  std::vector<int64_t> indices = {1, 0, 0, 0};
  std::vector<int64_t> values = {1, 2};
  absl::Status status = Convert(FeatureInput::Sparse(indices, values, {4, 2}));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(),
              AllOf(HasSubstr("feature 'watched'"), HasSubstr("indices[1] = [0, 0] comes before"),
                    HasSubstr("row-major")));
}

TEST_F(InputConversionTest, SparseDuplicateIndicesAreRejected) {
  std::vector<int64_t> indices = {1, 0, 1, 0};
  std::vector<int64_t> values = {1, 2};
  absl::Status status = Convert(FeatureInput::Sparse(indices, values, {4, 2}));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("indices[1] = [1, 0] repeats"));
}

TEST_F(InputConversionTest, SparseIndexOutsideDenseShapeIsRejected) {
  std::vector<int64_t> indices = {0, 0, 1, 2};
  std::vector<int64_t> values = {1, 2};
  absl::Status status = Convert(FeatureInput::Sparse(indices, values, {4, 2}));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("indices[1] = [1, 2] is outside dense_shape [4, 2]"));
}

TEST_F(InputConversionTest, SparseIndicesCountMustMatchValues) {
  std::vector<int64_t> indices = {0, 0, 1};
  std::vector<int64_t> values = {1, 2};
  absl::Status status = Convert(FeatureInput::Sparse(indices, values, {4, 2}));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("need 4"));
}

TEST_F(InputConversionTest, RaggedRowsAreBags) {
  std::vector<int64_t> splits = {0, 1, 4, 5, 8};
  std::vector<int64_t> values = {3, 0, 1, 2, 3, 0, 1, 2};
  std::vector<float> weights = {1, 2, 3, 4, 5, 6, 7, 8};
  ASSERT_TRUE(
      Convert(FeatureInput::Ragged(splits, values), FeatureWeights::Ragged(weights)).ok());
  EXPECT_THAT(csr_.id_view, ElementsAre(3, 0, 1, 2, 3, 0, 1, 2));
  EXPECT_THAT(csr_.row_splits, ElementsAre(0, 1, 4, 5, 8));
  EXPECT_THAT(csr_.weight_view, ElementsAre(1, 2, 3, 4, 5, 6, 7, 8));
}

TEST_F(InputConversionTest, RaggedEmptyRows) {
  std::vector<int64_t> splits = {0, 0, 2, 2, 2};
  std::vector<int64_t> values = {4, 5};
  ASSERT_TRUE(Convert(FeatureInput::Ragged(splits, values)).ok());
  EXPECT_THAT(csr_.id_view, ElementsAre(4, 5));
  EXPECT_THAT(csr_.row_splits, ElementsAre(0, 0, 2, 2, 2));
}

TEST_F(InputConversionTest, RaggedSplitsAreChecked) {
  std::vector<int64_t> values = {1, 2};
  std::vector<int64_t> not_from_zero = {1, 1, 2, 2, 2};
  EXPECT_THAT(Convert(FeatureInput::Ragged(not_from_zero, values)).message(),
              HasSubstr("must start at 0 (got 1)"));
  std::vector<int64_t> descending = {0, 2, 1, 2, 2};
  absl::Status status = Convert(FeatureInput::Ragged(descending, values));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("row_splits[2] = 1 < row_splits[1] = 2"));
  std::vector<int64_t> short_end = {0, 1, 1, 1, 1};
  EXPECT_THAT(Convert(FeatureInput::Ragged(short_end, values)).message(),
              HasSubstr("end at 1 but there are 2 ids"));
  FeatureInput rank3 = FeatureInput::Ragged(short_end, values);
  rank3.shape = {4, 2, 1};
  EXPECT_THAT(Convert(rank3).message(), HasSubstr("must have rank 2"));
}

TEST_F(InputConversionTest, WeightKindMustMatchInputKind) {
  std::vector<float> weights = {1, 1, 1, 1, 1, 1};
  absl::Status status = Convert(FeatureInput::Sparse(kWatchedIndices, kWatchedValues, {4, 2}),
                                FeatureWeights::Ragged(weights));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(),
              AllOf(HasSubstr("feature 'watched'"), HasSubstr("type ragged"),
                    HasSubstr("does not match the type of the input which is sparse")));
}

TEST_F(InputConversionTest, WeightCountMustMatchIdCount) {
  std::vector<float> weights = {1, 1};
  absl::Status status = Convert(FeatureInput::Sparse(kWatchedIndices, kWatchedValues, {4, 2}),
                                FeatureWeights::Sparse(weights));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("have 2 values but the input has 6 ids"));
}

TEST_F(InputConversionTest, RowCountMustMatchTheBuiltBatch) {
  std::vector<int64_t> ids = {0, 1, 2};
  absl::Status status = Convert(FeatureInput::Dense(ids));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), AllOf(HasSubstr("feature 'watched'"), HasSubstr("table 'video'"),
                                      HasSubstr("batch size mismatch"),
                                      HasSubstr("expected 4, got 3")));
  EXPECT_THAT(Convert(FeatureInput::Sparse(kWatchedIndices, kWatchedValues, {5, 2})).message(),
              HasSubstr("expected 4, got 5"));
  std::vector<int64_t> splits = {0, 1, 2};
  std::vector<int64_t> values = {1, 2};
  EXPECT_THAT(Convert(FeatureInput::Ragged(splits, values)).message(),
              HasSubstr("expected 4, got 2"));
}

TEST_F(InputConversionTest, OutOfRangeIdNamesFeatureTableRowPositionAndId) {
  std::vector<int64_t> values = {0, 0, 1, 0, 8, 1};
  absl::Status status = Convert(FeatureInput::Sparse(kWatchedIndices, values, {4, 2}));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(),
              AllOf(HasSubstr("feature 'watched'"), HasSubstr("table 'video'"),
                    HasSubstr("id 8 at row 2, position 1 is out of range"),
                    HasSubstr("vocabulary_size 8")));
}

TEST_F(InputConversionTest, NegativeIdIsRejected) {
  std::vector<int64_t> splits = {0, 1, 2, 3, 4};
  std::vector<int64_t> values = {0, 1, -1, 2};
  absl::Status status = Convert(FeatureInput::Ragged(splits, values));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("id -1 at row 2, position 0 is negative"));
  std::vector<int64_t> dense = {0, 1, 2, -5};
  EXPECT_THAT(Convert(FeatureInput::Dense(dense)).message(),
              HasSubstr("id -5 at row 3, position 0 is negative"));
}

TEST_F(InputConversionTest, RaggedSequenceTruncatesAndPads) {
  // §5.5 "Sequence lookup": friends bags [3], [0,1,2], [3], [0,1,2] with L = 2.
  MakeSequence(2);
  std::vector<int64_t> splits = {0, 1, 4, 5, 8};
  std::vector<int64_t> values = {3, 0, 1, 2, 3, 0, 1, 2};
  ASSERT_TRUE(Convert(FeatureInput::Ragged(splits, values)).ok());
  EXPECT_THAT(csr_.id_view, ElementsAre(3, 0, 1, 3, 0, 1));
  EXPECT_THAT(csr_.row_splits, ElementsAre(0, 1, 3, 4, 6));
}

TEST_F(InputConversionTest, SparseSequenceTakesPositionsFromTheIndex) {
  MakeSequence(2);
  // Row 0: positions 0,1,2 (2 is dropped); row 1 empty (two padding positions); row 2: one
  // id (one padding position); row 3: positions 0,1.
  std::vector<int64_t> indices = {0, 0, 0, 1, 0, 2, 2, 0, 3, 0, 3, 1};
  std::vector<int64_t> values = {1, 2, 3, 4, 5, 6};
  ASSERT_TRUE(Convert(FeatureInput::Sparse(indices, values, {4, 3})).ok());
  EXPECT_THAT(csr_.id_view, ElementsAre(1, 2, 4, 5, 6));
  EXPECT_THAT(csr_.row_splits, ElementsAre(0, 2, 2, 3, 5));
}

TEST_F(InputConversionTest, DroppedSequenceIdsAreNotLookedUp) {
  // Ids past L never reach the table (TF truncates before the lookup), so they are not checked.
  MakeSequence(1);
  std::vector<int64_t> splits = {0, 2, 2, 2, 2};
  std::vector<int64_t> values = {1, 99};
  ASSERT_TRUE(Convert(FeatureInput::Ragged(splits, values)).ok());
  EXPECT_THAT(csr_.id_view, ElementsAre(1));
}

TEST_F(InputConversionTest, SequenceHolesBecomePositions) {
  // As TF: row 0 has ids at positions 0 and 2 (a hole at 1), row 2 one id at position 1; the
  // ABI 1.1 positions carry them, and position 3 >= L is dropped.
  MakeSequence(3);
  std::vector<int64_t> indices = {0, 0, 0, 2, 2, 1, 2, 3};
  std::vector<int64_t> values = {1, 2, 3, 4};
  ASSERT_TRUE(Convert(FeatureInput::Sparse(indices, values, {4, 4})).ok());
  EXPECT_THAT(csr_.id_view, ElementsAre(1, 2, 3));
  EXPECT_THAT(csr_.row_splits, ElementsAre(0, 2, 2, 3, 3));
  EXPECT_THAT(csr_.positions, ElementsAre(0, 2, 1));
  // Without holes no positions are passed (the k-th id of a row is at position k).
  std::vector<int64_t> packed = {0, 0, 0, 1, 2, 0};
  std::vector<int64_t> packed_values = {1, 2, 3};
  ASSERT_TRUE(Convert(FeatureInput::Sparse(packed, packed_values, {4, 3})).ok());
  EXPECT_TRUE(csr_.positions.empty());
}

TEST_F(InputConversionTest, SequenceRejectsWeightsDenseAndHighRank) {
  MakeSequence(2);
  std::vector<float> weights = {1, 1, 1, 1, 1, 1};
  absl::Status status = Convert(FeatureInput::Sparse(kWatchedIndices, kWatchedValues, {4, 2}),
                                FeatureWeights::Sparse(weights));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), AllOf(HasSubstr("Weight specified for feature 'watched'"),
                                      HasSubstr("this is a sequence feature")));
  std::vector<int64_t> ids = {0, 1, 2, 3};
  EXPECT_THAT(Convert(FeatureInput::Dense(ids)).message(),
              HasSubstr("is a sequence feature (max_sequence_length 2) and needs a rank-2"));
  std::vector<int64_t> indices = {0, 0, 0};
  std::vector<int64_t> values = {1};
  EXPECT_THAT(Convert(FeatureInput::Sparse(indices, values, {2, 2, 2})).message(),
              HasSubstr("needs a rank-2 sparse input"));
}

TEST_F(InputConversionTest, SteadyStateReusesTheBuffers) {
  ASSERT_TRUE(Convert(FeatureInput::Sparse(kWatchedIndices, kWatchedValues, {4, 2})).ok());
  const int64_t* ids = csr_.ids.data();
  const int32_t* splits = csr_.row_splits.data();
  std::vector<int64_t> fewer_indices = {0, 0, 3, 1};
  std::vector<int64_t> fewer_values = {7, 6};
  ASSERT_TRUE(Convert(FeatureInput::Sparse(fewer_indices, fewer_values, {4, 2})).ok());
  EXPECT_THAT(csr_.id_view, ElementsAre(7, 6));
  EXPECT_THAT(csr_.row_splits, ElementsAre(0, 1, 1, 1, 2));
  ASSERT_TRUE(Convert(FeatureInput::Sparse(kWatchedIndices, kWatchedValues, {4, 2})).ok());
  EXPECT_EQ(csr_.ids.data(), ids);
  EXPECT_EQ(csr_.row_splits.data(), splits);
}

// Dense ids and ragged ids that need no truncation already have the ABI's form: the plugin is
// pointed at the caller's arrays instead of a copy (issue 13: no second copy of the ids).
TEST_F(InputConversionTest, DenseAndRaggedIdsAreNotCopied) {
  std::vector<int64_t> dense = {7, 6, 5, 4};
  ASSERT_TRUE(Convert(FeatureInput::Dense(dense)).ok());
  EXPECT_EQ(csr_.id_view.data(), dense.data());
  EXPECT_TRUE(csr_.borrowed);
  EXPECT_THAT(csr_.row_splits, ElementsAre(0, 1, 2, 3, 4));

  std::vector<int64_t> splits = {0, 1, 4, 5, 8};
  std::vector<int64_t> values = {3, 0, 1, 2, 3, 0, 1, 2};
  std::vector<float> weights = {1, 2, 3, 4, 5, 6, 7, 8};
  ASSERT_TRUE(
      Convert(FeatureInput::Ragged(splits, values), FeatureWeights::Ragged(weights)).ok());
  EXPECT_EQ(csr_.id_view.data(), values.data());
  EXPECT_EQ(csr_.id_view.size(), values.size());
  EXPECT_EQ(csr_.weight_view.data(), weights.data());
  EXPECT_TRUE(csr_.borrowed);
  EXPECT_THAT(csr_.row_splits, ElementsAre(0, 1, 4, 5, 8));

  // A sparse input is rewritten into the owned vectors.
  ASSERT_TRUE(Convert(FeatureInput::Sparse(kWatchedIndices, kWatchedValues, {4, 2})).ok());
  EXPECT_FALSE(csr_.borrowed);
  EXPECT_EQ(csr_.id_view.data(), csr_.ids.data());
  EXPECT_THAT(csr_.id_view, ElementsAre(0, 0, 1, 0, 1, 1));
  EXPECT_THAT(csr_.weight_view, IsEmpty());
}

// A truncated sequence row needs a rewritten copy, so nothing is borrowed then.
TEST_F(InputConversionTest, TruncatedRaggedSequenceIsCopied) {
  MakeSequence(2);
  std::vector<int64_t> splits = {0, 1, 4, 5, 8};
  std::vector<int64_t> values = {3, 0, 1, 2, 3, 0, 1, 2};
  ASSERT_TRUE(Convert(FeatureInput::Ragged(splits, values)).ok());
  EXPECT_FALSE(csr_.borrowed);
  EXPECT_EQ(csr_.id_view.data(), csr_.ids.data());
  EXPECT_THAT(csr_.id_view, ElementsAre(3, 0, 1, 3, 0, 1));
}

// The one-pass check still names the first bad id of a ragged input, after good ones.
TEST_F(InputConversionTest, RaggedBadIdIsNamedAfterTheFastCheck) {
  std::vector<int64_t> splits = {0, 2, 3, 5, 6};
  std::vector<int64_t> values = {1, 2, 3, 4, 8, 9};
  const absl::Status status = Convert(FeatureInput::Ragged(splits, values));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(),
              AllOf(HasSubstr("feature 'watched'"), HasSubstr("table 'video'"),
                    HasSubstr("id 8 at row 2, position 1 is out of range")));
}

// IdCheck::kLeaveToPlugin (one host): ids the plugin reads in place pass unchecked, exactly as
// given, for the plugin to reject; ids the conversion copies anyway are still checked there.
TEST_F(InputConversionTest, LeaveToPluginSkipsOnlyTheIdsThePluginReadsInPlace) {
  auto convert = [&](const FeatureInput& input) {
    return ConvertFeatureInput(layout_, input, std::nullopt, &csr_, IdCheck::kLeaveToPlugin);
  };
  const std::vector<int64_t> dense = {0, 8, 1, -1};
  ASSERT_TRUE(convert(FeatureInput::Dense(dense)).ok());
  EXPECT_EQ(csr_.id_view.data(), dense.data());
  EXPECT_THAT(csr_.row_splits, ElementsAre(0, 1, 2, 3, 4));
  const std::vector<int64_t> splits = {0, 2, 3, 5, 6};
  const std::vector<int64_t> ragged = {1, 2, 3, 4, 8, 9};
  ASSERT_TRUE(convert(FeatureInput::Ragged(splits, ragged)).ok());
  EXPECT_EQ(csr_.id_view.data(), ragged.data());
  EXPECT_THAT(csr_.row_splits, ElementsAre(0, 2, 3, 5, 6));
  // Copied: sparse ids, and a ragged sequence whose row is truncated.
  const std::vector<int64_t> sparse = {0, 0, 1, 0, 8, 1};
  EXPECT_THAT(convert(FeatureInput::Sparse(kWatchedIndices, sparse, {4, 2})).message(),
              HasSubstr("id 8 at row 2, position 1 is out of range"));
  MakeSequence(1);
  EXPECT_THAT(convert(FeatureInput::Ragged(splits, ragged)).message(),  // 8 is dropped
              HasSubstr("id 9 at row 3, position 0 is out of range"));
  // Everything else is checked as with IdCheck::kAll.
  MakeSequence(0);
  const std::vector<int64_t> descending = {0, 2, 1, 5, 6};
  EXPECT_THAT(convert(FeatureInput::Ragged(descending, ragged)).message(),
              HasSubstr("row_splits[2] = 1 < row_splits[1] = 2"));
}

// Issue 8 B: a rank-3 dense_shape whose product wraps ((2^62 + 1) * 4 == 4 in 64 bits) used to
// pass the row check, and the indices then wrote past the row splits (heap corruption with
// [1, 0, 0], SIGSEGV with [2^40, 0, 0]). Both must be INVALID_ARGUMENT naming the values.
TEST_F(InputConversionTest, SparseShapeWhoseProductOverflowsIsRejected) {
  const int64_t huge = (int64_t{1} << 62) + 1;
  const std::vector<int64_t> values = {3};
  for (const std::vector<int64_t>& index :
       {std::vector<int64_t>{1, 0, 0}, std::vector<int64_t>{int64_t{1} << 40, 0, 0}}) {
    absl::Status status = Convert(FeatureInput::Sparse(index, values, {huge, 4, 5}));
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
    EXPECT_THAT(status.message(),
                AllOf(HasSubstr("feature 'watched'"), HasSubstr("table 'video'"),
                      HasSubstr("[4611686018427387905, 4, 5]"),
                      HasSubstr("more elements than int64 can count")));
  }
  // The last dimension alone can overflow the whole shape too.
  const std::vector<int64_t> index = {0, 0};
  EXPECT_EQ(Convert(FeatureInput::Sparse(index, values, {4, std::numeric_limits<int64_t>::max()})).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(InputConversionTest, DenseShapeWhoseProductOverflowsIsRejected) {
  const std::vector<int64_t> ids = {0, 1, 2, 3};
  absl::Status status = Convert(FeatureInput::Dense(ids, {(int64_t{1} << 62) + 1, 4, 1}));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_THAT(status.message(), AllOf(HasSubstr("feature 'watched'"), HasSubstr("table 'video'"),
                                      HasSubstr("[4611686018427387905, 4, 1]"),
                                      HasSubstr("more elements than int64 can count")));
}

// Issue 8 F: weights must be finite before any plugin sees them; any finite value (negative
// and zero included) is accepted, as TF's TPU path takes weights as given.
TEST_F(InputConversionTest, NonFiniteWeightsAreRejected) {
  const std::vector<int64_t> splits = {0, 1, 2, 3, 4};
  const std::vector<int64_t> ids = {0, 1, 2, 3};
  for (float bad : {std::numeric_limits<float>::quiet_NaN(),
                    std::numeric_limits<float>::infinity(),
                    -std::numeric_limits<float>::infinity()}) {
    const std::vector<float> weights = {1.0f, 1.0f, bad, 1.0f};
    absl::Status status =
        Convert(FeatureInput::Ragged(splits, ids), FeatureWeights::Ragged(weights));
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
    EXPECT_THAT(status.message(), AllOf(HasSubstr("feature 'watched'"),
                                        HasSubstr("table 'video'"), HasSubstr("weight 2 is"),
                                        HasSubstr("must be finite")));
    const std::vector<int64_t> indices = {0, 0, 1, 0, 2, 0, 3, 0};
    EXPECT_EQ(Convert(FeatureInput::Sparse(indices, ids, {4, 1}), FeatureWeights::Sparse(weights))
                  .code(),
              absl::StatusCode::kInvalidArgument);
  }
  const std::vector<float> signed_weights = {-2.5f, 0.0f, -0.0f, 3.0f};
  ASSERT_TRUE(
      Convert(FeatureInput::Ragged(splits, ids), FeatureWeights::Ragged(signed_weights)).ok());
  EXPECT_THAT(csr_.weight_view, ElementsAre(-2.5f, 0.0f, -0.0f, 3.0f));
}

}  // namespace
}  // namespace internal
}  // namespace embrt
