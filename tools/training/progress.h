// Copyright embrt authors.
//
// File: tools/training/progress.h
// -------------------------------
// The training progress line on stderr: step, examples/s, running loss, ETA. At most one
// update per second; on a terminal the line is rewritten in place, otherwise each update is a
// plain line (logs stay readable).
//
// Thread safety: one thread.

#ifndef EMBRT_TOOLS_TRAINING_PROGRESS_H_
#define EMBRT_TOOLS_TRAINING_PROGRESS_H_

#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>

namespace embrt {
namespace training {

class Progress {
 public:
  // `out` is borrowed; `terminal`: rewrite one line. `now` returns seconds (default: a steady
  // clock), injectable for tests.
  Progress(std::FILE* out, bool terminal, std::function<double()> now = nullptr);

  // Reports the state after `step` of `total_steps` (0: unknown; `estimate`: an estimate,
  // shown as "~N", e.g. from --epochs); `note` (e.g. "epoch 2/10") follows the step. Prints
  // only if at least a second passed since the last line. The ETA assumes the rate so far.
  void Update(int64_t step, int64_t total_steps, int64_t examples, double running_loss,
              bool estimate = false, const std::string& note = "");

  // Ends the rewritten line (a newline on a terminal if anything was printed).
  void Finish();

  // The text of one line, without terminator (for tests).
  static std::string FormatLine(int64_t step, int64_t total_steps, double examples_per_second,
                                double running_loss, double eta_seconds, bool estimate = false,
                                const std::string& note = "");

 private:
  std::FILE* out_;
  bool terminal_;
  std::function<double()> now_;
  double start_;
  double last_print_;
  int64_t first_step_ = -1;  // the step of the first Update (resumed runs start later)
  bool printed_ = false;
};

// True when `file` is a terminal.
bool IsTerminal(std::FILE* file);

}  // namespace training
}  // namespace embrt

#endif  // EMBRT_TOOLS_TRAINING_PROGRESS_H_
