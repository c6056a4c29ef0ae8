// Copyright embrt authors.
//
// Fuzz target: config text -> ParseConfigText -> ResolveConfig. Whatever the text, the result
// is a config or an error; a resolved config keeps the invariants every later stage relies on.

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "embrt/config.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<embrt::EmbeddingConfig> config = embrt::ParseConfigText(text);
  if (!config.ok()) return 0;
  absl::StatusOr<embrt::ResolvedConfig> resolved = embrt::ResolveConfig(*config);
  if (!resolved.ok()) {
    FUZZ_CHECK(!resolved.status().message().empty());
    return 0;
  }
  FUZZ_CHECK(!resolved->features.empty());
  for (const embrt::ResolvedTable& table : resolved->tables) {
    FUZZ_CHECK(table.vocabulary_size >= 1);
    FUZZ_CHECK(table.dim >= 1);
    FUZZ_CHECK(!table.feature_indices.empty());
  }
  for (const embrt::ResolvedFeature& feature : resolved->features) {
    FUZZ_CHECK(feature.table_index >= 0 &&
               feature.table_index < static_cast<int>(resolved->tables.size()));
    FUZZ_CHECK(feature.max_sequence_length >= 0);
    for (int64_t d : feature.output_shape) FUZZ_CHECK(d >= 1);
  }
  // Resolving is idempotent: the resolved config resolves to itself.
  absl::StatusOr<embrt::ResolvedConfig> again = embrt::ResolveConfig(resolved->config);
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(again->tables.size() == resolved->tables.size());
  return 0;
}
