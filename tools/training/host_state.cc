// Copyright embrt authors.

#include "tools/training/host_state.h"

#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <iterator>
#include <limits>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "embrt/status_macros.h"
#include "posix_file.h"  // core/src: non-blocking opens, durable writes

namespace embrt {
namespace training {
namespace {

constexpr char kChecksumKey[] = "xxh3 ";

std::string ChecksumLine(absl::string_view body) {
  return absl::StrFormat("%s%016x\n", kChecksumKey, XXH3_64bits(body.data(), body.size()));
}

// The largest number of examples `step` steps of at most `batch` examples can have consumed.
int64_t MaxExamples(int64_t step, int64_t batch) {
  int64_t product = 0;
  if (__builtin_mul_overflow(step, batch, &product)) return std::numeric_limits<int64_t>::max();
  return product;
}

bool ParseHexFloat(const std::string& value, float& out) {
  if (value.empty()) return false;
  char* end = nullptr;
  out = std::strtof(value.c_str(), &end);
  return end != nullptr && *end == '\0' && std::isfinite(out);
}

// A double as written by %a; NaN and infinities only where `finite_only` is false.
bool ParseDouble(absl::string_view text, double& out, bool finite_only) {
  const std::string value(text);
  if (value.empty()) return false;
  char* end = nullptr;
  out = std::strtod(value.c_str(), &end);
  return end != nullptr && *end == '\0' && (!finite_only || std::isfinite(out));
}

// The early-stopping lines; every key starts with "es_".
std::string EarlyStoppingLines(const EarlyStoppingState& es) {
  const auto metrics = [](const StoredMetrics& m) {
    return absl::StrFormat("%d %a %a %a %a %a", m.examples, m.loss, m.auc, m.log_loss, m.rmse,
                           m.mae);
  };
  return absl::StrCat(
      "es_metric ", es.metric, "\n",
      absl::StrFormat("es_validation_fraction %a\n", es.validation_fraction),
      "es_evaluations ", es.evaluations, "\n",
      "es_without_improvement ", es.without_improvement, "\n",
      "es_last_evaluation_step ", es.last_evaluation_step, "\n",
      "es_finished_at_step ", es.finished_at_step, "\n",
      "es_finished_epochs ", es.finished_epochs, "\n",
      "es_stopped_early ", es.stopped_early ? 1 : 0, "\n",
      absl::StrFormat("es_best_value %a\n", es.best_value),
      "es_best_step ", es.best_step, "\n",
      "es_best_epoch ", es.best_epoch, "\n",
      "es_best_examples ", es.best_examples, "\n",
      absl::StrFormat("es_best_bias %a\n", es.best_bias),
      absl::StrFormat("es_best_bias_accumulator %a\n", es.best_bias_accumulator),
      "es_best_validation ", metrics(es.best_validation), "\n",
      "es_best_test ", metrics(es.best_test), "\n");
}

constexpr const char* kEarlyStoppingKeys[] = {
    "es_metric", "es_validation_fraction", "es_evaluations", "es_without_improvement",
    "es_last_evaluation_step", "es_finished_epochs",
    "es_finished_at_step", "es_stopped_early", "es_best_value", "es_best_step", "es_best_epoch",
    "es_best_examples", "es_best_bias", "es_best_bias_accumulator", "es_best_validation",
    "es_best_test"};

bool ParseMetrics(const std::string& value, StoredMetrics& m) {
  std::vector<absl::string_view> parts = absl::StrSplit(value, ' ');
  return parts.size() == 6 && absl::SimpleAtoi(parts[0], &m.examples) && m.examples >= 0 &&
         ParseDouble(parts[1], m.loss, false) && ParseDouble(parts[2], m.auc, false) &&
         ParseDouble(parts[3], m.log_loss, false) && ParseDouble(parts[4], m.rmse, false) &&
         ParseDouble(parts[5], m.mae, false);
}

// One "es_" line into `es`; false when it does not parse or is out of the bounds that do not
// depend on the checkpoint.
bool ParseEarlyStoppingField(const std::string& key, const std::string& value,
                             EarlyStoppingState& es) {
  int64_t flag = 0;
  if (key == "es_metric") {
    es.metric = value;
    return value == "rmse" || value == "mae" || value == "log_loss" || value == "auc" ||
           value == "loss";
  }
  if (key == "es_validation_fraction") {
    return ParseDouble(value, es.validation_fraction, true) && es.validation_fraction > 0 &&
           es.validation_fraction < 1;
  }
  if (key == "es_evaluations") return absl::SimpleAtoi(value, &es.evaluations);
  if (key == "es_without_improvement") return absl::SimpleAtoi(value, &es.without_improvement);
  if (key == "es_last_evaluation_step") return absl::SimpleAtoi(value, &es.last_evaluation_step);
  if (key == "es_finished_epochs") {
    return absl::SimpleAtoi(value, &es.finished_epochs) && es.finished_epochs >= 0;
  }
  if (key == "es_finished_at_step") return absl::SimpleAtoi(value, &es.finished_at_step);
  if (key == "es_stopped_early") {
    if (!absl::SimpleAtoi(value, &flag) || (flag != 0 && flag != 1)) return false;
    es.stopped_early = flag == 1;
    return true;
  }
  if (key == "es_best_value") return ParseDouble(value, es.best_value, true);
  if (key == "es_best_step") return absl::SimpleAtoi(value, &es.best_step);
  if (key == "es_best_epoch") return absl::SimpleAtoi(value, &es.best_epoch);
  if (key == "es_best_examples") return absl::SimpleAtoi(value, &es.best_examples);
  if (key == "es_best_bias") return ParseHexFloat(value, es.best_bias);
  if (key == "es_best_bias_accumulator") {
    return ParseHexFloat(value, es.best_bias_accumulator) && es.best_bias_accumulator >= 0;
  }
  if (key == "es_best_validation") return ParseMetrics(value, es.best_validation);
  if (key == "es_best_test") return ParseMetrics(value, es.best_test);
  return false;
}

// The early-stopping fields against the checkpoint's step and examples; empty when they fit.
std::string EarlyStoppingBoundsError(const EarlyStoppingState& es, int64_t step,
                                     int64_t examples_seen) {
  const auto in = [](int64_t v, int64_t lo, int64_t hi) { return v >= lo && v <= hi; };
  if (!in(es.evaluations, 0, step + 1)) {
    return absl::StrCat("es_evaluations ", es.evaluations, " for step ", step);
  }
  if (!in(es.without_improvement, 0, es.evaluations)) {
    return absl::StrCat("es_without_improvement ", es.without_improvement, " of ",
                        es.evaluations, " evaluations");
  }
  if (!in(es.best_step, 0, step)) return absl::StrCat("es_best_step ", es.best_step);
  if (!in(es.last_evaluation_step, 0, std::max(step, es.finished_at_step))) {
    return absl::StrCat("es_last_evaluation_step ", es.last_evaluation_step);
  }
  if (!in(es.best_examples, 0, examples_seen)) {
    return absl::StrCat("es_best_examples ", es.best_examples);
  }
  if (!in(es.best_epoch, 0, es.best_examples)) {
    return absl::StrCat("es_best_epoch ", es.best_epoch);
  }
  if (es.finished_at_step != 0 && !in(es.finished_at_step, step, int64_t{1} << 62)) {
    return absl::StrCat("es_finished_at_step ", es.finished_at_step);
  }
  return "";
}

// `body` and its checksum line, durably to `path` (temporary file, fsync, rename).
absl::Status WriteChecksummedDurably(std::string body, const std::string& path) {
  body += ChecksumLine(body);
  const std::string temporary = absl::StrCat(path, ".tmp-", ::getpid());
  ::unlink(temporary.c_str());
  absl::Status written = internal::WriteNewFileDurably(temporary, body);
  if (written.ok() && std::rename(temporary.c_str(), path.c_str()) != 0) {
    written = internal::ErrnoStatus(errno, absl::StrCat("rename ", temporary, " to ", path));
  }
  if (!written.ok()) ::unlink(temporary.c_str());
  return written;
}

// The lines before the checksum line of a file written by WriteChecksummedDurably, read with
// at most `max_bytes`; errors name `what` and the path.
absl::StatusOr<std::string> ReadChecksummed(const std::string& path, int64_t max_bytes,
                                            absl::string_view what) {
  absl::StatusOr<std::string> contents =
      internal::ReadSmallFile(path, max_bytes, internal::Symlinks::kRefuse);
  if (!contents.ok()) {
    if (absl::IsNotFound(contents.status())) {
      return absl::NotFoundError(absl::StrCat("cannot open ", what, " '", path, "'"));
    }
    return absl::Status(contents.status().code(),
                        absl::StrCat(what, ": ", contents.status().message()));
  }
  // The checksum line is the last line and covers every byte before it.
  std::string& bytes = *contents;
  const size_t last_line = bytes.rfind('\n', bytes.size() >= 2 ? bytes.size() - 2 : 0);
  const size_t checksum_at = last_line == std::string::npos ? 0 : last_line + 1;
  const absl::string_view body(bytes.data(), checksum_at);
  if (bytes.compare(checksum_at, std::string::npos, ChecksumLine(body)) != 0) {
    return absl::DataLossError(absl::StrCat(
        what, " '", path, "' ",
        absl::string_view(bytes).substr(checksum_at).substr(0, sizeof(kChecksumKey) - 1) ==
                kChecksumKey
            ? "is corrupt (XXH3-64 checksum mismatch)"
            : "has no checksum line (torn, edited or written by an older embrt)"));
  }
  bytes.resize(checksum_at);
  return std::move(bytes);
}

}  // namespace

std::string BestCheckpointRoot(const std::string& root) { return root + "/best"; }

std::string BestCheckpointPath(const std::string& root, int64_t step) {
  return absl::StrCat(BestCheckpointRoot(root), "/ckpt-", step);
}

std::string HostStatePath(const std::string& root, int64_t step) {
  return absl::StrCat(root, "/host-", step, ".txt");
}

std::string HostStatePathForCheckpoint(const std::string& checkpoint_dir, int64_t step) {
  std::filesystem::path dir(checkpoint_dir);
  if (!dir.has_filename()) dir = dir.parent_path();  // trailing slash
  return HostStatePath(dir.parent_path().string(), step);
}

absl::Status SaveHostState(const HostState& state, const std::string& path) {
  const std::string checkpoint =
      (std::filesystem::path(path).parent_path() / absl::StrCat("ckpt-", state.step)).string();
  struct stat info;
  if (::lstat(checkpoint.c_str(), &info) == 0) {
    return absl::AlreadyExistsError(absl::StrCat(
        "checkpoint ", checkpoint, " exists already; embrt never overwrites a checkpoint or its "
        "host state (resume with --resume, or use another --checkpoint_dir)"));
  }
  std::string text = absl::StrCat("step ", state.step, "\n",
                                  absl::StrFormat("bias %a\n", state.bias),
                                  absl::StrFormat("bias_accumulator %a\n", state.bias_accumulator),
                                  "examples_seen ", state.examples_seen, "\n",
                                  "loss ", state.loss, "\n",
                                  "format ", state.format, "\n",
                                  "tsv_columns ", state.tsv_columns, "\n",
                                  "seed ", state.seed, "\n",
                                  "synthetic_fields ", state.synthetic_fields, "\n",
                                  "synthetic_cardinality ", state.synthetic_cardinality, "\n",
                                  absl::StrFormat("interval_loss %a\n", state.interval_loss),
                                  "interval_examples ", state.interval_examples, "\n",
                                  absl::StrFormat("last_train_loss %a\n", state.last_train_loss));
  if (state.early_stopping.has_value()) text += EarlyStoppingLines(*state.early_stopping);
  return WriteChecksummedDurably(text, path);
}

absl::StatusOr<HostState> LoadHostState(const std::string& path, const HostStateLimits& limits) {
  EMBRT_ASSIGN_OR_RETURN(const std::string body,
                         ReadChecksummed(path, kMaxHostStateBytes, "host state"));
  auto corrupt = [&path](absl::string_view why) {
    return absl::DataLossError(absl::StrCat("host state '", path, "' ", why));
  };
  HostState state;
  absl::flat_hash_set<std::string> seen;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(body, '\n', absl::SkipEmpty())) {
    ++line_number;
    std::pair<std::string, std::string> kv = absl::StrSplit(line, absl::MaxSplits(' ', 1));
    const std::string& key = kv.first;
    const std::string& value = kv.second;
    if (!seen.insert(key).second) {
      return corrupt(absl::StrCat("line ", line_number, ": '", key.substr(0, 64), "' repeated"));
    }
    bool ok = true;
    if (key == "step") {
      ok = absl::SimpleAtoi(value, &state.step);
    } else if (key == "bias") {
      ok = ParseHexFloat(value, state.bias);
    } else if (key == "bias_accumulator") {
      ok = ParseHexFloat(value, state.bias_accumulator) && state.bias_accumulator >= 0;
    } else if (key == "examples_seen") {
      ok = absl::SimpleAtoi(value, &state.examples_seen);
    } else if (key == "loss") {
      state.loss = value;
      ok = value == "logistic" || value == "squared";
    } else if (key == "format") {
      state.format = value;
      ok = value.size() <= 64;
    } else if (key == "tsv_columns") {
      state.tsv_columns = value;
      ok = value.size() <= 4096;
    } else if (key == "seed") {
      ok = absl::SimpleAtoi(value, &state.seed);
    } else if (key == "synthetic_fields") {
      ok = absl::SimpleAtoi(value, &state.synthetic_fields) && state.synthetic_fields >= 0 &&
           state.synthetic_fields <= kMaxSyntheticFields;
    } else if (key == "synthetic_cardinality") {
      ok = absl::SimpleAtoi(value, &state.synthetic_cardinality) &&
           state.synthetic_cardinality >= 0 &&
           state.synthetic_cardinality <= kMaxSyntheticCardinality;
    } else if (key == "interval_loss") {
      ok = ParseDouble(value, state.interval_loss, true) && state.interval_loss >= 0;
    } else if (key == "last_train_loss") {
      ok = ParseDouble(value, state.last_train_loss, false) && !std::isinf(state.last_train_loss);
    } else if (key == "interval_examples") {
      ok = absl::SimpleAtoi(value, &state.interval_examples) && state.interval_examples >= 0;
    } else if (key.rfind("es_", 0) == 0 &&
               std::find(std::begin(kEarlyStoppingKeys), std::end(kEarlyStoppingKeys), key) !=
                   std::end(kEarlyStoppingKeys)) {
      if (!state.early_stopping.has_value()) state.early_stopping.emplace();
      ok = ParseEarlyStoppingField(key, value, *state.early_stopping);
    } else {
      return corrupt(absl::StrCat("line ", line_number, ": unknown key '", key.substr(0, 64),
                                  "'"));
    }
    if (!ok) {
      return corrupt(absl::StrCat("line ", line_number, ": bad ", key, " '", value.substr(0, 100),
                                  "'"));
    }
  }
  for (const char* required : {"step", "bias", "bias_accumulator", "examples_seen", "loss",
                               "format"}) {
    if (!seen.contains(required)) return corrupt(absl::StrCat("has no ", required));
  }
  if (state.step != limits.step) {
    return corrupt(absl::StrCat("is of step ", state.step, ", its checkpoint of step ",
                                limits.step));
  }
  const int64_t most = MaxExamples(limits.step, limits.max_batch_size);
  const int64_t least = limits.step;  // every step trained on at least one example
  if (state.examples_seen < least || state.examples_seen > most) {
    return corrupt(absl::StrCat("has examples_seen ", state.examples_seen, ", not in [", least,
                                ", ", most, "] for step ", limits.step,
                                " with batches of at most ", limits.max_batch_size));
  }
  if (state.interval_examples > state.examples_seen) {
    return corrupt(absl::StrCat("has interval_examples ", state.interval_examples, " of ",
                                state.examples_seen, " examples seen"));
  }
  if (state.early_stopping.has_value()) {
    for (const char* required : kEarlyStoppingKeys) {
      if (!seen.contains(required)) {
        return corrupt(absl::StrCat("has early-stopping fields but no ", required));
      }
    }
    const std::string bad =
        EarlyStoppingBoundsError(*state.early_stopping, state.step, state.examples_seen);
    if (!bad.empty()) return corrupt(absl::StrCat("has ", bad, " (out of bounds)"));
  }
  return state;
}

std::string CurvePath(const std::string& root, int64_t step) {
  return absl::StrCat(root, "/curve-", step, ".txt");
}

absl::Status SaveCurve(const LearningCurve& curve, const std::string& path) {
  std::string text;
  for (const auto& [key, points] : {std::pair{"train", &curve.train},
                                    std::pair{"eval", &curve.eval},
                                    std::pair{"validation", &curve.validation}}) {
    for (const CurvePoint& p : *points) {
      absl::StrAppendFormat(&text, "%s %a %a\n", key, p.examples, p.loss);
    }
  }
  return WriteChecksummedDurably(std::move(text), path);
}

absl::StatusOr<LearningCurve> LoadCurve(const std::string& path, int64_t examples_seen) {
  EMBRT_ASSIGN_OR_RETURN(const std::string body,
                         ReadChecksummed(path, kMaxCurveBytes, "learning curve"));
  LearningCurve curve;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(body, '\n', absl::SkipEmpty())) {
    ++line_number;
    std::vector<absl::string_view> parts = absl::StrSplit(line, ' ');
    CurvePoint point;
    std::vector<CurvePoint>* series = nullptr;
    if (parts.size() == 3) {
      series = parts[0] == "train"        ? &curve.train
               : parts[0] == "eval"       ? &curve.eval
               : parts[0] == "validation" ? &curve.validation
                                          : nullptr;
    }
    if (series == nullptr || !ParseDouble(parts[1], point.examples, true) ||
        !ParseDouble(parts[2], point.loss, true) || point.examples < 0 ||
        point.examples > static_cast<double>(examples_seen)) {
      return absl::DataLossError(absl::StrCat("learning curve '", path, "' line ", line_number,
                                              ": not a point of ", examples_seen,
                                              " examples seen: '", line.substr(0, 100), "'"));
    }
    series->push_back(point);
  }
  return curve;
}

}  // namespace training
}  // namespace embrt
