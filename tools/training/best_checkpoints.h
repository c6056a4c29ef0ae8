// Copyright embrt authors.
//
// File: tools/training/best_checkpoints.h
// ---------------------------------------
// Early stopping keeps the best parameters of a run in root/best/ckpt-<step> (each with its
// host state), written when they are found, so that they survive the retention of the
// periodic checkpoints (--keep_checkpoints) and a --resume. Every periodic checkpoint's host
// state names the best step it knew (host_state.h); best steps only grow, so the best
// checkpoints a retained checkpoint may still need are those from the oldest one's best step
// on. Files only: no engine, no plugin.

#ifndef EMBRT_TOOLS_TRAINING_BEST_CHECKPOINTS_H_
#define EMBRT_TOOLS_TRAINING_BEST_CHECKPOINTS_H_

#include <cstdint>
#include <string>

namespace embrt {
namespace training {

// Removes the best checkpoints (and their host states) older than the best step that the
// oldest periodic checkpoint in `root` names. Keeps everything when that host state cannot
// be read or names none.
void PruneBestCheckpoints(const std::string& root);

// Removes the best checkpoints newer than `step`: left by a run that went on after the
// checkpoint a --resume starts from, they belong to a future that is being replayed.
void RemoveBestCheckpointsAfter(const std::string& root, int64_t step);

}  // namespace training
}  // namespace embrt

#endif  // EMBRT_TOOLS_TRAINING_BEST_CHECKPOINTS_H_
