// Copyright embrt authors.
//
// Reading EmbeddingConfig from protobuf text format, with line and column on errors.

#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "embrt/config.h"
#include "google/protobuf/io/tokenizer.h"
#include "google/protobuf/text_format.h"
#include "posix_file.h"

namespace embrt {
namespace {

// Collects the parser's messages instead of letting protobuf log them.
class ErrorCollector : public google::protobuf::io::ErrorCollector {
 public:
  void AddError(int line, google::protobuf::io::ColumnNumber column,
                const std::string& message) override {
    // protobuf counts from 0; people count from 1.
    errors_.push_back(absl::StrCat("line ", line + 1, ", column ", column + 1, ": ", message));
  }
  void AddWarning(int, google::protobuf::io::ColumnNumber, const std::string&) override {}
  std::string Joined() const { return absl::StrJoin(errors_, "; "); }

 private:
  std::vector<std::string> errors_;
};

absl::StatusOr<EmbeddingConfig> Parse(absl::string_view text, absl::string_view origin) {
  EmbeddingConfig config;
  ErrorCollector errors;
  google::protobuf::TextFormat::Parser parser;
  parser.RecordErrorsTo(&errors);
  if (!parser.ParseFromString(std::string(text), &config)) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot parse config ", origin, ": ", errors.Joined()));
  }
  return config;
}

}  // namespace

absl::StatusOr<EmbeddingConfig> ParseConfigText(absl::string_view text) {
  return Parse(text, "text");
}

// A config is text people write: 64 MiB is far beyond any real one.
constexpr int64_t kMaxConfigFileBytes = int64_t{64} << 20;

absl::StatusOr<EmbeddingConfig> ReadConfigFile(const std::string& path) {
  // Never blocks: a FIFO or device is refused at once (posix_file.h).
  absl::StatusOr<std::string> text =
      internal::ReadSmallFile(path, kMaxConfigFileBytes, internal::Symlinks::kFollow);
  if (!text.ok()) {
    if (absl::IsNotFound(text.status())) {
      return absl::NotFoundError(absl::StrCat("cannot open config file '", path, "'"));
    }
    return absl::Status(text.status().code(),
                        absl::StrCat("config file: ", text.status().message()));
  }
  return Parse(*text, absl::StrCat("'", path, "'"));
}

}  // namespace embrt
