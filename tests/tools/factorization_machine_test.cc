// Copyright embrt authors.

#include "tools/training/factorization_machine.h"

#include <cmath>
#include <vector>

#include "gtest/gtest.h"
#include "tools/training/random.h"

namespace embrt {
namespace training {
namespace {

// The score written out pair by pair, the definition the sum trick must match.
double NaiveScore(const std::vector<std::vector<double>>& e, double bias) {
  const int k = static_cast<int>(e[0].size()) - 1;
  double score = bias;
  for (size_t f = 0; f < e.size(); ++f) {
    score += e[f][k];
    for (size_t g = f + 1; g < e.size(); ++g) {
      for (int d = 0; d < k; ++d) score += e[f][d] * e[g][d];
    }
  }
  return score;
}

struct Batch {
  std::vector<std::vector<float>> activations;  // per field, [batch, dim]
  std::vector<absl::Span<const float>> views() const {
    return {activations.begin(), activations.end()};
  }
};

Batch RandomBatch(int fields, int batch, int dim, uint64_t seed) {
  Random random(seed);
  Batch result;
  for (int f = 0; f < fields; ++f) {
    std::vector<float> values(batch * dim);
    for (float& v : values) v = static_cast<float>(0.5 * random.Normal());
    result.activations.push_back(values);
  }
  return result;
}

TEST(FactorizationMachineTest, ForwardMatchesPairwiseDefinition) {
  const int fields = 5, batch = 3, dim = 4;
  Batch b = RandomBatch(fields, batch, dim, 7);
  FactorizationMachine fm(fields, dim);
  std::vector<float> scores(batch);
  fm.Forward(b.views(), batch, 0.25f, absl::MakeSpan(scores));
  for (int i = 0; i < batch; ++i) {
    std::vector<std::vector<double>> e(fields, std::vector<double>(dim));
    for (int f = 0; f < fields; ++f) {
      for (int d = 0; d < dim; ++d) e[f][d] = b.activations[f][i * dim + d];
    }
    EXPECT_NEAR(scores[i], NaiveScore(e, 0.25), 1e-5);
  }
}

TEST(FactorizationMachineTest, BiasedMatrixFactorizationIsTheTwoFieldCase) {
  // user [v_u, b_u], item [v_i, b_i]: mu + b_u + b_i + <v_u, v_i>.
  std::vector<float> user = {1, 2, 0.5f}, item = {3, -1, -0.25f};
  std::vector<absl::Span<const float>> activations = {user, item};
  std::vector<float> score(1);
  FactorizationMachine(2, 3).Forward(activations, 1, 3.5f, absl::MakeSpan(score));
  EXPECT_FLOAT_EQ(score[0], 3.5f + 0.5f - 0.25f + (3 - 2));
}

// d loss / d activation vs central finite differences of the loss, for both losses.
void CheckGradients(Loss loss) {
  const int fields = 4, batch = 3, dim = 5;
  Batch b = RandomBatch(fields, batch, dim, 11);
  const std::vector<float> labels = loss == Loss::kLogistic ? std::vector<float>{1, 0, 1}
                                                            : std::vector<float>{3.5f, 1, 4};
  const float bias = 0.1f;
  FactorizationMachine fm(fields, dim);
  auto batch_loss = [&](const Batch& x, float bias_value) {
    std::vector<float> scores(batch);
    fm.Forward(x.views(), batch, bias_value, absl::MakeSpan(scores));
    double total = 0;
    for (int i = 0; i < batch; ++i) total += ComputeLoss(loss, scores[i], labels[i]).loss;
    return total / batch;
  };
  std::vector<float> scores(batch), score_gradients(batch);
  fm.Forward(b.views(), batch, bias, absl::MakeSpan(scores));
  for (int i = 0; i < batch; ++i) {
    score_gradients[i] = static_cast<float>(ComputeLoss(loss, scores[i], labels[i]).gradient / batch);
  }
  std::vector<std::vector<float>> gradients(fields, std::vector<float>(batch * dim));
  std::vector<absl::Span<float>> gradient_views(gradients.begin(), gradients.end());
  const double bias_gradient =
      fm.Backward(b.views(), batch, score_gradients, gradient_views);

  const float h = 1e-2f;
  for (int f = 0; f < fields; ++f) {
    for (int j = 0; j < batch * dim; ++j) {
      Batch plus = b, minus = b;
      plus.activations[f][j] += h;
      minus.activations[f][j] -= h;
      const double numeric = (batch_loss(plus, bias) - batch_loss(minus, bias)) / (2 * h);
      EXPECT_NEAR(gradients[f][j], numeric, 2e-3 + 1e-2 * std::fabs(numeric))
          << "field " << f << " element " << j;
    }
  }
  const double numeric_bias = (batch_loss(b, bias + h) - batch_loss(b, bias - h)) / (2 * h);
  EXPECT_NEAR(bias_gradient, numeric_bias, 2e-3);
}

TEST(FactorizationMachineTest, LogisticGradientsMatchFiniteDifferences) {
  CheckGradients(Loss::kLogistic);
}

TEST(FactorizationMachineTest, SquaredGradientsMatchFiniteDifferences) {
  CheckGradients(Loss::kSquared);
}

TEST(LossTest, LogisticIsStableForLargeScores) {
  EXPECT_NEAR(ComputeLoss(Loss::kLogistic, 100, 1).loss, 0, 1e-12);
  EXPECT_NEAR(ComputeLoss(Loss::kLogistic, -100, 1).loss, 100, 1e-9);
  EXPECT_NEAR(ComputeLoss(Loss::kLogistic, 0, 0).loss, std::log(2.0), 1e-12);
  EXPECT_DOUBLE_EQ(ComputeLoss(Loss::kLogistic, 0, 1).gradient, -0.5);
  EXPECT_DOUBLE_EQ(ComputeLoss(Loss::kSquared, 3, 1).loss, 2);
  EXPECT_DOUBLE_EQ(ComputeLoss(Loss::kSquared, 3, 1).gradient, 2);
}

TEST(HostOptimizerTest, SgdAndAdagradSteps) {
  float w = 1.0f;
  HostOptimizer sgd(HostOptimizer::Kind::kSgd, 0.5f);
  sgd.Apply(2.0f, w);
  EXPECT_FLOAT_EQ(w, 0.0f);
  HostOptimizer adagrad(HostOptimizer::Kind::kAdagrad, 0.1f, 0.1f);
  w = 1.0f;
  adagrad.Apply(3.0f, w);  // a = 0.1 + 9; w = 1 - 0.1 * 3 / sqrt(9.1)
  EXPECT_FLOAT_EQ(adagrad.accumulator(), 9.1f);
  EXPECT_FLOAT_EQ(w, 1.0f - 0.1f * 3.0f / std::sqrt(9.1f));
}

}  // namespace
}  // namespace training
}  // namespace embrt
