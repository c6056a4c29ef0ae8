// Copyright embrt authors.

#include "tools/training/progress.h"

#include <unistd.h>

#include <chrono>
#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace embrt {
namespace training {

bool IsTerminal(std::FILE* file) { return isatty(fileno(file)) == 1; }

Progress::Progress(std::FILE* out, bool terminal, std::function<double()> now)
    : out_(out), terminal_(terminal), now_(std::move(now)) {
  if (!now_) {
    now_ = [] {
      return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
          .count();
    };
  }
  start_ = now_();
  last_print_ = start_;
}

std::string Progress::FormatLine(int64_t step, int64_t total_steps, double examples_per_second,
                                 double running_loss, double eta_seconds, bool estimate,
                                 const std::string& note) {
  std::string line = total_steps > 0 ? absl::StrFormat("step %d/%s%d", step,
                                                       estimate ? "~" : "", total_steps)
                                     : absl::StrFormat("step %d", step);
  if (!note.empty()) absl::StrAppend(&line, " (", note, ")");
  absl::StrAppendFormat(&line, "  %.0f examples/s  loss %.4f", examples_per_second,
                        running_loss);
  if (eta_seconds >= 0 && std::isfinite(eta_seconds)) {
    absl::StrAppendFormat(&line, "  ETA %dm%02ds", static_cast<int64_t>(eta_seconds) / 60,
                          static_cast<int64_t>(eta_seconds) % 60);
  }
  return line;
}

void Progress::Update(int64_t step, int64_t total_steps, int64_t examples,
                      double running_loss, bool estimate, const std::string& note) {
  if (first_step_ < 0) first_step_ = step - 1;
  const double now = now_();
  if (now - last_print_ < 1.0) return;
  last_print_ = now;
  const double elapsed = now - start_;
  const double rate = elapsed > 0 ? examples / elapsed : 0;
  const int64_t done = step - first_step_;
  const double eta = total_steps > 0 && done > 0
                         ? elapsed * static_cast<double>(std::max<int64_t>(total_steps - step, 0)) /
                               static_cast<double>(done)
                         : -1;
  const std::string line =
      FormatLine(step, total_steps, rate, running_loss, eta, estimate, note);
  if (terminal_) {
    std::fprintf(out_, "\r%s\033[K", line.c_str());
  } else {
    std::fprintf(out_, "%s\n", line.c_str());
  }
  std::fflush(out_);
  printed_ = true;
}

void Progress::Finish() {
  if (terminal_ && printed_) {
    std::fputc('\n', out_);
    std::fflush(out_);
  }
  printed_ = false;
}

}  // namespace training
}  // namespace embrt
