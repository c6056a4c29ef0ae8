/* Copyright embrt authors.
 *
 * A plugin of ABI 1.0, for the tests of a 1.1 host against it: the skeleton backend behind a
 * table of 1.0 (struct_size 112, abi_minor 0, abi_version "1.0") that reads every
 * EMBRT_FeatureInput as the 48 bytes of 1.0, so it never sees positions, exactly like a plugin
 * compiled against the 1.0 header. */
#define EMBRT_GetPluginApi SkeletonGetPluginApi
#include "skeleton.c"
#undef EMBRT_GetPluginApi

static const EMBRT_Api* skeleton;

/* Enqueue as a 1.0 plugin sees it: inputs no larger than 1.0's, so positions read as NULL. */
static EMBRT_Error* Enqueue_1_0(EMBRT_Engine_Enqueue_Args* args) {
  EMBRT_Engine_Enqueue_Args a;
  if (!EMBRT_C_READ_ARGS(&a, args) || a.inputs == NULL || a.num_inputs > 64) {
    return skeleton->Engine_Enqueue(args);
  }
  EMBRT_FeatureInput inputs[64];
  const EMBRT_FeatureInput* pointers[64];
  for (size_t f = 0; f < a.num_inputs; ++f) {
    pointers[f] = NULL;
    if (a.inputs[f] == NULL) continue;
    embrt_c_read_args(&inputs[f], a.inputs[f], EMBRT_FeatureInput_STRUCT_SIZE_1_0);
    memset((char*)&inputs[f] + EMBRT_FeatureInput_STRUCT_SIZE_1_0, 0,
           sizeof(EMBRT_FeatureInput) - EMBRT_FeatureInput_STRUCT_SIZE_1_0);
    inputs[f].struct_size = EMBRT_FeatureInput_STRUCT_SIZE_1_0;
    pointers[f] = &inputs[f];
  }
  a.inputs = pointers;
  a.struct_size = EMBRT_Engine_Enqueue_Args_STRUCT_SIZE_1_0;
  return skeleton->Engine_Enqueue(&a);
}

static const EMBRT_NamedValue kAttributes_1_0[] = {
    EMBRT_C_STRING_ATTRIBUTE("name", "abi_1_0_skeleton"),
    EMBRT_C_STRING_ATTRIBUTE("abi_version", "1.0"),
    EMBRT_C_INT64_ATTRIBUTE("deterministic", 1), EMBRT_C_STRING_ATTRIBUTE("optimizers", "sgd"),
    EMBRT_C_STRING_ATTRIBUTE("combiners", "sum"),
};

static EMBRT_Error* Attributes_1_0(EMBRT_Plugin_Attributes_Args* args) {
  return EMBRT_C_ATTRIBUTES(args, kAttributes_1_0);
}

const EMBRT_Api* EMBRT_GetPluginApi(const EMBRT_HostInfo* host) {
  static EMBRT_Api table;
  skeleton = SkeletonGetPluginApi(host);
  if (skeleton == NULL) return NULL;
  if (table.struct_size == 0) {  /* the first call is single-threaded in every test */
    table = *skeleton;
    table.struct_size = EMBRT_Api_STRUCT_SIZE_1_0;
    table.abi_minor = 0;
    table.Plugin_Attributes = Attributes_1_0;
    table.Engine_Enqueue = Enqueue_1_0;
  }
  return &table;
}
