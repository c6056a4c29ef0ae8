// Copyright embrt authors.

#include "tools/training/best_checkpoints.h"

#include <filesystem>
#include <limits>
#include <vector>

#include "absl/status/statusor.h"
#include "tools/training/host_state.h"
#include "tools/training/resume_checkpoint.h"

namespace embrt {
namespace training {
namespace {

// Removes root/best/ckpt-<s> and its host state for every s that `drop` selects.
template <typename Drop>
void RemoveBest(const std::string& root, Drop drop) {
  const std::string best = BestCheckpointRoot(root);
  std::error_code error;
  for (int64_t step : CheckpointSteps(best)) {
    if (!drop(step)) continue;
    std::filesystem::remove(HostStatePath(best, step), error);
    std::filesystem::remove_all(BestCheckpointPath(root, step), error);
  }
}

}  // namespace

void PruneBestCheckpoints(const std::string& root) {
  const std::vector<int64_t> steps = CheckpointSteps(root);
  if (steps.empty()) return;
  HostStateLimits limits;
  limits.step = steps.back();  // the oldest
  limits.max_batch_size = std::numeric_limits<int64_t>::max();
  absl::StatusOr<HostState> oldest = LoadHostState(HostStatePath(root, limits.step), limits);
  if (!oldest.ok() || !oldest->early_stopping.has_value() ||
      oldest->early_stopping->evaluations == 0) {
    return;
  }
  const int64_t floor = oldest->early_stopping->best_step;
  RemoveBest(root, [floor](int64_t step) { return step < floor; });
}

void RemoveBestCheckpointsAfter(const std::string& root, int64_t step) {
  RemoveBest(root, [step](int64_t s) { return s > step; });
}

}  // namespace training
}  // namespace embrt
