// Copyright embrt authors.
//
// Whole training steps of a multi-host cpu engine, timed on every host of an mpirun job:
//
//   EMBRT_CPU_LOG_EXCHANGE=1 mpirun -np N build/release/bench/multihost_step_bench
//       [steps=40] [batch_per_host=1024] [features=26] [dim=64] [rows=20000] [threads=1]
//   (one command line)
//
// 26 one-hot features, each on its own SGD table of `rows` rows (DIV), Zipf(1.05) ids, batch
// `batch_per_host` per host (one replica per host, so the global batch grows with N). Host 0
// prints steps/s (the slowest host's time) and examples/s; with EMBRT_CPU_LOG_EXCHANGE=1 every
// host prints the bytes it sent to other hosts. Without mpirun it is the 1-host baseline.
// Not a ctest: timings on a shared machine are reported, never asserted (bench/README.md).

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "embrt/config.h"
#include "embrt/embedding.h"
#include "embrt/inputs.h"
#include "zipf_ids.h"

namespace {

int Arg(int argc, char** argv, int index, int fallback) {
  return argc > index ? std::atoi(argv[index]) : fallback;
}

}  // namespace

int main(int argc, char** argv) {
  const int steps = Arg(argc, argv, 1, 40);
  const int batch = Arg(argc, argv, 2, 1024);
  const int features = Arg(argc, argv, 3, 26);
  const int dim = Arg(argc, argv, 4, 64);
  const int rows = Arg(argc, argv, 5, 20000);
  const int threads = Arg(argc, argv, 6, 1);
  std::string text;
  for (int f = 0; f < features; ++f) {
    absl::StrAppend(&text, "tables { name: \"t", f, "\" vocabulary_size: ", rows, " dim: ", dim,
                    " }\nfeatures { name: \"f", f, "\" table: \"t", f, "\" }\n");
  }
  absl::StrAppend(&text, "num_hosts: 0 optimizer { sgd {} learning_rate { constant: 0.01 } }\n",
                  "backend { name: \"cpu\" options { key: \"threads\" value: \"", threads,
                  "\" } }\n");
  absl::StatusOr<embrt::EmbeddingConfig> config = embrt::ParseConfigText(text);
  if (!config.ok()) return 2;
  auto embedding = embrt::Embedding::Create(*config);
  if (!embedding.ok()) {
    std::fprintf(stderr, "%s\n", embedding.status().ToString().c_str());
    return 2;
  }
  embrt::Embedding& e = **embedding;
  if (!e.Build(batch).ok()) return 2;
  const int host = e.config().config.host_id();
  const int hosts = e.config().config.num_hosts();

  // Every host draws its own ids (its replica's share of the global batch).
  embrt::bench::ZipfIds zipf(1.05);
  std::mt19937_64 random(1234 + host);
  const int batches = 4;  // cycled, so drawing ids is not timed
  std::vector<std::vector<std::vector<int64_t>>> ids(
      batches, std::vector<std::vector<int64_t>>(features, std::vector<int64_t>(batch)));
  for (auto& b : ids) {
    for (auto& f : b) {
      for (int64_t& id : f) id = zipf.Draw(random, rows);
    }
  }
  std::vector<std::vector<float>> gradients(features, std::vector<float>(size_t{1} * batch * dim));
  for (auto& g : gradients) {
    for (float& v : g) v = std::uniform_real_distribution<float>(-1, 1)(random);
  }
  std::vector<std::optional<embrt::TensorView>> views;
  for (auto& g : gradients) views.push_back(embrt::TensorView{g, {batch, dim}});
  std::vector<std::vector<float>> out(features, std::vector<float>(size_t{1} * batch * dim));
  std::vector<absl::Span<float>> spans(out.begin(), out.end());

  auto step = [&](int s) -> bool {
    std::vector<embrt::FeatureInput> inputs;
    for (const auto& f : ids[s % batches]) inputs.push_back(embrt::FeatureInput::Dense(f));
    return e.Enqueue(inputs).ok() && e.DequeueInto(spans).ok() && e.ApplyGradients(views).ok();
  };
  for (int s = 0; s < 3; ++s) {  // warm up: first touch of the tables, MPI connections
    if (!step(s)) return 1;
  }
  if (!e.HostBarrier().ok()) return 1;
  const auto start = std::chrono::steady_clock::now();
  for (int s = 0; s < steps; ++s) {
    if (!step(s)) return 1;
  }
  if (!e.HostBarrier().ok()) return 1;
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  auto all = e.AllGatherFromHosts(std::to_string(seconds));
  if (!all.ok()) return 1;
  double slowest = 0;
  for (const std::string& s : *all) slowest = std::max(slowest, std::atof(s.c_str()));
  if (host == 0) {
    std::printf("hosts %d, batch %d per host (global %d), %d features, dim %d, %d rows per table: "
                "%.1f steps/s, %.0f examples/s, %.2f ms per step\n",
                hosts, batch, batch * hosts, features, dim, rows, steps / slowest,
                steps * batch * hosts / slowest, 1000 * slowest / steps);
  }
  return 0;
}
