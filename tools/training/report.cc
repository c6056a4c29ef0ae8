// Copyright embrt authors.

#include "tools/training/report.h"

#include <cmath>
#include <cstdio>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace embrt {
namespace training {
namespace {

// Shortest text that reads back as the same double; NaN and Inf become null.
std::string JsonNumber(double value) {
  if (!std::isfinite(value)) return "null";
  return absl::StrFormat("%.17g", value);
}

std::string JsonString(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          out += absl::StrFormat("\\u%04x", static_cast<unsigned char>(c));
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

std::string JsonEval(const EvalResult& eval, bool clicks) {
  std::string out = absl::StrCat("{\"examples\": ", eval.examples,
                                 ", \"loss\": ", JsonNumber(eval.loss));
  if (clicks) {
    absl::StrAppend(&out, ", \"auc\": ", JsonNumber(eval.auc),
                    ", \"log_loss\": ", JsonNumber(eval.log_loss));
  } else {
    absl::StrAppend(&out, ", \"rmse\": ", JsonNumber(eval.rmse),
                    ", \"mae\": ", JsonNumber(eval.mae));
  }
  return out + "}";
}

std::string JsonCurve(const std::vector<CurvePoint>& points) {
  std::vector<std::string> items;
  for (const CurvePoint& p : points) {
    items.push_back(absl::StrCat("[", JsonNumber(p.examples), ", ", JsonNumber(p.loss), "]"));
  }
  return absl::StrCat("[", absl::StrJoin(items, ", "), "]");
}

std::string Percent(double part, double whole) {
  return whole > 0 ? absl::StrFormat("%.0f%%", 100 * part / whole) : "-";
}

}  // namespace

std::string FormatSummary(const TrainReport& report, const std::string& title) {
  const bool clicks = report.loss == "logistic";
  std::string out = absl::StrFormat("embrt %s: %s data, backend %s (%s)\n", title,
                                    report.format, report.backend, report.backend_path);
  if (report.num_hosts > 1) {
    absl::StrAppendFormat(&out, "  hosts        %d (mpirun), each looks up %d of every batch\n",
                          report.num_hosts, report.batch_size / report.num_hosts);
  }
  if (title == "train") {
    absl::StrAppendFormat(&out, "  steps        %d (from %d), batch %d, %d examples", report.steps,
                          report.first_step, report.batch_size, report.examples);
    if (report.format != "synthetic") {
      absl::StrAppendFormat(&out, ", %d epoch(s)", report.epochs_completed);
    }
    absl::StrAppend(&out, "\n");
    absl::StrAppendFormat(&out, "  train loss   %.5f (%s, last interval)\n", report.train_loss,
                          report.loss);
  } else {
    absl::StrAppendFormat(&out, "  checkpoint   %s (step %d)\n", report.checkpoint,
                          report.steps);
  }
  if (clicks) {
    absl::StrAppendFormat(&out, "  held-out     %d examples: AUC %.4f, log loss %.5f\n",
                          report.eval.examples, report.eval.auc, report.eval.log_loss);
    if (report.teacher.has_value()) {
      absl::StrAppendFormat(&out,
                            "  teacher      AUC %.4f, log loss %.5f (the hidden model that drew "
                            "the labels; gap %.4f AUC)\n",
                            report.teacher->auc, report.teacher->log_loss,
                            report.teacher->auc - report.eval.auc);
    }
  } else {
    absl::StrAppendFormat(&out, "  held-out     %d examples: RMSE %.4f, MAE %.4f\n",
                          report.eval.examples, report.eval.rmse, report.eval.mae);
  }
  if (report.early_stopping.has_value()) {
    const EarlyStoppingReport& stop = *report.early_stopping;
    const EvalResult& v = stop.best_validation;
    absl::StrAppendFormat(
        &out, "  validation   %d examples (%g of the training data): %s; kept the best %s\n",
        v.examples, stop.validation_fraction,
        clicks ? absl::StrFormat("AUC %.4f, log loss %.5f", v.auc, v.log_loss)
               : absl::StrFormat("RMSE %.4f, MAE %.4f", v.rmse, v.mae),
        stop.metric);
    absl::StrAppendFormat(
        &out, "  best         epoch %d, step %d of %d trained (%s; patience %d, %d evaluations)\n",
        stop.best_epoch, stop.best_step, report.trained_steps,
        stop.stopped_early ? "stopped early" : "ran to the end", stop.patience,
        stop.evaluations);
  }
  if (report.bad_lines > 0) {
    absl::StrAppendFormat(&out,
                          "  bad lines    %d skipped (train %d, validation %d, eval %d), e.g. %s\n",
                          report.bad_lines, report.train_bad_lines, report.validation_bad_lines,
                          report.eval_bad_lines,
                          report.bad_line_messages.empty() ? "" : report.bad_line_messages[0]);
  }
  if (title == "train") {
    absl::StrAppendFormat(&out, "  seed         %d, shuffle buffer %s\n", report.seed,
                          report.shuffle_buffer > 0 ? absl::StrCat(report.shuffle_buffer)
                                                    : std::string("off"));
  }
  const double busy = report.input_seconds + report.embedding_seconds + report.host_seconds;
  absl::StrAppendFormat(&out, "  speed        %.0f examples/s, %.1f s in all\n",
                        report.examples_per_second, report.seconds);
  // The shares are of the steps' time (their sum), so that they add up to 100%; evaluation
  // and checkpoints come on top.
  absl::StrAppendFormat(
      &out,
      "  time         steps %.2f s: embedding %.2f s (%s), host model %.2f s (%s), waiting for "
      "input %.2f s (%s); besides: eval %.2f s, checkpoints %.2f s\n",
      busy, report.embedding_seconds, Percent(report.embedding_seconds, busy),
      report.host_seconds, Percent(report.host_seconds, busy), report.input_seconds,
      Percent(report.input_seconds, busy), report.eval_seconds, report.checkpoint_seconds);
  if (title == "train" && !report.checkpoint.empty()) {
    absl::StrAppendFormat(&out, "  checkpoint   %s\n", report.checkpoint);
  }
  if (!report.plot.empty()) absl::StrAppendFormat(&out, "  plot         %s\n", report.plot);
  return out;
}

std::string FormatJson(const TrainReport& report) {
  const bool clicks = report.loss == "logistic";
  std::string out = "{\n";
  absl::StrAppend(&out, "  \"command_line\": ", JsonString(report.command_line), ",\n");
  absl::StrAppend(&out, "  \"seed\": ", report.seed, ",\n");
  absl::StrAppend(&out, "  \"shuffle_buffer\": ", report.shuffle_buffer, ",\n");
  absl::StrAppend(&out, "  \"format\": ", JsonString(report.format), ",\n");
  absl::StrAppend(&out, "  \"loss\": ", JsonString(report.loss), ",\n");
  absl::StrAppend(&out, "  \"backend\": ", JsonString(report.backend), ",\n");
  absl::StrAppend(&out, "  \"backend_path\": ", JsonString(report.backend_path), ",\n");
  absl::StrAppend(&out, "  \"batch_size\": ", report.batch_size, ",\n");
  absl::StrAppend(&out, "  \"num_hosts\": ", report.num_hosts, ",\n");
  absl::StrAppend(&out, "  \"first_step\": ", report.first_step, ",\n");
  absl::StrAppend(&out, "  \"steps\": ", report.steps, ",\n");
  absl::StrAppend(&out, "  \"trained_steps\": ", report.trained_steps, ",\n");
  absl::StrAppend(&out, "  \"examples\": ", report.examples, ",\n");
  absl::StrAppend(&out, "  \"epochs\": ", report.epochs_completed, ",\n");
  absl::StrAppend(&out, "  \"train_loss\": ", JsonNumber(report.train_loss), ",\n");
  absl::StrAppend(&out, "  \"bias\": ", JsonNumber(report.bias), ",\n");
  absl::StrAppend(&out, "  \"eval\": ", JsonEval(report.eval, clicks), ",\n");
  if (report.teacher.has_value()) {
    absl::StrAppend(&out, "  \"teacher\": ", JsonEval(*report.teacher, true), ",\n");
  }
  if (report.early_stopping.has_value()) {
    const EarlyStoppingReport& stop = *report.early_stopping;
    absl::StrAppend(&out, "  \"validation\": ", JsonEval(stop.best_validation, clicks), ",\n");
    absl::StrAppend(
        &out, "  \"early_stopping\": {\"metric\": ", JsonString(stop.metric),
        ", \"validation_fraction\": ", static_cast<float>(stop.validation_fraction),
        ", \"patience\": ", stop.patience, ", \"min_delta\": ", JsonNumber(stop.min_delta),
        ", \"best_epoch\": ", stop.best_epoch, ", \"best_step\": ", stop.best_step,
        ", \"best_examples\": ", stop.best_examples,
        ", \"stopped_early\": ", stop.stopped_early ? "true" : "false",
        ", \"evaluations\": ", stop.evaluations, "},\n");
  }
  std::vector<std::string> messages;
  for (const std::string& m : report.bad_line_messages) messages.push_back(JsonString(m));
  absl::StrAppend(&out, "  \"bad_lines\": ", report.bad_lines, ",\n");
  absl::StrAppend(&out, "  \"bad_lines_by_source\": {\"train\": ", report.train_bad_lines,
                  ", \"validation\": ", report.validation_bad_lines,
                  ", \"eval\": ", report.eval_bad_lines, "},\n");
  absl::StrAppend(&out, "  \"bad_line_examples\": [", absl::StrJoin(messages, ", "), "],\n");
  absl::StrAppend(&out, "  \"checkpoint\": ", JsonString(report.checkpoint), ",\n");
  absl::StrAppend(&out, "  \"plot\": ", JsonString(report.plot), ",\n");
  absl::StrAppend(&out, "  \"curve\": {\"units\": ", JsonString(report.curve.loss_name),
                  ", \"train\": ", JsonCurve(report.curve.train),
                  ", \"eval\": ", JsonCurve(report.curve.eval),
                  ", \"validation\": ", JsonCurve(report.curve.validation), "},\n");
  absl::StrAppend(
      &out, "  \"timing\": {\"seconds\": ", JsonNumber(report.seconds),
      ", \"examples_per_second\": ", JsonNumber(report.examples_per_second),
      ", \"embedding_seconds\": ", JsonNumber(report.embedding_seconds),
      ", \"host_seconds\": ", JsonNumber(report.host_seconds),
      ", \"input_seconds\": ", JsonNumber(report.input_seconds),
      ", \"eval_seconds\": ", JsonNumber(report.eval_seconds),
      ", \"checkpoint_seconds\": ", JsonNumber(report.checkpoint_seconds), "}\n");
  return out + "}\n";
}

absl::Status WriteTextFile(const std::string& path, const std::string& text) {
  const std::string temporary = path + ".tmp";
  {
    std::ofstream out(temporary, std::ios::out | std::ios::trunc | std::ios::binary);
    out << text;
    out.close();
    if (!out) {
      std::remove(temporary.c_str());
      return absl::PermissionDeniedError(absl::StrCat("cannot write '", path, "'"));
    }
  }
  if (std::rename(temporary.c_str(), path.c_str()) != 0) {
    std::remove(temporary.c_str());
    return absl::PermissionDeniedError(absl::StrCat("cannot write '", path, "'"));
  }
  return absl::OkStatus();
}

absl::Status EmitReport(const TrainReport& report, const std::string& title,
                        const std::string& json_path) {
  std::fputs(FormatSummary(report, title).c_str(), stdout);
  std::fflush(stdout);
  if (json_path.empty()) return absl::OkStatus();
  return WriteTextFile(json_path, FormatJson(report));
}

}  // namespace training
}  // namespace embrt
