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
#include <limits>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "tools/training/learning_curve_svg.h"

namespace embrt {
namespace training {

// Held-out metrics as the trainer reports them (NaN where they do not apply).
struct StoredMetrics {
  int64_t examples = 0;
  double loss = 0, auc = 0, log_loss = 0, rmse = 0, mae = 0;
};

// Early stopping's progress at the checkpoint's step, so that a resumed run stops, keeps and
// reports exactly like an uninterrupted one. The best parameters themselves are the
// checkpoint root/best/ckpt-<best_step> (BestCheckpointPath), written when they were found.
struct EarlyStoppingState {
  std::string metric;               // the validation metric: rmse, mae, log_loss, auc or loss
  double validation_fraction = 0;   // of the training data held out (the split's definition)
  int64_t evaluations = 0;          // validation evaluations so far
  int64_t without_improvement = 0;  // evaluations in a row without a better metric
  int64_t last_evaluation_step = 0;  // the step of the last evaluation
  // > 0: the run ended after training this many steps and this checkpoint holds the kept
  // (best) parameters: resuming it trains nothing.
  int64_t finished_at_step = 0;
  int64_t finished_epochs = 0;      // with finished_at_step: the passes the run completed
  bool stopped_early = false;       // with finished_at_step: patience ran out
  // The best evaluation so far (meaningful when evaluations > 0).
  double best_value = 0;
  int64_t best_step = 0, best_epoch = 0, best_examples = 0;
  float best_bias = 0, best_bias_accumulator = 0;
  StoredMetrics best_validation, best_test;
};

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
  // The training loss summed over the examples of the unfinished curve interval (the
  // summary's train loss is the mean of the last interval); 0 in older host states.
  double interval_loss = 0;
  int64_t interval_examples = 0;
  // The summary's train loss so far (NaN before the first interval ended, and in older host
  // states).
  double last_train_loss = std::numeric_limits<double>::quiet_NaN();
  // Absent without early stopping and in host states written before it was recorded (such a
  // run resumes with early stopping starting over).
  std::optional<EarlyStoppingState> early_stopping;
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
inline constexpr int64_t kMaxCurveBytes = int64_t{256} << 20;
inline constexpr int kMaxSyntheticFields = 26;
inline constexpr int64_t kMaxSyntheticCardinality = int64_t{1} << 40;

// root/host-<step>.txt
std::string HostStatePath(const std::string& root, int64_t step);

// root/best/ckpt-<step>: where early stopping keeps the best parameters of a run in root
// (with its own host state, so `embrt eval root/best` evaluates them).
std::string BestCheckpointRoot(const std::string& root);
std::string BestCheckpointPath(const std::string& root, int64_t step);

// The host state of a checkpoint directory root/ckpt-<step>.
std::string HostStatePathForCheckpoint(const std::string& checkpoint_dir, int64_t step);

// Writes `state` durably to `path` (root/host-<step>.txt). ALREADY_EXISTS when the checkpoint
// of that step (root/ckpt-<step>) exists already: its host state is never overwritten.
absl::Status SaveHostState(const HostState& state, const std::string& path);

// NOT_FOUND naming the path when missing; FAILED_PRECONDITION when it is not a regular file
// (a FIFO never blocks); DATA_LOSS naming the path and the field when the checksum does not
// match, a field is missing, repeated, unknown, does not parse or is out of bounds. The
// early-stopping fields come all or none; their steps, examples and counts are bounded by the
// checkpoint's (best_step <= step, evaluations <= step + 1, ...).
absl::StatusOr<HostState> LoadHostState(const std::string& path, const HostStateLimits& limits);

// The learning curve so far (train, test and validation points), saved beside the host state
// as root/curve-<step>.txt ("train|eval|validation <examples> <value>" lines, %a, and the
// same checksum line), so that a resumed run plots and reports the whole run.
std::string CurvePath(const std::string& root, int64_t step);
absl::Status SaveCurve(const LearningCurve& curve, const std::string& path);
// NOT_FOUND when missing (checkpoints of older embrt); DATA_LOSS naming the path and line when
// the checksum does not match or a point does not parse, is not finite or lies beyond
// `examples_seen`. Only the three series are filled.
absl::StatusOr<LearningCurve> LoadCurve(const std::string& path, int64_t examples_seen);

}  // namespace training
}  // namespace embrt

#endif  // EMBRT_TOOLS_TRAINING_HOST_STATE_H_
