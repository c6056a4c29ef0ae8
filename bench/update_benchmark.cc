// Copyright embrt authors.
//
// The training step's update in the cpu backend, through the public API (embrt::Embedding ->
// C ABI -> cpu backend), on two shapes (issues 12 and 13):
//
//   BM_DlrmStep/T/M    26 tables of 100,000 rows x dim 16 (DLRM's sparse side, as in
//                      examples/python/dlrm.py), batch 4096, one id per feature, Adagrad;
//                      M = 0: sum combiner (dlrm.py), 1: mean (TF's default, `embrt train`)
//   BM_DlrmLookup/T/M  the same steps enqueued for inference (lookup only)
//   BM_WideStep/D/B/T  one table of 2^22 rows x dim D (16, 64, 128), 16,384 bags of B (1, 20)
//                      uniform ids, Adagrad
//   BM_WideLookup/D/B/T
//
// T is the backend option `threads`. A step is Enqueue -> DequeueInto -> ApplyGradients ->
// Synchronize, so the update is inside the timing; step minus lookup is about the update. Each
// benchmark also reports its process CPU time per step (`cpu_ms`), steadier than wall-clock on
// a shared machine. The scaling of the update shows as BM_*Step/1 over BM_*Step/2.
//
//   build/release/bench/update_benchmark --benchmark_min_time=0.5
//   build/release/bench/update_benchmark --benchmark_filter=Dlrm

#include <benchmark/benchmark.h>
#include <time.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "embrt/config.h"
#include "embrt/embedding.h"
#include "embrt/inputs.h"

namespace {

constexpr int kBatches = 4;  // distinct batches cycled through

struct Shape {
  int tables;
  int64_t rows;
  int dim;
  int batch;
  int bag;
  bool mean = false;
};

double ProcessCpuSeconds() {
  timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

embrt::EmbeddingConfig MakeConfig(const Shape& shape, int threads) {
  embrt::EmbeddingConfig config;
  for (int t = 0; t < shape.tables; ++t) {
    embrt::TableConfig* table = config.add_tables();
    table->set_name("table" + std::to_string(t));
    table->set_vocabulary_size(shape.rows);
    table->set_dim(shape.dim);
    table->set_combiner(shape.mean ? embrt::MEAN : embrt::SUM);
    table->mutable_initializer()->mutable_constant()->set_value(0.01f);
    embrt::FeatureConfig* feature = config.add_features();
    feature->set_name("feature" + std::to_string(t));
    feature->set_table("table" + std::to_string(t));
  }
  config.mutable_optimizer()->mutable_adagrad()->set_initial_accumulator_value(0.1f);
  config.mutable_optimizer()->mutable_learning_rate()->set_constant(0.01f);
  config.mutable_backend()->set_name("cpu");
  (*config.mutable_backend()->mutable_options())["threads"] = std::to_string(threads);
  config.set_per_replica_batch_size(shape.batch);
  return config;
}

// Runs steps of `shape` (training or lookup only) on `threads` threads.
void RunSteps(benchmark::State& state, const Shape& shape, int threads, bool training) {
  auto created = embrt::Embedding::Create(MakeConfig(shape, threads));
  if (!created.ok()) {
    state.SkipWithError(std::string(created.status().message()).c_str());
    return;
  }
  std::unique_ptr<embrt::Embedding> embedding = std::move(*created);
  absl::Status status = embedding->Build();
  if (status.ok()) status = embedding->Synchronize();  // tables initialized before timing
  if (!status.ok()) {
    state.SkipWithError(std::string(status.message()).c_str());
    return;
  }
  std::vector<int64_t> splits;
  for (int b = 0; b <= shape.batch; ++b) splits.push_back(int64_t{b} * shape.bag);
  std::mt19937_64 random(7);
  std::uniform_int_distribution<int64_t> id(0, shape.rows - 1);
  std::vector<std::vector<std::vector<int64_t>>> ids(kBatches);  // [batch][table][id]
  for (auto& batch : ids) {
    batch.resize(shape.tables);
    for (auto& table : batch) {
      for (int64_t k = 0; k < int64_t{shape.batch} * shape.bag; ++k) table.push_back(id(random));
    }
  }
  std::vector<embrt::Tensor> activations(shape.tables);
  std::vector<absl::Span<float>> outputs;
  std::vector<std::optional<embrt::TensorView>> gradients;
  for (embrt::Tensor& a : activations) {
    a.shape = {shape.batch, shape.dim};
    a.values.assign(static_cast<size_t>(shape.batch) * shape.dim, 1e-3f);
    outputs.emplace_back(a.values);
    gradients.push_back(embrt::TensorView::Of(a));  // loss = 0.5 |a|^2
  }
  int step = 0;
  double cpu = 0.0;
  for (auto _ : state) {
    const double cpu_start = ProcessCpuSeconds();
    std::vector<embrt::FeatureInput> inputs;
    for (const auto& table_ids : ids[step++ % kBatches]) {
      inputs.push_back(embrt::FeatureInput::Ragged(splits, table_ids));
    }
    status = embedding->Enqueue(inputs, {}, training);
    if (status.ok()) status = embedding->DequeueInto(outputs);
    if (status.ok() && training) status = embedding->ApplyGradients(gradients);
    if (status.ok()) status = embedding->Synchronize();
    if (!status.ok()) {
      state.SkipWithError(std::string(status.message()).c_str());
      return;
    }
    cpu += ProcessCpuSeconds() - cpu_start;
  }
  state.counters["cpu_ms"] = 1e3 * cpu / static_cast<double>(state.iterations());
  state.counters["ids/s"] = benchmark::Counter(
      static_cast<double>(state.iterations()) * shape.tables * shape.batch * shape.bag,
      benchmark::Counter::kIsRate);
}

Shape Dlrm(const benchmark::State& state) {
  return Shape{26, 100000, 16, 4096, 1, state.range(1) != 0};
}
void BM_DlrmStep(benchmark::State& state) {
  RunSteps(state, Dlrm(state), static_cast<int>(state.range(0)), /*training=*/true);
}
void BM_DlrmLookup(benchmark::State& state) {
  RunSteps(state, Dlrm(state), static_cast<int>(state.range(0)), /*training=*/false);
}
BENCHMARK(BM_DlrmStep)->ArgsProduct({{1, 2}, {0, 1}})->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_DlrmLookup)
    ->ArgsProduct({{1, 2}, {0, 1}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

Shape Wide(const benchmark::State& state) {
  return Shape{1, int64_t{1} << 22, static_cast<int>(state.range(0)), 16384,
               static_cast<int>(state.range(1))};
}
void BM_WideStep(benchmark::State& state) {
  RunSteps(state, Wide(state), static_cast<int>(state.range(2)), /*training=*/true);
}
void BM_WideLookup(benchmark::State& state) {
  RunSteps(state, Wide(state), static_cast<int>(state.range(2)), /*training=*/false);
}
BENCHMARK(BM_WideStep)
    ->ArgsProduct({{16, 64, 128}, {1, 20}, {1, 2}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_WideLookup)
    ->ArgsProduct({{16, 64, 128}, {1, 20}, {1, 2}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
