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
//     calls, two replicas driven from two threads.
//   * NumericConformanceTest: only plugins whose attributes claim exact_math=1. TF's goldens
//     (reference/tf_semantics.md §5.2–§5.6) through the C ABI, and random models compared with
//     the scalar reference (tests/reference), bit for bit.
// A plugin may list tests it does not support, with a reason (UnsupportedTests()); they are
// reported as skipped with that reason.

#ifndef EMBRT_TESTS_CONFORMANCE_CONFORMANCE_SUITE_H_
#define EMBRT_TESTS_CONFORMANCE_CONFORMANCE_SUITE_H_

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "plugin_driver.h"

namespace embrt {
namespace conformance {

// The plugins the suite is instantiated for. Set before testing::InitGoogleTest.
void SetConformancePlugins(std::vector<std::string> paths);
const std::vector<std::string>& ConformancePlugins();

// A test a plugin does not support. `test` is "Fixture.Test" or "Fixture.*".
struct UnsupportedTest {
  const char* plugin_name;  // the plugin's "name" attribute
  const char* test;
  const char* reason;
};
const std::vector<UnsupportedTest>& UnsupportedTests();

// Parses --plugin=PATH (repeatable; `default_plugin` when none and not NULL), then runs every
// test. Returns the process exit code.
int RunConformanceMain(int argc, char** argv, const char* default_plugin);

// The plugin of the current test, loaded once per process.
class PluginTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override;
  const Plugin& plugin() const { return *plugin_; }
  const EMBRT_Api* api() const { return plugin_->api(); }

  // Creates an engine or fails the test (check with ASSERT_NE(engine, nullptr)).
  std::unique_ptr<Engine> MakeEngine(const reference::ModelSpec& model,
                                     std::map<std::string, std::string> options = {});

 private:
  const Plugin* plugin_ = nullptr;
};

class AbiConformanceTest : public PluginTest {};

class NumericConformanceTest : public PluginTest {
 protected:
  void SetUp() override;
};

// ULPs allowed between a plugin claiming exact_math=1 and the scalar reference: 0 (bitwise).
constexpr int kExactUlps = 0;

}  // namespace conformance
}  // namespace embrt

#endif  // EMBRT_TESTS_CONFORMANCE_CONFORMANCE_SUITE_H_
