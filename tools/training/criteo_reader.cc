// Copyright embrt authors.

#include "tools/training/criteo_reader.h"

#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "tools/training/feature_encoding.h"

namespace embrt {
namespace training {
namespace {

constexpr int kIntegerFields = 13;
constexpr int kCategoricalFields = 26;
constexpr int kColumns = 1 + kIntegerFields + kCategoricalFields;

class CriteoSource : public LineFileSource {
 public:
  CriteoSource(LineFileOptions options, std::vector<int64_t> vocabulary)
      : LineFileSource(std::move(options), "Criteo"), vocabulary_(std::move(vocabulary)) {}

  using LineFileSource::Open;
  const std::vector<std::string>& fields() const override { return CriteoFieldNames(); }

 protected:
  absl::Status ParseLine(absl::string_view line, Example& example) override {
    int column = 0;
    for (absl::string_view value : absl::StrSplit(line, '\t')) {
      if (column >= kColumns) {
        return absl::InvalidArgumentError(
            absl::StrCat("more than ", kColumns, " tab-separated fields"));
      }
      if (column == 0) {
        if (value != "0" && value != "1") {
          return absl::InvalidArgumentError(
              absl::StrCat("label '", value, "' is not 0 or 1"));
        }
        example.label = value == "1" ? 1.0f : 0.0f;
      } else {
        const int field = column - 1;
        if (vocabulary_[field] > 0) {
          if (field < kIntegerFields) {
            std::optional<int64_t> number;
            if (!value.empty()) {
              int64_t parsed;
              if (!absl::SimpleAtoi(value, &parsed)) {
                return absl::InvalidArgumentError(absl::StrCat(
                    "field ", CriteoFieldNames()[field], " value '", value,
                    "' is not an integer"));
              }
              number = parsed;
            }
            example.ids[field] = BucketizeInteger(number, vocabulary_[field]);
          } else {
            example.ids[field] = HashCategorical(value, field, vocabulary_[field]);
          }
        }
      }
      ++column;
    }
    if (column < 1 + kIntegerFields) {
      // Stripped trailing categoricals are fine; a line without the integer block is not
      // Criteo (and this is how other formats are told apart).
      return absl::InvalidArgumentError(
          absl::StrCat("only ", column, " tab-separated fields (at least ",
                       1 + kIntegerFields, " expected)"));
    }
    // Missing trailing fields are empty.
    for (int field = column - 1; field < kIntegerFields + kCategoricalFields; ++field) {
      if (vocabulary_[field] == 0) continue;
      example.ids[field] = field < kIntegerFields
                               ? BucketizeInteger(std::nullopt, vocabulary_[field])
                               : 0;
    }
    return absl::OkStatus();
  }

 private:
  std::vector<int64_t> vocabulary_;
};

}  // namespace

const std::vector<std::string>& CriteoFieldNames() {
  static const std::vector<std::string>* names = [] {
    auto* result = new std::vector<std::string>;
    for (int i = 1; i <= kIntegerFields; ++i) result->push_back(absl::StrCat("I", i));
    for (int i = 1; i <= kCategoricalFields; ++i) result->push_back(absl::StrCat("C", i));
    return result;
  }();
  return *names;
}

absl::StatusOr<std::unique_ptr<ExampleSource>> OpenCriteo(LineFileOptions options,
                                                          std::vector<int64_t> vocabulary) {
  const std::vector<std::string>& names = CriteoFieldNames();
  if (vocabulary.size() != names.size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Criteo: ", vocabulary.size(), " vocabulary sizes given, ", names.size(), " expected"));
  }
  for (size_t field = kIntegerFields; field < names.size(); ++field) {
    if (vocabulary[field] == 1) {
      return absl::InvalidArgumentError(absl::StrCat(
          "Criteo field ", names[field], ": a categorical field needs a vocabulary of at least 2 "
          "(row 0 is 'missing')"));
    }
  }
  auto source = std::make_unique<CriteoSource>(std::move(options), std::move(vocabulary));
  absl::Status opened = source->Open();
  if (!opened.ok()) return opened;
  return std::unique_ptr<ExampleSource>(std::move(source));
}

}  // namespace training
}  // namespace embrt
