// Copyright embrt authors.
//
// The mock's call trace (backend option trace_file): one line per call, in the format of
// plugins/mock/README.md, readable while the engine lives.

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "mock_harness.h"

namespace embrt {
namespace testing {
namespace {

TEST(MockCallTraceTest, EveryCallIsOneLine) {
  const std::string path = TempFile("mock_call_trace_every_call.txt");
  EngineSpec spec = SmallSpec();
  spec.num_learning_rate_tags = 1;
  spec.options = {{"trace_file", path}};
  {
    MockEngine engine(spec);
    ASSERT_TRUE(engine.create_result().ok()) << engine.create_result().message;
    ASSERT_TRUE(engine.Load(0, 0, 8, {std::vector<float>(16, 0.5f)}).ok());
    std::vector<std::vector<float>> out;
    ASSERT_TRUE(
        engine.Enqueue(0, EMBRT_MODE_TRAINING, {Input{{1, 2, 3}, {0, 2, 3}, {0.5f, 1.0f, 2.0f}}})
            .ok());
    ASSERT_TRUE(engine.Recv(0, &out).ok());
    ASSERT_TRUE(engine.Send(0, {{}}, {0.25f}).ok());
    ASSERT_FALSE(engine.Enqueue(0, EMBRT_MODE_INFERENCE, {Input{{1, 9}}}).ok());
    ASSERT_TRUE(engine.Enqueue(0, EMBRT_MODE_INFERENCE, {Input{{4, 5}}}).ok());
    ASSERT_TRUE(engine.Recv(0, &out).ok());
    std::vector<std::vector<float>> slots;
    ASSERT_TRUE(engine.Retrieve(0, 2, 3, 1, &slots).ok());
    ASSERT_TRUE(engine.Synchronize().ok());
    // Lines are flushed per call: readable before the engine is destroyed.
    EXPECT_EQ(ReadLines(path).size(), 10u);
  }
  EXPECT_EQ(ReadLines(path),
            (std::vector<std::string>{
                "Create tables=1 features=1 replicas=1 hosts=1 host_id=0 batch=2 -> OK",
                "LoadTableShard table=0 shard=0 rows=[0,8) slots=1 -> OK",
                "Enqueue replica=0 mode=TRAINING features=1 ids=[[1,2,3]] row_splits=[[0,2,3]] "
                "weights=[[0.5,1,2]] -> OK",
                "RecvActivations replica=0 features=1 -> OK",
                "SendGradients replica=0 features=1 step=1 null_gradients=[0] "
                "learning_rates=[0.25] -> OK",
                "Enqueue replica=0 mode=INFERENCE features=1 -> INVALID_ARGUMENT: feature 0 'f0' "
                "row 1 position 0: id 9 is outside [0, 8) of table 't0'",
                "Enqueue replica=0 mode=INFERENCE features=1 ids=[[4,5]] row_splits=[null] "
                "weights=[null] -> OK",
                "RecvActivations replica=0 features=1 -> OK",
                "RetrieveTableShard table=0 shard=0 rows=[2,5) slots=1 -> OK",
                "Synchronize -> OK",
                "Destroy -> OK",
            }));
}

TEST(MockCallTraceTest, TraceFileIsAppendedAcrossEngines) {
  const std::string path = TempFile("mock_call_trace_append.txt");
  EngineSpec spec = SmallSpec();
  spec.options = {{"trace_file", path}};
  { MockEngine first(spec); }
  { MockEngine second(spec); }
  EXPECT_EQ(ReadLines(path).size(), 4u);
}

TEST(MockCallTraceTest, LongInputsAreCut) {
  const std::string path = TempFile("mock_call_trace_long.txt");
  EngineSpec spec = SmallSpec();
  spec.tables[0].vocabulary_size = 1000;
  spec.features[0].input_rows = 100;
  spec.options = {{"trace_file", path}};
  MockEngine engine(spec);
  Input in;
  for (int i = 0; i < 100; ++i) in.ids.push_back(i);
  ASSERT_TRUE(engine.Enqueue(0, EMBRT_MODE_INFERENCE, {in}).ok());
  const std::vector<std::string> lines = ReadLines(path);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_NE(lines[1].find(",62,63,...]] row_splits=[null]"), std::string::npos) << lines[1];
}

TEST(MockCallTraceTest, UnwritableTraceFileIsInvalidArgument) {
  EngineSpec spec = SmallSpec();
  spec.options = {{"trace_file", "/nonexistent-dir/trace.txt"}};
  EMBRT_Engine* engine = nullptr;
  const Result result = CreateEngine(spec, &engine);
  EXPECT_EQ(result.code, EMBRT_CODE_INVALID_ARGUMENT);
  EXPECT_NE(result.message.find("trace_file"), std::string::npos) << result.message;
  EXPECT_EQ(engine, nullptr);
}

}  // namespace
}  // namespace testing
}  // namespace embrt
