// Copyright embrt authors.

#include "tools/training/learning_curve_svg.h"

#include <cmath>
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
  EXPECT_EQ(polylines, 2u);
  EXPECT_THAT(svg, Not(HasSubstr("nan")));
  EXPECT_THAT(svg, HasSubstr(">50k<"));  // x tick
  EXPECT_THAT(svg, HasSubstr("eval (held out)"));
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
