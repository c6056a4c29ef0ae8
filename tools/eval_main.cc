// Copyright embrt authors.
//
// `embrt eval CKPT`: restore a checkpoint written by `embrt train` and report held-out metrics.

#include <cstdio>
#include <string>
#include <vector>

#include "tools/subcommands.h"
#include "tools/training/data_setup.h"
#include "tools/training/flag_parser.h"
#include "tools/training/memory_budget.h"
#include "tools/training/report.h"
#include "tools/training/trainer.h"

namespace embrt {
namespace tools {

int EvalMain(const std::vector<std::string>& args) {
  std::string checkpoint, backend, data, eval_data, format, tsv_columns, output_json,
      on_bad_line = "skip", rating_range;
  int batch_size = 0;
  int64_t eval_examples = 0;
  training::FlagSet flags("embrt eval", "CHECKPOINT [flags]   (a ckpt-N directory or its root)");
  flags.AddString("checkpoint", &checkpoint, "the checkpoint (or give it as the argument)");
  flags.AddString("backend", &backend,
                  "cpu, mock or a plugin path; default cpu (a checkpoint never picks the plugin)");
  flags.AddString("eval_data", &eval_data, "data to evaluate on (every line)");
  flags.AddString("data", &data, "same as --eval_data");
  flags.AddString("format", &format, "criteo, movielens, tsv or synthetic; default: as trained");
  flags.AddString("tsv_columns", &tsv_columns, "column spec for tsv; default: as trained");
  flags.AddInt("batch_size", &batch_size, "default: the checkpoint config's");
  flags.AddInt64("eval_examples", &eval_examples, "synthetic held-out examples; 0: 50000");
  flags.AddString("on_bad_line", &on_bad_line, "skip or fail");
  flags.AddString("output_json", &output_json, "write the results as JSON here");
  flags.AddString("rating_range", &rating_range,
                  "MIN..MAX of the labels; others are bad lines (default 1..5 for movielens)");
  flags.SetRange("batch_size", 0, 1 << 24);
  flags.SetRange("eval_examples", 0, 1e9);
  auto fail = [](const absl::Status& status) {
    std::fprintf(stderr, "embrt eval: %s\n", std::string(status.message()).c_str());
    return 1;
  };
  absl::Status parsed = flags.Parse(args);
  if (!parsed.ok()) return fail(parsed);
  if (flags.help_requested()) {
    std::fputs(flags.Usage().c_str(), stdout);
    return 0;
  }
  if (checkpoint.empty() && flags.positional().size() == 1) checkpoint = flags.positional()[0];
  if (checkpoint.empty() || flags.positional().size() > 1) {
    return fail(absl::InvalidArgumentError("give exactly one checkpoint (see embrt eval --help)"));
  }
  training::EvalOptions options;
  options.checkpoint = checkpoint;
  options.backend = backend;
  if (!format.empty()) {
    absl::StatusOr<training::DataFormat> parsed_format = training::ParseDataFormat(format);
    if (!parsed_format.ok()) return fail(parsed_format.status());
    options.format = *parsed_format;
  }
  options.data.eval_data = eval_data.empty() ? data : eval_data;
  options.data.tsv_columns = tsv_columns;
  options.data.eval_examples = eval_examples;
  absl::StatusOr<training::BadLinePolicy> bad_line_policy =
      training::ParseBadLinePolicy(on_bad_line);
  if (!bad_line_policy.ok()) return fail(bad_line_policy.status());
  options.data.on_bad_line = *bad_line_policy;
  options.batch_size = batch_size;
  if (!rating_range.empty()) {
    absl::StatusOr<training::LabelRange> range = training::ParseLabelRange(rating_range);
    if (!range.ok()) return fail(range.status());
    options.label_range = *range;
  }
  absl::StatusOr<training::TrainReport> report = training::RunCatchingOutOfMemory(
      [&] { return training::Evaluate(options); }, "--batch_size");
  if (!report.ok()) return fail(report.status());
  if (report->host_id != 0) return 0;  // under mpirun, host 0 prints the one summary
  absl::Status emitted = training::EmitReport(*report, "eval", output_json);
  if (!emitted.ok()) return fail(emitted);
  return 0;
}

}  // namespace tools
}  // namespace embrt
