// Copyright embrt authors.

#include "tools/training/line_file_source.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "embrt/status_macros.h"
#include "posix_file.h"  // core/src: opens that never block

namespace embrt {
namespace training {

LineFileSource::LineFileSource(LineFileOptions options, std::string format)
    : options_(std::move(options)), format_(std::move(format)) {}

LineFileSource::~LineFileSource() {
  if (fd_ >= 0) ::close(fd_);
}

absl::Status LineFileSource::Open() {
  absl::StatusOr<internal::UniqueFd> fd =
      internal::OpenRegularFile(options_.path, internal::Symlinks::kFollow);
  if (!fd.ok()) {
    if (absl::IsNotFound(fd.status()) || absl::IsPermissionDenied(fd.status())) {
      return absl::NotFoundError(absl::StrCat("cannot open ", format_, " data file '",
                                              options_.path, "': ", fd.status().message()));
    }
    return absl::Status(fd.status().code(), absl::StrCat(format_, " data file: ",
                                                         fd.status().message()));
  }
  fd_ = fd->release();
  buffer_.resize(size_t{1} << 16);
  return absl::OkStatus();
}

absl::Status LineFileSource::Rewind() {
  if (fd_ < 0 || ::lseek(fd_, 0, SEEK_SET) != 0) {
    return absl::DataLossError(absl::StrCat("cannot rewind '", options_.path, "'"));
  }
  begin_ = end_ = 0;
  at_end_ = false;
  line_number_ = 0;
  good_lines_ = 0;
  bad_this_pass_ = 0;
  bytes_read_ = 0;
  return absl::OkStatus();
}

absl::StatusOr<bool> LineFileSource::ReadLine() {
  line_.clear();
  while (true) {
    const char* start = buffer_.data() + begin_;
    const char* newline = static_cast<const char*>(memchr(start, '\n', end_ - begin_));
    const size_t take = newline != nullptr ? static_cast<size_t>(newline - start) : end_ - begin_;
    if (line_.size() + take > kMaxLineBytes) {
      return absl::InvalidArgumentError(
          absl::StrCat(options_.path, ":", line_number_ + 1, ": the line is longer than ",
                       kMaxLineBytes, " bytes"));
    }
    line_.append(start, take);
    if (newline != nullptr) {
      begin_ += take + 1;
      return true;
    }
    begin_ = end_ = 0;
    if (at_end_) return !line_.empty();
    ssize_t got;
    do {
      got = ::read(fd_, buffer_.data(), buffer_.size());
    } while (got < 0 && errno == EINTR);
    if (got < 0) {
      return absl::DataLossError(absl::StrCat("error reading '", options_.path, "' after line ",
                                              line_number_, ": ", strerror(errno)));
    }
    if (got == 0) {
      at_end_ = true;
      if (line_.empty()) return false;
      return true;
    }
    end_ = static_cast<size_t>(got);
    bytes_read_ += got;
  }
}

double LineFileSource::fraction_read() {
  if (file_size_ < 0) {
    struct stat status;
    file_size_ = fd_ >= 0 && ::fstat(fd_, &status) == 0 ? static_cast<int64_t>(status.st_size) : 0;
  }
  if (file_size_ <= 0) return -1;
  const int64_t consumed = bytes_read_ - static_cast<int64_t>(end_ - begin_);
  return std::min(1.0, static_cast<double>(consumed) / static_cast<double>(file_size_));
}

absl::StatusOr<bool> LineFileSource::Next(Example& example) {
  example.ids.assign(fields().size(), 0);
  while (true) {
    EMBRT_ASSIGN_OR_RETURN(const bool got_line, ReadLine());
    if (!got_line) break;
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
  if (good_lines_ == 0 && bad_this_pass_ > 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "'", options_.path, "' does not look like ", format_, " data: all ", bad_this_pass_,
        " lines are malformed (first: ", messages_.empty() ? "" : messages_.front(), ")"));
  }
  return false;
}

}  // namespace training
}  // namespace embrt
