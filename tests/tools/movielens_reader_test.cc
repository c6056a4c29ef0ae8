// Copyright embrt authors.

#include "tools/training/movielens_reader.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/tools/temp_files.h"

namespace embrt {
namespace training {
namespace {

using ::testing::HasSubstr;

TEST(MovieLensReaderTest, ParsesUData) {
  const std::string dir = testing_tools::MakeTempDir();
  const std::string path = testing_tools::WriteFile(
      dir, "u.data", "196\t242\t3\t881250949\n186 302 4.5\n\n22\t377\t1\t878887116\r\n");
  auto source = OpenMovieLens(testing_tools::FileOptions(path), {944, 1683});
  ASSERT_TRUE(source.ok()) << source.status();
  EXPECT_EQ((*source)->fields(), (std::vector<std::string>{"user", "item"}));
  Example example;
  ASSERT_TRUE(*(*source)->Next(example));
  EXPECT_EQ(example.ids, (std::vector<int64_t>{196, 242}));
  EXPECT_EQ(example.label, 3.0f);
  ASSERT_TRUE(*(*source)->Next(example));
  EXPECT_EQ(example.ids, (std::vector<int64_t>{186, 302}));
  EXPECT_EQ(example.label, 4.5f);
  ASSERT_TRUE(*(*source)->Next(example));
  EXPECT_EQ(example.ids, (std::vector<int64_t>{22, 377}));
  EXPECT_FALSE(*(*source)->Next(example));
  EXPECT_EQ((*source)->bad_lines(), 0);
}

TEST(MovieLensReaderTest, RatingsOutsideTheRangeAreBadLinesCountedOnceAcrossRewinds) {
  const std::string dir = testing_tools::MakeTempDir();
  const std::string path = testing_tools::WriteFile(
      dir, "u.data", "1\t2\t3\t0\n1\t2\t50\t0\n1\t2\t-7\t0\n1\t2\t1e30\t0\n1\t2\t5\t0\n");
  auto source = OpenMovieLens(testing_tools::FileOptions(path), {944, 1683}, LabelRange{1, 5});
  ASSERT_TRUE(source.ok());
  Example example;
  ASSERT_TRUE(*(*source)->Next(example));
  ASSERT_TRUE(*(*source)->Next(example));  // skips lines 2..4
  EXPECT_EQ(example.label, 5.0f);
  EXPECT_EQ((*source)->bad_lines(), 3);
  EXPECT_THAT((*source)->bad_line_messages()[0],
              HasSubstr("u.data:2: rating 50 is outside --rating_range 1..5"));
  // A rewind (an evaluation's, or an epoch's) re-reads them without counting them again.
  ASSERT_TRUE((*source)->Rewind().ok());
  while (*(*source)->Next(example)) {}
  EXPECT_EQ((*source)->bad_lines(), 3);
  EXPECT_EQ((*source)->bad_line_messages().size(), 3u);
}

TEST(MovieLensReaderTest, BadLinesFirstSeenAfterARewindAreCounted) {
  // An evaluation rewinds its source before reading: its bad lines must still count.
  const std::string dir = testing_tools::MakeTempDir();
  const std::string path =
      testing_tools::WriteFile(dir, "u.test", "1\t2\t3\t0\n1\tx\t3\t0\n1\t2\t4\t0\n");
  auto source = OpenMovieLens(testing_tools::FileOptions(path), {944, 1683});
  ASSERT_TRUE(source.ok());
  Example example;
  ASSERT_TRUE(*(*source)->Next(example));  // the first example only (a format check)
  ASSERT_TRUE((*source)->Rewind().ok());
  while (*(*source)->Next(example)) {}
  EXPECT_EQ((*source)->bad_lines(), 1);
}

TEST(MovieLensReaderTest, BadLinesNameFileLineAndValue) {
  const std::string dir = testing_tools::MakeTempDir();
  const std::string path = testing_tools::WriteFile(
      dir, "u.data",
      "1\t2\t3\t4\n5000\t2\t3\t4\n1\tx\t3\t4\n1\t2\tgood\t4\n1\t2\n1\t2\t3\t4\t5\n7\t8\t2\t1\n");
  auto source = OpenMovieLens(testing_tools::FileOptions(path), {944, 1683});
  ASSERT_TRUE(source.ok());
  Example example;
  int good = 0;
  while (*(*source)->Next(example)) ++good;
  EXPECT_EQ(good, 2);
  EXPECT_EQ((*source)->bad_lines(), 5);
  const std::vector<std::string>& messages = (*source)->bad_line_messages();
  ASSERT_EQ(messages.size(), 5u);
  EXPECT_THAT(messages[0], HasSubstr("u.data:2: user id 5000 is outside the table's 944 rows"));
  EXPECT_THAT(messages[1], HasSubstr("u.data:3: item id 'x'"));
  EXPECT_THAT(messages[2], HasSubstr("u.data:4: rating 'good'"));
  EXPECT_THAT(messages[3], HasSubstr("u.data:5: 2 fields"));
  EXPECT_THAT(messages[4], HasSubstr("u.data:6: 5 fields"));
}

TEST(MovieLensReaderTest, CriteoFileIsRejectedAsWrongFormat) {
  const std::string dir = testing_tools::MakeTempDir();
  std::string line = "0";
  for (int i = 0; i < 39; ++i) line += "\t1";
  const std::string path = testing_tools::WriteFile(dir, "criteo.txt", line + "\n" + line);
  auto source = OpenMovieLens(testing_tools::FileOptions(path), {944, 1683});
  ASSERT_TRUE(source.ok());
  Example example;
  absl::StatusOr<bool> next = (*source)->Next(example);
  ASSERT_FALSE(next.ok());
  EXPECT_THAT(next.status().message(), HasSubstr("does not look like MovieLens data"));
}

}  // namespace
}  // namespace training
}  // namespace embrt
