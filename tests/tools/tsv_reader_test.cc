// Copyright embrt authors.

#include "tools/training/tsv_reader.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/tools/temp_files.h"
#include "tools/training/feature_encoding.h"

namespace embrt {
namespace training {
namespace {

using ::testing::HasSubstr;

TEST(TsvSpecTest, ParsesColumns) {
  absl::StatusOr<TsvSpec> spec = ParseTsvSpec("user:id, item:id,label,-,genre:cat,age:int");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->fields, (std::vector<std::string>{"user", "item", "genre", "age"}));
  ASSERT_EQ(spec->columns.size(), 6u);
  EXPECT_EQ(spec->columns[2].kind, TsvColumn::Kind::kLabel);
  EXPECT_EQ(spec->columns[3].kind, TsvColumn::Kind::kIgnored);
  EXPECT_EQ(spec->columns[5].kind, TsvColumn::Kind::kInteger);
}

TEST(TsvSpecTest, RejectsBadSpecs) {
  EXPECT_THAT(ParseTsvSpec("user:id,item:id").status().message(), HasSubstr("0 'label'"));
  EXPECT_THAT(ParseTsvSpec("label,label,a:id").status().message(), HasSubstr("2 'label'"));
  EXPECT_THAT(ParseTsvSpec("label,a:float").status().message(),
              HasSubstr("entry 2 'a:float': unknown kind 'float'"));
  EXPECT_THAT(ParseTsvSpec("label,a:id,a:cat").status().message(), HasSubstr("used twice"));
  EXPECT_THAT(ParseTsvSpec("label,user").status().message(), HasSubstr("entry 2 'user'"));
}

TEST(TsvReaderTest, ReadsEveryKindAndMissingTrailingColumns) {
  const std::string dir = testing_tools::MakeTempDir();
  const std::string path =
      testing_tools::WriteFile(dir, "data.tsv", "4\t7\tignored\tdrama\t33\n2.5\t3\n");
  absl::StatusOr<TsvSpec> spec = ParseTsvSpec("label,user:id,-,genre:cat,age:int");
  ASSERT_TRUE(spec.ok());
  auto source = OpenTsv(testing_tools::FileOptions(path), *spec, {10, 100, kIntegerBuckets});
  ASSERT_TRUE(source.ok()) << source.status();
  Example example;
  ASSERT_TRUE(*(*source)->Next(example));
  EXPECT_EQ(example.label, 4.0f);
  EXPECT_EQ(example.ids, (std::vector<int64_t>{7, HashCategorical("drama", 1, 100), 3 + 5}));
  ASSERT_TRUE(*(*source)->Next(example));
  EXPECT_EQ(example.label, 2.5f);
  EXPECT_EQ(example.ids, (std::vector<int64_t>{3, 0, 0}));
  EXPECT_FALSE(*(*source)->Next(example));
}

TEST(TsvReaderTest, BadLines) {
  const std::string dir = testing_tools::MakeTempDir();
  const std::string path = testing_tools::WriteFile(
      dir, "data.tsv", "1\t2\n1\t12\nx\t1\n1\t1\t1\n1\t\n1\t3\n");
  absl::StatusOr<TsvSpec> spec = ParseTsvSpec("label,user:id");
  auto source = OpenTsv(testing_tools::FileOptions(path), *spec, {10});
  ASSERT_TRUE(source.ok());
  Example example;
  int good = 0;
  while (*(*source)->Next(example)) ++good;
  EXPECT_EQ(good, 2);
  const std::vector<std::string>& messages = (*source)->bad_line_messages();
  ASSERT_EQ(messages.size(), 4u);
  EXPECT_THAT(messages[0], HasSubstr("data.tsv:2: column 2 (user): id 12 is outside"));
  EXPECT_THAT(messages[1], HasSubstr("data.tsv:3: column 1 (label): 'x'"));
  EXPECT_THAT(messages[2], HasSubstr("data.tsv:4: 3 tab-separated columns, the spec has 2"));
  EXPECT_THAT(messages[3], HasSubstr("data.tsv:5: column 2 (user): '' is not an integer id"));
}

}  // namespace
}  // namespace training
}  // namespace embrt
