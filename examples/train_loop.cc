// Copyright embrt authors.
//
// A small host application that trains embeddings with embrt, the way a TF program uses
// tf.tpu.experimental.embedding.TPUEmbedding: create, build, then per step enqueue ids,
// dequeue activations, run the host's own model and apply the gradients.
//
// The "model" here is deliberately tiny: every activation should move toward a fixed target,
// with the squared loss  L = sum_features mean_rows 0.5 * |a - target|^2 , so the printed loss
// falls step by step.
//
// Usage: train_loop [--config PATH] [--backend NAME_OR_PATH] [--steps N]
//   The backend defaults to the config's ("mock": deterministic, no real device). The plugin
//   is found through $EMBRT_PLUGIN_PATH, next to libembrt, or in the build tree.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "embrt/config.h"
#include "embrt/embedding.h"
#include "embrt/inputs.h"
#include "embrt/status_macros.h"

namespace {

constexpr float kTarget = 0.25f;

// A tiny deterministic generator, so every run sees the same ids.
class Ids {
 public:
  int64_t Next(int64_t bound) {
    state_ = state_ * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<int64_t>((state_ >> 33) % static_cast<uint64_t>(bound));
  }

 private:
  uint64_t state_ = 12345;
};

// One step's ids, held so the views given to Enqueue stay valid during the call.
struct Batch {
  // "watched": ragged, 1 to 3 videos per example.
  std::vector<int64_t> watched_splits, watched_ids;
  // "favorited": sparse COO with dense_shape [batch, 3], weighted.
  std::vector<int64_t> favorited_indices, favorited_ids;
  std::vector<float> favorited_weights;
  // "history": ragged, 0 to 6 users; only the first 4 (max_sequence_length) are kept.
  std::vector<int64_t> history_splits, history_ids;
};

Batch MakeBatch(int batch_size, Ids& ids) {
  Batch b;
  b.watched_splits.push_back(0);
  b.history_splits.push_back(0);
  for (int row = 0; row < batch_size; ++row) {
    for (int64_t k = 0, n = 1 + ids.Next(3); k < n; ++k) b.watched_ids.push_back(ids.Next(10));
    b.watched_splits.push_back(static_cast<int64_t>(b.watched_ids.size()));
    for (int64_t k = 0, n = ids.Next(4); k < n; ++k) {
      b.favorited_indices.insert(b.favorited_indices.end(), {row, k});
      b.favorited_ids.push_back(ids.Next(10));
      b.favorited_weights.push_back(0.5f + 0.25f * static_cast<float>(k));
    }
    for (int64_t k = 0, n = ids.Next(7); k < n; ++k) b.history_ids.push_back(ids.Next(20));
    b.history_splits.push_back(static_cast<int64_t>(b.history_ids.size()));
  }
  return b;
}

// The host model: loss and d loss / d activation for one feature's activations.
float SquaredLossAndGradient(const embrt::Tensor& activations, int64_t rows,
                             embrt::Tensor* gradient) {
  gradient->shape = activations.shape;
  gradient->values.resize(activations.values.size());
  double loss = 0;
  for (size_t i = 0; i < activations.values.size(); ++i) {
    const float diff = activations.values[i] - kTarget;
    loss += 0.5 * diff * diff / static_cast<double>(rows);
    gradient->values[i] = diff / static_cast<float>(rows);
  }
  return static_cast<float>(loss);
}

absl::Status Train(const std::string& config_path, const std::string& backend, int steps) {
  // 1. The config, in text format (examples/configs/train_loop.textproto).
  EMBRT_ASSIGN_OR_RETURN(embrt::EmbeddingConfig config, embrt::ReadConfigFile(config_path));
  if (!backend.empty()) config.mutable_backend()->set_name(backend);

  // 2. Create: validate the config, load the backend plugin. The "user" table's learning rate
  //    follows a schedule evaluated at every ApplyGradients (TF: a callable learning_rate).
  embrt::EmbeddingOptions options;
  options.learning_rate_schedules["user_decay"] = [](int64_t step) {
    return std::max(0.1f, 0.5f - 0.05f * static_cast<float>(step));
  };
  EMBRT_ASSIGN_OR_RETURN(std::unique_ptr<embrt::Embedding> embedding,
                         embrt::Embedding::Create(config, std::move(options)));
  std::printf("backend: %s\n", embedding->backend().path.c_str());

  // 3. Build for the config's per-replica batch size. Activations are [16, 8], [16, 8] and
  //    [16, 4, 4] (the sequence feature).
  EMBRT_RETURN_IF_ERROR(embedding->Build());
  const int batch_size = config.per_replica_batch_size();

  Ids ids;
  for (int step = 0; step < steps; ++step) {
    // 4. Enqueue one step's ids, one input per feature in config order.
    Batch b = MakeBatch(batch_size, ids);
    std::vector<embrt::FeatureInput> features = {
        embrt::FeatureInput::Ragged(b.watched_splits, b.watched_ids),
        embrt::FeatureInput::Sparse(b.favorited_indices, b.favorited_ids, {batch_size, 3}),
        embrt::FeatureInput::Ragged(b.history_splits, b.history_ids),
    };
    std::vector<std::optional<embrt::FeatureWeights>> weights = {
        std::nullopt, embrt::FeatureWeights::Sparse(b.favorited_weights), std::nullopt};
    EMBRT_RETURN_IF_ERROR(embedding->Enqueue(features, weights, /*training=*/true));

    // 5. Dequeue the activations: one tensor per feature, output_shape + [dim].
    EMBRT_ASSIGN_OR_RETURN(std::vector<embrt::Tensor> activations, embedding->Dequeue());

    // 6. The host's own model: here a squared loss toward kTarget.
    float loss = 0;
    std::vector<embrt::Tensor> gradients(activations.size());
    for (size_t f = 0; f < activations.size(); ++f) {
      loss += SquaredLossAndGradient(activations[f], batch_size, &gradients[f]);
    }

    // 7. Apply d loss / d activations; the backend runs the optimizer on the touched rows.
    std::vector<std::optional<embrt::TensorView>> views;
    for (const embrt::Tensor& g : gradients) views.push_back(embrt::TensorView::Of(g));
    EMBRT_RETURN_IF_ERROR(embedding->ApplyGradients(views));
    std::printf("step %d  loss %.6f\n", step, loss);
  }
  EMBRT_RETURN_IF_ERROR(embedding->Synchronize());
  std::printf("trained %lld steps\n", static_cast<long long>(embedding->step()));
  return absl::OkStatus();
}

}  // namespace

int main(int argc, char** argv) {
  std::string config_path = EMBRT_EXAMPLE_CONFIG;  // set by examples/CMakeLists.txt
  std::string backend;
  int steps = 10;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const bool has_value = i + 1 < argc;
    if (arg == "--config" && has_value) {
      config_path = argv[++i];
    } else if (arg == "--backend" && has_value) {
      backend = argv[++i];
    } else if (arg == "--steps" && has_value && absl::SimpleAtoi(argv[i + 1], &steps)) {
      ++i;
    } else {
      std::fprintf(stderr,
                   "usage: %s [--config PATH] [--backend NAME_OR_PATH] [--steps N]\n"
                   "unrecognized argument: %s\n",
                   argv[0], arg.c_str());
      return 2;
    }
  }
  absl::Status status = Train(config_path, backend, steps);
  if (!status.ok()) {
    std::fprintf(stderr, "train_loop: %s\n", status.ToString().c_str());
    return 1;
  }
  return 0;
}
