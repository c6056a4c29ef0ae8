// Copyright embrt authors.
//
// The mock's validation and lifecycle errors through the C ABI: every bad call returns the
// right code with a message naming what is wrong, and changes nothing.

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "mock_harness.h"

namespace embrt {
namespace testing {
namespace {

using ::testing::HasSubstr;

MATCHER_P2(IsError, code, substring, "") {
  return arg.code == code && arg.message.find(substring) != std::string::npos;
}

TEST(MockValidationTest, CreateRejectsBadDescriptionsNamingTheField) {
  struct Case {
    const char* what;
    void (*edit)(EngineSpec*);
    const char* message;
  };
  const Case cases[] = {
      {"dim", [](EngineSpec* s) { s->tables[0].dim = 0; }, "table 0 't0': dim must be >= 1"},
      {"vocabulary", [](EngineSpec* s) { s->tables[0].vocabulary_size = 0; }, "vocabulary_size"},
      {"combiner", [](EngineSpec* s) { s->tables[0].combiner = 9; }, "unknown combiner 9"},
      {"optimizer", [](EngineSpec* s) { s->tables[0].optimizer = 0; }, "unknown optimizer kind"},
      {"tag", [](EngineSpec* s) { s->tables[0].learning_rate_tag = 0; }, "learning_rate_tag 0"},
      {"table_index", [](EngineSpec* s) { s->features[0].table = 3; },
       "feature 0 'f0': table_index 3"},
      {"replicas", [](EngineSpec* s) { s->num_replicas = 0; }, "num_replicas"},
      {"host_id", [](EngineSpec* s) { s->host_id = 1; }, "host_id 1"},
  };
  for (const Case& c : cases) {
    EngineSpec spec = SmallSpec();
    c.edit(&spec);
    EMBRT_Engine* engine = nullptr;
    EXPECT_THAT(CreateEngine(spec, &engine), IsError(EMBRT_CODE_INVALID_ARGUMENT, c.message))
        << c.what;
    EXPECT_EQ(engine, nullptr) << c.what;
  }
}

TEST(MockValidationTest, CreateChecksShardRowsAndOutputShape) {
  EngineSpec spec = SmallSpec();
  Description description(spec);
  description.tables()[0].shard_rows = 7;
  EMBRT_Engine_Create_Args args = {EMBRT_Engine_Create_Args_STRUCT_SIZE, nullptr, description.get(),
                                   nullptr};
  EXPECT_THAT(Take(MockApi()->Engine_Create(&args)),
              IsError(EMBRT_CODE_INVALID_ARGUMENT, "shard_rows 7 but host 0 of 1 holds 8 rows"));

  Description shaped(spec);
  static const int64_t kShape[] = {3};
  shaped.features()[0].output_shape = kShape;
  args.description = shaped.get();
  EXPECT_THAT(Take(MockApi()->Engine_Create(&args)),
              IsError(EMBRT_CODE_INVALID_ARGUMENT, "output_shape holds 3 positions"));
}

TEST(MockValidationTest, IdsOutOfRangeNameFeatureRowAndId) {
  MockEngine engine(SmallSpec());
  EXPECT_THAT(engine.Enqueue(0, EMBRT_MODE_TRAINING, {Input{{1, 2, 8}, {0, 1, 3}}}),
              IsError(EMBRT_CODE_INVALID_ARGUMENT,
                      "feature 0 'f0' row 1 position 1: id 8 is outside [0, 8) of table 't0'"));
  EXPECT_THAT(engine.Enqueue(0, EMBRT_MODE_TRAINING, {Input{{-1, 2}}}),
              IsError(EMBRT_CODE_INVALID_ARGUMENT, "row 0 position 0: id -1"));
  // Nothing was enqueued.
  std::vector<std::vector<float>> out;
  EXPECT_EQ(engine.Recv(0, &out).code, EMBRT_CODE_FAILED_PRECONDITION);
}

TEST(MockValidationTest, BadRowSplitsAreRejected) {
  MockEngine engine(SmallSpec());
  EXPECT_THAT(engine.Enqueue(0, EMBRT_MODE_TRAINING, {Input{{1, 2}, {0, 2, 1}}}),
              IsError(EMBRT_CODE_INVALID_ARGUMENT, "row_splits are not ascending at row 1"));
  EXPECT_THAT(engine.Enqueue(0, EMBRT_MODE_TRAINING, {Input{{1, 2}, {1, 2, 2}}}),
              IsError(EMBRT_CODE_INVALID_ARGUMENT, "row_splits[0] is 1"));
  EXPECT_THAT(engine.Enqueue(0, EMBRT_MODE_TRAINING, {Input{{1, 2}, {0, 2}}}),
              IsError(EMBRT_CODE_INVALID_ARGUMENT, "row_splits has 2 entries"));
  EXPECT_THAT(engine.Enqueue(0, EMBRT_MODE_TRAINING, {Input{{1, 2}, {0, 1, 5}}}),
              IsError(EMBRT_CODE_INVALID_ARGUMENT, "row_splits end at 5 but num_ids is 2"));
  EXPECT_THAT(engine.Enqueue(0, EMBRT_MODE_TRAINING, {Input{{1, 2, 3}}}),
              IsError(EMBRT_CODE_INVALID_ARGUMENT, "one id per row (2), got 3 ids"));
  EXPECT_THAT(engine.Enqueue(0, EMBRT_MODE_TRAINING, {}),
              IsError(EMBRT_CODE_INVALID_ARGUMENT, "got 0 feature inputs, expected 1"));
  EXPECT_THAT(engine.Enqueue(0, 7, {Input{{1, 2}}}),
              IsError(EMBRT_CODE_INVALID_ARGUMENT, "unknown mode 7"));
}

TEST(MockValidationTest, WrongReplicaIsInvalidArgument) {
  MockEngine engine(SmallSpec());
  EXPECT_THAT(engine.Enqueue(1, EMBRT_MODE_TRAINING, {Input{{1, 2}}}),
              IsError(EMBRT_CODE_INVALID_ARGUMENT, "replica 1 is outside [0, 1)"));
  std::vector<std::vector<float>> out;
  EXPECT_THAT(engine.Recv(-1, &out), IsError(EMBRT_CODE_INVALID_ARGUMENT, "replica -1"));
  EXPECT_THAT(engine.Send(3, {{}}), IsError(EMBRT_CODE_INVALID_ARGUMENT, "replica 3"));
}

TEST(MockValidationTest, WrongActivationBufferLeavesTheStepEnqueued) {
  MockEngine engine(SmallSpec());
  ASSERT_TRUE(engine.Enqueue(0, EMBRT_MODE_TRAINING, {Input{{1, 2}}}).ok());
  std::vector<float> small(3, -7.0f);
  EXPECT_THAT(
      engine.RecvInto(0, {small.data()}, {small.size()}),
      IsError(EMBRT_CODE_INVALID_ARGUMENT, "feature 0 'f0': buffer holds 3 floats, expected 4"));
  EXPECT_EQ(small, std::vector<float>(3, -7.0f));
  EXPECT_THAT(engine.RecvInto(0, {nullptr}, {4}),
              IsError(EMBRT_CODE_INVALID_ARGUMENT, "buffer is NULL"));
  EXPECT_THAT(engine.RecvInto(0, {}, {}),
              IsError(EMBRT_CODE_INVALID_ARGUMENT, "got 0 activation buffers, expected 1"));
  std::vector<std::vector<float>> out;
  ASSERT_TRUE(engine.Recv(0, &out).ok());
  EXPECT_EQ(out[0], (std::vector<float>{1.0f, 1.001f, 2.0f, 2.001f}));
}

TEST(MockValidationTest, BadGradientsChangeNothing) {
  MockEngine engine(SmallSpec());
  std::vector<std::vector<float>> out;
  ASSERT_TRUE(engine.Enqueue(0, EMBRT_MODE_TRAINING, {Input{{1, 2}}}).ok());
  ASSERT_TRUE(engine.Recv(0, &out).ok());
  EXPECT_THAT(engine.Send(0, {{1.0f, 2.0f, 3.0f}}),
              IsError(EMBRT_CODE_INVALID_ARGUMENT, "feature 0 'f0': gradient holds 3 floats"));
  EXPECT_THAT(engine.Send(0, {{1.0f, 2.0f, std::nanf(""), 4.0f}}),
              IsError(EMBRT_CODE_INVALID_ARGUMENT, "at position 1 column 0 is not finite"));
  EXPECT_THAT(engine.Send(0, {{1.0f, std::numeric_limits<float>::infinity(), 3.0f, 4.0f}}),
              IsError(EMBRT_CODE_INVALID_ARGUMENT, "position 0 column 1"));
  EXPECT_THAT(engine.Send(0, {}), IsError(EMBRT_CODE_INVALID_ARGUMENT, "got 0 gradient buffers"));
  EXPECT_THAT(engine.Send(0, {{}}, {0.5f}),
              IsError(EMBRT_CODE_INVALID_ARGUMENT, "got 1 learning rates, expected"));
  EXPECT_EQ(engine.Parameters(0, 1, 2), (std::vector<float>{1.0f, 1.001f, 2.0f, 2.001f}));
  // The step is still open: a good Send applies only its own gradient.
  ASSERT_TRUE(engine.Send(0, {{2.0f, 2.0f, 0.0f, 0.0f}}).ok());
  EXPECT_EQ(engine.Parameters(0, 1, 2), (std::vector<float>{0.0f, 1.001f - 1.0f, 2.0f, 2.001f}));
}

TEST(MockValidationTest, NonFiniteGradientsPassWhenAllowed) {
  EngineSpec spec = SmallSpec();
  spec.allow_nonfinite_gradients = true;
  MockEngine engine(spec);
  std::vector<std::vector<float>> out;
  ASSERT_TRUE(engine.Enqueue(0, EMBRT_MODE_TRAINING, {Input{{1, 2}}}).ok());
  ASSERT_TRUE(engine.Recv(0, &out).ok());
  ASSERT_TRUE(engine.Send(0, {{std::nanf(""), 0.0f, 0.0f, 0.0f}}).ok());
  EXPECT_TRUE(std::isnan(engine.Parameters(0, 1, 1)[0]));
}

TEST(MockValidationTest, LoadAndRetrieveCheckTableShardRowsAndSlots) {
  MockEngine engine(SmallSpec());
  const std::vector<float> two_rows = {9.0f, 9.0f, 9.0f, 9.0f};
  EXPECT_THAT(engine.Load(1, 0, 2, {two_rows}),
              IsError(EMBRT_CODE_INVALID_ARGUMENT, "LoadTableShard: table 1 is outside [0, 1)"));
  EXPECT_THAT(
      engine.Load(0, 7, 2, {two_rows}),
      IsError(EMBRT_CODE_INVALID_ARGUMENT, "rows [7, 7 + 2) are outside the shard's [0, 8)"));
  EXPECT_THAT(engine.Load(0, -1, 2, {two_rows}), IsError(EMBRT_CODE_INVALID_ARGUMENT, "rows [-1"));
  EXPECT_THAT(engine.Load(0, 0, 2, {two_rows, two_rows}),
              IsError(EMBRT_CODE_INVALID_ARGUMENT, "got 2 slots, the optimizer has 1"));
  EXPECT_THAT(engine.Load(0, 0, 2, {two_rows}, /*shard=*/1),
              IsError(EMBRT_CODE_INVALID_ARGUMENT, "shard 1 is not this host's (0)"));
  std::vector<std::vector<float>> slots;
  EXPECT_THAT(engine.Retrieve(0, 6, 3, 1, &slots),
              IsError(EMBRT_CODE_INVALID_ARGUMENT, "RetrieveTableShard: table 0 't0': rows [6"));
  EXPECT_EQ(slots[0], std::vector<float>(6, -7.0f));  // untouched
  EXPECT_THAT(engine.Retrieve(0, 0, 1, 0, &slots),
              IsError(EMBRT_CODE_INVALID_ARGUMENT, "got 0 slots"));
  EXPECT_EQ(engine.Parameters(0, 0, 2), (std::vector<float>{0.0f, 0.001f, 1.0f, 1.001f}));
  // An empty chunk at the end of the shard is fine.
  EXPECT_TRUE(engine.Load(0, 8, 0, {{}}).ok());
}

TEST(MockLifecycleTest, RecvWithoutEnqueueIsFailedPrecondition) {
  MockEngine engine(SmallSpec());
  std::vector<std::vector<float>> out;
  EXPECT_THAT(engine.Recv(0, &out),
              IsError(EMBRT_CODE_FAILED_PRECONDITION, "replica 0 has no enqueued step"));
  EXPECT_EQ(out[0], std::vector<float>(4, -7.0f));
}

TEST(MockLifecycleTest, EnqueueTwiceWithoutRecvIsFailedPrecondition) {
  MockEngine engine(SmallSpec());
  ASSERT_TRUE(engine.Enqueue(0, EMBRT_MODE_TRAINING, {Input{{1, 2}}}).ok());
  EXPECT_THAT(engine.Enqueue(0, EMBRT_MODE_TRAINING, {Input{{3, 4}}}),
              IsError(EMBRT_CODE_FAILED_PRECONDITION, "already has an enqueued step"));
  // The first batch is the one received.
  std::vector<std::vector<float>> out;
  ASSERT_TRUE(engine.Recv(0, &out).ok());
  EXPECT_EQ(out[0], (std::vector<float>{1.0f, 1.001f, 2.0f, 2.001f}));
  EXPECT_THAT(engine.Enqueue(0, EMBRT_MODE_TRAINING, {Input{{3, 4}}}),
              IsError(EMBRT_CODE_FAILED_PRECONDITION, "training step without gradients"));
}

TEST(MockLifecycleTest, SendGradientsNeedsAReceivedTrainingStep) {
  MockEngine engine(SmallSpec());
  const std::vector<float> g(4, 1.0f);
  EXPECT_THAT(engine.Send(0, {g}),
              IsError(EMBRT_CODE_FAILED_PRECONDITION, "no received training step"));
  ASSERT_TRUE(engine.Enqueue(0, EMBRT_MODE_TRAINING, {Input{{1, 2}}}).ok());
  EXPECT_THAT(engine.Send(0, {g}),
              IsError(EMBRT_CODE_FAILED_PRECONDITION, "call RecvActivations first"));
  std::vector<std::vector<float>> out;
  ASSERT_TRUE(engine.Recv(0, &out).ok());
  ASSERT_TRUE(engine.Send(0, {g}).ok());
  EXPECT_THAT(engine.Send(0, {g}),
              IsError(EMBRT_CODE_FAILED_PRECONDITION, "no received training step"));
}

TEST(MockLifecycleTest, SendGradientsAfterInferenceIsFailedPrecondition) {
  MockEngine engine(SmallSpec());
  const std::vector<float> g(4, 1.0f);
  ASSERT_TRUE(engine.Enqueue(0, EMBRT_MODE_INFERENCE, {Input{{1, 2}}}).ok());
  EXPECT_THAT(engine.Send(0, {g}),
              IsError(EMBRT_CODE_FAILED_PRECONDITION, "enqueued for INFERENCE"));
  std::vector<std::vector<float>> out;
  ASSERT_TRUE(engine.Recv(0, &out).ok());
  EXPECT_THAT(engine.Send(0, {g}),
              IsError(EMBRT_CODE_FAILED_PRECONDITION, "enqueued for INFERENCE"));
  // An inference step needs no gradients: the replica can enqueue again.
  EXPECT_TRUE(engine.Enqueue(0, EMBRT_MODE_TRAINING, {Input{{1, 2}}}).ok());
  EXPECT_EQ(engine.Parameters(0, 1, 1), (std::vector<float>{1.0f, 1.001f}));
}

TEST(MockLifecycleTest, SynchronizeIsOk) {
  MockEngine engine(SmallSpec());
  EXPECT_TRUE(engine.Synchronize().ok());
}

}  // namespace
}  // namespace testing
}  // namespace embrt
