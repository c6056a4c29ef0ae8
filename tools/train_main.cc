// Copyright embrt authors.
//
// `embrt train`: flags -> TrainOptions -> Train -> summary, JSON, plot.

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "tools/subcommands.h"
#include "tools/training/data_setup.h"
#include "tools/training/default_config.h"
#include "tools/training/flag_parser.h"
#include "tools/training/memory_budget.h"
#include "tools/training/progress.h"
#include "tools/training/report.h"
#include "tools/training/trainer.h"

namespace embrt {
namespace tools {
namespace {

// The argument as a shell would need it to read back the same (for the recorded command).
std::string ShellQuoted(const std::string& arg) {
  if (!arg.empty() && arg.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                            "0123456789-_=./:,+@%") == std::string::npos) {
    return arg;
  }
  std::string out = "'";
  for (char c : arg) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

}  // namespace

int TrainMain(const std::vector<std::string>& args) {
  using training::BadLinePolicy;
  std::string config, backend, data, eval_data, format, tsv_columns, checkpoint_dir,
      output_json, plot, on_bad_line = "skip", loss;
  int64_t steps = 0, epochs = 0, checkpoint_every = 0, seed = 1, holdout_every = 5,
          eval_every = 0, eval_examples = 0, synthetic_cardinality = 0;
  int batch_size = 0, keep_checkpoints = 3, synthetic_fields = 0;
  bool resume = false, quiet = false;
  std::string optimizer, rating_range, validation_metric;
  float learning_rate = 0, validation_fraction = 0, min_delta = 0;
  int64_t shuffle_buffer = -1;
  int patience = 0;

  training::FlagSet flags("embrt train", "[flags]");
  flags.AddString("config", &config, "EmbeddingConfig in text format; none: the built-in default");
  flags.AddString("backend", &backend, "cpu, mock or a plugin path; overrides the config's");
  flags.AddString("optimizer", &optimizer,
                  "sgd, adagrad, adagrad_momentum, adam or ftrl for every table (TF defaults)");
  flags.AddFloat("learning_rate", &learning_rate, "constant learning rate of every table; 0: config's");
  flags.AddString("data", &data, "training data file; none: the built-in synthetic click log");
  flags.AddString("eval_data", &eval_data,
                  "held-out file; none: every --holdout_every-th line of --data");
  flags.AddString("format", &format, "criteo, movielens, tsv or synthetic (needed with --data)");
  flags.AddString("tsv_columns", &tsv_columns,
                  "column spec for --format=tsv, e.g. label,user:id,item:id,-,genre:cat");
  flags.AddInt64("steps", &steps, "total training steps (resumed ones included); 0: 20000 on synthetic data, else --epochs");
  flags.AddInt64("epochs", &epochs, "passes over --data instead of --steps (files only); 0 and no --steps: 1");
  flags.AddInt("batch_size", &batch_size,
              "examples per step (the global batch: `mpirun -np N embrt train` splits it "
              "between N hosts); 0: the config's, else 1024");
  flags.AddString("checkpoint_dir", &checkpoint_dir,
                  "write checkpoints (and learning_curve.svg) here");
  flags.AddInt64("checkpoint_every", &checkpoint_every, "steps between checkpoints; 0: at the end");
  flags.AddInt("keep_checkpoints", &keep_checkpoints, "newest checkpoints kept; 0: all");
  flags.AddBool("resume", &resume, "continue from the latest checkpoint in --checkpoint_dir");
  flags.AddString("output_json", &output_json, "write the results as JSON here");
  flags.AddString("plot", &plot, "learning-curve SVG path (default: in --checkpoint_dir)");
  flags.AddInt64("seed", &seed, "seed of the initializers and the synthetic data");
  flags.AddString("on_bad_line", &on_bad_line, "skip (count and report) or fail");
  flags.AddInt64("holdout_every", &holdout_every,
                 "without --eval_data, hold out line numbers divisible by this");
  flags.AddInt64("eval_every", &eval_every, "steps between evaluations; 0: ~10 per run");
  flags.AddString("loss", &loss, "logistic or squared; default: by format");
  flags.AddInt64("eval_examples", &eval_examples, "synthetic held-out examples; 0: 50000");
  flags.AddInt("synthetic_fields", &synthetic_fields, "synthetic fields (1..26); 0: 26");
  flags.AddInt64("synthetic_cardinality", &synthetic_cardinality,
                 "cap on synthetic field cardinalities; 0: 10000");
  flags.AddBool("quiet", &quiet, "no progress line");
  flags.AddInt64(
      "shuffle_buffer", &shuffle_buffer,
      "examples in the seeded shuffle buffer of --data; 0: the file's order; -1: 100000");
  flags.AddString("rating_range", &rating_range,
                  "MIN..MAX of the labels; others are bad lines (default 1..5 for movielens)");
  flags.AddFloat("validation_fraction", &validation_fraction,
                 "hold out this seeded fraction of the training data for early stopping; 0: none");
  flags.AddInt("patience", &patience,
               "stop after this many evaluations without a better validation metric; 0: never");
  flags.AddFloat("min_delta", &min_delta, "smallest validation improvement that counts");
  flags.AddString("validation_metric", &validation_metric,
                  "rmse, mae, log_loss, auc or loss; default: rmse (ratings), log_loss (clicks)");
  constexpr double kBig = 9.3e18;
  flags.SetRange("learning_rate", 0, 1e6);
  flags.SetRange("steps", 0, kBig);
  flags.SetRange("epochs", 0, 1e6);
  flags.SetRange("batch_size", 0, 1 << 24);
  flags.SetRange("checkpoint_every", 0, kBig);
  flags.SetRange("keep_checkpoints", 0, 1e6);
  flags.SetRange("seed", 0, kBig);
  flags.SetRange("holdout_every", 2, kBig);
  flags.SetRange("eval_every", 0, kBig);
  flags.SetRange("eval_examples", 0, 1e9);
  flags.SetRange("synthetic_fields", 0, 26);
  flags.SetRange("synthetic_cardinality", 0, 1e9);
  flags.SetRange("shuffle_buffer", -1, 1e9);
  flags.SetRange("validation_fraction", 0, 0.9);
  flags.SetRange("patience", 0, 1e6);
  flags.SetRange("min_delta", 0, 1e6);

  absl::Status parsed = flags.Parse(args);
  if (!parsed.ok()) {
    std::fprintf(stderr, "embrt train: %s\n", std::string(parsed.message()).c_str());
    return 1;
  }
  if (flags.help_requested()) {
    std::fputs(flags.Usage().c_str(), stdout);
    return 0;
  }
  auto fail = [](const absl::Status& status) {
    std::fprintf(stderr, "embrt train: %s\n", std::string(status.message()).c_str());
    return 1;
  };
  if (!flags.positional().empty()) {
    return fail(absl::InvalidArgumentError(
        "unexpected argument '" + flags.positional()[0] + "' (flags are --name=value)"));
  }

  training::TrainOptions options;
  options.config_path = config;
  options.backend = backend;
  options.optimizer = optimizer;
  options.learning_rate = learning_rate;
  if (format.empty()) format = data.empty() ? "synthetic" : "";
  if (format.empty()) {
    return fail(absl::InvalidArgumentError("--data needs --format=criteo|movielens|tsv"));
  }
  absl::StatusOr<training::DataFormat> parsed_format = training::ParseDataFormat(format);
  if (!parsed_format.ok()) return fail(parsed_format.status());
  options.format = *parsed_format;
  if (options.format == training::DataFormat::kSynthetic && !data.empty()) {
    return fail(absl::InvalidArgumentError("--format=synthetic takes no --data"));
  }
  options.data.data = data;
  options.data.eval_data = eval_data;
  options.data.tsv_columns = tsv_columns;
  options.data.holdout_every = holdout_every;
  absl::StatusOr<BadLinePolicy> bad_line_policy = training::ParseBadLinePolicy(on_bad_line);
  if (!bad_line_policy.ok()) return fail(bad_line_policy.status());
  options.data.on_bad_line = *bad_line_policy;
  if (!loss.empty()) {
    if (loss == "logistic") {
      options.loss = training::Loss::kLogistic;
    } else if (loss == "squared") {
      options.loss = training::Loss::kSquared;
    } else {
      return fail(absl::InvalidArgumentError("--loss must be logistic or squared"));
    }
  }
  options.steps = steps;
  options.epochs = epochs;
  options.batch_size = batch_size;
  options.seed = static_cast<uint64_t>(seed);
  options.eval_every = eval_every;
  options.checkpoint_dir = checkpoint_dir;
  options.checkpoint_every = checkpoint_every;
  options.keep_checkpoints = keep_checkpoints;
  options.resume = resume;
  options.plot_path = plot;
  options.synthetic_eval_examples = eval_examples;
  if (synthetic_fields > 0 || synthetic_cardinality > 0) {
    options.synthetic_options_given = true;
    options.synthetic = training::DefaultSyntheticOptions(options.seed);
    if (synthetic_fields > 0) options.synthetic.num_fields = synthetic_fields;
    if (synthetic_cardinality > 0) options.synthetic.max_cardinality = synthetic_cardinality;
  }
  options.shuffle_buffer = shuffle_buffer;
  options.data.validation_fraction = validation_fraction;
  options.patience = patience;
  options.min_delta = min_delta;
  options.validation_metric = validation_metric;
  if (!rating_range.empty()) {
    absl::StatusOr<training::LabelRange> range = training::ParseLabelRange(rating_range);
    if (!range.ok()) return fail(range.status());
    options.label_range = *range;
  }
  std::string command_line = "embrt train";
  for (const std::string& arg : args) absl::StrAppend(&command_line, " ", ShellQuoted(arg));
  options.command_line = command_line;
  options.progress = quiet ? nullptr : stderr;
  options.progress_terminal = training::IsTerminal(stderr);

  absl::StatusOr<training::TrainReport> report = training::RunCatchingOutOfMemory(
      [&] { return training::Train(options); }, "--batch_size, the config's table sizes");
  if (!report.ok()) return fail(report.status());
  if (report->host_id != 0) return 0;  // under mpirun, host 0 prints the one summary
  absl::Status emitted = training::EmitReport(*report, "train", output_json);
  if (!emitted.ok()) return fail(emitted);
  return 0;
}

}  // namespace tools
}  // namespace embrt
