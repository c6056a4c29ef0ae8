// Copyright embrt authors.
//
// Temporary files and directories for the tools tests.

#ifndef EMBRT_TESTS_TOOLS_TEMP_FILES_H_
#define EMBRT_TESTS_TOOLS_TEMP_FILES_H_

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "gtest/gtest.h"
#include "tools/training/line_file_source.h"

namespace embrt {
namespace testing_tools {

// A fresh directory under TEST_TMPDIR or /tmp, named after the running test.
inline std::string MakeTempDir() {
  const char* base = std::getenv("TEST_TMPDIR");
  const ::testing::TestInfo* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::filesystem::path dir = std::filesystem::path(base ? base : "/tmp") /
                              (std::string("embrt_tools_") + info->test_suite_name() + "_" +
                               info->name() + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir.string();
}

inline std::string WriteFile(const std::string& dir, const std::string& name,
                             const std::string& contents) {
  const std::string path = dir + "/" + name;
  std::ofstream(path, std::ios::binary) << contents;
  return path;
}

// Every `every`-th line (held_out) or the others.
inline training::LineSelection Every(int64_t every, bool held_out) {
  training::LineSelection selection;
  selection.every = every;
  selection.held_out = held_out;
  return selection;
}

// Reader options without -Wmissing-field-initializers noise.
inline training::LineFileOptions FileOptions(
    std::string path, training::BadLinePolicy on_bad_line = training::BadLinePolicy::kSkip,
    training::LineSelection selection = {}) {
  training::LineFileOptions options;
  options.path = std::move(path);
  options.on_bad_line = on_bad_line;
  options.selection = selection;
  return options;
}

}  // namespace testing_tools
}  // namespace embrt

#endif  // EMBRT_TESTS_TOOLS_TEMP_FILES_H_
