// Copyright embrt authors.
//
// Configs from Python: protobuf text, a text file, or JSON (embrt.Embedding turns a dict into
// JSON, whose field names are the proto's, e.g. {"tables": [{"name": "t", "dim": 8, ...}]}).

#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "bindings.h"
#include "embrt/config.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/json_util.h"
#include "status_errors.h"

namespace py = pybind11;

namespace embrt::python {

EmbeddingConfig ParseConfig(const std::string& config, const std::string& source) {
  if (source == "text") return ValueOrThrow(ParseConfigText(config));
  if (source == "path") return ValueOrThrow(ReadConfigFile(config));
  if (source == "json") {
    EmbeddingConfig parsed;
    google::protobuf::util::JsonParseOptions options;
    options.ignore_unknown_fields = false;
    const auto status = google::protobuf::util::JsonStringToMessage(config, &parsed, options);
    if (!status.ok()) {
      throw StatusError(absl::InvalidArgumentError(
          absl::StrCat("config dict does not match embrt.EmbeddingConfig: ",
                       std::string(status.message()))));
    }
    return parsed;
  }
  throw StatusError(absl::InvalidArgumentError(
      absl::StrCat("config source must be text, path or json, got ", source)));
}

void RegisterConfig(py::module_& m) {
  m.def(
      "config_to_text",
      [](const std::string& config, const std::string& source) {
        std::string text;
        google::protobuf::TextFormat::PrintToString(ParseConfig(config, source), &text);
        return text;
      },
      py::arg("config"), py::arg("source") = "text",
      "Parses a config (source: 'text', 'path' or 'json') and returns it as protobuf text.");
  m.def(
      "check_config",
      [](const std::string& config, const std::string& source) {
        ValueOrThrow(ResolveConfig(ParseConfig(config, source)));
      },
      py::arg("config"), py::arg("source") = "text",
      "Validates a config as Embedding would (raises InvalidArgumentError naming the field).");
}

}  // namespace embrt::python
