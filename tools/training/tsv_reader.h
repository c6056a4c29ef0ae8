// Copyright embrt authors.
//
// File: tools/training/tsv_reader.h
// ---------------------------------
// Streams any tab-separated file described by a column spec: a comma-separated list with one
// entry per column, in column order:
//
//   label        the label (a number: 0/1 for clicks, or a rating)
//   NAME:cat     a categorical string, hashed into the table (feature_encoding.h)
//   NAME:int     an integer count, log2-bucketized (feature_encoding.h)
//   NAME:id      an integer used as the row as it is (must be in [0, vocabulary))
//   -            a column to ignore
//
// Example: "label,user:id,item:id,-,genre:cat" for `rating user item timestamp genre`.
// Exactly one `label`; NAMEs are the fields (matched with the config's feature names) and must
// be unique. Missing trailing columns are empty (cat and int: the missing row; id and label:
// a bad line); extra columns are a bad line.

#ifndef EMBRT_TOOLS_TRAINING_TSV_READER_H_
#define EMBRT_TOOLS_TRAINING_TSV_READER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "tools/training/example_source.h"
#include "tools/training/line_file_source.h"

namespace embrt {
namespace training {

struct TsvColumn {
  enum class Kind { kLabel, kCategorical, kInteger, kId, kIgnored };
  Kind kind = Kind::kIgnored;
  std::string name;  // empty for label and ignored columns
};

struct TsvSpec {
  std::vector<TsvColumn> columns;
  std::vector<std::string> fields;  // names of the cat/int/id columns, in column order
};

// Parses the column spec; INVALID_ARGUMENT naming the entry (by position) otherwise.
absl::StatusOr<TsvSpec> ParseTsvSpec(absl::string_view spec);

// `vocabulary`: one entry per spec.fields (0: field unused). A label outside `labels` is a bad
// line.
absl::StatusOr<std::unique_ptr<ExampleSource>> OpenTsv(LineFileOptions options, TsvSpec spec,
                                                       std::vector<int64_t> vocabulary,
                                                       LabelRange labels = {});

}  // namespace training
}  // namespace embrt

#endif  // EMBRT_TOOLS_TRAINING_TSV_READER_H_
