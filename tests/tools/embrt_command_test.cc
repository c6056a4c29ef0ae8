// Copyright embrt authors.
//
// The `embrt` binary end to end: bad input (one line on stderr, exit code 1, nothing left
// behind), checkpoints with resume, eval and inspect, determinism run to run (cpu and mock),
// and the plugins and conformance subcommands.

#include <sys/stat.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/tools/temp_files.h"

namespace embrt {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

struct CommandResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

std::string ReadAll(const std::string& path) {
  std::stringstream text;
  text << std::ifstream(path).rdbuf();
  return text.str();
}

// Runs `embrt <args>` with stdout and stderr captured.
CommandResult Embrt(const std::string& dir, const std::string& args) {
  const std::string out = dir + "/stdout.txt", err = dir + "/stderr.txt";
  const std::string command =
      std::string(EMBRT_TOOL) + " " + args + " >" + out + " 2>" + err;
  const int status = std::system(command.c_str());
  CommandResult run;
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  run.out = ReadAll(out);
  run.err = ReadAll(err);
  return run;
}

int Lines(const std::string& text) {
  return static_cast<int>(std::count(text.begin(), text.end(), '\n'));
}

std::string Source(const std::string& relative) {
  return std::string(EMBRT_SOURCE_DIR) + "/" + relative;
}

// The JSON report without its first member, "command_line" (it names the output file), and
// its last, "timing" (the only clock-dependent values).
std::string WithoutTiming(const std::string& json) {
  const size_t start = json.find('\n', json.find("\"command_line\""));
  return json.substr(start, json.find("\"timing\"") - start);
}

// A member of the JSON report, e.g. "eval": {...} up to the end of its line.
std::string Member(const std::string& json, const std::string& name) {
  const size_t at = json.find("\"" + name + "\":");
  if (at == std::string::npos) return "";
  return json.substr(at, json.find('\n', at) - at);
}

// A small synthetic run: 8 fields of at most 100 rows, batches of 256.
const char kSmallRun[] =
    "train --synthetic_fields=8 --synthetic_cardinality=100 --batch_size=256 "
    "--eval_examples=5000 --quiet";

TEST(EmbrtCommandTest, UnknownFlagIsOneLineAndExitCode1) {
  const std::string dir = testing_tools::MakeTempDir();
  CommandResult run = Embrt(dir, "train --bogus=3");
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_EQ(Lines(run.err), 1) << run.err;
  EXPECT_THAT(run.err, HasSubstr("embrt train: unknown flag '--bogus=3'"));
  run = Embrt(dir, "frobnicate");
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_THAT(run.err, HasSubstr("unknown command 'frobnicate'"));
  run = Embrt(dir, "train --steps=many");
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_THAT(run.err, HasSubstr("--steps=many: expected an integer"));
}

TEST(EmbrtCommandTest, MissingDataFileLeavesNoCheckpoint) {
  const std::string dir = testing_tools::MakeTempDir();
  CommandResult run = Embrt(dir, "train --config=" + Source("examples/configs/criteo.textproto") +
                           " --format=criteo --data=" + dir + "/missing.txt --checkpoint_dir=" +
                           dir + "/ckpt");
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_EQ(Lines(run.err), 1) << run.err;
  EXPECT_THAT(run.err, HasSubstr("cannot open Criteo data file '" + dir + "/missing.txt'"));
  EXPECT_FALSE(std::filesystem::exists(dir + "/ckpt"));
}

TEST(EmbrtCommandTest, ConfigThatDoesNotParseNamesLineAndColumn) {
  const std::string dir = testing_tools::MakeTempDir();
  const std::string config = testing_tools::WriteFile(
      dir, "bad.textproto", "tables {\n  name: \"a\"\n  vocabulary_size: lots\n}\n");
  CommandResult run = Embrt(dir, "train --config=" + config + " --checkpoint_dir=" + dir + "/ckpt");
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_EQ(Lines(run.err), 1) << run.err;
  EXPECT_THAT(run.err, HasSubstr("bad.textproto"));
  EXPECT_THAT(run.err, HasSubstr("line 3, column"));
  EXPECT_FALSE(std::filesystem::exists(dir + "/ckpt"));

  run = Embrt(dir, "train --config=" + dir + "/nonexistent.textproto");
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_THAT(run.err, HasSubstr("nonexistent.textproto"));
}

TEST(EmbrtCommandTest, DataOfTheWrongFormatLeavesNoCheckpoint) {
  const std::string dir = testing_tools::MakeTempDir();
  std::string ratings;
  for (int i = 1; i <= 300; ++i) ratings += std::to_string(i) + "\t242\t3\t881250949\n";
  const std::string data = testing_tools::WriteFile(dir, "u.data", ratings);
  CommandResult run = Embrt(dir, "train --config=" + Source("examples/configs/criteo.textproto") +
                           " --format=criteo --data=" + data + " --checkpoint_dir=" + dir +
                           "/ckpt --checkpoint_every=1 --quiet");
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_EQ(Lines(run.err), 1) << run.err;
  EXPECT_THAT(run.err, HasSubstr("does not look like Criteo data"));
  EXPECT_THAT(run.err, HasSubstr("u.data:"));
  EXPECT_FALSE(std::filesystem::exists(dir + "/ckpt"));
}

TEST(EmbrtCommandTest, EmptyDataFileIsAnError) {
  const std::string dir = testing_tools::MakeTempDir();
  const std::string data = testing_tools::WriteFile(dir, "empty.data", "");
  CommandResult run =
      Embrt(dir, "train --config=" + Source("examples/configs/movielens.textproto") +
                     " --format=movielens --data=" + data + " --eval_data=" + data +
                     " --checkpoint_dir=" + dir + "/ckpt --quiet");
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_EQ(Lines(run.err), 1) << run.err;
  EXPECT_THAT(run.err, HasSubstr("no training example in '" + data + "'"));
  EXPECT_FALSE(std::filesystem::exists(dir + "/ckpt"));
}

TEST(EmbrtCommandTest, BadLinesAreSkippedAndCountedOrFatal) {
  const std::string dir = testing_tools::MakeTempDir();
  std::string ratings;
  for (int i = 1; i <= 200; ++i) ratings += std::to_string(i % 50 + 1) + "\t7\t4\t1\n";
  ratings += "1\t2\tseven\t3\n";
  const std::string data = testing_tools::WriteFile(dir, "u.data", ratings);
  const std::string base = "train --config=" + Source("examples/configs/movielens.textproto") +
                           " --format=movielens --data=" + data + " --quiet";
  CommandResult run = Embrt(dir, base);
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_THAT(run.out, HasSubstr("bad lines    1 skipped (train 1, validation 0, eval 0), e.g. " +
                                 data + ":201: rating 'seven' is not a number"));
  run = Embrt(dir, base + " --on_bad_line=fail");
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_EQ(Lines(run.err), 1) << run.err;
  EXPECT_THAT(run.err, HasSubstr(data + ":201: rating 'seven'"));
}

// `count` ratings "user item rating timestamp" of a small biased-MF world (integers 1..5).
std::string Ratings(int count, int seed) {
  std::string text;
  uint64_t state = static_cast<uint64_t>(seed) * 2654435761u + 1;
  for (int n = 0; n < count; ++n) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    const int user = 1 + static_cast<int>((state >> 33) % 100);
    const int item = 1 + static_cast<int>((state >> 13) % 200);
    const int rating = 1 + (user % 2 + item % 3 + static_cast<int>((state >> 50) % 2));
    text += std::to_string(user) + "\t" + std::to_string(item) + "\t" +
            std::to_string(rating) + "\t" + std::to_string(880000000 + n) + "\n";
  }
  return text;
}

TEST(EmbrtCommandTest, EvalDataBadLinesAreCountedAndReported) {
  const std::string dir = testing_tools::MakeTempDir();
  const std::string train = testing_tools::WriteFile(dir, "u.base", Ratings(400, 1));
  const std::string eval = testing_tools::WriteFile(
      dir, "u.test", Ratings(50, 2) + "1\tx\t3\t1\n" + Ratings(10, 3) + "2\t3\n");
  CommandResult run =
      Embrt(dir, "train --config=" + Source("examples/configs/movielens.textproto") +
                     " --format=movielens --data=" + train + " --eval_data=" + eval +
                     " --quiet --output_json=" + dir + "/run.json");
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_THAT(run.out, HasSubstr("bad lines    2 skipped (train 0, validation 0, eval 2), e.g. " +
                                 eval + ":51: item id 'x' is not an integer"));
  const std::string json = ReadAll(dir + "/run.json");
  EXPECT_THAT(json, HasSubstr("\"bad_lines\": 2,"));
  EXPECT_THAT(json, HasSubstr(eval + ":62: 2 fields"));
  EXPECT_THAT(json, HasSubstr("\"eval\": {\"examples\": 60,"));
}

TEST(EmbrtCommandTest, BadEvalFileFailsBeforeTrainingAndLeavesNoCheckpoint) {
  const std::string dir = testing_tools::MakeTempDir();
  const std::string train = testing_tools::WriteFile(dir, "u.base", Ratings(400, 1));
  const std::string binary = testing_tools::WriteFile(dir, "u.bin",
                                                      std::string("\x7f"
                                                                  "ELF\0\0\x01",
                                                                  7) +
                                                          std::string(3000, '\xff'));
  const std::string empty = testing_tools::WriteFile(dir, "u.empty", "");
  std::string garbage;
  for (int i = 0; i < 150; ++i) garbage += "not a rating line\n";
  const std::string wrong = testing_tools::WriteFile(dir, "u.wrong", garbage);
  const std::string fifo = dir + "/u.fifo";  // would block a reader that waited for a writer
  ASSERT_EQ(mkfifo(fifo.c_str(), 0644), 0);
  struct Case {
    std::string eval;
    std::string message;
  };
  for (const Case& c :
       {Case{binary,
             "eval data file '" + binary + "' is binary, not text (a NUL byte at offset 4)"},
        Case{empty, "--eval_data '" + empty + "' holds no example"},
        Case{dir + "/missing", "cannot open MovieLens data file '" + dir + "/missing'"},
        Case{fifo, "eval data file: " + fifo + " is a FIFO, not a regular file"},
        Case{dir, "eval data file: " + dir + " is a directory, not a regular file"},
        Case{wrong,
             "'" + wrong +
                 "' does not look like MovieLens data: the first 100 lines are all malformed"}}) {
    // Many epochs: a late failure would be seen as a slow test and a checkpoint left behind.
    CommandResult run = Embrt(
        dir, "train --config=" + Source("examples/configs/movielens.textproto") +
                 " --format=movielens --data=" + train + " --eval_data=" + c.eval +
                 " --epochs=1000 --checkpoint_dir=" + dir + "/ckpt --checkpoint_every=1 --quiet");
    EXPECT_EQ(run.exit_code, 1) << c.eval;
    EXPECT_EQ(Lines(run.err), 1) << run.err;
    EXPECT_THAT(run.err, HasSubstr(c.message));
    EXPECT_FALSE(std::filesystem::exists(dir + "/ckpt")) << c.eval;
  }
}

TEST(EmbrtCommandTest, RatingsOutsideTheRangeAreBadLines) {
  const std::string dir = testing_tools::MakeTempDir();
  const std::string data = testing_tools::WriteFile(
      dir, "u.data", Ratings(300, 1) + "1\t2\t50\t1\n3\t4\t-7\t1\n5\t6\t1e30\t1\n");
  const std::string base = "train --config=" + Source("examples/configs/movielens.textproto") +
                           " --format=movielens --data=" + data + " --quiet";
  CommandResult run = Embrt(dir, base);
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_THAT(run.out, HasSubstr("bad lines    3 skipped"));
  EXPECT_THAT(run.out, HasSubstr(":301: rating 50 is outside --rating_range 1..5"));
  run = Embrt(dir, base + " --rating_range=-10..100");  // 1e30 is still out
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_THAT(run.out, HasSubstr("bad lines    1 skipped"));
  for (const char* range : {"5..1", "1..", "a..b", "1..inf", "nan..5"}) {
    run = Embrt(dir, base + " --rating_range=" + range);
    EXPECT_EQ(run.exit_code, 1) << range;
    EXPECT_THAT(run.err, HasSubstr("--rating_range=")) << range;
  }
}

TEST(EmbrtCommandTest, NumericFlagsMustBeFiniteAndInRange) {
  const std::string dir = testing_tools::MakeTempDir();
  for (const char* flag :
       {"--learning_rate=nan", "--learning_rate=inf", "--learning_rate=-1", "--steps=-5",
        "--batch_size=-1", "--holdout_every=1", "--synthetic_fields=27",
        "--validation_fraction=1", "--validation_fraction=nan", "--patience=-1",
        "--min_delta=-0.1", "--shuffle_buffer=-2", "--eval_every=-3", "--seed=-1"}) {
    CommandResult run = Embrt(dir, std::string("train ") + flag);
    EXPECT_EQ(run.exit_code, 1) << flag;
    EXPECT_EQ(Lines(run.err), 1) << run.err;
    const std::string name = std::string(flag).substr(0, std::string(flag).find('='));
    EXPECT_THAT(run.err, HasSubstr(std::string(flag) + ": ")) << name;
  }
}

TEST(EmbrtCommandTest, ConfigBatchSizeOutOfRangeIsAnError) {
  const std::string dir = testing_tools::MakeTempDir();
  std::string config = ReadAll(Source("examples/configs/movielens.textproto"));
  config.replace(config.find("per_replica_batch_size: 16"), 26, "per_replica_batch_size: -1");
  const std::string path = testing_tools::WriteFile(dir, "bad.textproto", config);
  const std::string data = testing_tools::WriteFile(dir, "u.data", Ratings(100, 1));
  CommandResult run = Embrt(dir, "train --config=" + path + " --format=movielens --data=" + data);
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_THAT(run.err, HasSubstr("per_replica_batch_size"));
}

TEST(EmbrtCommandTest, EarlyStoppingKeepsTheBestAndReportsIt) {
  const std::string dir = testing_tools::MakeTempDir();
  const std::string train = testing_tools::WriteFile(dir, "u.base", Ratings(3000, 1));
  const std::string test = testing_tools::WriteFile(dir, "u.test", Ratings(500, 2));
  // A large learning rate overfits quickly: the best epoch comes early.
  const std::string base = "train --config=" + Source("examples/configs/movielens.textproto") +
                           " --format=movielens --data=" + train + " --eval_data=" + test +
                           " --epochs=30 --validation_fraction=0.2 --patience=2 --quiet"
                           " --learning_rate=0.5 --checkpoint_dir=" + dir + "/ckpt";
  CommandResult run = Embrt(dir, base + " --output_json=" + dir + "/a.json");
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_THAT(run.out, HasSubstr("  validation   "));
  EXPECT_THAT(run.out, HasSubstr("kept the best rmse"));
  EXPECT_THAT(run.out, HasSubstr("stopped early"));
  const std::string json = ReadAll(dir + "/a.json");
  EXPECT_THAT(json, HasSubstr("\"stopped_early\": true"));
  EXPECT_THAT(json, HasSubstr("\"command_line\": \"embrt train --config="));
  EXPECT_THAT(json, HasSubstr("\"seed\": 1,"));
  // The kept step is the latest checkpoint, and evaluating it gives the reported test metric.
  const std::string stopping = Member(json, "early_stopping");
  const size_t at = stopping.find("\"best_step\": ") + 13;
  const std::string best_step = stopping.substr(at, stopping.find(',', at) - at);
  EXPECT_EQ(ReadAll(dir + "/ckpt/latest"), "ckpt-" + best_step + "\n");
  EXPECT_THAT(json, HasSubstr("\"steps\": " + best_step + ","));
  run = Embrt(dir, "eval " + dir + "/ckpt --eval_data=" + test + " --output_json=" + dir +
                       "/eval.json");
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(Member(ReadAll(dir + "/eval.json"), "eval"), Member(json, "eval"));
  // The kept parameters were also written when found, under best/ (beyond the retention).
  EXPECT_EQ(ReadAll(dir + "/ckpt/best/latest"), "ckpt-" + best_step + "\n");
  run = Embrt(dir, "eval " + dir + "/ckpt/best --eval_data=" + test + " --output_json=" + dir +
                       "/best.json");
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(Member(ReadAll(dir + "/best.json"), "eval"), Member(json, "eval"));
  // The split is the training file's, seeded: a second run is identical.
  run = Embrt(dir, base + "2 --output_json=" + dir + "/b.json");
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(Member(ReadAll(dir + "/b.json"), "validation"), Member(json, "validation"));
  EXPECT_EQ(Member(ReadAll(dir + "/b.json"), "eval"), Member(json, "eval"));
}

TEST(EmbrtCommandTest, ShuffledFileRunsResumeBitIdentically) {
  const std::string dir = testing_tools::MakeTempDir();
  const std::string train = testing_tools::WriteFile(dir, "u.base", Ratings(2000, 1));
  const std::string base = "train --config=" + Source("examples/configs/movielens.textproto") +
                           " --format=movielens --data=" + train +
                           " --shuffle_buffer=300 --quiet --eval_every=50";
  CommandResult run = Embrt(dir, base + " --steps=300 --output_json=" + dir + "/straight.json");
  ASSERT_EQ(run.exit_code, 0) << run.err;
  run = Embrt(dir, base + " --steps=150 --checkpoint_dir=" + dir + "/ckpt");
  ASSERT_EQ(run.exit_code, 0) << run.err;
  run = Embrt(dir, base + " --steps=300 --checkpoint_dir=" + dir + "/ckpt --resume --output_json=" +
                       dir + "/resumed.json");
  ASSERT_EQ(run.exit_code, 0) << run.err;
  const std::string straight = ReadAll(dir + "/straight.json");
  const std::string resumed = ReadAll(dir + "/resumed.json");
  EXPECT_EQ(Member(resumed, "eval"), Member(straight, "eval"));
  EXPECT_EQ(Member(resumed, "bias"), Member(straight, "bias"));
  // Another shuffle seed is another order, and another model.
  run = Embrt(dir, base + " --steps=300 --seed=2 --output_json=" + dir + "/seed2.json");
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_NE(Member(ReadAll(dir + "/seed2.json"), "bias"), Member(straight, "bias"));
}

TEST(EmbrtCommandTest, CheckpointResumeEvalAndInspect) {
  const std::string dir = testing_tools::MakeTempDir();
  const std::string ckpt = dir + "/ckpt";
  // 60 steps in one go.
  CommandResult run =
      Embrt(dir, std::string(kSmallRun) + " --steps=60 --eval_every=20 --output_json=" + dir +
                     "/straight.json");
  ASSERT_EQ(run.exit_code, 0) << run.err;
  // 40 steps with checkpoints every 20, then resumed up to 60.
  run = Embrt(dir, std::string(kSmallRun) + " --steps=40 --eval_every=20 --checkpoint_dir=" +
                       ckpt + " --checkpoint_every=20 --output_json=" + dir + "/first.json");
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_TRUE(std::filesystem::exists(ckpt + "/ckpt-20"));
  EXPECT_TRUE(std::filesystem::exists(ckpt + "/ckpt-40"));
  EXPECT_TRUE(std::filesystem::exists(ckpt + "/host-40.txt"));
  EXPECT_TRUE(std::filesystem::exists(ckpt + "/learning_curve.svg"));
  EXPECT_EQ(ReadAll(ckpt + "/latest").substr(0, 7), "ckpt-40");

  run = Embrt(dir, "eval " + ckpt + " --eval_examples=5000 --output_json=" + dir + "/eval.json");
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_THAT(run.out, HasSubstr("step 40"));
  // The restored model evaluates exactly like the one that was trained.
  EXPECT_EQ(Member(ReadAll(dir + "/eval.json"), "eval"),
            Member(ReadAll(dir + "/first.json"), "eval"));

  run = Embrt(dir, "inspect " + ckpt);
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_THAT(run.out, HasSubstr("step 40"));
  EXPECT_THAT(run.out, HasSubstr("table C1"));
  EXPECT_THAT(run.out, HasSubstr("accumulators"));
  EXPECT_THAT(run.out, HasSubstr("L2 norm"));
  EXPECT_THAT(run.out, HasSubstr("host state: global bias"));

  run = Embrt(dir, std::string(kSmallRun) + " --steps=60 --eval_every=20 --checkpoint_dir=" +
                       ckpt + " --checkpoint_every=20 --resume --output_json=" + dir +
                       "/resumed.json");
  ASSERT_EQ(run.exit_code, 0) << run.err;
  const std::string resumed = ReadAll(dir + "/resumed.json");
  EXPECT_THAT(resumed, HasSubstr("\"first_step\": 40,"));
  EXPECT_THAT(resumed, HasSubstr("\"steps\": 60,"));
  // Stopping and resuming changes nothing: same tables, bias, data position, and the curve
  // of the whole run (saved beside each checkpoint).
  const std::string straight = ReadAll(dir + "/straight.json");
  EXPECT_EQ(Member(resumed, "eval"), Member(straight, "eval"));
  EXPECT_EQ(Member(resumed, "bias"), Member(straight, "bias"));
  EXPECT_EQ(Member(resumed, "curve"), Member(straight, "curve"));
  EXPECT_EQ(Member(resumed, "train_loss"), Member(straight, "train_loss"));
  EXPECT_TRUE(std::filesystem::exists(ckpt + "/ckpt-60"));
}

// `extra` adapts the run to the backend (the mock implements SGD only).
void ExpectBitIdenticalRuns(const std::string& backend, const std::string& extra) {
  const std::string dir = testing_tools::MakeTempDir();
  for (const char* name : {"a", "b"}) {
    CommandResult run =
        Embrt(dir, std::string(kSmallRun) + " --steps=30 --eval_every=10 --backend=" + backend +
                       extra + " --output_json=" + dir + "/" + name + ".json");
    ASSERT_EQ(run.exit_code, 0) << run.err;
  }
  const std::string a = ReadAll(dir + "/a.json"), b = ReadAll(dir + "/b.json");
  EXPECT_THAT(a, HasSubstr("\"steps\": 30,"));
  EXPECT_THAT(a, HasSubstr("\"timing\""));
  EXPECT_EQ(WithoutTiming(a), WithoutTiming(b));
}

TEST(EmbrtCommandTest, CpuRunsAreBitIdentical) { ExpectBitIdenticalRuns("cpu", ""); }

TEST(EmbrtCommandTest, MockRunsFinishAndAreBitIdentical) {
  const char* plugins = std::getenv("EMBRT_PLUGIN_PATH");
  if (plugins == nullptr ||
      !std::filesystem::exists(std::string(plugins) + "/libembrt_backend_mock.so")) {
    GTEST_SKIP() << "the mock backend (libembrt_backend_mock.so) is not built";
  }
  const std::string dir = testing_tools::MakeTempDir();
  CommandResult run = Embrt(dir, std::string(kSmallRun) + " --steps=2 --backend=mock");
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_THAT(run.err, HasSubstr("does not support optimizer 'adagrad'"));
  ExpectBitIdenticalRuns("mock", " --optimizer=sgd --learning_rate=0.001");
}

TEST(EmbrtCommandTest, DivergenceIsReportedWithAHint) {
  const std::string dir = testing_tools::MakeTempDir();
  CommandResult run = Embrt(dir, std::string(kSmallRun) + " --steps=200 --optimizer=sgd "
                                 "--learning_rate=1000");
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_EQ(Lines(run.err), 1) << run.err;
  EXPECT_THAT(run.err, HasSubstr("training diverged at step"));
  EXPECT_THAT(run.err, HasSubstr("--learning_rate"));
}

TEST(EmbrtCommandTest, PluginsListsTheCpuBackend) {
  const std::string dir = testing_tools::MakeTempDir();
  CommandResult run = Embrt(dir, "plugins");
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_THAT(run.out, HasSubstr("search path"));
  EXPECT_THAT(run.out, HasSubstr("libembrt_backend_cpu.so"));
  EXPECT_THAT(run.out, Not(HasSubstr("cannot load")));
}

TEST(EmbrtCommandTest, ConformanceNeedsAPlugin) {
  const std::string dir = testing_tools::MakeTempDir();
  CommandResult run = Embrt(dir, "conformance");
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_THAT(run.err, HasSubstr("--plugin=PATH is required"));
}

TEST(EmbrtCommandTest, ConformanceRunsTheSuiteOnANamedBackend) {
  const std::string suite =
      std::filesystem::path(EMBRT_TOOL).parent_path().string() +
      "/../tests/conformance/embrt_conformance";
  if (!std::filesystem::exists(suite)) {
    GTEST_SKIP() << "the conformance suite (" << suite << ") is not built";
  }
  const std::string dir = testing_tools::MakeTempDir();
  CommandResult run = Embrt(dir, "conformance --plugin=mock");
  EXPECT_EQ(run.exit_code, 0) << run.out << run.err;
  EXPECT_THAT(run.out, HasSubstr("AbiConformanceTest.GetPluginApiServesAbiOne/mock"));
  EXPECT_THAT(run.out, HasSubstr("PASSED"));
  run = Embrt(dir, "conformance --plugin=nosuchbackend");
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_THAT(run.err, HasSubstr("nosuchbackend"));
}

TEST(EmbrtCommandTest, HelpListsTheFlags) {
  const std::string dir = testing_tools::MakeTempDir();
  CommandResult run = Embrt(dir, "train --help");
  EXPECT_EQ(run.exit_code, 0);
  for (const char* flag : {"--config", "--backend", "--data", "--eval_data", "--format",
                           "--steps", "--epochs", "--batch_size", "--checkpoint_dir",
                           "--checkpoint_every", "--resume", "--output_json", "--seed",
                           "--on_bad_line", "--plot", "--validation_fraction", "--patience",
                           "--shuffle_buffer", "--rating_range", "--validation_metric"}) {
    EXPECT_THAT(run.out, HasSubstr(flag));
  }
}

}  // namespace
}  // namespace embrt
