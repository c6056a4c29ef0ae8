// Copyright embrt authors.
//
// File: tools/training/batch_reader.h
// -----------------------------------
// Batches of examples laid out per feature, as Enqueue takes them, and a prefetcher that
// fills the next batch on a worker thread while the current step runs. Reading (or, for the
// synthetic data, generating) a batch is about half of a small model's step; overlapping it
// with the step takes it off the critical path. The prefetcher reads the same batches in the
// same order as reading them inline, so training stays deterministic.
//
// Thread safety: a BatchPrefetcher is used by one consumer thread; its source is touched only
// by its worker until Stop (or destruction) returns.

#ifndef EMBRT_TOOLS_TRAINING_BATCH_READER_H_
#define EMBRT_TOOLS_TRAINING_BATCH_READER_H_

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "tools/training/example_source.h"

namespace embrt {
namespace training {

// One batch: ids per feature ([size] each, padded with id 0) and labels.
struct Batch {
  Batch(int size, int features)
      : size(size), ids(features, std::vector<int64_t>(size, 0)), labels(size, 0.0f) {}
  int size;
  int count = 0;  // valid examples; the rest is padding (id 0, gradient 0)
  std::vector<std::vector<int64_t>> ids;
  std::vector<float> labels;
  // After this batch: passes completed over the data, whether the data ended (no further
  // batch), and how far into the current pass the source is (-1: unknown).
  int64_t epochs = 0;
  bool finished = false;
  double fraction_read = -1;
};

// Reads up to batch.size examples from `source`, field `feature_fields[f]` into batch.ids[f].
// At the end of the data, counts a pass in `epochs` and, when `rewind_at_end(epochs)` says so,
// rewinds and goes on filling; otherwise sets `finished`. A pass without a single example is
// INVALID_ARGUMENT (nothing to train on).
absl::Status FillBatch(ExampleSource& source, const std::vector<int>& feature_fields,
                       const std::function<bool(int64_t epochs)>& rewind_at_end, int64_t& epochs,
                       Batch& batch, Example& scratch, bool& finished);

// Fills batches from a source on a worker thread, one ahead of the consumer.
class BatchPrefetcher {
 public:
  // Starts the worker. `epochs` is the pass count so far (resumed runs). The source and
  // feature_fields are borrowed until Stop.
  BatchPrefetcher(ExampleSource& source, std::vector<int> feature_fields,
                  std::function<bool(int64_t epochs)> rewind_at_end, int batch_size,
                  int64_t epochs);
  ~BatchPrefetcher();
  BatchPrefetcher(const BatchPrefetcher&) = delete;
  BatchPrefetcher& operator=(const BatchPrefetcher&) = delete;

  // The next batch in order, valid until the next call; the error of reading it, if any.
  // After a batch with `finished` (or an error), the worker has stopped.
  absl::StatusOr<const Batch*> Next();

  // Stops and joins the worker (a batch being filled is finished first, then dropped).
  void Stop();

 private:
  void Work();

  ExampleSource& source_;
  std::vector<int> feature_fields_;
  std::function<bool(int64_t)> rewind_at_end_;
  int64_t epochs_;              // the worker's count
  std::vector<Batch> buffers_;  // two: one being filled, one being used
  std::vector<absl::Status> statuses_;

  std::mutex mutex_;
  std::condition_variable changed_;
  // Batches filled so far / handed to the consumer so far; the worker fills batch `filled_`
  // into buffers_[filled_ % 2] once the consumer is done with batch filled_ - 2.
  int64_t filled_ = 0;
  int64_t consumed_ = 0;
  bool stop_ = false;
  bool worker_done_ = false;
  std::thread worker_;
};

}  // namespace training
}  // namespace embrt

#endif  // EMBRT_TOOLS_TRAINING_BATCH_READER_H_
