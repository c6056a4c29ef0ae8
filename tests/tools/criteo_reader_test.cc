// Copyright embrt authors.

#include "tools/training/criteo_reader.h"

#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/tools/temp_files.h"
#include "tools/training/feature_encoding.h"

namespace embrt {
namespace training {
namespace {

using ::testing::HasSubstr;

std::vector<int64_t> Vocabulary() {
  std::vector<int64_t> vocabulary(13, kIntegerBuckets);
  vocabulary.resize(39, 1000);
  return vocabulary;
}

std::string Line(const std::string& label, std::vector<std::string> fields) {
  std::string line = label;
  for (const std::string& f : fields) line += "\t" + f;
  return line + "\n";
}

TEST(CriteoReaderTest, ParsesFullAndStrippedLines) {
  const std::string dir = testing_tools::MakeTempDir();
  std::vector<std::string> full = {"1", "", "-3", "0", "1382", "4", "15", "2", "181",
                                   "1", "2", "", "2"};
  for (int i = 0; i < 26; ++i) full.push_back(i == 1 ? "" : "68fd1e64");
  std::vector<std::string> stripped(full.begin(), full.begin() + 13 + 24);  // C25, C26 gone
  const std::string path =
      testing_tools::WriteFile(dir, "data.txt", Line("1", full) + Line("0", stripped));
  auto source = OpenCriteo(testing_tools::FileOptions(path), Vocabulary());
  ASSERT_TRUE(source.ok()) << source.status();
  Example example;
  ASSERT_TRUE(*(*source)->Next(example));
  EXPECT_EQ(example.label, 1.0f);
  ASSERT_EQ(example.ids.size(), 39u);
  EXPECT_EQ(example.ids[0], 3);   // I1 = 1
  EXPECT_EQ(example.ids[1], 0);   // I2 missing
  EXPECT_EQ(example.ids[2], 1);   // I3 negative
  EXPECT_EQ(example.ids[3], 2);   // I4 zero
  EXPECT_EQ(example.ids[4], 13);  // I5 = 1382
  EXPECT_EQ(example.ids[13], HashCategorical("68fd1e64", 13, 1000));
  EXPECT_EQ(example.ids[14], 0);  // C2 empty
  EXPECT_EQ(example.ids[38], HashCategorical("68fd1e64", 38, 1000));

  ASSERT_TRUE(*(*source)->Next(example));
  EXPECT_EQ(example.label, 0.0f);
  EXPECT_EQ(example.ids[36], HashCategorical("68fd1e64", 36, 1000));
  EXPECT_EQ(example.ids[37], 0);  // stripped trailing C25, C26: missing
  EXPECT_EQ(example.ids[38], 0);
  EXPECT_FALSE(*(*source)->Next(example));

  ASSERT_TRUE((*source)->Rewind().ok());
  ASSERT_TRUE(*(*source)->Next(example));
  EXPECT_EQ(example.label, 1.0f);
}

TEST(CriteoReaderTest, SkipsMalformedLinesWithFileAndLine) {
  const std::string dir = testing_tools::MakeTempDir();
  std::vector<std::string> ints(13, "1");
  const std::string path = testing_tools::WriteFile(
      dir, "data.txt",
      Line("1", ints) + Line("2", ints) + Line("0", {"1", "x"}) + Line("0", ints));
  auto source = OpenCriteo(testing_tools::FileOptions(path), Vocabulary());
  ASSERT_TRUE(source.ok());
  Example example;
  int good = 0;
  while (*(*source)->Next(example)) ++good;
  EXPECT_EQ(good, 2);
  EXPECT_EQ((*source)->bad_lines(), 2);
  ASSERT_EQ((*source)->bad_line_messages().size(), 2u);
  EXPECT_THAT((*source)->bad_line_messages()[0], HasSubstr("data.txt:2: label '2'"));
  EXPECT_THAT((*source)->bad_line_messages()[1], HasSubstr("data.txt:3: field I2 value 'x'"));
}

TEST(CriteoReaderTest, FailPolicyStopsAtTheFirstBadLine) {
  const std::string dir = testing_tools::MakeTempDir();
  std::vector<std::string> ints(13, "1");
  const std::string path =
      testing_tools::WriteFile(dir, "data.txt", Line("1", ints) + Line("1", {"oops"}));
  LineFileOptions options = testing_tools::FileOptions(path, BadLinePolicy::kFail);
  auto source = OpenCriteo(options, Vocabulary());
  ASSERT_TRUE(source.ok());
  Example example;
  ASSERT_TRUE(*(*source)->Next(example));
  absl::StatusOr<bool> next = (*source)->Next(example);
  ASSERT_FALSE(next.ok());
  EXPECT_EQ(next.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(next.status().message(), HasSubstr("data.txt:2:"));
}

TEST(CriteoReaderTest, TooManyFieldsIsABadLine) {
  const std::string dir = testing_tools::MakeTempDir();
  std::vector<std::string> fields(40, "1");
  const std::string path = testing_tools::WriteFile(dir, "data.txt", Line("1", fields));
  auto source = OpenCriteo(testing_tools::FileOptions(path, BadLinePolicy::kFail), Vocabulary());
  ASSERT_TRUE(source.ok());
  Example example;
  absl::StatusOr<bool> next = (*source)->Next(example);
  ASSERT_FALSE(next.ok());
  EXPECT_THAT(next.status().message(), HasSubstr("more than 40"));
}

TEST(CriteoReaderTest, MovieLensFileIsRejectedAsWrongFormat) {
  const std::string dir = testing_tools::MakeTempDir();
  const std::string path =
      testing_tools::WriteFile(dir, "u.data", "196\t242\t3\t881250949\n186\t302\t3\t891717742\n");
  auto source = OpenCriteo(testing_tools::FileOptions(path), Vocabulary());
  ASSERT_TRUE(source.ok());
  Example example;
  absl::StatusOr<bool> next = (*source)->Next(example);
  ASSERT_FALSE(next.ok());
  EXPECT_THAT(next.status().message(), HasSubstr("does not look like Criteo data"));
}

TEST(CriteoReaderTest, MissingFileIsNotFound) {
  auto source = OpenCriteo(testing_tools::FileOptions("/nonexistent/criteo.txt"), Vocabulary());
  ASSERT_FALSE(source.ok());
  EXPECT_EQ(source.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(source.status().message(), HasSubstr("/nonexistent/criteo.txt"));
}

TEST(CriteoReaderTest, HoldsOutEveryKthLine) {
  const std::string dir = testing_tools::MakeTempDir();
  std::string contents;
  for (int i = 1; i <= 10; ++i) {
    std::vector<std::string> ints(13, "");
    ints[0] = std::to_string(1 << i);
    contents += Line("0", ints);
  }
  const std::string path = testing_tools::WriteFile(dir, "data.txt", contents);
  LineFileOptions held_out = testing_tools::FileOptions(path, BadLinePolicy::kFail,
                                                             testing_tools::Every(5, true));
  auto source = OpenCriteo(held_out, Vocabulary());
  ASSERT_TRUE(source.ok());
  Example example;
  std::vector<int64_t> seen;
  while (*(*source)->Next(example)) seen.push_back(example.ids[0]);
  EXPECT_EQ(seen, (std::vector<int64_t>{3 + 5, 3 + 10}));
  LineFileOptions train = testing_tools::FileOptions(path, BadLinePolicy::kFail,
                                                          testing_tools::Every(5, false));
  source = OpenCriteo(train, Vocabulary());
  int count = 0;
  while (*(*source)->Next(example)) ++count;
  EXPECT_EQ(count, 8);
}

TEST(CriteoReaderTest, ReadsTheSharedSample) {
  const char* data = std::getenv("EMBRT_SHARED_DATA");
  if (data == nullptr) GTEST_SKIP() << "EMBRT_SHARED_DATA is not set";
  const std::string path = std::string(data) + "/criteo/train.txt";
  if (!std::ifstream(path)) GTEST_SKIP() << path << " is missing";
  auto source = OpenCriteo(testing_tools::FileOptions(path, BadLinePolicy::kFail), Vocabulary());
  ASSERT_TRUE(source.ok()) << source.status();
  Example example;
  int lines = 0, clicks = 0;
  while (true) {
    absl::StatusOr<bool> next = (*source)->Next(example);
    ASSERT_TRUE(next.ok()) << next.status();
    if (!*next) break;
    ++lines;
    clicks += example.label == 1.0f;
  }
  EXPECT_EQ(lines, 1000);  // SOURCE.md: 1,000 records, 205 clicks
  EXPECT_EQ(clicks, 205);
}

}  // namespace
}  // namespace training
}  // namespace embrt
