// Copyright embrt authors.

#include "golden_fixture.h"

#include <map>

#include "absl/strings/str_cat.h"
#include "canonical_fixture.h"
#include "embrt/status_macros.h"

namespace embrt {
namespace golden {

EmbeddingConfig CanonicalConfig(const std::string& optimizer_text, int replicas,
                                const std::string& user_combiner) {
  const std::string text = absl::StrCat(R"pb(
    tables { name: "video" vocabulary_size: 8 dim: 4 combiner: SUM initializer { constant {} } }
    tables { name: "user" vocabulary_size: 16 dim: 2 combiner: )pb",
                                        user_combiner, R"pb( initializer { constant {} } }
    features { name: "watched" table: "video" }
    features { name: "favorited" table: "video" }
    features { name: "friends" table: "user" }
    backend { name: "cpu" }
    optimizer { )pb",
                                        optimizer_text, R"pb( }
    per_replica_batch_size: )pb",
                                        4 / replicas, R"pb(
    num_replicas: )pb",
                                        replicas);
  absl::StatusOr<EmbeddingConfig> config = ParseConfigText(text);
  return config.ok() ? *config : EmbeddingConfig();
}

std::string TfTestOptimizerText(const std::string& name) {
  static const auto* texts = new std::map<std::string, std::string>{
      {"sgd", "sgd {} learning_rate { constant: 0.1 }"},
      {"adagrad", "adagrad { initial_accumulator_value: 0.1 } learning_rate { constant: 0.1 }"},
      {"adam",
       "adam { beta_1: 0.9 beta_2: 0.999 epsilon: 1e-7 sum_inside_sqrt: true } "
       "learning_rate { constant: 0.1 }"},
      {"ftrl",
       "ftrl { learning_rate_power: -0.5 initial_accumulator_value: 0.1 "
       "l1_regularization_strength: 0 l2_regularization_strength: 0 beta: 0 } "
       "learning_rate { constant: 0.1 }"},
      {"adagrad_momentum",
       "adagrad_momentum { momentum: 0.9 use_nesterov: true exponent: 3 epsilon: 0.1 "
       "beta2: 0.9 } learning_rate { constant: 0.1 }"},
  };
  return texts->at(name);
}

CanonicalInputs::CanonicalInputs(int replica, int replicas, bool weights_from_ids,
                                 std::optional<float> uniform_weight) {
  const int rows = 4 / replicas;
  const auto& features = reference::CanonicalFeatures();
  for (size_t f = 0; f < features.size(); ++f) {
    const reference::CanonicalFeature& feature = features[f];
    const int32_t first = feature.row_splits[replica * rows];
    std::vector<int64_t> ids, splits, indices;
    for (int b = 0; b < rows; ++b) {
      const int32_t begin = feature.row_splits[replica * rows + b];
      const int32_t end = feature.row_splits[replica * rows + b + 1];
      splits.push_back(begin - first);
      for (int32_t k = begin; k < end; ++k) {
        ids.push_back(feature.ids[k]);
        indices.push_back(b);
        indices.push_back(k - begin);
      }
    }
    splits.push_back(static_cast<int64_t>(ids.size()));
    std::vector<float> w;
    for (int64_t id : ids) {
      if (weights_from_ids) w.push_back(static_cast<float>(id));
    }
    if (uniform_weight.has_value() && f != 1) w.assign(ids.size(), *uniform_weight);
    ids_.push_back(std::move(ids));
    splits_.push_back(std::move(splits));
    indices_.push_back(std::move(indices));
    weight_values_.push_back(std::move(w));
  }
  // watched as TF's SparseTensor ([B, 2] dense shape), the others as RaggedTensors.
  features_.push_back(FeatureInput::Sparse(indices_[0], ids_[0], {rows, 2}));
  features_.push_back(FeatureInput::Ragged(splits_[1], ids_[1]));
  features_.push_back(FeatureInput::Ragged(splits_[2], ids_[2]));
  for (size_t f = 0; f < 3; ++f) {
    if (weight_values_[f].empty()) {
      weights_.push_back(std::nullopt);
    } else if (f == 0) {
      weights_.push_back(FeatureWeights::Sparse(weight_values_[f]));
    } else {
      weights_.push_back(FeatureWeights::Ragged(weight_values_[f]));
    }
  }
}

absl::StatusOr<std::unique_ptr<Embedding>> CreateAndBuild(const EmbeddingConfig& config,
                                                          EmbeddingOptions options) {
  if (!options.warning_sink) options.warning_sink = [](absl::string_view) {};
  EMBRT_ASSIGN_OR_RETURN(std::unique_ptr<Embedding> embedding,
                         Embedding::Create(config, std::move(options)));
  EMBRT_RETURN_IF_ERROR(embedding->Build());
  return embedding;
}

absl::Status LoadRowMajorCounting(Embedding& embedding) {
  return embedding.LoadTables([&](int table, int64_t begin, int64_t count,
                                  absl::Span<const absl::Span<float>> slots) {
    const ResolvedTable& t = embedding.config().tables[table];
    for (int64_t i = 0; i < count * t.dim; ++i) slots[0][i] = static_cast<float>(begin * t.dim + i);
    for (size_t s = 1; s < slots.size(); ++s) {
      for (float& x : slots[s]) x = t.optimizer.slot_initial_values[s - 1];
    }
    return absl::OkStatus();
  });
}

absl::StatusOr<std::vector<std::vector<std::vector<float>>>> RetrieveAll(Embedding& embedding) {
  std::vector<std::vector<std::vector<float>>> tables(embedding.config().tables.size());
  EMBRT_RETURN_IF_ERROR(embedding.RetrieveTables(
      [&](int table, int64_t, int64_t, absl::Span<const absl::Span<const float>> slots) {
        tables[table].resize(slots.size());
        for (size_t s = 0; s < slots.size(); ++s) {
          tables[table][s].insert(tables[table][s].end(), slots[s].begin(), slots[s].end());
        }
        return absl::OkStatus();
      }));
  return tables;
}

absl::Status TrainStepHalfActivations(Embedding& embedding, int replicas) {
  for (int r = 0; r < replicas; ++r) {
    CanonicalInputs inputs(r, replicas);
    EMBRT_RETURN_IF_ERROR(embedding.Enqueue(inputs.features(), inputs.weights(), true, r));
    EMBRT_ASSIGN_OR_RETURN(std::vector<Tensor> activations, embedding.Dequeue(r));
    for (Tensor& t : activations) {
      for (float& v : t.values) v = v / 2.0f;
    }
    std::vector<std::optional<TensorView>> views;
    for (const Tensor& t : activations) views.push_back(TensorView::Of(t));
    EMBRT_RETURN_IF_ERROR(embedding.ApplyGradients(views, r));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::vector<float>>> LookupAllReplicas(Embedding& embedding,
                                                                  int replicas,
                                                                  bool weights_from_ids) {
  std::vector<std::vector<float>> all(3);
  for (int r = 0; r < replicas; ++r) {
    CanonicalInputs inputs(r, replicas, weights_from_ids);
    EMBRT_RETURN_IF_ERROR(embedding.Enqueue(inputs.features(), inputs.weights(), false, r));
    EMBRT_ASSIGN_OR_RETURN(std::vector<Tensor> activations, embedding.Dequeue(r));
    for (size_t f = 0; f < 3; ++f) {
      all[f].insert(all[f].end(), activations[f].values.begin(), activations[f].values.end());
    }
  }
  return all;
}

}  // namespace golden
}  // namespace embrt
