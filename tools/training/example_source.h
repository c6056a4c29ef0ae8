// Copyright embrt authors.
//
// File: tools/training/example_source.h
// -------------------------------------
// The stream of training examples the trainer consumes, whatever the data format. Every format
// (Criteo, MovieLens, generic TSV, the built-in synthetic click log) turns one record into one
// label and one table row id per named field. Sources stream: they hold one line at a time,
// never the whole file.
//
// Thread safety: a source is used by one thread at a time.

#ifndef EMBRT_TOOLS_TRAINING_EXAMPLE_SOURCE_H_
#define EMBRT_TOOLS_TRAINING_EXAMPLE_SOURCE_H_

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace embrt {
namespace training {

// One record: a label (0/1 click or a rating) and one row id per field, in the order of
// ExampleSource::fields().
struct Example {
  float label = 0.0f;
  std::vector<int64_t> ids;
};

// The labels a data set declares (e.g. ratings 1..5); a label outside [min, max] is a bad
// line. The default accepts every finite label.
struct LabelRange {
  float min = -std::numeric_limits<float>::infinity();
  float max = std::numeric_limits<float>::infinity();
  bool Contains(float label) const { return label >= min && label <= max; }
  bool bounded() const { return std::isfinite(min) || std::isfinite(max); }
};

// What to do with a line that does not parse.
enum class BadLinePolicy {
  kSkip,  // count it, remember the first few messages, go on
  kFail,  // stop with INVALID_ARGUMENT naming file and line
};

class ExampleSource {
 public:
  virtual ~ExampleSource() = default;

  // Field names, in the order of Example::ids.
  virtual const std::vector<std::string>& fields() const = 0;

  // Reads the next example into `example`. Returns false at the end of the data. Errors:
  // unreadable file (NOT_FOUND / DATA_LOSS), a bad line under BadLinePolicy::kFail, or data that
  // is evidently of another format (INVALID_ARGUMENT).
  virtual absl::StatusOr<bool> Next(Example& example) = 0;

  // Starts again from the first example (the next epoch).
  virtual absl::Status Rewind() = 0;

  // How far into the current pass the source is, in [0, 1] (files: bytes read over the file's
  // size); -1 when it cannot tell (endless or generated data). For progress estimates only.
  virtual double fraction_read() { return -1; }

  // Lines skipped as malformed so far, and the first few messages ("FILE:LINE: why").
  virtual int64_t bad_lines() const { return 0; }
  virtual const std::vector<std::string>& bad_line_messages() const {
    static const std::vector<std::string> kNone;
    return kNone;
  }
};

}  // namespace training
}  // namespace embrt

#endif  // EMBRT_TOOLS_TRAINING_EXAMPLE_SOURCE_H_
