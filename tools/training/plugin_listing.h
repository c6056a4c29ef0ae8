// Copyright embrt authors.
//
// File: tools/training/plugin_listing.h
// -------------------------------------
// What `embrt plugins` prints: the plugin search path (embrt's loader order) and every
// backend found on it (libembrt_backend_<name>.so), loaded and asked for its attributes. A
// library that fails to load is listed with the reason instead. Each library is loaded in a
// forked child process (with a timeout), so that one that exits, aborts or hangs in its
// constructors is listed as broken rather than ending or blocking the listing.

#ifndef EMBRT_TOOLS_TRAINING_PLUGIN_LISTING_H_
#define EMBRT_TOOLS_TRAINING_PLUGIN_LISTING_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace embrt {
namespace training {

struct FoundPlugin {
  std::string name;  // the backend name ("cpu")
  std::string path;
  std::string error;  // empty when it loaded
  std::vector<std::pair<std::string, std::string>> attributes;
};

struct PluginListing {
  std::vector<std::string> search_path;
  std::vector<FoundPlugin> plugins;  // in search order; a name shadowed by an earlier one too
};

// How long one library may take to load before it is listed as hanging.
inline constexpr int kProbeTimeoutMs = 10000;

PluginListing ListPlugins();

// Loads `plugin.path` in a child process and fills plugin.attributes, or plugin.error with
// the loader's reason or how the child ended (exit status, signal, timeout).
void ProbePlugin(FoundPlugin& plugin, int timeout_ms);

// The shared object a backend name ("cpu") resolves to on the search path, by loading it as
// embrt would; a name containing '/' is returned as given.
absl::StatusOr<std::string> ResolvePluginPath(const std::string& name_or_path);
std::string FormatPluginListing(const PluginListing& listing);

}  // namespace training
}  // namespace embrt

#endif  // EMBRT_TOOLS_TRAINING_PLUGIN_LISTING_H_
