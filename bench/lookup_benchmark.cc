// Copyright embrt authors.
//
// Forward lookup of the cpu backend's kernels (plugins/cpu/lookup.h) against a naive scalar
// loop, on one table of 2^20 rows (64 MiB at dim 16, larger than the caches), for dims 16, 64,
// 128, bag sizes 1, 20, 100, uniform and Zipf(1.1) ids, sum and mean.
//
//   BM_NaiveLookup     plain scalar loop, one thread, mean divided at the end
//   BM_KernelLookup    ComputeGains + LookupBags on one thread
//   BM_PooledLookup    the same, split over a 2-worker ThreadPool (the engine's way)
//
// Counters: rows/s = table rows gathered per second; GB/s = bytes of table rows read plus
// activations written, per second.

#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdint>
#include <map>
#include <memory>
#include <random>
#include <vector>

#include "lookup.h"
#include "tables.h"
#include "thread_pool.h"
#include "zipf_ids.h"

namespace {

using embrt::cpu::ThreadPool;

constexpr int64_t kTableRows = int64_t{1} << 20;
constexpr int64_t kBags = 1024;

// One table per dim, made once (row-major, small values), allocated like the engine's.
class Table {
 public:
  explicit Table(int dim) : floats_(kTableRows * dim) {
    for (size_t i = 0; i < floats_.size(); ++i) floats_[i] = static_cast<float>(i % 1013) * 1e-3f;
  }
  const float* data() const { return floats_.data(); }
  float operator[](size_t i) const { return floats_[i]; }

 private:
  embrt::cpu::AlignedFloats floats_;
};
const Table& GetTable(int dim) {
  static std::map<int, std::unique_ptr<Table>> tables;
  auto& table = tables[dim];
  if (table == nullptr) table = std::make_unique<Table>(dim);
  return *table;
}

struct Batch {
  std::vector<int32_t> splits;
  std::vector<int64_t> rows;
  std::vector<float> weights;
  std::vector<float> gains;
};

// Uniform ids, or Zipf(1.1) ids (bench/zipf_ids.h).
int64_t DrawId(std::mt19937_64& random, bool zipf) {
  if (!zipf) return static_cast<int64_t>(random() % kTableRows);
  static const embrt::bench::ZipfIds kZipf(1.1);
  return kZipf.Draw(random, kTableRows);
}

Batch MakeBatch(int bag_size, bool zipf) {
  std::mt19937_64 random(7);
  Batch batch;
  batch.splits.push_back(0);
  for (int64_t b = 0; b < kBags; ++b) {
    for (int k = 0; k < bag_size; ++k) {
      batch.rows.push_back(DrawId(random, zipf));
      batch.weights.push_back(1.0f);
    }
    batch.splits.push_back(static_cast<int32_t>(batch.rows.size()));
  }
  batch.gains.resize(batch.rows.size());
  return batch;
}

void NaiveLookup(const Table& table, int dim, const Batch& batch, bool mean,
                 std::vector<float>* out) {
  for (int64_t b = 0; b < kBags; ++b) {
    float total = 0;
    for (int d = 0; d < dim; ++d) (*out)[b * dim + d] = 0;
    for (int32_t k = batch.splits[b]; k < batch.splits[b + 1]; ++k) {
      const float w = batch.weights[k];
      total += w;
      for (int d = 0; d < dim; ++d) (*out)[b * dim + d] += w * table[batch.rows[k] * dim + d];
    }
    if (mean && total != 0) {
      for (int d = 0; d < dim; ++d) (*out)[b * dim + d] /= total;
    }
  }
}

void SetCounters(benchmark::State& state, int dim, const Batch& batch) {
  const double ids = static_cast<double>(batch.rows.size()) * state.iterations();
  const double bytes =
      (static_cast<double>(batch.rows.size()) + kBags) * dim * sizeof(float) * state.iterations();
  state.counters["rows/s"] = benchmark::Counter(ids, benchmark::Counter::kIsRate);
  state.counters["GB/s"] = benchmark::Counter(bytes / 1e9, benchmark::Counter::kIsRate);
}

// Arguments: dim, bag size, zipf (0/1), mean (0/1).
void BM_NaiveLookup(benchmark::State& state) {
  const int dim = state.range(0);
  const Batch batch = MakeBatch(state.range(1), state.range(2) != 0);
  const Table& table = GetTable(dim);
  std::vector<float> out(kBags * dim);
  for (auto _ : state) {
    NaiveLookup(table, dim, batch, state.range(3) != 0, &out);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  SetCounters(state, dim, batch);
}

void RunKernel(const Table& table, int dim, Batch& batch, bool mean, int64_t begin, int64_t end,
               float* out) {
  embrt::cpu::ComputeGains(mean ? EMBRT_COMBINER_MEAN : EMBRT_COMBINER_SUM, batch.splits.data(),
                           batch.weights.data(), begin, end, batch.gains.data());
  embrt::cpu::LookupBags(table.data(), dim, batch.splits.data(), batch.rows.data(),
                         batch.gains.data(), begin, end, out);
}

void BM_KernelLookup(benchmark::State& state) {
  const int dim = state.range(0);
  Batch batch = MakeBatch(state.range(1), state.range(2) != 0);
  const Table& table = GetTable(dim);
  std::vector<float> out(kBags * dim);
  for (auto _ : state) {
    RunKernel(table, dim, batch, state.range(3) != 0, 0, kBags, out.data());
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  SetCounters(state, dim, batch);
}

void BM_PooledLookup(benchmark::State& state) {
  const int dim = state.range(0);
  Batch batch = MakeBatch(state.range(1), state.range(2) != 0);
  const Table& table = GetTable(dim);
  std::vector<float> out(kBags * dim);
  ThreadPool pool(2);
  for (auto _ : state) {
    pool.ParallelFor(kBags, 64, [&](int64_t begin, int64_t end, int) {
      RunKernel(table, dim, batch, state.range(3) != 0, begin, end, out.data());
    });
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  SetCounters(state, dim, batch);
}

void Arguments(benchmark::internal::Benchmark* b) {
  b->ArgNames({"dim", "bag", "zipf", "mean"});
  for (int dim : {16, 64, 128}) {
    for (int bag : {1, 20, 100}) {
      for (int zipf : {0, 1}) {
        for (int mean : {0, 1}) b->Args({dim, bag, zipf, mean});
      }
    }
  }
  b->UseRealTime();
}

BENCHMARK(BM_NaiveLookup)->Apply(Arguments);
BENCHMARK(BM_KernelLookup)->Apply(Arguments);
BENCHMARK(BM_PooledLookup)->Apply(Arguments);

}  // namespace

BENCHMARK_MAIN();
