// Copyright embrt authors.

#include "tools/training/progress.h"

#include <cstdio>
#include <string>

#include "gtest/gtest.h"

namespace embrt {
namespace training {
namespace {

std::string Contents(std::FILE* file) {
  std::fflush(file);
  std::rewind(file);
  std::string text;
  int c;
  while ((c = std::fgetc(file)) != EOF) text.push_back(static_cast<char>(c));
  return text;
}

TEST(ProgressTest, FormatsStepRateLossAndEta) {
  EXPECT_EQ(Progress::FormatLine(50, 200, 12345.4, 0.456789, 125),
            "step 50/200  12345 examples/s  loss 0.4568  ETA 2m05s");
  EXPECT_EQ(Progress::FormatLine(7, 0, 10, 1, -1), "step 7  10 examples/s  loss 1.0000");
}

TEST(ProgressTest, AnEstimatedTotalWithANoteAndItsEta) {
  EXPECT_EQ(Progress::FormatLine(500, 2000, 100, 0.5, 90, /*estimate=*/true, "epoch 3/10"),
            "step 500/~2000 (epoch 3/10)  100 examples/s  loss 0.5000  ETA 1m30s");
  // The ETA counts the steps of this run only (a resumed run starts at step 1000).
  std::FILE* file = std::tmpfile();
  double now = 0;
  Progress progress(file, /*terminal=*/false, [&] { return now; });
  progress.Update(1001, 2000, 10, 0.5, true, "epoch 6/10");  // too early to print
  now = 10;
  progress.Update(1010, 2000, 100, 0.5, true, "epoch 6/10");
  // 10 steps in 10 s, 990 to go.
  EXPECT_EQ(Contents(file),
            "step 1010/~2000 (epoch 6/10)  10 examples/s  loss 0.5000  ETA 16m30s\n");
  std::fclose(file);
}

TEST(ProgressTest, AtMostOneLinePerSecondPlainWhenNotATerminal) {
  std::FILE* file = std::tmpfile();
  double now = 0;
  Progress progress(file, /*terminal=*/false, [&] { return now; });
  now = 0.5;
  progress.Update(1, 4, 100, 0.7);  // too early
  now = 1.0;
  progress.Update(2, 4, 200, 0.6);
  now = 1.5;
  progress.Update(3, 4, 300, 0.5);  // too early
  now = 2.0;
  progress.Update(4, 4, 400, 0.4);
  progress.Finish();
  EXPECT_EQ(Contents(file),
            "step 2/4  200 examples/s  loss 0.6000  ETA 0m01s\n"
            "step 4/4  200 examples/s  loss 0.4000  ETA 0m00s\n");
  std::fclose(file);
}

TEST(ProgressTest, RewritesOneLineOnATerminal) {
  std::FILE* file = std::tmpfile();
  double now = 0;
  Progress progress(file, /*terminal=*/true, [&] { return now; });
  now = 1;
  progress.Update(1, 0, 10, 0.5);
  now = 2;
  progress.Update(2, 0, 20, 0.25);
  progress.Finish();
  EXPECT_EQ(Contents(file),
            "\rstep 1  10 examples/s  loss 0.5000\033[K"
            "\rstep 2  10 examples/s  loss 0.2500\033[K\n");
  std::fclose(file);
}

}  // namespace
}  // namespace training
}  // namespace embrt
