// Copyright embrt authors.
//
// The mock's backend options (all strings, from the config's backend options map):
//   trace_file=<path>        append one line per call to <path> (README.md, "Call trace")
//   fail_call=<Call>         Create, Enqueue, RecvActivations, SendGradients, LoadTableShard,
//                            RetrieveTableShard or Synchronize ("Engine_" prefix allowed)
//   fail_at=<n>              the 1-based occurrence of fail_call that fails (default 1)
//   fail_code=<code>         canonical name (INVALID_ARGUMENT) or number 1..16 (default INTERNAL)
//   fail_message=<text>      the error message (default "injected failure of <Call> #<n>")
//   delay_call=<Call>        any call, Destroy included: sleep before it runs
//   delay_ms=<n>             milliseconds, 0..600000
//   max_table_bytes=<n>      the most bytes all tables may need if every row is written
//                            (rows x dim x slots x 4, summed; default kDefaultMaxTableBytes)
// A bad value is INVALID_ARGUMENT naming the option; an unknown option is UNIMPLEMENTED.

#ifndef EMBRT_PLUGINS_MOCK_MOCK_OPTIONS_H_
#define EMBRT_PLUGINS_MOCK_MOCK_OPTIONS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "embrt/plugin_sdk.h"
#include "fault_injection.h"

namespace embrt {
namespace mock {

// 4 GiB: the mock keeps every written row in memory, and the core writes every row when it
// initializes the tables, so a bigger config would only exhaust memory later.
inline constexpr int64_t kDefaultMaxTableBytes = int64_t{1} << 32;

struct MockOptions {
  std::string trace_file;
  FaultPlan faults;
  int64_t max_table_bytes = kDefaultMaxTableBytes;
};

sdk::Status ParseOptions(const std::vector<sdk::NamedValue>& options, MockOptions* parsed);

}  // namespace mock
}  // namespace embrt

#endif  // EMBRT_PLUGINS_MOCK_MOCK_OPTIONS_H_
