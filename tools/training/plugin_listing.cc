// Copyright embrt authors.

#include "tools/training/plugin_listing.h"

#include <algorithm>
#include <filesystem>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "plugin_loader.h"  // core/src: the loader's search path and LoadPlugin

namespace embrt {
namespace training {

PluginListing ListPlugins() {
  PluginListing listing;
  listing.search_path = internal::PluginSearchPath();
  std::set<std::string> seen_paths;
  constexpr char kPrefix[] = "libembrt_backend_";
  for (const std::string& directory : listing.search_path) {
    std::error_code error;
    std::vector<std::filesystem::path> files;
    for (const auto& entry : std::filesystem::directory_iterator(directory, error)) {
      files.push_back(entry.path());
    }
    std::sort(files.begin(), files.end());
    for (const std::filesystem::path& file : files) {
      const std::string name = file.filename().string();
      if (name.rfind(kPrefix, 0) != 0 || file.extension() != ".so") continue;
      const std::string canonical = std::filesystem::weakly_canonical(file, error).string();
      if (!seen_paths.insert(canonical).second) continue;
      FoundPlugin plugin;
      plugin.name = name.substr(sizeof(kPrefix) - 1, name.size() - (sizeof(kPrefix) - 1) - 3);
      plugin.path = file.string();
      absl::StatusOr<internal::LoadedPlugin> loaded = internal::LoadPlugin(plugin.path);
      if (loaded.ok()) {
        plugin.attributes = loaded->attributes;
      } else {
        plugin.error = std::string(loaded.status().message());
      }
      listing.plugins.push_back(std::move(plugin));
    }
  }
  return listing;
}

absl::StatusOr<std::string> ResolvePluginPath(const std::string& name_or_path) {
  if (name_or_path.find('/') != std::string::npos) return name_or_path;
  absl::StatusOr<internal::LoadedPlugin> loaded = internal::LoadPlugin(name_or_path);
  if (!loaded.ok()) return loaded.status();
  return loaded->path;
}

std::string FormatPluginListing(const PluginListing& listing) {
  std::string out = "search path (in order):\n";
  for (const std::string& directory : listing.search_path) {
    absl::StrAppend(&out, "  ", directory, "\n");
  }
  if (listing.plugins.empty()) absl::StrAppend(&out, "no backend found\n");
  std::set<std::string> names;
  for (const FoundPlugin& plugin : listing.plugins) {
    const bool shadowed = !names.insert(plugin.name).second;
    absl::StrAppendFormat(&out, "\n%s%s\n  path: %s\n", plugin.name,
                          shadowed ? " (shadowed by an earlier one of the same name)" : "",
                          plugin.path);
    if (!plugin.error.empty()) {
      absl::StrAppendFormat(&out, "  cannot load: %s\n", plugin.error);
      continue;
    }
    for (const auto& [key, value] : plugin.attributes) {
      absl::StrAppendFormat(&out, "  %-22s %s\n", key, value);
    }
  }
  return out;
}

}  // namespace training
}  // namespace embrt
