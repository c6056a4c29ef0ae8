// Copyright embrt authors.

#include "tools/training/data_setup.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "embrt/status_macros.h"
#include "tools/training/criteo_reader.h"
#include "tools/training/movielens_reader.h"
#include "tools/training/tsv_reader.h"

namespace embrt {
namespace training {
namespace {

absl::StatusOr<std::unique_ptr<ExampleSource>> OpenFile(const DataOptions& options,
                                                        const std::string& path,
                                                        LineSelection selection,
                                                        const std::vector<int64_t>& vocabulary) {
  LineFileOptions file;
  file.path = path;
  file.on_bad_line = options.on_bad_line;
  file.selection = selection;
  switch (options.format) {
    case DataFormat::kCriteo:
      return OpenCriteo(file, vocabulary);
    case DataFormat::kMovieLens:
      return OpenMovieLens(file, vocabulary);
    case DataFormat::kTsv: {
      EMBRT_ASSIGN_OR_RETURN(TsvSpec spec, ParseTsvSpec(options.tsv_columns));
      return OpenTsv(file, std::move(spec), vocabulary);
    }
    case DataFormat::kSynthetic:
      break;
  }
  return absl::InternalError("not a file format");
}

}  // namespace

absl::StatusOr<DataFormat> ParseDataFormat(absl::string_view name) {
  if (name == "synthetic") return DataFormat::kSynthetic;
  if (name == "criteo") return DataFormat::kCriteo;
  if (name == "movielens") return DataFormat::kMovieLens;
  if (name == "tsv") return DataFormat::kTsv;
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown data format '", name, "' (synthetic, criteo, movielens or tsv)"));
}

const char* DataFormatName(DataFormat format) {
  switch (format) {
    case DataFormat::kSynthetic: return "synthetic";
    case DataFormat::kCriteo: return "criteo";
    case DataFormat::kMovieLens: return "movielens";
    case DataFormat::kTsv: return "tsv";
  }
  return "?";
}

Loss DefaultLoss(DataFormat format) {
  return format == DataFormat::kMovieLens ? Loss::kSquared : Loss::kLogistic;
}

absl::StatusOr<DataSources> OpenDataSources(const ResolvedConfig& config,
                                            const DataOptions& options, bool with_train) {
  std::vector<std::string> fields;
  switch (options.format) {
    case DataFormat::kSynthetic:
      if (options.synthetic == nullptr) return absl::InternalError("no synthetic generator");
      fields = options.synthetic->fields();
      break;
    case DataFormat::kCriteo:
      fields = CriteoFieldNames();
      break;
    case DataFormat::kMovieLens:
      fields = MovieLensFieldNames();
      break;
    case DataFormat::kTsv: {
      if (options.tsv_columns.empty()) {
        return absl::InvalidArgumentError(
            "--format=tsv needs --tsv_columns (e.g. label,user:id,item:id,-)");
      }
      EMBRT_ASSIGN_OR_RETURN(TsvSpec spec, ParseTsvSpec(options.tsv_columns));
      fields = spec.fields;
      break;
    }
  }
  if (options.format != DataFormat::kSynthetic) {
    if (with_train && options.data.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--format=", DataFormatName(options.format), " needs --data=FILE"));
    }
    if (!with_train && options.data.empty() && options.eval_data.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--format=", DataFormatName(options.format), " needs --eval_data=FILE or --data"));
    }
  }

  DataSources sources;
  std::vector<int64_t> vocabulary(fields.size(), 0);
  for (size_t f = 0; f < config.features.size(); ++f) {
    const ResolvedFeature& feature = config.features[f];
    int field = -1;
    for (size_t i = 0; i < fields.size(); ++i) {
      if (fields[i] == feature.name) field = static_cast<int>(i);
    }
    if (field < 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "feature '", feature.name, "' (feature ", f, ") is not a field of the ",
          DataFormatName(options.format), " data; its fields are ", absl::StrJoin(fields, ", ")));
    }
    if (vocabulary[field] != 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "feature '", feature.name, "' (feature ", f, ") is configured twice"));
    }
    if (feature.max_sequence_length > 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "feature '", feature.name, "': sequence features are not supported by the "
          "factorization machine (max_sequence_length must be 0)"));
    }
    vocabulary[field] = config.tables[feature.table_index].vocabulary_size;
    sources.feature_fields.push_back(field);
  }

  if (options.format == DataFormat::kSynthetic) {
    if (with_train) {
      sources.train = OpenSyntheticClicks(options.synthetic, 0, 0, vocabulary);
    }
    sources.eval = OpenSyntheticClicks(options.synthetic, 1, options.eval_examples, vocabulary);
    return sources;
  }
  const bool split = options.eval_data.empty();
  const std::string& train_path = options.data;
  if (with_train) {
    LineSelection selection;
    if (split) selection = {options.holdout_every, false};
    EMBRT_ASSIGN_OR_RETURN(sources.train, OpenFile(options, train_path, selection, vocabulary));
  }
  if (split) {
    LineSelection selection{options.holdout_every, true};
    if (!with_train) selection = {};  // evaluating a file: every line of it
    EMBRT_ASSIGN_OR_RETURN(sources.eval, OpenFile(options, train_path, selection, vocabulary));
  } else {
    EMBRT_ASSIGN_OR_RETURN(sources.eval,
                           OpenFile(options, options.eval_data, LineSelection{}, vocabulary));
  }
  return sources;
}

absl::StatusOr<BadLinePolicy> ParseBadLinePolicy(const std::string& text) {
  if (text == "skip") return BadLinePolicy::kSkip;
  if (text == "fail") return BadLinePolicy::kFail;
  return absl::InvalidArgumentError(
      absl::StrCat("--on_bad_line must be skip or fail, not '", text, "'"));
}

}  // namespace training
}  // namespace embrt
