// Copyright embrt authors.
//
// The mock's fault injection options: the chosen occurrence of a call fails with the chosen
// code and message and changes nothing; delays only slow a call down; bad values are rejected
// at Engine_Create naming the option.

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "mock_harness.h"

namespace embrt {
namespace testing {
namespace {

EngineSpec WithOptions(std::vector<std::pair<std::string, std::string>> options) {
  EngineSpec spec = SmallSpec();
  spec.options = std::move(options);
  return spec;
}

TEST(MockFaultInjectionTest, NthEnqueueFailsWithTheChosenCodeAndMessage) {
  MockEngine engine(WithOptions({{"fail_call", "Enqueue"},
                                 {"fail_at", "2"},
                                 {"fail_code", "UNAVAILABLE"},
                                 {"fail_message", "device fell off the bus"}}));
  ASSERT_TRUE(engine.create_result().ok()) << engine.create_result().message;
  std::vector<std::vector<float>> out;
  ASSERT_TRUE(engine.Enqueue(0, EMBRT_MODE_INFERENCE, {Input{{1, 2}}}).ok());
  ASSERT_TRUE(engine.Recv(0, &out).ok());
  const Result failed = engine.Enqueue(0, EMBRT_MODE_INFERENCE, {Input{{3, 4}}});
  EXPECT_EQ(failed.code, EMBRT_CODE_UNAVAILABLE);
  EXPECT_EQ(failed.message, "device fell off the bus");
  // Nothing was enqueued; the third Enqueue works.
  EXPECT_EQ(engine.Recv(0, &out).code, EMBRT_CODE_FAILED_PRECONDITION);
  ASSERT_TRUE(engine.Enqueue(0, EMBRT_MODE_INFERENCE, {Input{{3, 4}}}).ok());
  ASSERT_TRUE(engine.Recv(0, &out).ok());
  EXPECT_EQ(out[0], (std::vector<float>{3.0f, 3.001f, 4.0f, 4.001f}));
}

TEST(MockFaultInjectionTest, FailedSendGradientsAppliesNothing) {
  MockEngine engine(WithOptions({{"fail_call", "Engine_SendGradients"}, {"fail_code", "13"}}));
  std::vector<std::vector<float>> out;
  ASSERT_TRUE(engine.Enqueue(0, EMBRT_MODE_TRAINING, {Input{{1, 2}}}).ok());
  ASSERT_TRUE(engine.Recv(0, &out).ok());
  const Result failed = engine.Send(0, {std::vector<float>(4, 1.0f)});
  EXPECT_EQ(failed.code, EMBRT_CODE_INTERNAL);
  EXPECT_EQ(failed.message, "injected failure of SendGradients #1");
  EXPECT_EQ(engine.Parameters(0, 1, 1), (std::vector<float>{1.0f, 1.001f}));
  ASSERT_TRUE(engine.Send(0, {std::vector<float>(4, 1.0f)}).ok());
  EXPECT_EQ(engine.Parameters(0, 1, 1), (std::vector<float>{0.5f, 1.001f - 0.5f}));
}

TEST(MockFaultInjectionTest, EachCallCanFail) {
  const char* calls[] = {"RecvActivations", "LoadTableShard", "RetrieveTableShard", "Synchronize"};
  for (const char* call : calls) {
    MockEngine engine(WithOptions({{"fail_call", call}, {"fail_code", "DATA_LOSS"}}));
    ASSERT_TRUE(engine.create_result().ok()) << call;
    std::vector<std::vector<float>> out;
    std::vector<std::vector<float>> slots;
    const std::vector<float> row = {5.0f, 6.0f};
    Result result;
    ASSERT_TRUE(engine.Enqueue(0, EMBRT_MODE_INFERENCE, {Input{{1, 2}}}).ok());
    const std::string name = call;
    if (name == "RecvActivations") result = engine.Recv(0, &out);
    if (name == "LoadTableShard") result = engine.Load(0, 1, 1, {row});
    if (name == "RetrieveTableShard") result = engine.Retrieve(0, 1, 1, 1, &slots);
    if (name == "Synchronize") result = engine.Synchronize();
    EXPECT_EQ(result.code, EMBRT_CODE_DATA_LOSS) << call;
    EXPECT_EQ(result.message, "injected failure of " + name + " #1");
    // The failed call changed nothing: the row keeps its default, the step is still enqueued.
    if (name == "RetrieveTableShard") {
      EXPECT_EQ(slots[0], (std::vector<float>{-7.0f, -7.0f}));
    }
    EXPECT_EQ(engine.Parameters(0, 1, 1), (std::vector<float>{1.0f, 1.001f})) << call;
    EXPECT_TRUE(engine.Recv(0, &out).ok()) << call;
  }
}

TEST(MockFaultInjectionTest, CreateCanFail) {
  EMBRT_Engine* engine = nullptr;
  const Result result = CreateEngine(
      WithOptions({{"fail_call", "Create"}, {"fail_code", "resource_exhausted"}}), &engine);
  EXPECT_EQ(result.code, EMBRT_CODE_RESOURCE_EXHAUSTED);
  EXPECT_EQ(result.message, "injected failure of Create #1");
  EXPECT_EQ(engine, nullptr);
}

TEST(MockFaultInjectionTest, DelayedCallsStillSucceed) {
  const std::string path = TempFile("mock_fault_delay_trace.txt");
  MockEngine engine(
      WithOptions({{"delay_call", "RecvActivations"}, {"delay_ms", "2"}, {"trace_file", path}}));
  ASSERT_TRUE(engine.create_result().ok()) << engine.create_result().message;
  std::vector<std::vector<float>> out;
  ASSERT_TRUE(engine.Enqueue(0, EMBRT_MODE_INFERENCE, {Input{{1, 2}}}).ok());
  ASSERT_TRUE(engine.Recv(0, &out).ok());
  EXPECT_EQ(out[0], (std::vector<float>{1.0f, 1.001f, 2.0f, 2.001f}));
}

TEST(MockFaultInjectionTest, FailureIsTraced) {
  const std::string path = TempFile("mock_fault_trace.txt");
  {
    MockEngine engine(WithOptions(
        {{"fail_call", "Synchronize"}, {"fail_message", "boom"}, {"trace_file", path}}));
    EXPECT_EQ(engine.Synchronize().code, EMBRT_CODE_INTERNAL);
  }
  const std::vector<std::string> lines = ReadLines(path);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[1], "Synchronize -> INTERNAL: boom");
}

TEST(MockFaultInjectionTest, BadOptionValuesNameTheOption) {
  struct Case {
    std::vector<std::pair<std::string, std::string>> options;
    EMBRT_ErrorCode code;
    const char* message;
  };
  const Case cases[] = {
      {{{"fail_call", "Frobnicate"}}, EMBRT_CODE_INVALID_ARGUMENT, "fail_call='Frobnicate'"},
      {{{"fail_call", "Destroy"}}, EMBRT_CODE_INVALID_ARGUMENT, "fail_call='Destroy'"},
      {{{"fail_call", "Enqueue"}, {"fail_at", "0"}}, EMBRT_CODE_INVALID_ARGUMENT, "fail_at='0'"},
      {{{"fail_call", "Enqueue"}, {"fail_at", "x"}}, EMBRT_CODE_INVALID_ARGUMENT, "fail_at='x'"},
      {{{"fail_call", "Enqueue"}, {"fail_code", "BOGUS"}},
       EMBRT_CODE_INVALID_ARGUMENT,
       "fail_code='BOGUS'"},
      {{{"fail_call", "Enqueue"}, {"fail_code", "0"}},
       EMBRT_CODE_INVALID_ARGUMENT,
       "fail_code='0'"},
      {{{"fail_call", "Enqueue"}, {"fail_code", "17"}},
       EMBRT_CODE_INVALID_ARGUMENT,
       "fail_code='17'"},
      {{{"fail_at", "2"}}, EMBRT_CODE_INVALID_ARGUMENT, "fail_at needs backend option fail_call"},
      {{{"delay_call", "Enqueue"}, {"delay_ms", "-1"}},
       EMBRT_CODE_INVALID_ARGUMENT,
       "delay_ms='-1'"},
      {{{"delay_call", "Nope"}, {"delay_ms", "1"}},
       EMBRT_CODE_INVALID_ARGUMENT,
       "delay_call='Nope'"},
      {{{"delay_ms", "5"}},
       EMBRT_CODE_INVALID_ARGUMENT,
       "delay_ms needs backend option delay_call"},
      {{{"delay_call", "Enqueue"}},
       EMBRT_CODE_INVALID_ARGUMENT,
       "delay_call needs backend option delay_ms"},
      {{{"trace_file", ""}}, EMBRT_CODE_INVALID_ARGUMENT, "trace_file=''"},
      {{{"threads", "4"}}, EMBRT_CODE_UNIMPLEMENTED, "backend option 'threads' is not supported"},
  };
  for (const Case& c : cases) {
    EMBRT_Engine* engine = nullptr;
    const Result result = CreateEngine(WithOptions(c.options), &engine);
    EXPECT_EQ(result.code, c.code) << c.message;
    EXPECT_NE(result.message.find(c.message), std::string::npos)
        << "want '" << c.message << "' in '" << result.message << "'";
    EXPECT_EQ(engine, nullptr);
  }
}

}  // namespace
}  // namespace testing
}  // namespace embrt
