// Copyright embrt authors.

#include "tools/training/feature_encoding.h"

#include <limits>

#include "gtest/gtest.h"

namespace embrt {
namespace training {
namespace {

TEST(BucketizeIntegerTest, MissingNegativeZeroAndPowersOfTwo) {
  EXPECT_EQ(BucketizeInteger(std::nullopt, 100), 0);
  EXPECT_EQ(BucketizeInteger(-5, 100), 1);
  EXPECT_EQ(BucketizeInteger(0, 100), 2);
  EXPECT_EQ(BucketizeInteger(1, 100), 3);
  EXPECT_EQ(BucketizeInteger(2, 100), 4);
  EXPECT_EQ(BucketizeInteger(3, 100), 4);
  EXPECT_EQ(BucketizeInteger(4, 100), 5);
  EXPECT_EQ(BucketizeInteger(1382, 100), 13);  // 2^10 <= 1382 < 2^11
  EXPECT_EQ(BucketizeInteger(std::numeric_limits<int64_t>::max(), 100), 65);
  EXPECT_EQ(BucketizeInteger(std::numeric_limits<int64_t>::max(), kIntegerBuckets), 65);
}

TEST(BucketizeIntegerTest, CappedAtVocabulary) {
  EXPECT_EQ(BucketizeInteger(1 << 20, 10), 9);
  EXPECT_EQ(BucketizeInteger(1, 1), 0);
}

TEST(HashCategoricalTest, EmptyIsRowZeroAndValuesStayInRange) {
  EXPECT_EQ(HashCategorical("", 3, 1000), 0);
  for (const char* value : {"68fd1e64", "80e26c9b", "fb936136", "x"}) {
    const int64_t row = HashCategorical(value, 3, 1000);
    EXPECT_GE(row, 1);
    EXPECT_LT(row, 1000);
    EXPECT_EQ(row, HashCategorical(value, 3, 1000));  // fixed hash
  }
}

TEST(HashCategoricalTest, FieldIndexSeedsTheHash) {
  int differences = 0;
  for (int i = 0; i < 20; ++i) {
    const std::string value = "value" + std::to_string(i);
    differences += HashCategorical(value, 0, 1 << 20) != HashCategorical(value, 1, 1 << 20);
  }
  EXPECT_GE(differences, 19);
}

}  // namespace
}  // namespace training
}  // namespace embrt
