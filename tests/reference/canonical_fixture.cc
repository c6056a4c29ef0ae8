// Copyright embrt authors.
//
// The canonical fixture's data, copied from plugin_api/MATH.md §5.1–§5.4.

#include "canonical_fixture.h"

#include <cassert>

namespace embrt {
namespace reference {

const std::vector<CanonicalFeature>& CanonicalFeatures() {
  static const auto* features = new std::vector<CanonicalFeature>{
      {"watched", 0, {0, 1, 3, 5, 6}, {0, 0, 1, 0, 1, 1}},
      {"favorited", 0, {0, 2, 3, 4, 6}, {0, 1, 1, 0, 0, 1}},
      {"friends", 1, {0, 1, 4, 5, 8}, {3, 0, 1, 2, 3, 0, 1, 2}},
  };
  return *features;
}

ModelSpec CanonicalModel(const OptimizerSpec& optimizer, int num_replicas) {
  assert(4 % num_replicas == 0);
  ModelSpec model;
  model.num_replicas = num_replicas;
  model.tables = {
      {"video", 8, 4, Combiner::kSum, optimizer},
      {"user", 16, 2, Combiner::kMean, optimizer},
  };
  for (const CanonicalFeature& f : CanonicalFeatures()) {
    model.features.push_back({f.name, f.table, 0, 4 / num_replicas});
  }
  return model;
}

std::vector<ReplicaBatch> CanonicalBatches(int num_replicas) {
  const int rows = 4 / num_replicas;
  std::vector<ReplicaBatch> batches(num_replicas);
  for (int r = 0; r < num_replicas; ++r) {
    for (const CanonicalFeature& f : CanonicalFeatures()) {
      FeatureBatch batch;
      const int32_t first = f.row_splits[r * rows];
      for (int b = 0; b <= rows; ++b) batch.row_splits.push_back(f.row_splits[r * rows + b] - first);
      batch.ids.assign(f.ids.begin() + first, f.ids.begin() + f.row_splits[(r + 1) * rows]);
      batches[r].push_back(std::move(batch));
    }
  }
  return batches;
}

std::vector<float> RowMajorIota(int64_t size) {
  std::vector<float> values(static_cast<size_t>(size));
  for (int64_t i = 0; i < size; ++i) values[i] = static_cast<float>(i);
  return values;
}

const std::vector<std::vector<float>>& CanonicalActivations() {
  static const auto* activations = new std::vector<std::vector<float>>{
      {0, 1, 2, 3, 4, 6, 8, 10, 4, 6, 8, 10, 4, 5, 6, 7},
      {4, 6, 8, 10, 4, 5, 6, 7, 0, 1, 2, 3, 4, 6, 8, 10},
      {6, 7, 2, 3, 6, 7, 2, 3},
  };
  return *activations;
}

Gradients HalfOf(const Activations& activations) {
  Gradients gradients;
  for (const std::vector<float>& a : activations) {
    std::vector<float> g(a.size());
    for (size_t i = 0; i < a.size(); ++i) g[i] = a[i] / 2.0f;
    gradients.push_back(std::move(g));
  }
  return gradients;
}

const std::vector<RowGolden>& CanonicalRowGradients() {
  static const auto* rows = new std::vector<RowGolden>{
      {0, 0, {8, 13, 18, 23}, {}},
      {0, 1, {12, 17, 22, 27}, {}},
      {1, 0, {0.6666667f, 1.0f}, {}},
      {1, 1, {0.6666667f, 1.0f}, {}},
      {1, 2, {0.6666667f, 1.0f}, {}},
      {1, 3, {6, 7}, {}},
  };
  return *rows;
}

namespace {

OptimizerSpec WithRate(Optimizer kind, float learning_rate) {
  OptimizerSpec spec;
  spec.kind = kind;
  spec.learning_rate = learning_rate;
  return spec;
}

}  // namespace

const std::vector<OptimizerGolden>& OneStepGoldens() {
  static const auto* goldens = [] {
    auto* all = new std::vector<OptimizerGolden>;

    OptimizerGolden sgd{"sgd", WithRate(Optimizer::kSgd, 0.1f), 1e-6, 1e-6, {}};
    sgd.rows = {
        {0, 0, {-0.8f, -0.3f, 0.2f, 0.7f}, {}},
        {0, 1, {2.8f, 3.3f, 3.8f, 4.3f}, {}},
        {1, 0, {-0.06666667f, 0.9f}, {}},
        {1, 1, {1.933333f, 2.9f}, {}},
        {1, 2, {3.933333f, 4.9f}, {}},
        {1, 3, {5.4f, 6.3f}, {}},
    };
    all->push_back(sgd);

    OptimizerGolden adagrad{"adagrad", WithRate(Optimizer::kAdagrad, 0.1f), 1e-6, 1e-6, {}};
    adagrad.optimizer.adagrad.initial_accumulator_value = 0.1f;
    adagrad.rows = {
        {0, 0, {-0.09992197f, 0.9000296f, 1.900015f, 2.900009f}, {{64.1f, 169.1f, 324.1f, 529.1f}}},
        {0, 1, {3.900035f, 4.900017f, 5.90001f, 6.900007f}, {{144.1f, 289.1f, 484.1f, 729.1f}}},
        {1, 0, {-0.09035079f, 0.9046537f}, {{0.5444444f, 1.1f}}},
        {1, 1, {1.909649f, 2.904654f}, {{0.5444444f, 1.1f}}},
        {1, 2, {3.909649f, 4.904654f}, {{0.5444444f, 1.1f}}},
        {1, 3, {5.900139f, 6.900102f}, {{36.1f, 49.1f}}},
    };
    all->push_back(adagrad);

    OptimizerGolden adam{"adam", WithRate(Optimizer::kAdam, 0.1f), 1e-4, 1e-4, {}};
    adam.optimizer.adam = {0.9f, 0.999f, 1e-7f, true, true};
    adam.rows = {
        {0, 0, {-0.3162278f, 0.6837722f, 1.683772f, 2.683772f},
         {{0.8f, 1.3f, 1.8f, 2.3f}, {0.064f, 0.169f, 0.324f, 0.529f}}},
        {0, 1, {3.683772f, 4.683772f, 5.683772f, 6.683772f},
         {{1.2f, 1.7f, 2.2f, 2.7f}, {0.144f, 0.289f, 0.484f, 0.729f}}},
        {1, 0, {-0.3162278f, 0.6837722f}, {{0.06666667f, 0.1f}, {0.0004444444f, 0.001f}}},
        {1, 1, {1.683772f, 2.683772f}, {{0.06666667f, 0.1f}, {0.0004444444f, 0.001f}}},
        {1, 2, {3.683772f, 4.683772f}, {{0.06666667f, 0.1f}, {0.0004444444f, 0.001f}}},
        {1, 3, {5.683772f, 6.683772f}, {{0.6f, 0.7f}, {0.036f, 0.049f}}},
    };
    all->push_back(adam);

    OptimizerGolden ftrl{"ftrl", WithRate(Optimizer::kFtrl, 0.1f), 5e-5, 5e-4, {}};
    ftrl.optimizer.ftrl.initial_accumulator_value = 0.1f;
    ftrl.rows = {
        {0, 0, {-0.09992197f, 0.8757116f, 1.864884f, 2.858766f},
         {{64.1f, 169.1f, 324.1f, 529.1f}, {8.0f, -113.8762f, -335.731f, -657.5784f}}},
        {0, 1, {3.794662f, 4.807025f, 5.813775f, 6.818028f},
         {{144.1f, 289.1f, 484.1f, 729.1f}, {-455.5175f, -817.3357f, -1279.163f, -1840.994f}}},
        {1, 0, {-0.09035079f, 0.6031424f}, {{0.5444444f, 1.1f}, {0.6666667f, -6.325811f}}},
        {1, 1, {1.052506f, 2.00012f}, {{0.5444444f, 1.1f}, {-7.766074f, -20.97743f}}},
        {1, 2, {2.195363f, 3.397097f}, {{0.5444444f, 1.1f}, {-16.19881f, -35.62905f}}},
        {1, 3, {5.584349f, 6.584196f}, {{36.1f, 49.1f}, {-335.526f, -461.3638f}}},
    };
    all->push_back(ftrl);

    OptimizerGolden momentum{"adagrad_momentum", WithRate(Optimizer::kAdagradMomentum, 0.1f),
                             1e-3, 1e-3, {}};
    momentum.optimizer.adagrad_momentum = {0.9f, true, 3.0f, 0.9f, 0.1f};
    momentum.rows = {
        {0, 0, {-0.8144651f, 0.03938954f, 0.9283203f, 1.836617f},
         {{6.4f, 16.9f, 32.4f, 52.9f}, {4.286658f, 5.055845f, 5.640419f, 6.12307f}}},
        {0, 1, {3.064999f, 3.948676f, 4.853795f, 5.772533f},
         {{14.4f, 28.9f, 48.4f, 72.9f}, {4.921059f, 5.533284f, 6.032659f, 6.460351f}}},
        {1, 0, {-0.2414138f, 0.6751046f}, {{0.04444444f, 0.1f}, {1.270599f, 1.709976f}}},
        {1, 1, {1.758586f, 2.675105f}, {{0.04444444f, 0.1f}, {1.270599f, 1.709976f}}},
        {1, 2, {3.758586f, 4.675105f}, {{0.04444444f, 0.1f}, {1.270599f, 1.709976f}}},
        {1, 3, {5.262938f, 6.222211f}, {{3.6f, 4.9f}, {3.879276f, 4.093625f}}},
    };
    all->push_back(momentum);
    return all;
  }();
  return *goldens;
}

}  // namespace reference
}  // namespace embrt
