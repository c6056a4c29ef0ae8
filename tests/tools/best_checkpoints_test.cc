// Copyright embrt authors.
//
// Which best checkpoints (tools/training/best_checkpoints.cc) go: those older than the best
// step the oldest periodic checkpoint names, and on --resume those newer than the start.

#include "tools/training/best_checkpoints.h"

#include <filesystem>
#include <set>
#include <string>

#include "gtest/gtest.h"
#include "tests/tools/temp_files.h"
#include "tools/training/host_state.h"

namespace embrt {
namespace training {
namespace {

// root/ckpt-<step> (an empty directory is enough here) with a host state naming `best_step`.
void WriteCheckpoint(const std::string& root, int64_t step, int64_t best_step) {
  HostState state;
  state.step = step;
  state.examples_seen = step * 16;
  state.loss = "squared";
  state.format = "movielens";
  EarlyStoppingState& es = state.early_stopping.emplace();
  es.metric = "rmse";
  es.validation_fraction = 0.1;
  es.evaluations = 2;
  es.best_step = best_step;
  es.best_examples = best_step * 16;
  ASSERT_TRUE(SaveHostState(state, HostStatePath(root, step)).ok());
  std::filesystem::create_directories(root + "/ckpt-" + std::to_string(step));
}

std::set<std::string> Entries(const std::string& dir) {
  std::set<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    names.insert(entry.path().filename().string());
  }
  return names;
}

TEST(BestCheckpointsTest, PrunesWhatNoRetainedCheckpointNeedsAndTheFutureOnResume) {
  const std::string root = testing_tools::MakeTempDir();
  const std::string best = BestCheckpointRoot(root);
  for (int step : {5, 8, 15, 25}) {
    std::filesystem::create_directories(BestCheckpointPath(root, step));
    testing_tools::WriteFile(best, "host-" + std::to_string(step) + ".txt", "x");
  }
  WriteCheckpoint(root, 10, 8);   // the oldest retained checkpoint still needs best 8
  WriteCheckpoint(root, 20, 15);
  PruneBestCheckpoints(root);
  EXPECT_EQ(Entries(best), (std::set<std::string>{"ckpt-8", "ckpt-15", "ckpt-25", "host-8.txt",
                                                  "host-15.txt", "host-25.txt"}));
  // Resuming from ckpt-20: best 25 was found by the interrupted run after it.
  RemoveBestCheckpointsAfter(root, 20);
  EXPECT_EQ(Entries(best),
            (std::set<std::string>{"ckpt-8", "ckpt-15", "host-8.txt", "host-15.txt"}));
  // An unreadable oldest host state keeps everything.
  std::filesystem::create_directories(root + "/ckpt-1");
  PruneBestCheckpoints(root);
  EXPECT_EQ(Entries(best).size(), 4u);
}

}  // namespace
}  // namespace training
}  // namespace embrt
