// Copyright embrt authors.
//
// embrt's cpu backend through the public API beside a hand-written anchor (anchor_kernels.h),
// in one process, interleaved, on the same ids and sizes (issue 13):
//
//   lookup:        anchor AnchorForward        vs  Enqueue(inference) -> DequeueInto
//   training step: anchor forward + backward   vs  Enqueue(training) -> DequeueInto ->
//                                                  ApplyGradients -> Synchronize
//
// One table (sum combiner, Adagrad), 16,384 bags per step of 1 or 20 ids, uniform or Zipf(1.05)
// ids, dims 16, 64, 128, 1 and 2 threads (embrt's option `threads` and the anchor's team). Every
// case runs `rounds` rounds; a round times each of the four variants once, alternating which
// side goes first. A sample is `steps` consecutive steps (8 for bags of 1, 2 for bags of 20,
// --steps=N), each on a batch of its own: every side draws from its own pool of distinct
// batches, used once each, so neither side finds the rows the other has just pulled into the
// cache (with bags of 1 a whole batch fits in a large L3). Medians are printed with the ratio
// embrt throughput / anchor throughput (> 1: embrt is faster). Then the fixed cost of a tiny
// step (1 bag of 1 id) at each thread count.
//
//   cpu_anchor_benchmark            full: 2 GiB table per dim (plus 2 GiB of Adagrad
//                                   accumulators, twice: embrt's and the anchor's), 15 rounds
//   cpu_anchor_benchmark --quick    smoke test: small table, 2 rounds; also checks that embrt's
//                                   and the anchor's activations agree (exits 1 if not)
//   flags: --table_gib=G --rounds=N --steps=N --dims=16,64 --threads=1,2 --bags=20
//          --ids=uniform,zipf --skip_tiny --lookup_only (no training steps: for profiles;
//          enqueue% is then Enqueue's share of the lookup, nearly all of it for batches of at
//          most 1024 ids, which are looked up inside Enqueue, as in --quick)
//          --anchor_avx2 (the anchor's AVX2 kernels, also on an AVX-512 CPU)
//          (--dims= with no dims runs the tiny step only)

#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "anchor_kernels.h"
#include "bench_common.h"
#include "embrt/config.h"
#include "embrt/embedding.h"
#include "embrt/inputs.h"

namespace {

using embrt::bench::AnchorBackward;
using embrt::bench::AnchorBackwardScratch;
using embrt::bench::AnchorForward;
using embrt::bench::AnchorTable;
using embrt::bench::AnchorTeam;
using embrt::bench::Batch;
using embrt::bench::Check;
using embrt::bench::Clock;
using embrt::bench::FlagValue;
using embrt::bench::InitialValue;
using embrt::bench::MakeBatches;
using embrt::bench::Median;
using embrt::bench::ParseInts;
using embrt::bench::ParseWords;
using embrt::bench::Seconds;

constexpr float kLearningRate = 0.01f;
constexpr float kInitialAccumulator = 0.1f;

struct Options {
  bool quick = false;
  double table_gib = 2.0;
  int rounds = 15;
  int steps = 0;  // steps per sample; 0: 8 for bags of 1, 2 otherwise
  int bags = 16384;
  std::vector<int> dims = {16, 64, 128};
  std::vector<int> threads = {1, 2};
  std::vector<int> bag_sizes = {1, 20};
  std::vector<std::string> distributions = {"uniform", "zipf"};
  bool tiny = true;
  bool lookup_only = false;  // skip the training-step samples (for profiles of the lookup)
  bool anchor_avx2 = false;  // the anchor's AVX2 kernels even on an AVX-512 CPU
};

bool ParseOptions(int argc, char** argv, Options* o) {
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&](const char* name) { return FlagValue(argv[i], name); };
    if (arg == "--quick") {
      o->quick = true;
      o->table_gib = 1.0 / 64;
      o->rounds = 2;
      o->bags = 512;
    } else if (const char* v = value("--table_gib=")) {
      o->table_gib = std::atof(v);
    } else if (const char* v = value("--rounds=")) {
      o->rounds = std::max(1, std::atoi(v));
    } else if (const char* v = value("--steps=")) {
      o->steps = std::max(1, std::atoi(v));
    } else if (const char* v = value("--dims=")) {
      o->dims = ParseInts(v);
    } else if (const char* v = value("--threads=")) {
      o->threads = ParseInts(v);
    } else if (const char* v = value("--bags=")) {
      o->bag_sizes = ParseInts(v);
    } else if (const char* v = value("--ids=")) {
      o->distributions = ParseWords(v);
    } else if (arg == "--lookup_only") {
      o->lookup_only = true;
    } else if (arg == "--skip_tiny") {
      o->tiny = false;
    } else if (arg == "--anchor_avx2") {
      o->anchor_avx2 = true;
    } else {
      std::fprintf(stderr, "unknown flag %s (see the comment at the top of the source)\n", argv[i]);
      return false;
    }
  }
  return true;
}

embrt::EmbeddingConfig MakeConfig(int64_t rows, int dim, int bags, int threads) {
  embrt::EmbeddingConfig config;
  embrt::TableConfig* table = config.add_tables();
  table->set_name("table");
  table->set_vocabulary_size(rows);
  table->set_dim(dim);
  table->set_combiner(embrt::SUM);
  embrt::FeatureConfig* feature = config.add_features();
  feature->set_name("ids");
  feature->set_table("table");
  config.mutable_optimizer()->mutable_adagrad()->set_initial_accumulator_value(kInitialAccumulator);
  config.mutable_optimizer()->mutable_learning_rate()->set_constant(kLearningRate);
  config.mutable_backend()->set_name("cpu");
  (*config.mutable_backend()->mutable_options())["threads"] = std::to_string(threads);
  config.set_per_replica_batch_size(bags);
  return config;
}

// CPU seconds of every thread of the process: on a loaded machine the work done, without the
// time spent waiting for a core (spinning threads count, though).
double ProcessCpuSeconds() {
  timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

// One embrt engine and its host-side buffers for one (dim, threads).
struct EmbrtSide {
  std::unique_ptr<embrt::Embedding> embedding;
  embrt::Tensor activations;
  embrt::Tensor gradients;
  std::vector<std::optional<embrt::TensorView>> gradient_views;

  EmbrtSide(int64_t rows, int dim, int bags, int threads) {
    // The batches outlive every step, so the backend may read an inference step's ids in
    // place (EmbeddingOptions::inputs_outlive_step), as a user keeping their batches would.
    embrt::EmbeddingOptions options;
    options.inputs_outlive_step = true;
    auto created = embrt::Embedding::Create(MakeConfig(rows, dim, bags, threads), options);
    Check(created.status(), "Embedding::Create");
    embedding = std::move(*created);
    Check(embedding->Build(), "Build");
    Check(embedding->LoadTables(
              [&](int, int64_t begin, int64_t count, absl::Span<const absl::Span<float>> slots) {
                for (int64_t r = 0; r < count; ++r) {
                  for (int d = 0; d < dim; ++d) {
                    slots[0][r * dim + d] = InitialValue(begin + r, d);
                    slots[1][r * dim + d] = kInitialAccumulator;
                  }
                }
                return absl::OkStatus();
              }),
          "LoadTables");
    activations.shape = {bags, dim};
    activations.values.assign(static_cast<size_t>(bags) * dim, 0.0f);
    gradients.shape = {bags, dim};
    gradients.values.assign(static_cast<size_t>(bags) * dim, 1e-3f);
    gradient_views = {embrt::TensorView::Of(gradients)};
  }

  // Returns the seconds spent in Enqueue (conversion, validation, copies: outside the kernels).
  double Step(const Batch& batch, bool training) {
    const Clock::time_point start = Clock::now();
    const embrt::FeatureInput input = embrt::FeatureInput::Ragged(batch.splits, batch.ids);
    Check(embedding->Enqueue({&input, 1}, {}, training), "Enqueue");
    const double enqueue = Seconds(start);
    const absl::Span<float> out(activations.values);
    Check(embedding->DequeueInto({&out, 1}), "DequeueInto");
    if (training) {
      Check(embedding->ApplyGradients(gradient_views), "ApplyGradients");
      Check(embedding->Synchronize(), "Synchronize");
    }
    return enqueue;
  }
};

struct CaseResult {
  double anchor_lookup, embrt_lookup, anchor_step, embrt_step, enqueue;
  double cpu_anchor_lookup, cpu_embrt_lookup, cpu_anchor_step, cpu_embrt_step;  // CPU seconds
};

struct Totals {
  int failures = 0;
  // (dim, bag, distribution, threads) -> result
  std::map<std::tuple<int, int, std::string, int>, CaseResult> results;
};

// `check`: the tables were just filled the same way on both sides, so the activations must
// agree exactly (they do not after updates: the two sides' Adagrad expressions differ).
void RunCase(const Options& o, int dim, int threads, int bag_size, const std::string& distribution,
             bool check, AnchorTable& anchor_table, AnchorTeam& team, EmbrtSide& side,
             Totals* totals) {
  const int steps = o.steps > 0 ? o.steps : (bag_size == 1 ? 8 : 2);
  // Per side: (rounds + 1 warm-up) x (lookup + training) samples of `steps` batches each.
  const int pool = 2 * steps * (o.rounds + 1);
  const std::vector<Batch> anchor_batches =
      MakeBatches(pool, o.bags, bag_size, distribution, anchor_table.rows(), 1000 + bag_size);
  const std::vector<Batch> embrt_batches =
      MakeBatches(pool, o.bags, bag_size, distribution, anchor_table.rows(), 2000 + bag_size);
  size_t anchor_next = 0, embrt_next = 0;  // each side's rotation through its own pool
  std::vector<float> anchor_out(static_cast<size_t>(o.bags) * dim);
  AnchorBackwardScratch scratch;
  std::vector<double> anchor_lookup, embrt_lookup, anchor_step, embrt_step, enqueue;
  std::vector<double> cpu_anchor_lookup, cpu_embrt_lookup, cpu_anchor_step, cpu_embrt_step;
  if (check) {
    const Batch& batch = anchor_batches[0];
    AnchorForward(anchor_table, batch.splits.data(), batch.ids.data(), o.bags,
                  anchor_out.data(), team);
    side.Step(batch, /*training=*/false);
    if (!std::equal(anchor_out.begin(), anchor_out.end(), side.activations.values.begin())) {
      std::fprintf(stderr, "MISMATCH: embrt and anchor activations differ (dim %d, bag %d, %s)\n",
                   dim, bag_size, distribution.c_str());
      ++totals->failures;
    }
  }
  for (int round = -1; round < o.rounds; ++round) {  // round -1 warms up
    auto time_anchor = [&] {
      Clock::time_point t = Clock::now();
      double c = ProcessCpuSeconds();
      for (int s = 0; s < steps; ++s) {
        const Batch& batch = anchor_batches[anchor_next++ % pool];
        AnchorForward(anchor_table, batch.splits.data(), batch.ids.data(), o.bags,
                      anchor_out.data(), team);
      }
      const double lookup = Seconds(t) / steps, cpu_lookup = (ProcessCpuSeconds() - c) / steps;
      t = Clock::now();
      c = ProcessCpuSeconds();
      for (int s = 0; s < steps && !o.lookup_only; ++s) {
        const Batch& batch = anchor_batches[anchor_next++ % pool];
        AnchorForward(anchor_table, batch.splits.data(), batch.ids.data(), o.bags,
                      anchor_out.data(), team);
        AnchorBackward(anchor_table, batch.splits.data(), batch.ids.data(), o.bags,
                       side.gradients.values.data(), kLearningRate, team, &scratch);
      }
      const double step = Seconds(t) / steps, cpu_step = (ProcessCpuSeconds() - c) / steps;
      if (round >= 0) {
        anchor_lookup.push_back(lookup);
        anchor_step.push_back(step);
        cpu_anchor_lookup.push_back(cpu_lookup);
        cpu_anchor_step.push_back(cpu_step);
      }
    };
    auto time_embrt = [&] {
      Clock::time_point t = Clock::now();
      double c = ProcessCpuSeconds();
      double lookup_enqueue = 0;  // reported with --lookup_only, which has no steps
      for (int s = 0; s < steps; ++s) {
        lookup_enqueue += side.Step(embrt_batches[embrt_next++ % pool], /*training=*/false);
      }
      const double lookup = Seconds(t) / steps, cpu_lookup = (ProcessCpuSeconds() - c) / steps;
      t = Clock::now();
      c = ProcessCpuSeconds();
      double enq = 0;
      for (int s = 0; s < steps && !o.lookup_only; ++s) {
        enq += side.Step(embrt_batches[embrt_next++ % pool], /*training=*/true);
      }
      const double step = Seconds(t) / steps, cpu_step = (ProcessCpuSeconds() - c) / steps;
      if (round >= 0) {
        embrt_lookup.push_back(lookup);
        embrt_step.push_back(step);
        enqueue.push_back(o.lookup_only ? lookup_enqueue / steps / lookup : enq / steps / step);
        cpu_embrt_lookup.push_back(cpu_lookup);
        cpu_embrt_step.push_back(cpu_step);
      }
    };
    if (round % 2 == 0) {
      time_anchor();
      time_embrt();
    } else {
      time_embrt();
      time_anchor();
    }
  }
  const CaseResult r{Median(anchor_lookup),    Median(embrt_lookup),    Median(anchor_step),
                     Median(embrt_step),       Median(enqueue),         Median(cpu_anchor_lookup),
                     Median(cpu_embrt_lookup), Median(cpu_anchor_step), Median(cpu_embrt_step)};
  totals->results[{dim, bag_size, distribution, threads}] = r;
  if (o.lookup_only) {  // no training samples: the step columns stay empty
    std::printf("%4d %4d %-8s %3d | %9.3f %9.3f %6.2fx | %9s %9s %7s | %5.1f%% | %6.2fx %7s\n",
                dim, bag_size, distribution.c_str(), threads, r.anchor_lookup * 1e3,
                r.embrt_lookup * 1e3, r.anchor_lookup / r.embrt_lookup, "-", "-", "-",
                r.enqueue * 100, r.cpu_anchor_lookup / r.cpu_embrt_lookup, "-");
    std::fflush(stdout);
    return;
  }
  std::printf(
      "%4d %4d %-8s %3d | %9.3f %9.3f %6.2fx | %9.3f %9.3f %6.2fx | %5.1f%% | %6.2fx %6.2fx\n", dim,
      bag_size, distribution.c_str(), threads, r.anchor_lookup * 1e3, r.embrt_lookup * 1e3,
      r.anchor_lookup / r.embrt_lookup, r.anchor_step * 1e3, r.embrt_step * 1e3,
      r.anchor_step / r.embrt_step, r.enqueue * 100, r.cpu_anchor_lookup / r.cpu_embrt_lookup,
      r.cpu_anchor_step / r.cpu_embrt_step);
  std::fflush(stdout);
}

// Per-step cost of a model with one bag of one id: the fixed cost of a step, in wall-clock time
// and in CPU time of the whole process (which includes any spinning and thread hand-offs).
void RunTiny(const Options& o) {
  std::printf(
      "\ntiny step (1 bag of 1 id, 1024 x 16 table, Adagrad): microseconds per step, "
      "medians of 5 x %d steps\n",
      o.quick ? 200 : 5000);
  std::printf("threads | training step: wall   cpu | lookup only: wall   cpu\n");
  const int steps = o.quick ? 200 : 5000;
  for (int threads : o.threads) {
    EmbrtSide side(1024, 16, 1, threads);
    Batch batch;
    batch.splits = {0, 1};
    batch.ids = {7};
    std::vector<double> train, lookup, train_cpu, lookup_cpu;
    for (int repeat = 0; repeat < 5; ++repeat) {
      Clock::time_point t = Clock::now();
      double c = ProcessCpuSeconds();
      for (int s = 0; s < steps; ++s) {
        const embrt::FeatureInput input = embrt::FeatureInput::Ragged(batch.splits, batch.ids);
        Check(side.embedding->Enqueue({&input, 1}, {}, true), "Enqueue");
        const absl::Span<float> out(side.activations.values);
        Check(side.embedding->DequeueInto({&out, 1}), "DequeueInto");
        Check(side.embedding->ApplyGradients(side.gradient_views), "ApplyGradients");
      }
      Check(side.embedding->Synchronize(), "Synchronize");
      train.push_back(Seconds(t) / steps);
      train_cpu.push_back((ProcessCpuSeconds() - c) / steps);
      t = Clock::now();
      c = ProcessCpuSeconds();
      for (int s = 0; s < steps; ++s) side.Step(batch, /*training=*/false);
      lookup.push_back(Seconds(t) / steps);
      lookup_cpu.push_back((ProcessCpuSeconds() - c) / steps);
    }
    std::printf("%7d | %19.1f %5.1f | %17.1f %5.1f\n", threads, Median(train) * 1e6,
                Median(train_cpu) * 1e6, Median(lookup) * 1e6, Median(lookup_cpu) * 1e6);
  }
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (!ParseOptions(argc, argv, &o)) return 2;
  embrt::bench::LimitAnchorToAvx2(o.anchor_avx2);
  std::printf("cpu backend vs anchor: %d bags per step, %d rounds (medians), table %.3g GiB%s%s\n",
              o.bags, o.rounds, o.table_gib, o.quick ? " (quick: smoke test, no numbers)" : "",
              o.anchor_avx2 ? ", anchor limited to AVX2" : "");
  std::printf(
      "ratio = embrt throughput / anchor throughput (wall-clock medians); enqueue%% = the\n"
      "Enqueue call (conversion, checks, copies) / step (with --lookup_only: / lookup); cpu\n"
      "ratios = the same ratios in process CPU time (all threads), steadier on a loaded machine\n");
  std::printf(
      " dim  bag ids      thr | anchor ms  embrt ms  lookup | anchor ms  embrt ms    step "
      "| enqueue | lookup   step (cpu)\n");
  Totals totals;
  for (int dim : o.dims) {
    const int64_t rows =
        static_cast<int64_t>(o.table_gib * (int64_t{1} << 30) / (sizeof(float) * dim));
    AnchorTable anchor_table(rows, dim, kInitialAccumulator);
    for (int threads : o.threads) {
      // Each thread count gets fresh tables on both sides, filled with the same values.
      for (int64_t r = 0; r < rows; ++r) {
        for (int d = 0; d < dim; ++d) {
          anchor_table.parameters()[r * dim + d] = InitialValue(r, d);
          anchor_table.accumulators()[r * dim + d] = kInitialAccumulator;
        }
      }
      AnchorTeam team(threads);
      EmbrtSide side(rows, dim, o.bags, threads);
      bool check = true;
      for (int bag_size : o.bag_sizes) {
        for (const std::string& distribution : o.distributions) {
          RunCase(o, dim, threads, bag_size, distribution, check, anchor_table, team, side,
                  &totals);
          check = false;
        }
      }
    }
  }
  // Scaling: 2 threads over 1 thread, per side, uniform ids.
  std::printf("\nscaling, uniform ids: time(1 thread) / time(2 threads)\n");
  std::printf(" dim  bag | anchor lookup embrt lookup | anchor step embrt step\n");
  for (const auto& [key, r2] : totals.results) {
    const auto& [dim, bag, distribution, threads] = key;
    if (threads != 2 || distribution != "uniform") continue;
    auto it = totals.results.find({dim, bag, distribution, 1});
    if (it == totals.results.end()) continue;
    const CaseResult& r1 = it->second;
    std::printf("%4d %4d | %13.2fx %12.2fx | %11.2fx %10.2fx\n", dim, bag,
                r1.anchor_lookup / r2.anchor_lookup, r1.embrt_lookup / r2.embrt_lookup,
                r1.anchor_step / r2.anchor_step, r1.embrt_step / r2.embrt_step);
  }
  if (o.tiny) RunTiny(o);
  if (totals.failures > 0) {
    std::fprintf(stderr, "%d case(s) where embrt and the anchor disagree\n", totals.failures);
    return 1;
  }
  return 0;
}
