// Copyright embrt authors.

#include "thread_pool.h"

#include <algorithm>

namespace embrt {
namespace cpu {

ThreadPool::ThreadPool(int threads) : size_(std::max(1, threads)) {
  workers_.reserve(size_ - 1);
  for (int w = 1; w < size_; ++w) workers_.emplace_back([this, w] { WorkerLoop(w); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  start_.notify_all();
  for (std::thread& t : workers_) t.join();
}

void ThreadPool::ParallelFor(int64_t n, int64_t min_items_per_chunk, const Body& body) {
  if (n <= 0) return;
  const int64_t min_items = std::max<int64_t>(1, min_items_per_chunk);
  const int chunks = static_cast<int>(std::min<int64_t>(size_, std::max<int64_t>(1, n / min_items)));
  if (chunks == 1) {
    body(0, n, 0);
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    body_ = &body;
    n_ = n;
    chunks_ = chunks;
    pending_ = chunks - 1;
    ++generation_;
  }
  start_.notify_all();
  int64_t begin, end;
  ChunkRange(n, chunks, 0, &begin, &end);
  body(begin, end, 0);
  std::unique_lock<std::mutex> lock(mutex_);
  done_.wait(lock, [this] { return pending_ == 0; });
  body_ = nullptr;
}

void ThreadPool::WorkerLoop(int worker) {
  uint64_t seen = 0;
  for (;;) {
    const Body* body;
    int64_t n;
    int chunks;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      start_.wait(lock, [&] { return stop_ || generation_ != seen; });
      if (stop_) return;
      seen = generation_;
      body = body_;
      n = n_;
      chunks = chunks_;
    }
    if (worker < chunks) {
      int64_t begin, end;
      ChunkRange(n, chunks, worker, &begin, &end);
      (*body)(begin, end, worker);
      std::lock_guard<std::mutex> lock(mutex_);
      if (--pending_ == 0) done_.notify_one();
    }
  }
}

}  // namespace cpu
}  // namespace embrt
