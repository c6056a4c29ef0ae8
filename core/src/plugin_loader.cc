// Copyright embrt authors.
//
// Loading backend plugins with Boost.DLL, checking their ABI version and keeping them loaded.

#include "plugin_loader.h"

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "boost/dll/runtime_symbol_info.hpp"
#include "boost/dll/shared_library.hpp"

#ifndef EMBRT_BUILD_PLUGIN_DIR
#define EMBRT_BUILD_PLUGIN_DIR ""
#endif

namespace embrt {
namespace internal {
namespace {

namespace fs = std::filesystem;

// Every successfully loaded plugin, by canonical path. Never destroyed: a plugin must outlive
// every engine and every error object it made, including those destroyed during exit.
struct Registry {
  std::mutex mutex;
  std::map<std::string, std::pair<boost::dll::shared_library, LoadedPlugin>> plugins;
};

Registry& GetRegistry() {
  static Registry* const registry = new Registry;
  return *registry;
}

// The `size` bytes at `data` as a string, or an error naming `what` when they cannot be read:
// NULL with a non-zero size, or more than kMaxPluginTextBytes.
absl::StatusOr<std::string> PluginText(const char* data, size_t size, absl::string_view what) {
  if (data == nullptr && size != 0) {
    return absl::FailedPreconditionError(absl::StrCat(what, " is NULL with size ", size));
  }
  if (size > kMaxPluginTextBytes) {
    return absl::FailedPreconditionError(absl::StrCat(
        what, " has size ", size, ", more than the ", kMaxPluginTextBytes, " bytes allowed"));
  }
  return data == nullptr ? std::string() : std::string(data, size);
}

absl::StatusOr<std::string> ValueAsText(const EMBRT_NamedValue& value, absl::string_view what) {
  switch (value.type) {
    case EMBRT_VALUE_STRING:
      return PluginText(value.string_value, value.string_value_size, what);
    case EMBRT_VALUE_INT64:
      return absl::StrCat(value.int64_value);
    case EMBRT_VALUE_FLOAT:
      return absl::StrCat(value.float_value);
    default:
      return absl::StrCat("<value of unknown type ", static_cast<int>(value.type), ">");
  }
}

}  // namespace

absl::Status ReadAttributes(const std::string& path, const EMBRT_Api* api,
                            std::vector<std::pair<std::string, std::string>>* attributes) {
  EMBRT_Plugin_Attributes_Args args{};
  args.struct_size = EMBRT_Plugin_Attributes_Args_STRUCT_SIZE;
  EMBRT_Error* error = api->Plugin_Attributes(&args);
  absl::Status status =
      ConsumeError(api, error, absl::StrCat("plugin '", path, "': Plugin_Attributes"));
  if (!status.ok()) return status;
  if (args.num_attributes > 0 && args.attributes == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("plugin '", path, "': Plugin_Attributes returned ", args.num_attributes,
                     " attributes but a NULL array"));
  }
  if (args.num_attributes > kMaxPluginAttributes) {
    return absl::FailedPreconditionError(
        absl::StrCat("plugin '", path, "': Plugin_Attributes returned ", args.num_attributes,
                     " attributes, more than the ", kMaxPluginAttributes, " allowed"));
  }
  std::vector<std::pair<std::string, std::string>> read;
  for (size_t i = 0; i < args.num_attributes; ++i) {
    const std::string where = absl::StrCat("plugin '", path, "': attribute ", i);
    // Every 1.0 field is required: a struct_size that ends inside a field would leave part of a
    // pointer or size from the plugin and the rest zero, a size the plugin never meant.
    const size_t struct_size = args.attributes[i].struct_size;
    if (struct_size < EMBRT_NamedValue_STRUCT_SIZE) {
      return absl::FailedPreconditionError(
          absl::StrCat(where, " has struct_size ", struct_size, ", smaller than the ",
                       EMBRT_NamedValue_STRUCT_SIZE, " bytes of an ABI 1.0 EMBRT_NamedValue"));
    }
    // Fields added after 1.0 (none yet) would keep their zero defaults.
    EMBRT_NamedValue value{};
    std::memcpy(static_cast<void*>(&value), &args.attributes[i],
                struct_size < sizeof(value) ? struct_size : sizeof(value));
    absl::StatusOr<std::string> name =
        PluginText(value.name, value.name_size, absl::StrCat(where, "'s name"));
    if (!name.ok()) return name.status();
    absl::StatusOr<std::string> text =
        ValueAsText(value, absl::StrCat(where, " ('", *name, "')'s value"));
    if (!text.ok()) return text.status();
    read.emplace_back(*std::move(name), *std::move(text));
  }
  attributes->insert(attributes->end(), read.begin(), read.end());
  return absl::OkStatus();
}

namespace {

// Checks the table the plugin returned: present, same major version, every 1.0 function.
absl::Status CheckApi(const std::string& path, const EMBRT_Api* api) {
  const std::string host_version = absl::StrCat(EMBRT_ABI_MAJOR, ".", EMBRT_ABI_MINOR);
  if (api == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat(
        "plugin '", path, "': ", EMBRT_GET_PLUGIN_API_SYMBOL,
        " returned NULL: the plugin cannot serve this host's ABI version ", host_version));
  }
  if (api->struct_size < EMBRT_STRUCT_SIZE(EMBRT_Api, abi_minor)) {
    return absl::FailedPreconditionError(
        absl::StrCat("plugin '", path, "': its EMBRT_Api has struct_size ", api->struct_size,
                     ", too small to hold a version"));
  }
  if (api->abi_major != EMBRT_ABI_MAJOR) {
    return absl::FailedPreconditionError(
        absl::StrCat("plugin '", path, "' has ABI version ", api->abi_major, ".", api->abi_minor,
                     ", incompatible with this host's ABI version ", host_version,
                     " (major versions must match)"));
  }
  if (api->struct_size < EMBRT_Api_STRUCT_SIZE_1_0) {
    return absl::FailedPreconditionError(
        absl::StrCat("plugin '", path, "': its EMBRT_Api has struct_size ", api->struct_size,
                     ", smaller than the ABI 1.0 table (", EMBRT_Api_STRUCT_SIZE_1_0,
                     " bytes)"));
  }
  std::vector<std::string> missing;
  if (api->Error_Destroy == nullptr) missing.push_back("Error_Destroy");
  if (api->Error_Message == nullptr) missing.push_back("Error_Message");
  if (api->Error_GetCode == nullptr) missing.push_back("Error_GetCode");
  if (api->Plugin_Attributes == nullptr) missing.push_back("Plugin_Attributes");
  if (api->Engine_Create == nullptr) missing.push_back("Engine_Create");
  if (api->Engine_Destroy == nullptr) missing.push_back("Engine_Destroy");
  if (api->Engine_Enqueue == nullptr) missing.push_back("Engine_Enqueue");
  if (api->Engine_RecvActivations == nullptr) missing.push_back("Engine_RecvActivations");
  if (api->Engine_SendGradients == nullptr) missing.push_back("Engine_SendGradients");
  if (api->Engine_LoadTableShard == nullptr) missing.push_back("Engine_LoadTableShard");
  if (api->Engine_RetrieveTableShard == nullptr) missing.push_back("Engine_RetrieveTableShard");
  if (api->Engine_Synchronize == nullptr) missing.push_back("Engine_Synchronize");
  if (!missing.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "plugin '", path, "': these ABI 1.0 functions are NULL: ", absl::StrJoin(missing, ", ")));
  }
  return absl::OkStatus();
}

// Finds libembrt_backend_<name>.so in the search path.
absl::StatusOr<std::string> FindBackend(absl::string_view name) {
  const std::string file = absl::StrCat("libembrt_backend_", name, ".so");
  const std::vector<std::string> directories = PluginSearchPath();
  for (const std::string& directory : directories) {
    std::error_code ec;
    const fs::path candidate = fs::path(directory) / file;
    if (fs::is_regular_file(candidate, ec)) return candidate.string();
  }
  return absl::NotFoundError(absl::StrCat(
      "backend '", name, "' not found: no ", file, " in ",
      directories.empty() ? std::string("(empty search path)") : absl::StrJoin(directories, ":"),
      " (set EMBRT_PLUGIN_PATH or give a path containing '/')"));
}

}  // namespace

std::vector<std::string> PluginSearchPath() {
  std::vector<std::string> directories;
  auto add = [&directories](const std::string& directory) {
    if (directory.empty()) return;
    for (const std::string& known : directories) {
      if (known == directory) return;
    }
    directories.push_back(directory);
  };
  if (const char* env = std::getenv("EMBRT_PLUGIN_PATH"); env != nullptr) {
    for (absl::string_view part : absl::StrSplit(env, ':', absl::SkipEmpty())) {
      add(std::string(part));
    }
  }
  // Next to libembrt itself (an installed lib/ holds lib/embrt/ for the backends).
  boost::dll::fs::error_code ec;
  const fs::path self = boost::dll::this_line_location(ec);
  if (!ec && self.has_parent_path()) {
    add(self.parent_path().string());
    add((self.parent_path() / "embrt").string());
  }
  add(EMBRT_BUILD_PLUGIN_DIR);
  return directories;
}

absl::Status ConsumeError(const EMBRT_Api* api, EMBRT_Error* error, absl::string_view context) {
  if (error == nullptr) return absl::OkStatus();
  const std::string prefix = context.empty() ? std::string() : absl::StrCat(context, ": ");
  if (api == nullptr || api->Error_Message == nullptr || api->Error_GetCode == nullptr) {
    // Without the functions the error can only leak; this never happens for a checked table.
    return absl::InternalError(
        absl::StrCat(prefix, "plugin returned an error but has no Error_* functions"));
  }
  EMBRT_Error_Message_Args message{};
  message.struct_size = EMBRT_Error_Message_Args_STRUCT_SIZE;
  message.error = error;
  api->Error_Message(&message);
  // A malformed error is the plugin's fault, and the message says so rather than showing an
  // empty or truncated text; its size is never trusted to read from a NULL pointer or to
  // allocate without bound.
  std::string invalid;
  std::string text;
  if (message.message == nullptr && message.message_size != 0) {
    invalid = absl::StrCat("NULL message of size ", message.message_size);
  } else if (message.message_size > kMaxPluginTextBytes) {
    invalid = absl::StrCat("message of size ", message.message_size, ", more than the ",
                           kMaxPluginTextBytes, " bytes a plugin message may have");
  } else if (message.message != nullptr) {
    text.assign(message.message, message.message_size);
  }

  EMBRT_Error_GetCode_Args code{};
  code.struct_size = EMBRT_Error_GetCode_Args_STRUCT_SIZE;
  code.error = error;
  code.code = EMBRT_CODE_UNKNOWN;
  api->Error_GetCode(&code);

  if (api->Error_Destroy != nullptr) {
    EMBRT_Error_Destroy_Args destroy{};
    destroy.struct_size = EMBRT_Error_Destroy_Args_STRUCT_SIZE;
    destroy.error = error;
    api->Error_Destroy(&destroy);
  }

  absl::StatusCode status_code = static_cast<absl::StatusCode>(code.code);
  if (code.code == EMBRT_CODE_OK) {
    // An error object must never say OK; keep it an error.
    status_code = absl::StatusCode::kUnknown;
    invalid = absl::StrCat(invalid.empty() ? "" : absl::StrCat(invalid, ", "), "code OK");
  } else if (code.code < EMBRT_CODE_OK || code.code > EMBRT_CODE_UNAUTHENTICATED) {
    status_code = absl::StatusCode::kUnknown;
    invalid = absl::StrCat(invalid.empty() ? "" : absl::StrCat(invalid, ", "), "unknown code ",
                           static_cast<int>(code.code));
  }
  if (!invalid.empty()) {
    return absl::Status(status_code,
                        absl::StrCat(prefix, "the plugin returned an invalid error (", invalid,
                                     ")", text.empty() ? "" : ": ", text));
  }
  return absl::Status(status_code, absl::StrCat(prefix, text));
}

absl::StatusOr<LoadedPlugin> LoadPlugin(absl::string_view name_or_path) {
  if (name_or_path.empty()) {
    return absl::InvalidArgumentError("backend name is empty");
  }
  std::string path;
  if (name_or_path.find('/') != absl::string_view::npos) {
    path = std::string(name_or_path);
  } else {
    absl::StatusOr<std::string> found = FindBackend(name_or_path);
    if (!found.ok()) return found.status();
    path = *std::move(found);
  }

  std::error_code ec;
  if (!fs::exists(path, ec)) {
    return absl::NotFoundError(absl::StrCat("plugin '", path, "' does not exist"));
  }
  const fs::path canonical = fs::canonical(path, ec);
  if (ec) {
    return absl::NotFoundError(
        absl::StrCat("plugin '", path, "': cannot resolve the path: ", ec.message()));
  }
  const std::string key = canonical.string();

  Registry& registry = GetRegistry();
  std::lock_guard<std::mutex> lock(registry.mutex);
  if (auto it = registry.plugins.find(key); it != registry.plugins.end()) {
    return it->second.second;
  }

  boost::dll::shared_library library;
  try {
    library.load(canonical, boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local);
  } catch (const std::exception& e) {
    return absl::FailedPreconditionError(
        absl::StrCat("plugin '", key, "' cannot be loaded: ", e.what()));
  }
  if (!library.has(EMBRT_GET_PLUGIN_API_SYMBOL)) {
    return absl::FailedPreconditionError(absl::StrCat("plugin '", key, "' does not export ",
                                                      EMBRT_GET_PLUGIN_API_SYMBOL,
                                                      " (is it an embrt backend?)"));
  }
  EMBRT_GetPluginApi_Fn& get_api = library.get<EMBRT_GetPluginApi_Fn>(EMBRT_GET_PLUGIN_API_SYMBOL);
  const EMBRT_HostInfo host{EMBRT_HostInfo_STRUCT_SIZE, EMBRT_ABI_MAJOR, EMBRT_ABI_MINOR};
  const EMBRT_Api* api = get_api(&host);
  if (absl::Status status = CheckApi(key, api); !status.ok()) return status;

  LoadedPlugin plugin;
  plugin.path = key;
  plugin.api = api;
  if (absl::Status status = ReadAttributes(key, api, &plugin.attributes); !status.ok()) {
    return status;
  }
  registry.plugins.emplace(key, std::make_pair(std::move(library), plugin));
  return plugin;
}

}  // namespace internal
}  // namespace embrt
