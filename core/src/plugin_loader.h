// Copyright embrt authors.
//
// Loading backend plugins with Boost.DLL (internal to the core).

#ifndef EMBRT_CORE_SRC_PLUGIN_LOADER_H_
#define EMBRT_CORE_SRC_PLUGIN_LOADER_H_

#include <cstddef>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "embrt/plugin_api.h"

namespace embrt {
namespace internal {

// A loaded plugin. The shared object stays loaded for the life of the process (a call into an
// unloaded plugin would crash), so a LoadedPlugin is cheap to copy and never dangles.
struct LoadedPlugin {
  std::string path;
  const EMBRT_Api* api = nullptr;
  // Plugin_Attributes, values printed as text.
  std::vector<std::pair<std::string, std::string>> attributes;
};

// Resolves `name_or_path` and loads it:
//   * anything containing '/' is a path, used as given;
//   * a name N resolves to libembrt_backend_N.so, searched in each directory of
//     $EMBRT_PLUGIN_PATH (':'-separated), then next to the core library (and in its
//     embrt/ subdirectory), then the build tree's plugin directory.
// Every failure is a Status naming the path(s) and the reason: NOT_FOUND (no such file),
// FAILED_PRECONDITION (not a shared object / dlopen error, no EMBRT_GetPluginApi symbol,
// NULL table, incompatible ABI major version: both versions named), or the plugin's own error.
// Loading the same path twice returns the same plugin.
absl::StatusOr<LoadedPlugin> LoadPlugin(absl::string_view name_or_path);

// The directories searched for a backend name, in order.
std::vector<std::string> PluginSearchPath();

// The longest message or attribute text the host reads from a plugin, and the most attributes.
inline constexpr size_t kMaxPluginTextBytes = size_t{1} << 20;
inline constexpr size_t kMaxPluginAttributes = 4096;

// Converts a plugin error into a Status (with the plugin's code and message, prefixed by
// `context`) and destroys it. NULL is OK. A malformed error (a NULL message with a non-zero
// size, a message over kMaxPluginTextBytes, code OK or a code outside the canonical range) is
// UNKNOWN (or its own valid code) with "the plugin returned an invalid error (...)": the
// plugin's fault, said so.
absl::Status ConsumeError(const EMBRT_Api* api, EMBRT_Error* error, absl::string_view context);

// Calls `api`'s Plugin_Attributes and appends each attribute as (name, value printed as text)
// to `attributes`. FAILED_PRECONDITION naming `path` when the answer is malformed (a NULL array
// or NULL text with a non-zero size, too many attributes, a text over kMaxPluginTextBytes, an
// entry whose struct_size is smaller than ABI 1.0's EMBRT_NamedValue);
// then `attributes` is unchanged.
absl::Status ReadAttributes(const std::string& path, const EMBRT_Api* api,
                            std::vector<std::pair<std::string, std::string>>* attributes);

}  // namespace internal
}  // namespace embrt

#endif  // EMBRT_CORE_SRC_PLUGIN_LOADER_H_
