// Copyright embrt authors.
//
// File: tools/training/checkpoint_inspection.h
// --------------------------------------------
// What `embrt inspect CKPT` prints: the manifest (step, writer, format, host layout), every
// table with its vocabulary, dim, optimizer and slots (files, bytes), and per slot the L2
// norm, the mean row norm and the largest absolute value, plus the host state written beside
// the checkpoint by `embrt train` when there is one.

#ifndef EMBRT_TOOLS_TRAINING_CHECKPOINT_INSPECTION_H_
#define EMBRT_TOOLS_TRAINING_CHECKPOINT_INSPECTION_H_

#include <string>

#include "absl/status/statusor.h"

namespace embrt {
namespace training {

// Opens (and verifies, unless `verify` is false) the checkpoint at `path_or_root` and
// describes it as text.
absl::StatusOr<std::string> InspectCheckpoint(const std::string& path_or_root, bool verify);

}  // namespace training
}  // namespace embrt

#endif  // EMBRT_TOOLS_TRAINING_CHECKPOINT_INSPECTION_H_
