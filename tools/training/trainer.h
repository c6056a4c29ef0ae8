// Copyright embrt authors.
//
// File: tools/training/trainer.h
// ------------------------------
// The main job behind `embrt train` and `embrt eval`: a factorization machine
// (factorization_machine.h) whose embeddings and per-field linear weights live in embrt tables
// and whose global bias lives on the host. Per step: read a batch, Enqueue the ids, Dequeue
// the activations, compute scores, loss and d loss / d activation on the host, ApplyGradients
// (the backend's optimizer updates the touched rows), and update the bias with the host's own
// Adagrad. Evaluates on held-out data, writes checkpoints, a learning curve and a report.
//
// Thread safety: one call at a time per process is expected (it owns an Embedding).

#ifndef EMBRT_TOOLS_TRAINING_TRAINER_H_
#define EMBRT_TOOLS_TRAINING_TRAINER_H_

#include <cstdint>
#include <cstdio>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "embrt/config.pb.h"
#include "tools/training/data_setup.h"
#include "tools/training/factorization_machine.h"
#include "tools/training/learning_curve_svg.h"

namespace embrt {
namespace training {

struct TrainOptions {
  std::string config_path;  // text format; empty: the built-in default (default_config.h)
  std::string backend;      // overrides the config's backend when not empty
  // Overrides: every table gets the global optimizer with this algorithm ("sgd", "adagrad",
  // "adagrad_momentum", "adam", "ftrl"; TF's default hyperparameters), and/or this constant
  // learning rate (> 0) on the global and every table's optimizer.
  std::string optimizer;
  float learning_rate = 0;
  DataFormat format = DataFormat::kSynthetic;
  DataOptions data;         // format, files, TSV spec, bad-line policy (synthetic filled here)
  int64_t steps = 0;        // total steps; 0: epochs, or the default
  int64_t epochs = 0;       // passes over the data (files only)
  int batch_size = 0;       // 0: the config's, else the default
  std::optional<Loss> loss; // default: DefaultLoss(format)
  uint64_t seed = 1;        // model initializers and synthetic data
  int64_t eval_every = 0;   // steps between evaluations; 0: about 10 per run (or per epoch)
  // Shuffle buffer of file inputs in examples (shuffle_buffer.h); -1: kDefaultShuffleBuffer,
  // 0 or 1: the file's order. Seeded by `seed`.
  int64_t shuffle_buffer = -1;
  // Labels outside this range are bad lines; empty: 1..5 for movielens, any for the others.
  std::optional<LabelRange> label_range;

  // Early stopping, with data.validation_fraction > 0 (a seeded part of the training data):
  // at every evaluation the validation metric is computed; the parameters with the best one
  // (tables, slots, the host's bias and its accumulator) are kept and restored at the end,
  // and written as the final checkpoint. After `patience` evaluations in a row without an
  // improvement by more than `min_delta`, training stops (0: it runs to the end).
  int patience = 0;
  double min_delta = 0;
  // "rmse", "mae", "log_loss", "auc" or "loss"; empty: rmse for squared loss, log_loss for
  // logistic. AUC is better when higher, the others when lower.
  std::string validation_metric;

  std::string command_line;  // recorded in the report as given
  float bias_learning_rate = 0.05f;  // the host's Adagrad for the global bias

  std::string checkpoint_dir;   // empty: no checkpoints
  int64_t checkpoint_every = 0; // steps; 0: only at the end
  int keep_checkpoints = 3;
  bool resume = false;          // continue from checkpoint_dir's latest checkpoint if any
  std::string plot_path;        // empty: checkpoint_dir/learning_curve.svg when checkpointing
  // Called after each periodic checkpoint (--checkpoint_every) is written; returning true ends
  // the run right there with ABORTED, as a killed process would (tests of --resume).
  std::function<bool(int64_t step)> interrupt_after_checkpoint;

  // Synthetic data (the default run); a smaller variant for tests.
  SyntheticClicksOptions synthetic;
  bool synthetic_options_given = false;  // false: DefaultSyntheticOptions(seed)
  int64_t synthetic_eval_examples = 0;   // 0: the default

  std::FILE* progress = stderr;  // null: no progress
  bool progress_terminal = false;
};

struct EvalResult {
  int64_t examples = 0;
  double loss = 0;      // mean loss of the model's objective
  double auc = 0;       // clicks
  double log_loss = 0;  // clicks
  double rmse = 0;      // ratings
  double mae = 0;       // ratings
};

struct EarlyStoppingReport {
  std::string metric;       // the validation metric that chose the best parameters
  int patience = 0;
  double min_delta = 0;
  double validation_fraction = 0;
  int64_t best_step = 0;    // the kept parameters are those after this step
  int64_t best_epoch = 0;   // passes completed at that evaluation
  int64_t best_examples = 0;
  EvalResult best_validation;
  bool stopped_early = false;  // patience ran out before the planned end
  int64_t evaluations = 0;
};

struct TrainReport {
  std::string format;
  std::string loss;  // "logistic" or "squared"
  std::string backend;
  std::string backend_path;
  int batch_size = 0;       // the global batch
  int num_hosts = 1;        // hosts of the mpirun job (each trains batch_size / num_hosts)
  int host_id = 0;          // this process's; only host 0 reports
  int64_t first_step = 0;  // > 0 when resumed
  int64_t steps = 0;       // completed steps at the end
  int64_t examples = 0;    // training examples seen (padding excluded), resumed ones included
  int64_t epochs_completed = 0;
  double train_loss = 0;   // mean over the last curve interval
  float bias = 0;
  EvalResult eval;
  std::optional<EvalResult> teacher;  // synthetic data: the hidden teacher on the same set
  std::optional<EvalResult> validation;  // the kept parameters on the validation set
  std::optional<EarlyStoppingReport> early_stopping;
  uint64_t seed = 0;             // of the initializers, synthetic data, shuffle and split
  int64_t shuffle_buffer = 0;    // 0: no shuffling
  std::string command_line;
  int64_t trained_steps = 0;     // steps run (steps is the kept model's step)
  int64_t bad_lines = 0;         // training + validation + eval
  int64_t train_bad_lines = 0, validation_bad_lines = 0, eval_bad_lines = 0;
  std::vector<std::string> bad_line_messages;
  std::string checkpoint;  // the last checkpoint written
  std::string plot;
  LearningCurve curve;
  // Timing (seconds): wall, reading data, embedding calls (enqueue/dequeue/apply),
  // host model (forward/backward/bias), evaluation, checkpoints.
  double seconds = 0, input_seconds = 0, embedding_seconds = 0, host_seconds = 0,
         eval_seconds = 0, checkpoint_seconds = 0;
  double examples_per_second = 0;
};

// Trains and evaluates. Every input is checked before anything is written: a bad flag value,
// config, backend or data file is an error and leaves no checkpoint behind.
absl::StatusOr<TrainReport> Train(const TrainOptions& options);

struct EvalOptions {
  std::string checkpoint;  // a checkpoint directory or a root with `latest`
  std::string backend;     // empty: the checkpoint config's
  std::optional<DataFormat> format;  // empty: the one recorded at training time
  DataOptions data;
  int batch_size = 0;
  std::optional<Loss> loss;
  std::optional<LabelRange> label_range;  // empty: DefaultLabelRange(format)
};

// Restores a checkpoint (tables and host state) and evaluates it on data: every line of
// --eval_data (or --data), or the synthetic held-out set.
absl::StatusOr<TrainReport> Evaluate(const EvalOptions& options);

}  // namespace training
}  // namespace embrt

#endif  // EMBRT_TOOLS_TRAINING_TRAINER_H_
