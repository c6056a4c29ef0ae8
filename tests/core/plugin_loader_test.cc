// Copyright embrt authors.
//
// Tests of the plugin loader (core/src/plugin_loader.cc) against the small plugins of
// tests/core/test_plugins/: broken ones, and a well-formed one whose Engine_Create fails.

#include "plugin_loader.h"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/status/status.h"
#include "embrt/plugin_api.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace embrt {
namespace internal {
namespace {

using ::testing::AllOf;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::Pair;

std::string Message(const absl::Status& status) { return std::string(status.message()); }

// Sets an environment variable for the scope of one test.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) {
    const char* old = std::getenv(name);
    had_old_ = old != nullptr;
    if (had_old_) old_ = old;
    setenv(name, value.c_str(), 1);
  }
  ~ScopedEnv() {
    if (had_old_) {
      setenv(name_, old_.c_str(), 1);
    } else {
      unsetenv(name_);
    }
  }

 private:
  const char* name_;
  bool had_old_ = false;
  std::string old_;
};

TEST(PluginLoaderTest, LoadsAGoodPluginAndReadsAttributes) {
  absl::StatusOr<LoadedPlugin> plugin = LoadPlugin(EMBRT_TEST_PLUGIN_FAILING);
  ASSERT_TRUE(plugin.ok()) << plugin.status();
  ASSERT_NE(plugin->api, nullptr);
  EXPECT_EQ(plugin->api->abi_major, EMBRT_ABI_MAJOR);
  EXPECT_THAT(plugin->path, HasSubstr("libembrt_backend_test_failing.so"));
  EXPECT_THAT(plugin->attributes, Contains(Pair("name", "failing")));
  EXPECT_THAT(plugin->attributes, Contains(Pair("abi_version", "1.1")));
  EXPECT_THAT(plugin->attributes, Contains(Pair("max_dim", "128")));
  EXPECT_THAT(plugin->attributes, Contains(Pair("deterministic", "1")));
}

TEST(PluginLoaderTest, LoadingTwiceReturnsTheSamePlugin) {
  absl::StatusOr<LoadedPlugin> first = LoadPlugin(EMBRT_TEST_PLUGIN_FAILING);
  ASSERT_TRUE(first.ok()) << first.status();
  // The same file through another spelling of its path.
  absl::StatusOr<LoadedPlugin> second =
      LoadPlugin(std::string(EMBRT_TEST_PLUGIN_DIR) + "/./libembrt_backend_test_failing.so");
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(first->api, second->api);
  EXPECT_EQ(first->path, second->path);
}

TEST(PluginLoaderTest, PluginErrorKeepsCodeAndMessage) {
  absl::StatusOr<LoadedPlugin> plugin = LoadPlugin(EMBRT_TEST_PLUGIN_FAILING);
  ASSERT_TRUE(plugin.ok()) << plugin.status();
  EMBRT_EngineDescription description{};
  description.struct_size = EMBRT_EngineDescription_STRUCT_SIZE;
  description.num_replicas = 1;
  description.num_hosts = 1;
  EMBRT_Engine_Create_Args args{};
  args.struct_size = EMBRT_Engine_Create_Args_STRUCT_SIZE;
  args.description = &description;
  EMBRT_Error* error = plugin->api->Engine_Create(&args);
  ASSERT_NE(error, nullptr);
  EXPECT_EQ(args.engine, nullptr);
  absl::Status status = ConsumeError(plugin->api, error, "backend 'failing': Engine_Create");
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(Message(status),
            "backend 'failing': Engine_Create: device 7 is busy (0 tables asked for)");
}

// Issue 8 (minor): a malformed plugin error is reported as the plugin's fault, never as an
// empty message or a read through NULL.
TEST(PluginLoaderTest, InvalidPluginErrorsBlameThePlugin) {
  absl::StatusOr<LoadedPlugin> plugin = LoadPlugin(EMBRT_TEST_PLUGIN_INVALID_ERRORS);
  ASSERT_TRUE(plugin.ok()) << plugin.status();
  auto create_error = [&](int32_t choice) {
    EMBRT_EngineDescription description{};
    description.struct_size = EMBRT_EngineDescription_STRUCT_SIZE;
    description.num_replicas = choice;
    EMBRT_Engine_Create_Args args{};
    args.struct_size = EMBRT_Engine_Create_Args_STRUCT_SIZE;
    args.description = &description;
    return ConsumeError(plugin->api, plugin->api->Engine_Create(&args),
                        absl::StrCat("plugin '", plugin->path, "': Engine_Create"));
  };
  const std::string prefix = absl::StrCat("plugin '", plugin->path, "': Engine_Create: ");
  absl::Status status = create_error(1);
  EXPECT_EQ(status.code(), absl::StatusCode::kInternal);
  EXPECT_EQ(Message(status),
            prefix + "the plugin returned an invalid error (NULL message of size 17)");
  status = create_error(2);
  EXPECT_EQ(status.code(), absl::StatusCode::kUnknown);
  EXPECT_EQ(Message(status), prefix + "the plugin returned an invalid error (code OK): ok?");
  status = create_error(3);
  EXPECT_EQ(status.code(), absl::StatusCode::kUnknown);
  EXPECT_EQ(Message(status), prefix + "the plugin returned an invalid error (unknown code 99): odd");
  status = create_error(4);
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(Message(status), HasSubstr("invalid error (message of size 1099511627776, more "
                                         "than the 1048576 bytes a plugin message may have)"));
}

TEST(PluginLoaderTest, InvalidAttributesBlameThePlugin) {
  absl::StatusOr<LoadedPlugin> plugin = LoadPlugin(EMBRT_TEST_PLUGIN_INVALID_ATTRIBUTES);
  ASSERT_FALSE(plugin.ok());
  EXPECT_EQ(plugin.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(Message(plugin.status()),
              AllOf(HasSubstr("embrt_test_invalid_attributes"),
                    HasSubstr("attribute 0's name is NULL with size 4")));
}

// A Plugin_Attributes that answers with the one attribute in g_short_attribute.
EMBRT_NamedValue g_short_attribute;
EMBRT_Error* AnswerShortAttribute(EMBRT_Plugin_Attributes_Args* args) {
  args->attributes = &g_short_attribute;
  args->num_attributes = 1;
  return nullptr;
}

TEST(PluginLoaderTest, AttributeWhoseStructSizeEndsInsideAFieldIsRefused) {
  // struct_size 41 covers one byte of string_value_size: read as a whole field it is 300000, over
  // the host's limit; its low byte alone (224) would make the host read 224 bytes of a 5-byte text.
  static const char kName[] = "name";
  static const char kText[] = "short";
  g_short_attribute = EMBRT_NamedValue{};
  g_short_attribute.struct_size = 41;
  g_short_attribute.name = kName;
  g_short_attribute.name_size = 4;
  g_short_attribute.type = EMBRT_VALUE_STRING;
  g_short_attribute.string_value = kText;
  g_short_attribute.string_value_size = 300000;
  EMBRT_Api api{};
  api.struct_size = EMBRT_Api_STRUCT_SIZE;
  api.abi_major = EMBRT_ABI_MAJOR;
  api.Plugin_Attributes = AnswerShortAttribute;
  std::vector<std::pair<std::string, std::string>> attributes = {{"kept", "as it was"}};
  const absl::Status status = ReadAttributes("short.so", &api, &attributes);
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(Message(status), HasSubstr("plugin 'short.so': attribute 0 has struct_size 41, "
                                         "smaller than the 60 bytes of an ABI 1.0"));
  EXPECT_THAT(attributes, ::testing::ElementsAre(Pair("kept", "as it was")));

  g_short_attribute.struct_size = EMBRT_NamedValue_STRUCT_SIZE;
  g_short_attribute.string_value_size = 5;
  ASSERT_TRUE(ReadAttributes("short.so", &api, &attributes).ok());
  EXPECT_THAT(attributes, Contains(Pair("name", "short")));
}

TEST(PluginLoaderTest, ConsumeErrorOfNullIsOk) {
  absl::StatusOr<LoadedPlugin> plugin = LoadPlugin(EMBRT_TEST_PLUGIN_FAILING);
  ASSERT_TRUE(plugin.ok()) << plugin.status();
  EXPECT_TRUE(ConsumeError(plugin->api, nullptr, "anything").ok());
}

TEST(PluginLoaderTest, FindsABackendNameThroughEmbrtPluginPath) {
  ScopedEnv env("EMBRT_PLUGIN_PATH", std::string("/nonexistent/embrt:") + EMBRT_TEST_PLUGIN_DIR);
  absl::StatusOr<LoadedPlugin> plugin = LoadPlugin("test_failing");
  ASSERT_TRUE(plugin.ok()) << plugin.status();
  absl::StatusOr<LoadedPlugin> by_path = LoadPlugin(EMBRT_TEST_PLUGIN_FAILING);
  ASSERT_TRUE(by_path.ok()) << by_path.status();
  EXPECT_EQ(plugin->api, by_path->api);
}

TEST(PluginLoaderTest, SearchPathOrder) {
  ScopedEnv env("EMBRT_PLUGIN_PATH", "/first:/second::/first");
  std::vector<std::string> path = PluginSearchPath();
  ASSERT_GE(path.size(), 4u);
  EXPECT_EQ(path[0], "/first");
  EXPECT_EQ(path[1], "/second");
  // Then the folder of libembrt and its embrt/ subfolder.
  EXPECT_EQ(path[2], EMBRT_CORE_LIBRARY_DIR_FOR_TEST);
  EXPECT_EQ(path[3], std::string(EMBRT_CORE_LIBRARY_DIR_FOR_TEST) + "/embrt");
  EXPECT_EQ(path.back(), EMBRT_BUILD_PLUGIN_DIR_FOR_TEST);
}

TEST(PluginLoaderTest, UnknownNameIsNotFoundAndListsTheSearchPath) {
  ScopedEnv env("EMBRT_PLUGIN_PATH", "/nonexistent/one:/nonexistent/two");
  absl::StatusOr<LoadedPlugin> plugin = LoadPlugin("no_such_backend");
  ASSERT_FALSE(plugin.ok());
  EXPECT_EQ(plugin.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(Message(plugin.status()), HasSubstr("libembrt_backend_no_such_backend.so"));
  EXPECT_THAT(Message(plugin.status()), HasSubstr("/nonexistent/one:/nonexistent/two"));
}

TEST(PluginLoaderTest, NonexistentPathIsNotFound) {
  absl::StatusOr<LoadedPlugin> plugin = LoadPlugin("/nonexistent/libembrt_backend_x.so");
  ASSERT_FALSE(plugin.ok());
  EXPECT_EQ(plugin.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(Message(plugin.status()), HasSubstr("/nonexistent/libembrt_backend_x.so"));
}

TEST(PluginLoaderTest, EmptyNameIsInvalid) {
  EXPECT_EQ(LoadPlugin("").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(PluginLoaderTest, TextFileIsNotASharedObject) {
  const char* tmp = std::getenv("TEST_TMPDIR");
  const std::string path =
      std::string(tmp != nullptr ? tmp : "/tmp") + "/embrt_plugin_loader_test_not_a_plugin.so";
  {
    std::ofstream out(path);
    out << "this is not an ELF file\n";
  }
  absl::StatusOr<LoadedPlugin> plugin = LoadPlugin(path);
  std::remove(path.c_str());
  ASSERT_FALSE(plugin.ok());
  EXPECT_EQ(plugin.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(Message(plugin.status()), HasSubstr(path));
  EXPECT_THAT(Message(plugin.status()), HasSubstr("cannot be loaded"));
  // The dlerror text survives.
  EXPECT_THAT(Message(plugin.status()), HasSubstr("dlerror"));
}

TEST(PluginLoaderTest, MissingEntrySymbol) {
  absl::StatusOr<LoadedPlugin> plugin = LoadPlugin(EMBRT_TEST_PLUGIN_NO_SYMBOL);
  ASSERT_FALSE(plugin.ok());
  EXPECT_EQ(plugin.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(Message(plugin.status()), HasSubstr("libembrt_test_broken_no_symbol.so"));
  EXPECT_THAT(Message(plugin.status()), HasSubstr("does not export EMBRT_GetPluginApi"));
}

TEST(PluginLoaderTest, WrongMajorVersionNamesBothVersions) {
  absl::StatusOr<LoadedPlugin> plugin = LoadPlugin(EMBRT_TEST_PLUGIN_WRONG_MAJOR);
  ASSERT_FALSE(plugin.ok());
  EXPECT_EQ(plugin.status().code(), absl::StatusCode::kFailedPrecondition);
  const std::string message = Message(plugin.status());
  EXPECT_THAT(message, HasSubstr("libembrt_test_broken_wrong_major.so"));
  EXPECT_THAT(message, HasSubstr("ABI version " + std::to_string(EMBRT_ABI_MAJOR + 1) + ".3"));
  EXPECT_THAT(message, HasSubstr("host's ABI version " + std::to_string(EMBRT_ABI_MAJOR) + "." +
                                 std::to_string(EMBRT_ABI_MINOR)));
}

TEST(PluginLoaderTest, NullTable) {
  absl::StatusOr<LoadedPlugin> plugin = LoadPlugin(EMBRT_TEST_PLUGIN_NULL_API);
  ASSERT_FALSE(plugin.ok());
  EXPECT_EQ(plugin.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(Message(plugin.status()), HasSubstr("libembrt_test_broken_null_api.so"));
  EXPECT_THAT(Message(plugin.status()), HasSubstr("returned NULL"));
}

TEST(PluginLoaderTest, TableSmallerThanAbi10) {
  absl::StatusOr<LoadedPlugin> plugin = LoadPlugin(EMBRT_TEST_PLUGIN_SMALL_TABLE);
  ASSERT_FALSE(plugin.ok());
  EXPECT_EQ(plugin.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(Message(plugin.status()), HasSubstr("libembrt_test_broken_small_table.so"));
  EXPECT_THAT(Message(plugin.status()), HasSubstr("smaller than the ABI 1.0 table"));
}

TEST(PluginLoaderTest, FailedLoadsAreNotCached) {
  for (int i = 0; i < 2; ++i) {
    absl::StatusOr<LoadedPlugin> plugin = LoadPlugin(EMBRT_TEST_PLUGIN_NULL_API);
    EXPECT_EQ(plugin.status().code(), absl::StatusCode::kFailedPrecondition);
  }
}

}  // namespace
}  // namespace internal
}  // namespace embrt
