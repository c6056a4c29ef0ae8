// Copyright embrt authors.
//
// ABI tolerance of a plugin built with the SDK (the mock), called through its C table:
// args structs from an older caller (smaller struct_size: the missing fields read as their
// defaults) and from a newer caller (larger struct_size, zeroed trailing bytes), NULL optional
// slots, NULL engines and NULL args, and version negotiation.

#include <dlfcn.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "gtest/gtest.h"
#include "mock_harness.h"

namespace embrt {
namespace testing {
namespace {

// A struct as a newer caller would send it: 1.0's fields, then fields this plugin does not
// know, zeroed.
template <typename T>
struct Newer {
  T base;
  uint64_t unknown_fields[4];
};

template <typename T>
Newer<T> MakeNewer(const T& base) {
  Newer<T> newer;
  std::memset(static_cast<void*>(&newer), 0, sizeof(newer));
  newer.base = base;
  newer.base.struct_size = sizeof(Newer<T>);
  return newer;
}

// A pointer that must never be read.
template <typename T>
T* Poison() {
  return reinterpret_cast<T*>(uintptr_t{0x10});
}

TEST(SdkVersionTest, GetPluginApiNegotiatesTheMajorVersion) {
  void* library = dlopen(EMBRT_MOCK_PLUGIN_PATH, RTLD_NOW | RTLD_LOCAL);
  ASSERT_NE(library, nullptr) << dlerror();
  auto* get = reinterpret_cast<EMBRT_GetPluginApi_Fn*>(dlsym(library, EMBRT_GET_PLUGIN_API_SYMBOL));
  ASSERT_NE(get, nullptr);
  EXPECT_EQ(get(nullptr), nullptr);
  EMBRT_HostInfo host = {EMBRT_HostInfo_STRUCT_SIZE, 2, 0};
  EXPECT_EQ(get(&host), nullptr);
  host.abi_major = 0;
  EXPECT_EQ(get(&host), nullptr);
  // A newer minor is fine: the table says what it has.
  host = {EMBRT_HostInfo_STRUCT_SIZE, EMBRT_ABI_MAJOR, EMBRT_ABI_MINOR + 5};
  const EMBRT_Api* api = get(&host);
  ASSERT_NE(api, nullptr);
  EXPECT_EQ(api, MockApi());
  EXPECT_EQ(api->struct_size, EMBRT_Api_STRUCT_SIZE);
  EXPECT_EQ(api->abi_major, 1);
  EXPECT_EQ(api->abi_minor, 1);
  // The mock opts in to the SDK's host slots (it simulates the other hosts).
  EXPECT_TRUE(EMBRT_API_HAS(api, Plugin_HostTopology));
  EXPECT_TRUE(EMBRT_API_HAS(api, Engine_AgreeStatus));
  EXPECT_TRUE(EMBRT_API_HAS(api, Engine_Barrier));
  EXPECT_TRUE(EMBRT_API_HAS(api, Engine_AllGather));
  EXPECT_TRUE(EMBRT_API_HAS(api, Engine_Synchronize));
  // Only the one symbol is exported.
  EXPECT_EQ(dlsym(library, "_ZN5embrt4mock10MockEngineD0Ev"), nullptr);
}

TEST(SdkToleranceTest, OlderFeatureInputWithoutWeightsReadsAsUnweighted) {
  EngineSpec spec = SmallSpec();
  MockEngine engine(spec);
  const int64_t ids[] = {1, 2, 3};
  const int32_t splits[] = {0, 2, 3};
  EMBRT_FeatureInput in = {EMBRT_STRUCT_SIZE(EMBRT_FeatureInput, num_row_splits),
                           ids,
                           3,
                           splits,
                           3,
                           Poison<const float>()};
  ASSERT_TRUE(engine.EnqueueRaw(0, EMBRT_MODE_INFERENCE, {in}).ok());
  std::vector<std::vector<float>> out;
  ASSERT_TRUE(engine.Recv(0, &out).ok());
  EXPECT_EQ(out[0], (std::vector<float>{0.0f + 1.0f + 2.0f, 0.0f + 1.001f + 2.001f, 3.0f, 3.001f}));
}

TEST(SdkToleranceTest, OlderFeatureInputWithoutRowSplitsReadsAsOneIdPerRow) {
  MockEngine engine(SmallSpec());
  const int64_t ids[] = {4, 5};
  EMBRT_FeatureInput in = {EMBRT_STRUCT_SIZE(EMBRT_FeatureInput, num_ids),
                           ids,
                           2,
                           Poison<const int32_t>(),
                           99,
                           Poison<const float>()};
  ASSERT_TRUE(engine.EnqueueRaw(0, EMBRT_MODE_INFERENCE, {in}).ok());
  std::vector<std::vector<float>> out;
  ASSERT_TRUE(engine.Recv(0, &out).ok());
  EXPECT_EQ(out[0], (std::vector<float>{4.0f, 4.001f, 5.0f, 5.001f}));
}

TEST(SdkToleranceTest, OlderSendGradientsWithoutLearningRatesReadsAsNone) {
  MockEngine engine(SmallSpec());
  std::vector<std::vector<float>> out;
  ASSERT_TRUE(engine.Enqueue(0, EMBRT_MODE_TRAINING, {Input{{1, 2}}}).ok());
  ASSERT_TRUE(engine.Recv(0, &out).ok());
  const float gradient[] = {2.0f, 0.0f, 0.0f, 0.0f};
  const float* gradients[] = {gradient};
  const size_t sizes[] = {4};
  EMBRT_Engine_SendGradients_Args args = {
      EMBRT_STRUCT_SIZE(EMBRT_Engine_SendGradients_Args, num_gradients),
      nullptr,
      engine.get(),
      0,
      gradients,
      sizes,
      1,
      Poison<const float>(),
      1000};
  ASSERT_TRUE(Take(MockApi()->Engine_SendGradients(&args)).ok());
  EXPECT_EQ(engine.Parameters(0, 1, 1), (std::vector<float>{0.0f, 1.001f}));
}

TEST(SdkToleranceTest, ArgsTooSmallForTheirOutputAreRejected) {
  Description description(SmallSpec());
  EMBRT_Engine_Create_Args create = {offsetof(EMBRT_Engine_Create_Args, engine), nullptr,
                                     description.get(), Poison<EMBRT_Engine>()};
  EXPECT_EQ(Take(MockApi()->Engine_Create(&create)).code, EMBRT_CODE_INVALID_ARGUMENT);
  EXPECT_EQ(create.engine, Poison<EMBRT_Engine>());
  EMBRT_Plugin_Attributes_Args attributes = {offsetof(EMBRT_Plugin_Attributes_Args, attributes),
                                             nullptr, nullptr, 0};
  EXPECT_EQ(Take(MockApi()->Plugin_Attributes(&attributes)).code, EMBRT_CODE_INVALID_ARGUMENT);
  EXPECT_EQ(attributes.attributes, nullptr);
}

TEST(SdkToleranceTest, NewerCallersWithLargerStructsWork) {
  EngineSpec spec = SmallSpec();
  spec.tables[0].optimizer = EMBRT_OPTIMIZER_SGD;
  Description description(spec);
  auto optimizer = MakeNewer(*description.tables()[0].optimizer);
  auto table = MakeNewer(description.tables()[0]);
  table.base.optimizer = &optimizer.base;
  auto feature = MakeNewer(description.features()[0]);
  const EMBRT_TableDescription* tables[] = {&table.base};
  const EMBRT_FeatureDescription* features[] = {&feature.base};
  auto engine_description = MakeNewer(*description.get());
  engine_description.base.tables = tables;
  engine_description.base.features = features;
  auto create = MakeNewer(EMBRT_Engine_Create_Args{0, nullptr, &engine_description.base, nullptr});
  ASSERT_TRUE(Take(MockApi()->Engine_Create(&create.base)).ok());
  EMBRT_Engine* engine = create.base.engine;
  ASSERT_NE(engine, nullptr);

  const int64_t ids[] = {3, 6};
  auto input = MakeNewer(EMBRT_FeatureInput{0, ids, 2, nullptr, 0, nullptr});
  const EMBRT_FeatureInput* inputs[] = {&input.base};
  auto enqueue =
      MakeNewer(EMBRT_Engine_Enqueue_Args{0, nullptr, engine, 0, EMBRT_MODE_TRAINING, inputs, 1});
  ASSERT_TRUE(Take(MockApi()->Engine_Enqueue(&enqueue.base)).ok());

  float activations[4] = {-7.0f, -7.0f, -7.0f, -7.0f};
  float* buffers[] = {activations};
  const size_t sizes[] = {4};
  auto recv =
      MakeNewer(EMBRT_Engine_RecvActivations_Args{0, nullptr, engine, 0, buffers, sizes, 1});
  ASSERT_TRUE(Take(MockApi()->Engine_RecvActivations(&recv.base)).ok());
  EXPECT_EQ(std::vector<float>(activations, activations + 4),
            (std::vector<float>{3.0f, 3.001f, 6.0f, 6.001f}));

  const float gradient[] = {1.0f, 1.0f, 2.0f, 2.0f};
  const float* gradients[] = {gradient};
  auto send = MakeNewer(
      EMBRT_Engine_SendGradients_Args{0, nullptr, engine, 0, gradients, sizes, 1, nullptr, 0});
  ASSERT_TRUE(Take(MockApi()->Engine_SendGradients(&send.base)).ok());

  const float row[] = {7.0f, 8.0f};
  const float* load_slots[] = {row};
  auto load =
      MakeNewer(EMBRT_Engine_LoadTableShard_Args{0, nullptr, engine, 0, 0, 0, 1, load_slots, 1});
  ASSERT_TRUE(Take(MockApi()->Engine_LoadTableShard(&load.base)).ok());

  float rows[8 * 2];
  float* retrieve_slots[] = {rows};
  auto retrieve = MakeNewer(
      EMBRT_Engine_RetrieveTableShard_Args{0, nullptr, engine, 0, 0, 0, 8, retrieve_slots, 1});
  ASSERT_TRUE(Take(MockApi()->Engine_RetrieveTableShard(&retrieve.base)).ok());
  EXPECT_EQ(rows[0], 7.0f);
  EXPECT_EQ(rows[1], 8.0f);
  EXPECT_EQ(rows[2 * 3], 3.0f - 0.5f);
  EXPECT_EQ(rows[2 * 6 + 1], 6.001f - 1.0f);

  auto synchronize = MakeNewer(EMBRT_Engine_Synchronize_Args{0, nullptr, engine});
  EXPECT_TRUE(Take(MockApi()->Engine_Synchronize(&synchronize.base)).ok());
  auto destroy = MakeNewer(EMBRT_Engine_Destroy_Args{0, nullptr, engine});
  MockApi()->Engine_Destroy(&destroy.base);
}

TEST(SdkToleranceTest, NullEngineIsAnErrorNotACrash) {
  const EMBRT_Api* api = MockApi();
  EMBRT_Engine_Enqueue_Args enqueue = {EMBRT_Engine_Enqueue_Args_STRUCT_SIZE};
  EMBRT_Engine_RecvActivations_Args recv = {EMBRT_Engine_RecvActivations_Args_STRUCT_SIZE};
  EMBRT_Engine_SendGradients_Args send = {EMBRT_Engine_SendGradients_Args_STRUCT_SIZE};
  EMBRT_Engine_LoadTableShard_Args load = {EMBRT_Engine_LoadTableShard_Args_STRUCT_SIZE};
  EMBRT_Engine_RetrieveTableShard_Args retrieve = {
      EMBRT_Engine_RetrieveTableShard_Args_STRUCT_SIZE};
  EMBRT_Engine_Synchronize_Args synchronize = {EMBRT_Engine_Synchronize_Args_STRUCT_SIZE};
  const Result results[] = {Take(api->Engine_Enqueue(&enqueue)),
                            Take(api->Engine_RecvActivations(&recv)),
                            Take(api->Engine_SendGradients(&send)),
                            Take(api->Engine_LoadTableShard(&load)),
                            Take(api->Engine_RetrieveTableShard(&retrieve)),
                            Take(api->Engine_Synchronize(&synchronize))};
  for (const Result& r : results) {
    EXPECT_EQ(r.code, EMBRT_CODE_INVALID_ARGUMENT);
    EXPECT_NE(r.message.find("engine is NULL"), std::string::npos) << r.message;
  }
  EMBRT_Engine_Destroy_Args destroy = {EMBRT_Engine_Destroy_Args_STRUCT_SIZE, nullptr, nullptr};
  api->Engine_Destroy(&destroy);
}

TEST(SdkToleranceTest, NullArgsAreAnErrorNotACrash) {
  const EMBRT_Api* api = MockApi();
  EXPECT_EQ(Take(api->Engine_Create(nullptr)).code, EMBRT_CODE_INVALID_ARGUMENT);
  EXPECT_EQ(Take(api->Plugin_Attributes(nullptr)).code, EMBRT_CODE_INVALID_ARGUMENT);
  EXPECT_EQ(Take(api->Engine_Enqueue(nullptr)).code, EMBRT_CODE_INVALID_ARGUMENT);
  EXPECT_EQ(Take(api->Engine_RecvActivations(nullptr)).code, EMBRT_CODE_INVALID_ARGUMENT);
  EXPECT_EQ(Take(api->Engine_SendGradients(nullptr)).code, EMBRT_CODE_INVALID_ARGUMENT);
  EXPECT_EQ(Take(api->Engine_LoadTableShard(nullptr)).code, EMBRT_CODE_INVALID_ARGUMENT);
  EXPECT_EQ(Take(api->Engine_RetrieveTableShard(nullptr)).code, EMBRT_CODE_INVALID_ARGUMENT);
  EXPECT_EQ(Take(api->Engine_Synchronize(nullptr)).code, EMBRT_CODE_INVALID_ARGUMENT);
  api->Engine_Destroy(nullptr);
  api->Error_Destroy(nullptr);
  api->Error_Message(nullptr);
  api->Error_GetCode(nullptr);
  EMBRT_Engine_Create_Args create = {EMBRT_Engine_Create_Args_STRUCT_SIZE, nullptr, nullptr,
                                     nullptr};
  const Result no_description = Take(api->Engine_Create(&create));
  EXPECT_EQ(no_description.code, EMBRT_CODE_INVALID_ARGUMENT);
  EXPECT_EQ(no_description.message, "engine description is NULL");
}

TEST(SdkToleranceTest, NullEntriesInsideArgsAreErrors) {
  MockEngine engine(SmallSpec());
  const EMBRT_FeatureInput* inputs[] = {nullptr};
  EMBRT_Engine_Enqueue_Args enqueue = {EMBRT_Engine_Enqueue_Args_STRUCT_SIZE,
                                       nullptr,
                                       engine.get(),
                                       0,
                                       EMBRT_MODE_TRAINING,
                                       inputs,
                                       1};
  EXPECT_EQ(Take(MockApi()->Engine_Enqueue(&enqueue)).code, EMBRT_CODE_INVALID_ARGUMENT);
  enqueue.inputs = nullptr;
  EXPECT_EQ(Take(MockApi()->Engine_Enqueue(&enqueue)).code, EMBRT_CODE_INVALID_ARGUMENT);
  // ids NULL with a count.
  EMBRT_FeatureInput in = {EMBRT_FeatureInput_STRUCT_SIZE, nullptr, 2, nullptr, 0, nullptr};
  const EMBRT_FeatureInput* null_ids[] = {&in};
  enqueue.inputs = null_ids;
  const Result result = Take(MockApi()->Engine_Enqueue(&enqueue));
  EXPECT_EQ(result.code, EMBRT_CODE_INVALID_ARGUMENT);
  EXPECT_NE(result.message.find("ids is NULL"), std::string::npos) << result.message;
  EMBRT_Engine_LoadTableShard_Args load = {
      EMBRT_Engine_LoadTableShard_Args_STRUCT_SIZE, nullptr, engine.get(), 0, 0, 0, 1, nullptr, 1};
  EXPECT_EQ(Take(MockApi()->Engine_LoadTableShard(&load)).code, EMBRT_CODE_INVALID_ARGUMENT);
  const float* null_slot[] = {nullptr};
  load.slots = null_slot;
  EXPECT_EQ(Take(MockApi()->Engine_LoadTableShard(&load)).code, EMBRT_CODE_INVALID_ARGUMENT);
}

TEST(SdkToleranceTest, ErrorAccessorsAcceptNullErrors) {
  const EMBRT_Api* api = MockApi();
  EMBRT_Error_Message_Args message = {EMBRT_Error_Message_Args_STRUCT_SIZE, nullptr, nullptr,
                                      nullptr, 5};
  api->Error_Message(&message);
  EXPECT_EQ(message.message_size, 0u);
  EMBRT_Error_GetCode_Args code = {EMBRT_Error_GetCode_Args_STRUCT_SIZE, nullptr, nullptr, 0};
  api->Error_GetCode(&code);
  EXPECT_EQ(code.code, EMBRT_CODE_UNKNOWN);
  EMBRT_Error_Destroy_Args destroy = {EMBRT_Error_Destroy_Args_STRUCT_SIZE, nullptr, nullptr};
  api->Error_Destroy(&destroy);
}

}  // namespace
}  // namespace testing
}  // namespace embrt
