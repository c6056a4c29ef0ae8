// Copyright embrt authors.

#include "tools/training/learning_curve_svg.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"

namespace embrt {
namespace training {
namespace {

constexpr double kWidth = 760, kHeight = 440;
constexpr double kLeft = 80, kRight = 170, kTop = 50, kBottom = 60;

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

std::string RenderLearningCurveSvg(const LearningCurve& curve) {
  double x_max = 0, y_min = std::numeric_limits<double>::infinity(), y_max = -y_min;
  for (const auto* series : {&curve.train, &curve.eval}) {
    for (const CurvePoint& p : *series) {
      if (!std::isfinite(p.examples) || !std::isfinite(p.loss)) continue;
      x_max = std::max(x_max, p.examples);
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
  x_max = std::ceil(x_max / x_step) * x_step;

  const double plot_width = kWidth - kLeft - kRight, plot_height = kHeight - kTop - kBottom;
  auto x_of = [&](double x) { return kLeft + x / x_max * plot_width; };
  auto y_of = [&](double y) { return kTop + (y_max - y) / (y_max - y_min) * plot_height; };

  std::string svg = absl::StrFormat(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"%g\" height=\"%g\" "
      "viewBox=\"0 0 %g %g\" font-family=\"sans-serif\" font-size=\"12\">\n"
      "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
      kWidth, kHeight, kWidth, kHeight);
  absl::StrAppend(&svg, absl::StrFormat(
      "<text x=\"%g\" y=\"28\" text-anchor=\"middle\" font-size=\"16\">%s</text>\n",
      kLeft + plot_width / 2, Escape(curve.title)));

  // Grid and ticks.
  for (double y = y_min; y <= y_max + y_step / 2; y += y_step) {
    absl::StrAppend(&svg, absl::StrFormat(
        "<line x1=\"%g\" y1=\"%.1f\" x2=\"%g\" y2=\"%.1f\" stroke=\"#e0e0e0\"/>\n"
        "<text x=\"%g\" y=\"%.1f\" text-anchor=\"end\">%g</text>\n",
        kLeft, y_of(y), kLeft + plot_width, y_of(y), kLeft - 6, y_of(y) + 4,
        std::round(y / y_step) * y_step));
  }
  for (double x = 0; x <= x_max + x_step / 2; x += x_step) {
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
  };
  int legend_row = 0;
  for (const Series& series : {Series{&curve.train, "train", "#1f77b4"},
                               Series{&curve.eval, "eval (held out)", "#d62728"}}) {
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
        "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"%s\"/>\n",
        series.color, points));
    if (count <= 40) {
      for (const CurvePoint& p : *series.points) {
        if (!std::isfinite(p.examples) || !std::isfinite(p.loss)) continue;
        absl::StrAppend(&svg, absl::StrFormat(
            "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>\n", x_of(p.examples),
            y_of(p.loss), series.color));
      }
    }
    const double legend_y = kTop + 10 + 22 * legend_row++;
    absl::StrAppend(&svg, absl::StrFormat(
        "<line x1=\"%g\" y1=\"%g\" x2=\"%g\" y2=\"%g\" stroke=\"%s\" stroke-width=\"2\"/>\n"
        "<text x=\"%g\" y=\"%g\">%s</text>\n",
        kWidth - kRight + 15, legend_y, kWidth - kRight + 40, legend_y, series.color,
        kWidth - kRight + 46, legend_y + 4, series.name));
  }
  if (has_reference) {
    const double y = y_of(curve.reference_loss);
    const double legend_y = kTop + 10 + 22 * legend_row++;
    absl::StrAppend(&svg, absl::StrFormat(
        "<line x1=\"%g\" y1=\"%.1f\" x2=\"%g\" y2=\"%.1f\" stroke=\"#555555\" "
        "stroke-width=\"1.5\" stroke-dasharray=\"6 4\"/>\n"
        "<line x1=\"%g\" y1=\"%g\" x2=\"%g\" y2=\"%g\" stroke=\"#555555\" "
        "stroke-width=\"1.5\" stroke-dasharray=\"6 4\"/>\n"
        "<text x=\"%g\" y=\"%g\">%s</text>\n",
        kLeft, y, kLeft + plot_width, y, kWidth - kRight + 15, legend_y, kWidth - kRight + 40,
        legend_y, kWidth - kRight + 46, legend_y + 4, Escape(curve.reference_name)));
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
