// Copyright embrt authors.

#include "thread_pool.h"

#include <algorithm>
#include <chrono>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace embrt {
namespace cpu {
namespace {

// How long an idle worker, or a caller waiting for the last chunk, polls before it sleeps.
constexpr int64_t kSpinMicros = 50;

void CpuRelax() {
#if defined(__x86_64__)
  _mm_pause();
#endif
}

// Polls `ready` for up to kSpinMicros; true if it became true.
template <typename Ready>
bool SpinUntil(Ready ready) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::microseconds(kSpinMicros);
  for (;;) {
    for (int i = 0; i < 64; ++i) {
      if (ready()) return true;
      CpuRelax();
    }
    if (std::chrono::steady_clock::now() >= deadline) return ready();
  }
}

}  // namespace

ThreadPool::ThreadPool(int threads) : size_(std::max(1, threads)) {
  workers_.reserve(size_ - 1);
  for (int w = 1; w < size_; ++w) workers_.emplace_back([this, w] { WorkerLoop(w); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_.store(true, std::memory_order_release);
  }
  start_.notify_all();
  for (std::thread& t : workers_) t.join();
}

void ThreadPool::ParallelFor(int64_t n, int64_t min_items_per_chunk, const Body& body) {
  if (n <= 0) return;
  const int64_t min_items = std::max<int64_t>(1, min_items_per_chunk);
  const int chunks =
      static_cast<int>(std::min<int64_t>(size_, std::max<int64_t>(1, n / min_items)));
  if (chunks == 1) {
    body(0, n, 0);
    return;
  }
  body_ = &body;
  n_ = n;
  chunks_ = chunks;
  pending_.store(size_ - 1, std::memory_order_relaxed);  // every worker reports, busy or not
  {
    std::lock_guard<std::mutex> lock(mutex_);
    generation_.fetch_add(1, std::memory_order_release);
  }
  start_.notify_all();
  int64_t begin, end;
  ChunkRange(n, chunks, 0, &begin, &end);
  body(begin, end, 0);
  auto finished = [this] { return pending_.load(std::memory_order_acquire) == 0; };
  if (!SpinUntil(finished)) {
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, finished);
  }
  body_ = nullptr;
}

void ThreadPool::WorkerLoop(int worker) {
  uint64_t seen = 0;
  auto has_news = [&] {
    return stop_.load(std::memory_order_acquire) ||
           generation_.load(std::memory_order_acquire) != seen;
  };
  for (;;) {
    if (!SpinUntil(has_news)) {
      std::unique_lock<std::mutex> lock(mutex_);
      start_.wait(lock, has_news);
    }
    if (stop_.load(std::memory_order_acquire)) return;
    seen = generation_.load(std::memory_order_acquire);
    if (worker < chunks_) {
      int64_t begin, end;
      ChunkRange(n_, chunks_, worker, &begin, &end);
      (*body_)(begin, end, worker);
    }
    if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      std::lock_guard<std::mutex> lock(mutex_);
      done_.notify_one();
    }
  }
}

}  // namespace cpu
}  // namespace embrt
