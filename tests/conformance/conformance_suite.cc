// Copyright embrt authors.
//
// The conformance suite's plumbing: plugin registry, the unsupported-test table, the fixtures'
// SetUp and the program's main.

#include "conformance_suite.h"

#include <cctype>
#include <cstring>
#include <iostream>
#include <map>
#include <memory>

#include "random_model.h"

namespace embrt {
namespace conformance {
namespace {

std::vector<std::string>& MutablePlugins() {
  static auto* plugins = new std::vector<std::string>;
  return *plugins;
}

// Plugins stay loaded for the whole process; a failed load is remembered with its message.
struct LoadedEntry {
  std::unique_ptr<Plugin> plugin;
  std::string error;
};

const LoadedEntry& LoadOnce(const std::string& path) {
  static auto* loaded = new std::map<std::string, LoadedEntry>;
  auto it = loaded->find(path);
  if (it == loaded->end()) {
    LoadedEntry entry;
    entry.plugin = Plugin::Open(path, &entry.error);
    it = loaded->emplace(path, std::move(entry)).first;
  }
  return it->second;
}

// "Fixture.Test" of the running test, without the instantiation prefix and parameter suffix.
std::string CurrentTestName() {
  const ::testing::TestInfo* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string suite = info->test_suite_name();
  std::string name = info->name();
  if (auto slash = suite.find('/'); slash != std::string::npos) suite = suite.substr(slash + 1);
  if (auto slash = name.find('/'); slash != std::string::npos) name = name.substr(0, slash);
  return suite + "." + name;
}

bool Matches(const std::string& pattern, const std::string& name) {
  if (!pattern.empty() && pattern.back() == '*') {
    return name.compare(0, pattern.size() - 1, pattern, 0, pattern.size() - 1) == 0;
  }
  return pattern == name;
}

// "libembrt_backend_cpu.so" -> "cpu"; anything else -> its file stem, made identifier-safe.
std::string ParamName(const ::testing::TestParamInfo<std::string>& info) {
  std::string name = info.param;
  if (auto slash = name.rfind('/'); slash != std::string::npos) name = name.substr(slash + 1);
  if (auto dot = name.find('.'); dot != std::string::npos) name = name.substr(0, dot);
  const std::string prefix = "libembrt_backend_";
  if (name.compare(0, prefix.size(), prefix) == 0) name = name.substr(prefix.size());
  for (char& c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  if (name.empty()) name = "plugin";
  // Names must be unique: number them when several plugins are tested at once.
  if (ConformancePlugins().size() > 1) name += "_" + std::to_string(info.index);
  return name;
}

}  // namespace

void SetConformancePlugins(std::vector<std::string> paths) { MutablePlugins() = std::move(paths); }

const std::vector<std::string>& ConformancePlugins() { return MutablePlugins(); }

const std::vector<UnsupportedTest>& UnsupportedTests() {
  static const auto* tests = new std::vector<UnsupportedTest>{
      {"mock", "NumericConformanceTest.*",
       "numeric tests skipped because exact_math=0: the mock backend applies plain SGD "
       "whatever the optimizer and is meant for plumbing, not numbers"},
      {"mock", "AbiConformanceTest.NewEngineTablesAreZero",
       "by design (DESIGN.md section 5) a mock row is a fixed function of (table, row, column) "
       "until something is loaded over it"},
  };
  return *tests;
}

void PluginTest::SetUp() {
  const LoadedEntry& entry = LoadOnce(GetParam());
  ASSERT_NE(entry.plugin, nullptr) << entry.error;
  plugin_ = entry.plugin.get();
  const std::string test = CurrentTestName();
  for (const UnsupportedTest& unsupported : UnsupportedTests()) {
    if (plugin_->name() == unsupported.plugin_name && Matches(unsupported.test, test)) {
      GTEST_SKIP() << "plugin '" << plugin_->name() << "' does not support " << test << ": "
                   << unsupported.reason;
    }
  }
}

void NumericConformanceTest::SetUp() {
  PluginTest::SetUp();
  if (IsSkipped() || HasFatalFailure()) return;
  if (!plugin().exact_math()) {
    GTEST_SKIP() << "plugin '" << plugin().name()
                 << "' does not claim exact_math=1; numeric tests are for exact plugins";
  }
}

std::unique_ptr<Engine> PluginTest::MakeEngine(const reference::ModelSpec& model,
                                               std::map<std::string, std::string> options) {
  CallResult result;
  std::unique_ptr<Engine> engine = Engine::Create(*plugin_, model, &result, std::move(options));
  EXPECT_NE(engine, nullptr) << "Engine_Create: " << ToString(result) << "\nmodel:\n"
                             << reference::Describe(model);
  return engine;
}

INSTANTIATE_TEST_SUITE_P(Plugin, AbiConformanceTest, ::testing::ValuesIn(ConformancePlugins()),
                         ParamName);
INSTANTIATE_TEST_SUITE_P(Plugin, NumericConformanceTest,
                         ::testing::ValuesIn(ConformancePlugins()), ParamName);

int RunConformanceMain(int argc, char** argv, const char* default_plugin) {
  std::vector<std::string> plugins;
  std::vector<char*> rest;
  bool listing = false;
  for (int i = 0; i < argc; ++i) {
    const char* arg = argv[i];
    if (i > 0 && std::strncmp(arg, "--plugin=", 9) == 0) {
      plugins.emplace_back(arg + 9);
    } else if (i > 0 && std::strcmp(arg, "--plugin") == 0 && i + 1 < argc) {
      plugins.emplace_back(argv[++i]);
    } else {
      if (std::strncmp(arg, "--gtest_list_tests", 18) == 0 || std::strcmp(arg, "--help") == 0) {
        listing = true;
      }
      rest.push_back(argv[i]);
    }
  }
  if (plugins.empty() && default_plugin != nullptr) plugins.emplace_back(default_plugin);
  if (plugins.empty() && !listing) {
    std::cerr << "usage: " << argv[0] << " --plugin=PATH [--plugin=PATH...] [gtest flags]\n"
              << "Runs the embrt plugin conformance suite against each plugin shared object.\n";
    return 2;
  }
  SetConformancePlugins(plugins);
  int rest_argc = static_cast<int>(rest.size());
  rest.push_back(nullptr);
  ::testing::InitGoogleTest(&rest_argc, rest.data());
  return RUN_ALL_TESTS();
}

}  // namespace conformance
}  // namespace embrt
