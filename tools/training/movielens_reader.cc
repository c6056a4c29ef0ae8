// Copyright embrt authors.

#include "tools/training/movielens_reader.h"

#include <cmath>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace embrt {
namespace training {
namespace {

class MovieLensSource : public LineFileSource {
 public:
  MovieLensSource(LineFileOptions options, std::vector<int64_t> vocabulary, LabelRange ratings)
      : LineFileSource(std::move(options), "MovieLens"),
        vocabulary_(std::move(vocabulary)),
        ratings_(ratings) {}

  using LineFileSource::Open;
  const std::vector<std::string>& fields() const override { return MovieLensFieldNames(); }

 protected:
  absl::Status ParseLine(absl::string_view line, Example& example) override {
    std::vector<absl::string_view> columns =
        absl::StrSplit(line, absl::ByAnyChar("\t "), absl::SkipEmpty());
    if (columns.size() < 3 || columns.size() > 4) {
      return absl::InvalidArgumentError(absl::StrCat(
          columns.size(), " fields; expected 'user item rating [timestamp]'"));
    }
    for (int field = 0; field < 2; ++field) {
      int64_t id;
      if (!absl::SimpleAtoi(columns[field], &id)) {
        return absl::InvalidArgumentError(absl::StrCat(
            MovieLensFieldNames()[field], " id '", columns[field], "' is not an integer"));
      }
      if (vocabulary_[field] == 0) continue;
      if (id < 0 || id >= vocabulary_[field]) {
        return absl::InvalidArgumentError(absl::StrCat(
            MovieLensFieldNames()[field], " id ", id, " is outside the table's ",
            vocabulary_[field], " rows"));
      }
      example.ids[field] = id;
    }
    float rating;
    if (!absl::SimpleAtof(columns[2], &rating) || !std::isfinite(rating)) {
      return absl::InvalidArgumentError(
          absl::StrCat("rating '", columns[2], "' is not a number"));
    }
    if (!ratings_.Contains(rating)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "rating ", columns[2], " is outside --rating_range ", ratings_.min, "..",
          ratings_.max));
    }
    if (columns.size() == 4) {
      int64_t timestamp;
      if (!absl::SimpleAtoi(columns[3], &timestamp)) {
        return absl::InvalidArgumentError(
            absl::StrCat("timestamp '", columns[3], "' is not an integer"));
      }
    }
    example.label = rating;
    return absl::OkStatus();
  }

 private:
  std::vector<int64_t> vocabulary_;
  LabelRange ratings_;
};

}  // namespace

const std::vector<std::string>& MovieLensFieldNames() {
  static const std::vector<std::string>* names = new std::vector<std::string>{"user", "item"};
  return *names;
}

absl::StatusOr<std::unique_ptr<ExampleSource>> OpenMovieLens(LineFileOptions options,
                                                             std::vector<int64_t> vocabulary,
                                                             LabelRange ratings) {
  if (vocabulary.size() != 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("MovieLens: ", vocabulary.size(), " vocabulary sizes given, 2 expected"));
  }
  auto source = std::make_unique<MovieLensSource>(std::move(options), std::move(vocabulary),
                                                    ratings);
  absl::Status opened = source->Open();
  if (!opened.ok()) return opened;
  return std::unique_ptr<ExampleSource>(std::move(source));
}

}  // namespace training
}  // namespace embrt
