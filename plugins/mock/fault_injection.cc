// Copyright embrt authors.

#include "fault_injection.h"

#include <chrono>
#include <thread>

namespace embrt {
namespace mock {

const char* CallName(Call call) {
  switch (call) {
    case Call::kCreate:
      return "Create";
    case Call::kEnqueue:
      return "Enqueue";
    case Call::kRecvActivations:
      return "RecvActivations";
    case Call::kSendGradients:
      return "SendGradients";
    case Call::kLoadTableShard:
      return "LoadTableShard";
    case Call::kRetrieveTableShard:
      return "RetrieveTableShard";
    case Call::kSynchronize:
      return "Synchronize";
    case Call::kDestroy:
      return "Destroy";
    case Call::kNone:
      break;
  }
  return "None";
}

Call ParseCallName(const std::string& name) {
  const std::string prefix = "Engine_";
  const std::string bare =
      name.compare(0, prefix.size(), prefix) == 0 ? name.substr(prefix.size()) : name;
  for (int i = 1; i < kNumCalls; ++i) {
    if (bare == CallName(static_cast<Call>(i))) return static_cast<Call>(i);
  }
  return Call::kNone;
}

sdk::Status FaultInjector::OnCall(Call call) {
  int64_t occurrence;
  {
    std::lock_guard<std::mutex> lock(mu_);
    occurrence = ++counts_[static_cast<int>(call)];
  }
  if (call == plan_.delay_call && plan_.delay_ms > 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(plan_.delay_ms));
  }
  if (call != plan_.fail_call || occurrence != plan_.fail_at) return sdk::Status();
  std::string message = plan_.fail_message;
  if (message.empty()) {
    message =
        std::string("injected failure of ") + CallName(call) + " #" + std::to_string(occurrence);
  }
  return sdk::Status(plan_.fail_code, message);
}

}  // namespace mock
}  // namespace embrt
