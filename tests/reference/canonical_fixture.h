// Copyright embrt authors.
//
// File: tests/reference/canonical_fixture.h
// -----------------------------------------
// TF's canonical embedding fixture (plugin_api/MATH.md §5.1) and its golden numbers
// (§5.2–§5.4), as plain data shared by the scalar reference's own test, the conformance suite
// (through the C ABI) and the golden tests (through embrt::Embedding).
//
//   table 0 "video": vocab 8, dim 4, sum;  table 1 "user": vocab 16, dim 2, mean;
//   both loaded row-major with 0..31 (video row r = [4r..4r+3], user row r = [2r, 2r+1]).
//   features: watched -> video, favorited -> video, friends -> user; global batch 4.
//   dL/da = a/2, whether run as one replica of 4 or two replicas of 2 (§5.1).

#ifndef EMBRT_TESTS_REFERENCE_CANONICAL_FIXTURE_H_
#define EMBRT_TESTS_REFERENCE_CANONICAL_FIXTURE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "scalar_reference.h"

namespace embrt {
namespace reference {

// One feature of the fixture as ragged rows over the global batch of 4.
struct CanonicalFeature {
  std::string name;
  int table;
  std::vector<int32_t> row_splits;  // 5 entries
  std::vector<int64_t> ids;
};
const std::vector<CanonicalFeature>& CanonicalFeatures();

// The fixture's model with `optimizer` on both tables, split over `num_replicas` (1, 2 or 4).
ModelSpec CanonicalModel(const OptimizerSpec& optimizer, int num_replicas);

// The fixture's inputs, one ReplicaBatch per replica (replica r holds examples
// [r·B, (r+1)·B) with B = 4 / num_replicas).
std::vector<ReplicaBatch> CanonicalBatches(int num_replicas);

// Every slot-0 value of table t, row-major 0..size-1 (tables 0 and 1 hold 32 floats each).
std::vector<float> RowMajorIota(int64_t size);

// §5.2: per feature, the activations of the 4 examples, [4, dim] row-major.
const std::vector<std::vector<float>>& CanonicalActivations();

// dL/da = a/2 for every value of `activations`.
Gradients HalfOf(const Activations& activations);

// A row's expected values after one step; slots follow SlotNames(kind) after "parameters".
struct RowGolden {
  int table;
  int64_t row;
  std::vector<float> parameters;
  std::vector<std::vector<float>> slots;
};

struct OptimizerGolden {
  std::string name;
  OptimizerSpec optimizer;
  // TF's tolerances (assertAllClose: |x - e| <= 1e-6 + rtol·|e|).
  double parameters_rtol;
  double slots_rtol;
  std::vector<RowGolden> rows;  // every touched row; untouched rows keep their initial values
};

// §5.3: the aggregated gradient of every touched row (as the change of an SGD step with lr=1,
// negated): table, row, gradient.
const std::vector<RowGolden>& CanonicalRowGradients();

// §5.4: one training step with lr 0.1 for SGD, Adagrad, Adam, FTRL and AdagradMomentum.
const std::vector<OptimizerGolden>& OneStepGoldens();

// assertAllClose's test: |actual - expected| <= 1e-6 + rtol·|expected|.
inline bool AllClose(double actual, double expected, double rtol) {
  const double diff = actual > expected ? actual - expected : expected - actual;
  return diff <= 1e-6 + rtol * (expected < 0 ? -expected : expected);
}

}  // namespace reference
}  // namespace embrt

#endif  // EMBRT_TESTS_REFERENCE_CANONICAL_FIXTURE_H_
