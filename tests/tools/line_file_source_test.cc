// Copyright embrt authors.
//
// Tests of LineFileSource (tools/training/line_file_source.cc) itself: how it opens and reads a
// file, whatever the format: only regular files (a FIFO is refused, never waited on), lines
// with or without a final newline, CRLF, rewinding, and a bound on the line length.

#include "tools/training/line_file_source.h"

#include <sys/stat.h>

#include <memory>
#include <string>

#include "absl/strings/numbers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/tools/temp_files.h"

namespace embrt {
namespace training {
namespace {

using ::testing::HasSubstr;

// One field; a line is its id.
class IdLines : public LineFileSource {
 public:
  static absl::StatusOr<std::unique_ptr<IdLines>> Open(const std::string& path) {
    std::unique_ptr<IdLines> source(new IdLines(testing_tools::FileOptions(path)));
    absl::Status opened = source->LineFileSource::Open();
    if (!opened.ok()) return opened;
    return source;
  }
  const std::vector<std::string>& fields() const override { return fields_; }

 protected:
  absl::Status ParseLine(absl::string_view line, Example& example) override {
    if (!absl::SimpleAtoi(line, &example.ids[0])) return absl::InvalidArgumentError("not an id");
    return absl::OkStatus();
  }

 private:
  explicit IdLines(LineFileOptions options) : LineFileSource(std::move(options), "ids") {}
  std::vector<std::string> fields_ = {"id"};
};

std::vector<int64_t> ReadAllIds(ExampleSource& source) {
  std::vector<int64_t> ids;
  Example example;
  while (true) {
    absl::StatusOr<bool> got = source.Next(example);
    EXPECT_TRUE(got.ok()) << got.status();
    if (!got.ok() || !*got) break;
    ids.push_back(example.ids[0]);
  }
  return ids;
}

TEST(LineFileSourceTest, FifoIsRefusedNotWaitedOn) {
  const std::string dir = testing_tools::MakeTempDir();
  const std::string fifo = dir + "/ids.txt";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0644), 0);
  absl::StatusOr<std::unique_ptr<IdLines>> source = IdLines::Open(fifo);
  ASSERT_FALSE(source.ok());
  EXPECT_EQ(source.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(source.status().message()), HasSubstr("ids.txt is a FIFO"));
}

TEST(LineFileSourceTest, MissingFileIsNotFoundNamingIt) {
  absl::StatusOr<std::unique_ptr<IdLines>> source = IdLines::Open("/nonexistent/ids.txt");
  ASSERT_FALSE(source.ok());
  EXPECT_EQ(source.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(source.status().message()),
              HasSubstr("cannot open ids data file '/nonexistent/ids.txt'"));
}

TEST(LineFileSourceTest, ReadsLinesWithAndWithoutFinalNewlineAndRewinds) {
  const std::string dir = testing_tools::MakeTempDir();
  std::string text = "1\r\n\n2\n";
  text += "77777\n";
  text += "3";  // no final newline
  absl::StatusOr<std::unique_ptr<IdLines>> source =
      IdLines::Open(testing_tools::WriteFile(dir, "ids.txt", text));
  ASSERT_TRUE(source.ok()) << source.status();
  EXPECT_EQ(ReadAllIds(**source), (std::vector<int64_t>{1, 2, 77777, 3}));
  ASSERT_TRUE((*source)->Rewind().ok());
  EXPECT_EQ(ReadAllIds(**source), (std::vector<int64_t>{1, 2, 77777, 3}));
}

TEST(LineFileSourceTest, LinesLongerThanTheBufferAreRead) {
  const std::string dir = testing_tools::MakeTempDir();
  const std::string long_id = std::string(200000, '0') + "42";  // > the 64 KiB read buffer
  absl::StatusOr<std::unique_ptr<IdLines>> source =
      IdLines::Open(testing_tools::WriteFile(dir, "ids.txt", "5\n" + long_id + "\n6\n"));
  ASSERT_TRUE(source.ok()) << source.status();
  EXPECT_EQ(ReadAllIds(**source), (std::vector<int64_t>{5, 42, 6}));
}

TEST(LineFileSourceTest, LineBeyondTheLimitIsAnErrorNotAnUnboundedAllocation) {
  const std::string dir = testing_tools::MakeTempDir();
  const std::string path = testing_tools::WriteFile(
      dir, "ids.txt", "5\n" + std::string(LineFileSource::kMaxLineBytes + 1, '1') + "\n");
  absl::StatusOr<std::unique_ptr<IdLines>> source = IdLines::Open(path);
  ASSERT_TRUE(source.ok()) << source.status();
  Example example;
  ASSERT_TRUE(*(*source)->Next(example));
  absl::StatusOr<bool> second = (*source)->Next(example);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(second.status().message()),
              HasSubstr("ids.txt:2: the line is longer than 16777216 bytes"));
}

}  // namespace
}  // namespace training
}  // namespace embrt
