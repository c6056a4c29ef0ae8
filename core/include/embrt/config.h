// Copyright embrt authors.
//
// File: embrt/config.h
// --------------------
// Reading and validating an EmbeddingConfig (proto/embrt/config.proto).
//
// ResolveConfig() is the single place where TF's rules are applied: table order is the order
// of first occurrence among the features, unnamed tables are called "table_{i}", tables without
// an optimizer take the global one, every hyperparameter gets TF's default and range check.
// Everything downstream (the device description, initializers, checkpoints, serving) works from
// the ResolvedConfig, never from the raw proto.
//
// Example:
//
//   EMBRT_ASSIGN_OR_RETURN(embrt::EmbeddingConfig config, embrt::ReadConfigFile(path));
//   EMBRT_ASSIGN_OR_RETURN(embrt::ResolvedConfig resolved, embrt::ResolveConfig(config));
//   for (const embrt::ResolvedTable& table : resolved.tables) ...

#ifndef EMBRT_CONFIG_H_
#define EMBRT_CONFIG_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "embrt/config.pb.h"

namespace embrt {

// Values match EMBRT_OPTIMIZER_* of embrt/plugin_api.h.
enum class OptimizerKind : int32_t {
  kSgd = 1,
  kAdagrad = 2,
  kAdagradMomentum = 3,
  kAdam = 4,
  kFtrl = 5,
};

// "sgd", "adagrad", "adagrad_momentum", "adam", "ftrl".
absl::string_view OptimizerKindName(OptimizerKind kind);

// The optimizer's slots in load/retrieve order, "parameters" first (plugin_api.h).
const std::vector<std::string>& SlotNames(OptimizerKind kind);

// An optimizer with every default filled in and every range checked.
struct ResolvedOptimizer {
  OptimizerKind kind = OptimizerKind::kSgd;
  // The config with the algorithm set and every TF default made explicit.
  OptimizerConfig config;
  // The constant learning rate; meaningful when learning_rate_tag < 0.
  float learning_rate = 0.01f;
  // >= 0: index into ResolvedConfig::learning_rate_tags.
  int learning_rate_tag = -1;
  // Initial value of each slot after "parameters" (Adagrad/FTRL accumulators: the
  // initial_accumulator_value; every other slot 0). Same order as SlotNames(kind), minus the
  // first entry.
  std::vector<float> slot_initial_values;
};

struct ResolvedTable {
  std::string name;
  int64_t vocabulary_size = 0;
  int32_t dim = 0;
  Combiner combiner = MEAN;  // never COMBINER_UNSPECIFIED
  // Always has a kind set (truncated normal with stddev 1/sqrt(dim) by default).
  InitializerConfig initializer;
  ResolvedOptimizer optimizer;
  // TF's simulated quantization of looked-up rows; checked (num_buckets >= 2, finite
  // lower < upper). Absent: rows are used as stored.
  std::optional<QuantizationConfig> quantization;
  int config_index = 0;                // position in EmbeddingConfig.tables
  std::vector<int> feature_indices;    // features that look this table up, in feature order
};

struct ResolvedFeature {
  std::string name;  // the config's, or "feature_{i}"
  int table_index = 0;
  int32_t max_sequence_length = 0;
  // The config's output_shape (without dim); empty until Build decides it.
  std::vector<int64_t> output_shape;
};

struct ResolvedConfig {
  EmbeddingConfig config;                      // as given
  std::vector<ResolvedTable> tables;           // in table order
  std::vector<ResolvedFeature> features;       // in config order
  std::vector<std::string> learning_rate_tags; // dynamic schedule names, in tag order
};

// Validates `config` and resolves it. Errors are INVALID_ARGUMENT naming the table or feature
// (by name and position) and the offending field and value.
absl::StatusOr<ResolvedConfig> ResolveConfig(const EmbeddingConfig& config);

// Parses protobuf text format. A syntax error is INVALID_ARGUMENT with line and column.
absl::StatusOr<EmbeddingConfig> ParseConfigText(absl::string_view text);

// Reads and parses a text-format config file. A missing or unreadable file is NOT_FOUND /
// PERMISSION_DENIED naming the path; parse errors name the path, line and column.
absl::StatusOr<EmbeddingConfig> ReadConfigFile(const std::string& path);

}  // namespace embrt

#endif  // EMBRT_CONFIG_H_
