// Copyright embrt authors.
//
// A host application that uses MPI itself (started by mpirun): it initializes MPI before
// embrt, loads and unloads the cpu plugin by hand before the core loads it again, trains a few
// steps on every host with its own MPI traffic in between, and finalizes MPI itself. The plugin
// must use the application's MPI (never initialize or finalize it), keep its traffic apart (its
// own communicator), and leave the job clean. Exit code 0 on success, 1 with a message else.

#include <dlfcn.h>
#define OMPI_SKIP_MPICXX 1
#include <mpi.h>

#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "embrt/config.h"
#include "embrt/embedding.h"
#include "embrt/inputs.h"

namespace {

int Fail(int rank, const std::string& what) {
  std::fprintf(stderr, "host %d: %s\n", rank, what.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  int provided = 0;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_SERIALIZED, &provided);
  int rank = 0;
  int size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  // Load and unload the plugin first: -z nodelete keeps it (and libmpi) in place.
  void* handle = dlopen(EMBRT_CPU_PLUGIN, RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) return Fail(rank, dlerror());
  dlclose(handle);

  int status = 0;
  {
    absl::StatusOr<embrt::EmbeddingConfig> config = embrt::ParseConfigText(R"pb(
      tables { name: "t" vocabulary_size: 13 dim: 3 }
      features { name: "f" table: "t" }
      per_replica_batch_size: 4
      num_hosts: 0
      backend { name: "cpu" options { key: "threads" value: "1" } }
    )pb");
    if (!config.ok()) return Fail(rank, config.status().ToString());
    auto embedding = embrt::Embedding::Create(*config);
    if (!embedding.ok()) return Fail(rank, embedding.status().ToString());
    if ((*embedding)->config().config.num_hosts() != size) {
      return Fail(rank, "the engine does not see the application's MPI job");
    }
    if (!(*embedding)->Build(4).ok()) return Fail(rank, "Build failed");
    for (int step = 0; step < 3; ++step) {
      const std::vector<int64_t> ids = {rank, 12 - rank, 5, (step * 3) % 13};
      absl::Status s = (*embedding)->Enqueue({embrt::FeatureInput::Dense(ids)});
      // The application's own collective between embrt's: no mix-up of messages.
      int sum = 0;
      MPI_Allreduce(&rank, &sum, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
      if (sum != size * (size - 1) / 2) return Fail(rank, "the application's Allreduce is wrong");
      auto a = (*embedding)->Dequeue();
      if (!s.ok() || !a.ok()) return Fail(rank, "lookup failed");
      std::vector<std::optional<embrt::TensorView>> g = {embrt::TensorView::Of((*a)[0])};
      if (!(*embedding)->ApplyGradients(g).ok()) return Fail(rank, "ApplyGradients failed");
    }
    if (!(*embedding)->Synchronize().ok()) status = Fail(rank, "Synchronize failed");
  }
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (finalized) return Fail(rank, "embrt finalized the application's MPI");
  MPI_Finalize();  // the application's; embrt must not finalize again at exit
  if (rank == 0 && status == 0) std::printf("ok: %d hosts on the application's MPI\n", size);
  return status;
}
