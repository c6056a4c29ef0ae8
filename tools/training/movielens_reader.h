// Copyright embrt authors.
//
// File: tools/training/movielens_reader.h
// ---------------------------------------
// Streams MovieLens ratings in the ml-100k `u.data` format: `user item rating timestamp`, one
// rating per line, separated by tabs (spaces are accepted too; the timestamp may be absent).
// The fields are "user" and "item"; ids are used as rows as they are (ml-100k numbers users
// 1..943 and items 1..1682, so vocabularies of 944 and 1683 fit), and an id outside its table
// is a bad line. The label is the rating; one outside the declared range is a bad line.

#ifndef EMBRT_TOOLS_TRAINING_MOVIELENS_READER_H_
#define EMBRT_TOOLS_TRAINING_MOVIELENS_READER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "tools/training/example_source.h"
#include "tools/training/line_file_source.h"

namespace embrt {
namespace training {

// "user", "item".
const std::vector<std::string>& MovieLensFieldNames();

// `vocabulary`: rows of the user and item tables (0: field unused). A rating outside `ratings`
// (ml-100k: 1..5) is a bad line.
absl::StatusOr<std::unique_ptr<ExampleSource>> OpenMovieLens(LineFileOptions options,
                                                             std::vector<int64_t> vocabulary,
                                                             LabelRange ratings = {});

}  // namespace training
}  // namespace embrt

#endif  // EMBRT_TOOLS_TRAINING_MOVIELENS_READER_H_
