// Copyright embrt authors.
//
// File: bench/anchor_kernels.h
// ----------------------------
// The anchor that cpu_anchor_benchmark compares embrt's cpu backend with: what a
// performance-minded user would write by hand for one table with the sum combiner and Adagrad.
// It is deliberately independent of embrt's code (no shared kernels, pool or storage).
//
//   AnchorForward:  out[b, :] = sum over ids k of bag b of table[ids[k], :]
//     one pass per bag with register accumulators, compile-time dim (16, 32, 64, 128, and 1-15
//     as one vector with the lanes past the row masked off; other dims use a plain loop),
//     AVX-512 or AVX2 picked at run time, every cache line of the row 16 ids ahead prefetched;
//     bags split into one contiguous range per worker.
//   AnchorGather:   out[k, :] = table[ids[k], :] (the forward without bags, for sequences)
//   AnchorBackward: deterministic dedup + element-wise Adagrad. Row r belongs to worker
//     r % workers. Each worker collects the (row, bag) pairs of its rows in position order,
//     sorts them by row with a stable radix sort, sums each row's gradients in position order
//     (g = sum of grad[bag, :]) and applies, once per distinct row:
//       accumulator += g * g;   row -= learning_rate * g / sqrt(accumulator)
//
// Thread safety: one AnchorTeam drives one call at a time; calls on different tables and teams
// are independent.

#ifndef EMBRT_BENCH_ANCHOR_KERNELS_H_
#define EMBRT_BENCH_ANCHOR_KERNELS_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace embrt {
namespace bench {

// `threads` workers, the caller being worker 0. Run() hands every worker the same function and
// returns when all are done. Idle workers spin briefly, then sleep, so a team that waits does
// not take a core from whatever runs between two calls.
class AnchorTeam {
 public:
  explicit AnchorTeam(int threads);
  ~AnchorTeam();
  AnchorTeam(const AnchorTeam&) = delete;
  AnchorTeam& operator=(const AnchorTeam&) = delete;

  int size() const { return size_; }
  void Run(const std::function<void(int worker)>& body);

 private:
  void Loop(int worker);

  int size_;
  std::vector<std::thread> threads_;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> pending_{0};
  std::atomic<bool> stop_{false};
  const std::function<void(int)>* body_ = nullptr;
  std::mutex mutex_;
  std::condition_variable wake_;
};

// Parameters and Adagrad accumulators, row-major, 2 MiB aligned with transparent huge pages
// advised (the same storage a careful user would pick).
class AnchorTable {
 public:
  AnchorTable(int64_t rows, int dim, float initial_accumulator);
  ~AnchorTable();
  AnchorTable(const AnchorTable&) = delete;
  AnchorTable& operator=(const AnchorTable&) = delete;

  int64_t rows() const { return rows_; }
  int dim() const { return dim_; }
  float* parameters() { return parameters_; }
  const float* parameters() const { return parameters_; }
  float* accumulators() { return accumulators_; }

 private:
  int64_t rows_;
  int dim_;
  size_t bytes_;
  float* parameters_;
  float* accumulators_;
};

// With `limit` true, the anchor's kernels use AVX2 at most even where the CPU has AVX-512, so
// that an AVX-512 machine also runs and checks the AVX2 kernels (cpu_anchor_benchmark
// --anchor_avx2). Call it before the first forward or backward, not during one.
void LimitAnchorToAvx2(bool limit);

// `splits` [bags + 1] ascending offsets into `ids`; `out` [bags, dim].
void AnchorForward(const AnchorTable& table, const int64_t* splits, const int64_t* ids,
                   int64_t bags, float* out, AnchorTeam& team);
// The same over any row-major table of `dim` floats per row (e.g. a memory-mapped checkpoint
// file, as serving_benchmark reads).
void AnchorForward(const float* parameters, int dim, const int64_t* splits, const int64_t* ids,
                   int64_t bags, float* out, AnchorTeam& team);

// out[k, :] = table[ids[k], :] for k < count, on the calling thread: the same loop without the
// sum (compile-time dims 16, 32, 64 and 128 with AVX-512 or AVX2, else memcpy; rows prefetched
// 16 ids ahead). serving_benchmark's anchor for sequence features.
void AnchorGather(const float* parameters, int dim, const int64_t* ids, int64_t count, float* out);

// Reused sort buffers of the backward, one set per worker.
struct AnchorBackwardScratch {
  std::vector<std::vector<uint32_t>> rows, bags, sorted_rows, sorted_bags;
};

// `gradients` [bags, dim]: dL/d(out) of the forward on the same ids.
void AnchorBackward(AnchorTable& table, const int64_t* splits, const int64_t* ids, int64_t bags,
                    const float* gradients, float learning_rate, AnchorTeam& team,
                    AnchorBackwardScratch* scratch);

}  // namespace bench
}  // namespace embrt

#endif  // EMBRT_BENCH_ANCHOR_KERNELS_H_
