/* Copyright embrt authors.
 *
 * Compiled as -std=c11 -pedantic -Werror: plugin_api.h must be plain C11. The functions hand
 * the C compiler's view of the layout to plugin_api_header_test.cc, which compares it with the
 * C++ compiler's. */

#include "embrt/plugin_api.h"

size_t embrt_c11_struct_sizes(size_t* sizes, size_t capacity);
int embrt_c11_api_has_synchronize(const EMBRT_Api* api);

size_t embrt_c11_struct_sizes(size_t* sizes, size_t capacity) {
  const size_t all[] = {
      EMBRT_HostInfo_STRUCT_SIZE,
      EMBRT_Api_STRUCT_SIZE,
      EMBRT_NamedValue_STRUCT_SIZE,
      EMBRT_OptimizerDescription_STRUCT_SIZE,
      EMBRT_TableDescription_STRUCT_SIZE,
      EMBRT_FeatureDescription_STRUCT_SIZE,
      EMBRT_EngineDescription_STRUCT_SIZE,
      EMBRT_FeatureInput_STRUCT_SIZE,
      EMBRT_Error_Destroy_Args_STRUCT_SIZE,
      EMBRT_Error_Message_Args_STRUCT_SIZE,
      EMBRT_Error_GetCode_Args_STRUCT_SIZE,
      EMBRT_Plugin_Attributes_Args_STRUCT_SIZE,
      EMBRT_Engine_Create_Args_STRUCT_SIZE,
      EMBRT_Engine_Destroy_Args_STRUCT_SIZE,
      EMBRT_Engine_Enqueue_Args_STRUCT_SIZE,
      EMBRT_Engine_RecvActivations_Args_STRUCT_SIZE,
      EMBRT_Engine_SendGradients_Args_STRUCT_SIZE,
      EMBRT_Engine_LoadTableShard_Args_STRUCT_SIZE,
      EMBRT_Engine_RetrieveTableShard_Args_STRUCT_SIZE,
      EMBRT_Engine_Synchronize_Args_STRUCT_SIZE,
      EMBRT_Plugin_HostTopology_Args_STRUCT_SIZE,
      EMBRT_Engine_AgreeStatus_Args_STRUCT_SIZE,
      EMBRT_Engine_Barrier_Args_STRUCT_SIZE,
      EMBRT_Engine_AllGather_Args_STRUCT_SIZE,
  };
  size_t count = sizeof(all) / sizeof(all[0]);
  size_t i;
  for (i = 0; i < count && i < capacity; ++i) sizes[i] = all[i];
  return count;
}

int embrt_c11_api_has_synchronize(const EMBRT_Api* api) {
  return EMBRT_API_HAS(api, Engine_Synchronize) ? 1 : 0;
}
