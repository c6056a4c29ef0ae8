// Copyright embrt authors.

#include "tools/training/metrics.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <vector>

namespace embrt {
namespace training {

double Auc(absl::Span<const float> scores, absl::Span<const float> labels) {
  const size_t n = scores.size();
  for (float score : scores) {
    // NaN has no rank (and would break the sort's ordering).
    if (std::isnan(score)) return std::numeric_limits<double>::quiet_NaN();
  }
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(),
            [&](size_t a, size_t b) { return scores[a] < scores[b]; });
  // Sum of the positives' ranks (1-based), tied scores sharing their average rank.
  double positive_rank_sum = 0;
  double positives = 0;
  size_t i = 0;
  while (i < n) {
    size_t j = i;
    double tied_positives = 0;
    while (j < n && scores[order[j]] == scores[order[i]]) {
      if (labels[order[j]] > 0.5f) ++tied_positives;
      ++j;
    }
    const double average_rank = 0.5 * static_cast<double>(i + 1 + j);
    positive_rank_sum += tied_positives * average_rank;
    positives += tied_positives;
    i = j;
  }
  const double negatives = static_cast<double>(n) - positives;
  if (positives == 0 || negatives == 0) return std::numeric_limits<double>::quiet_NaN();
  return (positive_rank_sum - positives * (positives + 1) / 2) / (positives * negatives);
}

double LogLoss(absl::Span<const float> probabilities, absl::Span<const float> labels) {
  if (probabilities.empty()) return std::numeric_limits<double>::quiet_NaN();
  double total = 0;
  for (size_t i = 0; i < probabilities.size(); ++i) {
    const double p = std::clamp<double>(probabilities[i], 1e-7, 1 - 1e-7);
    total -= labels[i] * std::log(p) + (1 - labels[i]) * std::log(1 - p);
  }
  return total / static_cast<double>(probabilities.size());
}

double Rmse(absl::Span<const float> predictions, absl::Span<const float> labels) {
  if (predictions.empty()) return std::numeric_limits<double>::quiet_NaN();
  double total = 0;
  for (size_t i = 0; i < predictions.size(); ++i) {
    const double error = static_cast<double>(predictions[i]) - labels[i];
    total += error * error;
  }
  return std::sqrt(total / static_cast<double>(predictions.size()));
}

double Mae(absl::Span<const float> predictions, absl::Span<const float> labels) {
  if (predictions.empty()) return std::numeric_limits<double>::quiet_NaN();
  double total = 0;
  for (size_t i = 0; i < predictions.size(); ++i) {
    total += std::fabs(static_cast<double>(predictions[i]) - labels[i]);
  }
  return total / static_cast<double>(predictions.size());
}

}  // namespace training
}  // namespace embrt
