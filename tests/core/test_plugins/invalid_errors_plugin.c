/* Copyright embrt authors.
 *
 * A plugin that breaks the error and attribute rules of the ABI on purpose, for
 * plugin_loader_test: the host must blame the plugin instead of printing an empty message or
 * reading through a NULL pointer. Written in C, with every function of ABI 1.0 present.
 *
 * Built twice (EMBRT_TEST_INVALID_ATTRIBUTES 0 or 1):
 *   0: well-formed attributes; Engine_Create fails with a malformed error chosen by the
 *      description's num_replicas:
 *        1  NULL message of size 17, code INTERNAL
 *        2  message "ok?", code OK
 *        3  message "odd", code 99
 *        4  message of size 2^40 (more than the host reads), code DATA_LOSS
 *   1: Plugin_Attributes returns an attribute whose name is NULL with size 4. */
#include <stddef.h>
#include <stdint.h>

#include "embrt/plugin_api.h"

/* The errors are static objects: Error_Destroy has nothing to free. */
struct EMBRT_Error {
  const char* message;
  size_t message_size;
  EMBRT_ErrorCode code;
};

static struct EMBRT_Error kErrors[] = {
    {NULL, 17, EMBRT_CODE_INTERNAL},
    {"ok?", 3, EMBRT_CODE_OK},
    {"odd", 3, (EMBRT_ErrorCode)99},
    {"big", (size_t)1 << 40, EMBRT_CODE_DATA_LOSS},
};
static struct EMBRT_Error kUnimplemented = {"not implemented", 15, EMBRT_CODE_UNIMPLEMENTED};

static void ErrorDestroy(EMBRT_Error_Destroy_Args* args) { (void)args; }
static void ErrorMessage(EMBRT_Error_Message_Args* args) {
  args->message = args->error->message;
  args->message_size = args->error->message_size;
}
static void ErrorGetCode(EMBRT_Error_GetCode_Args* args) { args->code = args->error->code; }

static EMBRT_Error* Attributes(EMBRT_Plugin_Attributes_Args* args) {
  static EMBRT_NamedValue attributes[1];
  attributes[0].struct_size = EMBRT_NamedValue_STRUCT_SIZE;
  attributes[0].type = EMBRT_VALUE_STRING;
#if EMBRT_TEST_INVALID_ATTRIBUTES
  attributes[0].name = NULL;
  attributes[0].name_size = 4;
#else
  attributes[0].name = "name";
  attributes[0].name_size = 4;
#endif
  attributes[0].string_value = "invalid_errors";
  attributes[0].string_value_size = 14;
  args->attributes = attributes;
  args->num_attributes = 1;
  return NULL;
}

static EMBRT_Error* Create(EMBRT_Engine_Create_Args* args) {
  const int32_t choice = args->description->num_replicas;
  if (choice >= 1 && choice <= 4) return &kErrors[choice - 1];
  return &kUnimplemented;
}

#define EMBRT_TEST_UNIMPLEMENTED(Call)                    \
  static EMBRT_Error* Call(EMBRT_##Call##_Args* args) {   \
    (void)args;                                           \
    return &kUnimplemented;                               \
  }
EMBRT_TEST_UNIMPLEMENTED(Engine_Enqueue)
EMBRT_TEST_UNIMPLEMENTED(Engine_RecvActivations)
EMBRT_TEST_UNIMPLEMENTED(Engine_SendGradients)
EMBRT_TEST_UNIMPLEMENTED(Engine_LoadTableShard)
EMBRT_TEST_UNIMPLEMENTED(Engine_RetrieveTableShard)
EMBRT_TEST_UNIMPLEMENTED(Engine_Synchronize)
static void Destroy(EMBRT_Engine_Destroy_Args* args) { (void)args; }

static EMBRT_Api kApi;

__attribute__((visibility("default"))) const EMBRT_Api* EMBRT_GetPluginApi(
    const EMBRT_HostInfo* host) {
  (void)host;
  kApi.struct_size = EMBRT_Api_STRUCT_SIZE;
  kApi.abi_major = EMBRT_ABI_MAJOR;
  kApi.abi_minor = 0;
  kApi.Error_Destroy = ErrorDestroy;
  kApi.Error_Message = ErrorMessage;
  kApi.Error_GetCode = ErrorGetCode;
  kApi.Plugin_Attributes = Attributes;
  kApi.Engine_Create = Create;
  kApi.Engine_Destroy = Destroy;
  kApi.Engine_Enqueue = Engine_Enqueue;
  kApi.Engine_RecvActivations = Engine_RecvActivations;
  kApi.Engine_SendGradients = Engine_SendGradients;
  kApi.Engine_LoadTableShard = Engine_LoadTableShard;
  kApi.Engine_RetrieveTableShard = Engine_RetrieveTableShard;
  kApi.Engine_Synchronize = Engine_Synchronize;
  return &kApi;
}
