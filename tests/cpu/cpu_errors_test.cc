// Copyright embrt authors.
//
// Every bad input the cpu backend rejects: the right canonical code, a message that names the
// feature / table / row / id, and nothing changed (tables retrieved and compared bit for bit,
// and the engine still takes the next valid call).

#include <cmath>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "cpu_test_harness.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tf_fixture.h"

namespace embrt {
namespace cpu_test {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using Tables = std::vector<std::vector<std::vector<float>>>;

#define EXPECT_ERROR(result, error_code, ...)                                  \
  do {                                                                         \
    const Result r_ = (result);                                                \
    EXPECT_EQ(r_.code, error_code) << r_.message;                              \
    for (const char* part : std::initializer_list<const char*>{__VA_ARGS__}) { \
      EXPECT_THAT(r_.message, HasSubstr(part));                                \
    }                                                                          \
  } while (0)

class CpuErrorsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    EngineSpec spec = TfFixtureSpec(EMBRT_OPTIMIZER_ADAGRAD);
    spec.num_replicas = 2;
    spec.features.push_back({"sequence", 1, 2, 4});
    engine_ = std::make_unique<CpuEngine>(spec);
    ASSERT_TRUE(engine_->ok()) << engine_->create_result().message;
    ASSERT_TRUE(LoadTfFixtureTables(*engine_).ok());
    before_ = engine_->RetrieveAll();
  }
  std::vector<Input> Good() {
    std::vector<Input> inputs = TfFixtureInputs();
    inputs.push_back(Bags({{1}, {2, 3}, {}, {4}}));
    return inputs;
  }
  std::vector<std::vector<float>> Gradients(float value = 0.5f) {
    std::vector<std::vector<float>> g;
    for (int f = 0; f < 4; ++f) g.emplace_back(engine_->ActivationSize(f), value);
    return g;
  }
  void ExpectUnchanged() {
    const Tables now = engine_->RetrieveAll();
    EXPECT_EQ(now, before_);
  }
  // Both replicas enqueued and received, ready for gradients.
  void ReadyToSend() {
    std::vector<std::vector<float>> a;
    for (int r = 0; r < 2; ++r) ASSERT_TRUE(engine_->Enqueue(r, Good()).ok());
    for (int r = 0; r < 2; ++r) ASSERT_TRUE(engine_->Recv(r, &a).ok());
  }

  std::unique_ptr<CpuEngine> engine_;
  Tables before_;
};

TEST_F(CpuErrorsTest, IdsOutOfRangeAreRejectedAtEnqueue) {
  std::vector<Input> inputs = Good();
  inputs[1].ids[2] = 8;  // favorited, row 1, position 0; video has 8 rows
  EXPECT_ERROR(engine_->Enqueue(0, inputs), EMBRT_CODE_INVALID_ARGUMENT, "favorited", "row 1",
               "id 8", "video");
  inputs = Good();
  inputs[2].ids[3] = -1;  // friends, row 1, position 2
  EXPECT_ERROR(engine_->Enqueue(0, inputs), EMBRT_CODE_INVALID_ARGUMENT, "friends", "row 1",
               "position 2", "id -1");
  // The replica is still idle: a valid batch goes through.
  EXPECT_TRUE(engine_->Enqueue(0, Good()).ok());
  ExpectUnchanged();
}

TEST_F(CpuErrorsTest, BadRowSplitsAreRejected) {
  std::vector<Input> inputs = Good();
  inputs[0].row_splits = {0, 1, 3, 2, 6};
  EXPECT_ERROR(engine_->Enqueue(0, inputs), EMBRT_CODE_INVALID_ARGUMENT, "watched", "not ascending",
               "row 2");
  inputs[0].row_splits = {0, 1, 3, 5};
  EXPECT_ERROR(engine_->Enqueue(0, inputs), EMBRT_CODE_INVALID_ARGUMENT, "watched", "4 entries");
  inputs[0].row_splits = {1, 1, 3, 5, 6};
  EXPECT_ERROR(engine_->Enqueue(0, inputs), EMBRT_CODE_INVALID_ARGUMENT, "row_splits[0]");
  inputs[0].row_splits = {0, 1, 3, 5, 5};
  EXPECT_ERROR(engine_->Enqueue(0, inputs), EMBRT_CODE_INVALID_ARGUMENT, "6 ids");
  inputs[0].row_splits.clear();  // NULL: one id per row, but there are 6 ids for 4 rows
  EXPECT_ERROR(engine_->Enqueue(0, inputs), EMBRT_CODE_INVALID_ARGUMENT, "one id per row");
  ExpectUnchanged();
}

TEST_F(CpuErrorsTest, BadWeightsAndSequenceInputsAreRejected) {
  std::vector<Input> inputs = Good();
  inputs[0].weights = {1, 1, 1, 1, 1, std::numeric_limits<float>::quiet_NaN()};
  EXPECT_ERROR(engine_->Enqueue(0, inputs), EMBRT_CODE_INVALID_ARGUMENT, "watched", "weight 5");
  inputs = Good();
  inputs[3].weights = {1, 1, 1, 1};
  EXPECT_ERROR(engine_->Enqueue(0, inputs), EMBRT_CODE_INVALID_ARGUMENT, "sequence",
               "weights are not supported");
  inputs = Good();
  inputs[3] = Bags({{1}, {2, 3, 4}, {}, {}});
  EXPECT_ERROR(engine_->Enqueue(0, inputs), EMBRT_CODE_INVALID_ARGUMENT, "sequence", "row 1",
               "max_sequence_length 2");
  inputs = Good();
  inputs.pop_back();
  EXPECT_ERROR(engine_->Enqueue(0, inputs), EMBRT_CODE_INVALID_ARGUMENT, "3 feature inputs");
  EXPECT_ERROR(engine_->Enqueue(2, Good()), EMBRT_CODE_INVALID_ARGUMENT, "replica 2");
  EXPECT_ERROR(engine_->Enqueue(-1, Good()), EMBRT_CODE_INVALID_ARGUMENT, "replica -1");
  EXPECT_ERROR(engine_->Enqueue(0, Good(), 7), EMBRT_CODE_INVALID_ARGUMENT, "mode 7");
  ExpectUnchanged();
}

TEST_F(CpuErrorsTest, CallsOutOfOrderAreFailedPrecondition) {
  std::vector<std::vector<float>> a;
  EXPECT_ERROR(engine_->Recv(0, &a), EMBRT_CODE_FAILED_PRECONDITION, "nothing was enqueued");
  EXPECT_ERROR(engine_->Send(0, Gradients()), EMBRT_CODE_FAILED_PRECONDITION,
               "no step has been enqueued");
  ASSERT_TRUE(engine_->Enqueue(0, Good()).ok());
  EXPECT_ERROR(engine_->Enqueue(0, Good()), EMBRT_CODE_FAILED_PRECONDITION, "not been received");
  EXPECT_ERROR(engine_->Send(0, Gradients()), EMBRT_CODE_FAILED_PRECONDITION, "RecvActivations");
  ASSERT_TRUE(engine_->Recv(0, &a).ok());
  EXPECT_ERROR(engine_->Recv(0, &a), EMBRT_CODE_FAILED_PRECONDITION);
  EXPECT_ERROR(engine_->Enqueue(0, Good()), EMBRT_CODE_FAILED_PRECONDITION, "no gradients");
  // Inference: receive works, gradients do not.
  ASSERT_TRUE(engine_->Enqueue(1, Good(), EMBRT_MODE_INFERENCE).ok());
  ASSERT_TRUE(engine_->Recv(1, &a).ok());
  EXPECT_ERROR(engine_->Send(1, Gradients()), EMBRT_CODE_FAILED_PRECONDITION, "INFERENCE");
  ExpectUnchanged();
}

TEST_F(CpuErrorsTest, BadBufferSizesAreRejected) {
  ASSERT_TRUE(engine_->Enqueue(0, Good()).ok());
  std::vector<std::vector<float>> a(4);
  std::vector<float*> buffers;
  std::vector<size_t> sizes;
  for (int f = 0; f < 4; ++f) {
    a[f].resize(engine_->ActivationSize(f) - (f == 2 ? 1 : 0));
    buffers.push_back(a[f].data());
    sizes.push_back(a[f].size());
  }
  EXPECT_ERROR(engine_->RecvRaw(0, buffers, sizes), EMBRT_CODE_INVALID_ARGUMENT, "friends",
               "7 floats", "expected 8");
  buffers.pop_back();
  sizes.pop_back();
  EXPECT_ERROR(engine_->RecvRaw(0, buffers, sizes), EMBRT_CODE_INVALID_ARGUMENT, "3 buffers");
  std::vector<std::vector<float>> received;
  ASSERT_TRUE(engine_->Recv(0, &received).ok());
  auto g = Gradients();
  g[2].pop_back();
  EXPECT_ERROR(engine_->Send(0, g), EMBRT_CODE_INVALID_ARGUMENT, "friends", "7 floats",
               "expected 8");
  g = Gradients();
  g.pop_back();
  EXPECT_ERROR(engine_->Send(0, g), EMBRT_CODE_INVALID_ARGUMENT, "3 gradients");
  EXPECT_ERROR(engine_->Send(0, Gradients(), {0.1f}), EMBRT_CODE_INVALID_ARGUMENT,
               "1 learning rates");
  // Still ready to send.
  EXPECT_TRUE(engine_->Send(0, Gradients()).ok());
  ExpectUnchanged();  // replica 1 has not sent: no update yet
}

TEST_F(CpuErrorsTest, NonFiniteGradientsRejectTheReplicasWholeStep) {
  ReadyToSend();
  auto g = Gradients();
  g[3][2 * 2 * 2 + 1 * 2 + 1] = std::numeric_limits<float>::infinity();  // row 2, pos 1, col 1
  EXPECT_ERROR(engine_->Send(1, g), EMBRT_CODE_INVALID_ARGUMENT, "sequence", "row 2", "position 1",
               "column 1");
  g = Gradients();
  g[0][5] = std::nanf("");
  EXPECT_ERROR(engine_->Send(0, g), EMBRT_CODE_INVALID_ARGUMENT, "watched", "row 1", "column 1");
  ExpectUnchanged();
  // Both replicas can still send; then the update runs.
  ASSERT_TRUE(engine_->Send(0, Gradients()).ok());
  ASSERT_TRUE(engine_->Send(1, Gradients()).ok());
  EXPECT_NE(engine_->RetrieveAll(), before_);
}

TEST(CpuErrorsAllowTest, NonFiniteGradientsPassWhenAllowed) {
  EngineSpec spec = TfFixtureSpec(EMBRT_OPTIMIZER_SGD);
  spec.allow_nonfinite_gradients = true;
  CpuEngine engine(spec);
  ASSERT_TRUE(LoadTfFixtureTables(engine).ok());
  ASSERT_TRUE(engine.Enqueue(0, TfFixtureInputs()).ok());
  std::vector<std::vector<float>> a;
  ASSERT_TRUE(engine.Recv(0, &a).ok());
  auto g = HalfOf(a);
  g[0][0] = std::numeric_limits<float>::infinity();
  ASSERT_TRUE(engine.Send(0, g).ok());
  std::vector<std::vector<float>> video;
  ASSERT_TRUE(engine.Retrieve(0, &video).ok());
  EXPECT_TRUE(std::isinf(video[0][0]));
}

TEST_F(CpuErrorsTest, LoadAndRetrieveCheckTableShardRowsAndSlots) {
  std::vector<float> row(4, 1.0f);
  const std::vector<const float*> two = {row.data(), row.data()};
  EXPECT_ERROR(engine_->LoadRaw(2, 0, 0, 1, two), EMBRT_CODE_INVALID_ARGUMENT, "table index 2");
  EXPECT_ERROR(engine_->LoadRaw(0, 1, 0, 1, two), EMBRT_CODE_INVALID_ARGUMENT, "video", "shard 1");
  EXPECT_ERROR(engine_->LoadRaw(0, 0, 7, 2, two), EMBRT_CODE_INVALID_ARGUMENT, "video", "outside",
               "8 rows");
  EXPECT_ERROR(engine_->LoadRaw(0, 0, -1, 1, two), EMBRT_CODE_INVALID_ARGUMENT, "outside");
  EXPECT_ERROR(engine_->LoadRaw(0, 0, 0, 1, {row.data()}), EMBRT_CODE_INVALID_ARGUMENT, "1 slots",
               "has 2");
  EXPECT_ERROR(engine_->LoadRaw(0, 0, 0, 1, {row.data(), nullptr}), EMBRT_CODE_INVALID_ARGUMENT,
               "slot 1 is NULL");
  std::vector<std::vector<float>> out;
  EXPECT_ERROR(engine_->Retrieve(0, &out, 5, 4), EMBRT_CODE_INVALID_ARGUMENT, "outside");
  EXPECT_ERROR(engine_->Retrieve(0, &out, 0, 1, /*shard=*/3), EMBRT_CODE_INVALID_ARGUMENT,
               "shard 3");
  EXPECT_TRUE(engine_->LoadRaw(0, 0, 8, 0, two).ok());  // empty range at the end is fine
  ExpectUnchanged();
}

TEST(CpuCreateErrorsTest, BadDescriptionsAreRejected) {
  struct Case {
    const char* what;
    std::function<void(EngineSpec&)> change;
    EMBRT_ErrorCode code;
    const char* message;
  };
  const std::vector<Case> cases = {
      {"dim", [](EngineSpec& s) { s.tables[0].dim = 0; }, EMBRT_CODE_INVALID_ARGUMENT, "dim"},
      {"vocab", [](EngineSpec& s) { s.tables[1].vocabulary_size = 0; }, EMBRT_CODE_INVALID_ARGUMENT,
       "vocabulary_size"},
      {"combiner", [](EngineSpec& s) { s.tables[0].combiner = 9; }, EMBRT_CODE_UNIMPLEMENTED,
       "combiner 9"},
      {"optimizer", [](EngineSpec& s) { s.tables[0].optimizer = 42; }, EMBRT_CODE_UNIMPLEMENTED,
       "optimizer kind 42"},
      {"shard rows", [](EngineSpec& s) { s.shard_rows_override = 3; }, EMBRT_CODE_INVALID_ARGUMENT,
       "shard_rows 3"},
      {"table index", [](EngineSpec& s) { s.features[1].table = 5; }, EMBRT_CODE_INVALID_ARGUMENT,
       "favorited"},
      {"option",
       [](EngineSpec& s) {
         s.options = {{"speed", "max"}};
       },
       EMBRT_CODE_UNIMPLEMENTED, "speed"},
      {"threads",
       [](EngineSpec& s) {
         s.options = {{"threads", "0"}};
       },
       EMBRT_CODE_INVALID_ARGUMENT, "threads"},
      {"tag", [](EngineSpec& s) { s.tables[0].learning_rate_tag = 0; }, EMBRT_CODE_INVALID_ARGUMENT,
       "learning_rate_tag 0"},
      {"replicas", [](EngineSpec& s) { s.num_replicas = 0; }, EMBRT_CODE_INVALID_ARGUMENT,
       "num_replicas"},
      {"host", [](EngineSpec& s) { s.host_id = 1; }, EMBRT_CODE_INVALID_ARGUMENT, "host_id"},
      {"non-lazy adam",
       [](EngineSpec& s) {
         s.tables[0].optimizer = EMBRT_OPTIMIZER_ADAM;
         s.tables[0].use_gradient_accumulation = false;
         s.tables[0].hyperparameters = {{"lazy_adam", 0.0f}};
       },
       EMBRT_CODE_INVALID_ARGUMENT, "non-lazy Adam"},
      {"clip",
       [](EngineSpec& s) { s.tables[0].clip_weight_min = 2, s.tables[0].clip_weight_max = 1; },
       EMBRT_CODE_INVALID_ARGUMENT, "clipping"},
  };
  for (const Case& c : cases) {
    EngineSpec spec = TfFixtureSpec(EMBRT_OPTIMIZER_SGD);
    c.change(spec);
    CpuEngine engine(spec);
    EXPECT_FALSE(engine.ok()) << c.what;
    EXPECT_EQ(engine.create_result().code, c.code)
        << c.what << ": " << engine.create_result().message;
    EXPECT_THAT(engine.create_result().message, HasSubstr(c.message)) << c.what;
  }
}

// Issue 8 H: a table that cannot fit is refused at Engine_Create with the table, rows, dim and
// bytes (it used to say only "out of memory"); so is one whose byte count overflows.
TEST(CpuCreateErrorsTest, TablesThatCannotFitAreRefusedUpFront) {
  EngineSpec spec = TfFixtureSpec(EMBRT_OPTIMIZER_ADAGRAD);
  spec.tables[1].vocabulary_size = 1000000000000000;
  spec.tables[1].dim = 64;
  CpuEngine engine(spec);
  EXPECT_FALSE(engine.ok());
  EXPECT_EQ(engine.create_result().code, EMBRT_CODE_RESOURCE_EXHAUSTED)
      << engine.create_result().message;
  EXPECT_THAT(engine.create_result().message,
              AllOf(HasSubstr("table '" + spec.tables[1].name + "'"),
                    HasSubstr("1000000000000000 rows x dim 64 x 2 slots x 4 bytes = "
                              "512000000000000000 bytes"),
                    HasSubstr("bytes this process can allocate")));
  spec.tables[1].vocabulary_size = int64_t{1} << 62;
  CpuEngine overflowing(spec);
  EXPECT_EQ(overflowing.create_result().code, EMBRT_CODE_RESOURCE_EXHAUSTED);
  EXPECT_THAT(overflowing.create_result().message, HasSubstr("more bytes than 64 bits count"));
}

TEST(CpuPluginTest, AttributesDescribeTheBackend) {
  const EMBRT_Api* api = CpuApi();
  ASSERT_NE(api, nullptr);
  EXPECT_EQ(api->abi_major, EMBRT_ABI_MAJOR);
  EMBRT_Plugin_Attributes_Args args{EMBRT_Plugin_Attributes_Args_STRUCT_SIZE, nullptr, nullptr, 0};
  ASSERT_EQ(api->Plugin_Attributes(&args), nullptr);
  std::map<std::string, std::string> values;
  for (size_t i = 0; i < args.num_attributes; ++i) {
    const EMBRT_NamedValue& v = args.attributes[i];
    values[std::string(v.name, v.name_size)] =
        v.type == EMBRT_VALUE_STRING ? std::string(v.string_value, v.string_value_size)
                                     : std::to_string(v.int64_value);
  }
  EXPECT_EQ(values["name"], "cpu");
  EXPECT_EQ(values["abi_version"], "1.1");
  EXPECT_EQ(values["deterministic"], "1");
  EXPECT_EQ(values["exact_math"], "1");
  EXPECT_EQ(values["optimizers"], "sgd,adagrad,adagrad_momentum,adam,ftrl");
  EXPECT_EQ(values["combiners"], "sum,mean,sqrtn");
  EXPECT_EQ(values["multi_host"], "1");  // over Open MPI (tests/multihost)
  EXPECT_EQ(values["input_lifetime"], "1");  // INFERENCE ids read in place under STEP
}

}  // namespace
}  // namespace cpu_test
}  // namespace embrt
