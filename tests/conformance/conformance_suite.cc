// Copyright embrt authors.
//
// The conformance suite's plumbing: plugin registry, capabilities from the attributes, the
// fixtures' SetUp, known failures, the JSON report and the program's main.

#include "conformance_suite.h"

#include <cctype>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>

#include "conformance_report.h"
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

const char* OptimizerName(reference::Optimizer kind) {
  switch (kind) {
    case reference::Optimizer::kSgd:
      return "sgd";
    case reference::Optimizer::kAdagrad:
      return "adagrad";
    case reference::Optimizer::kAdagradMomentum:
      return "adagrad_momentum";
    case reference::Optimizer::kAdam:
      return "adam";
    case reference::Optimizer::kFtrl:
      return "ftrl";
  }
  return "?";
}

const char* CombinerName(reference::Combiner combiner) {
  switch (combiner) {
    case reference::Combiner::kSum:
      return "sum";
    case reference::Combiner::kMean:
      return "mean";
    case reference::Combiner::kSqrtn:
      return "sqrtn";
  }
  return "?";
}

namespace {

const EMBRT_NamedValue* FindAttribute(const Plugin& plugin, const std::string& key) {
  auto it = plugin.attributes().find(key);
  return it == plugin.attributes().end() ? nullptr : it->second;
}

std::string StringAttribute(const Plugin& plugin, const std::string& key,
                            const std::string& fallback) {
  const EMBRT_NamedValue* v = FindAttribute(plugin, key);
  if (v == nullptr || v->type != EMBRT_VALUE_STRING || v->string_value == nullptr) {
    return fallback;
  }
  return std::string(v->string_value, v->string_value_size);
}

int64_t IntAttribute(const Plugin& plugin, const std::string& key, int64_t fallback) {
  const EMBRT_NamedValue* v = FindAttribute(plugin, key);
  return v == nullptr || v->type != EMBRT_VALUE_INT64 ? fallback : v->int64_value;
}

std::vector<std::string> SplitCommas(const std::string& text) {
  std::vector<std::string> parts;
  std::stringstream in(text);
  std::string part;
  while (std::getline(in, part, ',')) {
    while (!part.empty() && std::isspace(static_cast<unsigned char>(part.front()))) {
      part.erase(part.begin());
    }
    while (!part.empty() && std::isspace(static_cast<unsigned char>(part.back()))) part.pop_back();
    if (!part.empty()) parts.push_back(part);
  }
  return parts;
}

}  // namespace

reference::Optimizer Capabilities::AnyOptimizer() const {
  if (optimizers.empty() || Has(reference::Optimizer::kSgd)) return reference::Optimizer::kSgd;
  return *optimizers.begin();
}

reference::Combiner Capabilities::AnyCombiner() const {
  if (combiners.empty() || Has(reference::Combiner::kSum)) return reference::Combiner::kSum;
  return *combiners.begin();
}

Capabilities ReadCapabilities(const Plugin& plugin) {
  Capabilities caps;
  caps.name = plugin.name();
  caps.abi_minor = plugin.api()->abi_minor;
  caps.exact_math = IntAttribute(plugin, "exact_math", 0) == 1;
  caps.quantization = IntAttribute(plugin, "quantization", 0) == 1;
  caps.pipelining = IntAttribute(plugin, "pipelining", 0) == 1;
  caps.multi_host = IntAttribute(plugin, "multi_host", 0) == 1;
  caps.max_dim = IntAttribute(plugin, "max_dim", 0);
  caps.optimizers_text =
      StringAttribute(plugin, "optimizers", "sgd,adagrad,adagrad_momentum,adam,ftrl");
  caps.combiners_text = StringAttribute(plugin, "combiners", "sum,mean,sqrtn");
  for (const std::string& name : SplitCommas(caps.optimizers_text)) {
    for (auto kind : {reference::Optimizer::kSgd, reference::Optimizer::kAdagrad,
                      reference::Optimizer::kAdagradMomentum, reference::Optimizer::kAdam,
                      reference::Optimizer::kFtrl}) {
      if (name == OptimizerName(kind)) caps.optimizers.insert(kind);
    }
  }
  for (const std::string& name : SplitCommas(caps.combiners_text)) {
    for (auto combiner :
         {reference::Combiner::kSum, reference::Combiner::kMean, reference::Combiner::kSqrtn}) {
      if (name == CombinerName(combiner)) caps.combiners.insert(combiner);
    }
  }
  return caps;
}

void Rules(const char* rules) {
  ::testing::Test::RecordProperty("rules", rules);
}

void PluginTest::SetUp() {
  const LoadedEntry& entry = LoadOnce(GetParam());
  ASSERT_NE(entry.plugin, nullptr) << entry.error;
  plugin_ = entry.plugin.get();
  caps_ = ReadCapabilities(*plugin_);
}

reference::ModelSpec PluginTest::Supported(reference::ModelSpec model) const {
  for (reference::TableSpec& table : model.tables) {
    if (!caps_.Has(table.combiner)) table.combiner = caps_.AnyCombiner();
    if (!caps_.Has(table.optimizer.kind)) {
      const float learning_rate = table.optimizer.learning_rate;
      const int tag = table.optimizer.learning_rate_tag;
      table.optimizer = reference::OptimizerSpec{};
      table.optimizer.kind = caps_.AnyOptimizer();
      table.optimizer.learning_rate = learning_rate;
      table.optimizer.learning_rate_tag = tag;
    }
  }
  return model;
}

std::unique_ptr<Engine> PluginTest::MakeEngine(const reference::ModelSpec& model,
                                               std::map<std::string, std::string> options,
                                               const EngineSettings& settings) {
  CallResult result;
  std::unique_ptr<Engine> engine =
      Engine::Create(*plugin_, model, &result, std::move(options), settings);
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
  std::string known_failures_path;
  std::string report_path;
  std::vector<char*> rest;
  bool listing = false;
  auto value_of = [&](int* i, const char* flag, std::string* value) {
    const size_t length = std::strlen(flag);
    const char* arg = argv[*i];
    if (std::strncmp(arg, flag, length) == 0 && arg[length] == '=') {
      *value = arg + length + 1;
      return true;
    }
    if (std::strcmp(arg, flag) == 0 && *i + 1 < argc) {
      *value = argv[++*i];
      return true;
    }
    return false;
  };
  for (int i = 0; i < argc; ++i) {
    std::string value;
    if (i > 0 && value_of(&i, "--plugin", &value)) {
      plugins.push_back(value);
    } else if (i > 0 && value_of(&i, "--known_failures", &value)) {
      known_failures_path = value;
    } else if (i > 0 && value_of(&i, "--report", &value)) {
      report_path = value;
    } else {
      if (std::strncmp(argv[i], "--gtest_list_tests", 18) == 0 ||
          std::strcmp(argv[i], "--help") == 0) {
        listing = true;
      }
      rest.push_back(argv[i]);
    }
  }
  if (plugins.empty() && default_plugin != nullptr) plugins.emplace_back(default_plugin);
  if (plugins.empty() && !listing) {
    std::cerr << "usage: " << argv[0]
              << " --plugin=PATH [--plugin=PATH...] [--known_failures=FILE]"
                 " [--report=FILE.json] [gtest flags]\n"
              << "Runs the embrt plugin conformance suite against each plugin shared object.\n"
              << "  --known_failures=FILE  tests expected to fail, one 'Fixture.Test [reason]' a\n"
              << "                         line; they run and are reported as known failures\n"
              << "  --report=FILE.json     writes pass/fail/skip/known_failure per test, with the\n"
              << "                         README rule numbers and the plugin's attributes\n";
    return 2;
  }
  std::map<std::string, std::string> known_failures;
  if (!known_failures_path.empty()) {
    std::string error;
    if (!ReadKnownFailures(known_failures_path, &known_failures, &error)) {
      std::cerr << argv[0] << ": " << error << "\n";
      return 2;
    }
  }
  SetConformancePlugins(plugins);
  int rest_argc = static_cast<int>(rest.size());
  rest.push_back(nullptr);
  ::testing::InitGoogleTest(&rest_argc, rest.data());
  auto* report = new ReportListener(std::move(known_failures), report_path);
  ::testing::UnitTest::GetInstance()->listeners().Append(report);  // gtest owns it
  const int gtest_code = RUN_ALL_TESTS();
  if (listing) return gtest_code;
  // gtest counts known failures as failures; the report's verdict is ours.
  return report->exit_code();
}

}  // namespace conformance
}  // namespace embrt
