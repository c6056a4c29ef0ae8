// Copyright embrt authors.

#include "tools/training/batch_reader.h"

#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tools/training/synthetic_clicks.h"

namespace embrt {
namespace training {
namespace {

// Examples 0..count-1, then an error when `fail_at` >= 0 is reached.
class ListSource : public ExampleSource {
 public:
  ListSource(int count, int fail_at = -1) : count_(count), fail_at_(fail_at) {}
  const std::vector<std::string>& fields() const override { return fields_; }
  absl::StatusOr<bool> Next(Example& example) override {
    if (next_ == fail_at_) return absl::DataLossError("broken at 7");
    if (next_ == count_) return false;
    example.label = 0.5f;
    example.ids = {next_++};
    return true;
  }
  absl::Status Rewind() override {
    next_ = 0;
    return absl::OkStatus();
  }

 private:
  int count_, fail_at_;
  int64_t next_ = 0;
  std::vector<std::string> fields_ = {"x"};
};

TEST(BatchReaderTest, PrefetchedBatchesAreTheInlineOnesInOrder) {
  SyntheticClicksOptions options;
  options.num_fields = 5;
  options.max_cardinality = 50;
  auto clicks = std::make_shared<SyntheticClicks>(options);
  const std::vector<int64_t> vocabulary(5, 50);
  std::unique_ptr<ExampleSource> inline_source = OpenSyntheticClicks(clicks, 0, 0, vocabulary);
  std::unique_ptr<ExampleSource> prefetched_source = OpenSyntheticClicks(clicks, 0, 0, vocabulary);
  const std::vector<int> fields = {4, 0, 2};
  const auto forever = [](int64_t) { return true; };
  BatchPrefetcher prefetcher(*prefetched_source, fields, forever, 32, 0);
  Batch batch(32, 3);
  Example scratch;
  int64_t epochs = 0;
  bool finished = false;
  for (int step = 0; step < 100; ++step) {
    ASSERT_TRUE(FillBatch(*inline_source, fields, forever, epochs, batch, scratch, finished).ok());
    absl::StatusOr<const Batch*> next = prefetcher.Next();
    ASSERT_TRUE(next.ok()) << next.status();
    EXPECT_EQ((*next)->count, 32);
    EXPECT_EQ((*next)->ids, batch.ids) << "step " << step;
    EXPECT_EQ((*next)->labels, batch.labels) << "step " << step;
  }
}

TEST(BatchReaderTest, EpochsEndAndPaddingAreCarriedWithTheBatch) {
  ListSource source(10);
  // Two passes over 10 examples in batches of 4: 4, 4, 4 (crossing), 4, 4 (finished: 0).
  BatchPrefetcher prefetcher(
      source, {0}, [](int64_t epochs) { return epochs < 2; }, 4, 0);
  std::vector<int> counts;
  std::vector<int64_t> epochs;
  while (true) {
    absl::StatusOr<const Batch*> next = prefetcher.Next();
    ASSERT_TRUE(next.ok()) << next.status();
    counts.push_back((*next)->count);
    epochs.push_back((*next)->epochs);
    if ((*next)->finished) {
      for (int i = (*next)->count; i < 4; ++i) EXPECT_EQ((*next)->ids[0][i], 0);  // padding
      break;
    }
  }
  EXPECT_EQ(counts, (std::vector<int>{4, 4, 4, 4, 4, 0}));
  EXPECT_EQ(epochs, (std::vector<int64_t>{0, 0, 1, 1, 1, 2}));
  EXPECT_FALSE(prefetcher.Next().ok());  // nothing after the end
}

TEST(BatchReaderTest, AReadErrorArrivesWithItsBatch) {
  ListSource source(100, /*fail_at=*/7);
  BatchPrefetcher prefetcher(
      source, {0}, [](int64_t) { return true; }, 4, 0);
  ASSERT_TRUE(prefetcher.Next().ok());
  absl::StatusOr<const Batch*> second = prefetcher.Next();
  EXPECT_EQ(second.status().code(), absl::StatusCode::kDataLoss);
}

TEST(BatchReaderTest, StopsWhileTheConsumerIsBehind) {
  ListSource source(1000000);
  auto prefetcher = std::make_unique<BatchPrefetcher>(
      source, std::vector<int>{0}, [](int64_t) { return true; }, 8, 0);
  ASSERT_TRUE(prefetcher->Next().ok());
  prefetcher.reset();  // joins without reading the rest
}

}  // namespace
}  // namespace training
}  // namespace embrt
