// Copyright embrt authors.
//
// Forward pass of the cpu backend: combiners, weights, empty bags, zero weight sums, sequence
// features and dense (one id per row) inputs, against tf_semantics.md §5.2 / §5.5 and the
// canonical gain form written out here.

#include <cmath>
#include <vector>

#include "cpu_test_harness.h"
#include "gtest/gtest.h"
#include "tf_fixture.h"

namespace embrt {
namespace cpu_test {
namespace {

std::vector<std::vector<float>> Lookup(CpuEngine& engine, const std::vector<Input>& inputs,
                                       EMBRT_Mode mode = EMBRT_MODE_INFERENCE) {
  Result r = engine.Enqueue(0, inputs, mode);
  EXPECT_TRUE(r.ok()) << r.message;
  std::vector<std::vector<float>> activations;
  r = engine.Recv(0, &activations);
  EXPECT_TRUE(r.ok()) << r.message;
  return activations;
}

// user table (vocab 16, dim 2, rows [2r, 2r+1]) with one feature of `rows` bags.
EngineSpec UserSpec(EMBRT_Combiner combiner, int64_t rows, int32_t sequence_length = 0) {
  EngineSpec spec;
  TableSpec user;
  user.name = "user";
  user.vocabulary_size = 16;
  user.dim = 2;
  user.combiner = combiner;
  spec.tables = {user};
  spec.features = {{"friends", 0, sequence_length, rows}};
  return spec;
}

void LoadUser(CpuEngine& engine) { ASSERT_TRUE(engine.Load(0, 0, {RowMajor(16, 2)}).ok()); }

TEST(CpuLookupTest, TfFixtureActivations) {
  CpuEngine engine(TfFixtureSpec(EMBRT_OPTIMIZER_SGD));
  ASSERT_TRUE(engine.ok()) << engine.create_result().message;
  ASSERT_TRUE(LoadTfFixtureTables(engine).ok());
  for (EMBRT_Mode mode : {EMBRT_MODE_INFERENCE, EMBRT_MODE_TRAINING}) {
    auto a = Lookup(engine, TfFixtureInputs(), mode);
    EXPECT_EQ(a[0], (std::vector<float>{0, 1, 2, 3, 4, 6, 8, 10, 4, 6, 8, 10, 4, 5, 6, 7}));
    EXPECT_EQ(a[1], (std::vector<float>{4, 6, 8, 10, 4, 5, 6, 7, 0, 1, 2, 3, 4, 6, 8, 10}));
    // friends (mean): [6,7], mean of rows 0..2 = [2,3] up to rounding, in the gain form.
    const float third = 1.0f / 3.0f;
    const float x = (third * 0.0f + third * 2.0f) + third * 4.0f;
    const float y = (third * 1.0f + third * 3.0f) + third * 5.0f;
    EXPECT_EQ(a[2], (std::vector<float>{6, 7, x, y, 6, 7, x, y}));
    EXPECT_NEAR(x, 2.0f, 1e-6);
    EXPECT_NEAR(y, 3.0f, 1e-6);
    if (mode == EMBRT_MODE_TRAINING) {
      ASSERT_TRUE(engine.Send(0, {{}, {}, {}}).ok());
    }
  }
}

TEST(CpuLookupTest, WeightedSumAndMeanMatchTfCpuGolden) {
  CpuEngine engine(TfFixtureSpec(EMBRT_OPTIMIZER_SGD));
  ASSERT_TRUE(LoadTfFixtureTables(engine).ok());
  // Weights are the id values (§5.5).
  std::vector<Input> inputs = {
      Bags({{0}, {0, 1}, {0, 1}, {1}}, {{0}, {0, 1}, {0, 1}, {1}}),
      Bags({{0, 1}, {1}, {0}, {0, 1}}, {{0, 1}, {1}, {0}, {0, 1}}),
      Bags({{3}, {0, 1, 2}, {3}, {0, 1, 2}}, {{3}, {0, 1, 2}, {3}, {0, 1, 2}})};
  auto a = Lookup(engine, inputs);
  EXPECT_EQ(a[0], (std::vector<float>{0, 0, 0, 0, 4, 5, 6, 7, 4, 5, 6, 7, 4, 5, 6, 7}));
  EXPECT_EQ(a[1], (std::vector<float>{4, 5, 6, 7, 4, 5, 6, 7, 0, 0, 0, 0, 4, 5, 6, 7}));
  const std::vector<float> want = {6, 7, 3.3333333f, 4.3333333f, 6, 7, 3.3333333f, 4.3333333f};
  for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(a[2][i], want[i], 1e-6) << i;
  // Exactly the gain form: gains 0/3, 1/3, 2/3.
  const float g1 = 1.0f / 3.0f, g2 = 2.0f / 3.0f;
  EXPECT_EQ(a[2][2], (0.0f * 0.0f + g1 * 2.0f) + g2 * 4.0f);
  EXPECT_EQ(a[2][3], (0.0f * 1.0f + g1 * 3.0f) + g2 * 5.0f);
}

TEST(CpuLookupTest, SqrtnIsScaleInvariant) {
  CpuEngine engine(UserSpec(EMBRT_COMBINER_SQRTN, 2));
  LoadUser(engine);
  auto a = Lookup(engine, {Bags({{3}, {0, 1, 2}})});
  const float gain = 1.0f / std::sqrt(3.0f);
  EXPECT_EQ(a[0], (std::vector<float>{6, 7, (gain * 0 + gain * 2) + gain * 4,
                                      (gain * 1 + gain * 3) + gain * 5}));
  EXPECT_NEAR(a[0][2], 3.4641016f, 1e-6);
  EXPECT_NEAR(a[0][3], 5.1961524f, 1e-6);
  auto half = Lookup(engine, {Bags({{3}, {0, 1, 2}}, {{0.5f}, {0.5f, 0.5f, 0.5f}})});
  for (size_t i = 0; i < 4; ++i) EXPECT_NEAR(half[0][i], a[0][i], 1e-6) << i;
}

TEST(CpuLookupTest, SumWeightsScaleLinearly) {
  CpuEngine engine(UserSpec(EMBRT_COMBINER_SUM, 2));
  LoadUser(engine);
  auto a = Lookup(engine, {Bags({{3, 3}, {1}}, {{0.5f, -2.0f}, {0.25f}})});
  EXPECT_EQ(a[0], (std::vector<float>{0.5f * 6 + -2.0f * 6, 0.5f * 7 + -2.0f * 7, 0.5f, 0.75f}));
}

TEST(CpuLookupTest, EmptyBagsAndZeroWeightSumsGiveZeros) {
  for (EMBRT_Combiner combiner : {EMBRT_COMBINER_SUM, EMBRT_COMBINER_MEAN, EMBRT_COMBINER_SQRTN}) {
    CpuEngine engine(UserSpec(combiner, 4));
    LoadUser(engine);
    // Bag 0 empty; bag 1 weights sum to 0 (mean) ; bag 2 all-zero weights (sqrtn); bag 3 empty.
    auto a =
        Lookup(engine, {Bags({{}, {1, 2}, {3, 4}, {}}, {{}, {1.0f, -1.0f}, {0.0f, 0.0f}, {}})});
    for (float x : a[0]) EXPECT_FALSE(std::isnan(x)) << "combiner " << combiner;
    EXPECT_EQ(a[0][0], 0.0f);
    EXPECT_EQ(a[0][1], 0.0f);
    EXPECT_EQ(a[0][6], 0.0f);
    EXPECT_EQ(a[0][7], 0.0f);
    if (combiner == EMBRT_COMBINER_MEAN) {
      EXPECT_EQ(a[0][2], 0.0f);
      EXPECT_EQ(a[0][3], 0.0f);
    }
    if (combiner == EMBRT_COMBINER_SUM) {
      EXPECT_EQ(a[0][2], 1.0f * 2 + -1.0f * 4);
    }
    if (combiner != EMBRT_COMBINER_SUM) {
      EXPECT_EQ(a[0][4], 0.0f);
      EXPECT_EQ(a[0][5], 0.0f);
    }
  }
}

TEST(CpuLookupTest, SequenceFeaturePadsWithZeros) {
  CpuEngine engine(UserSpec(EMBRT_COMBINER_MEAN, 4, /*sequence_length=*/2));
  LoadUser(engine);
  // The core has already dropped ids past L (id 2 of bags 1 and 3).
  auto a = Lookup(engine, {Bags({{3}, {0, 1}, {3}, {0, 1}})});
  EXPECT_EQ(a[0], (std::vector<float>{6, 7, 0, 0, 0, 1, 2, 3, 6, 7, 0, 0, 0, 1, 2, 3}));
}

TEST(CpuLookupTest, DenseInputIsOneIdPerRow) {
  CpuEngine engine(TfFixtureSpec(EMBRT_OPTIMIZER_SGD));
  ASSERT_TRUE(LoadTfFixtureTables(engine).ok());
  Input watched{{1, 1, 0, 1}, {}, {}};
  Input favorited{{0, 1, 1, 0}, {}, {}};
  Input friends{{1, 2, 3, 0}, {}, {}};
  auto a = Lookup(engine, {watched, favorited, friends});
  EXPECT_EQ(a[0], (std::vector<float>{4, 5, 6, 7, 4, 5, 6, 7, 0, 1, 2, 3, 4, 5, 6, 7}));
  EXPECT_EQ(a[1], (std::vector<float>{0, 1, 2, 3, 4, 5, 6, 7, 4, 5, 6, 7, 0, 1, 2, 3}));
  EXPECT_EQ(a[2], (std::vector<float>{2, 3, 4, 5, 6, 7, 0, 1}));
}

TEST(CpuLookupTest, DuplicateIdsInABagCountPerOccurrence) {
  CpuEngine engine(UserSpec(EMBRT_COMBINER_MEAN, 1));
  LoadUser(engine);
  auto a = Lookup(engine, {Bags({{1, 1, 3}})});
  const float third = 1.0f / 3.0f;
  EXPECT_EQ(a[0], (std::vector<float>{(third * 2 + third * 2) + third * 6,
                                      (third * 3 + third * 3) + third * 7}));
}

TEST(CpuLookupTest, SeveralHostsNeedOneProcessPerHost) {
  // num_hosts 2 in a process started without mpirun: the engine cannot reach host 0, so Create
  // says how to start it (the sharded lookups themselves are tested in tests/multihost).
  EngineSpec spec = UserSpec(EMBRT_COMBINER_SUM, 2);
  spec.num_hosts = 2;
  spec.host_id = 1;
  spec.sharding = EMBRT_SHARDING_MOD;
  CpuEngine engine(spec);
  ASSERT_FALSE(engine.ok());
  EXPECT_EQ(engine.create_result().code, EMBRT_CODE_FAILED_PRECONDITION)
      << engine.create_result().message;
  EXPECT_NE(engine.create_result().message.find("mpirun -np 2"), std::string::npos)
      << engine.create_result().message;
}

}  // namespace
}  // namespace cpu_test
}  // namespace embrt
