// Copyright embrt authors.
//
// The scalar reference against TF's numbers (plugin_api/MATH.md §5.2–§5.6) and against
// hand-computed values for the options TF's tests do not cover.

#include "scalar_reference.h"

#include <cmath>
#include <string>
#include <vector>

#include "canonical_fixture.h"
#include "gtest/gtest.h"

namespace embrt {
namespace reference {
namespace {

ScalarReference MakeCanonical(const OptimizerSpec& optimizer, int replicas) {
  ScalarReference ref(CanonicalModel(optimizer, replicas));
  ref.slot(0, 0) = RowMajorIota(32);
  ref.slot(1, 0) = RowMajorIota(32);
  return ref;
}

// One step of the canonical fixture with dL/da = a/2, over `replicas` replicas.
void CanonicalStep(ScalarReference& ref, int replicas) {
  const std::vector<ReplicaBatch> batches = CanonicalBatches(replicas);
  std::vector<Gradients> gradients;
  for (const ReplicaBatch& batch : batches) gradients.push_back(HalfOf(ref.Lookup(batch)));
  ref.ApplyGradients(batches, gradients);
}

std::vector<float> Row(const ScalarReference& ref, int table, int slot, int64_t row) {
  const int dim = ref.model().tables[table].dim;
  const std::vector<float>& values = ref.slot(table, slot);
  return std::vector<float>(values.begin() + row * dim, values.begin() + (row + 1) * dim);
}

void ExpectAllClose(const std::vector<float>& actual, const std::vector<float>& expected,
                    double rtol, const std::string& what) {
  ASSERT_EQ(actual.size(), expected.size()) << what;
  for (size_t i = 0; i < actual.size(); ++i) {
    EXPECT_TRUE(AllClose(actual[i], expected[i], rtol))
        << what << "[" << i << "]: " << actual[i] << " vs " << expected[i];
  }
}

TEST(ScalarReferenceTest, ForwardActivationsAreTfsExactly) {
  for (int replicas : {1, 2}) {
    ScalarReference ref = MakeCanonical({}, replicas);
    const std::vector<ReplicaBatch> batches = CanonicalBatches(replicas);
    for (int f = 0; f < 3; ++f) {
      std::vector<float> all;
      for (const ReplicaBatch& batch : batches) {
        const Activations a = ref.Lookup(batch);
        all.insert(all.end(), a[f].begin(), a[f].end());
      }
      EXPECT_EQ(all, CanonicalActivations()[f]) << "feature " << f << " R=" << replicas;
    }
  }
}

TEST(ScalarReferenceTest, AggregatedGradientsThroughSgdWithRateOne) {
  for (int replicas : {1, 2}) {
    OptimizerSpec sgd;
    sgd.learning_rate = 1.0f;
    ScalarReference ref = MakeCanonical(sgd, replicas);
    CanonicalStep(ref, replicas);
    for (const RowGolden& golden : CanonicalRowGradients()) {
      const int dim = ref.model().tables[golden.table].dim;
      std::vector<float> gradient(dim);
      const std::vector<float> after = Row(ref, golden.table, 0, golden.row);
      for (int d = 0; d < dim; ++d) {
        gradient[d] = static_cast<float>(golden.row * dim + d) - after[d];
      }
      ExpectAllClose(gradient, golden.parameters, 1e-6,
                     "table " + std::to_string(golden.table) + " row " +
                         std::to_string(golden.row) + " R=" + std::to_string(replicas));
    }
  }
}

TEST(ScalarReferenceTest, OneStepOfEveryOptimizerMatchesTf) {
  for (const OptimizerGolden& golden : OneStepGoldens()) {
    for (int replicas : {1, 2}) {
      SCOPED_TRACE(golden.name + " R=" + std::to_string(replicas));
      ScalarReference ref = MakeCanonical(golden.optimizer, replicas);
      const ScalarReference before = ref;
      CanonicalStep(ref, replicas);
      for (const RowGolden& row : golden.rows) {
        const std::string where = "table " + std::to_string(row.table) + " row " +
                                  std::to_string(row.row);
        ExpectAllClose(Row(ref, row.table, 0, row.row), row.parameters, golden.parameters_rtol,
                       where + " parameters");
        for (size_t s = 0; s < row.slots.size(); ++s) {
          ExpectAllClose(Row(ref, row.table, static_cast<int>(s) + 1, row.row), row.slots[s],
                         golden.slots_rtol, where + " slot " + std::to_string(s + 1));
        }
      }
      // Untouched rows keep their values bit for bit: video 2..7, user 4..15.
      for (int t = 0; t < 2; ++t) {
        const int64_t first_untouched = t == 0 ? 2 : 4;
        for (int s = 0; s < ref.num_slots(t); ++s) {
          for (int64_t r = first_untouched; r < ref.model().tables[t].vocabulary_size; ++r) {
            EXPECT_EQ(Row(ref, t, s, r), Row(before, t, s, r)) << "table " << t << " row " << r;
          }
        }
      }
    }
  }
}

TEST(ScalarReferenceTest, AdamWithEpsilonOutsideSqrt) {
  OptimizerSpec adam;
  adam.kind = Optimizer::kAdam;
  adam.learning_rate = 0.1f;
  adam.adam.sum_inside_sqrt = false;
  ScalarReference ref = MakeCanonical(adam, 1);
  CanonicalStep(ref, 1);
  // TF checks this form with rtol 1e-4 (float's 1 - 0.999 is not 0.001).
  ExpectAllClose(Row(ref, 1, 0, 0), {-0.3162263f, 0.6837732f}, 1e-4, "user 0");
  // With a large epsilon the two forms differ visibly: video row 1, column 0 (g = 12).
  for (bool inside : {true, false}) {
    adam.adam.sum_inside_sqrt = inside;
    adam.adam.epsilon = 2.0f;
    ScalarReference big = MakeCanonical(adam, 1);
    CanonicalStep(big, 1);
    const float m = 0.9f * 0.0f + (1.0f - 0.9f) * 12.0f;
    const float v = 0.999f * 0.0f + (1.0f - 0.999f) * 12.0f * 12.0f;
    const float expected = inside ? 4.0f - 0.1f * m / std::sqrt(v + 2.0f * 2.0f)
                                  : 4.0f - 0.1f * m / (std::sqrt(v) + 2.0f);
    EXPECT_EQ(big.slot(0, 0)[4], expected) << "sum_inside_sqrt=" << inside;
  }
}

// §5.5: weights equal to the id values; the sum tables halve, mean is invariant.
TEST(ScalarReferenceTest, WeightedRaggedLookup) {
  ScalarReference ref = MakeCanonical({}, 1);
  ReplicaBatch batch = CanonicalBatches(1)[0];
  for (FeatureBatch& f : batch) {
    for (int64_t id : f.ids) f.weights.push_back(static_cast<float>(id));
  }
  const Activations a = ref.Lookup(batch);
  EXPECT_EQ(a[0], (std::vector<float>{0, 0, 0, 0, 4, 5, 6, 7, 4, 5, 6, 7, 4, 5, 6, 7}));
  EXPECT_EQ(a[1], (std::vector<float>{4, 5, 6, 7, 4, 5, 6, 7, 0, 0, 0, 0, 4, 5, 6, 7}));
  ExpectAllClose(a[2], {6, 7, 3.3333333f, 4.3333333f, 6, 7, 3.3333333f, 4.3333333f}, 1e-6,
                 "friends");
}

TEST(ScalarReferenceTest, SqrtnLookupIsScaleInvariant) {
  ModelSpec model = CanonicalModel({}, 1);
  model.tables[1].combiner = Combiner::kSqrtn;
  ScalarReference ref(model);
  ref.slot(1, 0) = RowMajorIota(32);
  ReplicaBatch batch = CanonicalBatches(1)[0];
  const std::vector<float> expected = {6, 7, 3.4641016f, 5.1961524f,
                                       6, 7, 3.4641016f, 5.1961524f};
  ExpectAllClose(ref.Lookup(batch)[2], expected, 1e-6, "unweighted");
  batch[2].weights.assign(batch[2].ids.size(), 0.5f);
  ExpectAllClose(ref.Lookup(batch)[2], expected, 1e-6, "weights 0.5");
}

// §5.5 sequence lookup: friends with L = 2; id 2 of the long bags is truncated.
TEST(ScalarReferenceTest, SequenceLookupPadsAndTruncates) {
  ModelSpec model = CanonicalModel({}, 1);
  model.features[2].max_sequence_length = 2;
  ScalarReference ref(model);
  ref.slot(1, 0) = RowMajorIota(32);
  EXPECT_EQ(ref.Lookup(CanonicalBatches(1)[0])[2],
            (std::vector<float>{6, 7, 0, 0, 0, 1, 2, 3, 6, 7, 0, 0, 0, 1, 2, 3}));
}

// ABI 1.1 positions: friends with L = 3 as TF's sparse input with holes. Row 0 has id 3 at
// position 2 (none at 0 and 1), row 1 ids 0, 1 at positions 0 and 2; the gradient at a hole
// reaches no row.
TEST(ScalarReferenceTest, SequencePositionsWithHoles) {
  OptimizerSpec sgd;
  sgd.learning_rate = 0.5f;
  ModelSpec model = CanonicalModel(sgd, 2);  // B = 2 per replica
  model.features[2].max_sequence_length = 3;
  ScalarReference ref(model);
  ref.slot(1, 0) = RowMajorIota(32);
  ReplicaBatch batch = CanonicalBatches(2)[0];
  batch[2] = {{3, 0, 1}, {0, 1, 3}, {}, {2, 0, 2}};
  EXPECT_EQ(ref.Lookup(batch)[2],
            (std::vector<float>{0, 0, 0, 0, 6, 7, 0, 1, 0, 0, 2, 3}));
  Gradients gradients = {{}, {}, std::vector<float>(12)};
  for (int i = 0; i < 12; ++i) gradients[2][i] = static_cast<float>(i + 1);
  ref.ApplyGradients({batch, CanonicalBatches(2)[1]}, {gradients, {{}, {}, {}}});
  // Row 3 gets [b0, p2] = (5, 6); row 0 [b1, p0] = (7, 8); row 1 [b1, p2] = (11, 12).
  EXPECT_EQ(Row(ref, 1, 0, 3), (std::vector<float>{6 - 0.5f * 5, 7 - 0.5f * 6}));
  EXPECT_EQ(Row(ref, 1, 0, 0), (std::vector<float>{0 - 0.5f * 7, 1 - 0.5f * 8}));
  EXPECT_EQ(Row(ref, 1, 0, 1), (std::vector<float>{2 - 0.5f * 11, 3 - 0.5f * 12}));
  EXPECT_EQ(Row(ref, 1, 0, 2), (std::vector<float>{4, 5}));
}

// §5.6 sequence training: watched L=2, favorited L=2, friends L=3, gradient ones, SGD 0.1.
TEST(ScalarReferenceTest, SequenceTrainingUpdatesRealPositionsOnly) {
  OptimizerSpec sgd;
  sgd.learning_rate = 0.1f;
  ModelSpec model = CanonicalModel(sgd, 1);
  model.features[0].max_sequence_length = 2;
  model.features[1].max_sequence_length = 2;
  model.features[2].max_sequence_length = 3;
  ScalarReference ref(model);
  ref.slot(0, 0) = RowMajorIota(32);
  ref.slot(1, 0) = RowMajorIota(32);
  const ReplicaBatch batch = CanonicalBatches(1)[0];
  Gradients ones;
  for (int f = 0; f < 3; ++f) ones.emplace_back(ActivationSize(model, f), 1.0f);
  ref.ApplyGradients({batch}, {ones});
  // Video rows 0 and 1 occur 6 times over the 4 examples: -0.6; user rows 0..3 twice: -0.2.
  for (int64_t r = 0; r < 8; ++r) {
    for (int d = 0; d < 4; ++d) {
      const float initial = static_cast<float>(r * 4 + d);
      const float expected = r < 2 ? initial - 0.6f : initial;
      EXPECT_NEAR(ref.slot(0, 0)[r * 4 + d], expected, 1e-5) << "video " << r;
    }
  }
  for (int64_t r = 0; r < 16; ++r) {
    for (int d = 0; d < 2; ++d) {
      const float initial = static_cast<float>(r * 2 + d);
      const float expected = r < 4 ? initial - 0.2f : initial;
      EXPECT_NEAR(ref.slot(1, 0)[r * 2 + d], expected, 1e-5) << "user " << r;
    }
  }
}

// §5.8 quantization goldens, element by element.
TEST(ScalarReferenceTest, QuantizeMatchesTfGoldens) {
  const QuantizationSpec three{3, -1.0f, 1.0f};
  EXPECT_EQ(Quantize(three, 0.4f), 0.0f);
  EXPECT_EQ(Quantize(three, 0.6f), 1.0f);
  EXPECT_EQ(Quantize(three, 5.0f), 1.0f);
  EXPECT_EQ(Quantize(three, -0.5f), 0.0f);  // round half up
  EXPECT_EQ(Quantize(three, -0.51f), -1.0f);
  EXPECT_EQ(Quantize(three, -2.0f), -1.0f);
  const QuantizationSpec five{5, 0.0f, 1.0f};
  EXPECT_EQ(Quantize(five, 0.1f), 0.0f);
  EXPECT_EQ(Quantize(five, 0.125f), 0.25f);
  EXPECT_EQ(Quantize(five, 0.3f), 0.25f);
  EXPECT_EQ(Quantize(five, 0.99f), 1.0f);
}

// §4.7: quantized before the combiner (forward only); the update uses the unquantized
// gradient on the stored f32 rows.
TEST(ScalarReferenceTest, QuantizationBeforeCombinerStraightThroughBackward) {
  OptimizerSpec sgd;
  sgd.learning_rate = 0.1f;
  ModelSpec model{{{"t", 2, 1, Combiner::kMean, sgd}}, {{"f", 0, 0, 1}}, 1, 0, {{3, -1.0f, 1.0f}}};
  ScalarReference ref(model);
  ref.slot(0, 0) = {0.4f, 0.6f};
  FeatureBatch bag{{0, 1}, {0, 2}, {}};
  // (Q(0.4) + Q(0.6)) / 2 = (0 + 1) / 2; quantizing the mean 0.5 would give 1.
  EXPECT_EQ(ref.Lookup({bag})[0], (std::vector<float>{0.5f}));
  ref.ApplyGradients({{bag}}, {{{1.0f}}});
  EXPECT_EQ(ref.slot(0, 0), (std::vector<float>{0.4f - 0.1f * 0.5f, 0.6f - 0.1f * 0.5f}));
}

// §5.6 None gradient: (None, None, ones) with SGD 0.1, one replica of 4.
TEST(ScalarReferenceTest, NoneGradientIsZeroButTouches) {
  OptimizerSpec sgd;
  sgd.learning_rate = 0.1f;
  ScalarReference ref = MakeCanonical(sgd, 1);
  const ReplicaBatch batch = CanonicalBatches(1)[0];
  ref.ApplyGradients({batch}, {{{}, {}, std::vector<float>(8, 1.0f)}});
  EXPECT_EQ(ref.slot(0, 0), RowMajorIota(32));
  ExpectAllClose(Row(ref, 1, 0, 3), {6.0f - 0.2f, 7.0f - 0.2f}, 1e-6, "user 3");
  for (int64_t r = 0; r < 3; ++r) {
    ExpectAllClose(Row(ref, 1, 0, r), {2.0f * r - 0.0666667f, 2.0f * r + 1 - 0.0666667f}, 1e-6,
                   "user " + std::to_string(r));
  }
}

// A None gradient still touches rows: Adam's momentum decays (lazy Adam moves the weight).
TEST(ScalarReferenceTest, NoneGradientTouchesAdamRows) {
  OptimizerSpec adam;
  adam.kind = Optimizer::kAdam;
  adam.learning_rate = 0.1f;
  ScalarReference ref = MakeCanonical(adam, 1);
  ref.slot(1, 1)[6] = 1.0f;  // user row 3, column 0: m = 1, v = 0
  ref.ApplyGradients({CanonicalBatches(1)[0]}, {{{}, {}, {}}});
  EXPECT_EQ(ref.slot(1, 1)[6], 0.9f * 1.0f);
  EXPECT_EQ(ref.slot(1, 0)[6], 6.0f - 0.1f * 0.9f / std::sqrt(0.0f + 1e-7f * 1e-7f));
}

// §5.6 weights 0.5 on (watched, -, friends): sum halves, mean does not change.
TEST(ScalarReferenceTest, WeightsOneHalf) {
  ScalarReference ref = MakeCanonical({}, 1);
  ReplicaBatch batch = CanonicalBatches(1)[0];
  batch[0].weights.assign(batch[0].ids.size(), 0.5f);
  batch[2].weights.assign(batch[2].ids.size(), 0.5f);
  const Activations a = ref.Lookup(batch);
  std::vector<float> half = CanonicalActivations()[0];
  for (float& x : half) x *= 0.5f;
  EXPECT_EQ(a[0], half);
  EXPECT_EQ(a[1], CanonicalActivations()[1]);
  EXPECT_EQ(a[2], CanonicalActivations()[2]);
}

// §5.6 dynamic learning rate: lr = max(0.5, 1 - 0.05·step), gradient 1 on id 0, sum combiner.
TEST(ScalarReferenceTest, DynamicLearningRateSchedule) {
  for (int replicas : {1, 2}) {
    ModelSpec model;
    model.num_replicas = replicas;
    model.num_learning_rate_tags = 1;
    OptimizerSpec sgd;
    sgd.learning_rate_tag = 0;
    model.tables = {{"table", replicas, 4, Combiner::kSum, sgd}};
    model.features = {{"feature", 0, 0, 1}};
    ScalarReference ref(model);
    const std::vector<float> expected = {0,     -1.0f,  -1.95f, -2.85f, -3.7f,
                                         -4.5f, -5.25f, -5.95f, -6.6f,  -7.2f};
    const std::vector<ReplicaBatch> batches(replicas, ReplicaBatch{FeatureBatch{{0}, {}, {}}});
    for (int step = 0; step < 10; ++step) {
      const Activations a = ref.Lookup(batches[0]);
      for (float x : a[0]) EXPECT_NEAR(x, expected[step], 1e-5) << "step " << step;
      // Loss Σa/R per replica: each replica sends 1/R.
      const std::vector<Gradients> grads(
          replicas, Gradients{std::vector<float>(4, 1.0f / static_cast<float>(replicas))});
      ref.ApplyGradients(batches, grads, {std::max(0.5f, 1.0f - 0.05f * step)});
    }
  }
}

TEST(ScalarReferenceTest, EmptyBagsAndZeroWeightSumsGiveZero) {
  ModelSpec model;
  model.tables = {{"mean", 3, 2, Combiner::kMean, {}}, {"sqrtn", 3, 2, Combiner::kSqrtn, {}}};
  model.features = {{"a", 0, 0, 3}, {"b", 1, 0, 3}};
  ScalarReference ref(model);
  ref.slot(0, 0) = {1, 2, 3, 4, 5, 6};
  ref.slot(1, 0) = {1, 2, 3, 4, 5, 6};
  FeatureBatch input{{0, 1, 2}, {0, 0, 2, 3}, {1.0f, -1.0f, 0.0f}};
  const Activations a = ref.Lookup({input, input});
  EXPECT_EQ(a[0], (std::vector<float>{0, 0, 0, 0, 0, 0}));  // empty, Σw = 0, Σw = 0
  EXPECT_EQ(a[1], (std::vector<float>{0, 0, 1 / std::sqrt(2.0f) * 1 - 1 / std::sqrt(2.0f) * 3,
                                      1 / std::sqrt(2.0f) * 2 - 1 / std::sqrt(2.0f) * 4, 0, 0}));
}

// Hand-computed single-row steps for the options TF's goldens do not cover.
struct OneRow {
  ScalarReference ref;
  explicit OneRow(const OptimizerSpec& optimizer)
      : ref(ModelSpec{{{"t", 2, 1, Combiner::kSum, optimizer}}, {{"f", 0, 0, 1}}, 1, 1, {}}) {}
  void Step(float gradient, float learning_rate = 0.0f) {
    ref.ApplyGradients({{FeatureBatch{{0}, {}, {}}}}, {{{gradient}}}, {learning_rate});
  }
  float& w() { return ref.slot(0, 0)[0]; }
};

TEST(ScalarReferenceTest, GradientClipBeforeWeightDecayBeforeUpdateBeforeWeightClip) {
  OptimizerSpec sgd;
  sgd.learning_rate = 0.5f;
  sgd.clip_gradient_min = -1.0f;
  sgd.clip_gradient_max = 2.0f;
  sgd.weight_decay_factor = 0.1f;
  sgd.clip_weight_min = -0.25f;
  sgd.clip_weight_max = 2.0f;
  OneRow row(sgd);
  row.w() = 4.0f;
  row.Step(5.0f);  // g -> 2; w = (4 - 0.4) - 1 = 2.6 -> clipped to 2 (unclipped g: 1.1)
  EXPECT_EQ(row.w(), 2.0f);
  row.Step(0.5f);  // inside every limit
  float w = (2.0f - 0.1f * 2.0f) - 0.5f * 0.5f;
  EXPECT_EQ(row.w(), w);
  row.Step(-7.0f);  // g -> -1
  w = (w - 0.1f * w) - 0.5f * -1.0f;
  EXPECT_EQ(row.w(), w);
  row.Step(20.0f);  // g -> 2
  w = (w - 0.1f * w) - 0.5f * 2.0f;
  EXPECT_EQ(row.w(), w);
  row.Step(20.0f);  // below the lower weight limit
  ASSERT_LT((w - 0.1f * w) - 0.5f * 2.0f, -0.25f);
  EXPECT_EQ(row.w(), -0.25f);
  EXPECT_EQ(row.ref.slot(0, 0)[1], 0.0f);  // the untouched row
}

TEST(ScalarReferenceTest, WeightDecayMultipliedByDynamicRate) {
  OptimizerSpec sgd;
  sgd.learning_rate_tag = 0;
  sgd.weight_decay_factor = 0.5f;
  sgd.multiply_weight_decay_factor_by_learning_rate = true;
  OneRow row(sgd);
  row.w() = 2.0f;
  row.Step(1.0f, 0.25f);  // decay 0.125: w = 2 - 0.25 = 1.75; then 1.75 - 0.25 = 1.5
  EXPECT_EQ(row.w(), 1.5f);
}

TEST(ScalarReferenceTest, NonLazyAdamUpdatesEveryRow) {
  OptimizerSpec adam;
  adam.kind = Optimizer::kAdam;
  adam.learning_rate = 0.1f;
  adam.adam.lazy_adam = false;
  OneRow row(adam);
  row.ref.slot(0, 1)[1] = 2.0f;  // row 1 (never looked up) has momentum 2
  row.ref.slot(0, 2)[1] = 4.0f;  // and velocity 4
  row.Step(1.0f);
  const float m = 0.9f * 2.0f + (1.0f - 0.9f) * 0.0f;
  const float v = 0.999f * 4.0f + (1.0f - 0.999f) * 0.0f * 0.0f;
  EXPECT_EQ(row.ref.slot(0, 1)[1], m);
  EXPECT_EQ(row.ref.slot(0, 2)[1], v);
  EXPECT_EQ(row.ref.slot(0, 0)[1], 0.0f - 0.1f * m / std::sqrt(v + 1e-7f * 1e-7f));
  adam.adam.lazy_adam = true;
  OneRow lazy(adam);
  lazy.ref.slot(0, 1)[1] = 2.0f;
  lazy.Step(1.0f);
  EXPECT_EQ(lazy.ref.slot(0, 1)[1], 2.0f);
}

TEST(ScalarReferenceTest, AccumulationOffAppliesEveryOccurrenceInOrder) {
  OptimizerSpec adagrad;
  adagrad.kind = Optimizer::kAdagrad;
  adagrad.learning_rate = 1.0f;
  adagrad.use_gradient_accumulation = false;
  ModelSpec model{{{"t", 1, 1, Combiner::kSum, adagrad}}, {{"f", 0, 0, 1}}, 2, 0, {}};
  ScalarReference ref(model);
  // Replica 0: id 0 twice (gains 1 and 2 via weights), replica 1: id 0 once.
  FeatureBatch r0{{0, 0}, {0, 2}, {1.0f, 2.0f}};
  FeatureBatch r1{{0}, {}, {}};
  ref.ApplyGradients({{r0}, {r1}}, {{{3.0f}}, {{-1.0f}}});
  float a = 0.1f, w = 0.0f;
  for (float g : {3.0f, 6.0f, -1.0f}) {
    a = a + g * g;
    w = w - 1.0f * g / std::sqrt(a);
  }
  EXPECT_EQ(ref.slot(0, 1)[0], a);
  EXPECT_EQ(ref.slot(0, 0)[0], w);
}

TEST(ScalarReferenceTest, FtrlWithL1L2BetaAndLinearTimesRate) {
  for (bool multiply : {false, true}) {
    OptimizerSpec ftrl;
    ftrl.kind = Optimizer::kFtrl;
    ftrl.learning_rate = 0.5f;
    ftrl.ftrl = {-0.5f, 0.25f, 0.125f, 0.75f, 0.1f, multiply};
    OneRow row(ftrl);
    row.w() = 1.0f;
    row.Step(2.0f);
    const float a_new = 0.1f + 2.0f * 2.0f;
    const float sigma = std::pow(a_new, 0.5f) - std::pow(0.1f, 0.5f);
    float lin, n, d;
    if (!multiply) {
      lin = 0.0f + 2.0f - sigma * 1.0f / 0.5f;
      n = std::min(std::max(lin, -0.25f), 0.25f) - lin;
      d = (std::pow(a_new, 0.5f) + 0.75f) / 0.5f + 2.0f * 0.125f;
    } else {
      lin = 0.0f + 0.5f * 2.0f - sigma * 1.0f;
      n = std::min(std::max(lin, -0.5f * 0.25f), 0.5f * 0.25f) - lin;
      d = std::pow(a_new, 0.5f) + 2.0f * 0.5f * 0.125f + 0.75f;
    }
    EXPECT_EQ(row.ref.slot(0, 2)[0], lin) << multiply;
    EXPECT_EQ(row.ref.slot(0, 1)[0], a_new) << multiply;
    EXPECT_EQ(row.w(), n / d) << multiply;
    EXPECT_NE(row.w(), -lin / (std::pow(a_new, 0.5f) / 0.5f)) << "l1/l2/beta must matter";
  }
}

TEST(ScalarReferenceTest, AdagradMomentumWithoutNesterovAndBeta2One) {
  OptimizerSpec opt;
  opt.kind = Optimizer::kAdagradMomentum;
  opt.learning_rate = 0.1f;
  opt.adagrad_momentum = {0.5f, false, 2.0f, 1.0f, 1e-10f};
  OneRow row(opt);
  row.Step(3.0f);
  row.Step(4.0f);
  float a = 0, m = 0, w = 0;
  for (float g : {3.0f, 4.0f}) {
    a = a + g * g;
    const float s = std::pow(a + 1e-10f, -1.0f / 2.0f) * g;
    m = 0.5f * m + s;
    w = w - 0.1f * m;
  }
  EXPECT_EQ(row.ref.slot(0, 1)[0], 25.0f);
  EXPECT_EQ(row.ref.slot(0, 2)[0], m);
  EXPECT_EQ(row.w(), w);
}

TEST(ScalarReferenceTest, ReplicaSumsArePerReplicaThenInReplicaOrder) {
  // Per replica: 1e8 + 1 - 1e8 would lose the 1 if summed globally left to right as
  // (1e8, 1, -1e8); per replica it is (1e8 + 1) + (-1e8) with replica 0 = {1e8, 1}.
  OptimizerSpec sgd;
  sgd.learning_rate = 1.0f;
  ModelSpec model{{{"t", 1, 1, Combiner::kSum, sgd}}, {{"f", 0, 0, 2}}, 2, 0, {}};
  ScalarReference ref(model);
  FeatureBatch twice{{0, 0}, {}, {}};
  ref.ApplyGradients({{twice}, {twice}}, {{{1e8f, 1.0f}}, {{-1e8f, 4.0f}}});
  const float replica0 = (0.0f + 1e8f) + 1.0f;
  const float replica1 = (0.0f + -1e8f) + 4.0f;
  EXPECT_EQ(ref.slot(0, 0)[0], 0.0f - 1.0f * ((0.0f + replica0) + replica1));
}

}  // namespace
}  // namespace reference
}  // namespace embrt
