// Copyright embrt authors.
//
// One training step of every optimizer on the fixture of plugin_api/MATH.md §5.1 (tables row-major
// 0..31, gradient = activation / 2), checked two ways: against the numbers of §5.4 (TF's
// goldens, computed in f64, compared with a relative tolerance) and bit for bit against the
// formulas of §3 evaluated here in float32 in the documented order.

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "cpu_test_harness.h"
#include "gtest/gtest.h"
#include "tf_fixture.h"

namespace embrt {
namespace cpu_test {
namespace {

struct GoldenRow {
  int table;
  int64_t row;
  std::vector<float> parameters;
  std::vector<float> slot1;  // empty: not checked
  std::vector<float> slot2;
};

struct Hyper {
  float momentum = 0, exponent = 2, beta2 = 1, epsilon = 1e-10f;
  bool nesterov = false;
  float beta_1 = 0.9f, beta_2 = 0.999f, adam_epsilon = 1e-7f;
  bool sum_inside_sqrt = true;
  float lr_power = -0.5f, l1 = 0, l2 = 0, beta = 0;
  bool multiply_linear = false;
};

std::vector<std::pair<std::string, float>> HyperList(EMBRT_OptimizerKind kind, const Hyper& h) {
  switch (kind) {
    case EMBRT_OPTIMIZER_ADAGRAD:
      return {{"initial_accumulator_value", 0.1f}};
    case EMBRT_OPTIMIZER_ADAGRAD_MOMENTUM:
      return {{"momentum", h.momentum},
              {"use_nesterov", h.nesterov ? 1.f : 0.f},
              {"exponent", h.exponent},
              {"beta2", h.beta2},
              {"epsilon", h.epsilon}};
    case EMBRT_OPTIMIZER_ADAM:
      return {{"beta_1", h.beta_1},
              {"beta_2", h.beta_2},
              {"epsilon", h.adam_epsilon},
              {"lazy_adam", 1.f},
              {"sum_inside_sqrt", h.sum_inside_sqrt ? 1.f : 0.f}};
    case EMBRT_OPTIMIZER_FTRL:
      return {{"learning_rate_power", h.lr_power},
              {"l1_regularization_strength", h.l1},
              {"l2_regularization_strength", h.l2},
              {"beta", h.beta},
              {"initial_accumulator_value", 0.1f},
              {"multiply_linear_by_learning_rate", h.multiply_linear ? 1.f : 0.f}};
    default:
      return {};
  }
}

// §3 in float32, element by element, in the order plugins/cpu/optimizers.h documents.
void ExpectedUpdate(EMBRT_OptimizerKind kind, const Hyper& h, float lr, float g, float* w,
                    float* s1, float* s2) {
  switch (kind) {
    case EMBRT_OPTIMIZER_SGD:
      *w = *w - lr * g;
      break;
    case EMBRT_OPTIMIZER_ADAGRAD:
      *s1 = *s1 + g * g;
      *w = *w - lr * g / std::sqrt(*s1);
      break;
    case EMBRT_OPTIMIZER_ADAGRAD_MOMENTUM: {
      *s1 = h.beta2 == 1.0f ? *s1 + g * g : h.beta2 * *s1 + (1.0f - h.beta2) * g * g;
      const float scaled = std::pow(*s1 + h.epsilon, -1.0f / h.exponent) * g;
      *s2 = h.momentum * *s2 + scaled;
      *w = *w - lr * (h.nesterov ? h.momentum * *s2 + scaled : *s2);
      break;
    }
    case EMBRT_OPTIMIZER_ADAM:
      *s1 = h.beta_1 * *s1 + (1.0f - h.beta_1) * g;
      *s2 = h.beta_2 * *s2 + (1.0f - h.beta_2) * g * g;
      *w = h.sum_inside_sqrt ? *w - lr * *s1 / std::sqrt(*s2 + h.adam_epsilon * h.adam_epsilon)
                             : *w - lr * *s1 / (std::sqrt(*s2) + h.adam_epsilon);
      break;
    case EMBRT_OPTIMIZER_FTRL: {
      const float p = -h.lr_power;
      const float a_new = *s1 + g * g;
      const float delta = std::pow(a_new, p) - std::pow(*s1, p);
      float n, d;
      if (!h.multiply_linear) {
        *s2 = *s2 + g - delta * *w / lr;
        n = h.l1 == 0 ? -*s2 : std::min(std::max(*s2, -h.l1), h.l1) - *s2;
        d = (std::pow(a_new, p) + h.beta) / lr + 2.0f * h.l2;
      } else {
        *s2 = *s2 + lr * g - delta * *w;
        n = h.l1 == 0 ? -*s2 : std::min(std::max(*s2, -lr * h.l1), lr * h.l1) - *s2;
        d = std::pow(a_new, p) + 2.0f * lr * h.l2 + h.beta;
      }
      *w = n / d;
      *s1 = a_new;
      break;
    }
  }
}

void ExpectNearGolden(const std::vector<float>& got, const std::vector<float>& want,
                      const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < want.size(); ++i) {
    // Adam's 1 - 0.999f is 0.00099998713 in float: 1.3e-5 relative.
    EXPECT_NEAR(got[i], want[i], 2e-5 * std::fabs(want[i]) + 1e-6) << what << " [" << i << "]";
  }
}

void RunGoldenStep(EMBRT_OptimizerKind kind, const Hyper& hyper,
                   const std::vector<GoldenRow>& golden) {
  EngineSpec spec = TfFixtureSpec(kind);
  for (auto& t : spec.tables) t.hyperparameters = HyperList(kind, hyper);
  CpuEngine engine(spec);
  ASSERT_TRUE(engine.ok()) << engine.create_result().message;
  ASSERT_TRUE(LoadTfFixtureTables(engine).ok());
  const auto before = engine.RetrieveAll();
  const std::vector<Input> inputs = TfFixtureInputs();
  ASSERT_TRUE(engine.Enqueue(0, inputs).ok());
  std::vector<std::vector<float>> activations;
  ASSERT_TRUE(engine.Recv(0, &activations).ok());
  const auto gradients = HalfOf(activations);
  Result sent = engine.Send(0, gradients);
  ASSERT_TRUE(sent.ok()) << sent.message;
  const auto after = engine.RetrieveAll();

  // TF's numbers.
  for (const GoldenRow& row : golden) {
    const int dim = spec.tables[row.table].dim;
    auto slice = [&](int s) {
      const auto& v = after[row.table][s];
      return std::vector<float>(v.begin() + row.row * dim, v.begin() + (row.row + 1) * dim);
    };
    const std::string what = spec.tables[row.table].name + " row " + std::to_string(row.row) + " ";
    ExpectNearGolden(slice(0), row.parameters, what + "parameters");
    if (!row.slot1.empty()) ExpectNearGolden(slice(1), row.slot1, what + "slot 1");
    if (!row.slot2.empty()) ExpectNearGolden(slice(2), row.slot2, what + "slot 2");
  }

  // Bit for bit: touched rows follow the formula, untouched rows are untouched.
  const RowGradients g = CanonicalRowGradients(spec, {inputs}, {gradients});
  for (int t = 0; t < 2; ++t) {
    const int dim = spec.tables[t].dim;
    for (int64_t row = 0; row < spec.tables[t].vocabulary_size; ++row) {
      auto it = g.find({t, row});
      for (int d = 0; d < dim; ++d) {
        const size_t i = row * dim + d;
        float w = before[t][0][i];
        float s1 = before[t].size() > 1 ? before[t][1][i] : 0.0f;
        float s2 = before[t].size() > 2 ? before[t][2][i] : 0.0f;
        if (it != g.end()) ExpectedUpdate(kind, hyper, 0.1f, it->second[d], &w, &s1, &s2);
        EXPECT_EQ(after[t][0][i], w) << "table " << t << " row " << row << " d " << d;
        if (before[t].size() > 1) {
          EXPECT_EQ(after[t][1][i], s1) << "slot 1 row " << row;
        }
        if (before[t].size() > 2) {
          EXPECT_EQ(after[t][2][i], s2) << "slot 2 row " << row;
        }
      }
    }
  }
}

TEST(CpuOptimizersTest, SgdMatchesTfGoldenAndFormula) {
  RunGoldenStep(EMBRT_OPTIMIZER_SGD, Hyper{},
                {{0, 0, {-0.8f, -0.3f, 0.2f, 0.7f}, {}, {}},
                 {0, 1, {2.8f, 3.3f, 3.8f, 4.3f}, {}, {}},
                 {1, 0, {-0.06666667f, 0.9f}, {}, {}},
                 {1, 1, {1.933333f, 2.9f}, {}, {}},
                 {1, 2, {3.933333f, 4.9f}, {}, {}},
                 {1, 3, {5.4f, 6.3f}, {}, {}}});
}

TEST(CpuOptimizersTest, AdagradMatchesTfGoldenAndFormula) {
  RunGoldenStep(
      EMBRT_OPTIMIZER_ADAGRAD, Hyper{},
      {{0,
        0,
        {-0.09992197f, 0.9000296f, 1.900015f, 2.900009f},
        {64.1f, 169.1f, 324.1f, 529.1f},
        {}},
       {0, 1, {3.900035f, 4.900017f, 5.90001f, 6.900007f}, {144.1f, 289.1f, 484.1f, 729.1f}, {}},
       {1, 0, {-0.09035079f, 0.9046537f}, {0.5444444f, 1.1f}, {}},
       {1, 1, {1.909649f, 2.904654f}, {0.5444444f, 1.1f}, {}},
       {1, 2, {3.909649f, 4.904654f}, {0.5444444f, 1.1f}, {}},
       {1, 3, {5.900139f, 6.900102f}, {36.1f, 49.1f}, {}}});
}

TEST(CpuOptimizersTest, AdamMatchesTfGoldenAndFormula) {
  RunGoldenStep(EMBRT_OPTIMIZER_ADAM, Hyper{},
                {{0,
                  0,
                  {-0.3162278f, 0.6837722f, 1.683772f, 2.683772f},
                  {0.8f, 1.3f, 1.8f, 2.3f},
                  {0.064f, 0.169f, 0.324f, 0.529f}},
                 {0,
                  1,
                  {3.683772f, 4.683772f, 5.683772f, 6.683772f},
                  {1.2f, 1.7f, 2.2f, 2.7f},
                  {0.144f, 0.289f, 0.484f, 0.729f}},
                 {1, 0, {-0.3162278f, 0.6837722f}, {0.06666667f, 0.1f}, {0.0004444444f, 0.001f}},
                 {1, 1, {1.683772f, 2.683772f}, {0.06666667f, 0.1f}, {0.0004444444f, 0.001f}},
                 {1, 2, {3.683772f, 4.683772f}, {0.06666667f, 0.1f}, {0.0004444444f, 0.001f}},
                 {1, 3, {5.683772f, 6.683772f}, {0.6f, 0.7f}, {0.036f, 0.049f}}});
}

TEST(CpuOptimizersTest, AdamSqrtPlusEpsilonFormMatchesTfGolden) {
  Hyper hyper;
  hyper.sum_inside_sqrt = false;
  RunGoldenStep(EMBRT_OPTIMIZER_ADAM, hyper,
                {{1, 0, {-0.3162263f, 0.6837732f}, {0.06666667f, 0.1f}, {0.0004444444f, 0.001f}}});
}

TEST(CpuOptimizersTest, FtrlMatchesTfGoldenAndFormula) {
  RunGoldenStep(EMBRT_OPTIMIZER_FTRL, Hyper{},
                {{0,
                  0,
                  {-0.09992197f, 0.8757116f, 1.864884f, 2.858766f},
                  {64.1f, 169.1f, 324.1f, 529.1f},
                  {8.0f, -113.8762f, -335.731f, -657.5784f}},
                 {0,
                  1,
                  {3.794662f, 4.807025f, 5.813775f, 6.818028f},
                  {144.1f, 289.1f, 484.1f, 729.1f},
                  {-455.5175f, -817.3357f, -1279.163f, -1840.994f}},
                 {1, 0, {-0.09035079f, 0.6031424f}, {0.5444444f, 1.1f}, {0.6666667f, -6.325811f}},
                 {1, 1, {1.052506f, 2.00012f}, {0.5444444f, 1.1f}, {-7.766074f, -20.97743f}},
                 {1, 2, {2.195363f, 3.397097f}, {0.5444444f, 1.1f}, {-16.19881f, -35.62905f}},
                 {1, 3, {5.584349f, 6.584196f}, {36.1f, 49.1f}, {-335.526f, -461.3638f}}});
}

TEST(CpuOptimizersTest, FtrlWithAllOptionsMatchesFormula) {
  for (bool multiply : {false, true}) {
    Hyper hyper;
    hyper.l1 = 0.5f;
    hyper.l2 = 0.25f;
    hyper.beta = 0.3f;
    hyper.lr_power = -0.7f;
    hyper.multiply_linear = multiply;
    RunGoldenStep(EMBRT_OPTIMIZER_FTRL, hyper, {});
  }
}

TEST(CpuOptimizersTest, AdagradMomentumMatchesTfGoldenAndFormula) {
  Hyper hyper;
  hyper.momentum = 0.9f;
  hyper.nesterov = true;
  hyper.exponent = 3;
  hyper.epsilon = 0.1f;
  hyper.beta2 = 0.9f;
  RunGoldenStep(EMBRT_OPTIMIZER_ADAGRAD_MOMENTUM, hyper,
                {{0,
                  0,
                  {-0.8144651f, 0.03938954f, 0.9283203f, 1.836617f},
                  {6.4f, 16.9f, 32.4f, 52.9f},
                  {4.286658f, 5.055845f, 5.640419f, 6.12307f}},
                 {0,
                  1,
                  {3.064999f, 3.948676f, 4.853795f, 5.772533f},
                  {14.4f, 28.9f, 48.4f, 72.9f},
                  {4.921059f, 5.533284f, 6.032659f, 6.460351f}},
                 {1, 0, {-0.2414138f, 0.6751046f}, {0.04444444f, 0.1f}, {1.270599f, 1.709976f}},
                 {1, 1, {1.758586f, 2.675105f}, {0.04444444f, 0.1f}, {1.270599f, 1.709976f}},
                 {1, 2, {3.758586f, 4.675105f}, {0.04444444f, 0.1f}, {1.270599f, 1.709976f}},
                 {1, 3, {5.262938f, 6.222211f}, {3.6f, 4.9f}, {3.879276f, 4.093625f}}});
}

TEST(CpuOptimizersTest, AdagradMomentumWithoutNesterovAndBeta2OneMatchesFormula) {
  Hyper hyper;
  hyper.momentum = 0.5f;
  hyper.exponent = 2;
  hyper.epsilon = 1e-3f;
  RunGoldenStep(EMBRT_OPTIMIZER_ADAGRAD_MOMENTUM, hyper, {});
}

}  // namespace
}  // namespace cpu_test
}  // namespace embrt
