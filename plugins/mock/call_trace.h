// Copyright embrt authors.
//
// The mock's call trace: one text line per call, appended to the file named by the backend
// option `trace_file` and flushed at once, so a test can read it while the engine lives. The
// line format is documented in README.md ("Call trace").
//
// Thread safety: Write may be called from any thread; lines never interleave.

#ifndef EMBRT_PLUGINS_MOCK_CALL_TRACE_H_
#define EMBRT_PLUGINS_MOCK_CALL_TRACE_H_

#include <cstdio>
#include <mutex>
#include <string>

#include "embrt/plugin_sdk.h"

namespace embrt {
namespace mock {

class CallTrace {
 public:
  CallTrace() = default;
  ~CallTrace();
  CallTrace(const CallTrace&) = delete;
  CallTrace& operator=(const CallTrace&) = delete;

  // Opens `path` for appending. An empty path turns the trace off.
  sdk::Status Open(const std::string& path);

  bool enabled() const { return file_ != nullptr; }

  // Appends "<call> -> OK" or "<call> -> <CODE>: <message>" and a newline.
  void Write(const std::string& call, const sdk::Status& result);

 private:
  std::mutex mu_;
  std::FILE* file_ = nullptr;
};

// The canonical name of an error code ("INVALID_ARGUMENT"), or "CODE_<n>" when unknown.
std::string CodeName(EMBRT_ErrorCode code);

// Parses a canonical code name (any case) or number 1..16. Returns false when `text` is neither.
bool ParseCode(const std::string& text, EMBRT_ErrorCode* code);

}  // namespace mock
}  // namespace embrt

#endif  // EMBRT_PLUGINS_MOCK_CALL_TRACE_H_
