// Copyright embrt authors.

#include "tools/training/metrics.h"

#include <cmath>
#include <vector>

#include "gtest/gtest.h"

namespace embrt {
namespace training {
namespace {

TEST(AucTest, PerfectReversedAndKnownCase) {
  EXPECT_DOUBLE_EQ(Auc({0.1f, 0.2f, 0.8f, 0.9f}, {0, 0, 1, 1}), 1.0);
  EXPECT_DOUBLE_EQ(Auc({0.9f, 0.8f, 0.2f, 0.1f}, {0, 0, 1, 1}), 0.0);
  // Pairs (pos, neg): (0.35, 0.1) (0.35, 0.4) (0.8, 0.1) (0.8, 0.4): 3 of 4 ordered.
  EXPECT_DOUBLE_EQ(Auc({0.1f, 0.4f, 0.35f, 0.8f}, {0, 0, 1, 1}), 0.75);
}

TEST(AucTest, TiesCountOneHalf) {
  EXPECT_DOUBLE_EQ(Auc({0.5f, 0.5f, 0.5f, 0.5f}, {0, 1, 0, 1}), 0.5);
  // pos 0.5 vs neg 0.5: tie (1/2); pos 0.5 vs neg 0.2: win; pos 0.9 vs both: wins.
  EXPECT_DOUBLE_EQ(Auc({0.2f, 0.5f, 0.5f, 0.9f}, {0, 0, 1, 1}), 3.5 / 4);
}

TEST(AucTest, OneClassIsNaN) {
  EXPECT_TRUE(std::isnan(Auc({0.1f, 0.2f}, {1, 1})));
  EXPECT_TRUE(std::isnan(Auc({}, {})));
  EXPECT_TRUE(std::isnan(Auc({0.1f, NAN, 0.3f}, {0, 1, 1})));
  EXPECT_DOUBLE_EQ(Auc({-INFINITY, INFINITY}, {0, 1}), 1.0);
}

TEST(LogLossTest, KnownValuesAndClamping) {
  EXPECT_NEAR(LogLoss({0.5f, 0.5f}, {0, 1}), std::log(2.0), 1e-12);
  EXPECT_NEAR(LogLoss({0.9f, 0.2f}, {1, 0}),
              -(std::log(0.9f) + std::log(1 - 0.2f)) / 2, 1e-7);
  EXPECT_NEAR(LogLoss({0.0f}, {1}), -std::log(1e-7), 1e-9);
}

TEST(RegressionMetricsTest, RmseAndMae) {
  std::vector<float> predictions = {3, 4, 1}, labels = {4, 4, 3};
  EXPECT_NEAR(Rmse(predictions, labels), std::sqrt(5.0 / 3), 1e-12);
  EXPECT_NEAR(Mae(predictions, labels), 1.0, 1e-12);
}

}  // namespace
}  // namespace training
}  // namespace embrt
