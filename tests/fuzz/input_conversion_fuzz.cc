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
#include "fuzz_feature_input.h"
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

  embrt::fuzz::FuzzFeatureInput taken;
  embrt::fuzz::TakeFeatureInput(in, /*max_values=*/32, &taken);
  const embrt::FeatureInput& input = taken.input;
  const std::optional<embrt::FeatureWeights>& weights = taken.weights;
  const std::vector<int64_t>& values = taken.values;

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
