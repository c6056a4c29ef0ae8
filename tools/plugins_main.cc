// Copyright embrt authors.
//
// `embrt plugins`: the backends on the plugin search path, with their attributes.

#include <cstdio>
#include <string>
#include <vector>

#include "tools/subcommands.h"
#include "tools/training/flag_parser.h"
#include "tools/training/plugin_listing.h"

namespace embrt {
namespace tools {

int PluginsMain(const std::vector<std::string>& args) {
  training::FlagSet flags("embrt plugins",
                          "   (searches $EMBRT_PLUGIN_PATH, beside libembrt, the build tree)");
  absl::Status parsed = flags.Parse(args);
  if (parsed.ok() && !flags.positional().empty()) {
    parsed = absl::InvalidArgumentError("unexpected argument '" + flags.positional()[0] + "'");
  }
  if (!parsed.ok()) {
    std::fprintf(stderr, "embrt plugins: %s\n", std::string(parsed.message()).c_str());
    return 1;
  }
  if (flags.help_requested()) {
    std::fputs(flags.Usage().c_str(), stdout);
    return 0;
  }
  std::fputs(training::FormatPluginListing(training::ListPlugins()).c_str(), stdout);
  return 0;
}

}  // namespace tools
}  // namespace embrt
