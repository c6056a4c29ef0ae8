// Copyright embrt authors.

#include "tools/training/batch_reader.h"

#include <algorithm>
#include <utility>

#include "embrt/status_macros.h"

namespace embrt {
namespace training {

absl::Status FillBatch(ExampleSource& source, const std::vector<int>& feature_fields,
                       const std::function<bool(int64_t epochs)>& rewind_at_end, int64_t& epochs,
                       Batch& batch, Example& scratch, bool& finished) {
  batch.count = 0;
  bool read_since_rewind = true;
  while (batch.count < batch.size) {
    EMBRT_ASSIGN_OR_RETURN(bool got, source.Next(scratch));
    if (!got) {
      ++epochs;
      if (!read_since_rewind) {
        return absl::InvalidArgumentError("the data holds no example to train on");
      }
      if (!rewind_at_end(epochs)) {
        finished = true;
        break;
      }
      EMBRT_RETURN_IF_ERROR(source.Rewind());
      read_since_rewind = false;
      continue;
    }
    read_since_rewind = true;
    for (size_t f = 0; f < feature_fields.size(); ++f) {
      batch.ids[f][batch.count] = scratch.ids[feature_fields[f]];
    }
    batch.labels[batch.count] = scratch.label;
    ++batch.count;
  }
  for (size_t f = 0; f < feature_fields.size(); ++f) {
    std::fill(batch.ids[f].begin() + batch.count, batch.ids[f].end(), 0);
  }
  batch.epochs = epochs;
  batch.finished = finished;
  return absl::OkStatus();
}

BatchPrefetcher::BatchPrefetcher(ExampleSource& source, std::vector<int> feature_fields,
                                 std::function<bool(int64_t epochs)> rewind_at_end, int batch_size,
                                 int64_t epochs)
    : source_(source),
      feature_fields_(std::move(feature_fields)),
      rewind_at_end_(std::move(rewind_at_end)),
      epochs_(epochs),
      buffers_(2, Batch(batch_size, static_cast<int>(feature_fields_.size()))),
      statuses_(2) {
  worker_ = std::thread([this] { Work(); });
}

BatchPrefetcher::~BatchPrefetcher() { Stop(); }

void BatchPrefetcher::Stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  changed_.notify_all();
  if (worker_.joinable()) worker_.join();
}

void BatchPrefetcher::Work() {
  Example scratch;
  bool finished = false;
  for (int64_t index = 0;; ++index) {
    {
      std::unique_lock<std::mutex> lock(mutex_);
      // Buffer index % 2 held batch index - 2; it is free once the consumer asked for batch
      // index - 1 (consumed_ counts the batches asked for).
      changed_.wait(lock, [&] { return stop_ || index < 2 || consumed_ >= index; });
      if (stop_) break;
    }
    Batch& batch = buffers_[index % 2];
    absl::Status status =
        FillBatch(source_, feature_fields_, rewind_at_end_, epochs_, batch, scratch, finished);
    batch.fraction_read = source_.fraction_read();
    {
      std::lock_guard<std::mutex> lock(mutex_);
      statuses_[index % 2] = std::move(status);
      filled_ = index + 1;
    }
    changed_.notify_all();
    if (finished || !statuses_[index % 2].ok()) break;
  }
  std::lock_guard<std::mutex> lock(mutex_);
  worker_done_ = true;
  changed_.notify_all();
}

absl::StatusOr<const Batch*> BatchPrefetcher::Next() {
  std::unique_lock<std::mutex> lock(mutex_);
  const int64_t index = consumed_++;
  changed_.notify_all();  // the buffer of batch index - 1 is free now
  changed_.wait(lock, [&] { return filled_ > index || worker_done_; });
  if (filled_ <= index) {
    return absl::FailedPreconditionError("the data ended: no further batch");
  }
  if (!statuses_[index % 2].ok()) return statuses_[index % 2];
  return &buffers_[index % 2];
}

}  // namespace training
}  // namespace embrt
