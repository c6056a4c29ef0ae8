// Copyright embrt authors.
//
// A training loop on every host in which host 1 kills itself (SIGKILL, no cleanup) at step 3,
// for run_killed_rank.cmake: the other hosts wait in the next exchange, and mpirun must end the
// whole job within a bounded time instead of leaving them hanging. Prints one line per host
// and step, so the log shows how far each host got.
//
// With a checkpoint root as argument, every host saves a checkpoint after step 2, and host 1
// kills itself a few milliseconds into the save after step 3 (bigger tables make that save
// take longer): the checkpoint of step 2 must stay intact and `latest` must name a complete
// checkpoint (the script checks with `embrt inspect`).

#include <chrono>
#include <csignal>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "embrt/checkpoint.h"
#include "embrt/config.h"
#include "embrt/embedding.h"
#include "embrt/inputs.h"

int main(int argc, char** argv) {
  const std::string root = argc > 1 ? argv[1] : "";
  absl::StatusOr<embrt::EmbeddingConfig> config = embrt::ParseConfigText(
      std::string("tables { name: \"t\" vocabulary_size: ") + (root.empty() ? "64" : "1000000") +
      R"pb( dim: 8 }
    features { name: "f" table: "t" }
    per_replica_batch_size: 4
    num_hosts: 0
    backend { name: "cpu" options { key: "threads" value: "1" } }
  )pb");
  if (!config.ok()) return 2;
  auto embedding = embrt::Embedding::Create(*config);
  if (!embedding.ok() || !(*embedding)->Build(4).ok()) {
    std::fprintf(stderr, "setup failed\n");
    return 2;
  }
  const int host = (*embedding)->config().config.host_id();
  for (int step = 0; step < 1000000; ++step) {
    if (!root.empty() && step == 2) {
      absl::StatusOr<std::string> saved = embrt::SaveCheckpoint(**embedding, root);
      if (!saved.ok()) return 1;
      std::fprintf(stderr, "host %d: saved %s\n", host, saved->c_str());
    }
    if (!root.empty() && step == 3) {
      if (host == 1) {
        std::thread([] {
          std::this_thread::sleep_for(std::chrono::milliseconds(10));
          std::fprintf(stderr, "host 1: killing myself at step 3\n");
          std::fflush(stderr);
          std::raise(SIGKILL);
        }).detach();
      }
      absl::StatusOr<std::string> saved = embrt::SaveCheckpoint(**embedding, root);
      std::fprintf(stderr, "host %d: second save returned %s\n", host,
                   saved.ok() ? saved->c_str() : saved.status().ToString().c_str());
      std::this_thread::sleep_for(std::chrono::seconds(30));  // host 1 dies meanwhile
      return 0;
    }
    if (host == 1 && step == 3) {
      std::fprintf(stderr, "host 1: killing myself at step 3\n");
      std::fflush(stderr);
      std::raise(SIGKILL);
    }
    const std::vector<int64_t> ids = {step % 64, (step * 7) % 64, 1, 63};
    absl::Status status = (*embedding)->Enqueue({embrt::FeatureInput::Dense(ids)});
    absl::StatusOr<std::vector<embrt::Tensor>> a = (*embedding)->Dequeue();
    if (!status.ok() || !a.ok()) {
      std::fprintf(stderr, "host %d: step %d failed: %s\n", host, step,
                   (status.ok() ? a.status() : status).ToString().c_str());
      return 1;
    }
    std::vector<std::optional<embrt::TensorView>> g = {embrt::TensorView::Of((*a)[0])};
    status = (*embedding)->ApplyGradients(g);
    if (!status.ok()) {
      std::fprintf(stderr, "host %d: step %d failed: %s\n", host, step, status.ToString().c_str());
      return 1;
    }
    if (step < 5) std::fprintf(stderr, "host %d: step %d done\n", host, step);
  }
  return 0;  // never: host 1 dies at step 3
}
