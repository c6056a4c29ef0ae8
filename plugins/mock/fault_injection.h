// Copyright embrt authors.
//
// Fault injection for the mock, driven by backend options (README.md, "Fault injection"):
// the `fail_at`-th call named `fail_call` returns `fail_code` with `fail_message` and changes
// nothing; every call named `delay_call` sleeps `delay_ms` milliseconds first.
//
// Thread safety: OnCall may be called from any thread.

#ifndef EMBRT_PLUGINS_MOCK_FAULT_INJECTION_H_
#define EMBRT_PLUGINS_MOCK_FAULT_INJECTION_H_

#include <cstdint>
#include <mutex>
#include <string>

#include "embrt/plugin_sdk.h"

namespace embrt {
namespace mock {

// The calls of the engine, as named in the trace and in the options.
enum class Call {
  kNone = 0,
  kCreate,
  kEnqueue,
  kRecvActivations,
  kSendGradients,
  kLoadTableShard,
  kRetrieveTableShard,
  kSynchronize,
  kDestroy,
};
constexpr int kNumCalls = 9;

// "Enqueue", "Create", ...
const char* CallName(Call call);

// Accepts "Enqueue" and "Engine_Enqueue" alike. Returns kNone when unknown.
Call ParseCallName(const std::string& name);

struct FaultPlan {
  Call fail_call = Call::kNone;
  int64_t fail_at = 1;  // 1-based occurrence of fail_call on this engine
  EMBRT_ErrorCode fail_code = EMBRT_CODE_INTERNAL;
  std::string fail_message;  // empty: "injected failure of <call> #<n>"
  Call delay_call = Call::kNone;
  int64_t delay_ms = 0;
};

class FaultInjector {
 public:
  explicit FaultInjector(FaultPlan plan) : plan_(std::move(plan)) {}

  // Counts one occurrence of `call`, sleeps if it is the delayed call, and returns the injected
  // error when this is the occurrence that must fail (OK otherwise).
  sdk::Status OnCall(Call call);

 private:
  const FaultPlan plan_;
  std::mutex mu_;
  int64_t counts_[kNumCalls] = {};
};

}  // namespace mock
}  // namespace embrt

#endif  // EMBRT_PLUGINS_MOCK_FAULT_INJECTION_H_
