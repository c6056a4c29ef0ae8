// Copyright embrt authors.
//
// File: plugins/cpu/thread_pool.h
// -------------------------------
// A small fork-join pool owned by one cpu engine. ParallelFor splits [0, n) into at most
// size() contiguous chunks, a fixed function of (n, size()), and runs one chunk per worker
// (the caller is worker 0). Work items never share an output, so results do not depend on how
// many workers there are: that is what makes the cpu backend bit-identical for any thread count.
//
// A step runs a few ParallelFor calls back to back (lookup; grouping, update). Waking a sleeping
// thread costs tens of microseconds, so an idle worker spins for a short while (kSpinMicros)
// before it sleeps, and so does the caller waiting for the last chunk: within a step nobody
// sleeps, and between steps the workers give their cores back.
//
// Thread safety: ParallelFor must not be called concurrently from two threads, nor from inside
// a ParallelFor body. Construction and destruction are not concurrent with anything.

#ifndef EMBRT_PLUGINS_CPU_THREAD_POOL_H_
#define EMBRT_PLUGINS_CPU_THREAD_POOL_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace embrt {
namespace cpu {

class ThreadPool {
 public:
  // `threads` >= 1 workers in all, the caller included (threads - 1 are started).
  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return size_; }

  // Body of one chunk: items [begin, end), run by worker `worker` in [0, size()).
  using Body = std::function<void(int64_t begin, int64_t end, int worker)>;

  // Runs `body` over [0, n) and returns when every chunk is done. Chunks hold at least
  // `min_items_per_chunk` items (fewer chunks for small n, so tiny loops stay on the caller).
  void ParallelFor(int64_t n, int64_t min_items_per_chunk, const Body& body);

 private:
  void WorkerLoop(int worker);

  int size_;
  std::vector<std::thread> workers_;
  // The current job, written before generation_ is bumped and read after it is seen.
  const Body* body_ = nullptr;
  int64_t n_ = 0;
  int chunks_ = 0;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> pending_{0};  // workers that have not finished the current job
  std::atomic<bool> stop_{false};
  // Sleeping: generation_ is bumped under mutex_, and the worker that takes pending_ to 0
  // notifies under mutex_, so a sleeper that checked under mutex_ never misses its wake.
  std::mutex mutex_;
  std::condition_variable start_;
  std::condition_variable done_;
};

// Chunk `index` of `chunks` contiguous chunks of [0, n): [*begin, *end).
inline void ChunkRange(int64_t n, int chunks, int index, int64_t* begin, int64_t* end) {
  const int64_t base = n / chunks;
  const int64_t extra = n % chunks;
  *begin = index * base + (index < extra ? index : extra);
  *end = *begin + base + (index < extra ? 1 : 0);
}

}  // namespace cpu
}  // namespace embrt

#endif  // EMBRT_PLUGINS_CPU_THREAD_POOL_H_
