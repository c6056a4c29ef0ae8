// Copyright embrt authors.
//
// plugin_api.h compiled as C++17 here and as C11 in plugin_api_c11.c: the struct_size macros
// have the 1.0 values on both sides, and EMBRT_API_HAS / EMBRT_HAS_FIELD look at struct_size
// and NULL.

#include <cstring>
#include <vector>

#include "embrt/plugin_api.h"
#include "gtest/gtest.h"

extern "C" size_t embrt_c11_struct_sizes(size_t* sizes, size_t capacity);
extern "C" int embrt_c11_api_has_synchronize(const EMBRT_Api* api);

namespace {

// In the order of plugin_api_c11.c, with the sizes of ABI 1.0 on LP64.
struct SizeCase {
  const char* name;
  size_t macro;
  size_t expected;
  size_t struct_sizeof;
};

std::vector<SizeCase> Cases() {
  return {
      {"HostInfo", EMBRT_HostInfo_STRUCT_SIZE, 16, sizeof(EMBRT_HostInfo)},
      {"Api", EMBRT_Api_STRUCT_SIZE, 144, sizeof(EMBRT_Api)},
      {"NamedValue", EMBRT_NamedValue_STRUCT_SIZE, 60, sizeof(EMBRT_NamedValue)},
      {"OptimizerDescription", EMBRT_OptimizerDescription_STRUCT_SIZE, 72,
       sizeof(EMBRT_OptimizerDescription)},
      {"TableDescription", EMBRT_TableDescription_STRUCT_SIZE, 76, sizeof(EMBRT_TableDescription)},
      {"FeatureDescription", EMBRT_FeatureDescription_STRUCT_SIZE, 64,
       sizeof(EMBRT_FeatureDescription)},
      {"EngineDescription", EMBRT_EngineDescription_STRUCT_SIZE, 96,
       sizeof(EMBRT_EngineDescription)},
      {"FeatureInput", EMBRT_FeatureInput_STRUCT_SIZE, 64, sizeof(EMBRT_FeatureInput)},
      {"Error_Destroy_Args", EMBRT_Error_Destroy_Args_STRUCT_SIZE, 24,
       sizeof(EMBRT_Error_Destroy_Args)},
      {"Error_Message_Args", EMBRT_Error_Message_Args_STRUCT_SIZE, 40,
       sizeof(EMBRT_Error_Message_Args)},
      {"Error_GetCode_Args", EMBRT_Error_GetCode_Args_STRUCT_SIZE, 28,
       sizeof(EMBRT_Error_GetCode_Args)},
      {"Plugin_Attributes_Args", EMBRT_Plugin_Attributes_Args_STRUCT_SIZE, 32,
       sizeof(EMBRT_Plugin_Attributes_Args)},
      {"Engine_Create_Args", EMBRT_Engine_Create_Args_STRUCT_SIZE, 32,
       sizeof(EMBRT_Engine_Create_Args)},
      {"Engine_Destroy_Args", EMBRT_Engine_Destroy_Args_STRUCT_SIZE, 24,
       sizeof(EMBRT_Engine_Destroy_Args)},
      {"Engine_Enqueue_Args", EMBRT_Engine_Enqueue_Args_STRUCT_SIZE, 52,
       sizeof(EMBRT_Engine_Enqueue_Args)},
      {"Engine_RecvActivations_Args", EMBRT_Engine_RecvActivations_Args_STRUCT_SIZE, 56,
       sizeof(EMBRT_Engine_RecvActivations_Args)},
      {"Engine_SendGradients_Args", EMBRT_Engine_SendGradients_Args_STRUCT_SIZE, 72,
       sizeof(EMBRT_Engine_SendGradients_Args)},
      {"Engine_LoadTableShard_Args", EMBRT_Engine_LoadTableShard_Args_STRUCT_SIZE, 64,
       sizeof(EMBRT_Engine_LoadTableShard_Args)},
      {"Engine_RetrieveTableShard_Args", EMBRT_Engine_RetrieveTableShard_Args_STRUCT_SIZE, 64,
       sizeof(EMBRT_Engine_RetrieveTableShard_Args)},
      {"Engine_Synchronize_Args", EMBRT_Engine_Synchronize_Args_STRUCT_SIZE, 24,
       sizeof(EMBRT_Engine_Synchronize_Args)},
      {"Plugin_HostTopology_Args", EMBRT_Plugin_HostTopology_Args_STRUCT_SIZE, 24,
       sizeof(EMBRT_Plugin_HostTopology_Args)},
      {"Engine_AgreeStatus_Args", EMBRT_Engine_AgreeStatus_Args_STRUCT_SIZE, 48,
       sizeof(EMBRT_Engine_AgreeStatus_Args)},
      {"Engine_Barrier_Args", EMBRT_Engine_Barrier_Args_STRUCT_SIZE, 24,
       sizeof(EMBRT_Engine_Barrier_Args)},
      {"Engine_AllGather_Args", EMBRT_Engine_AllGather_Args_STRUCT_SIZE, 48,
       sizeof(EMBRT_Engine_AllGather_Args)},
  };
}

TEST(PluginApiHeaderTest, VersionIsOnePointOne) {
  EXPECT_EQ(EMBRT_ABI_MAJOR, 1);
  EXPECT_EQ(EMBRT_ABI_MINOR, 1);
}

TEST(PluginApiHeaderTest, OnePointZeroSizesStayPinned) {
  EXPECT_EQ(EMBRT_Api_STRUCT_SIZE_1_0, 112u);
  EXPECT_EQ(EMBRT_FeatureInput_STRUCT_SIZE_1_0, 48u);
  EXPECT_EQ(EMBRT_Engine_Enqueue_Args_STRUCT_SIZE_1_0, 48u);
}

TEST(PluginApiHeaderTest, StructSizesHaveTheReleasedValues) {
  for (const SizeCase& c : Cases()) {
    EXPECT_EQ(c.macro, c.expected) << c.name;
    // A struct_size never exceeds the struct; the difference is only tail padding.
    EXPECT_LE(c.macro, c.struct_sizeof) << c.name;
    EXPECT_LT(c.struct_sizeof - c.macro, 8u) << c.name;
  }
}

TEST(PluginApiHeaderTest, CAndCppAgreeOnStructSizes) {
  const std::vector<SizeCase> cases = Cases();
  std::vector<size_t> c_sizes(cases.size() + 4, 0);
  ASSERT_EQ(embrt_c11_struct_sizes(c_sizes.data(), c_sizes.size()), cases.size());
  for (size_t i = 0; i < cases.size(); ++i) EXPECT_EQ(c_sizes[i], cases[i].macro) << cases[i].name;
}

TEST(PluginApiHeaderTest, HasFieldComparesStructSize) {
  EXPECT_TRUE(EMBRT_HAS_FIELD(EMBRT_FeatureInput, EMBRT_FeatureInput_STRUCT_SIZE, weights));
  EXPECT_FALSE(EMBRT_HAS_FIELD(EMBRT_FeatureInput, offsetof(EMBRT_FeatureInput, weights), weights));
  EXPECT_TRUE(
      EMBRT_HAS_FIELD(EMBRT_FeatureInput, offsetof(EMBRT_FeatureInput, weights), num_row_splits));
  EXPECT_FALSE(
      EMBRT_HAS_FIELD(EMBRT_FeatureInput, offsetof(EMBRT_FeatureInput, weights) + 7, weights));
}

EMBRT_Error* FakeSynchronize(EMBRT_Engine_Synchronize_Args*) { return nullptr; }

TEST(PluginApiHeaderTest, ApiHasLooksAtStructSizeAndNull) {
  EMBRT_Api api;
  std::memset(&api, 0, sizeof(api));
  api.struct_size = EMBRT_Api_STRUCT_SIZE;
  EXPECT_FALSE(EMBRT_API_HAS(&api, Engine_Synchronize));  // NULL slot
  EXPECT_EQ(embrt_c11_api_has_synchronize(&api), 0);

  api.Engine_Synchronize = &FakeSynchronize;
  EXPECT_TRUE(EMBRT_API_HAS(&api, Engine_Synchronize));
  EXPECT_EQ(embrt_c11_api_has_synchronize(&api), 1);

  // An older plugin's table ends before the slot: the (garbage) pointer there is not used.
  api.struct_size = offsetof(EMBRT_Api, Engine_Synchronize);
  EXPECT_FALSE(EMBRT_API_HAS(&api, Engine_Synchronize));
  EXPECT_EQ(embrt_c11_api_has_synchronize(&api), 0);
}

TEST(PluginApiHeaderTest, EnumValuesAreTheReleasedOnes) {
  EXPECT_EQ(EMBRT_CODE_INVALID_ARGUMENT, 3);
  EXPECT_EQ(EMBRT_CODE_FAILED_PRECONDITION, 9);
  EXPECT_EQ(EMBRT_CODE_UNIMPLEMENTED, 12);
  EXPECT_EQ(EMBRT_CODE_UNAUTHENTICATED, 16);
  EXPECT_EQ(EMBRT_COMBINER_SUM, 1);
  EXPECT_EQ(EMBRT_COMBINER_SQRTN, 3);
  EXPECT_EQ(EMBRT_OPTIMIZER_SGD, 1);
  EXPECT_EQ(EMBRT_OPTIMIZER_FTRL, 5);
  EXPECT_EQ(EMBRT_SHARDING_DIV, 0);
  EXPECT_EQ(EMBRT_SHARDING_MOD, 1);
  EXPECT_EQ(EMBRT_MODE_TRAINING, 1);
  EXPECT_EQ(EMBRT_MODE_INFERENCE, 2);
}

}  // namespace
