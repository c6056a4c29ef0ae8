// Copyright embrt authors.
//
// File: tools/training/learning_curve_svg.h
// -----------------------------------------
// Draws the learning curve against examples seen as a standalone SVG 1.1 document (no
// scripts, no CSS, no external resources; plain elements that Chromium and librsvg's
// rsvg-convert render alike): axes with round tick values, a legend and a title.
//
//   * train: the raw interval values faint, and an exponential moving average over them
//     (debiased, span 1/25 of the points, at least 10) on top; the y range follows the
//     average after its first 5% and the eval points, so that a noisy or steep start does not
//     flatten the rest (what falls outside is clipped);
//   * eval (the test set) and validation as lines with dots;
//   * an optional dashed reference line (the synthetic data's teacher) and an optional
//     vertical marker at the kept (best) point;
//   * the x axis ends at the last point.
// Non-finite points are left out. Values are in the metric's units (loss_name).

#ifndef EMBRT_TOOLS_TRAINING_LEARNING_CURVE_SVG_H_
#define EMBRT_TOOLS_TRAINING_LEARNING_CURVE_SVG_H_

#include <string>
#include <vector>

#include "absl/status/status.h"

namespace embrt {
namespace training {

struct CurvePoint {
  double examples = 0;  // x: examples seen
  double loss = 0;      // y
};

struct LearningCurve {
  std::string title;
  std::string loss_name = "loss";  // y axis label, e.g. "log loss"
  std::vector<CurvePoint> train;
  std::vector<CurvePoint> eval;        // the test set
  std::vector<CurvePoint> validation;  // early stopping's split of the training data
  // Optional horizontal reference line (e.g. the synthetic data's teacher on the held-out
  // set); drawn dashed when reference_name is not empty.
  std::string reference_name;
  double reference_loss = 0;
  // Optional vertical marker (e.g. early stopping's best epoch) at x = best_examples; drawn
  // when best_label is not empty.
  std::string best_label;
  double best_examples = 0;
};

// The debiased exponential moving average of `values` with smoothing factor `alpha` in
// (0, 1]: s_i = m_i / (1 - (1 - alpha)^(i+1)), m_i = (1 - alpha) m_{i-1} + alpha v_i.
// Non-finite values are skipped (their slot repeats the previous average, or NaN).
std::vector<double> SmoothedValues(const std::vector<double>& values, double alpha);

// The SVG document.
std::string RenderLearningCurveSvg(const LearningCurve& curve);

// Renders and writes it to `path` (written to path + ".tmp", then renamed).
absl::Status WriteLearningCurveSvg(const LearningCurve& curve, const std::string& path);

}  // namespace training
}  // namespace embrt

#endif  // EMBRT_TOOLS_TRAINING_LEARNING_CURVE_SVG_H_
