// Copyright embrt authors.
//
// Building the plain-C EMBRT_EngineDescription from a ResolvedConfig.

#include "device_description.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "embrt/sharding.h"

namespace embrt {
namespace internal {
namespace {

// A named value of `type` with no value set yet; `name` must outlive it.
EMBRT_NamedValue NamedValue(const char* name, size_t name_size, EMBRT_ValueType type) {
  EMBRT_NamedValue v{};
  v.struct_size = EMBRT_NamedValue_STRUCT_SIZE;
  v.name = name;
  v.name_size = name_size;
  v.type = type;
  return v;
}

// Names are string literals (static storage), so the values may point straight at them.
EMBRT_NamedValue FloatValue(const char* name, float value) {
  EMBRT_NamedValue v = NamedValue(name, std::char_traits<char>::length(name), EMBRT_VALUE_FLOAT);
  v.float_value = value;
  return v;
}

EMBRT_NamedValue BoolValue(const char* name, bool value) {
  EMBRT_NamedValue v = NamedValue(name, std::char_traits<char>::length(name), EMBRT_VALUE_INT64);
  v.int64_value = value ? 1 : 0;
  return v;
}

// The array a description field points at: NULL for an empty vector.
template <typename T>
T* DataOrNull(std::vector<T>& values) {
  return values.empty() ? nullptr : values.data();
}

// Every hyperparameter of the optimizer's kind, named as documented in plugin_api.h.
std::vector<EMBRT_NamedValue> Hyperparameters(const ResolvedOptimizer& optimizer) {
  const OptimizerConfig& c = optimizer.config;
  switch (optimizer.kind) {
    case OptimizerKind::kSgd:
      return {};
    case OptimizerKind::kAdagrad:
      return {FloatValue("initial_accumulator_value", c.adagrad().initial_accumulator_value())};
    case OptimizerKind::kAdagradMomentum:
      return {FloatValue("momentum", c.adagrad_momentum().momentum()),
              BoolValue("use_nesterov", c.adagrad_momentum().use_nesterov()),
              FloatValue("exponent", c.adagrad_momentum().exponent()),
              FloatValue("beta2", c.adagrad_momentum().beta2()),
              FloatValue("epsilon", c.adagrad_momentum().epsilon())};
    case OptimizerKind::kAdam:
      return {FloatValue("beta_1", c.adam().beta_1()), FloatValue("beta_2", c.adam().beta_2()),
              FloatValue("epsilon", c.adam().epsilon()),
              BoolValue("lazy_adam", c.adam().lazy_adam()),
              BoolValue("sum_inside_sqrt", c.adam().sum_inside_sqrt())};
    case OptimizerKind::kFtrl:
      return {FloatValue("learning_rate_power", c.ftrl().learning_rate_power()),
              FloatValue("l1_regularization_strength", c.ftrl().l1_regularization_strength()),
              FloatValue("l2_regularization_strength", c.ftrl().l2_regularization_strength()),
              FloatValue("beta", c.ftrl().beta()),
              FloatValue("initial_accumulator_value", c.ftrl().initial_accumulator_value()),
              BoolValue("multiply_linear_by_learning_rate",
                        c.ftrl().multiply_linear_by_learning_rate())};
  }
  return {};
}

std::pair<float, float> Limits(bool has_limits, const ClippingLimits& limits) {
  float lower = -INFINITY;
  float upper = INFINITY;
  if (has_limits && limits.has_lower()) lower = limits.lower();
  if (has_limits && limits.has_upper()) upper = limits.upper();
  return {lower, upper};
}

}  // namespace

DeviceDescription::DeviceDescription(const ResolvedConfig& config, int per_replica_batch_size,
                                     const std::vector<std::vector<int64_t>>& output_shapes,
                                     const std::vector<int64_t>& input_rows) {
  const EmbeddingConfig& layout = config.config;
  const size_t num_tables = config.tables.size();
  const size_t num_features = config.features.size();
  assert(output_shapes.size() == num_features);
  assert(input_rows.size() == num_features);

  // Sized up front: the description points into these vectors.
  optimizers_.resize(num_tables);
  hyperparameters_.resize(num_tables);
  tables_.resize(num_tables);
  table_pointers_.resize(num_tables);
  for (size_t t = 0; t < num_tables; ++t) {
    const ResolvedTable& table = config.tables[t];
    const ResolvedOptimizer& optimizer = table.optimizer;
    hyperparameters_[t] = Hyperparameters(optimizer);

    EMBRT_OptimizerDescription& o = optimizers_[t];
    o = EMBRT_OptimizerDescription{};
    o.struct_size = EMBRT_OptimizerDescription_STRUCT_SIZE;
    o.kind = static_cast<EMBRT_OptimizerKind>(optimizer.kind);
    o.learning_rate = optimizer.learning_rate_tag < 0 ? optimizer.learning_rate : 0.0f;
    o.learning_rate_tag = optimizer.learning_rate_tag;
    o.use_gradient_accumulation = optimizer.config.use_gradient_accumulation() ? 1 : 0;
    std::tie(o.clip_weight_min, o.clip_weight_max) =
        Limits(optimizer.config.has_weight_clipping(), optimizer.config.weight_clipping());
    std::tie(o.clip_gradient_min, o.clip_gradient_max) =
        Limits(optimizer.config.has_gradient_clipping(), optimizer.config.gradient_clipping());
    o.weight_decay_factor = optimizer.config.weight_decay_factor();
    o.multiply_weight_decay_factor_by_learning_rate =
        optimizer.config.multiply_weight_decay_factor_by_learning_rate() ? 1 : 0;
    o.hyperparameters = DataOrNull(hyperparameters_[t]);
    o.num_hyperparameters = hyperparameters_[t].size();

    const std::string& name = strings_.emplace_back(table.name);
    EMBRT_TableDescription& d = tables_[t];
    d = EMBRT_TableDescription{};
    d.struct_size = EMBRT_TableDescription_STRUCT_SIZE;
    d.name = name.data();
    d.name_size = name.size();
    d.vocabulary_size = table.vocabulary_size;
    d.dim = table.dim;
    d.combiner = static_cast<EMBRT_Combiner>(table.combiner);
    d.optimizer = &optimizers_[t];
    d.shard_rows = ShardRows(table.vocabulary_size, layout.num_hosts(), layout.host_id());
    if (table.quantization.has_value()) {
      d.quantization_num_buckets = table.quantization->num_buckets();
      d.quantization_lower = table.quantization->lower();
      d.quantization_upper = table.quantization->upper();
    }
    table_pointers_[t] = &tables_[t];
  }

  output_shapes_ = output_shapes;
  features_.resize(num_features);
  feature_pointers_.resize(num_features);
  for (size_t f = 0; f < num_features; ++f) {
    const ResolvedFeature& feature = config.features[f];
    const std::string& name = strings_.emplace_back(feature.name);
    EMBRT_FeatureDescription& d = features_[f];
    d = EMBRT_FeatureDescription{};
    d.struct_size = EMBRT_FeatureDescription_STRUCT_SIZE;
    d.name = name.data();
    d.name_size = name.size();
    d.table_index = feature.table_index;
    d.max_sequence_length = feature.max_sequence_length;
    d.input_rows = input_rows[f];
    d.output_shape = DataOrNull(output_shapes_[f]);
    d.output_rank = output_shapes_[f].size();
    feature_pointers_[f] = &features_[f];
  }

  // Backend options, sorted by name: a protobuf map has no stable iteration order.
  std::vector<std::pair<std::string, std::string>> options(layout.backend().options().begin(),
                                                           layout.backend().options().end());
  std::sort(options.begin(), options.end());
  options_.reserve(options.size());
  for (const auto& [key, value] : options) {
    const std::string& stored_key = strings_.emplace_back(key);
    const std::string& stored_value = strings_.emplace_back(value);
    EMBRT_NamedValue v = NamedValue(stored_key.data(), stored_key.size(), EMBRT_VALUE_STRING);
    v.string_value = stored_value.data();
    v.string_value_size = stored_value.size();
    options_.push_back(v);
  }

  description_ = EMBRT_EngineDescription{};
  description_.struct_size = EMBRT_EngineDescription_STRUCT_SIZE;
  description_.tables = DataOrNull(table_pointers_);
  description_.num_tables = num_tables;
  description_.features = DataOrNull(feature_pointers_);
  description_.num_features = num_features;
  description_.per_replica_batch_size = per_replica_batch_size;
  description_.num_replicas = layout.num_replicas();
  description_.num_hosts = layout.num_hosts();
  description_.host_id = layout.host_id();
  description_.sharding = ToAbiSharding(layout.sharding());
  description_.pipeline_execution = layout.pipeline_execution() ? 1 : 0;
  description_.num_learning_rate_tags = static_cast<int32_t>(config.learning_rate_tags.size());
  description_.allow_nonfinite_gradients = layout.allow_nonfinite_gradients() ? 1 : 0;
  description_.options = DataOrNull(options_);
  description_.num_options = options_.size();
}

}  // namespace internal
}  // namespace embrt
