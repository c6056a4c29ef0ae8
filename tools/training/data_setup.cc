// Copyright embrt authors.

#include "tools/training/data_setup.h"

#include <errno.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "embrt/status_macros.h"
#include "posix_file.h"  // core/src: opens that never block
#include "tools/training/criteo_reader.h"
#include "tools/training/movielens_reader.h"
#include "tools/training/random.h"
#include "tools/training/shuffle_buffer.h"
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
      return OpenMovieLens(file, vocabulary, options.label_range);
    case DataFormat::kTsv: {
      EMBRT_ASSIGN_OR_RETURN(TsvSpec spec, ParseTsvSpec(options.tsv_columns));
      return OpenTsv(file, std::move(spec), vocabulary, options.label_range);
    }
    case DataFormat::kSynthetic:
      break;
  }
  return absl::InternalError("not a file format");
}

// A text file has no NUL byte: checking the first 4 KiB gives a binary file a real reason
// instead of 100 lines of garbage.
absl::Status CheckText(const std::string& path, const char* role) {
  // Opened as every data file is, so a FIFO in its place is an error, never a hang.
  absl::StatusOr<internal::UniqueFd> fd =
      internal::OpenRegularFile(path, internal::Symlinks::kFollow);
  if (!fd.ok()) {
    // A missing file: the reader names the format in its NOT_FOUND.
    if (absl::IsNotFound(fd.status()) || absl::IsPermissionDenied(fd.status())) {
      return absl::OkStatus();
    }
    return absl::Status(fd.status().code(),
                        absl::StrCat(role, " file: ", fd.status().message()));
  }
  char head[4096];
  ssize_t got = 0;
  while (got < static_cast<ssize_t>(sizeof(head))) {
    const ssize_t n = ::read(fd->get(), head + got, sizeof(head) - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // end of file, or an error the reader reports with its context
    got += n;
  }
  for (ssize_t i = 0; i < got; ++i) {
    if (head[i] == '\0') {
      return absl::InvalidArgumentError(absl::StrCat(
          role, " file '", path, "' is binary, not text (a NUL byte at offset ", i, ")"));
    }
  }
  return absl::OkStatus();
}

// Reads the first example and rewinds, so that an empty or wrong-format file fails before any
// training (and before any checkpoint is written). Bad lines seen here are counted once.
absl::Status CheckHasExamples(ExampleSource& source, const std::string& what) {
  Example example;
  EMBRT_ASSIGN_OR_RETURN(bool got, source.Next(example));
  if (!got) return absl::InvalidArgumentError(absl::StrCat(what, " holds no example"));
  // (`what` reads as the subject: "--eval_data 'x'", "no training example in 'x': it".)
  return source.Rewind();
}

}  // namespace

bool IsValidationLine(uint64_t seed, double fraction, int64_t line_number) {
  if (fraction <= 0) return false;
  const uint64_t hash = MixSeed(seed ^ 0x76616c6964ULL, static_cast<uint64_t>(line_number));
  return static_cast<double>(hash >> 11) * 0x1.0p-53 < fraction;
}

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

  const bool validate = with_train && options.validation_fraction > 0;
  if (options.format == DataFormat::kSynthetic) {
    if (with_train) {
      sources.train = OpenSyntheticClicks(options.synthetic, 0, 0, vocabulary);
    }
    sources.eval = OpenSyntheticClicks(options.synthetic, 1, options.eval_examples, vocabulary);
    if (validate) {
      sources.validation =
          OpenSyntheticClicks(options.synthetic, 2, options.eval_examples, vocabulary);
    }
    return sources;
  }
  const bool split = options.eval_data.empty();
  const std::string& train_path = options.data;
  if (with_train || split) EMBRT_RETURN_IF_ERROR(CheckText(train_path, "data"));
  if (!split) EMBRT_RETURN_IF_ERROR(CheckText(options.eval_data, "eval data"));
  const uint64_t seed = options.seed;
  const double fraction = validate ? options.validation_fraction : 0;
  if (with_train) {
    LineSelection selection;
    if (split) {
      selection.every = options.holdout_every;
      selection.held_out = false;
    }
    if (validate) {
      selection.keep = [seed, fraction](int64_t line) {
        return !IsValidationLine(seed, fraction, line);
      };
    }
    EMBRT_ASSIGN_OR_RETURN(sources.train, OpenFile(options, train_path, selection, vocabulary));
    EMBRT_RETURN_IF_ERROR(CheckHasExamples(
        *sources.train, absl::StrCat("no training example in '", train_path, "': it")));
    if (validate) {
      selection.keep = [seed, fraction](int64_t line) {
        return IsValidationLine(seed, fraction, line);
      };
      EMBRT_ASSIGN_OR_RETURN(sources.validation,
                             OpenFile(options, train_path, selection, vocabulary));
      EMBRT_RETURN_IF_ERROR(CheckHasExamples(
          *sources.validation,
          absl::StrCat("the validation part of '", train_path, "' (--validation_fraction=",
                       fraction, ")")));
    }
    if (options.shuffle_buffer > 1) {
      sources.train = std::make_unique<ShuffledSource>(std::move(sources.train),
                                                       options.shuffle_buffer, seed);
    }
  }
  if (split) {
    LineSelection selection;
    if (with_train) {  // evaluating a file alone: every line of it
      selection.every = options.holdout_every;
      selection.held_out = true;
    }
    EMBRT_ASSIGN_OR_RETURN(sources.eval, OpenFile(options, train_path, selection, vocabulary));
    EMBRT_RETURN_IF_ERROR(CheckHasExamples(
        *sources.eval, with_train ? absl::StrCat("the held-out part of '", train_path,
                                                 "' (every --holdout_every=",
                                                 options.holdout_every, "th line)")
                                  : absl::StrCat("'", train_path, "'")));
  } else {
    EMBRT_ASSIGN_OR_RETURN(sources.eval,
                           OpenFile(options, options.eval_data, LineSelection{}, vocabulary));
    EMBRT_RETURN_IF_ERROR(CheckHasExamples(
        *sources.eval, absl::StrCat("--eval_data '", options.eval_data, "'")));
  }
  return sources;
}

absl::StatusOr<LabelRange> ParseLabelRange(const std::string& text) {
  const size_t dots = text.find("..");
  LabelRange range;
  if (dots == std::string::npos || !absl::SimpleAtof(text.substr(0, dots), &range.min) ||
      !absl::SimpleAtof(text.substr(dots + 2), &range.max) || !std::isfinite(range.min) ||
      !std::isfinite(range.max) || range.min > range.max) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--rating_range=", text, ": expected MIN..MAX with finite MIN <= MAX, e.g. 1..5"));
  }
  return range;
}

LabelRange DefaultLabelRange(DataFormat format) {
  return format == DataFormat::kMovieLens ? LabelRange{1.0f, 5.0f} : LabelRange{};
}

absl::StatusOr<BadLinePolicy> ParseBadLinePolicy(const std::string& text) {
  if (text == "skip") return BadLinePolicy::kSkip;
  if (text == "fail") return BadLinePolicy::kFail;
  return absl::InvalidArgumentError(
      absl::StrCat("--on_bad_line must be skip or fail, not '", text, "'"));
}

}  // namespace training
}  // namespace embrt
