// Copyright embrt authors.
//
// Tests of ParseConfigText and ReadConfigFile (core/src/config_text.cc).

#include <cstdio>
#include <fstream>
#include <string>

#include "absl/status/status.h"
#include "embrt/config.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace embrt {
namespace {

using ::testing::HasSubstr;

std::string TempPath(const std::string& leaf) {
  const char* dir = std::getenv("TEST_TMPDIR");
  return std::string(dir != nullptr ? dir : "/tmp") + "/embrt_config_text_test_" + leaf;
}

TEST(ParseConfigTextTest, ParsesTextFormat) {
  absl::StatusOr<EmbeddingConfig> config = ParseConfigText(R"pb(
    tables { name: "video" vocabulary_size: 8 dim: 4 combiner: SUM }
    features { name: "watched" table: "video" max_sequence_length: 2 }
    backend {
      name: "mock"
      options { key: "threads" value: "2" }
    }
    num_hosts: 3
  )pb");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->tables(0).name(), "video");
  EXPECT_EQ(config->tables(0).combiner(), SUM);
  EXPECT_EQ(config->features(0).max_sequence_length(), 2);
  EXPECT_EQ(config->backend().options().at("threads"), "2");
  EXPECT_EQ(config->num_hosts(), 3);
}

TEST(ParseConfigTextTest, SyntaxErrorNamesLineAndColumn) {
  absl::StatusOr<EmbeddingConfig> config =
      ParseConfigText("tables { name: \"a\" }\ntables { nmae: \"b\" }\n");
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  // protobuf points at the token after the unknown field name (the ':').
  EXPECT_THAT(std::string(config.status().message()), HasSubstr("line 2, column 14"));
  EXPECT_THAT(std::string(config.status().message()), HasSubstr("nmae"));
}

TEST(ParseConfigTextTest, BadEnumValueIsAnError) {
  absl::StatusOr<EmbeddingConfig> config = ParseConfigText("tables {\n  combiner: AVERAGE\n}");
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  // protobuf reports an unknown enum value at the token after it (here the closing brace).
  EXPECT_THAT(std::string(config.status().message()), HasSubstr("line 3, column 1"));
  EXPECT_THAT(std::string(config.status().message()), HasSubstr("AVERAGE"));
}

TEST(ReadConfigFileTest, ReadsAFile) {
  const std::string path = TempPath("good.textproto");
  {
    std::ofstream out(path);
    out << "tables { name: \"t\" vocabulary_size: 3 dim: 2 }\nfeatures { table: \"t\" }\n";
  }
  absl::StatusOr<EmbeddingConfig> config = ReadConfigFile(path);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->tables(0).vocabulary_size(), 3);
  std::remove(path.c_str());
}

TEST(ReadConfigFileTest, ParseErrorNamesPathLineAndColumn) {
  const std::string path = TempPath("bad.textproto");
  {
    std::ofstream out(path);
    out << "tables {\n  dim: 4\n  vocabulary_size: x\n}\n";
  }
  absl::StatusOr<EmbeddingConfig> config = ReadConfigFile(path);
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(config.status().message()), HasSubstr(path));
  EXPECT_THAT(std::string(config.status().message()), HasSubstr("line 3, column 20"));
  std::remove(path.c_str());
}

TEST(ReadConfigFileTest, MissingFileIsNotFound) {
  const std::string path = TempPath("does_not_exist.textproto");
  absl::StatusOr<EmbeddingConfig> config = ReadConfigFile(path);
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(config.status().message()), HasSubstr(path));
}

}  // namespace
}  // namespace embrt
