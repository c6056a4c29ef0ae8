// Copyright embrt authors.
//
// File: tools/training/feature_encoding.h
// ---------------------------------------
// How raw field values become table rows, shared by every text format.
//
//   Categorical strings:  ""  -> row 0 (missing)
//                         s   -> 1 + XXH64(s, seed = field index) % (vocabulary - 1)
//   Integers (counts):    missing -> 0, x < 0 -> 1, x == 0 -> 2,
//                         x >= 1  -> 3 + floor(log2(x)), capped at vocabulary - 1.
//                         66 rows cover every int64 (kIntegerBuckets).
//
// The hash is fixed (XXH64 of the bytes, seeded with the field's position), so ids do not
// change from run to run or machine to machine.

#ifndef EMBRT_TOOLS_TRAINING_FEATURE_ENCODING_H_
#define EMBRT_TOOLS_TRAINING_FEATURE_ENCODING_H_

#include <cstdint>
#include <optional>

#include "absl/strings/string_view.h"

namespace embrt {
namespace training {

// Rows needed so that no integer bucket is capped.
inline constexpr int64_t kIntegerBuckets = 66;

// Row of a categorical value; `vocabulary` >= 2.
int64_t HashCategorical(absl::string_view value, int field_index, int64_t vocabulary);

// Row of an integer value (nullopt: missing); `vocabulary` >= 1.
int64_t BucketizeInteger(std::optional<int64_t> value, int64_t vocabulary);

}  // namespace training
}  // namespace embrt

#endif  // EMBRT_TOOLS_TRAINING_FEATURE_ENCODING_H_
