// Copyright embrt authors.
//
// Early stopping across --resume (tools/training/trainer.cc, host_state.h,
// best_checkpoints.h): a run interrupted after any checkpoint and resumed ends exactly as the
// uninterrupted run: the same stop, best epoch and metrics (summary and JSON), the same kept
// tables and host state in the final checkpoint, under checkpoint retention. A resume whose
// kept parameters are gone, or whose early stopping is another, is an error.

#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "embrt/checkpoint.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/tools/temp_files.h"
#include "tools/training/host_state.h"
#include "tools/training/report.h"
#include "tools/training/trainer.h"

namespace embrt {
namespace training {
namespace {

using ::testing::HasSubstr;

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// MovieLens-format ratings that a large learning rate overfits within a few epochs.
std::string Ratings(int count, int seed) {
  std::string text;
  uint64_t state = static_cast<uint64_t>(seed) * 2654435761u + 1;
  for (int n = 0; n < count; ++n) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    const int user = 1 + static_cast<int>((state >> 33) % 60);
    const int item = 1 + static_cast<int>((state >> 13) % 120);
    const int rating = 1 + (user % 2 + item % 3 + static_cast<int>((state >> 50) % 2));
    text += std::to_string(user) + "\t" + std::to_string(item) + "\t" + std::to_string(rating) +
            "\t" + std::to_string(880000000 + n) + "\n";
  }
  return text;
}

struct Files {
  std::string train, test;
};

Files WriteData(const std::string& dir, int ratings) {
  return {testing_tools::WriteFile(dir, "u.base", Ratings(ratings, 1)),
          testing_tools::WriteFile(dir, "u.test", Ratings(200, 2))};
}

// Adagrad with a large learning rate overfits within a few evaluations. Only the newest 2
// checkpoints are kept: the kept parameters must survive the retention.
TrainOptions Options(const Files& files, const std::string& checkpoint_dir) {
  TrainOptions options;
  options.config_path = std::string(EMBRT_SOURCE_DIR) + "/examples/configs/movielens.textproto";
  options.format = DataFormat::kMovieLens;
  options.data.data = files.train;
  options.data.eval_data = files.test;
  options.data.validation_fraction = 0.2;
  options.epochs = 40;
  options.patience = 2;
  options.optimizer = "adagrad";
  options.learning_rate = 0.5f;
  options.checkpoint_dir = checkpoint_dir;
  options.checkpoint_every = 1;
  options.keep_checkpoints = 2;
  options.progress = nullptr;
  return options;
}

// The report without what names the directory or depends on the clock or on where the run
// started: first_step, checkpoint, plot and timing; and the summary without its speed, time,
// checkpoint and plot lines. The curve stays: a resumed run plots the whole run.
std::string Comparable(const TrainReport& report) {
  std::string out;
  std::istringstream json(FormatJson(report));
  for (std::string line; std::getline(json, line);) {
    bool keep = true;
    for (const char* name : {"\"first_step\"", "\"checkpoint\"", "\"plot\"", "\"timing\"",
                             "\"command_line\""}) {
      if (line.find(name) != std::string::npos) keep = false;
    }
    if (keep) out += line + "\n";
  }
  std::istringstream summary(FormatSummary(report, "train"));
  for (std::string line; std::getline(summary, line);) {
    if (line.find("  speed ") == 0 || line.find("  time ") == 0 ||
        line.find("  checkpoint ") == 0 || line.find("  plot ") == 0) {
      continue;
    }
    out += std::regex_replace(line, std::regex(R"(\(from \d+\))"), "(from ?)") + "\n";
  }
  return out;
}

// Every table and slot of the checkpoint `latest` names, with its step, as bytes.
std::string FinalParameters(const std::string& root) {
  absl::StatusOr<std::unique_ptr<CheckpointReader>> reader = CheckpointReader::Open(root);
  if (!reader.ok()) return "cannot open: " + std::string(reader.status().message());
  std::string out = "step " + std::to_string((*reader)->step()) + "\n";
  for (int t = 0; t < (*reader)->num_tables(); ++t) {
    for (int s = 0; s < (*reader)->manifest().tables(t).slots_size(); ++s) {
      absl::Span<const float> slot = (*reader)->ContiguousSlot(t, s);
      out.append(reinterpret_cast<const char*>(slot.data()), slot.size() * sizeof(float));
    }
  }
  return out;
}

// A checkpoint after every step: on a RAM disk when there is one (fsync is then free; the
// test is about what is written, not about durability).
std::string MakeFastTempDir() {
  std::error_code error;
  if (std::getenv("TEST_TMPDIR") == nullptr && std::filesystem::is_directory("/dev/shm", error) &&
      ::access("/dev/shm", W_OK) == 0) {
    ::setenv("TEST_TMPDIR", "/dev/shm", 0);
  }
  return testing_tools::MakeTempDir();
}

std::string LatestName(const std::string& root) { return ReadAll(root + "/latest"); }

std::set<std::string> Entries(const std::string& dir) {
  std::set<std::string> names;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(dir, error)) {
    names.insert(entry.path().filename().string());
  }
  return names;
}

// Runs `options` straight, then interrupted after each checkpoint of `points` (or, when
// empty, after every evaluation and the step after it) and resumed, and compares the ends.
void ExpectResumedRunsEndLikeTheStraightOne(const std::string& dir, TrainOptions options,
                                            std::set<int64_t> points) {
  // The uninterrupted run; its checkpoints' host states say where evaluations happened.
  const std::string straight_dir = dir + "/straight";
  options.checkpoint_dir = straight_dir;
  std::vector<int64_t> evaluation_steps;
  options.interrupt_after_checkpoint = [&](int64_t step) {
    HostStateLimits limits;
    limits.step = step;
    limits.max_batch_size = 16;
    absl::StatusOr<HostState> state = LoadHostState(HostStatePath(straight_dir, step), limits);
    EXPECT_TRUE(state.ok()) << state.status();
    if (state.ok() && state->early_stopping->last_evaluation_step == step) {
      evaluation_steps.push_back(step);
    }
    return false;
  };
  absl::StatusOr<TrainReport> straight = Train(options);
  ASSERT_TRUE(straight.ok()) << straight.status();
  ASSERT_TRUE(straight->early_stopping.has_value());
  const EarlyStoppingReport& stop = *straight->early_stopping;
  // The run must exercise what is tested: patience ran out, the best is not the last step,
  // and the best step's periodic checkpoint fell to the retention.
  ASSERT_TRUE(stop.stopped_early);
  ASSERT_GE(stop.evaluations, 3);
  ASSERT_LT(stop.best_step, straight->trained_steps);
  ASSERT_GE(evaluation_steps.size(), 3u);
  EXPECT_EQ(LatestName(straight_dir), "ckpt-" + std::to_string(stop.best_step) + "\n");
  const std::string straight_parameters = FinalParameters(straight_dir);
  const std::string straight_host_state =
      ReadAll(HostStatePath(straight_dir, stop.best_step));

  // By default: at every evaluation (the state has just changed, at the last one patience
  // ran out) and one step after each.
  if (points.empty()) {
    for (int64_t step : evaluation_steps) points.insert({step, step + 1});
  }
  int runs = 0;
  for (int64_t point : points) {
    if (point < 1 || point > straight->trained_steps) continue;
    SCOPED_TRACE("interrupted after step " + std::to_string(point));
    ++runs;
    const std::string run_dir = dir + "/interrupted-" + std::to_string(point);
    TrainOptions interrupted = options;
    interrupted.checkpoint_dir = run_dir;
    interrupted.interrupt_after_checkpoint = [point](int64_t step) { return step == point; };
    absl::StatusOr<TrainReport> first = Train(interrupted);
    ASSERT_EQ(first.status().code(), absl::StatusCode::kAborted) << first.status();
    TrainOptions resumed_options = options;
    resumed_options.checkpoint_dir = run_dir;
    resumed_options.interrupt_after_checkpoint = nullptr;
    resumed_options.resume = true;
    absl::StatusOr<TrainReport> resumed = Train(resumed_options);
    ASSERT_TRUE(resumed.ok()) << resumed.status();
    EXPECT_EQ(resumed->first_step, point);
    EXPECT_EQ(Comparable(*resumed), Comparable(*straight));
    EXPECT_EQ(LatestName(run_dir), LatestName(straight_dir));
    EXPECT_EQ(FinalParameters(run_dir), straight_parameters);
    EXPECT_EQ(ReadAll(HostStatePath(run_dir, stop.best_step)), straight_host_state);
    EXPECT_EQ(Entries(run_dir + "/best"), Entries(straight_dir + "/best"));
    EXPECT_EQ(ReadAll(run_dir + "/learning_curve.svg"),
              ReadAll(straight_dir + "/learning_curve.svg"));
    std::filesystem::remove_all(run_dir);
  }
  EXPECT_GE(runs, 6);
  std::filesystem::remove_all(dir);
}

TEST(EarlyStoppingResumeTest, InterruptedAtAnyEpochEvaluationEndsLikeTheStraightRun) {
  // Evaluations at the ends of epochs (the recipe's schedule), a checkpoint after every step.
  const std::string dir = MakeFastTempDir();
  ExpectResumedRunsEndLikeTheStraightOne(dir, Options(WriteData(dir, 300), ""), {});
}

TEST(EarlyStoppingResumeTest, InterruptedAtAnyCheckpointEndsLikeTheStraightRun) {
  // Evaluations every 20 steps, checkpoints every 5: interrupted after each checkpoint.
  const std::string dir = MakeFastTempDir();
  TrainOptions options = Options(WriteData(dir, 1000), "");
  options.eval_every = 20;
  options.checkpoint_every = 5;
  std::set<int64_t> points;
  for (int64_t step = 5; step <= 200; step += 5) points.insert(step);
  ExpectResumedRunsEndLikeTheStraightOne(dir, options, points);
}


TEST(EarlyStoppingResumeTest, ResumingTheFinalCheckpointTrainsNothingAndReportsTheSame) {
  const std::string dir = MakeFastTempDir();
  TrainOptions options = Options(WriteData(dir, 300), dir + "/run");
  // Checkpoints newer than the kept step stay beside it; resuming never reaches them.
  options.checkpoint_every = 10;
  absl::StatusOr<TrainReport> first = Train(options);
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_TRUE(first->early_stopping->stopped_early);
  options.resume = true;
  absl::StatusOr<TrainReport> again = Train(options);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(Comparable(*again), Comparable(*first));
  EXPECT_EQ(again->first_step, first->steps);
  EXPECT_GT(first->trained_steps, first->steps + 10);  // newer checkpoints were written
}

TEST(EarlyStoppingResumeTest, MissingKeptParametersOrAnotherMetricIsAnError) {
  const std::string dir = MakeFastTempDir();
  TrainOptions options = Options(WriteData(dir, 300), dir + "/run");
  int64_t interrupted_at = 0;
  options.interrupt_after_checkpoint = [&](int64_t step) {
    // After a few evaluations, so there is a kept best.
    if (!std::filesystem::exists(dir + "/run/best") || step < 30) return false;
    interrupted_at = step;
    return true;
  };
  ASSERT_EQ(Train(options).status().code(), absl::StatusCode::kAborted);
  options.interrupt_after_checkpoint = nullptr;
  options.resume = true;

  TrainOptions other_metric = options;
  other_metric.validation_metric = "mae";
  absl::Status status = Train(other_metric).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_THAT(std::string(status.message()), HasSubstr("--validation_metric=rmse"));

  std::filesystem::remove_all(dir + "/run/best");
  status = Train(options).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss) << status;
  EXPECT_THAT(std::string(status.message()),
              HasSubstr("keeps its best parameters (step "));
  EXPECT_THAT(std::string(status.message()), HasSubstr(dir + "/run/best/ckpt-"));
  EXPECT_GT(interrupted_at, 0);
}

}  // namespace
}  // namespace training
}  // namespace embrt
