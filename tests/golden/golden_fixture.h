// Copyright embrt authors.
//
// File: tests/golden/golden_fixture.h
// -----------------------------------
// TF's canonical fixture (plugin_api/MATH.md §5.1) driven through the PUBLIC core API,
// embrt::Embedding with the cpu backend: configs, per-replica inputs (watched as a sparse COO
// tensor, favorited and friends as ragged rows, as TF's tests feed them), table loading and
// retrieval, and one training step with dL/da = a/2.

#ifndef EMBRT_TESTS_GOLDEN_GOLDEN_FIXTURE_H_
#define EMBRT_TESTS_GOLDEN_GOLDEN_FIXTURE_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "embrt/config.h"
#include "embrt/embedding.h"
#include "embrt/inputs.h"

namespace embrt {
namespace golden {

// The canonical config: video (vocab 8, dim 4, sum) and user (vocab 16, dim 2,
// `user_combiner`), features watched, favorited, friends; `optimizer_text` is the body of an
// OptimizerConfig in text format; backend cpu; per-replica batch 4 / replicas.
EmbeddingConfig CanonicalConfig(const std::string& optimizer_text, int replicas,
                                const std::string& user_combiner = "MEAN");

// OptimizerConfig text of the §5.4 settings for "sgd", "adagrad", "adam", "ftrl",
// "adagrad_momentum" (lr 0.1).
std::string TfTestOptimizerText(const std::string& name);

// One replica's inputs, owning the arrays the FeatureInput views point into.
class CanonicalInputs {
 public:
  // Examples [replica·B, (replica+1)·B) of §5.1, B = 4 / replicas. With `weights_from_ids`
  // every id gets its own value as weight (§5.5); `uniform_weight` (if set) weighs watched and
  // friends (§5.6 "weights 0.5").
  CanonicalInputs(int replica, int replicas, bool weights_from_ids = false,
                  std::optional<float> uniform_weight = std::nullopt);
  CanonicalInputs(const CanonicalInputs&) = delete;
  CanonicalInputs& operator=(const CanonicalInputs&) = delete;

  const std::vector<FeatureInput>& features() const { return features_; }
  const std::vector<std::optional<FeatureWeights>>& weights() const { return weights_; }

 private:
  std::vector<std::vector<int64_t>> ids_, splits_, indices_;
  std::vector<std::vector<float>> weight_values_;
  std::vector<FeatureInput> features_;
  std::vector<std::optional<FeatureWeights>> weights_;
};

absl::StatusOr<std::unique_ptr<Embedding>> CreateAndBuild(const EmbeddingConfig& config,
                                                          EmbeddingOptions options = {});

// Loads every table row-major 0, 1, 2, ... and every other slot with the optimizer's initial
// value (ResolvedOptimizer::slot_initial_values).
absl::Status LoadRowMajorCounting(Embedding& embedding);

// Every slot of every table, whole: [table][slot][row * dim + column].
absl::StatusOr<std::vector<std::vector<std::vector<float>>>> RetrieveAll(Embedding& embedding);

// Enqueue (training), Dequeue and ApplyGradients(a/2) on every replica in order.
absl::Status TrainStepHalfActivations(Embedding& embedding, int replicas);

// Concatenates one feature's activations over the replicas of an inference step.
absl::StatusOr<std::vector<std::vector<float>>> LookupAllReplicas(Embedding& embedding,
                                                                  int replicas,
                                                                  bool weights_from_ids = false);

}  // namespace golden
}  // namespace embrt

#endif  // EMBRT_TESTS_GOLDEN_GOLDEN_FIXTURE_H_
