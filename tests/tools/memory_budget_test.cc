// Copyright embrt authors.
//
// Tests of tools/training/memory_budget.cc: sizes saturate instead of overflowing, and a
// request beyond the process's limits is RESOURCE_EXHAUSTED naming what asked and the bytes.

#include "tools/training/memory_budget.h"

#include <limits>
#include <new>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace embrt {
namespace training {
namespace {

using ::testing::HasSubstr;

TEST(MemoryBudgetTest, StepBuffersSaturateInsteadOfOverflowing) {
  EXPECT_EQ(StepBufferBytes(int64_t{1} << 40, int64_t{1} << 20, int64_t{1} << 20),
            std::numeric_limits<int64_t>::max());
  EXPECT_GT(StepBufferBytes(1024, 26, 9), 1024 * 26 * 9 * 4);
}

TEST(MemoryBudgetTest, TooMuchIsResourceExhaustedNamingWhatAndBytes) {
  EXPECT_TRUE(CheckFitsInMemory("--batch_size=1", "buffers", 1024).ok());
  const absl::Status status = CheckFitsInMemory(
      "--batch_size=2000000000", "per-step buffers", std::numeric_limits<int64_t>::max());
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(status.message()),
              HasSubstr("--batch_size=2000000000 needs more than 2^63 bytes of per-step buffers"));
  EXPECT_GT(MemoryLimitBytes(), 0);
}

TEST(MemoryBudgetTest, BadAllocBecomesResourceExhausted) {
  absl::StatusOr<int> result = RunCatchingOutOfMemory(
      []() -> absl::StatusOr<int> { throw std::bad_alloc(); }, "--batch_size");
  EXPECT_EQ(result.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(result.status().message()), HasSubstr("lower --batch_size"));
}

}  // namespace
}  // namespace training
}  // namespace embrt
