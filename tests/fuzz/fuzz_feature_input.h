// Copyright embrt authors.
//
// One feature's input (dense, sparse or ragged ids, optional weights) taken off the fuzzer's
// bytes, for the targets that feed the core's input checks (input_conversion, serving).

#ifndef EMBRT_TESTS_FUZZ_FUZZ_FEATURE_INPUT_H_
#define EMBRT_TESTS_FUZZ_FUZZ_FEATURE_INPUT_H_

#include <cstdint>
#include <optional>
#include <vector>

#include "embrt/inputs.h"
#include "fuzz_input.h"

namespace embrt {
namespace fuzz {

// `input` and `weights` view the vectors beside them: fill in place, do not copy.
struct FuzzFeatureInput {
  std::vector<int64_t> values, indices, splits;
  std::vector<float> weight_values;
  FeatureInput input;
  std::optional<FeatureWeights> weights;

  FuzzFeatureInput() = default;
  FuzzFeatureInput(const FuzzFeatureInput&) = delete;
  FuzzFeatureInput& operator=(const FuzzFeatureInput&) = delete;
};

// Takes, in this order: the kind, a rank of 0-4 and its dims, 0 to `max_values` ids, 0-128
// index values, 0-20 row splits (every integer usually small, sometimes extreme), then
// optionally weights (as many as the ids, or 0 to max_values + 1) and their kind.
inline void TakeFeatureInput(FuzzInput& in, int64_t max_values, FuzzFeatureInput* out) {
  out->input.kind = static_cast<InputKind>(in.TakeInRange(0, 2));
  const int64_t rank = in.TakeInRange(0, 4);
  for (int64_t d = 0; d < rank; ++d) out->input.shape.push_back(in.TakeInterestingInt64());
  out->values.resize(static_cast<size_t>(in.TakeInRange(0, max_values)));
  for (int64_t& v : out->values) v = in.TakeInterestingInt64();
  out->indices.resize(static_cast<size_t>(in.TakeInRange(0, 128)));
  for (int64_t& i : out->indices) i = in.TakeInterestingInt64();
  out->splits.resize(static_cast<size_t>(in.TakeInRange(0, 20)));
  for (int64_t& s : out->splits) s = in.TakeInterestingInt64();
  out->input.values = out->values;
  out->input.indices = out->indices;
  out->input.row_splits = out->splits;
  if (in.TakeBool()) {
    out->weight_values.resize(in.TakeBool()
                                  ? out->values.size()
                                  : static_cast<size_t>(in.TakeInRange(0, max_values + 1)));
    for (float& w : out->weight_values) w = in.Take<float>();
    out->weights = FeatureWeights{static_cast<InputKind>(in.TakeInRange(0, 2)), out->weight_values};
  }
}

}  // namespace fuzz
}  // namespace embrt

#endif  // EMBRT_TESTS_FUZZ_FUZZ_FEATURE_INPUT_H_
