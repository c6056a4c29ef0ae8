// Copyright embrt authors.
//
// Checkpoint throughput on a 1 GiB table (cpu backend, SGD so one slot: 2^21 rows x dim 128
// float32), against plain file I/O of the same bytes in the same process:
//
//   BM_PlainWrite         write 1 GiB from memory in 16 MiB chunks, fsync (the disk's pace)
//   BM_SaveCheckpoint     SaveCheckpoint: retrieve from the engine in chunks, write, XXH3,
//                         fsync files and directories, rename, update `latest`
//   BM_PlainRead          pread the latest checkpoint's 1 GiB table file in 16 MiB chunks into one 16 MiB buffer (it
//                         stays in the cache: the page cache is read once, nothing else
//                         crosses memory; issue 13's baseline)
//   BM_PlainReadIntoMemory
//                         pread the same file into a 1 GiB buffer (touched before): what any
//                         restore must at least do, read the page cache and write every byte
//                         into memory that is not in the cache
//   BM_PlainReadAllCpus, BM_PlainReadIntoMemoryAllCpus
//                         the same two, each of N threads reading a contiguous 1/N of the file
//                         (N: the CPUs, as many as the restore's verification threads and
//                         the cpu backend's default `threads`, which copy in parallel)
//   BM_RestoreCheckpoint  RestoreCheckpoint into a fresh engine (what `embrt eval` and
//                         `--resume` do; the engine's creation, which zero-fills the table, is
//                         not timed): every file memory-mapped, each 512 KiB piece copied by
//                         the backend straight from the map (streaming stores) and hashed
//                         from the cache right after; a file's last piece is hashed before it
//                         is handed out (one pass)
//   BM_RestoreIntoTrainedEngine
//                         RestoreCheckpoint into an engine that holds values: every mapped
//                         file verified first (by its 16 MiB chunks, on N threads), then
//                         loaded from the same maps (two passes)
//   BM_OpenAndVerify      CheckpointReader::Open (serving): map and verify every file (N threads)
//
// Counters: bytes_per_second (table bytes per second). Files go to $TMPDIR (default /tmp);
// reads find the files in the page cache, as a restore right after a save would.
// Run: build/release/bench/checkpoint_benchmark (about 45 s). On a shared machine, interleave the
// cases: --benchmark_repetitions=3 --benchmark_enable_random_interleaving=true.

#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "embrt/checkpoint.h"
#include "embrt/config.h"
#include "embrt/embedding.h"

namespace {

constexpr int64_t kRows = int64_t{1} << 21;
constexpr int kDim = 128;
constexpr int64_t kTableBytes = kRows * kDim * 4;
constexpr size_t kChunkBytes = size_t{16} << 20;

std::string WorkDirectory() {
  static const std::string path = [] {
    const char* base = getenv("TMPDIR");
    std::string pattern = absl::StrCat(base != nullptr ? base : "/tmp", "/embrt_ckpt_bench_XXXXXX");
    if (mkdtemp(pattern.data()) == nullptr) abort();
    return pattern;
  }();
  return path;
}

// A built cpu engine with the 1 GiB table, its tables not initialized yet.
std::unique_ptr<embrt::Embedding> FreshEngine() {
  absl::StatusOr<embrt::EmbeddingConfig> config = embrt::ParseConfigText(absl::StrCat(
      "tables { name: \"big\" vocabulary_size: ", kRows, " dim: ", kDim,
      " initializer { row_id {} } } features { table: \"big\" } optimizer { sgd {} } "
      "backend { name: \"cpu\" } per_replica_batch_size: 1"));
  if (!config.ok()) abort();
  auto created = embrt::Embedding::Create(*config);
  if (!created.ok() || !(*created)->Build().ok()) {
    fprintf(stderr, "cannot create the cpu engine: %s\n", created.status().ToString().c_str());
    abort();
  }
  return *std::move(created);
}

embrt::Embedding& Engine() {
  static embrt::Embedding* engine = [] {
    std::unique_ptr<embrt::Embedding> created = FreshEngine();
    // Initialize the table now, not inside the first timed save.
    if (!created->RetrieveTables([](int, int64_t, int64_t, auto) { return absl::OkStatus(); })
             .ok()) {
      abort();
    }
    return created.release();
  }();
  return *engine;
}

// Writes `path` as BM_PlainWrite does.
void PlainWrite(const std::string& path, const std::vector<char>& buffer) {
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  for (int64_t offset = 0; offset < kTableBytes; offset += kChunkBytes) {
    if (write(fd, buffer.data(), kChunkBytes) != static_cast<ssize_t>(kChunkBytes)) abort();
  }
  fsync(fd);
  close(fd);
}

// Saves the engine at a new step (a checkpoint is never overwritten).
absl::Status SaveNext(embrt::Embedding& engine) {
  engine.set_step(engine.step() + 1);
  embrt::CheckpointOptions options;
  options.keep_last = 1;
  return embrt::SaveCheckpoint(engine, WorkDirectory() + "/ckpts", options).status();
}

// The files every read benchmark needs, whatever order the benchmarks run in.
void Prepare() {
  static const bool prepared = [] {
    if (!SaveNext(Engine()).ok()) abort();
    return true;
  }();
  (void)prepared;
}

// The table file of the latest checkpoint: the plain reads read the very file a restore reads
// (the same bytes, laid out in the page cache the same way).
std::string LatestTableFile() {
  const std::string root = WorkDirectory() + "/ckpts";
  char name[256] = {};
  const int fd = open((root + "/latest").c_str(), O_RDONLY);
  const ssize_t got = fd < 0 ? -1 : read(fd, name, sizeof(name) - 1);
  if (fd >= 0) close(fd);
  if (got <= 0) abort();
  std::string directory(name, static_cast<size_t>(got));
  while (!directory.empty() && (directory.back() == '\n' || directory.back() == ' ')) {
    directory.pop_back();
  }
  return root + "/" + directory + "/big/parameters.f32";
}

void BM_PlainWrite(benchmark::State& state) {
  Prepare();
  std::vector<char> buffer(kChunkBytes, 1);
  const std::string path = WorkDirectory() + "/plain.bin";
  for (auto _ : state) {
    PlainWrite(path, buffer);
  }
  state.SetBytesProcessed(state.iterations() * kTableBytes);
}

void BM_SaveCheckpoint(benchmark::State& state) {
  Prepare();
  embrt::Embedding& engine = Engine();
  for (auto _ : state) {
    absl::Status saved = SaveNext(engine);
    if (!saved.ok()) state.SkipWithError(saved.ToString().c_str());
  }
  state.SetBytesProcessed(state.iterations() * kTableBytes);
}

// Reads the table file on `threads` threads (the caller is one), each a contiguous share of its
// 16 MiB chunks, chunk c into `destination(thread, c)`.
template <typename Destination>
void ReadOnThreads(const std::string& path, int threads, Destination destination) {
  const int fd = open(path.c_str(), O_RDONLY);
  const int64_t chunks = kTableBytes / static_cast<int64_t>(kChunkBytes);
  auto read_share = [&](int t) {
    for (int64_t c = chunks * t / threads; c < chunks * (t + 1) / threads; ++c) {
      const int64_t offset = c * static_cast<int64_t>(kChunkBytes);
      if (pread(fd, destination(t, c), kChunkBytes, offset) != static_cast<ssize_t>(kChunkBytes)) {
        abort();
      }
    }
  };
  std::vector<std::thread> readers;
  for (int t = 1; t < threads; ++t) readers.emplace_back(read_share, t);
  read_share(0);
  for (std::thread& reader : readers) reader.join();
  close(fd);
}

int AllCpus() { return static_cast<int>(std::max(1u, std::thread::hardware_concurrency())); }

// The file into one 16 MiB buffer per thread (they stay in the cache).
void PlainRead(benchmark::State& state, int threads) {
  Prepare();
  std::vector<std::vector<char>> buffers(threads, std::vector<char>(kChunkBytes));
  const std::string path = LatestTableFile();
  for (auto _ : state) {
    ReadOnThreads(path, threads, [&](int t, int64_t) { return buffers[t].data(); });
    benchmark::DoNotOptimize(buffers.data());
  }
  state.SetBytesProcessed(state.iterations() * kTableBytes);
  state.counters["threads"] = threads;
}

// The file into a 1 GiB buffer touched beforehand, as the engine's table is.
void PlainReadIntoMemory(benchmark::State& state, int threads) {
  Prepare();
  std::vector<char> table(kTableBytes, 1);
  const std::string path = LatestTableFile();
  for (auto _ : state) {
    ReadOnThreads(path, threads, [&](int, int64_t c) {
      return table.data() + c * static_cast<int64_t>(kChunkBytes);
    });
    benchmark::DoNotOptimize(table.data());
  }
  state.SetBytesProcessed(state.iterations() * kTableBytes);
  state.counters["threads"] = threads;
}

void BM_PlainRead(benchmark::State& state) { PlainRead(state, 1); }
void BM_PlainReadAllCpus(benchmark::State& state) { PlainRead(state, AllCpus()); }
void BM_PlainReadIntoMemory(benchmark::State& state) { PlainReadIntoMemory(state, 1); }
void BM_PlainReadIntoMemoryAllCpus(benchmark::State& state) {
  PlainReadIntoMemory(state, AllCpus());
}

void BM_RestoreCheckpoint(benchmark::State& state) {
  Prepare();
  std::unique_ptr<embrt::Embedding> engine;
  for (auto _ : state) {
    state.PauseTiming();
    engine.reset();
    engine = FreshEngine();
    state.ResumeTiming();
    absl::Status status = embrt::RestoreCheckpoint(*engine, WorkDirectory() + "/ckpts");
    if (!status.ok()) state.SkipWithError(status.ToString().c_str());
  }
  state.SetBytesProcessed(state.iterations() * kTableBytes);
}

void BM_RestoreIntoTrainedEngine(benchmark::State& state) {
  Prepare();
  embrt::Embedding& engine = Engine();
  for (auto _ : state) {
    absl::Status status = embrt::RestoreCheckpoint(engine, WorkDirectory() + "/ckpts");
    if (!status.ok()) state.SkipWithError(status.ToString().c_str());
  }
  state.SetBytesProcessed(state.iterations() * kTableBytes);
}

void BM_OpenAndVerify(benchmark::State& state) {
  Prepare();
  for (auto _ : state) {
    auto reader = embrt::CheckpointReader::Open(WorkDirectory() + "/ckpts");
    if (!reader.ok()) state.SkipWithError(reader.status().ToString().c_str());
  }
  state.SetBytesProcessed(state.iterations() * kTableBytes);
}

BENCHMARK(BM_PlainWrite)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(3);
BENCHMARK(BM_SaveCheckpoint)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(3);
BENCHMARK(BM_PlainRead)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(3);
BENCHMARK(BM_PlainReadIntoMemory)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(3);
BENCHMARK(BM_PlainReadAllCpus)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(3);
BENCHMARK(BM_PlainReadIntoMemoryAllCpus)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->Iterations(3);
BENCHMARK(BM_OpenAndVerify)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(3);
BENCHMARK(BM_RestoreCheckpoint)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(3);
BENCHMARK(BM_RestoreIntoTrainedEngine)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->Iterations(3);

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  // Remove the 2-3 GiB of files.
  const std::string command = "rm -rf '" + WorkDirectory() + "'";
  return system(command.c_str()) == 0 ? 0 : 1;
}
