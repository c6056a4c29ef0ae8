// Copyright embrt authors.
//
// File: tools/training/parameter_snapshot.h
// -----------------------------------------
// A host copy of every table and optimizer slot of an Embedding (this host's rows), for
// early stopping's keep-best: capture when the validation metric improves, restore at the
// end. Costs one copy of the parameters and slots in host memory, and a retrieve per capture.
//
// Thread safety: one thread; the Embedding must have no step in flight.

#ifndef EMBRT_TOOLS_TRAINING_PARAMETER_SNAPSHOT_H_
#define EMBRT_TOOLS_TRAINING_PARAMETER_SNAPSHOT_H_

#include <vector>

#include "absl/status/status.h"
#include "embrt/embedding.h"

namespace embrt {
namespace training {

class ParameterSnapshot {
 public:
  // Replaces the copy with the embedding's current tables and slots.
  absl::Status Capture(Embedding& embedding);
  // Loads the copy back into the embedding (FAILED_PRECONDITION before any Capture).
  absl::Status Restore(Embedding& embedding) const;
  bool empty() const { return slots_.empty(); }

 private:
  std::vector<std::vector<std::vector<float>>> slots_;  // [table][slot][local row * dim]
};

}  // namespace training
}  // namespace embrt

#endif  // EMBRT_TOOLS_TRAINING_PARAMETER_SNAPSHOT_H_
