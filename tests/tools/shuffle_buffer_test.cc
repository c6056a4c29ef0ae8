// Copyright embrt authors.

#include "tools/training/shuffle_buffer.h"

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace embrt {
namespace training {
namespace {

// Examples 0..count-1 (label = id = index), counting how far it has been read.
class CountingSource : public ExampleSource {
 public:
  explicit CountingSource(int count) : count_(count) {}
  const std::vector<std::string>& fields() const override { return fields_; }
  absl::StatusOr<bool> Next(Example& example) override {
    if (next_ == count_) return false;
    example.label = static_cast<float>(next_);
    example.ids = {next_, 1000 + next_};
    ++next_;
    return true;
  }
  absl::Status Rewind() override {
    next_ = 0;
    return absl::OkStatus();
  }
  int64_t read() const { return next_; }
  double fraction_read() override { return static_cast<double>(next_) / count_; }

 private:
  int count_;
  int64_t next_ = 0;
  std::vector<std::string> fields_ = {"a", "b"};
};

std::vector<int64_t> Pass(ExampleSource& source) {
  std::vector<int64_t> order;
  Example example;
  while (true) {
    absl::StatusOr<bool> got = source.Next(example);
    EXPECT_TRUE(got.ok());
    if (!got.ok() || !*got) break;
    EXPECT_EQ(example.ids[1], 1000 + example.ids[0]);  // fields travel together
    EXPECT_EQ(example.label, static_cast<float>(example.ids[0]));
    order.push_back(example.ids[0]);
  }
  return order;
}

TEST(ShuffleBufferTest, EveryExampleOncePerPassInAnotherOrderEachPass) {
  ShuffledSource source(std::make_unique<CountingSource>(1000), 64, /*seed=*/7);
  std::vector<int64_t> first = Pass(source);
  ASSERT_TRUE(source.Rewind().ok());
  std::vector<int64_t> second = Pass(source);
  for (std::vector<int64_t>* pass : {&first, &second}) {
    std::vector<int64_t> sorted = *pass;
    std::sort(sorted.begin(), sorted.end());
    ASSERT_EQ(sorted.size(), 1000u);
    for (int i = 0; i < 1000; ++i) EXPECT_EQ(sorted[i], i);
  }
  EXPECT_NE(first, second);
  int moved = 0;
  for (int i = 0; i < 1000; ++i) moved += first[i] != i;
  EXPECT_GT(moved, 900);
}

TEST(ShuffleBufferTest, SameSeedSameOrderOtherSeedOtherOrder) {
  ShuffledSource a(std::make_unique<CountingSource>(500), 100, 1);
  ShuffledSource b(std::make_unique<CountingSource>(500), 100, 1);
  ShuffledSource c(std::make_unique<CountingSource>(500), 100, 2);
  const std::vector<int64_t> order = Pass(a);
  EXPECT_EQ(order, Pass(b));
  EXPECT_NE(order, Pass(c));
  ASSERT_TRUE(a.Rewind().ok());
  ASSERT_TRUE(b.Rewind().ok());
  EXPECT_EQ(Pass(a), Pass(b));
}

TEST(ShuffleBufferTest, MemoryIsBoundedByTheCapacity) {
  auto owned = std::make_unique<CountingSource>(10000);
  CountingSource* inner = owned.get();
  ShuffledSource source(std::move(owned), 50, 3);
  Example example;
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(*source.Next(example));
    // Never more than capacity examples read ahead of what was returned.
    EXPECT_LE(inner->read(), 50 + i + 1);
    // A buffer of 50 only mixes nearby examples.
    EXPECT_LT(example.ids[0], 50 + i + 1);
  }
}

TEST(ShuffleBufferTest, FractionReadCountsReturnedExamples) {
  // The buffer holds the whole file after the first example: the fraction must still be 1/4
  // after a quarter of it.
  ShuffledSource source(std::make_unique<CountingSource>(100), 1000, 3);
  Example example;
  for (int i = 0; i < 25; ++i) ASSERT_TRUE(*source.Next(example));
  EXPECT_DOUBLE_EQ(source.fraction_read(), 0.25);
}

TEST(ShuffleBufferTest, CapacityOneKeepsTheOrderAndAFileSmallerThanTheBufferWorks) {
  ShuffledSource identity(std::make_unique<CountingSource>(10), 1, 5);
  EXPECT_THAT(Pass(identity), ::testing::ElementsAre(0, 1, 2, 3, 4, 5, 6, 7, 8, 9));
  ShuffledSource small(std::make_unique<CountingSource>(3), 1000000, 5);
  EXPECT_THAT(Pass(small), ::testing::UnorderedElementsAre(0, 1, 2));
  ShuffledSource empty(std::make_unique<CountingSource>(0), 10, 5);
  EXPECT_TRUE(Pass(empty).empty());
}

}  // namespace
}  // namespace training
}  // namespace embrt
