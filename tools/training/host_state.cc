// Copyright embrt authors.

#include "tools/training/host_state.h"

#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <limits>
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

}  // namespace

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
                                  "synthetic_cardinality ", state.synthetic_cardinality, "\n");
  text += ChecksumLine(text);
  const std::string temporary = absl::StrCat(path, ".tmp-", ::getpid());
  ::unlink(temporary.c_str());
  absl::Status written = internal::WriteNewFileDurably(temporary, text);
  if (written.ok() && std::rename(temporary.c_str(), path.c_str()) != 0) {
    written = internal::ErrnoStatus(errno, absl::StrCat("rename ", temporary, " to ", path));
  }
  if (!written.ok()) {
    ::unlink(temporary.c_str());
    return written;
  }
  return absl::OkStatus();
}

absl::StatusOr<HostState> LoadHostState(const std::string& path, const HostStateLimits& limits) {
  absl::StatusOr<std::string> contents =
      internal::ReadSmallFile(path, kMaxHostStateBytes, internal::Symlinks::kRefuse);
  if (!contents.ok()) {
    if (absl::IsNotFound(contents.status())) {
      return absl::NotFoundError(absl::StrCat("cannot open host state '", path, "'"));
    }
    return absl::Status(contents.status().code(),
                        absl::StrCat("host state: ", contents.status().message()));
  }
  auto corrupt = [&path](absl::string_view why) {
    return absl::DataLossError(absl::StrCat("host state '", path, "' ", why));
  };
  // The checksum line is the last line and covers every byte before it.
  const std::string& bytes = *contents;
  const size_t last_line = bytes.rfind('\n', bytes.size() >= 2 ? bytes.size() - 2 : 0);
  const size_t checksum_at = last_line == std::string::npos ? 0 : last_line + 1;
  const absl::string_view body(bytes.data(), checksum_at);
  if (bytes.compare(checksum_at, std::string::npos, ChecksumLine(body)) != 0) {
    return corrupt(absl::StrCat(
        absl::string_view(bytes).substr(checksum_at).substr(0, sizeof(kChecksumKey) - 1) ==
                kChecksumKey
            ? "is corrupt (XXH3-64 checksum mismatch)"
            : "has no checksum line (torn, edited or written by an older embrt)"));
  }

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
  return state;
}

}  // namespace training
}  // namespace embrt
