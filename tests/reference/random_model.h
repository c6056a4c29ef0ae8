// Copyright embrt authors.
//
// File: tests/reference/random_model.h
// ------------------------------------
// Seeded random models, batches, gradients and table states for differential tests against the
// scalar reference: 1–4 tables, any dim and vocabulary, every combiner, weights, sequence
// features, several features per table, every optimizer and option, empty bags and duplicate
// ids. The generator is a splitmix64 stream with its own float mapping, so a seed gives the same
// case on every platform and standard library.

#ifndef EMBRT_TESTS_REFERENCE_RANDOM_MODEL_H_
#define EMBRT_TESTS_REFERENCE_RANDOM_MODEL_H_

#include <cstdint>
#include <string>
#include <vector>

#include "scalar_reference.h"

namespace embrt {
namespace reference {

class RandomSource {
 public:
  explicit RandomSource(uint64_t seed) : state_(seed) {}
  uint64_t Next();
  int64_t Int(int64_t lo, int64_t hi);  // inclusive
  float Float(float lo, float hi);      // [lo, hi)
  bool Chance(double probability);

 private:
  uint64_t state_;
};

struct RandomModelLimits {
  int max_tables = 4;
  int32_t min_dim = 1;  // above 1: every dim drawn from [min_dim, max_dim]
  int32_t max_dim = 130;
  int64_t max_vocabulary = 1000;
  int max_features_per_table = 3;
  int64_t max_batch = 8;  // per-replica rows of every feature
  int max_bag = 6;
  int num_replicas = 1;
  // Empty: every optimizer.
  std::vector<Optimizer> optimizers;
  // Empty: every combiner.
  std::vector<Combiner> combiners;
};

ModelSpec RandomModel(RandomSource& random, const RandomModelLimits& limits);
// One replica's inputs: empty bags, duplicate ids, weights on some features, dense (one id
// per row, no row_splits) now and then; sequence rows never longer than the feature's L.
// With `sequence_positions` (ABI 1.1), every sequence row also gets random positions: an
// ascending subset of [0, L), so rows have holes.
ReplicaBatch RandomBatch(RandomSource& random, const ModelSpec& model,
                         bool sequence_positions = false);
// Gradients in [-1, 1]; each feature's is missing (a zero gradient) with `none_probability`.
Gradients RandomGradients(RandomSource& random, const ModelSpec& model,
                          double none_probability = 0.1);
std::vector<float> RandomLearningRates(RandomSource& random, const ModelSpec& model);
// Random parameters in [-1, 1] and slot values valid for each optimizer.
void RandomizeState(RandomSource& random, ScalarReference& reference);

// One line per table and feature, for failure messages.
std::string Describe(const ModelSpec& model);

}  // namespace reference
}  // namespace embrt

#endif  // EMBRT_TESTS_REFERENCE_RANDOM_MODEL_H_
