// Copyright embrt authors.
//
// File: tools/training/synthetic_clicks.h
// ---------------------------------------
// The built-in data set: a seeded generator of Criteo-like click logs whose labels come from a
// hidden "teacher" factorization machine, so that the best achievable AUC is known.
//
//   * fields C1..C26 with Criteo's cardinalities (Kaggle train set), capped at
//     max_cardinality so that the tables fit a small machine;
//   * ids per field drawn from a Zipf law (rank r with probability ~ 1 / (r + 1)^s; the id is
//     the rank), sampled with an alias table;
//   * label ~ Bernoulli(sigmoid(teacher logit)), teacher logit = bias + sum_f w_f[id_f]
//     + sum_{f<g} <v_f[id_f], v_g[id_g]> with w ~ N(0, linear_stddev^2) and
//     v ~ N(0, interaction_stddev^2) per element, drawn from the seed.
//
// Streams are numbered (0: training, 1: held-out); each stream is its own sequence of
// examples, the same for the same (seed, stream), so runs repeat exactly.
//
// Thread safety: a SyntheticClicks is immutable after construction and may be shared; each
// stream (ExampleSource) is used by one thread at a time.

#ifndef EMBRT_TOOLS_TRAINING_SYNTHETIC_CLICKS_H_
#define EMBRT_TOOLS_TRAINING_SYNTHETIC_CLICKS_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "tools/training/example_source.h"
#include "tools/training/random.h"

namespace embrt {
namespace training {

struct SyntheticClicksOptions {
  uint64_t seed = 1;
  int num_fields = 26;              // at most 26 (C1..C26)
  int64_t max_cardinality = 10000;  // Criteo's cardinalities capped at this
  double zipf_exponent = 1.1;
  int teacher_dim = 4;              // 1..64
  double bias = -1.6;
  double linear_stddev = 0.3;
  double interaction_stddev = 0.15;
};

class SyntheticClicks {
 public:
  explicit SyntheticClicks(const SyntheticClicksOptions& options);

  const SyntheticClicksOptions& options() const { return options_; }
  // "C1", "C2", ...: one per field.
  const std::vector<std::string>& fields() const { return fields_; }
  // Rows per field; ids of field f are in [0, cardinalities()[f]).
  const std::vector<int64_t>& cardinalities() const { return cardinalities_; }

  // Draws one example (ids and label) from `random`.
  void Sample(Random& random, Example& example) const;

  // The teacher's logit for these ids (one per field).
  double TeacherLogit(absl::Span<const int64_t> ids) const;

 private:
  SyntheticClicksOptions options_;
  std::vector<std::string> fields_;
  std::vector<int64_t> cardinalities_;
  // Per field, Walker's alias table of the Zipf law: draw r uniform in [0, n), keep
  // i = floor(r) with probability keep_[f][i], else take alias_[f][i] (one draw, O(1)).
  std::vector<std::vector<double>> keep_;
  std::vector<std::vector<int32_t>> alias_;
  std::vector<std::vector<float>> linear_;       // per field, [cardinality]
  std::vector<std::vector<float>> interaction_;  // per field, [cardinality, teacher_dim]
};

// Seed of stream `stream` (0: training, 1: held-out) of `clicks`.
uint64_t SyntheticStreamSeed(const SyntheticClicks& clicks, int stream);

// A stream of `count` examples (0: endless). Ids are taken modulo `vocabulary` per field
// (equal to the cardinalities when the tables are sized from the generator). Rewind replays
// the same examples.
std::unique_ptr<ExampleSource> OpenSyntheticClicks(std::shared_ptr<const SyntheticClicks> clicks,
                                                   int stream, int64_t count,
                                                   std::vector<int64_t> vocabulary);

// The teacher's own held-out quality on the first `count` examples of `stream`: its
// probabilities and the labels, for the metrics.
void TeacherPredictions(const SyntheticClicks& clicks, int stream, int64_t count,
                        std::vector<float>& probabilities, std::vector<float>& labels);

}  // namespace training
}  // namespace embrt

#endif  // EMBRT_TOOLS_TRAINING_SYNTHETIC_CLICKS_H_
