// Copyright embrt authors.

#include "tools/training/line_file_source.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace embrt {
namespace training {

LineFileSource::LineFileSource(LineFileOptions options, std::string format)
    : options_(std::move(options)), format_(std::move(format)) {}

absl::Status LineFileSource::Open() {
  file_.open(options_.path, std::ios::in | std::ios::binary);
  if (!file_) {
    return absl::NotFoundError(
        absl::StrCat("cannot open ", format_, " data file '", options_.path, "'"));
  }
  return absl::OkStatus();
}

absl::Status LineFileSource::Rewind() {
  file_.clear();
  file_.seekg(0);
  if (!file_) {
    return absl::DataLossError(absl::StrCat("cannot rewind '", options_.path, "'"));
  }
  line_number_ = 0;
  good_lines_ = 0;
  bad_this_pass_ = 0;
  return absl::OkStatus();
}

double LineFileSource::fraction_read() {
  if (file_size_ < 0) {
    std::ifstream sized(options_.path, std::ios::in | std::ios::binary | std::ios::ate);
    file_size_ = sized ? static_cast<int64_t>(sized.tellg()) : 0;
  }
  const std::streamoff position = file_.tellg();
  if (file_size_ <= 0 || position < 0) return -1;
  return static_cast<double>(position) / static_cast<double>(file_size_);
}

absl::StatusOr<bool> LineFileSource::Next(Example& example) {
  example.ids.assign(fields().size(), 0);
  while (std::getline(file_, line_)) {
    ++line_number_;
    if (options_.selection.every > 0) {
      const bool is_held_out = line_number_ % options_.selection.every == 0;
      if (is_held_out != options_.selection.held_out) continue;
    }
    if (options_.selection.keep && !options_.selection.keep(line_number_)) continue;
    if (!line_.empty() && line_.back() == '\r') line_.pop_back();
    if (line_.empty()) continue;
    absl::Status parsed = ParseLine(line_, example);
    if (parsed.ok()) {
      ++good_lines_;
      return true;
    }
    const std::string where =
        absl::StrCat(options_.path, ":", line_number_, ": ", parsed.message());
    if (options_.on_bad_line == BadLinePolicy::kFail) {
      return absl::InvalidArgumentError(
          absl::StrCat("malformed ", format_, " line ", where));
    }
    ++bad_this_pass_;
    if (line_number_ > counted_through_) {
      counted_through_ = line_number_;
      ++bad_lines_;
      if (messages_.size() < kMaxMessages) messages_.push_back(where);
    }
    if (good_lines_ == 0 && bad_this_pass_ >= kWrongFormatLines) {
      return absl::InvalidArgumentError(absl::StrCat(
          "'", options_.path, "' does not look like ", format_, " data: the first ",
          bad_this_pass_, " lines are all malformed (", where, ")"));
    }
    example.ids.assign(fields().size(), 0);
  }
  if (file_.bad()) {
    return absl::DataLossError(
        absl::StrCat("error reading '", options_.path, "' after line ", line_number_));
  }
  if (good_lines_ == 0 && bad_this_pass_ > 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "'", options_.path, "' does not look like ", format_, " data: all ", bad_this_pass_,
        " lines are malformed (first: ", messages_.empty() ? "" : messages_.front(), ")"));
  }
  return false;
}

}  // namespace training
}  // namespace embrt
