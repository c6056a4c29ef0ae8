// Copyright embrt authors.
//
// plugin_api/MATH.md is normative; the scalar reference is the oracle the conformance suite
// compares plugins with. This test keeps them the same: every formula of MATH.md is transcribed
// below exactly as the document writes it (same operations, same grouping), evaluated on random
// inputs, and compared bit for bit with what ScalarReference computes. A change to either side
// that the other does not follow fails here. Built with -ffp-contract=off, like the reference.

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "random_model.h"
#include "scalar_reference.h"

namespace embrt {
namespace reference {
namespace {

constexpr int kDim = 7;
constexpr int kTrials = 200;

// Bitwise equality, except that +0 equals -0 (MATH.md §1) and NaN equals NaN.
bool SameBits(float a, float b) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  if (a == 0.0f && b == 0.0f) return true;
  uint32_t x, y;
  std::memcpy(&x, &a, 4);
  std::memcpy(&y, &b, 4);
  return x == y;
}

void ExpectSameBits(const std::vector<float>& actual, const std::vector<float>& document,
                    const std::string& what) {
  ASSERT_EQ(actual.size(), document.size()) << what;
  for (size_t i = 0; i < actual.size(); ++i) {
    EXPECT_TRUE(SameBits(actual[i], document[i]))
        << what << "[" << i << "]: reference " << actual[i] << ", MATH.md " << document[i];
  }
}

// MATH.md §1.
float clamp(float x, float lo, float hi) { return std::min(std::max(x, lo), hi); }

// MATH.md §3.0 step 3 and §3.1-§3.5, one element. `s1`, `s2` are the slots after parameters.
void DocumentUpdate(const OptimizerSpec& o, float lr, float g, float& w, float& s1, float& s2) {
  g = clamp(g, o.clip_gradient_min, o.clip_gradient_max);
  if (o.weight_decay_factor != 0) {
    const float decay = o.multiply_weight_decay_factor_by_learning_rate
                            ? o.weight_decay_factor * lr
                            : o.weight_decay_factor;
    w = w - decay * w;
  }
  switch (o.kind) {
    case Optimizer::kSgd:
      w = w - lr * g;
      break;
    case Optimizer::kAdagrad: {
      float& a = s1;
      a = a + g * g;
      w = w - lr * g / std::sqrt(a);
      break;
    }
    case Optimizer::kAdagradMomentum: {
      const AdagradMomentumOptions& h = o.adagrad_momentum;
      float& a = s1;
      float& m = s2;
      if (h.beta2 == 1.0f) {
        a = a + g * g;
      } else {
        a = h.beta2 * a + (1.0f - h.beta2) * g * g;
      }
      const float power = -1.0f / h.exponent;
      const float scaled = std::pow(a + h.epsilon, power) * g;
      m = h.momentum * m + scaled;
      const float update = h.use_nesterov ? h.momentum * m + scaled : m;
      w = w - lr * update;
      break;
    }
    case Optimizer::kAdam: {
      const AdamOptions& h = o.adam;
      float& m = s1;
      float& v = s2;
      m = h.beta_1 * m + (1.0f - h.beta_1) * g;
      v = h.beta_2 * v + (1.0f - h.beta_2) * g * g;
      if (h.sum_inside_sqrt) {
        w = w - lr * m / std::sqrt(v + h.epsilon * h.epsilon);
      } else {
        w = w - lr * m / (std::sqrt(v) + h.epsilon);
      }
      break;
    }
    case Optimizer::kFtrl: {
      const FtrlOptions& h = o.ftrl;
      float& a = s1;
      float& lin = s2;
      const float eta = lr;
      const float p = -h.learning_rate_power;
      const float l1 = h.l1_regularization_strength;
      const float l2 = h.l2_regularization_strength;
      const float a_new = a + g * g;
      const float a_new_p = std::pow(a_new, p);
      const float delta = a_new_p - std::pow(a, p);
      float num, den;
      if (!h.multiply_linear_by_learning_rate) {
        lin = lin + g - delta * w / eta;
        num = (l1 == 0) ? -lin : clamp(lin, -l1, l1) - lin;
        den = (a_new_p + h.beta) / eta + 2.0f * l2;
      } else {
        lin = lin + eta * g - delta * w;
        num = (l1 == 0) ? -lin : clamp(lin, -eta * l1, eta * l1) - lin;
        den = a_new_p + 2.0f * eta * l2 + h.beta;
      }
      w = num / den;
      a = a_new;
      break;
    }
  }
  w = clamp(w, o.clip_weight_min, o.clip_weight_max);
}

// One table of `rows` rows, one plain feature of one bag per replica.
ModelSpec OneTable(const OptimizerSpec& optimizer, int64_t rows, int replicas,
                   Combiner combiner = Combiner::kSum) {
  ModelSpec model;
  model.num_replicas = replicas;
  model.tables = {{"t", rows, kDim, combiner, optimizer}};
  model.features = {{"f", 0, 0, 1}};
  return model;
}

// §3: one row, one occurrence, accumulation on: g = grad; every optimizer and option mix that
// random_model.cc draws.
TEST(MathDocumentTest, OptimizerFormulasMatchTheReference) {
  RandomSource random(2024);
  RandomModelLimits limits;
  limits.max_tables = 1;
  for (int trial = 0; trial < kTrials; ++trial) {
    ModelSpec drawn = RandomModel(random, limits);
    OptimizerSpec o = drawn.tables[0].optimizer;
    o.learning_rate_tag = -1;
    o.use_gradient_accumulation = true;
    o.adam.lazy_adam = true;
    if (random.Chance(0.3)) o.clip_gradient_min = random.Float(-0.5f, -0.01f);
    if (random.Chance(0.3)) o.weight_decay_factor = random.Float(0.001f, 0.2f);
    o.multiply_weight_decay_factor_by_learning_rate = random.Chance(0.5);
    SCOPED_TRACE("trial " + std::to_string(trial) + ": " + Describe(OneTable(o, 1, 1)));
    ScalarReference ref(OneTable(o, 1, 1));
    RandomizeState(random, ref);
    std::vector<std::vector<float>> doc;
    for (int s = 0; s < ref.num_slots(0); ++s) doc.push_back(ref.slot(0, s));
    std::vector<float> grad(kDim);
    for (float& x : grad) x = random.Float(-2.0f, 2.0f);
    ref.ApplyGradients({{{{0}, {}, {}}}}, {{grad}});
    for (int d = 0; d < kDim; ++d) {
      float unused = 0.0f;
      float& s1 = doc.size() > 1 ? doc[1][d] : unused;
      float& s2 = doc.size() > 2 ? doc[2][d] : unused;
      DocumentUpdate(o, o.learning_rate, grad[d], doc[0][d], s1, s2);
    }
    for (int s = 0; s < ref.num_slots(0); ++s) {
      ExpectSameBits(ref.slot(0, s), doc[s], SlotNames(o.kind)[s]);
    }
    if (HasFailure()) return;
  }
}

// §4.2 gains and §4.6 sums: one bag of 5 ids with random weights (zeros, negatives, zero
// divisors), two replicas; forward and the replica-ordered row sums, through SGD with lr 1.
TEST(MathDocumentTest, GainsAndRowSumsMatchTheReference) {
  RandomSource random(7);
  for (Combiner combiner : {Combiner::kSum, Combiner::kMean, Combiner::kSqrtn}) {
    for (int trial = 0; trial < kTrials; ++trial) {
      OptimizerSpec sgd;
      sgd.learning_rate = 1.0f;
      ScalarReference ref(OneTable(sgd, 3, 2, combiner));
      RandomizeState(random, ref);
      std::vector<float> table = ref.slot(0, 0);
      std::vector<ReplicaBatch> batches;
      std::vector<Gradients> gradients;
      std::vector<std::vector<float>> gains;
      for (int r = 0; r < 2; ++r) {
        FeatureBatch bag{{}, {0, 5}, {}};
        for (int k = 0; k < 5; ++k) {
          bag.ids.push_back(random.Int(0, 2));
          const int kind = static_cast<int>(random.Int(0, 3));
          bag.weights.push_back(kind == 0 ? 0.0f : random.Float(-1.5f, 1.5f));
        }
        if (random.Chance(0.3)) {  // a zero divisor for mean
          bag.weights = {1.0f, -1.0f, 0.5f, -0.5f, 0.0f};
        }
        // §4.2, as written.
        std::vector<float> gain(5);
        if (combiner == Combiner::kSum) {
          for (int k = 0; k < 5; ++k) gain[k] = bag.weights[k];
        } else if (combiner == Combiner::kMean) {
          float s = 0.0f;
          for (int k = 0; k < 5; ++k) s = s + bag.weights[k];
          for (int k = 0; k < 5; ++k) gain[k] = (s == 0) ? 0 : bag.weights[k] / s;
        } else {
          float s = 0.0f;
          for (int k = 0; k < 5; ++k) s = s + bag.weights[k] * bag.weights[k];
          const float root = std::sqrt(s);
          for (int k = 0; k < 5; ++k) gain[k] = (root == 0) ? 0 : bag.weights[k] / root;
        }
        std::vector<float> activation(kDim);
        for (int d = 0; d < kDim; ++d) {
          float a = 0.0f;
          for (int k = 0; k < 5; ++k) a = a + gain[k] * table[bag.ids[k] * kDim + d];
          activation[d] = a;
        }
        ExpectSameBits(ref.Lookup({bag})[0], activation, "activation");
        std::vector<float> grad(kDim);
        for (float& x : grad) x = random.Float(-1.0f, 1.0f);
        batches.push_back({bag});
        gradients.push_back({grad});
        gains.push_back(gain);
      }
      // §4.6: per replica, occurrences in order; then replicas in order; SGD with lr 1.
      std::vector<float> expected = table;
      for (int row = 0; row < 3; ++row) {
        bool touched = false;
        for (int d = 0; d < kDim; ++d) {
          float g = 0.0f;
          for (int r = 0; r < 2; ++r) {
            float g_r = 0.0f;
            bool replica_touches = false;
            for (int k = 0; k < 5; ++k) {
              if (batches[r][0].ids[k] != row) continue;
              replica_touches = touched = true;
              g_r = g_r + gains[r][k] * gradients[r][0][d];
            }
            if (replica_touches) g = g + g_r;
          }
          if (touched) expected[row * kDim + d] = expected[row * kDim + d] - 1.0f * g;
        }
      }
      ref.ApplyGradients(batches, gradients);
      ExpectSameBits(ref.slot(0, 0), expected, "parameters after the step");
      if (HasFailure()) return;
    }
  }
}

// §3.0 accumulation off: every occurrence its own update, in (replica, feature, bag,
// position) order, each seeing the previous one.
TEST(MathDocumentTest, AccumulationOffUpdatesOccurrenceByOccurrence) {
  RandomSource random(99);
  for (int trial = 0; trial < kTrials; ++trial) {
    OptimizerSpec o;
    o.kind = trial % 2 == 0 ? Optimizer::kAdagrad : Optimizer::kFtrl;
    o.learning_rate = random.Float(0.01f, 0.5f);
    o.use_gradient_accumulation = false;
    ScalarReference ref(OneTable(o, 2, 2, Combiner::kMean));
    RandomizeState(random, ref);
    std::vector<std::vector<float>> doc;
    for (int s = 0; s < ref.num_slots(0); ++s) doc.push_back(ref.slot(0, s));
    doc.resize(3, std::vector<float>(doc[0].size()));  // Adagrad has no third slot
    std::vector<ReplicaBatch> batches;
    std::vector<Gradients> gradients;
    for (int r = 0; r < 2; ++r) {
      batches.push_back({FeatureBatch{{random.Int(0, 1), random.Int(0, 1), random.Int(0, 1)},
                                      {0, 3}, {}}});
      std::vector<float> grad(kDim);
      for (float& x : grad) x = random.Float(-1.0f, 1.0f);
      gradients.push_back({grad});
    }
    for (int r = 0; r < 2; ++r) {
      const float gain = 1.0f / 3.0f;  // mean of three weights 1: w / Σw = 1 / 3
      for (int k = 0; k < 3; ++k) {
        const int64_t row = batches[r][0].ids[k];
        for (int d = 0; d < kDim; ++d) {
          DocumentUpdate(o, o.learning_rate, gain * gradients[r][0][d], doc[0][row * kDim + d],
                         doc[1][row * kDim + d], doc[2][row * kDim + d]);
        }
      }
    }
    ref.ApplyGradients(batches, gradients);
    for (int s = 0; s < ref.num_slots(0); ++s) {
      ExpectSameBits(ref.slot(0, s), doc[s], SlotNames(o.kind)[s]);
    }
    if (HasFailure()) return;
  }
}

// §3.4 non-lazy Adam: untouched rows are updated with g = 0.
TEST(MathDocumentTest, NonLazyAdamUpdatesEveryRow) {
  RandomSource random(5);
  OptimizerSpec o;
  o.kind = Optimizer::kAdam;
  o.learning_rate = 0.1f;
  o.adam.lazy_adam = false;
  ScalarReference ref(OneTable(o, 3, 1));
  RandomizeState(random, ref);
  std::vector<std::vector<float>> doc = {ref.slot(0, 0), ref.slot(0, 1), ref.slot(0, 2)};
  std::vector<float> grad(kDim, 0.5f);
  ref.ApplyGradients({{{{1}, {}, {}}}}, {{grad}});
  for (int row = 0; row < 3; ++row) {
    for (int d = 0; d < kDim; ++d) {
      const int i = row * kDim + d;
      DocumentUpdate(o, o.learning_rate, row == 1 ? grad[d] : 0.0f, doc[0][i], doc[1][i],
                     doc[2][i]);
    }
  }
  for (int s = 0; s < 3; ++s) ExpectSameBits(ref.slot(0, s), doc[s], SlotNames(o.kind)[s]);
}

// §4.7 quantization and §4.4 positions: copies of (quantized) rows at their positions.
TEST(MathDocumentTest, QuantizedSequencePositionsMatchTheReference) {
  RandomSource random(11);
  for (int trial = 0; trial < kTrials; ++trial) {
    ModelSpec model = OneTable({}, 4, 1);
    model.features[0].max_sequence_length = 4;
    const int32_t n = static_cast<int32_t>(random.Int(2, 9));
    const float lower = random.Float(-1.0f, 0.0f);
    const float upper = random.Float(0.1f, 1.0f);
    model.quantization = {{n, lower, upper}};
    ScalarReference ref(model);
    RandomizeState(random, ref);
    const FeatureBatch row{{random.Int(0, 3), random.Int(0, 3)}, {0, 2}, {}, {1, 3}};
    std::vector<float> document(4 * kDim, 0.0f);
    for (int k = 0; k < 2; ++k) {
      for (int d = 0; d < kDim; ++d) {
        float x = ref.slot(0, 0)[row.ids[k] * kDim + d];
        x = clamp(x, lower, upper);
        const float q = (upper - lower) / (float)(n - 1);
        x = std::floor((x - lower) / q + 0.5f) * q + lower;
        document[row.positions[k] * kDim + d] = x;
      }
    }
    ExpectSameBits(ref.Lookup({row})[0], document, "quantized positions");
    if (HasFailure()) return;
  }
}

}  // namespace
}  // namespace reference
}  // namespace embrt
