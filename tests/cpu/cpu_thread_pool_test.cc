// Copyright embrt authors.
//
// The cpu backend's fork-join pool (plugins/cpu/thread_pool.h): every chunk runs exactly once,
// with the range and the worker number that depend only on (n, pool size), and two chunks
// running at once never share a worker number, whether the workers are awake, asleep or late.

#include "thread_pool.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <thread>
#include <tuple>
#include <vector>

#include "gtest/gtest.h"

namespace embrt {
namespace cpu {
namespace {

using Chunk = std::tuple<int64_t, int64_t, int>;  // begin, end, worker

// The chunks ParallelFor must run: [0, n) cut into `chunks` contiguous ranges, chunk i numbered i.
std::vector<Chunk> ExpectedChunks(int64_t n, int chunks) {
  std::vector<Chunk> out;
  for (int i = 0; i < chunks; ++i) {
    int64_t begin, end;
    ChunkRange(n, chunks, i, &begin, &end);
    out.emplace_back(begin, end, i);
  }
  return out;
}

// Runs one ParallelFor, recording every chunk and checking that no worker number is in use twice
// at once. `pause_first` holds up chunk 0.
std::vector<Chunk> RunOnce(ThreadPool& pool, int64_t n, int64_t min_items,
                           std::chrono::microseconds pause_first) {
  std::mutex mutex;
  std::vector<Chunk> ran;
  std::vector<std::atomic<int>> in_use(pool.size());
  std::atomic<bool> shared{false};
  pool.ParallelFor(n, min_items, [&](int64_t begin, int64_t end, int worker) {
    if (in_use[worker].fetch_add(1) != 0) shared.store(true);
    if (worker == 0) std::this_thread::sleep_for(pause_first);
    {
      std::lock_guard<std::mutex> lock(mutex);
      ran.emplace_back(begin, end, worker);
    }
    in_use[worker].fetch_sub(1);
  });
  EXPECT_FALSE(shared.load()) << "two chunks ran with the same worker number at once";
  std::sort(ran.begin(), ran.end());
  return ran;
}

TEST(ThreadPoolTest, EveryChunkRunsOnceWithItsOwnRangeAndNumber) {
  for (int threads : {1, 2, 3, 8}) {
    ThreadPool pool(threads);
    for (int64_t n : {1, 2, 7, 64, 1000, 4097}) {
      for (int64_t min_items : {1, 16, 256}) {
        const int chunks = static_cast<int>(
            std::min<int64_t>(threads, std::max<int64_t>(1, n / min_items)));
        for (int repeat = 0; repeat < 20; ++repeat) {
          EXPECT_EQ(RunOnce(pool, n, min_items, std::chrono::microseconds(0)),
                    ExpectedChunks(n, chunks))
              << threads << " threads, n " << n << ", min_items " << min_items;
        }
      }
    }
  }
}

// Workers asleep (the pool idle for longer than their spin) or a chunk held up: the call still
// runs each chunk once, with its own range and number, and returns only when all are done.
TEST(ThreadPoolTest, SleepingWorkersAndSlowChunksStillRunEachChunkOnce) {
  ThreadPool pool(4);
  for (int repeat = 0; repeat < 10; ++repeat) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));  // every worker goes to sleep
    EXPECT_EQ(RunOnce(pool, 400, 1, std::chrono::microseconds(0)), ExpectedChunks(400, 4));
    EXPECT_EQ(RunOnce(pool, 400, 1, std::chrono::microseconds(500)), ExpectedChunks(400, 4));
  }
}

// One call right after another: a worker that wakes up late for a call must not run a chunk of
// it after the call returned, nor miss the next call.
TEST(ThreadPoolTest, BackToBackCallsSeeOnlyTheirOwnBody) {
  ThreadPool pool(3);
  for (int call = 0; call < 2000; ++call) {
    std::vector<std::atomic<int>> hits(90);
    pool.ParallelFor(90, 1, [&](int64_t begin, int64_t end, int) {
      for (int64_t i = begin; i < end; ++i) hits[i].fetch_add(1);
    });
    for (int i = 0; i < 90; ++i) ASSERT_EQ(hits[i].load(), 1) << "call " << call << ", item " << i;
  }
}

}  // namespace
}  // namespace cpu
}  // namespace embrt
