// Copyright embrt authors.
//
// embrt_conformance: runs the plugin conformance suite against the plugins named by --plugin.
// Built twice: as the installed program (no default plugin) and, for ctest, once per plugin of
// this build with EMBRT_CONFORMANCE_DEFAULT_PLUGIN set to that plugin's path.

#include "conformance_suite.h"

int main(int argc, char** argv) {
#ifdef EMBRT_CONFORMANCE_DEFAULT_PLUGIN
  const char* default_plugin = EMBRT_CONFORMANCE_DEFAULT_PLUGIN;
#else
  const char* default_plugin = nullptr;
#endif
  return embrt::conformance::RunConformanceMain(argc, argv, default_plugin);
}
