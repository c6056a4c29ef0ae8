// Copyright embrt authors.
//
// File: tools/training/host_state.h
// ---------------------------------
// The part of the model that lives on the host (the global bias and its optimizer state) and
// what `embrt eval` needs to read the data again, saved beside the embrt checkpoint:
//
//   root/host-<step>.txt    "key value" lines; floats in hex (%a) so they restore exactly
//   root/ckpt-<step>/       the embrt checkpoint (embrt/checkpoint.h)
//
// It is written (temporary file, then rename) before the checkpoint, so a checkpoint that
// `latest` names always has its host state.

#ifndef EMBRT_TOOLS_TRAINING_HOST_STATE_H_
#define EMBRT_TOOLS_TRAINING_HOST_STATE_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace embrt {
namespace training {

struct HostState {
  int64_t step = 0;
  float bias = 0.0f;
  float bias_accumulator = 0.0f;
  int64_t examples_seen = 0;
  std::string loss;         // "logistic" or "squared"
  std::string format;       // DataFormatName
  std::string tsv_columns;  // for format tsv
  uint64_t seed = 0;        // of the synthetic data
  int synthetic_fields = 0;             // SyntheticClicksOptions::num_fields
  int64_t synthetic_cardinality = 0;    // SyntheticClicksOptions::max_cardinality
};

// root/host-<step>.txt
std::string HostStatePath(const std::string& root, int64_t step);

// The host state of a checkpoint directory root/ckpt-<step>.
std::string HostStatePathForCheckpoint(const std::string& checkpoint_dir, int64_t step);

absl::Status SaveHostState(const HostState& state, const std::string& path);
// NOT_FOUND naming the path when missing; DATA_LOSS when a value does not parse.
absl::StatusOr<HostState> LoadHostState(const std::string& path);

}  // namespace training
}  // namespace embrt

#endif  // EMBRT_TOOLS_TRAINING_HOST_STATE_H_
