// Copyright embrt authors.

#include "tools/training/flag_parser.h"

#include <cstdint>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace embrt {
namespace training {
namespace {

using ::testing::HasSubstr;

TEST(FlagParserTest, FloatsMustBeFinite) {
  for (const char* text : {"nan", "NaN", "inf", "-inf", "1e39"}) {
    float rate = 0.5f;
    FlagSet flags("embrt test", "");
    flags.AddFloat("learning_rate", &rate, "rate");
    absl::Status status = flags.Parse({std::string("--learning_rate=") + text});
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << text;
    EXPECT_THAT(status.message(), HasSubstr(std::string("--learning_rate=") + text)) << text;
  }
}

TEST(FlagParserTest, RangesNameTheFlagAndShowInTheUsage) {
  int64_t steps = 0;
  float fraction = 0;
  FlagSet flags("embrt test", "");
  flags.AddInt64("steps", &steps, "steps");
  flags.AddFloat("fraction", &fraction, "fraction");
  flags.SetRange("steps", 0, 9.3e18);
  flags.SetRange("fraction", 0, 0.9);
  EXPECT_THAT(flags.Parse({"--steps=-1"}).message(),
              HasSubstr("--steps=-1: out of range [0, inf]"));
  EXPECT_THAT(flags.Parse({"--fraction", "0.95"}).message(),
              HasSubstr("--fraction=0.95: out of range [0, 0.9]"));
  // Whole numbers too large for the flag's type are out of range, not "not an integer".
  EXPECT_THAT(flags.Parse({"--steps=99999999999999999999"}).message(),
              HasSubstr("--steps=99999999999999999999: out of range [0, inf]"));
  int threads = 0;
  flags.AddInt("threads", &threads, "threads");
  EXPECT_THAT(flags.Parse({"--threads=-99999999999"}).message(),
              HasSubstr("--threads=-99999999999: out of range for a 32-bit integer"));
  EXPECT_THAT(flags.Parse({"--threads=1e3"}).message(),
              HasSubstr("--threads=1e3: expected an integer"));
  EXPECT_THAT(flags.Parse({"--threads=-"}).message(), HasSubstr("expected an integer"));
  EXPECT_TRUE(flags.Parse({"--steps=5", "--fraction=0.9"}).ok());
  EXPECT_EQ(steps, 5);
  EXPECT_FLOAT_EQ(fraction, 0.9f);
  EXPECT_THAT(flags.Usage(), HasSubstr("in [0, 0.9]"));
}

}  // namespace
}  // namespace training
}  // namespace embrt
