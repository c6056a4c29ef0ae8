// Copyright embrt authors.
//
// File: tests/cpu/tf_fixture.h
// ----------------------------
// The canonical fixture of plugin_api/MATH.md §5.1 (tables video and user, features
// watched, favorited, friends, a global batch of 4), and a small scalar model of the canonical
// gradient order that the unit tests use to compute expected values by hand.

#ifndef EMBRT_TESTS_CPU_TF_FIXTURE_H_
#define EMBRT_TESTS_CPU_TF_FIXTURE_H_

#include <cmath>
#include <map>
#include <utility>
#include <vector>

#include "cpu_test_harness.h"

namespace embrt {
namespace cpu_test {

// video: vocab 8, dim 4, sum; user: vocab 16, dim 2, mean. Features watched, favorited (video),
// friends (user), 4 rows each, one replica.
inline EngineSpec TfFixtureSpec(EMBRT_OptimizerKind kind, float lr = 0.1f) {
  EngineSpec spec;
  TableSpec video;
  video.name = "video";
  video.vocabulary_size = 8;
  video.dim = 4;
  video.combiner = EMBRT_COMBINER_SUM;
  video.optimizer = kind;
  video.learning_rate = lr;
  TableSpec user = video;
  user.name = "user";
  user.vocabulary_size = 16;
  user.dim = 2;
  user.combiner = EMBRT_COMBINER_MEAN;
  spec.tables = {video, user};
  spec.features = {{"watched", 0, 0, 4}, {"favorited", 0, 0, 4}, {"friends", 1, 0, 4}};
  return spec;
}

inline std::vector<Input> TfFixtureInputs() {
  return {Bags({{0}, {0, 1}, {0, 1}, {1}}), Bags({{0, 1}, {1}, {0}, {0, 1}}),
          Bags({{3}, {0, 1, 2}, {3}, {0, 1, 2}})};
}

// Loads parameters row-major 0..31 and the optimizer's initial slots (TF defaults: Adagrad and
// FTRL accumulators `initial_accumulator`, everything else 0).
inline Result LoadTfFixtureTables(CpuEngine& engine, float initial_accumulator = 0.1f) {
  for (int t = 0; t < 2; ++t) {
    const TableSpec& ts = engine.spec().tables[t];
    const int64_t rows = ts.vocabulary_size;
    std::vector<std::vector<float>> slots = {RowMajor(rows, ts.dim)};
    const bool accumulator_first =
        ts.optimizer == EMBRT_OPTIMIZER_ADAGRAD || ts.optimizer == EMBRT_OPTIMIZER_FTRL;
    for (int s = 1; s < SlotCount(ts.optimizer); ++s) {
      slots.push_back(Filled(rows, ts.dim, s == 1 && accumulator_first ? initial_accumulator : 0));
    }
    Result r = engine.Load(t, 0, slots);
    if (!r.ok()) return r;
  }
  return Result();
}

// gradient = activation / 2 (the fixture's loss).
inline std::vector<std::vector<float>> HalfOf(const std::vector<std::vector<float>>& a) {
  std::vector<std::vector<float>> g = a;
  for (auto& v : g) {
    for (float& x : v) x = x / 2.0f;
  }
  return g;
}

// Scalar model of the canonical backward order for non-sequence features:
// per replica, left-to-right over (feature, bag, position) of gain * gradient; then the sum of
// per-replica sums in replica order. Returns (table, row) -> gradient.
using RowGradients = std::map<std::pair<int, int64_t>, std::vector<float>>;
inline RowGradients CanonicalRowGradients(
    const EngineSpec& spec, const std::vector<std::vector<Input>>& inputs,
    const std::vector<std::vector<std::vector<float>>>& gradients) {
  RowGradients step;
  for (size_t r = 0; r < inputs.size(); ++r) {
    RowGradients part;
    for (size_t f = 0; f < spec.features.size(); ++f) {
      const FeatureSpec& fs = spec.features[f];
      const TableSpec& ts = spec.tables[fs.table];
      const Input& in = inputs[r][f];
      for (int64_t b = 0; b < fs.input_rows; ++b) {
        const int32_t begin = in.row_splits.empty() ? b : in.row_splits[b];
        const int32_t end = in.row_splits.empty() ? b + 1 : in.row_splits[b + 1];
        float total = 0.0f;
        for (int32_t k = begin; k < end; ++k) {
          const float w = in.weights.empty() ? 1.0f : in.weights[k];
          total += ts.combiner == EMBRT_COMBINER_SQRTN ? w * w : w;
        }
        if (ts.combiner == EMBRT_COMBINER_SQRTN) total = std::sqrt(total);
        for (int32_t k = begin; k < end; ++k) {
          const float w = in.weights.empty() ? 1.0f : in.weights[k];
          float gain = w;
          if (ts.combiner != EMBRT_COMBINER_SUM) gain = total == 0.0f ? 0.0f : w / total;
          auto& acc = part[{fs.table, in.ids[k]}];
          acc.resize(ts.dim, 0.0f);
          for (int d = 0; d < ts.dim; ++d) {
            const float g = gradients[r][f].empty() ? 0.0f : gradients[r][f][b * ts.dim + d];
            acc[d] = acc[d] + gain * g;
          }
        }
      }
    }
    for (auto& [key, value] : part) {
      auto& acc = step[key];
      acc.resize(value.size(), 0.0f);
      for (size_t d = 0; d < value.size(); ++d) acc[d] = acc[d] + value[d];
    }
  }
  return step;
}

}  // namespace cpu_test
}  // namespace embrt

#endif  // EMBRT_TESTS_CPU_TF_FIXTURE_H_
