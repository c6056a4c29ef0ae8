// Copyright embrt authors.

#include "all_finite.h"

#include <cmath>
#include <limits>
#include <vector>

#include "gtest/gtest.h"

namespace embrt::internal {
namespace {

TEST(AllFiniteTest, FiniteValuesOfEveryKindPass) {
  const std::vector<float> values = {0.0f,
                                     -0.0f,
                                     1.0f,
                                     -3.5f,
                                     std::numeric_limits<float>::max(),
                                     std::numeric_limits<float>::lowest(),
                                     std::numeric_limits<float>::min(),
                                     std::numeric_limits<float>::denorm_min(),
                                     -std::numeric_limits<float>::denorm_min()};
  EXPECT_TRUE(AllFinite(values));
  EXPECT_TRUE(AllFinite({}));
}

TEST(AllFiniteTest, EveryNonFiniteValueAtEveryPositionIsFound) {
  const float bad[] = {std::numeric_limits<float>::quiet_NaN(),
                       -std::numeric_limits<float>::quiet_NaN(),
                       std::numeric_limits<float>::signaling_NaN(),
                       std::numeric_limits<float>::infinity(),
                       -std::numeric_limits<float>::infinity()};
  // Lengths around the vector widths, so the vectorized body and the scalar tail both see it.
  for (size_t size : {1, 3, 4, 7, 8, 15, 16, 17, 33, 100}) {
    for (size_t at = 0; at < size; ++at) {
      for (float value : bad) {
        std::vector<float> values(size, 1.5f);
        values[at] = value;
        EXPECT_FALSE(AllFinite(values)) << "size " << size << " at " << at << " " << value;
      }
    }
  }
}

TEST(AllFiniteTest, AgreesWithIsFiniteOnEveryExponent) {
  for (uint32_t exponent = 0; exponent < 256; ++exponent) {
    for (uint32_t mantissa : {0u, 1u, 0x400000u, 0x7fffffu}) {
      for (uint32_t sign : {0u, 0x80000000u}) {
        const uint32_t bits = sign | (exponent << 23) | mantissa;
        float value;
        std::memcpy(&value, &bits, sizeof(value));
        EXPECT_EQ(AllFinite({value}), std::isfinite(value)) << std::hex << bits;
      }
    }
  }
}

}  // namespace
}  // namespace embrt::internal
