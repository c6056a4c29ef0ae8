// Copyright embrt authors.
//
// Tests of the host state file (tools/training/host_state.cc): exact round trip, a checksum
// that catches accidents, fields bounded and checked against the checkpoint's step, a FIFO
// refused at once, and never overwriting the host state of an existing checkpoint.

#include "tools/training/host_state.h"

#include <sys/stat.h>
#include <xxhash.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "absl/strings/str_format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/tools/temp_files.h"

namespace embrt {
namespace training {
namespace {

using ::testing::HasSubstr;

HostState Sample() {
  HostState state;
  state.step = 40;
  state.bias = -1.2345678f;
  state.bias_accumulator = 0.75f;
  state.examples_seen = 40 * 256 - 3;
  state.loss = "logistic";
  state.format = "synthetic";
  state.seed = 7;
  state.synthetic_fields = 8;
  state.synthetic_cardinality = 100;
  return state;
}

HostStateLimits Limits(int64_t step = 40, int64_t batch = 256) {
  HostStateLimits limits;
  limits.step = step;
  limits.max_batch_size = batch;
  return limits;
}

// `body` with a correct checksum line appended, as an attacker would write it.
std::string Checksummed(const std::string& body) {
  return body + absl::StrFormat("xxh3 %016x\n", XXH3_64bits(body.data(), body.size()));
}

std::string Message(const absl::StatusOr<HostState>& state) {
  return std::string(state.status().message());
}

TEST(HostStateTest, RoundTripIsExact) {
  const std::string dir = testing_tools::MakeTempDir();
  ASSERT_TRUE(SaveHostState(Sample(), HostStatePath(dir, 40)).ok());
  absl::StatusOr<HostState> loaded = LoadHostState(HostStatePath(dir, 40), Limits());
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->bias, Sample().bias);
  EXPECT_EQ(loaded->bias_accumulator, Sample().bias_accumulator);
  EXPECT_EQ(loaded->examples_seen, Sample().examples_seen);
  EXPECT_EQ(loaded->synthetic_cardinality, 100);
}

TEST(HostStateTest, FlippedByteOrNoChecksumIsDataLoss) {
  const std::string dir = testing_tools::MakeTempDir();
  const std::string path = HostStatePath(dir, 40);
  ASSERT_TRUE(SaveHostState(Sample(), path).ok());
  std::ifstream in(path);
  std::string contents((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  contents[contents.find("seed ") + 5] ^= 1;
  testing_tools::WriteFile(dir, "host-40.txt", contents);
  absl::StatusOr<HostState> loaded = LoadHostState(path, Limits());
  EXPECT_EQ(loaded.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(Message(loaded), HasSubstr("checksum mismatch"));
  testing_tools::WriteFile(dir, "host-40.txt", "step 40\nexamples_seen 10\n");
  loaded = LoadHostState(path, Limits());
  EXPECT_THAT(Message(loaded), HasSubstr("has no checksum line"));
}

TEST(HostStateTest, FieldsAreBoundedEvenWithARecomputedChecksum) {
  const std::string dir = testing_tools::MakeTempDir();
  const std::string path = HostStatePath(dir, 40);
  const std::string good =
      "step 40\nbias 0x1p+0\nbias_accumulator 0x1p-1\nexamples_seen 100\nloss logistic\n"
      "format synthetic\n";
  testing_tools::WriteFile(dir, "host-40.txt", Checksummed(good));
  ASSERT_TRUE(LoadHostState(path, Limits()).ok());
  const struct {
    std::string body;
    std::string message;
  } cases[] = {
      {"step 41\n" + good.substr(8), "is of step 41, its checkpoint of step 40"},
      {good + "examples_seen 5\n", "'examples_seen' repeated"},
      {"step 40\nbias 0x1p+0\nbias_accumulator 0x1p-1\nexamples_seen 1000000000000000000\n"
       "loss logistic\nformat synthetic\n",
       "examples_seen 1000000000000000000, not in [40, 10240]"},
      {"step 40\nbias 0x1p+0\nbias_accumulator 0x1p-1\nexamples_seen 39\n"
       "loss logistic\nformat synthetic\n",
       "examples_seen 39, not in [40, 10240]"},
      {"step 40\nbias nan\nbias_accumulator 0x1p-1\nexamples_seen 100\nloss logistic\n"
       "format synthetic\n",
       "bad bias 'nan'"},
      {"step 40\nbias 0x1p+0\nbias_accumulator -1\nexamples_seen 100\nloss logistic\n"
       "format synthetic\n",
       "bad bias_accumulator"},
      {good + "synthetic_fields 27\n", "bad synthetic_fields '27'"},
      {good + "synthetic_cardinality -1\n", "bad synthetic_cardinality"},
      {good + "owner mallory\n", "unknown key 'owner'"},
      {"step 40\nbias 0x1p+0\n", "has no bias_accumulator"},
      {"step 40\nbias 0x1p+0\nbias_accumulator 0x1p-1\nexamples_seen 100\nloss hinge\n"
       "format synthetic\n",
       "bad loss 'hinge'"},
  };
  for (const auto& c : cases) {
    testing_tools::WriteFile(dir, "host-40.txt", Checksummed(c.body));
    absl::StatusOr<HostState> loaded = LoadHostState(path, Limits());
    EXPECT_EQ(loaded.status().code(), absl::StatusCode::kDataLoss) << c.body;
    EXPECT_THAT(Message(loaded), HasSubstr(c.message)) << c.body;
  }
}

TEST(HostStateTest, FifoIsRefusedAtOnce) {
  const std::string dir = testing_tools::MakeTempDir();
  ASSERT_EQ(mkfifo(HostStatePath(dir, 40).c_str(), 0644), 0);
  absl::StatusOr<HostState> loaded = LoadHostState(HostStatePath(dir, 40), Limits());
  EXPECT_EQ(loaded.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(Message(loaded), HasSubstr("is a FIFO"));
}

TEST(HostStateTest, NeverOverwritesTheHostStateOfAnExistingCheckpoint) {
  const std::string dir = testing_tools::MakeTempDir();
  ASSERT_TRUE(SaveHostState(Sample(), HostStatePath(dir, 40)).ok());
  std::filesystem::create_directory(dir + "/ckpt-40");
  HostState other = Sample();
  other.bias = 3.0f;
  const absl::Status saved = SaveHostState(other, HostStatePath(dir, 40));
  EXPECT_EQ(saved.code(), absl::StatusCode::kAlreadyExists);
  absl::StatusOr<HostState> loaded = LoadHostState(HostStatePath(dir, 40), Limits());
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->bias, Sample().bias);
}

}  // namespace
}  // namespace training
}  // namespace embrt
