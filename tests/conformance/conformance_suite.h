// Copyright embrt authors.
//
// File: tests/conformance/conformance_suite.h
// -------------------------------------------
// The plugin conformance suite: one gtest suite, parameterized by the path of a plugin shared
// object, that drives the plugin through nothing but embrt/plugin_api.h (dlopen + the function
// table). A vendor runs it against its own .so:
//
//   embrt_conformance --plugin=/path/to/libembrt_backend_mine.so [--gtest_filter=...]
//
// Two fixtures:
//   * AbiConformanceTest: every plugin. Entry point and version negotiation, attributes, error
//     objects, bad engine descriptions, bad enqueue/recv/send/load arguments, out-of-order
//     calls, replicas driven from one thread and from several, ABI 1.0 and 1.1 struct sizes.
//   * NumericConformanceTest: only plugins whose attributes claim exact_math=1. TF's goldens
//     through the C ABI, and random models compared with the scalar reference (tests/reference),
//     bit for bit.
// The suite reads the plugin's attributes (README rule 11) and skips what the plugin does not
// claim, naming the attribute; a test that needs "some optimizer" or "some combiner" uses one the
// plugin declares. No plugin name is compiled in. A vendor may list tests it knows fail
// (--known_failures=FILE); they still run and are reported as known failures, which do not fail
// the run. --report=FILE.json writes every test's outcome with its README rule numbers and the
// plugin's attributes.

#ifndef EMBRT_TESTS_CONFORMANCE_CONFORMANCE_SUITE_H_
#define EMBRT_TESTS_CONFORMANCE_CONFORMANCE_SUITE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "plugin_driver.h"

namespace embrt {
namespace conformance {

// The plugins the suite is instantiated for. Set before testing::InitGoogleTest.
void SetConformancePlugins(std::vector<std::string> paths);
const std::vector<std::string>& ConformancePlugins();

// What a plugin claims in its attributes (README rule 11), with the defaults of absent keys.
struct Capabilities {
  std::string name;
  int abi_minor = 0;
  bool exact_math = false;
  bool quantization = false;
  bool pipelining = false;
  bool multi_host = false;
  int64_t max_dim = 0;
  std::set<reference::Optimizer> optimizers;
  std::set<reference::Combiner> combiners;
  std::string optimizers_text;  // as declared, for messages
  std::string combiners_text;

  bool Has(reference::Optimizer kind) const { return optimizers.count(kind) > 0; }
  bool Has(reference::Combiner combiner) const { return combiners.count(combiner) > 0; }
  // A declared optimizer, SGD when declared; NULL-like kSgd when none (Engine_Create will tell).
  reference::Optimizer AnyOptimizer() const;
  reference::Combiner AnyCombiner() const;
};
Capabilities ReadCapabilities(const Plugin& plugin);
const char* OptimizerName(reference::Optimizer kind);
const char* CombinerName(reference::Combiner combiner);

// The README rules a test checks ("8, 13"), recorded for the report and printed with failures.
// Call first in every test body.
void Rules(const char* rules);

// Parses --plugin=PATH (repeatable; `default_plugin` when none and not NULL),
// --known_failures=FILE and --report=FILE.json, then runs every test. Returns the process exit
// code: 0 when every test passed, was skipped or is a listed known failure.
int RunConformanceMain(int argc, char** argv, const char* default_plugin);

// Skips the current test unless `condition`, naming the attribute (or ABI version) it needs.
#define CONFORMANCE_REQUIRE(condition, needs)                                                 \
  do {                                                                                        \
    if (!(condition)) {                                                                       \
      GTEST_SKIP() << "plugin '" << caps().name << "' does not claim " << needs;              \
    }                                                                                         \
  } while (0)

// The plugin of the current test, loaded once per process.
class PluginTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override;
  const Plugin& plugin() const { return *plugin_; }
  const EMBRT_Api* api() const { return plugin_->api(); }
  const Capabilities& caps() const { return caps_; }

  // Creates an engine or fails the test (check with ASSERT_NE(engine, nullptr)).
  std::unique_ptr<Engine> MakeEngine(const reference::ModelSpec& model,
                                     std::map<std::string, std::string> options = {},
                                     const EngineSettings& settings = {});
  // `model` with every combiner and optimizer the plugin does not declare replaced by one it
  // does, for tests whose point is not the numbers.
  reference::ModelSpec Supported(reference::ModelSpec model) const;

 private:
  const Plugin* plugin_ = nullptr;
  Capabilities caps_;
};

class AbiConformanceTest : public PluginTest {};

// Every test skips unless the plugin claims exact_math=1.
class NumericConformanceTest : public PluginTest {};

// ULPs allowed between a plugin claiming exact_math=1 and the scalar reference: 0 (bitwise).
constexpr int kExactUlps = 0;

// Fails the test when a driver call (returning CallResult) did not succeed, naming the call.
#define ASSERT_OK(call)                                                         \
  do {                                                                          \
    const CallResult result_ = (call);                                          \
    ASSERT_TRUE(result_.ok()) << #call << ": " << ToString(result_);            \
  } while (0)

}  // namespace conformance
}  // namespace embrt

#endif  // EMBRT_TESTS_CONFORMANCE_CONFORMANCE_SUITE_H_
