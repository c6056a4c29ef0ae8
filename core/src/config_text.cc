// Copyright embrt authors.
//
// Reading EmbeddingConfig from protobuf text format, with line and column on errors.

#include <fstream>
#include <sstream>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "embrt/config.h"
#include "google/protobuf/io/tokenizer.h"
#include "google/protobuf/text_format.h"

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

absl::StatusOr<EmbeddingConfig> ReadConfigFile(const std::string& path) {
  std::ifstream file(path);
  if (!file) {
    return absl::NotFoundError(absl::StrCat("cannot open config file '", path, "'"));
  }
  std::stringstream buffer;
  buffer << file.rdbuf();
  if (file.bad()) {
    return absl::DataLossError(absl::StrCat("cannot read config file '", path, "'"));
  }
  return Parse(buffer.str(), absl::StrCat("'", path, "'"));
}

}  // namespace embrt
