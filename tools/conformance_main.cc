// Copyright embrt authors.
//
// `embrt conformance --plugin=PATH [--known_failures=FILE] [--report=FILE.json] [gtest flags]`:
// runs the conformance suite, the separate `embrt_conformance` program, found beside this binary
// (an install), in the build tree (<build>/tests/conformance/), or on $PATH, in that order. Its
// exit code is ours; the other flags pass through.

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "tools/subcommands.h"
#include "tools/training/plugin_listing.h"

namespace embrt {
namespace tools {
namespace {

std::string SelfDirectory(const char* argv0) {
  std::error_code error;
  std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", error);
  if (error) self = std::filesystem::absolute(argv0, error);
  return self.parent_path().string();
}

}  // namespace

int ConformanceMain(const std::vector<std::string>& given_args, const char* argv0) {
  bool has_plugin = false;
  std::vector<std::string> args = given_args;
  for (std::string& arg : args) {
    if (arg == "--help" || arg == "-h") {
      std::puts(
          "usage: embrt conformance --plugin=PATH [--known_failures=FILE] [--report=FILE.json]\n"
          "                         [gtest flags]\n\n"
          "Runs the embrt conformance suite (the embrt_conformance program) against a backend\n"
          "plugin: a path to a .so, or a backend name found on the plugin search path. The suite\n"
          "reads the plugin's attributes and skips what it does not claim.\n"
          "  --known_failures=FILE  tests known to fail, one 'Fixture.Test [reason]' a line:\n"
          "                         reported as known failures, they do not fail the run\n"
          "  --report=FILE.json     pass/fail/skip/known_failure per test with the README rule\n"
          "                         numbers and the plugin's attributes");
      return 0;
    }
    if (arg.rfind("--plugin=", 0) == 0 && arg.size() > 9) {
      // The suite takes a path; a backend name is resolved on the search path first.
      absl::StatusOr<std::string> path = training::ResolvePluginPath(arg.substr(9));
      if (!path.ok()) {
        std::fprintf(stderr, "embrt conformance: %s\n", std::string(path.status().message()).c_str());
        return 1;
      }
      arg = "--plugin=" + *path;
      has_plugin = true;
    }
  }
  if (!has_plugin) {
    std::fprintf(stderr, "embrt conformance: --plugin=PATH is required\n");
    return 1;
  }
  const std::string self = SelfDirectory(argv0);
  const std::vector<std::string> candidates = {
      self + "/embrt_conformance",
      self + "/../tests/conformance/embrt_conformance",
  };
  std::string program = "embrt_conformance";  // $PATH
  for (const std::string& candidate : candidates) {
    if (::access(candidate.c_str(), X_OK) == 0) {
      program = candidate;
      break;
    }
  }
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(program.c_str()));
  for (const std::string& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  ::execvp(program.c_str(), argv.data());
  std::fprintf(stderr,
               "embrt conformance: cannot run the conformance suite '%s': %s (looked beside "
               "embrt, in %s/../tests/conformance and on $PATH; build the embrt_conformance "
               "target)\n",
               program.c_str(), std::strerror(errno), self.c_str());
  return 1;
}

}  // namespace tools
}  // namespace embrt
