// Copyright embrt authors.

#include "tools/training/tsv_reader.h"

#include <cmath>
#include <optional>
#include <set>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/strings/ascii.h"
#include "tools/training/feature_encoding.h"

namespace embrt {
namespace training {
namespace {

class TsvSource : public LineFileSource {
 public:
  TsvSource(LineFileOptions options, TsvSpec spec, std::vector<int64_t> vocabulary,
            LabelRange labels)
      : LineFileSource(std::move(options), "TSV"),
        spec_(std::move(spec)),
        vocabulary_(std::move(vocabulary)),
        labels_(labels) {}

  using LineFileSource::Open;
  const std::vector<std::string>& fields() const override { return spec_.fields; }

 protected:
  absl::Status ParseLine(absl::string_view line, Example& example) override {
    std::vector<absl::string_view> values = absl::StrSplit(line, '\t');
    if (values.size() > spec_.columns.size()) {
      return absl::InvalidArgumentError(absl::StrCat(
          values.size(), " tab-separated columns, the spec has ", spec_.columns.size()));
    }
    int field = 0;
    for (size_t column = 0; column < spec_.columns.size(); ++column) {
      const TsvColumn& spec = spec_.columns[column];
      const absl::string_view value = column < values.size() ? values[column] : "";
      switch (spec.kind) {
        case TsvColumn::Kind::kIgnored:
          break;
        case TsvColumn::Kind::kLabel: {
          float label;
          if (!absl::SimpleAtof(value, &label) || !std::isfinite(label)) {
            return absl::InvalidArgumentError(
                absl::StrCat("column ", column + 1, " (label): '", value, "' is not a number"));
          }
          if (!labels_.Contains(label)) {
            return absl::InvalidArgumentError(
                absl::StrCat("column ", column + 1, " (label): ", value,
                             " is outside --rating_range ", labels_.min, "..", labels_.max));
          }
          example.label = label;
          break;
        }
        case TsvColumn::Kind::kCategorical:
          if (vocabulary_[field] > 0) {
            example.ids[field] = HashCategorical(value, field, vocabulary_[field]);
          }
          ++field;
          break;
        case TsvColumn::Kind::kInteger: {
          std::optional<int64_t> number;
          if (!value.empty()) {
            int64_t parsed;
            if (!absl::SimpleAtoi(value, &parsed)) {
              return absl::InvalidArgumentError(absl::StrCat(
                  "column ", column + 1, " (", spec.name, "): '", value, "' is not an integer"));
            }
            number = parsed;
          }
          if (vocabulary_[field] > 0) {
            example.ids[field] = BucketizeInteger(number, vocabulary_[field]);
          }
          ++field;
          break;
        }
        case TsvColumn::Kind::kId: {
          int64_t id;
          if (!absl::SimpleAtoi(value, &id)) {
            return absl::InvalidArgumentError(absl::StrCat(
                "column ", column + 1, " (", spec.name, "): '", value, "' is not an integer id"));
          }
          if (vocabulary_[field] > 0) {
            if (id < 0 || id >= vocabulary_[field]) {
              return absl::InvalidArgumentError(absl::StrCat(
                  "column ", column + 1, " (", spec.name, "): id ", id,
                  " is outside the table's ", vocabulary_[field], " rows"));
            }
            example.ids[field] = id;
          }
          ++field;
          break;
        }
      }
    }
    return absl::OkStatus();
  }

 private:
  TsvSpec spec_;
  std::vector<int64_t> vocabulary_;
  LabelRange labels_;
};

}  // namespace

absl::StatusOr<TsvSpec> ParseTsvSpec(absl::string_view text) {
  TsvSpec spec;
  int labels = 0;
  std::set<std::string> names;
  int position = 0;
  for (absl::string_view entry : absl::StrSplit(text, ',')) {
    ++position;
    entry = absl::StripAsciiWhitespace(entry);
    TsvColumn column;
    if (entry == "label") {
      column.kind = TsvColumn::Kind::kLabel;
      ++labels;
    } else if (entry == "-") {
      column.kind = TsvColumn::Kind::kIgnored;
    } else {
      std::pair<absl::string_view, absl::string_view> parts = absl::StrSplit(entry, ':');
      if (parts.first.empty() || parts.second.empty()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "TSV column spec entry ", position, " '", entry,
            "': expected 'label', '-' or NAME:cat|int|id"));
      }
      if (parts.second == "cat") {
        column.kind = TsvColumn::Kind::kCategorical;
      } else if (parts.second == "int") {
        column.kind = TsvColumn::Kind::kInteger;
      } else if (parts.second == "id") {
        column.kind = TsvColumn::Kind::kId;
      } else {
        return absl::InvalidArgumentError(absl::StrCat(
            "TSV column spec entry ", position, " '", entry, "': unknown kind '", parts.second,
            "' (cat, int or id)"));
      }
      column.name = std::string(parts.first);
      if (!names.insert(column.name).second) {
        return absl::InvalidArgumentError(absl::StrCat(
            "TSV column spec entry ", position, ": the name '", column.name, "' is used twice"));
      }
      spec.fields.push_back(column.name);
    }
    spec.columns.push_back(std::move(column));
  }
  if (labels != 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "TSV column spec '", text, "' has ", labels, " 'label' columns; exactly 1 expected"));
  }
  return spec;
}

absl::StatusOr<std::unique_ptr<ExampleSource>> OpenTsv(LineFileOptions options, TsvSpec spec,
                                                       std::vector<int64_t> vocabulary,
                                                       LabelRange labels) {
  if (vocabulary.size() != spec.fields.size()) {
    return absl::InvalidArgumentError(absl::StrCat("TSV: ", vocabulary.size(),
                                                   " vocabulary sizes given, ",
                                                   spec.fields.size(), " expected"));
  }
  auto source =
      std::make_unique<TsvSource>(std::move(options), std::move(spec),
                                               std::move(vocabulary), labels);
  absl::Status opened = source->Open();
  if (!opened.ok()) return opened;
  return std::unique_ptr<ExampleSource>(std::move(source));
}

}  // namespace training
}  // namespace embrt
