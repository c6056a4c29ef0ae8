// Copyright embrt authors.
//
// The `embrt` binary against hostile or careless input (issue 8): a checkpoint never chooses
// the plugin or the sizes, a FIFO never blocks, --resume never starts over or overwrites, host
// state is checked, absurd sizes are errors rather than aborts, and a plugin that dies while
// loading does not take `embrt plugins` with it. Each case is an error (exit code 1, one line
// on stderr) or a correct run; ctest's TIMEOUT turns a hang into a failure.

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <xxhash.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>

#include "absl/strings/str_format.h"
#include "checkpoint_manifest.h"  // core/src: to forge manifests with a valid checksum
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/tools/temp_files.h"

namespace embrt {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

struct CommandResult {
  int exit_code = -1;  // -1: killed by a signal
  std::string out;
  std::string err;
};

std::string ReadAll(const std::string& path) {
  std::stringstream text;
  text << std::ifstream(path).rdbuf();
  return text.str();
}

void WriteAll(const std::string& path, const std::string& contents) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << contents;
}

// Runs `<prefix> embrt <args>` through the shell with stdout and stderr captured.
CommandResult Embrt(const std::string& dir, const std::string& args,
                    const std::string& prefix = "") {
  const std::string out = dir + "/stdout.txt", err = dir + "/stderr.txt";
  const std::string command =
      prefix + " " + std::string(EMBRT_TOOL) + " " + args + " >" + out + " 2>" + err;
  const int status = std::system(command.c_str());
  CommandResult run;
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  run.out = ReadAll(out);
  run.err = ReadAll(err);
  return run;
}

// A small synthetic run: 8 fields of at most 100 rows, batches of 64.
const char kSmallRun[] =
    "train --synthetic_fields=8 --synthetic_cardinality=100 --batch_size=64 "
    "--eval_examples=500 --quiet";

// Trains `steps` steps with a checkpoint every `every` into dir/ckpt.
std::string TrainWithCheckpoints(const std::string& dir, int steps, int every) {
  const std::string root = dir + "/ckpt";
  CommandResult run = Embrt(dir, absl::StrFormat("%s --steps=%d --checkpoint_dir=%s "
                                                 "--checkpoint_every=%d --keep_checkpoints=0",
                                                 kSmallRun, steps, root, every));
  EXPECT_EQ(run.exit_code, 0) << run.err;
  return root;
}

// Rewrites a manifest as an attacker would: edited, with its checksum recomputed.
void ForgeManifest(const std::string& checkpoint,
                   const std::function<void(CheckpointManifest&)>& edit) {
  const std::string path = checkpoint + "/manifest.pb";
  absl::StatusOr<CheckpointManifest> manifest =
      internal::DecodeManifestFile(ReadAll(path), path);
  ASSERT_TRUE(manifest.ok()) << manifest.status();
  edit(*manifest);
  WriteAll(path, internal::EncodeManifestFile(*manifest));
}

// Rewrites a host state file with `key`'s value replaced and its checksum recomputed.
void ForgeHostState(const std::string& path, const std::string& key, const std::string& value) {
  std::istringstream in(ReadAll(path));
  std::string body, line;
  while (std::getline(in, line)) {
    if (line.rfind("xxh3 ", 0) == 0) continue;
    if (line.rfind(key + " ", 0) == 0) line = key + " " + value;
    body += line + "\n";
  }
  body += absl::StrFormat("xxh3 %016x\n", XXH3_64bits(body.data(), body.size()));
  WriteAll(path, body);
}

void ReplaceWithFifo(const std::string& path) {
  std::filesystem::remove_all(path);
  ASSERT_EQ(mkfifo(path.c_str(), 0644), 0) << path;
}

// -- A. A checkpoint never chooses the plugin or the sizes ----------------------------------

TEST(EmbrtHostileInputTest, EvalNeverLoadsThePluginACheckpointNames) {
  const std::string dir = testing_tools::MakeTempDir();
  const std::string root = TrainWithCheckpoints(dir, 4, 4);
  // A library whose constructor would end the process (it could as well run any code).
  const std::string planted = std::string(EMBRT_BROKEN_PLUGINS) + "/libembrt_backend_exits.so";
  ForgeManifest(root + "/ckpt-4",
                [&](CheckpointManifest& m) { m.mutable_config()->mutable_backend()->set_name(planted); });
  CommandResult run = Embrt(dir, "eval " + root);
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_THAT(run.out, HasSubstr("step 4"));
  run = Embrt(dir, "inspect " + root);
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_THAT(run.out, HasSubstr("written with backend " + planted));
}

TEST(EmbrtHostileInputTest, EvalRefusesAbsurdLayoutInAManifest) {
  const std::string dir = testing_tools::MakeTempDir();
  const std::string root = TrainWithCheckpoints(dir, 4, 4);
  ForgeManifest(root + "/ckpt-4",
                [](CheckpointManifest& m) { m.mutable_config()->set_per_replica_batch_size(2000000000); });
  CommandResult run = Embrt(dir, "eval " + root);
  EXPECT_EQ(run.exit_code, 1) << run.err;
  EXPECT_THAT(run.err, HasSubstr("config.per_replica_batch_size 2000000000 is not in"));
  ForgeManifest(root + "/ckpt-4", [](CheckpointManifest& m) {
    m.mutable_config()->set_per_replica_batch_size(64);
    m.mutable_config()->set_num_replicas(100000);
  });
  run = Embrt(dir, "eval " + root);
  EXPECT_EQ(run.exit_code, 1) << run.err;
  EXPECT_THAT(run.err, HasSubstr("config.num_replicas 100000"));
  // A stored config asking for a table far larger than the checkpoint's files.
  ForgeManifest(root + "/ckpt-4", [](CheckpointManifest& m) {
    m.mutable_config()->set_num_replicas(1);
    m.mutable_config()->mutable_tables(0)->set_vocabulary_size(int64_t{1} << 40);
  });
  run = Embrt(dir, "eval " + root);
  EXPECT_EQ(run.exit_code, 1) << run.err;
  EXPECT_THAT(run.err, HasSubstr("has vocabulary_size"));
  EXPECT_THAT(run.err, HasSubstr("the engine's has 1099511627776"));
}

// -- C. A FIFO never blocks ------------------------------------------------------------------

TEST(EmbrtHostileInputTest, FifoInsteadOfLatestManifestOrTableIsAnError) {
  const std::string dir = testing_tools::MakeTempDir();
  const std::string root = TrainWithCheckpoints(dir, 4, 4);
  ReplaceWithFifo(root + "/latest");
  CommandResult run = Embrt(dir, "inspect " + root);
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_THAT(run.err, HasSubstr("latest is a FIFO"));
  run = Embrt(dir, "eval " + root);
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_THAT(run.err, HasSubstr("latest is a FIFO"));
  run = Embrt(dir, std::string(kSmallRun) + " --steps=8 --resume --checkpoint_dir=" + root);
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_THAT(run.err, HasSubstr("latest is a FIFO"));

  ReplaceWithFifo(root + "/ckpt-4/manifest.pb");
  run = Embrt(dir, "inspect " + root + "/ckpt-4");
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_THAT(run.err, HasSubstr("manifest.pb is a FIFO"));
}

TEST(EmbrtHostileInputTest, FifoInsteadOfATableFileOrHostStateIsAnError) {
  const std::string dir = testing_tools::MakeTempDir();
  const std::string root = TrainWithCheckpoints(dir, 4, 4);
  ReplaceWithFifo(root + "/host-4.txt");
  CommandResult run = Embrt(dir, "eval " + root);
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_THAT(run.err, HasSubstr("host-4.txt is a FIFO"));
  ReplaceWithFifo(root + "/ckpt-4/C1/parameters.f32");
  run = Embrt(dir, "inspect " + root);
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_THAT(run.err, HasSubstr("C1/parameters.f32 is a FIFO"));
}

TEST(EmbrtHostileInputTest, FifoAsDataOrConfigIsAnError) {
  const std::string dir = testing_tools::MakeTempDir();
  ReplaceWithFifo(dir + "/data.tsv");
  CommandResult run = Embrt(dir, "train --format=tsv --tsv_columns=label,user:id,ad:id,country:cat,past_clicks:int,- "
                                     "--config=" +
                                     std::string(EMBRT_SOURCE_DIR) +
                                     "/examples/configs/tsv.textproto --quiet --data=" + dir +
                                     "/data.tsv");
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_THAT(run.err, HasSubstr("is a FIFO"));
  ReplaceWithFifo(dir + "/config.textproto");
  run = Embrt(dir, std::string(kSmallRun) + " --steps=2 --config=" + dir + "/config.textproto");
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_THAT(run.err, HasSubstr("config.textproto is a FIFO"));
}

// -- D. --resume never starts over and never overwrites ---------------------------------------

TEST(EmbrtHostileInputTest, ResumeWithoutLatestTakesTheNewestCheckpoint) {
  const std::string dir = testing_tools::MakeTempDir();
  const std::string root = TrainWithCheckpoints(dir, 10, 5);
  const std::string ckpt5 = ReadAll(root + "/ckpt-5/manifest.pb");
  ASSERT_TRUE(std::filesystem::remove(root + "/latest"));
  CommandResult run = Embrt(dir, std::string(kSmallRun) + " --steps=15 --checkpoint_every=5 "
                                 "--resume --checkpoint_dir=" + root + " --output_json=" + dir +
                                 "/resumed.json");
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_THAT(ReadAll(dir + "/resumed.json"), HasSubstr("\"first_step\": 10,"));
  EXPECT_EQ(ReadAll(root + "/ckpt-5/manifest.pb"), ckpt5);
  EXPECT_TRUE(std::filesystem::exists(root + "/ckpt-15"));
}

TEST(EmbrtHostileInputTest, ResumeRefusesABrokenNewestCheckpointNamingIt) {
  const std::string dir = testing_tools::MakeTempDir();
  const std::string root = TrainWithCheckpoints(dir, 10, 5);
  ASSERT_TRUE(std::filesystem::remove(root + "/latest"));
  std::string bytes = ReadAll(root + "/ckpt-10/C1/parameters.f32");
  bytes[5] ^= 0x40;
  WriteAll(root + "/ckpt-10/C1/parameters.f32", bytes);
  CommandResult run =
      Embrt(dir, std::string(kSmallRun) + " --steps=15 --resume --checkpoint_dir=" + root);
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_THAT(run.err, HasSubstr("ckpt-10"));
  EXPECT_THAT(run.err, HasSubstr("corrupt"));
  EXPECT_THAT(run.err, HasSubstr("ckpt-10, ckpt-5"));
  EXPECT_EQ(ReadAll(root + "/ckpt-10/C1/parameters.f32"), bytes);
}

TEST(EmbrtHostileInputTest, TrainingIntoADirectoryWithCheckpointsNeverOverwritesThem) {
  const std::string dir = testing_tools::MakeTempDir();
  const std::string root = TrainWithCheckpoints(dir, 10, 5);
  const std::string ckpt5 = ReadAll(root + "/ckpt-5/manifest.pb");
  const std::string host5 = ReadAll(root + "/host-5.txt");
  CommandResult run = Embrt(dir, std::string(kSmallRun) + " --steps=10 --checkpoint_every=5 "
                                 "--checkpoint_dir=" + root);
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_THAT(run.err, HasSubstr("already holds checkpoints (ckpt-10, ckpt-5)"));
  EXPECT_EQ(ReadAll(root + "/ckpt-5/manifest.pb"), ckpt5);
  EXPECT_EQ(ReadAll(root + "/host-5.txt"), host5);
}

// -- I. Host state is checked ------------------------------------------------------------------

TEST(EmbrtHostileInputTest, HostStateWithAbsurdExamplesSeenIsRefusedAtOnce) {
  const std::string dir = testing_tools::MakeTempDir();
  const std::string root = TrainWithCheckpoints(dir, 4, 4);
  ForgeHostState(root + "/host-4.txt", "examples_seen", "1000000000000000000");
  CommandResult run =
      Embrt(dir, std::string(kSmallRun) + " --steps=8 --resume --checkpoint_dir=" + root);
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_THAT(run.err, HasSubstr("examples_seen 1000000000000000000, not in [4, 256]"));
  ForgeHostState(root + "/host-4.txt", "examples_seen", "256");
  ForgeHostState(root + "/host-4.txt", "step", "3");
  run = Embrt(dir, "eval " + root);
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_THAT(run.err, HasSubstr("is of step 3, its checkpoint of step 4"));
}

TEST(EmbrtHostileInputTest, HostStateWithAFlippedByteIsDataLoss) {
  const std::string dir = testing_tools::MakeTempDir();
  const std::string root = TrainWithCheckpoints(dir, 4, 4);
  std::string text = ReadAll(root + "/host-4.txt");
  text[text.find("examples_seen ") + 14] ^= 1;
  WriteAll(root + "/host-4.txt", text);
  CommandResult run = Embrt(dir, "eval " + root);
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_THAT(run.err, HasSubstr("checksum mismatch"));
}

// -- E and minor: sizes from flags and configs --------------------------------------------------

TEST(EmbrtHostileInputTest, AbsurdBatchSizeIsAnErrorNotAnAbort) {
  const std::string dir = testing_tools::MakeTempDir();
  // Beyond the flag's range: refused before anything is sized by it.
  CommandResult run = Embrt(dir, std::string(kSmallRun) + " --steps=1 --batch_size=2000000000");
  EXPECT_EQ(run.exit_code, 1) << run.err;
  EXPECT_THAT(run.err, HasSubstr("--batch_size=2000000000: out of range [0, 16777216]"));
}

TEST(EmbrtHostileInputTest, BatchSizeBeyondAnAddressSpaceLimitIsAnError) {
#if defined(EMBRT_SANITIZED_BUILD) || defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "sanitizers reserve terabytes of address space: no RLIMIT_AS under them";
#endif
  const std::string dir = testing_tools::MakeTempDir();
  // 16M examples need several GB of step buffers; the limit allows 4 GiB.
  CommandResult run = Embrt(dir, std::string(kSmallRun) + " --steps=1 --batch_size=16000000",
                            "ulimit -v 4194304 &&");
  EXPECT_EQ(run.exit_code, 1) << run.err;
  EXPECT_THAT(run.err, HasSubstr("batch size 16000000"));
  EXPECT_THAT(run.err, HasSubstr("more than the 4294967296 bytes this process may use"));
}

TEST(EmbrtHostileInputTest, NegativeBatchSizeInAConfigIsAnError) {
  const std::string dir = testing_tools::MakeTempDir();
  const std::string config = testing_tools::WriteFile(
      dir, "config.textproto",
      "tables { name: \"t\" vocabulary_size: 10 dim: 4 } features { name: \"C1\" table: \"t\" } "
      "per_replica_batch_size: -1");
  CommandResult run = Embrt(dir, std::string(kSmallRun) + " --steps=1 --config=" + config);
  EXPECT_EQ(run.exit_code, 1) << run.err;
  EXPECT_THAT(run.err, HasSubstr("per_replica_batch_size must be >= 0"));
  EXPECT_THAT(run.err, HasSubstr("got -1"));
}

// -- Plugins that die while loading -------------------------------------------------------------

TEST(EmbrtHostileInputTest, PluginsListsALibraryThatExitsOrAbortsWhileLoading) {
  const std::string dir = testing_tools::MakeTempDir();
  const char* plugins = std::getenv("EMBRT_PLUGIN_PATH");
  const std::string path =
      std::string(EMBRT_BROKEN_PLUGINS) + (plugins != nullptr ? std::string(":") + plugins : "");
  CommandResult run = Embrt(dir, "plugins", "EMBRT_PLUGIN_PATH='" + path + "'");
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_THAT(run.out, HasSubstr("exits\n  path: "));
  EXPECT_THAT(run.out, HasSubstr("cannot load: the library ended the process with exit status 3"));
  EXPECT_THAT(run.out, HasSubstr("aborts\n  path: "));
  EXPECT_THAT(run.out, HasSubstr("cannot load: the library killed the process with signal 6 "
                                 "(SIGABRT)"));
  if (plugins != nullptr) {
    EXPECT_THAT(run.out, HasSubstr("libembrt_backend_cpu.so"));
  }
}

}  // namespace
}  // namespace embrt
