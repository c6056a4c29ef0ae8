// Copyright embrt authors.

#include "tools/training/parameter_snapshot.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace embrt {
namespace training {

absl::Status ParameterSnapshot::Capture(Embedding& embedding) {
  const ResolvedConfig& config = embedding.config();
  slots_.resize(config.tables.size());
  return embedding.RetrieveTables(
      [&](int table, int64_t begin, int64_t count,
          absl::Span<const absl::Span<const float>> slots) -> absl::Status {
        const size_t dim = static_cast<size_t>(config.tables[table].dim);
        std::vector<std::vector<float>>& copy = slots_[table];
        copy.resize(slots.size());
        for (size_t s = 0; s < slots.size(); ++s) {
          const size_t end = static_cast<size_t>(begin + count) * dim;
          if (copy[s].size() < end) copy[s].resize(end);
          std::copy(slots[s].begin(), slots[s].end(), copy[s].begin() + begin * dim);
        }
        return absl::OkStatus();
      });
}

absl::Status ParameterSnapshot::Restore(Embedding& embedding) const {
  if (empty()) return absl::FailedPreconditionError("no parameters were captured");
  const ResolvedConfig& config = embedding.config();
  return embedding.LoadTables([&](int table, int64_t begin, int64_t count,
                                  absl::Span<const absl::Span<float>> slots) -> absl::Status {
    const size_t dim = static_cast<size_t>(config.tables[table].dim);
    const std::vector<std::vector<float>>& copy = slots_[table];
    if (copy.size() != slots.size()) {
      return absl::InternalError(absl::StrCat("snapshot of table ", table, " has ", copy.size(),
                                              " slots, not ", slots.size()));
    }
    for (size_t s = 0; s < slots.size(); ++s) {
      const auto first = copy[s].begin() + begin * dim;
      std::copy(first, first + count * dim, slots[s].begin());
    }
    return absl::OkStatus();
  });
}

}  // namespace training
}  // namespace embrt
