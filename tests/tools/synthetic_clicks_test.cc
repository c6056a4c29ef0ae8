// Copyright embrt authors.

#include "tools/training/synthetic_clicks.h"

#include <vector>

#include "gtest/gtest.h"
#include "tools/training/metrics.h"

namespace embrt {
namespace training {
namespace {

TEST(SyntheticClicksTest, CardinalitiesAreCriteosCapped) {
  SyntheticClicksOptions options;
  options.max_cardinality = 1000;
  SyntheticClicks clicks(options);
  ASSERT_EQ(clicks.fields().size(), 26u);
  EXPECT_EQ(clicks.fields()[0], "C1");
  EXPECT_EQ(clicks.cardinalities()[0], 1000);  // 1460 capped
  EXPECT_EQ(clicks.cardinalities()[1], 583);
  EXPECT_EQ(clicks.cardinalities()[8], 3);
}

TEST(SyntheticClicksTest, StreamsRepeatAndDiffer) {
  SyntheticClicksOptions options;
  options.max_cardinality = 500;
  auto clicks = std::make_shared<SyntheticClicks>(options);
  auto train = OpenSyntheticClicks(clicks, 0, 3, clicks->cardinalities());
  auto eval = OpenSyntheticClicks(clicks, 1, 3, clicks->cardinalities());
  Example a, b;
  std::vector<std::vector<int64_t>> first_pass;
  while (*train->Next(a)) first_pass.push_back(a.ids);
  EXPECT_EQ(first_pass.size(), 3u);
  ASSERT_TRUE(train->Rewind().ok());
  for (const auto& ids : first_pass) {
    ASSERT_TRUE(*train->Next(a));
    EXPECT_EQ(a.ids, ids);
  }
  ASSERT_TRUE(*eval->Next(b));
  EXPECT_NE(b.ids, first_pass[0]);
  for (size_t f = 0; f < b.ids.size(); ++f) {
    EXPECT_GE(b.ids[f], 0);
    EXPECT_LT(b.ids[f], clicks->cardinalities()[f]);
  }
}

TEST(SyntheticClicksTest, ZipfSkewAndTeacherIsInformative) {
  SyntheticClicksOptions options;
  options.max_cardinality = 2000;
  SyntheticClicks clicks(options);
  std::vector<float> probabilities, labels;
  TeacherPredictions(clicks, 1, 20000, probabilities, labels);
  double clicked = 0;
  for (float y : labels) clicked += y;
  const double ctr = clicked / labels.size();
  EXPECT_GT(ctr, 0.1);
  EXPECT_LT(ctr, 0.4);
  EXPECT_GT(Auc(probabilities, labels), 0.7);

  // Rank 0 of field C1 (2000 ids, s = 1.1) has probability 1 / H(2000, 1.1) = 0.16925:
  // 1692.5 expected in 10000 draws, standard deviation 37.5.
  Random random(SyntheticStreamSeed(clicks, 0));
  Example example;
  int top = 0;
  for (int i = 0; i < 10000; ++i) {
    clicks.Sample(random, example);
    top += example.ids[0] == 0;
  }
  EXPECT_GT(top, 1692 - 4 * 38);
  EXPECT_LT(top, 1692 + 4 * 38);
}

}  // namespace
}  // namespace training
}  // namespace embrt
