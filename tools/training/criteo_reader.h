// Copyright embrt authors.
//
// File: tools/training/criteo_reader.h
// ------------------------------------
// Streams the Criteo Display Advertising Challenge format: one record per line, tab-separated
// `label, I1..I13, C1..C26`; the label is 0 or 1, I* are integer counts (may be empty), C* are
// categorical values (8-digit hex in the real data; any string is accepted, may be empty).
// Missing trailing fields are empty (some copies strip them). Integers are bucketized and
// categoricals hashed into each field's vocabulary (feature_encoding.h).
//
// Malformed lines (label not 0/1, a non-integer in I*, more than 40 fields) are skipped or
// fatal per LineFileOptions::on_bad_line, always named by file and line.

#ifndef EMBRT_TOOLS_TRAINING_CRITEO_READER_H_
#define EMBRT_TOOLS_TRAINING_CRITEO_READER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "tools/training/example_source.h"
#include "tools/training/line_file_source.h"

namespace embrt {
namespace training {

// "I1".."I13", "C1".."C26": the fields of a Criteo example, in order.
const std::vector<std::string>& CriteoFieldNames();

// `vocabulary` has one entry per field of CriteoFieldNames(): the rows of the table the field
// is looked up in (0: the field is not used; its id is always 0). Categorical fields need >= 2.
absl::StatusOr<std::unique_ptr<ExampleSource>> OpenCriteo(LineFileOptions options,
                                                          std::vector<int64_t> vocabulary);

}  // namespace training
}  // namespace embrt

#endif  // EMBRT_TOOLS_TRAINING_CRITEO_READER_H_
