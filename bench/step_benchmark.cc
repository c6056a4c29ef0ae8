// Copyright embrt authors.
//
// One whole training step through the public API (embrt::Embedding -> C ABI -> cpu backend):
// Enqueue of ragged ids, Dequeue, ApplyGradients with Adagrad, against a naive baseline that does
// the same math in-process with plain loops and a hash map of per-row gradients (one thread, no
// ABI, no input validation).
//
//   BM_NaiveStep         the in-process scalar step
//   BM_EmbeddingStep/T   the step through embrt with the cpu backend on T threads
//
// The model: two tables (2^20 x 32 and 2^17 x 16, Adagrad, mean combiner), three features
// (two on the large table), per-replica batch 1024, bags of 10 Zipf-distributed ids. The host's
// "model" is a fixed gradient (the activations themselves, i.e. loss = 0.5 |a|^2), so the timing
// is embrt's alone. Counters: examples/s, ids/s.

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "embrt/config.h"
#include "embrt/embedding.h"
#include "embrt/inputs.h"
#include "zipf_ids.h"

namespace {

constexpr int kBatch = 1024;
constexpr int kBagSize = 10;
constexpr int kSteps = 4;  // distinct batches cycled through

struct TableSpec {
  int64_t rows;
  int dim;
};
const TableSpec kTables[] = {{int64_t{1} << 20, 32}, {int64_t{1} << 17, 16}};
const int kFeatureTable[] = {0, 0, 1};
constexpr int kFeatures = 3;

int64_t ZipfId(std::mt19937_64& random, int64_t rows) {
  static const embrt::bench::ZipfIds kZipf(1.05);
  return kZipf.Draw(random, rows);
}

// Ragged ids of every feature for kSteps steps.
struct Batches {
  std::vector<int64_t> splits;                           // shared: every bag has kBagSize ids
  std::vector<std::vector<std::vector<int64_t>>> ids;    // [step][feature][ids]
};

const Batches& MakeBatches() {
  static const Batches batches = [] {
    Batches b;
    for (int i = 0; i <= kBatch; ++i) b.splits.push_back(int64_t{i} * kBagSize);
    std::mt19937_64 random(5);
    b.ids.resize(kSteps);
    for (auto& step : b.ids) {
      step.resize(kFeatures);
      for (int f = 0; f < kFeatures; ++f) {
        for (int i = 0; i < kBatch * kBagSize; ++i) {
          step[f].push_back(ZipfId(random, kTables[kFeatureTable[f]].rows));
        }
      }
    }
    return b;
  }();
  return batches;
}

void SetCounters(benchmark::State& state) {
  state.counters["examples/s"] = benchmark::Counter(
      static_cast<double>(state.iterations()) * kBatch, benchmark::Counter::kIsRate);
  state.counters["ids/s"] = benchmark::Counter(
      static_cast<double>(state.iterations()) * kBatch * kBagSize * kFeatures,
      benchmark::Counter::kIsRate);
}

// The baseline: tables and accumulators as flat vectors, a plain loop per bag, a hash map of
// per-row gradient vectors, then Adagrad on every touched row.
void BM_NaiveStep(benchmark::State& state) {
  const Batches& batches = MakeBatches();
  std::vector<std::vector<float>> params, accumulators;
  for (const TableSpec& t : kTables) {
    params.emplace_back(t.rows * t.dim, 0.01f);
    accumulators.emplace_back(t.rows * t.dim, 0.1f);
  }
  const float lr = 0.01f;
  int step = 0;
  for (auto _ : state) {
    const auto& ids = batches.ids[step++ % kSteps];
    std::vector<std::unordered_map<int64_t, std::vector<float>>> grads(2);
    for (int f = 0; f < kFeatures; ++f) {
      const int t = kFeatureTable[f];
      const int dim = kTables[t].dim;
      std::vector<float> activation(dim);
      for (int b = 0; b < kBatch; ++b) {
        std::fill(activation.begin(), activation.end(), 0.0f);
        for (int k = 0; k < kBagSize; ++k) {
          const float* row = &params[t][ids[f][b * kBagSize + k] * dim];
          for (int d = 0; d < dim; ++d) activation[d] += row[d] / kBagSize;
        }
        // d loss / d activation = activation; back through the mean combiner.
        for (int k = 0; k < kBagSize; ++k) {
          std::vector<float>& g = grads[t][ids[f][b * kBagSize + k]];
          g.resize(dim);
          for (int d = 0; d < dim; ++d) g[d] += activation[d] / kBagSize;
        }
      }
    }
    for (int t = 0; t < 2; ++t) {
      const int dim = kTables[t].dim;
      for (const auto& [row, g] : grads[t]) {
        for (int d = 0; d < dim; ++d) {
          float& a = accumulators[t][row * dim + d];
          a += g[d] * g[d];
          params[t][row * dim + d] -= lr * g[d] / std::sqrt(a);
        }
      }
    }
    benchmark::DoNotOptimize(params[0].data());
  }
  SetCounters(state);
}
BENCHMARK(BM_NaiveStep)->Unit(benchmark::kMillisecond)->UseRealTime();

embrt::EmbeddingConfig StepConfig(int threads) {
  embrt::EmbeddingConfig config;
  for (int t = 0; t < 2; ++t) {
    embrt::TableConfig* table = config.add_tables();
    table->set_name("table" + std::to_string(t));
    table->set_vocabulary_size(kTables[t].rows);
    table->set_dim(kTables[t].dim);
    table->mutable_initializer()->mutable_constant()->set_value(0.01f);
  }
  for (int f = 0; f < kFeatures; ++f) {
    embrt::FeatureConfig* feature = config.add_features();
    feature->set_name("feature" + std::to_string(f));
    feature->set_table("table" + std::to_string(kFeatureTable[f]));
  }
  config.mutable_optimizer()->mutable_adagrad();
  config.mutable_optimizer()->mutable_learning_rate()->set_constant(0.01f);
  config.mutable_backend()->set_name("cpu");
  (*config.mutable_backend()->mutable_options())["threads"] = std::to_string(threads);
  config.set_per_replica_batch_size(kBatch);
  return config;
}

void BM_EmbeddingStep(benchmark::State& state) {
  const Batches& batches = MakeBatches();
  auto embedding = embrt::Embedding::Create(StepConfig(static_cast<int>(state.range(0))));
  if (!embedding.ok()) {
    state.SkipWithError(std::string(embedding.status().message()).c_str());
    return;
  }
  // Synchronize initializes the tables, so the timed loop holds steps only.
  absl::Status built = (*embedding)->Build();
  if (built.ok()) built = (*embedding)->Synchronize();
  if (absl::Status s = built; !s.ok()) {
    state.SkipWithError(std::string(s.message()).c_str());
    return;
  }
  std::vector<embrt::Tensor> activations(kFeatures);
  for (int f = 0; f < kFeatures; ++f) {
    activations[f].shape = {kBatch, kTables[kFeatureTable[f]].dim};
    activations[f].values.resize(kBatch * kTables[kFeatureTable[f]].dim);
  }
  int step = 0;
  for (auto _ : state) {
    const auto& ids = batches.ids[step++ % kSteps];
    std::vector<embrt::FeatureInput> inputs;
    for (int f = 0; f < kFeatures; ++f) {
      inputs.push_back(embrt::FeatureInput::Ragged(batches.splits, ids[f]));
    }
    absl::Status s = (*embedding)->Enqueue(inputs, {}, /*training=*/true);
    std::vector<absl::Span<float>> outputs;
    for (auto& a : activations) outputs.emplace_back(a.values);
    if (s.ok()) s = (*embedding)->DequeueInto(outputs);
    std::vector<std::optional<embrt::TensorView>> gradients;
    for (const auto& a : activations) gradients.push_back(embrt::TensorView::Of(a));
    if (s.ok()) s = (*embedding)->ApplyGradients(gradients);
    if (!s.ok()) {
      state.SkipWithError(std::string(s.message()).c_str());
      return;
    }
  }
  if (absl::Status s = (*embedding)->Synchronize(); !s.ok()) {
    state.SkipWithError(std::string(s.message()).c_str());
  }
  SetCounters(state);
}
BENCHMARK(BM_EmbeddingStep)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
