// Copyright embrt authors.
//
// Fuzz target: Enqueue's input conversion (dense, sparse and ragged ids with random shapes, ids
// and weights) against a random feature layout. An accepted input must come out as well-formed
// CSR: input_rows + 1 ascending splits ending at the id count, ids inside the vocabulary,
// finite weights, sequence rows no longer than max_sequence_length.

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "embrt/config.h"
#include "embrt/inputs.h"
#include "fuzz_input.h"
#include "input_conversion.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  embrt::fuzz::FuzzInput in(data, size);
  embrt::ResolvedTable table;
  table.name = "t";
  table.vocabulary_size = in.TakeInRange(1, 64);
  table.dim = 4;
  embrt::ResolvedFeature feature;
  feature.name = "f";
  feature.max_sequence_length = static_cast<int32_t>(in.TakeBool() ? in.TakeInRange(1, 4) : 0);
  embrt::internal::FeatureLayout layout;
  layout.feature = &feature;
  layout.table = &table;
  layout.input_rows = in.TakeInRange(0, 16);
  layout.output_shape = {layout.input_rows};

  embrt::FeatureInput input;
  input.kind = static_cast<embrt::InputKind>(in.TakeInRange(0, 2));
  const int64_t rank = in.TakeInRange(0, 4);
  for (int64_t d = 0; d < rank; ++d) input.shape.push_back(in.TakeInterestingInt64());
  std::vector<int64_t> values(static_cast<size_t>(in.TakeInRange(0, 32)));
  for (int64_t& v : values) v = in.TakeInterestingInt64();
  std::vector<int64_t> indices(static_cast<size_t>(in.TakeInRange(0, 128)));
  for (int64_t& i : indices) i = in.TakeInterestingInt64();
  std::vector<int64_t> splits(static_cast<size_t>(in.TakeInRange(0, 20)));
  for (int64_t& s : splits) s = in.TakeInterestingInt64();
  input.values = values;
  input.indices = indices;
  input.row_splits = splits;

  std::vector<float> weight_values;
  std::optional<embrt::FeatureWeights> weights;
  if (in.TakeBool()) {
    weight_values.resize(in.TakeBool() ? values.size() : static_cast<size_t>(in.TakeInRange(0, 33)));
    for (float& w : weight_values) w = in.Take<float>();
    weights = embrt::FeatureWeights{static_cast<embrt::InputKind>(in.TakeInRange(0, 2)),
                                    weight_values};
  }

  embrt::internal::CsrFeature csr;
  if (!embrt::internal::ConvertFeatureInput(layout, input, weights, &csr).ok()) return 0;
  FUZZ_CHECK(csr.row_splits.size() == static_cast<size_t>(layout.input_rows) + 1);
  FUZZ_CHECK(csr.row_splits[0] == 0);
  for (size_t r = 0; r + 1 < csr.row_splits.size(); ++r) {
    FUZZ_CHECK(csr.row_splits[r] <= csr.row_splits[r + 1]);
    if (feature.max_sequence_length > 0) {
      FUZZ_CHECK(csr.row_splits[r + 1] - csr.row_splits[r] <= feature.max_sequence_length);
    }
  }
  FUZZ_CHECK(static_cast<size_t>(csr.row_splits.back()) == csr.id_view.size());
  FUZZ_CHECK(csr.id_view.size() <= values.size());
  for (int64_t id : csr.id_view) FUZZ_CHECK(id >= 0 && id < table.vocabulary_size);
  FUZZ_CHECK(csr.weight_view.empty() || csr.weight_view.size() == csr.id_view.size());
  for (float w : csr.weight_view) FUZZ_CHECK(std::isfinite(w));
  return 0;
}
