// Copyright embrt authors.
//
// Tests of the host state file (tools/training/host_state.cc): exact round trip, a checksum
// that catches accidents, fields bounded and checked against the checkpoint's step, a FIFO
// refused at once, and never overwriting the host state of an existing checkpoint.

#include "tools/training/host_state.h"

#include <sys/stat.h>
#include <xxhash.h>

#include <cmath>
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

TEST(HostStateTest, EarlyStoppingStateRoundTripsExactly) {
  const std::string dir = testing_tools::MakeTempDir();
  HostState state = Sample();
  state.interval_loss = 12.375;
  state.interval_examples = 77;
  state.last_train_loss = 0.1 / 3;
  EarlyStoppingState& es = state.early_stopping.emplace();
  es.metric = "log_loss";
  es.validation_fraction = 0.05f;  // as the float flag gives it
  es.evaluations = 6;
  es.without_improvement = 2;
  es.last_evaluation_step = 38;
  es.best_value = 0.1 / 7;
  es.best_step = 30;
  es.best_epoch = 3;
  es.best_examples = 30 * 256;
  es.best_bias = -0.3f;
  es.best_bias_accumulator = 1.5f;
  es.best_validation = {500, 0.25, 0.75, 0.2 / 3, std::nan(""), std::nan("")};
  es.best_test = {900, 0.5, 0.625, 0.125, std::nan(""), std::nan("")};
  ASSERT_TRUE(SaveHostState(state, HostStatePath(dir, 40)).ok());
  absl::StatusOr<HostState> loaded = LoadHostState(HostStatePath(dir, 40), Limits());
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->interval_loss, 12.375);
  EXPECT_EQ(loaded->interval_examples, 77);
  EXPECT_EQ(loaded->last_train_loss, 0.1 / 3);
  ASSERT_TRUE(loaded->early_stopping.has_value());
  const EarlyStoppingState& back = *loaded->early_stopping;
  EXPECT_EQ(back.metric, "log_loss");
  EXPECT_EQ(back.validation_fraction, static_cast<double>(0.05f));
  EXPECT_EQ(back.evaluations, 6);
  EXPECT_EQ(back.without_improvement, 2);
  EXPECT_EQ(back.last_evaluation_step, 38);
  EXPECT_EQ(back.best_value, 0.1 / 7);
  EXPECT_EQ(back.best_step, 30);
  EXPECT_EQ(back.best_epoch, 3);
  EXPECT_EQ(back.best_examples, 30 * 256);
  EXPECT_EQ(back.best_bias, -0.3f);
  EXPECT_EQ(back.best_bias_accumulator, 1.5f);
  EXPECT_EQ(back.best_validation.log_loss, 0.2 / 3);
  EXPECT_TRUE(std::isnan(back.best_validation.rmse));
  EXPECT_EQ(back.best_test.examples, 900);
  EXPECT_EQ(back.finished_at_step, 0);
}

TEST(HostStateTest, OlderHostStatesWithoutEarlyStoppingStillLoad) {
  const std::string dir = testing_tools::MakeTempDir();
  testing_tools::WriteFile(dir, "host-40.txt",
                           Checksummed("step 40\nbias 0x1p+0\nbias_accumulator 0x1p-1\n"
                                       "examples_seen 100\nloss squared\nformat movielens\n"));
  absl::StatusOr<HostState> loaded = LoadHostState(HostStatePath(dir, 40), Limits());
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_FALSE(loaded->early_stopping.has_value());
  EXPECT_EQ(loaded->interval_examples, 0);
  EXPECT_TRUE(std::isnan(loaded->last_train_loss));
}

TEST(HostStateTest, EarlyStoppingFieldsComeAllOrNoneAndAreBounded) {
  const std::string dir = testing_tools::MakeTempDir();
  HostState state = Sample();
  EarlyStoppingState& es = state.early_stopping.emplace();
  es.metric = "auc";
  es.validation_fraction = 0.1;
  es.evaluations = 3;
  es.best_step = 20;
  es.best_examples = 20 * 256;
  es.last_evaluation_step = 40;
  ASSERT_TRUE(SaveHostState(state, HostStatePath(dir, 40)).ok());
  std::ifstream in(HostStatePath(dir, 40));
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string body = text.substr(0, text.rfind("xxh3 "));
  const auto with = [&](const std::string& key, const std::string& value) {
    const size_t at = body.find("\n" + key + " ") + 1;
    return body.substr(0, at) + key + " " + value + body.substr(body.find('\n', at));
  };
  const auto without = [&](const std::string& key) {
    const size_t at = body.find("\n" + key + " ") + 1;
    return body.substr(0, at) + body.substr(body.find('\n', at) + 1);
  };
  const struct {
    std::string body;
    std::string message;
  } cases[] = {
      {without("es_best_test"), "has early-stopping fields but no es_best_test"},
      {with("es_best_step", "41"), "es_best_step 41 (out of bounds)"},
      {with("es_evaluations", "42"), "es_evaluations 42 for step 40"},
      {with("es_without_improvement", "4"), "es_without_improvement 4 of 3 evaluations"},
      {with("es_best_examples", "99999999"), "es_best_examples 99999999"},
      {with("es_metric", "accuracy"), "bad es_metric 'accuracy'"},
      {with("es_validation_fraction", "1"), "bad es_validation_fraction"},
      {with("es_best_value", "inf"), "bad es_best_value"},
      {with("es_best_validation", "1 2 3"), "bad es_best_validation"},
      {with("es_stopped_early", "2"), "bad es_stopped_early"},
      {with("es_last_evaluation_step", "41"), "es_last_evaluation_step 41"},
  };
  for (const auto& c : cases) {
    testing_tools::WriteFile(dir, "host-40.txt", Checksummed(c.body));
    absl::StatusOr<HostState> loaded = LoadHostState(HostStatePath(dir, 40), Limits());
    EXPECT_EQ(loaded.status().code(), absl::StatusCode::kDataLoss) << c.body;
    EXPECT_THAT(Message(loaded), HasSubstr(c.message)) << c.body;
  }
}

TEST(HostStateTest, CurveRoundTripsExactlyAndIsBounded) {
  const std::string dir = testing_tools::MakeTempDir();
  LearningCurve curve;
  curve.train = {{160, 1.0 / 3}, {320, 0.25}};
  curve.eval = {{320, 0.9}};
  curve.validation = {{320, 0.1 / 7}};
  ASSERT_TRUE(SaveCurve(curve, CurvePath(dir, 20)).ok());
  absl::StatusOr<LearningCurve> loaded = LoadCurve(CurvePath(dir, 20), 320);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  ASSERT_EQ(loaded->train.size(), 2u);
  EXPECT_EQ(loaded->train[0].loss, 1.0 / 3);
  EXPECT_EQ(loaded->eval[0].examples, 320);
  EXPECT_EQ(loaded->validation[0].loss, 0.1 / 7);
  // A point beyond the examples the checkpoint has seen, or not finite: DATA_LOSS.
  EXPECT_EQ(LoadCurve(CurvePath(dir, 20), 319).status().code(), absl::StatusCode::kDataLoss);
  testing_tools::WriteFile(dir, "curve-20.txt", Checksummed("train 0x1p+4 inf\n"));
  EXPECT_THAT(std::string(LoadCurve(CurvePath(dir, 20), 320).status().message()),
              HasSubstr("line 1: not a point"));
  testing_tools::WriteFile(dir, "curve-20.txt", "train 0x1p+4 0x1p-1\n");
  EXPECT_EQ(LoadCurve(CurvePath(dir, 20), 320).status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(LoadCurve(CurvePath(dir, 21), 320).status().code(), absl::StatusCode::kNotFound);
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
