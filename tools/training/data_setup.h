// Copyright embrt authors.
//
// File: tools/training/data_setup.h
// ---------------------------------
// Connects a config to a data format: every feature of the config is a field of the format,
// matched by name (Criteo: I1..I13, C1..C26; MovieLens: user, item; TSV: the spec's names;
// synthetic: C1..Cn), and looks up its own table, whose vocabulary size is what the reader
// hashes or checks ids into. Fields that no feature names are ignored.
//
// With a data file and no eval file, every 5th line (holdout_every) is held out for
// evaluation (the test set) and never trained on. With validation_fraction > 0, a seeded
// choice of the remaining training lines becomes the validation set (early stopping); the test
// file or test lines are never part of it. Training lines stream through a seeded shuffle
// buffer (shuffle_buffer.h). The synthetic format streams endless training examples, a fixed
// held-out set of eval_examples and, for validation, a third stream of as many examples.
//
// Every file is opened and its first example read before anything trains: a missing, empty,
// binary or wrong-format file (training, validation or eval) fails here.

#ifndef EMBRT_TOOLS_TRAINING_DATA_SETUP_H_
#define EMBRT_TOOLS_TRAINING_DATA_SETUP_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "embrt/config.h"
#include "tools/training/example_source.h"
#include "tools/training/factorization_machine.h"
#include "tools/training/synthetic_clicks.h"

namespace embrt {
namespace training {

enum class DataFormat { kSynthetic, kCriteo, kMovieLens, kTsv };

// "synthetic", "criteo", "movielens", "tsv" (INVALID_ARGUMENT otherwise).
absl::StatusOr<DataFormat> ParseDataFormat(absl::string_view name);
const char* DataFormatName(DataFormat format);

// Logistic for clicks (synthetic, Criteo, TSV by default), squared for ratings (MovieLens).
Loss DefaultLoss(DataFormat format);

struct DataOptions {
  DataFormat format = DataFormat::kSynthetic;
  std::string data;       // training file (not synthetic)
  std::string eval_data;  // held-out file; empty: every holdout_every-th line of `data`
  int64_t holdout_every = 5;
  // Fraction of the training lines (seeded by `seed`) held out for validation; 0: none.
  double validation_fraction = 0;
  // Shuffle buffer of the training source in examples (files only); 0: the file's order.
  int64_t shuffle_buffer = 0;
  uint64_t seed = 1;  // of the validation split and the shuffle
  // Labels outside this range are bad lines (movielens and tsv).
  LabelRange label_range;
  std::string tsv_columns;  // the TSV column spec (tsv_reader.h)
  BadLinePolicy on_bad_line = BadLinePolicy::kSkip;
  // Synthetic: the generator, the held-out set size.
  std::shared_ptr<const SyntheticClicks> synthetic;
  int64_t eval_examples = 20000;
};

struct DataSources {
  std::unique_ptr<ExampleSource> train;  // null when only evaluating
  std::unique_ptr<ExampleSource> eval;
  std::unique_ptr<ExampleSource> validation;  // null without validation_fraction
  // For each config feature, its index in the sources' fields.
  std::vector<int> feature_fields;
};

// Opens the sources for `config` (train too when `with_train`). Errors name the feature and
// list the format's fields when a feature does not match one; missing files are NOT_FOUND.
absl::StatusOr<DataSources> OpenDataSources(const ResolvedConfig& config,
                                            const DataOptions& options, bool with_train);

// Whether line `line_number` (from 1) of a training file belongs to the validation split: a
// hash of (seed, line) below `fraction`. Deterministic and independent of the other lines.
bool IsValidationLine(uint64_t seed, double fraction, int64_t line_number);

// The default --shuffle_buffer for files: 100,000 examples (ml-100k's folds shuffle whole; a
// Criteo-sized file mixes within a window, ~31 MB for 39 fields).
inline constexpr int64_t kDefaultShuffleBuffer = 100000;

// The --rating_range flag: "MIN..MAX" with finite MIN <= MAX; INVALID_ARGUMENT otherwise.
absl::StatusOr<LabelRange> ParseLabelRange(const std::string& text);

// The labels `format` declares: 1..5 for movielens (ml-100k's stars), any for the others.
LabelRange DefaultLabelRange(DataFormat format);

// The --on_bad_line flag: "skip" or "fail"; anything else is INVALID_ARGUMENT.
absl::StatusOr<BadLinePolicy> ParseBadLinePolicy(const std::string& text);

}  // namespace training
}  // namespace embrt

#endif  // EMBRT_TOOLS_TRAINING_DATA_SETUP_H_
