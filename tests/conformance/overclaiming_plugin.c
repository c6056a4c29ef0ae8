/* Copyright embrt authors.
 *
 * The skeleton backend claiming exact_math = 1, which it does not implement (no clipping, no
 * weight decay, no accumulation off): the suite's numeric tests fail on it. The test of the
 * known-failures list and the JSON report runs the suite against it (see CMakeLists.txt). */
#define EMBRT_GetPluginApi SkeletonGetPluginApi
#include "skeleton.c"
#undef EMBRT_GetPluginApi

static const EMBRT_NamedValue kOverclaimed[] = {
    EMBRT_C_STRING_ATTRIBUTE("name", "overclaiming_skeleton"),
    EMBRT_C_STRING_ATTRIBUTE("abi_version", "1.1"),
    EMBRT_C_STRING_ATTRIBUTE("optimizers", "sgd"), EMBRT_C_STRING_ATTRIBUTE("combiners", "sum"),
    EMBRT_C_INT64_ATTRIBUTE("exact_math", 1),
};
EMBRT_C_DEFINE_ATTRIBUTES(OverclaimedAttributes, kOverclaimed)

const EMBRT_Api* EMBRT_GetPluginApi(const EMBRT_HostInfo* host) {
  static EMBRT_Api table;
  const EMBRT_Api* skeleton = SkeletonGetPluginApi(host);
  if (skeleton == NULL) return NULL;
  if (table.struct_size == 0) {  /* the first call is single-threaded in every test */
    table = *skeleton;
    table.Plugin_Attributes = OverclaimedAttributes;
  }
  return &table;
}
