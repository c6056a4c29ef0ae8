// Copyright embrt authors.
//
// Backward pass plus optimizer update of the cpu backend's kernels (plugins/cpu/backward.h,
// update.h, optimizers.h) against a naive baseline, for every optimizer, on one table of 2^20
// rows, dim 64, 1024 bags of 20 ids (uniform or Zipf(1.1) ids).
//
//   BM_NaiveUpdate    hash map of per-row std::vector gradients (an allocation per touched row),
//                     then a scalar update per row; one thread
//   BM_KernelUpdate   RowGrouping (dense-or-hash row numbering + stable counting sort), then the
//                     fused row sum + update, on a 1-worker pool
//   BM_PooledUpdate   the same on a 2-worker pool (the engine's way)
//
// Counters: ids/s = gradient contributions consumed per second; rows/s = touched rows updated
// per second; GB/s = bytes of gradients read plus slot rows read and written, per second.

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <unordered_map>
#include <vector>

#include "backward.h"
#include "optimizers.h"
#include "tables.h"
#include "thread_pool.h"
#include "update.h"
#include "zipf_ids.h"

namespace {

using namespace embrt::cpu;  // NOLINT: benchmark-local brevity

constexpr int64_t kTableRows = int64_t{1} << 20;
constexpr int32_t kDim = 64;
constexpr int64_t kBags = 1024;
constexpr int kBagSize = 20;

// Uniform ids, or Zipf(1.1) ids (bench/zipf_ids.h).
int64_t DrawId(std::mt19937_64& random, bool zipf) {
  if (!zipf) return static_cast<int64_t>(random() % kTableRows);
  static const embrt::bench::ZipfIds kZipf(1.1);
  return kZipf.Draw(random, kTableRows);
}

struct Step {
  std::vector<int64_t> rows;     // kBags * kBagSize, bag-major
  std::vector<float> gains;      // mean combiner: 1 / kBagSize
  std::vector<float> gradients;  // [kBags, kDim]
  int64_t touched = 0;
};

Step MakeStep(bool zipf) {
  std::mt19937_64 random(11);
  Step step;
  for (int64_t i = 0; i < kBags * kBagSize; ++i) step.rows.push_back(DrawId(random, zipf));
  step.gains.assign(step.rows.size(), 1.0f / kBagSize);
  std::uniform_real_distribution<float> uniform(-1, 1);
  step.gradients.resize(kBags * kDim);
  for (float& g : step.gradients) g = uniform(random);
  std::vector<int64_t> sorted = step.rows;
  std::sort(sorted.begin(), sorted.end());
  step.touched = std::unique(sorted.begin(), sorted.end()) - sorted.begin();
  return step;
}

OptimizerSettings Settings(EMBRT_OptimizerKind kind) {
  OptimizerSettings s;
  s.kind = kind;
  s.learning_rate = 0.01f;
  s.clip_weight_min = s.clip_gradient_min = -INFINITY;
  s.clip_weight_max = s.clip_gradient_max = INFINITY;
  s.momentum = 0.9f;
  s.exponent = 2.0f;
  s.beta2 = 0.99f;
  s.epsilon = 1e-3f;
  return s;
}

TableShard& Storage(EMBRT_OptimizerKind kind) {
  static TableShard* shards[6] = {};
  if (shards[kind] == nullptr) {
    shards[kind] = new TableShard(kTableRows, kDim, embrt::sdk::SlotCount(kind));
    for (int s = 1; s < embrt::sdk::SlotCount(kind); ++s) {
      std::fill(shards[kind]->slot(s), shards[kind]->slot(s) + kTableRows * kDim, 0.1f);
    }
  }
  return *shards[kind];
}

void SetCounters(benchmark::State& state, const Step& step, int slots) {
  const double n = static_cast<double>(state.iterations());
  state.counters["ids/s"] =
      benchmark::Counter(n * static_cast<double>(step.rows.size()), benchmark::Counter::kIsRate);
  state.counters["rows/s"] =
      benchmark::Counter(n * static_cast<double>(step.touched), benchmark::Counter::kIsRate);
  const double bytes =
      (static_cast<double>(step.rows.size()) + 2.0 * slots * step.touched) * kDim * sizeof(float);
  state.counters["GB/s"] = benchmark::Counter(n * bytes / 1e9, benchmark::Counter::kIsRate);
}

// Arguments: optimizer kind, zipf (0/1).
void BM_NaiveUpdate(benchmark::State& state) {
  const auto kind = static_cast<EMBRT_OptimizerKind>(state.range(0));
  const Step step = MakeStep(state.range(1) != 0);
  const OptimizerSettings settings = Settings(kind);
  TableShard& storage = Storage(kind);
  for (auto _ : state) {
    std::unordered_map<int64_t, std::vector<float>> sums;
    for (size_t k = 0; k < step.rows.size(); ++k) {
      std::vector<float>& sum = sums[step.rows[k]];
      sum.resize(kDim, 0.0f);
      const float* g = step.gradients.data() + (k / kBagSize) * kDim;
      for (int d = 0; d < kDim; ++d) sum[d] += step.gains[k] * g[d];
    }
    const PreparedUpdate update = PrepareUpdate(settings, settings.learning_rate);
    for (auto& [row, g] : sums) {
      float* slots[3];
      for (int s = 0; s < storage.num_slots(); ++s) slots[s] = storage.row(s, row);
      ApplyRowUpdate(update, kDim, g.data(), slots);
    }
    benchmark::ClobberMemory();
  }
  SetCounters(state, step, embrt::sdk::SlotCount(kind));
}

void RunKernel(benchmark::State& state, int threads) {
  const auto kind = static_cast<EMBRT_OptimizerKind>(state.range(0));
  const Step step = MakeStep(state.range(1) != 0);
  const OptimizerSettings settings = Settings(kind);
  TableShard& storage = Storage(kind);
  ThreadPool pool(threads);
  std::vector<std::vector<float>> scratch(threads, std::vector<float>(2 * kDim));
  RowGrouping grouping;
  for (auto _ : state) {
    grouping.Begin(kTableRows, step.rows.size());
    for (size_t k = 0; k < step.rows.size(); ++k) {
      grouping.Add(step.rows[k], step.gradients.data() + (k / kBagSize) * kDim, step.gains[k], 0);
    }
    grouping.Finish();
    ApplyGroupedUpdates(pool, grouping, PrepareUpdate(settings, settings.learning_rate),
                        /*accumulate=*/true, /*every_row=*/false, &storage, &scratch);
    benchmark::ClobberMemory();
  }
  SetCounters(state, step, embrt::sdk::SlotCount(kind));
}

void BM_KernelUpdate(benchmark::State& state) { RunKernel(state, 1); }
void BM_PooledUpdate(benchmark::State& state) { RunKernel(state, 2); }

void Arguments(benchmark::internal::Benchmark* b) {
  b->ArgNames({"optimizer", "zipf"});
  for (int kind : {EMBRT_OPTIMIZER_SGD, EMBRT_OPTIMIZER_ADAGRAD, EMBRT_OPTIMIZER_ADAGRAD_MOMENTUM,
                   EMBRT_OPTIMIZER_ADAM, EMBRT_OPTIMIZER_FTRL}) {
    for (int zipf : {0, 1}) b->Args({kind, zipf});
  }
  b->UseRealTime();
}

BENCHMARK(BM_NaiveUpdate)->Apply(Arguments);
BENCHMARK(BM_KernelUpdate)->Apply(Arguments);
BENCHMARK(BM_PooledUpdate)->Apply(Arguments);

}  // namespace

BENCHMARK_MAIN();
