// Copyright embrt authors.
//
// File: tests/conformance/conformance_report.h
// --------------------------------------------
// What a vendor publishes from a conformance run: each test's outcome (pass, fail, skip or
// known failure) with the README rules it checks, and the plugin's attributes.
//
// Known failures come from a file the vendor passes (--known_failures=FILE): one test per line,
// "Fixture.Test" and an optional reason after whitespace; '#' starts a comment. A listed test
// still runs; when it fails it is reported as a known failure and does not fail the run, when it
// passes the report says so (the line can go).

#ifndef EMBRT_TESTS_CONFORMANCE_CONFORMANCE_REPORT_H_
#define EMBRT_TESTS_CONFORMANCE_CONFORMANCE_REPORT_H_

#include <map>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace embrt {
namespace conformance {

// Test name ("Fixture.Test") -> reason. Returns false and sets `error` when the file cannot be
// read.
bool ReadKnownFailures(const std::string& path, std::map<std::string, std::string>* known,
                       std::string* error);

// Collects outcomes while the tests run, prints the rules of each failure, and writes the JSON
// report at the end. Owned by gtest once appended to its listeners.
class ReportListener : public ::testing::EmptyTestEventListener {
 public:
  ReportListener(std::map<std::string, std::string> known_failures, std::string report_path)
      : known_failures_(std::move(known_failures)), report_path_(std::move(report_path)) {}

  void OnTestEnd(const ::testing::TestInfo& info) override;
  void OnTestProgramEnd(const ::testing::UnitTest& unit_test) override;

  // 0 when nothing failed except listed known failures (and the report, if asked, was written).
  int exit_code() const { return exit_code_; }

 private:
  struct Outcome {
    std::string test;    // "Fixture.Test"
    std::string plugin;  // the plugin's path
    std::string status;  // pass, fail, skip, known_failure
    std::string rules;
    std::string detail;  // skip reason, failure message or known-failure reason
  };

  std::map<std::string, std::string> known_failures_;
  std::string report_path_;
  std::vector<Outcome> outcomes_;
  int exit_code_ = 0;
};

}  // namespace conformance
}  // namespace embrt

#endif  // EMBRT_TESTS_CONFORMANCE_CONFORMANCE_REPORT_H_
