// Copyright embrt authors.

#include "tools/training/host_state.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"

namespace embrt {
namespace training {

std::string HostStatePath(const std::string& root, int64_t step) {
  return absl::StrCat(root, "/host-", step, ".txt");
}

std::string HostStatePathForCheckpoint(const std::string& checkpoint_dir, int64_t step) {
  std::filesystem::path dir(checkpoint_dir);
  if (!dir.has_filename()) dir = dir.parent_path();  // trailing slash
  return HostStatePath(dir.parent_path().string(), step);
}

absl::Status SaveHostState(const HostState& state, const std::string& path) {
  const std::string temporary = path + ".tmp";
  {
    std::ofstream out(temporary, std::ios::out | std::ios::trunc);
    out << "step " << state.step << "\n"
        << absl::StrFormat("bias %a\n", state.bias)
        << absl::StrFormat("bias_accumulator %a\n", state.bias_accumulator)
        << "examples_seen " << state.examples_seen << "\n"
        << "loss " << state.loss << "\n"
        << "format " << state.format << "\n"
        << "tsv_columns " << state.tsv_columns << "\n"
        << "seed " << state.seed << "\n"
        << "synthetic_fields " << state.synthetic_fields << "\n"
        << "synthetic_cardinality " << state.synthetic_cardinality << "\n";
    out.close();
    if (!out) {
      std::remove(temporary.c_str());
      return absl::PermissionDeniedError(absl::StrCat("cannot write '", temporary, "'"));
    }
  }
  if (std::rename(temporary.c_str(), path.c_str()) != 0) {
    std::remove(temporary.c_str());
    return absl::PermissionDeniedError(absl::StrCat("cannot write '", path, "'"));
  }
  return absl::OkStatus();
}

absl::StatusOr<HostState> LoadHostState(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open host state '", path, "'"));
  HostState state;
  std::string line;
  int line_number = 0;
  while (std::getline(in, line)) {
    ++line_number;
    std::pair<std::string, std::string> kv = absl::StrSplit(line, absl::MaxSplits(' ', 1));
    const std::string& key = kv.first;
    const std::string& value = kv.second;
    bool ok = true;
    if (key == "step") {
      ok = absl::SimpleAtoi(value, &state.step);
    } else if (key == "bias" || key == "bias_accumulator") {
      char* end = nullptr;
      const float parsed = std::strtof(value.c_str(), &end);
      ok = !value.empty() && end != nullptr && *end == '\0';
      (key == "bias" ? state.bias : state.bias_accumulator) = parsed;
    } else if (key == "examples_seen") {
      ok = absl::SimpleAtoi(value, &state.examples_seen);
    } else if (key == "loss") {
      state.loss = value;
    } else if (key == "format") {
      state.format = value;
    } else if (key == "tsv_columns") {
      state.tsv_columns = value;
    } else if (key == "seed") {
      ok = absl::SimpleAtoi(value, &state.seed);
    } else if (key == "synthetic_fields") {
      ok = absl::SimpleAtoi(value, &state.synthetic_fields);
    } else if (key == "synthetic_cardinality") {
      ok = absl::SimpleAtoi(value, &state.synthetic_cardinality);
    }
    if (!ok) {
      return absl::DataLossError(
          absl::StrCat("host state '", path, "' line ", line_number, ": bad value '", value, "'"));
    }
  }
  return state;
}

}  // namespace training
}  // namespace embrt
