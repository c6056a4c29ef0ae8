// Copyright embrt authors.

#include "mock_options.h"

#include <cctype>

#include "call_trace.h"

namespace embrt {
namespace mock {
namespace {

// Parses a decimal integer in [min, max].
bool ParseInt(const std::string& text, int64_t min, int64_t max, int64_t* value) {
  if (text.empty() || text.size() > 18) return false;
  int64_t result = 0;
  for (char c : text) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
    result = result * 10 + (c - '0');
  }
  if (result < min || result > max) return false;
  *value = result;
  return true;
}

sdk::Status BadValue(const std::string& name, const std::string& value, const std::string& want) {
  return sdk::Status::InvalidArgument("backend option " + name + "='" + value +
                                      "' is invalid: expected " + want);
}

std::string ValueText(const sdk::NamedValue& option) {
  if (option.type == EMBRT_VALUE_INT64) return std::to_string(option.int64_value);
  return option.string_value;
}

}  // namespace

sdk::Status ParseOptions(const std::vector<sdk::NamedValue>& options, MockOptions* parsed) {
  MockOptions out;
  bool has_fail_detail = false;
  std::string fail_detail_name;
  bool has_delay_ms = false;
  for (const sdk::NamedValue& option : options) {
    const std::string& name = option.name;
    const std::string value = ValueText(option);
    const std::string kCalls =
        "one of Create, Enqueue, RecvActivations, SendGradients, LoadTableShard, "
        "RetrieveTableShard, Synchronize";
    if (name == "trace_file") {
      if (value.empty()) return BadValue(name, value, "a file path");
      out.trace_file = value;
    } else if (name == "fail_call") {
      out.faults.fail_call = ParseCallName(value);
      if (out.faults.fail_call == Call::kNone || out.faults.fail_call == Call::kDestroy) {
        return BadValue(name, value, kCalls);
      }
    } else if (name == "fail_at") {
      if (!ParseInt(value, 1, INT64_MAX / 16, &out.faults.fail_at)) {
        return BadValue(name, value, "a positive integer (1-based occurrence)");
      }
      has_fail_detail = true;
      fail_detail_name = name;
    } else if (name == "fail_code") {
      if (!ParseCode(value, &out.faults.fail_code)) {
        return BadValue(name, value, "a canonical code name such as INTERNAL, or 1..16");
      }
      has_fail_detail = true;
      fail_detail_name = name;
    } else if (name == "fail_message") {
      out.faults.fail_message = value;
      has_fail_detail = true;
      fail_detail_name = name;
    } else if (name == "delay_call") {
      out.faults.delay_call = ParseCallName(value);
      if (out.faults.delay_call == Call::kNone) {
        return BadValue(name, value, kCalls + " or Destroy");
      }
    } else if (name == "delay_ms") {
      if (!ParseInt(value, 0, 600000, &out.faults.delay_ms)) {
        return BadValue(name, value, "an integer number of milliseconds in [0, 600000]");
      }
      has_delay_ms = true;
    } else if (name == "max_table_bytes") {
      if (!ParseInt(value, 0, INT64_MAX / 16, &out.max_table_bytes)) {
        return BadValue(name, value, "a number of bytes");
      }
    } else {
      return sdk::Status::Unimplemented(
          "backend option '" + name +
          "' is not supported by the mock backend (supported: trace_file, fail_call, fail_at, "
          "fail_code, fail_message, delay_call, delay_ms, max_table_bytes)");
    }
  }
  if (has_fail_detail && out.faults.fail_call == Call::kNone) {
    return sdk::Status::InvalidArgument("backend option " + fail_detail_name +
                                        " needs backend option fail_call");
  }
  if (has_delay_ms != (out.faults.delay_call != Call::kNone)) {
    return sdk::Status::InvalidArgument(
        has_delay_ms ? "backend option delay_ms needs backend option delay_call"
                     : "backend option delay_call needs backend option delay_ms");
  }
  *parsed = std::move(out);
  return sdk::Status();
}

}  // namespace mock
}  // namespace embrt
