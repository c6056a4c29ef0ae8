// Copyright embrt authors.

#include "tools/training/checkpoint_inspection.h"

#include <algorithm>
#include <cmath>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "embrt/checkpoint.h"
#include "embrt/status_macros.h"
#include "tools/training/host_state.h"

namespace embrt {
namespace training {
namespace {

std::string Bytes(int64_t bytes) {
  if (bytes >= (int64_t{1} << 30)) return absl::StrFormat("%.2f GiB", bytes / 1073741824.0);
  if (bytes >= (int64_t{1} << 20)) return absl::StrFormat("%.2f MiB", bytes / 1048576.0);
  if (bytes >= (int64_t{1} << 10)) return absl::StrFormat("%.1f KiB", bytes / 1024.0);
  return absl::StrCat(bytes, " B");
}

}  // namespace

absl::StatusOr<std::string> InspectCheckpoint(const std::string& path_or_root, bool verify) {
  CheckpointReader::Options options;
  options.verify_checksums = verify;
  EMBRT_ASSIGN_OR_RETURN(std::unique_ptr<CheckpointReader> reader,
                         CheckpointReader::Open(path_or_root, options));
  const CheckpointManifest& manifest = reader->manifest();
  std::string out = absl::StrFormat("checkpoint %s\n", reader->path());
  absl::StrAppendFormat(&out, "  step %d, format version %d, written by '%s', %d host(s), %s\n",
                        manifest.step(), manifest.format_version(), manifest.created_by(),
                        manifest.num_hosts(), manifest.sharding() == MOD ? "MOD" : "DIV");
  // The backend name is information only: nothing is ever loaded from a checkpoint.
  absl::StrAppendFormat(&out, "  written with backend %s, batch %d, %d features, checksums %s\n",
                        manifest.config().backend().name(),
                        manifest.config().per_replica_batch_size(),
                        manifest.config().features_size(), verify ? "verified" : "not checked");
  int64_t total_bytes = 0;
  for (int t = 0; t < reader->num_tables(); ++t) {
    const CheckpointTable& table = manifest.tables(t);
    absl::StrAppendFormat(&out, "  table %-12s %d x %d, %s\n", table.name(),
                          table.vocabulary_size(), table.dim(), table.optimizer());
    for (int s = 0; s < table.slots_size(); ++s) {
      const CheckpointSlot& slot = table.slots(s);
      int64_t bytes = 0;
      for (const CheckpointFile& file : slot.files()) bytes += file.byte_size();
      total_bytes += bytes;
      double sum_of_squares = 0, row_norms = 0, largest = 0;
      for (int64_t row = 0; row < table.vocabulary_size(); ++row) {
        absl::Span<const float> values = reader->Row(t, s, row);
        double row_squares = 0;
        for (float v : values) {
          row_squares += static_cast<double>(v) * v;
          largest = std::max(largest, static_cast<double>(std::fabs(v)));
        }
        sum_of_squares += row_squares;
        row_norms += std::sqrt(row_squares);
      }
      absl::StrAppendFormat(
          &out, "    %-14s %d file(s), %s: L2 norm %.6g, mean row norm %.6g, max |x| %.6g\n",
          slot.name(), slot.files_size(), Bytes(bytes), std::sqrt(sum_of_squares),
          table.vocabulary_size() > 0 ? row_norms / table.vocabulary_size() : 0.0, largest);
    }
  }
  absl::StrAppendFormat(&out, "  %d tables, %s in all\n", reader->num_tables(),
                        Bytes(total_bytes));
  HostStateLimits limits;
  limits.step = manifest.step();
  limits.max_batch_size = manifest.config().per_replica_batch_size();
  const std::string host_path = HostStatePathForCheckpoint(reader->path(), manifest.step());
  absl::StatusOr<HostState> host = LoadHostState(host_path, limits);
  if (host.ok()) {
    absl::StrAppendFormat(&out,
                          "  host state: global bias %.6g, %d examples seen, %s loss, %s data\n",
                          host->bias, host->examples_seen, host->loss, host->format);
  } else if (!absl::IsNotFound(host.status())) {
    absl::StrAppendFormat(&out, "  host state: unusable: %s\n", host.status().message());
  }
  return out;
}

}  // namespace training
}  // namespace embrt
