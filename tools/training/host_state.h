// Copyright embrt authors.
//
// File: tools/training/host_state.h
// ---------------------------------
// The part of the model that lives on the host (the global bias and its optimizer state) and
// what `embrt eval` needs to read the data again, saved beside the embrt checkpoint:
//
//   root/host-<step>.txt    "key value" lines; floats in hex (%a) so they restore exactly;
//                           the last line "xxh3 <16 hex digits>" checksums the lines before it
//   root/ckpt-<step>/       the embrt checkpoint (embrt/checkpoint.h)
//
// It is written (temporary file, fsync, then rename) before the checkpoint, so a checkpoint
// that `latest` names always has its host state. Like a checkpoint, it is untrusted input when
// read back: the checksum catches accidents (a torn or edited file), and every field is
// bounded and checked against the checkpoint's step before it is used, so that a hostile file
// (with a recomputed checksum) can at worst cause an error.

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

// What a loaded host state is checked against.
struct HostStateLimits {
  // The checkpoint's step: the file must hold the same.
  int64_t step = 0;
  // Every step consumed at most this many examples (and at least one): examples_seen must be
  // in [min(step, 1) ... step, step * max_batch_size].
  int64_t max_batch_size = 0;
};

// Bounds on the fields (beyond those that depend on the checkpoint).
inline constexpr int64_t kMaxHostStateBytes = 64 << 10;
inline constexpr int kMaxSyntheticFields = 26;
inline constexpr int64_t kMaxSyntheticCardinality = int64_t{1} << 40;

// root/host-<step>.txt
std::string HostStatePath(const std::string& root, int64_t step);

// The host state of a checkpoint directory root/ckpt-<step>.
std::string HostStatePathForCheckpoint(const std::string& checkpoint_dir, int64_t step);

// Writes `state` durably to `path` (root/host-<step>.txt). ALREADY_EXISTS when the checkpoint
// of that step (root/ckpt-<step>) exists already: its host state is never overwritten.
absl::Status SaveHostState(const HostState& state, const std::string& path);

// NOT_FOUND naming the path when missing; FAILED_PRECONDITION when it is not a regular file
// (a FIFO never blocks); DATA_LOSS naming the path and the field when the checksum does not
// match, a field is missing, repeated, unknown, does not parse or is out of bounds.
absl::StatusOr<HostState> LoadHostState(const std::string& path, const HostStateLimits& limits);

}  // namespace training
}  // namespace embrt

#endif  // EMBRT_TOOLS_TRAINING_HOST_STATE_H_
