// Copyright embrt authors.

#include "tools/training/factorization_machine.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace embrt {
namespace training {

LossValue ComputeLoss(Loss loss, double score, double label) {
  if (loss == Loss::kSquared) {
    const double error = score - label;
    return {0.5 * error * error, error};
  }
  // log(1 + exp(-|z|)) + max(z, 0) - z * y, stable for any z.
  const double value =
      std::log1p(std::exp(-std::fabs(score))) + std::max(score, 0.0) - score * label;
  return {value, 1.0 / (1.0 + std::exp(-score)) - label};
}

double Predict(Loss loss, double score) {
  return loss == Loss::kLogistic ? 1.0 / (1.0 + std::exp(-score)) : score;
}

void FactorizationMachine::Forward(absl::Span<const absl::Span<const float>> activations,
                                   int batch, float bias, absl::Span<float> scores) const {
  const int k = dim_ - 1;
  std::vector<float> sum(k > 0 ? k : 1);
  for (int b = 0; b < batch; ++b) {
    std::fill(sum.begin(), sum.end(), 0.0f);
    float linear = bias;
    float squares = 0.0f;
    for (int f = 0; f < num_fields_; ++f) {
      const float* e = activations[f].data() + static_cast<int64_t>(b) * dim_;
      for (int d = 0; d < k; ++d) {
        sum[d] += e[d];
        squares += e[d] * e[d];
      }
      linear += e[k];
    }
    float pairs = -squares;
    for (int d = 0; d < k; ++d) pairs += sum[d] * sum[d];
    scores[b] = linear + 0.5f * pairs;
  }
}

double FactorizationMachine::Backward(absl::Span<const absl::Span<const float>> activations,
                                      int batch, absl::Span<const float> score_gradients,
                                      absl::Span<const absl::Span<float>> gradients) const {
  const int k = dim_ - 1;
  std::vector<float> sum(k > 0 ? k : 1);
  double bias_gradient = 0.0;
  for (int b = 0; b < batch; ++b) {
    const float g = score_gradients[b];
    bias_gradient += g;
    std::fill(sum.begin(), sum.end(), 0.0f);
    for (int f = 0; f < num_fields_; ++f) {
      const float* e = activations[f].data() + static_cast<int64_t>(b) * dim_;
      for (int d = 0; d < k; ++d) sum[d] += e[d];
    }
    for (int f = 0; f < num_fields_; ++f) {
      const int64_t offset = static_cast<int64_t>(b) * dim_;
      const float* e = activations[f].data() + offset;
      float* out = gradients[f].data() + offset;
      for (int d = 0; d < k; ++d) out[d] = g * (sum[d] - e[d]);
      out[k] = g;
    }
  }
  return bias_gradient;
}

void HostOptimizer::Apply(float gradient, float& parameter) {
  if (kind_ == Kind::kSgd) {
    parameter -= learning_rate_ * gradient;
    return;
  }
  accumulator_ += gradient * gradient;
  parameter -= learning_rate_ * gradient / std::sqrt(accumulator_);
}

}  // namespace training
}  // namespace embrt
