// Copyright embrt authors.
//
// File: tools/training/shuffle_buffer.h
// -------------------------------------
// A bounded-memory shuffle of a streamed source (tf.data's shuffle buffer): the first
// `capacity` examples fill a buffer; each Next returns a uniformly chosen buffered example and
// puts the source's next one in its place; at the end of the source the buffer drains in
// random order. Memory is `capacity` examples, never the whole file. A buffer at least as large
// as the file is a full uniform shuffle; a smaller one mixes examples within about `capacity`
// of each other, which breaks up sorted files (ml-100k's u*.base are sorted by user).
//
// Deterministic: pass p (counted by Rewind) draws from a generator seeded with (seed, p), so the
// same seed gives the same order, and every epoch a different one.
//
// Thread safety: one thread at a time, like every source.

#ifndef EMBRT_TOOLS_TRAINING_SHUFFLE_BUFFER_H_
#define EMBRT_TOOLS_TRAINING_SHUFFLE_BUFFER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tools/training/example_source.h"
#include "tools/training/random.h"

namespace embrt {
namespace training {

class ShuffledSource : public ExampleSource {
 public:
  // `capacity` >= 1 examples (1 yields the source's order).
  ShuffledSource(std::unique_ptr<ExampleSource> source, int64_t capacity, uint64_t seed);

  const std::vector<std::string>& fields() const override { return source_->fields(); }
  absl::StatusOr<bool> Next(Example& example) override;
  absl::Status Rewind() override;
  // The source's fraction, scaled by the share of what it read that was returned (a buffer
  // holding the whole file has read all of it after the first example).
  double fraction_read() override;
  int64_t bad_lines() const override { return source_->bad_lines(); }
  const std::vector<std::string>& bad_line_messages() const override {
    return source_->bad_line_messages();
  }

 private:
  // Stores `example` in buffer slot `slot`.
  void Store(int64_t slot, const Example& example);

  std::unique_ptr<ExampleSource> source_;
  int64_t capacity_;
  uint64_t seed_;
  int64_t pass_ = 0;
  Random random_;
  size_t num_fields_;
  // Flat storage: labels_[slot], ids_[slot * num_fields_ + field]; `size_` slots in use.
  std::vector<float> labels_;
  std::vector<int64_t> ids_;
  int64_t size_ = 0;
  bool filled_ = false;              // the first `capacity` examples were read this pass
  bool source_done_ = false;         // the source returned false this pass
  int64_t read_ = 0, returned_ = 0;  // examples this pass
  Example scratch_;
};

}  // namespace training
}  // namespace embrt

#endif  // EMBRT_TOOLS_TRAINING_SHUFFLE_BUFFER_H_
