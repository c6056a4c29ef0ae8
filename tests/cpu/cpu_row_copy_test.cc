// Copyright embrt authors.
//
// plugins/cpu/row_copy.h: the streaming copy writes exactly the bytes memcpy writes, whatever
// the alignment of either side and whatever the length (unaligned head, whole lines, tail), and
// touches nothing outside the destination.

#include "row_copy.h"

#include <cstdint>
#include <cstring>
#include <numeric>
#include <vector>

#include "gtest/gtest.h"

namespace embrt {
namespace cpu {
namespace {

constexpr unsigned char kGuard = 0xA5;

// Copies `bytes` from source offset `from` to destination offset `to` (both relative to 64-byte
// aligned buffers) with `copy`, and checks the copied bytes and the untouched guard bytes.
template <typename Copy>
void ExpectExactCopy(size_t from, size_t to, size_t bytes, Copy copy) {
  alignas(64) static unsigned char source[3 << 16];
  alignas(64) static unsigned char destination[3 << 16];
  ASSERT_LE(from + bytes, sizeof(source));
  ASSERT_LE(to + bytes + 64, sizeof(destination));
  for (size_t i = 0; i < sizeof(source); ++i) source[i] = static_cast<unsigned char>(i * 131 + 7);
  std::memset(destination, kGuard, sizeof(destination));
  copy(destination + to, source + from, bytes);
  EXPECT_EQ(std::memcmp(destination + to, source + from, bytes), 0)
      << "from " << from << " to " << to << " bytes " << bytes;
  for (size_t i = 0; i < to; ++i) ASSERT_EQ(destination[i], kGuard) << "byte " << i;
  for (size_t i = to + bytes; i < sizeof(destination); ++i) {
    ASSERT_EQ(destination[i], kGuard) << "byte " << i << " after " << to << " + " << bytes;
  }
}

TEST(StreamingCopyTest, CopiesEveryAlignmentAndLengthExactly) {
  for (size_t from : {0, 1, 4, 60, 64}) {
    for (size_t to : {0, 1, 4, 32, 63, 64}) {
      for (size_t bytes : {0, 1, 3, 63, 64, 65, 127, 128, 129, 4096, 4100, 65536 + 68}) {
        ExpectExactCopy(from, to, bytes, StreamingCopy);
      }
    }
  }
}

TEST(StreamingCopyTest, CopiesFloatRowsBitForBit) {
  // Rows of dim 3 (12 bytes): no row starts on a line, NaN payloads and -0 stay as they are.
  std::vector<float> source(3 * 5000);
  std::iota(source.begin(), source.end(), -7.25f);
  source[5] = -0.0f;
  const uint32_t nan_bits = 0x7FC01234u;
  std::memcpy(&source[17], &nan_bits, sizeof(nan_bits));
  std::vector<float> destination(source.size() + 1, 1.0f);
  StreamingCopy(destination.data() + 1, source.data(), source.size() * sizeof(float));
  EXPECT_EQ(std::memcmp(destination.data() + 1, source.data(), source.size() * sizeof(float)), 0);
  EXPECT_EQ(destination[0], 1.0f);
}

TEST(CopyIntoLargeRegionTest, SmallAndLargeRegionsGetTheSameBytes) {
  const size_t large = LastLevelCacheBytes() + 1;
  for (size_t region : {size_t{1} << 20, large}) {
    for (size_t bytes : {size_t{0}, size_t{100}, size_t{65536}, size_t{65536 + 68}}) {
      ExpectExactCopy(4, 12, bytes, [&](void* to, const void* from, size_t n) {
        CopyIntoLargeRegion(to, from, n, region);
      });
    }
  }
}

TEST(LastLevelCacheBytesTest, IsPositive) { EXPECT_GT(LastLevelCacheBytes(), 0u); }

}  // namespace
}  // namespace cpu
}  // namespace embrt
