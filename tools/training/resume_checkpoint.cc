// Copyright embrt authors.

#include "tools/training/resume_checkpoint.h"

#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "embrt/checkpoint.h"
#include "embrt/status_macros.h"
#include "tools/training/host_state.h"

namespace embrt {
namespace training {
namespace {

std::string Names(const std::vector<int64_t>& steps) {
  std::vector<std::string> names;
  for (size_t i = 0; i < steps.size() && i < 5; ++i) names.push_back(absl::StrCat("ckpt-", steps[i]));
  if (steps.size() > 5) names.push_back(absl::StrCat("and ", steps.size() - 5, " more"));
  return absl::StrJoin(names, ", ");
}

// OK when the checkpoint verifies and its host state loads.
absl::Status VerifyForResume(const std::string& root, int64_t step) {
  const std::string path = absl::StrCat(root, "/ckpt-", step);
  EMBRT_ASSIGN_OR_RETURN(std::unique_ptr<CheckpointReader> reader, CheckpointReader::Open(path));
  HostStateLimits limits;
  limits.step = reader->step();
  limits.max_batch_size = reader->manifest().config().per_replica_batch_size();
  if (reader->step() != step) {
    return absl::DataLossError(
        absl::StrCat(path, " holds a checkpoint of step ", reader->step()));
  }
  return LoadHostState(HostStatePath(root, step), limits).status();
}

// Whether the checkpoint is the final one of an early-stopped run (its kept best step, with
// newer ones beside it): resuming it trains nothing, so the newer ones are never reached.
bool IsFinalKeptCheckpoint(const std::string& root, const CheckpointReader& reader) {
  HostStateLimits limits;
  limits.step = reader.step();
  limits.max_batch_size = reader.manifest().config().per_replica_batch_size();
  absl::StatusOr<HostState> state = LoadHostState(HostStatePath(root, reader.step()), limits);
  return state.ok() && state->early_stopping.has_value() &&
         state->early_stopping->finished_at_step > 0;
}

}  // namespace

std::vector<int64_t> CheckpointSteps(const std::string& root) {
  std::vector<int64_t> steps;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(root, error)) {
    // filename() returns a temporary path: keep the string alive while `name` views it.
    const std::string file_name = entry.path().filename().native();
    absl::string_view name = file_name;
    int64_t step = 0;
    if (absl::ConsumePrefix(&name, "ckpt-") && absl::SimpleAtoi(name, &step) && step >= 0 &&
        absl::StrCat("ckpt-", step) == file_name) {
      steps.push_back(step);
    }
  }
  std::sort(steps.rbegin(), steps.rend());
  return steps;
}

absl::StatusOr<std::string> ChooseStartCheckpoint(const std::string& checkpoint_dir, bool resume) {
  if (checkpoint_dir.empty()) return std::string();
  std::string root = checkpoint_dir;
  while (root.size() > 1 && root.back() == '/') root.pop_back();
  const std::vector<int64_t> steps = CheckpointSteps(root);
  struct stat info;
  const std::string latest_path = root + "/latest";
  const bool has_latest = ::lstat(latest_path.c_str(), &info) == 0;
  if (!resume) {
    if (steps.empty() && !has_latest) return std::string();
    return absl::FailedPreconditionError(absl::StrCat(
        "--checkpoint_dir ", root, " already holds checkpoints (",
        steps.empty() ? "latest" : Names(steps),
        "); embrt never overwrites a checkpoint: pass --resume to continue from them, or choose "
        "another --checkpoint_dir"));
  }
  if (has_latest) {
    EMBRT_ASSIGN_OR_RETURN(std::string latest, ResolveCheckpointPath(root));
    EMBRT_ASSIGN_OR_RETURN(std::unique_ptr<CheckpointReader> reader,
                           CheckpointReader::Open(latest, CheckpointReader::Options{false}));
    if (!steps.empty() && steps.front() > reader->step() &&
        !IsFinalKeptCheckpoint(root, *reader)) {
      return absl::FailedPreconditionError(absl::StrCat(
          "--resume: ", latest_path, " names ", latest, " (step ", reader->step(), ") but ", root,
          " also holds the newer ckpt-", steps.front(),
          ", which training would reach and refuse to overwrite; point ", latest_path,
          " at the checkpoint to continue from, or move the newer ones away"));
    }
    return latest;
  }
  if (steps.empty()) return std::string();
  const absl::Status newest = VerifyForResume(root, steps.front());
  if (!newest.ok()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "--resume: ", root, " has no 'latest' and its newest checkpoint ckpt-", steps.front(),
        " cannot be resumed (", newest.message(), "); found ", Names(steps),
        ". Write the name of the checkpoint to continue from into ", latest_path,
        ", or move the broken one away"));
  }
  return absl::StrCat(root, "/ckpt-", steps.front());
}

}  // namespace training
}  // namespace embrt
