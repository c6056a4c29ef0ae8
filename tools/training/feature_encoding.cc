// Copyright embrt authors.

#include "tools/training/feature_encoding.h"

#include <algorithm>

#include "xxhash.h"

namespace embrt {
namespace training {

int64_t HashCategorical(absl::string_view value, int field_index, int64_t vocabulary) {
  if (value.empty() || vocabulary < 2) return 0;
  const uint64_t hash =
      XXH64(value.data(), value.size(), static_cast<XXH64_hash_t>(field_index));
  return 1 + static_cast<int64_t>(hash % static_cast<uint64_t>(vocabulary - 1));
}

int64_t BucketizeInteger(std::optional<int64_t> value, int64_t vocabulary) {
  int64_t bucket;
  if (!value.has_value()) {
    bucket = 0;
  } else if (*value < 0) {
    bucket = 1;
  } else if (*value == 0) {
    bucket = 2;
  } else {
    int log2 = 63 - __builtin_clzll(static_cast<uint64_t>(*value));
    bucket = 3 + log2;
  }
  return std::min<int64_t>(bucket, std::max<int64_t>(vocabulary - 1, 0));
}

}  // namespace training
}  // namespace embrt
