// Copyright embrt authors.
//
// File: tools/training/metrics.h
// ------------------------------
// Held-out quality measures.
//
//   Auc        area under the ROC curve = P(score of a random positive > score of a random
//              negative), ties counting one half (rank statistic with average ranks).
//              NaN when one class is absent or a score is NaN.
//   LogLoss    mean of -y log p - (1 - y) log(1 - p), p clamped to [1e-7, 1 - 1e-7].
//   Rmse, Mae  root mean squared and mean absolute error.
//
// Labels of the click metrics are 0 or 1 (anything > 0.5 counts as a positive for Auc).

#ifndef EMBRT_TOOLS_TRAINING_METRICS_H_
#define EMBRT_TOOLS_TRAINING_METRICS_H_

#include "absl/types/span.h"

namespace embrt {
namespace training {

double Auc(absl::Span<const float> scores, absl::Span<const float> labels);
double LogLoss(absl::Span<const float> probabilities, absl::Span<const float> labels);
double Rmse(absl::Span<const float> predictions, absl::Span<const float> labels);
double Mae(absl::Span<const float> predictions, absl::Span<const float> labels);

}  // namespace training
}  // namespace embrt

#endif  // EMBRT_TOOLS_TRAINING_METRICS_H_
