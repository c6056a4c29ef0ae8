/* Copyright embrt authors.
 *
 * Deliberately broken plugins for plugin_loader_test, one shared object per behaviour, chosen
 * by EMBRT_TEST_BROKEN_KIND at compile time. Written in C to keep the ABI header honest.
 *   1  exports no EMBRT_GetPluginApi (only an unrelated symbol)
 *   2  returns a table with ABI major EMBRT_ABI_MAJOR + 1
 *   3  returns NULL
 *   4  returns a table whose struct_size is smaller than the ABI 1.0 table */
#include <stddef.h>

#include "embrt/plugin_api.h"

#if EMBRT_TEST_BROKEN_KIND == 1

__attribute__((visibility("default"))) int embrt_test_not_a_plugin(void) { return 42; }

#else

#if EMBRT_TEST_BROKEN_KIND == 2
static const EMBRT_Api kApi = {
    .struct_size = EMBRT_Api_STRUCT_SIZE, .abi_major = EMBRT_ABI_MAJOR + 1, .abi_minor = 3};
#elif EMBRT_TEST_BROKEN_KIND == 4
static const EMBRT_Api kApi = {.struct_size = EMBRT_STRUCT_SIZE(EMBRT_Api, Plugin_Attributes),
                               .abi_major = EMBRT_ABI_MAJOR,
                               .abi_minor = 0};
#endif

__attribute__((visibility("default"))) const EMBRT_Api* EMBRT_GetPluginApi(
    const EMBRT_HostInfo* host) {
  (void)host;
#if EMBRT_TEST_BROKEN_KIND == 3
  return NULL;
#else
  return &kApi;
#endif
}

#endif
