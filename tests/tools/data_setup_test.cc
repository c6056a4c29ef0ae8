// Copyright embrt authors.

#include "tools/training/data_setup.h"

#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "embrt/config.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/tools/temp_files.h"

namespace embrt {
namespace training {
namespace {

using ::testing::HasSubstr;

ResolvedConfig MovieLensConfig() {
  absl::StatusOr<EmbeddingConfig> config = ParseConfigText(R"pb(
    tables { name: "user" vocabulary_size: 1000 dim: 3 }
    tables { name: "item" vocabulary_size: 1000 dim: 3 }
    features { name: "user" table: "user" }
    features { name: "item" table: "item" }
    optimizer {
      sgd {}
      learning_rate { constant: 0.1 }
    }
    per_replica_batch_size: 4
  )pb");
  EXPECT_TRUE(config.ok()) << config.status();
  absl::StatusOr<ResolvedConfig> resolved = ResolveConfig(*config);
  EXPECT_TRUE(resolved.ok()) << resolved.status();
  return *resolved;
}

// Line n (from 1) is "n <tab> n <tab> 3": the user id names the line.
std::string NumberedRatings(int lines) {
  std::string text;
  for (int n = 1; n <= lines; ++n) absl::StrAppend(&text, n, "\t", n, "\t3\t0\n");
  return text;
}

std::set<int64_t> Lines(ExampleSource& source) {
  std::set<int64_t> lines;
  Example example;
  while (true) {
    absl::StatusOr<bool> got = source.Next(example);
    EXPECT_TRUE(got.ok()) << got.status();
    if (!got.ok() || !*got) break;
    lines.insert(example.ids[0]);
  }
  return lines;
}

TEST(DataSetupTest, ValidationIsASeededPartOfTheTrainingLinesOnly) {
  const std::string dir = testing_tools::MakeTempDir();
  DataOptions options;
  options.format = DataFormat::kMovieLens;
  options.data = testing_tools::WriteFile(dir, "u.data", NumberedRatings(999));
  options.validation_fraction = 0.1;
  options.seed = 3;
  absl::StatusOr<DataSources> sources = OpenDataSources(MovieLensConfig(), options, true);
  ASSERT_TRUE(sources.ok()) << sources.status();
  ASSERT_NE(sources->validation, nullptr);
  const std::set<int64_t> train = Lines(*sources->train);
  const std::set<int64_t> validation = Lines(*sources->validation);
  const std::set<int64_t> test = Lines(*sources->eval);
  EXPECT_EQ(train.size() + validation.size() + test.size(), 999u);
  for (int64_t line : test) EXPECT_EQ(line % 5, 0);  // every 5th line, as without validation
  for (int64_t line : validation) {
    EXPECT_NE(line % 5, 0) << "a test line in the validation set";
    EXPECT_EQ(train.count(line), 0u);
    EXPECT_TRUE(IsValidationLine(3, 0.1, line));
  }
  EXPECT_NEAR(static_cast<double>(validation.size()), 0.1 * 800, 30);
  // Another seed, another split; the same seed, the same.
  options.seed = 4;
  absl::StatusOr<DataSources> other = OpenDataSources(MovieLensConfig(), options, true);
  ASSERT_TRUE(other.ok());
  EXPECT_NE(Lines(*other->validation), validation);
  options.seed = 3;
  absl::StatusOr<DataSources> same = OpenDataSources(MovieLensConfig(), options, true);
  ASSERT_TRUE(same.ok());
  EXPECT_EQ(Lines(*same->validation), validation);
}

TEST(DataSetupTest, AnEvalFileIsNeverPartOfValidation) {
  const std::string dir = testing_tools::MakeTempDir();
  DataOptions options;
  options.format = DataFormat::kMovieLens;
  options.data = testing_tools::WriteFile(dir, "u.base", NumberedRatings(400));
  options.eval_data = testing_tools::WriteFile(dir, "u.test", "999\t999\t4\t0\n");
  options.validation_fraction = 0.25;
  absl::StatusOr<DataSources> sources = OpenDataSources(MovieLensConfig(), options, true);
  ASSERT_TRUE(sources.ok()) << sources.status();
  const std::set<int64_t> validation = Lines(*sources->validation);
  EXPECT_EQ(validation.count(999), 0u);
  EXPECT_EQ(Lines(*sources->train).size() + validation.size(), 400u);
  EXPECT_EQ(Lines(*sources->eval), std::set<int64_t>{999});
}

TEST(DataSetupTest, EvalFilesAreCheckedWhenOpened) {
  const std::string dir = testing_tools::MakeTempDir();
  DataOptions options;
  options.format = DataFormat::kMovieLens;
  options.data = testing_tools::WriteFile(dir, "u.base", NumberedRatings(20));
  options.eval_data = testing_tools::WriteFile(dir, "u.test", std::string("1\t2\t3\0\1\2", 8));
  absl::StatusOr<DataSources> sources = OpenDataSources(MovieLensConfig(), options, true);
  EXPECT_EQ(sources.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(sources.status().message(),
              HasSubstr("is binary, not text (a NUL byte at offset 5)"));
  options.eval_data = testing_tools::WriteFile(dir, "blank.test", "\n\n");
  sources = OpenDataSources(MovieLensConfig(), options, true);
  EXPECT_THAT(sources.status().message(), HasSubstr("holds no example"));
}

TEST(DataSetupTest, LabelRangesParse) {
  absl::StatusOr<LabelRange> range = ParseLabelRange("0.5..5");
  ASSERT_TRUE(range.ok());
  EXPECT_EQ(range->min, 0.5f);
  EXPECT_EQ(range->max, 5.0f);
  EXPECT_TRUE(range->Contains(5));
  EXPECT_FALSE(range->Contains(5.01f));
  for (const char* bad : {"5..1", "1-5", "..5", "1..x", "nan..1", "1..inf"}) {
    EXPECT_FALSE(ParseLabelRange(bad).ok()) << bad;
  }
  EXPECT_EQ(DefaultLabelRange(DataFormat::kMovieLens).max, 5.0f);
  EXPECT_FALSE(DefaultLabelRange(DataFormat::kCriteo).bounded());
}

}  // namespace
}  // namespace training
}  // namespace embrt
