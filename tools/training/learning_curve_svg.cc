// Copyright embrt authors.

#include "tools/training/learning_curve_svg.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"

namespace embrt {
namespace training {
namespace {

constexpr double kWidth = 800, kHeight = 440;
constexpr double kLeft = 80, kRight = 190, kTop = 50, kBottom = 60;

std::string Escape(const std::string& text) {
  return absl::StrReplaceAll(text, {{"&", "&amp;"}, {"<", "&lt;"}, {">", "&gt;"},
                                    {"\"", "&quot;"}});
}

// A step of 1, 2 or 5 times a power of ten giving about `count` intervals over `span`.
double NiceStep(double span, int count) {
  const double raw = span / count;
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0}) {
    if (m * magnitude >= raw) return m * magnitude;
  }
  return 10 * magnitude;
}

std::string FormatCount(double value) {
  if (value >= 1e6) return absl::StrFormat("%gM", value / 1e6);
  if (value >= 1e3) return absl::StrFormat("%gk", value / 1e3);
  return absl::StrFormat("%g", value);
}

}  // namespace

std::vector<double> SmoothedValues(const std::vector<double>& values, double alpha) {
  std::vector<double> out(values.size(), std::numeric_limits<double>::quiet_NaN());
  double mean = 0, weight = 0;
  for (size_t i = 0; i < values.size(); ++i) {
    if (std::isfinite(values[i])) {
      mean = (1 - alpha) * mean + alpha * values[i];
      weight = (1 - alpha) * weight + alpha;
    }
    if (weight > 0) out[i] = mean / weight;
  }
  return out;
}

std::string RenderLearningCurveSvg(const LearningCurve& curve) {
  // The train average: span ~ points / 25, at least 10 points (alpha = 2 / (span + 1)).
  std::vector<double> raw;
  for (const CurvePoint& p : curve.train) raw.push_back(p.loss);
  const double points = static_cast<double>(raw.size());
  const double span = std::max({1.0, std::min(10.0, points), points / 25});
  const std::vector<double> smoothed_values = SmoothedValues(raw, 2 / (span + 1));
  std::vector<CurvePoint> smoothed_points;
  for (size_t i = 0; i < curve.train.size(); ++i) {
    smoothed_points.push_back({curve.train[i].examples, smoothed_values[i]});
  }
  const std::vector<CurvePoint>& smoothed = smoothed_points;

  double x_max = 0, y_min = std::numeric_limits<double>::infinity(), y_max = -y_min;
  for (const auto* series : {&curve.train, &curve.eval, &curve.validation}) {
    for (const CurvePoint& p : *series) {
      if (std::isfinite(p.examples) && std::isfinite(p.loss)) x_max = std::max(x_max, p.examples);
    }
  }
  // The y range: the eval and validation points, and the train average after its first 5%
  // (the steep start enters from the top); never the raw train values.
  for (const auto* series : {&smoothed, &curve.eval, &curve.validation}) {
    const double x_from = series == &smoothed ? 0.05 * x_max : 0;
    for (const CurvePoint& p : *series) {
      if (!std::isfinite(p.examples) || !std::isfinite(p.loss) || p.examples < x_from) continue;
      y_min = std::min(y_min, p.loss);
      y_max = std::max(y_max, p.loss);
    }
  }
  const bool has_reference = !curve.reference_name.empty() && std::isfinite(curve.reference_loss);
  if (has_reference) {
    y_min = std::min(y_min, curve.reference_loss);
    y_max = std::max(y_max, curve.reference_loss);
  }
  if (!(y_min <= y_max)) y_min = 0, y_max = 1;
  if (x_max <= 0) x_max = 1;
  if (y_max - y_min < 1e-9) y_min -= 0.5, y_max += 0.5;
  const double y_step = NiceStep(y_max - y_min, 5);
  y_min = std::floor(y_min / y_step) * y_step;
  y_max = std::ceil(y_max / y_step) * y_step;
  const double x_step = NiceStep(x_max, 5);

  const double plot_width = kWidth - kLeft - kRight, plot_height = kHeight - kTop - kBottom;
  auto x_of = [&](double x) { return kLeft + x / x_max * plot_width; };
  auto y_of = [&](double y) { return kTop + (y_max - y) / (y_max - y_min) * plot_height; };

  std::string svg = absl::StrFormat(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"%g\" height=\"%g\" "
      "viewBox=\"0 0 %g %g\" font-family=\"DejaVu Sans, Arial, sans-serif\" font-size=\"12\">\n"
      "<rect width=\"%g\" height=\"%g\" fill=\"white\"/>\n"
      "<defs><clipPath id=\"plot-area\"><rect x=\"%g\" y=\"%g\" width=\"%g\" height=\"%g\"/>"
      "</clipPath></defs>\n",
      kWidth, kHeight, kWidth, kHeight, kWidth, kHeight, kLeft, kTop, plot_width, plot_height);
  absl::StrAppend(&svg, absl::StrFormat(
      "<text x=\"%g\" y=\"28\" text-anchor=\"middle\" font-size=\"16\">%s</text>\n",
      kLeft + plot_width / 2, Escape(curve.title)));

  // Grid and ticks; x ticks stop at the data's end.
  for (double y = y_min; y <= y_max + y_step / 2; y += y_step) {
    absl::StrAppend(&svg, absl::StrFormat(
        "<line x1=\"%g\" y1=\"%.1f\" x2=\"%g\" y2=\"%.1f\" stroke=\"#e0e0e0\"/>\n"
        "<text x=\"%g\" y=\"%.1f\" text-anchor=\"end\">%g</text>\n",
        kLeft, y_of(y), kLeft + plot_width, y_of(y), kLeft - 6, y_of(y) + 4,
        std::round(y / y_step) * y_step));
  }
  for (double x = 0; x <= x_max * (1 + 1e-9); x += x_step) {
    absl::StrAppend(&svg, absl::StrFormat(
        "<line x1=\"%.1f\" y1=\"%g\" x2=\"%.1f\" y2=\"%g\" stroke=\"#e0e0e0\"/>\n"
        "<text x=\"%.1f\" y=\"%g\" text-anchor=\"middle\">%s</text>\n",
        x_of(x), kTop, x_of(x), kTop + plot_height, x_of(x), kTop + plot_height + 18,
        FormatCount(x)));
  }
  absl::StrAppend(&svg, absl::StrFormat(
      "<rect x=\"%g\" y=\"%g\" width=\"%g\" height=\"%g\" fill=\"none\" stroke=\"black\"/>\n"
      "<text x=\"%g\" y=\"%g\" text-anchor=\"middle\">examples seen</text>\n"
      "<text x=\"20\" y=\"%g\" text-anchor=\"middle\" transform=\"rotate(-90 20 %g)\">%s</text>\n",
      kLeft, kTop, plot_width, plot_height, kLeft + plot_width / 2, kHeight - 15,
      kTop + plot_height / 2, kTop + plot_height / 2, Escape(curve.loss_name)));

  struct Series {
    const std::vector<CurvePoint>* points;
    const char* name;
    const char* color;
    double width;
    double opacity;
    bool dots;
  };
  int legend_row = 0;
  auto legend = [&](const char* color, double width, double opacity, const char* dash,
                    const std::string& name) {
    const double legend_y = kTop + 10 + 22 * legend_row++;
    absl::StrAppend(&svg, absl::StrFormat(
        "<line x1=\"%g\" y1=\"%g\" x2=\"%g\" y2=\"%g\" stroke=\"%s\" stroke-width=\"%g\" "
        "stroke-opacity=\"%g\"%s/>\n<text x=\"%g\" y=\"%g\">%s</text>\n",
        kWidth - kRight + 15, legend_y, kWidth - kRight + 40, legend_y, color, width, opacity,
        dash, kWidth - kRight + 46, legend_y + 4, Escape(name)));
  };
  for (const Series& series :
       {Series{&curve.train, "train", "#1f77b4", 1, 0.18, false},
        Series{&smoothed, "train (average)", "#1f77b4", 2.5, 1, false},
        Series{&curve.validation, "validation", "#2ca02c", 2, 1, true},
        Series{&curve.eval, "test (held out)", "#d62728", 2, 1, true}}) {
    std::string points;
    int count = 0;
    for (const CurvePoint& p : *series.points) {
      if (!std::isfinite(p.examples) || !std::isfinite(p.loss)) continue;
      absl::StrAppend(&points, count ? " " : "",
                      absl::StrFormat("%.1f,%.1f", x_of(p.examples), y_of(p.loss)));
      ++count;
    }
    if (count == 0) continue;
    absl::StrAppend(&svg, absl::StrFormat(
        "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"%g\" stroke-opacity=\"%g\" "
        "stroke-linejoin=\"round\" clip-path=\"url(#plot-area)\" points=\"%s\"/>\n",
        series.color, series.width, series.opacity, points));
    if (series.dots && count <= 60) {
      for (const CurvePoint& p : *series.points) {
        if (!std::isfinite(p.examples) || !std::isfinite(p.loss)) continue;
        absl::StrAppend(&svg, absl::StrFormat(
            "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>\n", x_of(p.examples),
            y_of(p.loss), series.color));
      }
    }
    legend(series.color, series.width, series.opacity, "", series.name);
  }
  if (has_reference) {
    const double y = y_of(curve.reference_loss);
    absl::StrAppend(&svg, absl::StrFormat(
        "<line x1=\"%g\" y1=\"%.1f\" x2=\"%g\" y2=\"%.1f\" stroke=\"#555555\" "
        "stroke-width=\"1.5\" stroke-dasharray=\"6 4\"/>\n",
        kLeft, y, kLeft + plot_width, y));
    legend("#555555", 1.5, 1, " stroke-dasharray=\"6 4\"", curve.reference_name);
  }
  if (!curve.best_label.empty() && std::isfinite(curve.best_examples) &&
      curve.best_examples >= 0 && curve.best_examples <= x_max) {
    const double x = x_of(curve.best_examples);
    absl::StrAppend(&svg, absl::StrFormat(
        "<line x1=\"%.1f\" y1=\"%g\" x2=\"%.1f\" y2=\"%g\" stroke=\"#ff7f0e\" "
        "stroke-width=\"1.5\" stroke-dasharray=\"3 3\"/>\n"
        "<text x=\"%.1f\" y=\"%g\" text-anchor=\"%s\" fill=\"#b35900\">%s</text>\n",
        x, kTop, x, kTop + plot_height, x + (x > kLeft + plot_width / 2 ? -4 : 4), kTop + 14,
        x > kLeft + plot_width / 2 ? "end" : "start", Escape(curve.best_label)));
    legend("#ff7f0e", 1.5, 1, " stroke-dasharray=\"3 3\"", "kept (best validation)");
  }
  absl::StrAppend(&svg, "</svg>\n");
  return svg;
}

absl::Status WriteLearningCurveSvg(const LearningCurve& curve, const std::string& path) {
  const std::string temporary = path + ".tmp";
  {
    std::ofstream out(temporary, std::ios::out | std::ios::trunc | std::ios::binary);
    out << RenderLearningCurveSvg(curve);
    out.close();
    if (!out) {
      std::remove(temporary.c_str());
      return absl::PermissionDeniedError(absl::StrCat("cannot write plot '", path, "'"));
    }
  }
  if (std::rename(temporary.c_str(), path.c_str()) != 0) {
    std::remove(temporary.c_str());
    return absl::PermissionDeniedError(absl::StrCat("cannot write plot '", path, "'"));
  }
  return absl::OkStatus();
}

}  // namespace training
}  // namespace embrt
