// Copyright embrt authors.
//
// File: tools/training/report.h
// -----------------------------
// The two renderings of a TrainReport: the summary people read on stdout, and the JSON
// document of --output_json. In the JSON every value that depends on the clock is inside the
// last member, "timing", so that runs can be compared bit for bit without it.

#ifndef EMBRT_TOOLS_TRAINING_REPORT_H_
#define EMBRT_TOOLS_TRAINING_REPORT_H_

#include <string>

#include "absl/status/status.h"
#include "tools/training/trainer.h"

namespace embrt {
namespace training {

// `title` is "train" or "eval".
std::string FormatSummary(const TrainReport& report, const std::string& title);
std::string FormatJson(const TrainReport& report);

// Writes `text` to `path` (temporary file, then rename).
absl::Status WriteTextFile(const std::string& path, const std::string& text);

// What train and eval end with: the summary on stdout, then the JSON document at `json_path`
// unless it is empty.
absl::Status EmitReport(const TrainReport& report, const std::string& title,
                        const std::string& json_path);

}  // namespace training
}  // namespace embrt

#endif  // EMBRT_TOOLS_TRAINING_REPORT_H_
