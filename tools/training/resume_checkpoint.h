// Copyright embrt authors.
//
// File: tools/training/resume_checkpoint.h
// ----------------------------------------
// Which checkpoint `embrt train` starts from, decided before anything is written, so that a
// run never overwrites a checkpoint and never silently starts over:
//
//   - without --resume, a --checkpoint_dir that holds checkpoints (or `latest`) is refused:
//     training from step 0 would reach their steps and would have to overwrite them;
//   - with --resume and `latest`, the checkpoint it names (a broken `latest` is an error), as
//     long as no newer checkpoint exists beside it (training would reach that step) or it is
//     the final checkpoint of an early-stopped run (whose resume trains nothing);
//   - with --resume and no `latest`, the newest ckpt-<step> if it verifies (every file's size
//     and checksum) and has its host state; otherwise an error naming what was found. Only a
//     directory without any checkpoint starts from step 0.

#ifndef EMBRT_TOOLS_TRAINING_RESUME_CHECKPOINT_H_
#define EMBRT_TOOLS_TRAINING_RESUME_CHECKPOINT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace embrt {
namespace training {

// The checkpoint directory to restore, or "" to start from step 0. FAILED_PRECONDITION
// naming the directory and the checkpoints found when neither is safe.
absl::StatusOr<std::string> ChooseStartCheckpoint(const std::string& checkpoint_dir, bool resume);

// Steps of the entries named ckpt-<step> under `root`, newest first (none when it is missing).
std::vector<int64_t> CheckpointSteps(const std::string& root);

}  // namespace training
}  // namespace embrt

#endif  // EMBRT_TOOLS_TRAINING_RESUME_CHECKPOINT_H_
