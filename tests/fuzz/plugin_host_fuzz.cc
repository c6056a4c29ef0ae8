// Copyright embrt authors.
//
// Fuzz target: the host's handling of what a plugin returns through the C ABI: attributes
// (Plugin_Attributes, read by plugin_loader's ReadAttributes) and errors (ConsumeError). A fake
// EMBRT_Api answers from the fuzz input: NULL or real texts with any sizes, any value types and
// struct sizes, error codes inside and outside the canonical range. Only lies the host cannot
// detect are left out (a non-NULL text shorter than its size, an array shorter than its count,
// unless the size is over the host's limits, when the host must not read it at all).

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "embrt/plugin_api.h"
#include "fuzz_input.h"
#include "plugin_loader.h"

struct EMBRT_Error {
  int unused;
};

namespace {

using embrt::internal::kMaxPluginAttributes;
using embrt::internal::kMaxPluginTextBytes;

// What the fake plugin answers for the current input.
struct FakePlugin {
  std::vector<std::string> texts;  // storage for names, values, messages
  std::vector<EMBRT_NamedValue> attributes;
  const EMBRT_NamedValue* attribute_array = nullptr;
  size_t num_attributes = 0;
  bool attributes_fail = false;
  const char* message = nullptr;
  size_t message_size = 0;
  int32_t code = 0;
  EMBRT_Error error{};
  int destroyed = 0;
};
FakePlugin* g_plugin = nullptr;

// A text pointer and size: NULL with any size, a real text, or a real pointer with a size over
// the host's limit.
std::pair<const char*, size_t> TakeText(embrt::fuzz::FuzzInput& in, FakePlugin& plugin) {
  switch (in.TakeInRange(0, 3)) {
    case 0:
      return {nullptr, in.TakeBool() ? 0 : static_cast<size_t>(in.Take<uint64_t>())};
    case 1: {
      plugin.texts.push_back(in.TakeString(16));
      return {plugin.texts.back().data(),
              kMaxPluginTextBytes + 1 + static_cast<size_t>(in.TakeInRange(0, 1 << 20))};
    }
    default:
      plugin.texts.push_back(in.TakeString(64));
      return {plugin.texts.back().data(), plugin.texts.back().size()};
  }
}

void ErrorDestroy(EMBRT_Error_Destroy_Args* args) { ++g_plugin->destroyed; }
void ErrorMessage(EMBRT_Error_Message_Args* args) {
  args->message = g_plugin->message;
  args->message_size = g_plugin->message_size;
}
void ErrorGetCode(EMBRT_Error_GetCode_Args* args) {
  args->code = static_cast<EMBRT_ErrorCode>(g_plugin->code);
}
EMBRT_Error* Attributes(EMBRT_Plugin_Attributes_Args* args) {
  if (g_plugin->attributes_fail) return &g_plugin->error;
  args->attributes = g_plugin->attribute_array;
  args->num_attributes = g_plugin->num_attributes;
  return nullptr;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  embrt::fuzz::FuzzInput in(data, size);
  FakePlugin plugin;
  plugin.texts.reserve(64);  // pointers into texts stay valid
  g_plugin = &plugin;

  const size_t count = static_cast<size_t>(in.TakeInRange(0, 8));
  for (size_t i = 0; i < count; ++i) {
    EMBRT_NamedValue value{};
    value.struct_size = static_cast<size_t>(in.TakeInRange(0, sizeof(EMBRT_NamedValue) + 8));
    auto [name, name_size] = TakeText(in, plugin);
    value.name = name;
    value.name_size = name_size;
    value.type = static_cast<EMBRT_ValueType>(in.TakeInRange(-1, 4));
    auto [text, text_size] = TakeText(in, plugin);
    value.string_value = text;
    value.string_value_size = text_size;
    value.int64_value = in.Take<int64_t>();
    value.float_value = in.Take<float>();
    plugin.attributes.push_back(value);
  }
  plugin.attribute_array = plugin.attributes.data();
  plugin.num_attributes = plugin.attributes.size();
  switch (in.TakeInRange(0, 3)) {
    case 0:  // a NULL array with any count
      plugin.attribute_array = nullptr;
      plugin.num_attributes = static_cast<size_t>(in.Take<uint64_t>());
      break;
    case 1:  // a count over the host's limit
      plugin.num_attributes = kMaxPluginAttributes + 1 + in.Take<uint32_t>();
      break;
    default:
      break;
  }
  plugin.attributes_fail = in.TakeBool();
  auto [message, message_size] = TakeText(in, plugin);
  plugin.message = message;
  plugin.message_size = message_size;
  plugin.code = static_cast<int32_t>(in.TakeInRange(-3, 20));

  EMBRT_Api api{};
  api.struct_size = EMBRT_Api_STRUCT_SIZE;
  api.abi_major = EMBRT_ABI_MAJOR;
  api.Error_Destroy = ErrorDestroy;
  api.Error_Message = ErrorMessage;
  api.Error_GetCode = ErrorGetCode;
  api.Plugin_Attributes = Attributes;

  std::vector<std::pair<std::string, std::string>> attributes;
  const absl::Status read = embrt::internal::ReadAttributes("fake.so", &api, &attributes);
  if (read.ok()) {
    FUZZ_CHECK(attributes.size() <= plugin.attributes.size());
    for (const auto& [name, value] : attributes) {
      FUZZ_CHECK(name.size() <= kMaxPluginTextBytes && value.size() <= kMaxPluginTextBytes);
    }
  } else {
    FUZZ_CHECK(attributes.empty());  // a failed read changes nothing
  }
  FUZZ_CHECK(plugin.destroyed == (plugin.attributes_fail ? 1 : 0));

  // An error is never OK, whatever the plugin says, and is destroyed exactly once.
  const int destroyed = plugin.destroyed;
  const absl::Status error = embrt::internal::ConsumeError(&api, &plugin.error, "fake");
  FUZZ_CHECK(!error.ok());
  FUZZ_CHECK(plugin.destroyed == destroyed + 1);
  FUZZ_CHECK(error.message().size() <= kMaxPluginTextBytes + 256);
  g_plugin = nullptr;
  return 0;
}
