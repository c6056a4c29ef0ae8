// Copyright embrt authors.
//
// Known failures and the JSON report of a conformance run (see the header).

#include "conformance_report.h"

#include <cstdio>
#include <fstream>
#include <sstream>

#include "conformance_suite.h"

namespace embrt {
namespace conformance {
namespace {

std::string Trim(const std::string& text) {
  const size_t begin = text.find_first_not_of(" \t\r");
  if (begin == std::string::npos) return "";
  const size_t end = text.find_last_not_of(" \t\r");
  return text.substr(begin, end - begin + 1);
}

// "Plugin/AbiConformanceTest" + "Foo/0" -> "AbiConformanceTest.Foo".
std::string ShortName(const ::testing::TestInfo& info) {
  std::string suite = info.test_suite_name();
  std::string name = info.name();
  if (auto slash = suite.find('/'); slash != std::string::npos) suite = suite.substr(slash + 1);
  if (auto slash = name.find('/'); slash != std::string::npos) name = name.substr(0, slash);
  return suite + "." + name;
}

std::string Json(const std::string& text) {
  std::string out = "\"";
  for (unsigned char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        if (c < 0x20) {
          char buffer[8];
          std::snprintf(buffer, sizeof(buffer), "\\u%04x", c);
          out += buffer;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

std::string AttributeText(const EMBRT_NamedValue& v) {
  switch (v.type) {
    case EMBRT_VALUE_STRING:
      return Json(v.string_value == nullptr ? "" : std::string(v.string_value,
                                                               v.string_value_size));
    case EMBRT_VALUE_INT64:
      return std::to_string(v.int64_value);
    case EMBRT_VALUE_FLOAT: {
      std::ostringstream out;
      out << v.float_value;
      return out.str();
    }
  }
  return "null";
}

}  // namespace

bool ReadKnownFailures(const std::string& path, std::map<std::string, std::string>* known,
                       std::string* error) {
  std::ifstream in(path);
  if (!in) {
    *error = "cannot read the known-failures file '" + path + "'";
    return false;
  }
  std::string line;
  while (std::getline(in, line)) {
    if (auto hash = line.find('#'); hash != std::string::npos) line = line.substr(0, hash);
    line = Trim(line);
    if (line.empty()) continue;
    const size_t space = line.find_first_of(" \t");
    const std::string test = line.substr(0, space);
    (*known)[test] = space == std::string::npos ? "" : Trim(line.substr(space));
  }
  return true;
}

void ReportListener::OnTestEnd(const ::testing::TestInfo& info) {
  Outcome outcome;
  outcome.test = ShortName(info);
  outcome.plugin = info.value_param() == nullptr ? "" : info.value_param();
  // gtest prints the parameter quoted; the report wants the path itself.
  if (outcome.plugin.size() >= 2 && outcome.plugin.front() == '"') {
    outcome.plugin = outcome.plugin.substr(1, outcome.plugin.size() - 2);
  }
  const ::testing::TestResult& result = *info.result();
  for (int i = 0; i < result.test_property_count(); ++i) {
    if (std::string(result.GetTestProperty(i).key()) == "rules") {
      outcome.rules = result.GetTestProperty(i).value();
    }
  }
  std::string messages;
  for (int i = 0; i < result.total_part_count(); ++i) {
    const ::testing::TestPartResult& part = result.GetTestPartResult(i);
    if (part.skipped() || part.failed()) {
      if (!messages.empty()) messages += "\n";
      messages += part.message();
    }
  }
  auto known = known_failures_.find(outcome.test);
  if (result.Skipped()) {
    outcome.status = "skip";
    outcome.detail = messages;
  } else if (result.Failed()) {
    const std::string rules = outcome.rules.empty() ? "(none recorded)" : outcome.rules;
    if (known != known_failures_.end()) {
      outcome.status = "known_failure";
      outcome.detail = known->second;
      std::printf("[ KNOWN    ] %s fails as listed in the known failures: %s (README rules %s)\n",
                  outcome.test.c_str(), known->second.c_str(), rules.c_str());
    } else {
      outcome.status = "fail";
      outcome.detail = messages;
      exit_code_ = 1;
      std::printf("[ RULES    ] %s violates plugin_api/README.md rule(s) %s\n",
                  outcome.test.c_str(), rules.c_str());
    }
  } else {
    outcome.status = "pass";
    if (known != known_failures_.end()) {
      outcome.detail = "listed as a known failure but passes";
      std::printf("[ KNOWN    ] %s is listed as a known failure but passes\n",
                  outcome.test.c_str());
    }
  }
  std::fflush(stdout);
  outcomes_.push_back(std::move(outcome));
}

void ReportListener::OnTestProgramEnd(const ::testing::UnitTest&) {
  std::map<std::string, int> counts;
  for (const Outcome& o : outcomes_) ++counts[o.status];
  std::printf("[ SUMMARY  ] %d passed, %d failed, %d skipped, %d known failures\n",
              counts["pass"], counts["fail"], counts["skip"], counts["known_failure"]);
  if (report_path_.empty()) return;
  std::ostringstream out;
  out << "{\n  \"format\": \"embrt-conformance-report-1\",\n  \"plugins\": [";
  const std::vector<std::string>& plugins = ConformancePlugins();
  for (size_t p = 0; p < plugins.size(); ++p) {
    out << (p == 0 ? "\n" : ",\n") << "    {\"path\": " << Json(plugins[p])
        << ", \"attributes\": {";
    std::string error;
    std::unique_ptr<Plugin> plugin = Plugin::Open(plugins[p], &error);
    if (plugin != nullptr) {
      bool first = true;
      for (const auto& [name, value] : plugin->attributes()) {
        out << (first ? "" : ", ") << Json(name) << ": " << AttributeText(*value);
        first = false;
      }
    }
    out << "}" << (plugin == nullptr ? ", \"error\": " + Json(error) : std::string()) << "}";
  }
  out << "\n  ],\n  \"summary\": {\"pass\": " << counts["pass"] << ", \"fail\": " << counts["fail"]
      << ", \"skip\": " << counts["skip"] << ", \"known_failure\": " << counts["known_failure"]
      << "},\n  \"tests\": [";
  for (size_t i = 0; i < outcomes_.size(); ++i) {
    const Outcome& o = outcomes_[i];
    out << (i == 0 ? "\n" : ",\n") << "    {\"test\": " << Json(o.test)
        << ", \"plugin\": " << Json(o.plugin) << ", \"status\": " << Json(o.status)
        << ", \"rules\": " << Json(o.rules) << ", \"detail\": " << Json(o.detail) << "}";
  }
  out << "\n  ]\n}\n";
  std::ofstream file(report_path_);
  file << out.str();
  file.close();
  if (!file) {
    std::fprintf(stderr, "embrt_conformance: cannot write the report '%s'\n",
                 report_path_.c_str());
    exit_code_ = 1;
    return;
  }
  std::printf("[ REPORT   ] %s\n", report_path_.c_str());
}

}  // namespace conformance
}  // namespace embrt
