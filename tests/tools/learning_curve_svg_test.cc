// Copyright embrt authors.

#include "tools/training/learning_curve_svg.h"

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <iterator>
#include <vector>
#include <fstream>
#include <sstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/tools/temp_files.h"

namespace embrt {
namespace training {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// Checks that tags nest: every <x ...> is closed by </x> in order or self-closed.
bool TagsBalance(const std::string& svg) {
  std::vector<std::string> open;
  size_t i = 0;
  while ((i = svg.find('<', i)) != std::string::npos) {
    const size_t end = svg.find('>', i);
    if (end == std::string::npos) return false;
    const std::string tag = svg.substr(i + 1, end - i - 1);
    i = end + 1;
    if (tag.empty() || tag[0] == '?' || tag[0] == '!') continue;
    if (tag[0] == '/') {
      if (open.empty() || open.back() != tag.substr(1)) return false;
      open.pop_back();
    } else if (tag.back() != '/') {
      open.push_back(tag.substr(0, tag.find(' ')));
    }
  }
  return open.empty();
}

TEST(LearningCurveSvgTest, WellFormedWithBothSeriesAndEscapedTitle) {
  LearningCurve curve;
  curve.title = "criteo <train> & eval";
  curve.loss_name = "log loss";
  for (int i = 1; i <= 50; ++i) curve.train.push_back({i * 1000.0, 0.7 - 0.002 * i});
  curve.train.push_back({51000.0, NAN});
  curve.eval = {{25000, 0.6}, {50000, 0.58}};
  const std::string svg = RenderLearningCurveSvg(curve);
  EXPECT_TRUE(TagsBalance(svg)) << svg;
  EXPECT_THAT(svg, HasSubstr("<svg xmlns=\"http://www.w3.org/2000/svg\""));
  EXPECT_THAT(svg, HasSubstr("criteo &lt;train&gt; &amp; eval"));
  EXPECT_EQ(std::count(svg.begin(), svg.end(), '\n') > 10, true);
  size_t polylines = 0;
  for (size_t at = 0; (at = svg.find("<polyline", at)) != std::string::npos; ++at) ++polylines;
  EXPECT_EQ(polylines, 3u);  // raw train, its average, eval
  EXPECT_THAT(svg, Not(HasSubstr("nan")));
  EXPECT_THAT(svg, HasSubstr(">50k<"));  // x tick
  EXPECT_THAT(svg, HasSubstr("test (held out)"));
  EXPECT_THAT(svg, HasSubstr("train (average)"));
}

TEST(LearningCurveSvgTest, SmoothedValuesAreTheDebiasedMovingAverage) {
  const std::vector<double> smoothed = SmoothedValues({1, 3, NAN, 5}, 0.5);
  ASSERT_EQ(smoothed.size(), 4u);
  EXPECT_DOUBLE_EQ(smoothed[0], 1);                            // 0.5 / 0.5
  EXPECT_DOUBLE_EQ(smoothed[1], (0.25 * 1 + 0.5 * 3) / 0.75);  // debiased
  EXPECT_DOUBLE_EQ(smoothed[2], smoothed[1]);                  // NaN skipped
  EXPECT_DOUBLE_EQ(smoothed[3], (0.125 * 1 + 0.25 * 3 + 0.5 * 5) / 0.875);
  EXPECT_TRUE(std::isnan(SmoothedValues({NAN}, 0.5)[0]));
}

// The y coordinate of the tick labelled `label` (its text element), or -1.
double TickY(const std::string& svg, const std::string& label) {
  const size_t at = svg.find(">" + label + "</text>");
  if (at == std::string::npos) return -1;
  const size_t y = svg.rfind(" y=\"", at);
  return std::stod(svg.substr(y + 4));
}

TEST(LearningCurveSvgTest, SpikesDoNotSetTheRangeAndTheXAxisEndsAtTheData) {
  LearningCurve curve;
  curve.loss_name = "RMSE";
  // A noisy train curve with early spikes up to 3, eval between 0.9 and 0.95.
  for (int i = 1; i <= 200; ++i) {
    curve.train.push_back({i * 1000.0, (i < 5 ? 3.0 : 0.8) + (i % 2 ? 0.05 : -0.05)});
  }
  curve.eval = {{50000, 0.95}, {100000, 0.92}, {150000, 0.93}, {193000, 0.94}};
  const std::string svg = RenderLearningCurveSvg(curve);
  EXPECT_TRUE(TagsBalance(svg));
  // The y range follows the average and the eval points, not the raw spikes.
  EXPECT_LT(TickY(svg, "3"), 0) << "the raw spikes set the y range";
  EXPECT_THAT(svg, HasSubstr("clip-path=\"url(#plot-area)\""));
  // x ends at the last point (200k): no tick beyond it.
  EXPECT_THAT(svg, HasSubstr(">200k<"));
  EXPECT_THAT(svg, Not(HasSubstr(">250k<")));
  EXPECT_THAT(svg, HasSubstr(">RMSE<"));
}

TEST(LearningCurveSvgTest, ValidationAndTheBestPointAreDrawn) {
  LearningCurve curve;
  for (int i = 1; i <= 10; ++i) curve.train.push_back({i * 100.0, 1.0 / i});
  curve.validation = {{500, 0.9}, {1000, 0.95}};
  curve.eval = {{500, 0.91}, {1000, 0.96}};
  curve.best_label = "best: epoch 5";
  curve.best_examples = 500;
  const std::string svg = RenderLearningCurveSvg(curve);
  EXPECT_TRUE(TagsBalance(svg));
  EXPECT_THAT(svg, HasSubstr(">validation<"));
  EXPECT_THAT(svg, HasSubstr(">best: epoch 5<"));
  EXPECT_THAT(svg, HasSubstr(">kept (best validation)<"));
}

// What a person sees: librsvg (the renderer of GNOME and of most converters) draws the file
// at its declared size, with something on it.
TEST(LearningCurveSvgTest, RendersToAPngOfTheDeclaredSize) {
  if (std::system("command -v rsvg-convert >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "rsvg-convert is missing (Debian package librsvg2-bin, in scripts/setup.sh)";
  }
  const std::string dir = testing_tools::MakeTempDir();
  LearningCurve curve;
  curve.title = "embrt train: movielens data";
  curve.loss_name = "RMSE";
  for (int i = 1; i <= 300; ++i) curve.train.push_back({i * 100.0, 0.8 + 0.3 / i + (i % 3) * 0.02});
  curve.validation = {{10000, 0.95}, {20000, 0.93}, {30000, 0.94}};
  curve.eval = {{10000, 0.96}, {20000, 0.94}, {30000, 0.95}};
  curve.best_label = "best: epoch 2";
  curve.best_examples = 20000;
  ASSERT_TRUE(WriteLearningCurveSvg(curve, dir + "/curve.svg").ok());
  ASSERT_EQ(std::system(("rsvg-convert " + dir + "/curve.svg -o " + dir + "/curve.png").c_str()),
            0);
  std::ifstream png(dir + "/curve.png", std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(png)), std::istreambuf_iterator<char>());
  ASSERT_GT(bytes.size(), 24u);
  EXPECT_EQ(bytes.substr(1, 3), "PNG");
  auto big_endian = [&](size_t at) {
    return (static_cast<uint32_t>(static_cast<unsigned char>(bytes[at])) << 24) |
           (static_cast<uint32_t>(static_cast<unsigned char>(bytes[at + 1])) << 16) |
           (static_cast<uint32_t>(static_cast<unsigned char>(bytes[at + 2])) << 8) |
           static_cast<uint32_t>(static_cast<unsigned char>(bytes[at + 3]));
  };
  EXPECT_EQ(bytes.substr(12, 4), "IHDR");
  EXPECT_EQ(big_endian(16), 800u);  // width
  EXPECT_EQ(big_endian(20), 440u);  // height
  // Lines, dots and text compress to far more than a blank 800x440 image (~2 KB).
  EXPECT_GT(bytes.size(), 10000u);
}

TEST(LearningCurveSvgTest, ReferenceLineIsDashedAndInTheLegend) {
  LearningCurve curve;
  curve.train = {{1000, 0.5}, {2000, 0.45}};
  curve.reference_name = "teacher (held out)";
  curve.reference_loss = 0.3;  // below every point: the y axis must reach it
  const std::string svg = RenderLearningCurveSvg(curve);
  EXPECT_TRUE(TagsBalance(svg));
  EXPECT_THAT(svg, HasSubstr("stroke-dasharray"));
  EXPECT_THAT(svg, HasSubstr(">teacher (held out)<"));
  EXPECT_THAT(svg, HasSubstr(">0.3<"));
}

TEST(LearningCurveSvgTest, EmptyCurveStillRenders) {
  const std::string svg = RenderLearningCurveSvg(LearningCurve{});
  EXPECT_TRUE(TagsBalance(svg));
  EXPECT_THAT(svg, Not(HasSubstr("<polyline")));
}

TEST(LearningCurveSvgTest, WritesTheFile) {
  const std::string dir = testing_tools::MakeTempDir();
  LearningCurve curve;
  curve.train = {{1, 1}, {2, 0.5}};
  ASSERT_TRUE(WriteLearningCurveSvg(curve, dir + "/curve.svg").ok());
  std::stringstream contents;
  contents << std::ifstream(dir + "/curve.svg").rdbuf();
  EXPECT_EQ(contents.str(), RenderLearningCurveSvg(curve));
  EXPECT_FALSE(WriteLearningCurveSvg(curve, dir + "/missing/curve.svg").ok());
}

}  // namespace
}  // namespace training
}  // namespace embrt
