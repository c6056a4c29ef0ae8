// Copyright embrt authors.

#include "call_trace.h"

#include <cctype>
#include <cerrno>
#include <cstring>

namespace embrt {
namespace mock {
namespace {

const char* const kCodeNames[] = {
    "OK",        "CANCELLED",      "UNKNOWN",           "INVALID_ARGUMENT",   "DEADLINE_EXCEEDED",
    "NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
    "ABORTED",   "OUT_OF_RANGE",   "UNIMPLEMENTED",     "INTERNAL",           "UNAVAILABLE",
    "DATA_LOSS", "UNAUTHENTICATED"};
constexpr int kNumCodes = sizeof(kCodeNames) / sizeof(kCodeNames[0]);

}  // namespace

CallTrace::~CallTrace() {
  if (file_ != nullptr) std::fclose(file_);
}

sdk::Status CallTrace::Open(const std::string& path) {
  if (path.empty()) return sdk::Status();
  file_ = std::fopen(path.c_str(), "a");
  if (file_ == nullptr) {
    return sdk::Status::InvalidArgument("backend option trace_file: cannot open '" + path +
                                        "' for appending: " + std::strerror(errno));
  }
  return sdk::Status();
}

void CallTrace::Write(const std::string& call, const sdk::Status& result) {
  if (file_ == nullptr) return;
  std::string line = call + " -> " + CodeName(result.code());
  if (!result.ok()) line += ": " + result.message();
  for (char& c : line) {
    if (c == '\n') c = ' ';  // one call, one line
  }
  line += '\n';
  std::lock_guard<std::mutex> lock(mu_);
  std::fwrite(line.data(), 1, line.size(), file_);
  std::fflush(file_);
}

std::string CodeName(EMBRT_ErrorCode code) {
  if (code >= 0 && code < kNumCodes) return kCodeNames[code];
  return "CODE_" + std::to_string(code);
}

bool ParseCode(const std::string& text, EMBRT_ErrorCode* code) {
  if (text.empty()) return false;
  bool digits = true;
  for (char c : text) digits = digits && std::isdigit(static_cast<unsigned char>(c));
  if (digits) {
    if (text.size() > 2) return false;
    const int value = std::stoi(text);
    if (value < 1 || value >= kNumCodes) return false;
    *code = value;
    return true;
  }
  std::string upper = text;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  for (int i = 1; i < kNumCodes; ++i) {
    if (upper == kCodeNames[i]) {
      *code = i;
      return true;
    }
  }
  return false;
}

}  // namespace mock
}  // namespace embrt
