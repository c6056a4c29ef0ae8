// Copyright embrt authors.
//
// A writer killed at random points (SIGKILL, so no cleanup runs) never damages the checkpoint
// `latest` names: after every kill the root opens, verifies and holds exactly the values of
// the step it claims, and the next save succeeds.

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <random>
#include <thread>

#include "checkpoint_test_util.h"

namespace embrt {
namespace {

using testing_util::ResolveOrDie;
using testing_util::SyntheticTables;
using testing_util::TempDir;

constexpr char kConfig[] = R"pb(
  tables { name: "video" vocabulary_size: 3000 dim: 16 optimizer { adam {} } }
  tables { name: "user" vocabulary_size: 1001 dim: 8 optimizer { sgd {} } }
  features { table: "video" } features { table: "user" }
)pb";

// Saves steps first_step, first_step + 1, ... forever; the parent kills it.
[[noreturn]] void SaveForever(const ResolvedConfig& config, const std::string& root,
                              int64_t first_step) {
  CheckpointOptions options;
  options.keep_last = 2;
  for (int64_t step = first_step;; ++step) {
    const SyntheticTables tables = SyntheticTables::Make(config, step);
    if (!WriteCheckpoint(config, step, tables.AsRetrieve(config), root, options).ok()) _exit(3);
  }
}

void ExpectIntactCheckpoint(const ResolvedConfig& config, const std::string& root) {
  absl::StatusOr<std::unique_ptr<CheckpointReader>> reader = CheckpointReader::Open(root);
  ASSERT_TRUE(reader.ok()) << reader.status();
  ASSERT_TRUE((*reader)->CheckCompatible(config).ok());
  const int64_t step = (*reader)->step();
  EXPECT_EQ((*reader)->path(), absl::StrCat(root, "/ckpt-", step));
  const SyntheticTables expected = SyntheticTables::Make(config, step);
  for (int t = 0; t < 2; ++t) {
    for (size_t s = 0; s < expected.values[t].size(); ++s) {
      absl::Span<const float> slot = (*reader)->ContiguousSlot(t, static_cast<int>(s));
      ASSERT_EQ(slot.size(), expected.values[t][s].size());
      ASSERT_EQ(std::memcmp(slot.data(), expected.values[t][s].data(), slot.size() * 4), 0)
          << "step " << step << " table " << t << " slot " << s;
    }
  }
}

TEST(CheckpointCrashTest, KilledWriterNeverDamagesTheLatestCheckpoint) {
  const ResolvedConfig config = ResolveOrDie(kConfig);
  TempDir root;
  const SyntheticTables initial = SyntheticTables::Make(config, 0);
  ASSERT_TRUE(WriteCheckpoint(config, 0, initial.AsRetrieve(config), root.path()).ok());

  std::mt19937 random(12345);
  int64_t next_step = 1;
  constexpr int kTrials = 30;
  for (int trial = 0; trial < kTrials; ++trial) {
    const pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) SaveForever(config, root.path(), next_step);
    std::this_thread::sleep_for(std::chrono::microseconds(random() % 250000));
    ASSERT_EQ(kill(child, SIGKILL), 0);
    int wait_status = 0;
    ASSERT_EQ(waitpid(child, &wait_status, 0), child);
    ASSERT_TRUE(WIFSIGNALED(wait_status)) << "the writer failed on its own: " << wait_status;
    ExpectIntactCheckpoint(config, root.path());
    next_step += 1000;
  }
  // The leftovers of the killed writers are cleaned up by the next save.
  const SyntheticTables last = SyntheticTables::Make(config, next_step);
  ASSERT_TRUE(WriteCheckpoint(config, next_step, last.AsRetrieve(config), root.path()).ok());
  ExpectIntactCheckpoint(config, root.path());
}

}  // namespace
}  // namespace embrt
