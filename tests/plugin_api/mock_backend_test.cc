// Copyright embrt authors.
//
// The mock backend's numbers through the C ABI: default values, loads, sum/mean/sqrtn and
// sequence lookups, and SGD round trips, all compared bit for bit.

#include <cmath>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "mock_harness.h"

namespace embrt {
namespace testing {
namespace {

TEST(MockBackendTest, AttributesDescribeTheMock) {
  EMBRT_Plugin_Attributes_Args args = {EMBRT_Plugin_Attributes_Args_STRUCT_SIZE, nullptr, nullptr,
                                       0};
  ASSERT_TRUE(Take(MockApi()->Plugin_Attributes(&args)).ok());
  std::vector<std::string> pairs;
  for (size_t i = 0; i < args.num_attributes; ++i) {
    const EMBRT_NamedValue& v = args.attributes[i];
    std::string name(v.name, v.name_size);
    pairs.push_back(name + "=" +
                    (v.type == EMBRT_VALUE_STRING ? std::string(v.string_value, v.string_value_size)
                                                  : std::to_string(v.int64_value)));
  }
  EXPECT_EQ(pairs, (std::vector<std::string>{"name=mock", "vendor=embrt", "plugin_version=0.1.0",
                                             "abi_version=1.1", "deterministic=1", "exact_math=0",
                                             "optimizers=sgd", "combiners=sum,mean,sqrtn",
                                             "multi_host=1", "quantization=0", "pipelining=0",
                                             "checks_ids_and_gradients=1"}));
}

TEST(MockBackendTest, UnwrittenRowsHaveTheDocumentedValues) {
  EngineSpec spec;
  spec.tables = {TableSpec{"a", 5, 3}, TableSpec{"b", 10, 4}};
  MockEngine engine(spec);
  ASSERT_TRUE(engine.create_result().ok()) << engine.create_result().message;
  const std::vector<float> b = engine.Parameters(1, 0, 10);
  ASSERT_EQ(b.size(), 40u);
  for (int64_t row = 0; row < 10; ++row) {
    for (int64_t c = 0; c < 4; ++c) EXPECT_EQ(b[row * 4 + c], DefaultValue(1, row, c));
  }
  EXPECT_EQ(b[2 * 4 + 1], 1002.001f);
  EXPECT_EQ(engine.Parameters(0, 4, 1), (std::vector<float>{4.0f, 4.001f, 4.002f}));
}

TEST(MockBackendTest, DefaultsFollowTheGlobalRowOfEachShard) {
  EngineSpec spec;
  spec.tables = {TableSpec{"t", 5, 1}};
  spec.num_hosts = 2;
  spec.host_id = 1;
  {
    MockEngine div(spec);  // host 1 of 2 holds rows 3 and 4
    ASSERT_TRUE(div.create_result().ok()) << div.create_result().message;
    EXPECT_EQ(div.Parameters(0, 0, 2), (std::vector<float>{3.0f, 4.0f}));
  }
  spec.sharding = EMBRT_SHARDING_MOD;  // rows 1 and 3
  MockEngine mod(spec);
  ASSERT_TRUE(mod.create_result().ok()) << mod.create_result().message;
  EXPECT_EQ(mod.Parameters(0, 0, 2), (std::vector<float>{1.0f, 3.0f}));
}

TEST(MockBackendTest, LoadedRowsOverrideTheDefaults) {
  EngineSpec spec = SmallSpec();
  MockEngine engine(spec);
  ASSERT_TRUE(engine.Load(0, 2, 2, {{10.0f, 11.0f, 12.0f, 13.0f}}).ok());
  EXPECT_EQ(engine.Parameters(0, 1, 4),
            (std::vector<float>{1.0f, 1.001f, 10.0f, 11.0f, 12.0f, 13.0f, 4.0f, 4.001f}));
  // Lookups see the loaded rows.
  ASSERT_TRUE(engine.Enqueue(0, EMBRT_MODE_INFERENCE, {Input{{3, 4}}}).ok());
  std::vector<std::vector<float>> out;
  ASSERT_TRUE(engine.Recv(0, &out).ok());
  EXPECT_EQ(out[0], (std::vector<float>{12.0f, 13.0f, 4.0f, 4.001f}));
}

TEST(MockBackendTest, OptimizersOtherThanSgdAreUnimplemented) {
  for (EMBRT_OptimizerKind kind : {EMBRT_OPTIMIZER_ADAGRAD, EMBRT_OPTIMIZER_ADAGRAD_MOMENTUM,
                                   EMBRT_OPTIMIZER_ADAM, EMBRT_OPTIMIZER_FTRL}) {
    EngineSpec spec = SmallSpec();
    spec.tables[0].optimizer = kind;
    MockEngine engine(spec);
    EXPECT_EQ(engine.create_result().code, EMBRT_CODE_UNIMPLEMENTED) << "kind " << kind;
    EXPECT_NE(engine.create_result().message.find("optimizers=sgd"), std::string::npos);
  }
}

// Three tables with one combiner each, rows r = [r, 2r + 0.25], and one feature per table,
// all with the same bags: {1 (w 0.5), 3 (w 2)}, {}, {4, 4, 6 (w 1, 1, 2)}.
class CombinerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const EMBRT_Combiner combiners[] = {EMBRT_COMBINER_SUM, EMBRT_COMBINER_MEAN,
                                        EMBRT_COMBINER_SQRTN};
    for (int t = 0; t < 3; ++t) {
      spec_.tables.push_back(TableSpec{"t" + std::to_string(t), 8, 2, combiners[t]});
      spec_.features.push_back(FeatureSpec{"f" + std::to_string(t), t, 3});
    }
    engine_ = std::make_unique<MockEngine>(spec_);
    ASSERT_TRUE(engine_->create_result().ok()) << engine_->create_result().message;
    std::vector<float> rows;
    for (int r = 0; r < 8; ++r) {
      rows.push_back(static_cast<float>(r));
      rows.push_back(2.0f * r + 0.25f);
    }
    for (int t = 0; t < 3; ++t) ASSERT_TRUE(engine_->Load(t, 0, 8, {rows}).ok());
  }

  std::vector<Input> Inputs() const {
    Input in{{1, 3, 4, 4, 6}, {0, 2, 2, 5}, {0.5f, 2.0f, 1.0f, 1.0f, 2.0f}};
    return {in, in, in};
  }

  static float Row(int r, int c) { return c == 0 ? static_cast<float>(r) : 2.0f * r + 0.25f; }

  EngineSpec spec_;
  std::unique_ptr<MockEngine> engine_;
};

TEST_F(CombinerTest, ForwardMatchesTheCanonicalOrder) {
  ASSERT_TRUE(engine_->Enqueue(0, EMBRT_MODE_INFERENCE, Inputs()).ok());
  std::vector<std::vector<float>> out;
  ASSERT_TRUE(engine_->Recv(0, &out).ok());
  // sum: exact in binary.
  EXPECT_EQ(out[0], (std::vector<float>{6.5f, 13.625f, 0.0f, 0.0f, 20.0f, 41.0f}));
  // mean: gains w / Σw; bag 2 is exact.
  for (int c = 0; c < 2; ++c) {
    float bag0 = 0.0f;
    bag0 += (0.5f / 2.5f) * Row(1, c);
    bag0 += (2.0f / 2.5f) * Row(3, c);
    EXPECT_EQ(out[1][c], bag0) << c;
  }
  EXPECT_EQ(out[1][2], 0.0f);
  EXPECT_EQ(out[1][3], 0.0f);
  EXPECT_EQ(out[1][4], 5.0f);
  EXPECT_EQ(out[1][5], 10.25f);
  // sqrtn: gains w / sqrt(Σw²).
  const float norm0 = std::sqrt(0.25f + 4.0f);
  const float norm2 = std::sqrt(1.0f + 1.0f + 4.0f);
  for (int c = 0; c < 2; ++c) {
    float bag0 = 0.0f;
    bag0 += (0.5f / norm0) * Row(1, c);
    bag0 += (2.0f / norm0) * Row(3, c);
    float bag2 = 0.0f;
    bag2 += (1.0f / norm2) * Row(4, c);
    bag2 += (1.0f / norm2) * Row(4, c);
    bag2 += (2.0f / norm2) * Row(6, c);
    EXPECT_EQ(out[2][c], bag0) << c;
    EXPECT_EQ(out[2][4 + c], bag2) << c;
  }
  EXPECT_EQ(out[2][2], 0.0f);
}

TEST_F(CombinerTest, ZeroWeightSumsGiveZerosForMeanAndSqrtn) {
  Input in{{1, 2}, {0, 2, 2, 2}, {0.0f, 0.0f}};
  ASSERT_TRUE(engine_->Enqueue(0, EMBRT_MODE_INFERENCE, {in, in, in}).ok());
  std::vector<std::vector<float>> out;
  ASSERT_TRUE(engine_->Recv(0, &out).ok());
  for (int t = 0; t < 3; ++t) EXPECT_EQ(out[t], std::vector<float>(6, 0.0f)) << t;
}

TEST_F(CombinerTest, BackwardAppliesGainTimesGradientWithSgd) {
  ASSERT_TRUE(engine_->Enqueue(0, EMBRT_MODE_TRAINING, Inputs()).ok());
  std::vector<std::vector<float>> out;
  ASSERT_TRUE(engine_->Recv(0, &out).ok());
  const std::vector<float> g = {1.0f, 2.0f, 100.0f, 100.0f, 4.0f, 8.0f};
  ASSERT_TRUE(engine_->Send(0, {g, g, g}).ok());
  const float lr = 0.5f;
  // sum (table 0): row 1 gets 0.5*g0, row 3 gets 2*g0, row 4 gets g2 + g2, row 6 gets 2*g2.
  const std::vector<float> sum = engine_->Parameters(0, 0, 8);
  EXPECT_EQ(sum[2 * 1 + 0], 1.0f - lr * 0.5f);
  EXPECT_EQ(sum[2 * 1 + 1], 2.25f - lr * 1.0f);
  EXPECT_EQ(sum[2 * 3 + 0], 3.0f - lr * 2.0f);
  EXPECT_EQ(sum[2 * 4 + 0], 4.0f - lr * 8.0f);
  EXPECT_EQ(sum[2 * 4 + 1], 8.25f - lr * 16.0f);
  EXPECT_EQ(sum[2 * 6 + 1], 12.25f - lr * 16.0f);
  EXPECT_EQ(sum[2 * 2 + 0], 2.0f);  // untouched
  EXPECT_EQ(sum[2 * 5 + 1], 10.25f);
  // mean (table 1): row 4 gets 0.25*g2 twice.
  const std::vector<float> mean = engine_->Parameters(1, 0, 8);
  EXPECT_EQ(mean[2 * 4 + 0], 4.0f - lr * 2.0f);
  EXPECT_EQ(mean[2 * 1 + 0], 1.0f - lr * ((0.5f / 2.5f) * 1.0f));
  // sqrtn (table 2): row 6 gets (2/sqrt(6)) * g2.
  const std::vector<float> sqrtn = engine_->Parameters(2, 0, 8);
  const float gain = 2.0f / std::sqrt(6.0f);
  EXPECT_EQ(sqrtn[2 * 6 + 1], 12.25f - lr * (0.0f + gain * 8.0f));
}

TEST(MockSequenceTest, PositionsArePaddedAndTruncated) {
  EngineSpec spec = SmallSpec();
  spec.features[0].max_sequence_length = 3;
  MockEngine engine(spec);
  ASSERT_TRUE(engine.create_result().ok()) << engine.create_result().message;
  // Row 0 has 2 ids (one padding position); row 1 has 4 (id 6 is past L and ignored).
  Input in{{1, 2, 3, 4, 5, 6}, {0, 2, 6}};
  ASSERT_TRUE(engine.Enqueue(0, EMBRT_MODE_TRAINING, {in}).ok());
  std::vector<std::vector<float>> out;
  ASSERT_TRUE(engine.Recv(0, &out).ok());
  EXPECT_EQ(out[0], (std::vector<float>{1.0f, 1.001f, 2.0f, 2.001f, 0.0f, 0.0f,  //
                                        3.0f, 3.001f, 4.0f, 4.001f, 5.0f, 5.001f}));
  // Gradients at padding positions are ignored; every real position updates its own row.
  std::vector<float> g(12, 1.0f);
  ASSERT_TRUE(engine.Send(0, {g}).ok());
  const std::vector<float> rows = engine.Parameters(0, 0, 8);
  EXPECT_EQ(rows[2 * 1], 1.0f - 0.5f);
  EXPECT_EQ(rows[2 * 2], 2.0f - 0.5f);
  EXPECT_EQ(rows[2 * 5 + 1], 5.001f - 0.5f);
  EXPECT_EQ(rows[2 * 6], 6.0f);  // truncated id: untouched
  EXPECT_EQ(rows[2 * 0], 0.0f);  // padding: nothing
}

TEST(MockSequenceTest, WeightsOnASequenceAreInvalid) {
  EngineSpec spec = SmallSpec();
  spec.features[0].max_sequence_length = 2;
  spec.features[0].input_rows = 1;
  MockEngine engine(spec);
  const auto status =
      engine.Enqueue(0, EMBRT_MODE_INFERENCE, {Input{{3, 4}, {0, 2}, {-2.0f, 0.5f}}});
  EXPECT_EQ(status.code, EMBRT_CODE_INVALID_ARGUMENT);
  EXPECT_NE(status.message.find("takes no weights"), std::string::npos) << status.message;
}

TEST(MockSgdTest, ReplicaGradientsAreSummedBeforeOneUpdate) {
  EngineSpec spec = SmallSpec();
  spec.num_replicas = 2;
  spec.features[0].input_rows = 1;
  MockEngine engine(spec);
  std::vector<std::vector<float>> out;
  ASSERT_TRUE(engine.Enqueue(0, EMBRT_MODE_TRAINING, {Input{{5}}}).ok());
  ASSERT_TRUE(engine.Enqueue(1, EMBRT_MODE_TRAINING, {Input{{5}}}).ok());
  ASSERT_TRUE(engine.Recv(0, &out).ok());
  ASSERT_TRUE(engine.Recv(1, &out).ok());
  ASSERT_TRUE(engine.Send(0, {{1.0f, 2.0f}}).ok());
  // One replica has sent: nothing is applied yet.
  EXPECT_EQ(engine.Parameters(0, 5, 1), (std::vector<float>{5.0f, 5.001f}));
  ASSERT_TRUE(engine.Send(1, {{3.0f, 4.0f}}).ok());
  EXPECT_EQ(engine.Parameters(0, 5, 1),
            (std::vector<float>{5.0f - 0.5f * 4.0f, 5.001f - 0.5f * 6.0f}));
  // The next lookup sees the update.
  ASSERT_TRUE(engine.Enqueue(0, EMBRT_MODE_INFERENCE, {Input{{5}}}).ok());
  ASSERT_TRUE(engine.Recv(0, &out).ok());
  EXPECT_EQ(out[0], (std::vector<float>{3.0f, 5.001f - 3.0f}));
}

TEST(MockSgdTest, DynamicLearningRateComesFromReplicaZero) {
  EngineSpec spec = SmallSpec();
  spec.num_learning_rate_tags = 1;
  spec.tables[0].learning_rate_tag = 0;
  spec.features[0].input_rows = 1;
  MockEngine engine(spec);
  ASSERT_TRUE(engine.create_result().ok()) << engine.create_result().message;
  std::vector<std::vector<float>> out;
  ASSERT_TRUE(engine.Enqueue(0, EMBRT_MODE_TRAINING, {Input{{2}}}).ok());
  ASSERT_TRUE(engine.Recv(0, &out).ok());
  ASSERT_TRUE(engine.Send(0, {{4.0f, 8.0f}}, {0.25f}).ok());
  EXPECT_EQ(engine.Parameters(0, 2, 1), (std::vector<float>{2.0f - 1.0f, 2.001f - 2.0f}));
}

TEST(MockSgdTest, NullGradientTouchesRowsWithoutChangingThem) {
  EngineSpec spec = SmallSpec();
  MockEngine engine(spec);
  std::vector<std::vector<float>> out;
  ASSERT_TRUE(engine.Enqueue(0, EMBRT_MODE_TRAINING, {Input{{1, 2}}}).ok());
  ASSERT_TRUE(engine.Recv(0, &out).ok());
  ASSERT_TRUE(engine.Send(0, {{}}).ok());
  EXPECT_EQ(engine.Parameters(0, 1, 2), (std::vector<float>{1.0f, 1.001f, 2.0f, 2.001f}));
  // The step is complete: the replica can go on.
  ASSERT_TRUE(engine.Enqueue(0, EMBRT_MODE_TRAINING, {Input{{1, 2}}}).ok());
}

TEST(MockSgdTest, RepeatedRunsGiveTheSameBits) {
  auto run = [] {
    EngineSpec spec = SmallSpec();
    spec.tables[0].combiner = EMBRT_COMBINER_SQRTN;
    spec.tables[0].learning_rate = 0.1f;
    MockEngine engine(spec);
    std::vector<std::vector<float>> out;
    for (int step = 0; step < 5; ++step) {
      Input in{{step % 8, (step * 3) % 8, 7}, {0, 1, 3}, {0.3f, 1.7f, 0.9f}};
      EXPECT_TRUE(engine.Enqueue(0, EMBRT_MODE_TRAINING, {in}).ok());
      EXPECT_TRUE(engine.Recv(0, &out).ok());
      EXPECT_TRUE(engine.Send(0, {{0.1f, 0.2f, 0.3f, 0.4f}}).ok());
    }
    return engine.Parameters(0, 0, 8);
  };
  const std::vector<float> first = run();
  EXPECT_EQ(first, run());
  EXPECT_NE(first, (MockEngine(SmallSpec()).Parameters(0, 0, 8)));
}

}  // namespace
}  // namespace testing
}  // namespace embrt
