// Copyright embrt authors.
//
// File: tools/training/learning_curve_svg.h
// -----------------------------------------
// Draws train and eval loss against examples seen as a standalone SVG 1.1 document (no
// scripts, no external resources): axes with round tick values, one polyline per series, a
// legend, and a title. Non-finite points are left out.

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
  std::vector<CurvePoint> eval;
  // Optional horizontal reference line (e.g. the synthetic data's teacher on the held-out
  // set); drawn dashed when reference_name is not empty.
  std::string reference_name;
  double reference_loss = 0;
};

// The SVG document.
std::string RenderLearningCurveSvg(const LearningCurve& curve);

// Renders and writes it to `path` (written to path + ".tmp", then renamed).
absl::Status WriteLearningCurveSvg(const LearningCurve& curve, const std::string& path);

}  // namespace training
}  // namespace embrt

#endif  // EMBRT_TOOLS_TRAINING_LEARNING_CURVE_SVG_H_
