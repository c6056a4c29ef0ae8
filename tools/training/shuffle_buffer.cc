// Copyright embrt authors.

#include "tools/training/shuffle_buffer.h"

#include <algorithm>
#include <utility>

#include "embrt/status_macros.h"

namespace embrt {
namespace training {

ShuffledSource::ShuffledSource(std::unique_ptr<ExampleSource> source, int64_t capacity,
                               uint64_t seed)
    : source_(std::move(source)),
      capacity_(std::max<int64_t>(capacity, 1)),
      seed_(seed),
      random_(MixSeed(seed, 0)),
      num_fields_(source_->fields().size()) {}

void ShuffledSource::Store(int64_t slot, const Example& example) {
  labels_[slot] = example.label;
  std::copy(example.ids.begin(), example.ids.begin() + num_fields_,
            ids_.begin() + slot * num_fields_);
}

absl::StatusOr<bool> ShuffledSource::Next(Example& example) {
  if (!filled_) {
    // Grows with the data: a small file never allocates the whole capacity.
    while (!source_done_ && size_ < capacity_) {
      EMBRT_ASSIGN_OR_RETURN(bool got, source_->Next(scratch_));
      if (!got) {
        source_done_ = true;
        break;
      }
      if (size_ == static_cast<int64_t>(labels_.size())) {
        labels_.push_back(0.0f);
        ids_.resize(ids_.size() + num_fields_);
      }
      Store(size_++, scratch_);
      ++read_;
    }
    filled_ = true;
  }
  if (size_ == 0) return false;
  ++returned_;
  const int64_t slot = static_cast<int64_t>(random_.NextU64() % static_cast<uint64_t>(size_));
  example.label = labels_[slot];
  example.ids.assign(ids_.begin() + slot * num_fields_, ids_.begin() + (slot + 1) * num_fields_);
  if (!source_done_) {
    EMBRT_ASSIGN_OR_RETURN(bool got, source_->Next(scratch_));
    if (got) {
      Store(slot, scratch_);
      ++read_;
      return true;
    }
    source_done_ = true;
  }
  // Draining: the last buffered example takes the freed slot.
  --size_;
  if (slot != size_) {
    labels_[slot] = labels_[size_];
    std::copy(ids_.begin() + size_ * num_fields_, ids_.begin() + (size_ + 1) * num_fields_,
              ids_.begin() + slot * num_fields_);
  }
  return true;
}

double ShuffledSource::fraction_read() {
  const double fraction = source_->fraction_read();
  if (fraction < 0 || read_ == 0) return fraction;
  return fraction * static_cast<double>(returned_) / static_cast<double>(read_);
}

absl::Status ShuffledSource::Rewind() {
  EMBRT_RETURN_IF_ERROR(source_->Rewind());
  ++pass_;
  random_ = Random(MixSeed(seed_, static_cast<uint64_t>(pass_)));
  size_ = 0;
  read_ = returned_ = 0;
  filled_ = false;
  source_done_ = false;
  return absl::OkStatus();
}

}  // namespace training
}  // namespace embrt
