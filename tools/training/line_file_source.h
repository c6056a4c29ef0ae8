// Copyright embrt authors.
//
// File: tools/training/line_file_source.h
// ---------------------------------------
// The part every text format shares: streaming a file line by line, counting lines, applying
// the bad-line policy, holding out every k-th line for evaluation, and noticing a file of the
// wrong format early. A format only says how one line becomes an Example (ParseLine).
//
// The file must be a regular file (it is read again at every epoch): a FIFO, device or
// directory is refused when opened, never waited on. Symbolic links are followed (the path is
// the user's). A line longer than kMaxLineBytes is an error, not an unbounded allocation.
//
// Thread safety: used by one thread at a time.

#ifndef EMBRT_TOOLS_TRAINING_LINE_FILE_SOURCE_H_
#define EMBRT_TOOLS_TRAINING_LINE_FILE_SOURCE_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "tools/training/example_source.h"

namespace embrt {
namespace training {

// Which lines of a file a source yields. With every = k > 0, line numbers (from 1) divisible
// by k are the held-out part and the others the training part; blank lines count as lines.
struct LineSelection {
  int64_t every = 0;      // 0: every line
  bool held_out = false;  // with every > 0: yield the held-out lines instead of the others
  // Optional further choice by line number (from 1), e.g. a seeded validation split: lines
  // for which it returns false are skipped before parsing.
  std::function<bool(int64_t line_number)> keep;
};

struct LineFileOptions {
  std::string path;
  BadLinePolicy on_bad_line = BadLinePolicy::kSkip;
  LineSelection selection;
};

class LineFileSource : public ExampleSource {
 public:
  // Bad-line messages kept for the report; the count goes on.
  static constexpr int kMaxMessages = 5;
  // A file whose first kWrongFormatLines selected lines are all malformed is not this format.
  static constexpr int kWrongFormatLines = 100;
  // Longest accepted line, terminator excluded.
  static constexpr size_t kMaxLineBytes = size_t{16} << 20;

  ~LineFileSource() override;
  LineFileSource(const LineFileSource&) = delete;
  LineFileSource& operator=(const LineFileSource&) = delete;

  absl::StatusOr<bool> Next(Example& example) override;
  absl::Status Rewind() override;
  int64_t bad_lines() const override { return bad_lines_; }
  const std::vector<std::string>& bad_line_messages() const override { return messages_; }
  double fraction_read() override;

 protected:
  // `format` names the format in messages ("Criteo").
  LineFileSource(LineFileOptions options, std::string format);

  // Opens the file; NOT_FOUND naming the path when it cannot be opened, FAILED_PRECONDITION
  // when it is not a regular file. Called by factories.
  absl::Status Open();

  // Parses one non-blank line (without its line terminator) into `example`, whose ids already
  // have one entry per field. Returns INVALID_ARGUMENT with a short reason (no file or line:
  // the caller adds them).
  virtual absl::Status ParseLine(absl::string_view line, Example& example) = 0;

 private:
  LineFileOptions options_;
  std::string format_;
  // The next line into line_ (without its '\n'); false at the end of the file.
  absl::StatusOr<bool> ReadLine();

  int fd_ = -1;
  std::vector<char> buffer_;    // bytes read but not yet consumed: [begin_, end_)
  size_t begin_ = 0, end_ = 0;
  bool at_end_ = false;         // read() returned 0
  std::string line_;
  int64_t line_number_ = 0;
  int64_t good_lines_ = 0;      // in this pass
  int64_t bad_this_pass_ = 0;
  int64_t bad_lines_ = 0;       // each bad line once, however often it is read
  int64_t counted_through_ = 0; // lines up to this one were counted already (rewinds)
  int64_t bytes_read_ = 0;      // from the file this pass (for fraction_read)
  int64_t file_size_ = -1;
  std::vector<std::string> messages_;
};

}  // namespace training
}  // namespace embrt

#endif  // EMBRT_TOOLS_TRAINING_LINE_FILE_SOURCE_H_
