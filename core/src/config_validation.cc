// Copyright embrt authors.
//
// ResolveConfig: TF's validation rules for an EmbeddingConfig, with every default made explicit.
//
// Decisions that TF leaves open (tf_semantics.md §1a, §2, §3.7, §4.4):
//   * Table order is the order of first occurrence among the features (TF's newest behaviour;
//     never a hash or set order). A table no feature uses is an error: TF cannot express one.
//   * A feature names its table by `table` (an explicitly given table name) or `table_index`
//     (position in EmbeddingConfig.tables). Default names ("table_{i}", "feature_{i}") cannot be
//     referenced, because a table's default name depends on the order the references create.
//   * Beyond TF's own range checks, embrt rejects values that would make the update undefined:
//     non-finite hyperparameters, AdagradMomentum beta2 outside [0, 1], FTRL
//     learning_rate_power > 0 or negative l1/l2/beta, inverted clipping limits, negative weight
//     decay or learning rate.
//   * A sequence feature (max_sequence_length > 0) may also set output_shape. TF's newest
//     TPU path then ignores the sequence length; its serving path reads an output_shape whose
//     product is a multiple of the batch as [batch, L]. The config keeps both values unchanged
//     and Embedding::Build decides the activation shape; validation only checks the entries.

#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "embrt/config.h"
#include "embrt/status_macros.h"

namespace embrt {
namespace {

constexpr int32_t kMaxDim = 1 << 16;

std::string TableLabel(absl::string_view name, int config_index) {
  return absl::StrCat("table '", name, "' (tables[", config_index, "])");
}

std::string FeatureLabel(absl::string_view name, int config_index) {
  return absl::StrCat("feature '", name, "' (features[", config_index, "])");
}

absl::Status Invalid(absl::string_view where, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(where, ": ", what));
}

bool IsFinite(float value) { return std::isfinite(value); }

// TF's QuantizationConfig checks (num_buckets >= 2), plus a finite, non-empty range so the
// bucket width (upper - lower) / (num_buckets - 1) is finite and positive.
absl::Status CheckQuantization(absl::string_view label, const QuantizationConfig& quantization) {
  if (!quantization.has_num_buckets() || quantization.num_buckets() < 2) {
    return Invalid(label, absl::StrCat("quantization num_buckets must be >= 2, got ",
                                       quantization.has_num_buckets()
                                           ? absl::StrCat(quantization.num_buckets())
                                           : std::string("nothing")));
  }
  if (!quantization.has_lower() || !quantization.has_upper()) {
    return Invalid(label, "quantization needs both lower and upper");
  }
  const float lower = quantization.lower();
  const float upper = quantization.upper();
  if (!IsFinite(lower) || !IsFinite(upper) || !(lower < upper) ||
      !IsFinite((upper - lower) / static_cast<float>(quantization.num_buckets() - 1))) {
    return Invalid(label, absl::StrCat("quantization range must be finite with lower < upper, "
                                       "got lower ", lower, ", upper ", upper));
  }
  return absl::OkStatus();
}

// Range checks; each message names the field and the value it got.
absl::Status CheckFinite(absl::string_view where, absl::string_view field, float value) {
  if (IsFinite(value)) return absl::OkStatus();
  return Invalid(where, absl::StrCat(field, " must be finite, got ", value));
}

absl::Status CheckPositive(absl::string_view where, absl::string_view field, float value) {
  if (IsFinite(value) && value > 0.0f) return absl::OkStatus();
  return Invalid(where, absl::StrCat(field, " must be > 0, got ", value));
}

absl::Status CheckNonNegative(absl::string_view where, absl::string_view field, float value) {
  if (IsFinite(value) && value >= 0.0f) return absl::OkStatus();
  return Invalid(where, absl::StrCat(field, " must be >= 0, got ", value));
}

// 0 <= value < 1 (Adam's betas).
absl::Status CheckUnitInterval(absl::string_view where, absl::string_view field, float value) {
  if (value >= 0.0f && value < 1.0f) return absl::OkStatus();
  return Invalid(where, absl::StrCat(field, " must be in [0, 1), got ", value));
}

// ---------------------------------------------------------------------------------------------
// Initializers

absl::Status ResolveInitializer(absl::string_view where, int32_t dim,
                                InitializerConfig* initializer) {
  switch (initializer->kind_case()) {
    case InitializerConfig::KIND_NOT_SET:
      initializer->mutable_truncated_normal();
      [[fallthrough]];
    case InitializerConfig::kTruncatedNormal: {
      InitializerConfig::TruncatedNormal* normal = initializer->mutable_truncated_normal();
      if (!normal->has_stddev()) {
        // TF's default: TruncatedNormal(mean=0, stddev=1/sqrt(dim)).
        normal->set_stddev(static_cast<float>(1.0 / std::sqrt(static_cast<double>(dim))));
      }
      normal->set_mean(normal->mean());
      normal->set_seed(normal->seed());
      EMBRT_RETURN_IF_ERROR(
          CheckFinite(where, "initializer.truncated_normal.mean", normal->mean()));
      return CheckPositive(where, "initializer.truncated_normal.stddev", normal->stddev());
    }
    case InitializerConfig::kRandomUniform: {
      InitializerConfig::RandomUniform* uniform = initializer->mutable_random_uniform();
      uniform->set_minval(uniform->minval());
      uniform->set_maxval(uniform->maxval());
      uniform->set_seed(uniform->seed());
      EMBRT_RETURN_IF_ERROR(
          CheckFinite(where, "initializer.random_uniform.minval", uniform->minval()));
      EMBRT_RETURN_IF_ERROR(
          CheckFinite(where, "initializer.random_uniform.maxval", uniform->maxval()));
      if (!(uniform->minval() < uniform->maxval())) {
        return Invalid(where, absl::StrCat("initializer.random_uniform needs minval < maxval, got "
                                           "minval ",
                                           uniform->minval(), " and maxval ", uniform->maxval()));
      }
      return absl::OkStatus();
    }
    case InitializerConfig::kConstant: {
      InitializerConfig::Constant* constant = initializer->mutable_constant();
      constant->set_value(constant->value());
      return CheckFinite(where, "initializer.constant.value", constant->value());
    }
    case InitializerConfig::kRowId: {
      InitializerConfig::RowId* row_id = initializer->mutable_row_id();
      row_id->set_offset(row_id->offset());
      return CheckFinite(where, "initializer.row_id.offset", row_id->offset());
    }
  }
  return Invalid(where, "unknown initializer kind");
}

// ---------------------------------------------------------------------------------------------
// Optimizers

absl::Status CheckClipping(absl::string_view where, absl::string_view field,
                           ClippingLimits* limits) {
  const float lower =
      limits->has_lower() ? limits->lower() : -std::numeric_limits<float>::infinity();
  const float upper =
      limits->has_upper() ? limits->upper() : std::numeric_limits<float>::infinity();
  if (std::isnan(lower) || std::isnan(upper)) {
    return Invalid(where, absl::StrCat(field, " limits must not be NaN, got lower ", lower,
                                       " and upper ", upper));
  }
  if (lower > upper) {
    return Invalid(where, absl::StrCat(field, " needs lower <= upper, got lower ", lower,
                                       " and upper ", upper));
  }
  return absl::OkStatus();
}

// Fills the algorithm's defaults, checks its ranges and returns the slot initial values.
absl::Status ResolveAlgorithm(absl::string_view where, OptimizerConfig* config,
                              ResolvedOptimizer* out) {
  const bool accumulation = config->use_gradient_accumulation();
  switch (config->algorithm_case()) {
    case OptimizerConfig::ALGORITHM_NOT_SET:
    case OptimizerConfig::kSgd:
      config->mutable_sgd();
      out->kind = OptimizerKind::kSgd;
      out->slot_initial_values = {};
      return absl::OkStatus();
    case OptimizerConfig::kAdagrad: {
      AdagradParameters* p = config->mutable_adagrad();
      p->set_initial_accumulator_value(p->initial_accumulator_value());
      EMBRT_RETURN_IF_ERROR(CheckPositive(where, "optimizer.adagrad.initial_accumulator_value",
                                          p->initial_accumulator_value()));
      out->kind = OptimizerKind::kAdagrad;
      out->slot_initial_values = {p->initial_accumulator_value()};
      return absl::OkStatus();
    }
    case OptimizerConfig::kAdagradMomentum: {
      AdagradMomentumParameters* p = config->mutable_adagrad_momentum();
      p->set_momentum(p->momentum());
      p->set_use_nesterov(p->use_nesterov());
      p->set_exponent(p->exponent());
      p->set_beta2(p->beta2());
      p->set_epsilon(p->epsilon());
      EMBRT_RETURN_IF_ERROR(
          CheckFinite(where, "optimizer.adagrad_momentum.momentum", p->momentum()));
      EMBRT_RETURN_IF_ERROR(
          CheckPositive(where, "optimizer.adagrad_momentum.exponent", p->exponent()));
      if (!(p->beta2() >= 0.0f && p->beta2() <= 1.0f)) {
        return Invalid(where, absl::StrCat("optimizer.adagrad_momentum.beta2 must be in [0, 1], "
                                           "got ",
                                           p->beta2()));
      }
      EMBRT_RETURN_IF_ERROR(
          CheckPositive(where, "optimizer.adagrad_momentum.epsilon", p->epsilon()));
      out->kind = OptimizerKind::kAdagradMomentum;
      out->slot_initial_values = {0.0f, 0.0f};
      return absl::OkStatus();
    }
    case OptimizerConfig::kAdam: {
      AdamParameters* p = config->mutable_adam();
      p->set_beta_1(p->beta_1());
      p->set_beta_2(p->beta_2());
      p->set_epsilon(p->epsilon());
      p->set_lazy_adam(p->lazy_adam());
      p->set_sum_inside_sqrt(p->sum_inside_sqrt());
      EMBRT_RETURN_IF_ERROR(CheckUnitInterval(where, "optimizer.adam.beta_1", p->beta_1()));
      EMBRT_RETURN_IF_ERROR(CheckUnitInterval(where, "optimizer.adam.beta_2", p->beta_2()));
      EMBRT_RETURN_IF_ERROR(CheckPositive(where, "optimizer.adam.epsilon", p->epsilon()));
      if (!p->lazy_adam() && !accumulation) {
        return Invalid(where,
                       "optimizer.adam.lazy_adam = false requires use_gradient_accumulation = "
                       "true");
      }
      out->kind = OptimizerKind::kAdam;
      out->slot_initial_values = {0.0f, 0.0f};
      return absl::OkStatus();
    }
    case OptimizerConfig::kFtrl: {
      FtrlParameters* p = config->mutable_ftrl();
      p->set_learning_rate_power(p->learning_rate_power());
      p->set_l1_regularization_strength(p->l1_regularization_strength());
      p->set_l2_regularization_strength(p->l2_regularization_strength());
      p->set_beta(p->beta());
      p->set_initial_accumulator_value(p->initial_accumulator_value());
      p->set_multiply_linear_by_learning_rate(p->multiply_linear_by_learning_rate());
      p->set_allow_zero_accumulator(p->allow_zero_accumulator());
      if (!(IsFinite(p->learning_rate_power()) && p->learning_rate_power() <= 0.0f)) {
        return Invalid(where, absl::StrCat("optimizer.ftrl.learning_rate_power must be <= 0, got ",
                                           p->learning_rate_power()));
      }
      EMBRT_RETURN_IF_ERROR(CheckNonNegative(where, "optimizer.ftrl.l1_regularization_strength",
                                             p->l1_regularization_strength()));
      EMBRT_RETURN_IF_ERROR(CheckNonNegative(where, "optimizer.ftrl.l2_regularization_strength",
                                             p->l2_regularization_strength()));
      EMBRT_RETURN_IF_ERROR(CheckNonNegative(where, "optimizer.ftrl.beta", p->beta()));
      EMBRT_RETURN_IF_ERROR(CheckPositive(where, "optimizer.ftrl.initial_accumulator_value",
                                          p->initial_accumulator_value()));
      out->kind = OptimizerKind::kFtrl;
      out->slot_initial_values = {p->initial_accumulator_value(), 0.0f};
      return absl::OkStatus();
    }
  }
  return Invalid(where, "unknown optimizer algorithm");
}

// Resolves one table's optimizer. `tag_of` maps dynamic schedule names to tag numbers and
// `tags` lists them; both grow as tables are resolved in table order.
absl::Status ResolveOptimizer(absl::string_view where, const OptimizerConfig& given,
                              std::map<std::string, int>* tag_of, std::vector<std::string>* tags,
                              ResolvedOptimizer* out) {
  OptimizerConfig config = given;
  config.set_use_gradient_accumulation(config.use_gradient_accumulation());
  EMBRT_RETURN_IF_ERROR(ResolveAlgorithm(where, &config, out));

  // TF's default learning rates: SGD 0.01, every other optimizer 0.001.
  const float default_rate = out->kind == OptimizerKind::kSgd ? 0.01f : 0.001f;
  LearningRate* rate = config.mutable_learning_rate();
  switch (rate->kind_case()) {
    case LearningRate::KIND_NOT_SET:
      rate->set_constant(default_rate);
      [[fallthrough]];
    case LearningRate::kConstant:
      EMBRT_RETURN_IF_ERROR(
          CheckNonNegative(where, "optimizer.learning_rate.constant", rate->constant()));
      out->learning_rate = rate->constant();
      out->learning_rate_tag = -1;
      break;
    case LearningRate::kDynamic: {
      if (rate->dynamic().empty()) {
        return Invalid(where, "optimizer.learning_rate.dynamic must name a schedule, got \"\"");
      }
      auto [it, inserted] = tag_of->emplace(rate->dynamic(), static_cast<int>(tags->size()));
      if (inserted) tags->push_back(rate->dynamic());
      out->learning_rate = 0.0f;
      out->learning_rate_tag = it->second;
      break;
    }
  }

  if (config.has_weight_clipping()) {
    EMBRT_RETURN_IF_ERROR(
        CheckClipping(where, "optimizer.weight_clipping", config.mutable_weight_clipping()));
  }
  if (config.has_gradient_clipping()) {
    if (!config.use_gradient_accumulation()) {
      return Invalid(where,
                     "optimizer.gradient_clipping requires use_gradient_accumulation = true "
                     "(TF: clipvalue needs gradient accumulation)");
    }
    EMBRT_RETURN_IF_ERROR(
        CheckClipping(where, "optimizer.gradient_clipping", config.mutable_gradient_clipping()));
  }
  config.set_weight_decay_factor(config.weight_decay_factor());
  config.set_multiply_weight_decay_factor_by_learning_rate(
      config.multiply_weight_decay_factor_by_learning_rate());
  EMBRT_RETURN_IF_ERROR(
      CheckNonNegative(where, "optimizer.weight_decay_factor", config.weight_decay_factor()));
  out->config = std::move(config);
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------------------------
// Layout

absl::Status CheckLayout(const EmbeddingConfig& config) {
  if (config.per_replica_batch_size() < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("per_replica_batch_size must be >= 0, got ", config.per_replica_batch_size()));
  }
  if (config.num_replicas() < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("num_replicas must be >= 1, got ", config.num_replicas()));
  }
  if (config.num_hosts() < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "num_hosts must be >= 1, or 0 to take it from the backend, got ", config.num_hosts()));
  }
  if (config.num_hosts() == 0) {
    if (config.host_id() != 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "host_id must be unset when num_hosts is 0 (both come from the backend), got ",
          config.host_id()));
    }
  } else if (config.host_id() < 0 || config.host_id() >= config.num_hosts()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "host_id must be in [0, num_hosts = ", config.num_hosts(), "), got ", config.host_id()));
  }
  if (config.has_backend() && config.backend().has_name() && config.backend().name().empty()) {
    return absl::InvalidArgumentError(
        "backend.name must be a backend name or a plugin path, got \"\"");
  }
  return absl::OkStatus();
}

}  // namespace

absl::string_view OptimizerKindName(OptimizerKind kind) {
  switch (kind) {
    case OptimizerKind::kSgd:
      return "sgd";
    case OptimizerKind::kAdagrad:
      return "adagrad";
    case OptimizerKind::kAdagradMomentum:
      return "adagrad_momentum";
    case OptimizerKind::kAdam:
      return "adam";
    case OptimizerKind::kFtrl:
      return "ftrl";
  }
  return "unknown";
}

const std::vector<std::string>& SlotNames(OptimizerKind kind) {
  static const auto* const kSgd = new std::vector<std::string>{"parameters"};
  static const auto* const kAdagrad = new std::vector<std::string>{"parameters", "accumulators"};
  static const auto* const kAdagradMomentum =
      new std::vector<std::string>{"parameters", "accumulators", "momenta"};
  static const auto* const kAdam =
      new std::vector<std::string>{"parameters", "momenta", "velocities"};
  static const auto* const kFtrl =
      new std::vector<std::string>{"parameters", "accumulators", "linears"};
  switch (kind) {
    case OptimizerKind::kSgd:
      return *kSgd;
    case OptimizerKind::kAdagrad:
      return *kAdagrad;
    case OptimizerKind::kAdagradMomentum:
      return *kAdagradMomentum;
    case OptimizerKind::kAdam:
      return *kAdam;
    case OptimizerKind::kFtrl:
      return *kFtrl;
  }
  return *kSgd;
}

absl::StatusOr<ResolvedConfig> ResolveConfig(const EmbeddingConfig& config) {
  EMBRT_RETURN_IF_ERROR(CheckLayout(config));
  if (config.features_size() == 0) {
    return absl::InvalidArgumentError("the config has no features");
  }

  // Explicit table names must be unique; features may reference them.
  absl::flat_hash_map<std::string, int> table_by_name;
  for (int t = 0; t < config.tables_size(); ++t) {
    const TableConfig& table = config.tables(t);
    if (table.name().empty()) continue;
    auto [it, inserted] = table_by_name.emplace(table.name(), t);
    if (!inserted) {
      return absl::InvalidArgumentError(absl::StrCat("Tables must have a unique name: tables[",
                                                     it->second, "] and tables[", t,
                                                     "] are both named '", table.name(), "'"));
    }
  }

  // Which table each feature looks up (a config index), and table order.
  std::vector<int> feature_table(config.features_size());
  std::vector<int> order_of_config(config.tables_size(), -1);
  std::vector<int> config_of_order;
  for (int f = 0; f < config.features_size(); ++f) {
    const FeatureConfig& feature = config.features(f);
    const std::string label =
        FeatureLabel(feature.name().empty() ? absl::StrCat("feature_", f) : feature.name(), f);
    int t = -1;
    switch (feature.table_ref_case()) {
      case FeatureConfig::kTable: {
        auto it = table_by_name.find(feature.table());
        if (it == table_by_name.end()) {
          return Invalid(label, absl::StrCat("table '", feature.table(),
                                             "' is not the name of any table in the config"));
        }
        t = it->second;
        break;
      }
      case FeatureConfig::kTableIndex:
        if (feature.table_index() < 0 || feature.table_index() >= config.tables_size()) {
          return Invalid(label, absl::StrCat("table_index must be in [0, ", config.tables_size(),
                                             "), got ", feature.table_index()));
        }
        t = feature.table_index();
        break;
      case FeatureConfig::TABLE_REF_NOT_SET:
        return Invalid(label, "names no table: set `table` or `table_index`");
    }
    feature_table[f] = t;
    if (order_of_config[t] < 0) {
      order_of_config[t] = static_cast<int>(config_of_order.size());
      config_of_order.push_back(t);
    }
  }
  for (int t = 0; t < config.tables_size(); ++t) {
    if (order_of_config[t] < 0) {
      const std::string& name = config.tables(t).name();
      return absl::InvalidArgumentError(
          absl::StrCat("table ", name.empty() ? "" : absl::StrCat("'", name, "' "), "(tables[", t,
                       "]) is not used by any feature"));
    }
  }

  ResolvedConfig resolved;
  resolved.config = config;

  // Tables, in table order.
  absl::flat_hash_map<std::string, int> resolved_names;
  std::map<std::string, int> tag_of;
  OptimizerConfig global_optimizer;
  if (config.has_optimizer()) global_optimizer = config.optimizer();
  resolved.tables.resize(config_of_order.size());
  for (size_t i = 0; i < config_of_order.size(); ++i) {
    const int t = config_of_order[i];
    const TableConfig& given = config.tables(t);
    ResolvedTable& table = resolved.tables[i];
    table.config_index = t;
    table.name = given.name().empty() ? absl::StrCat("table_", i) : given.name();
    const std::string label = TableLabel(table.name, t);
    auto [it, inserted] = resolved_names.emplace(table.name, t);
    if (!inserted) {
      return absl::InvalidArgumentError(absl::StrCat(
          "Tables must have a unique name: tables[", it->second, "] and tables[", t,
          "] are both named '", table.name, "' (unnamed tables are called table_{i})"));
    }

    if (!given.has_vocabulary_size() || given.vocabulary_size() < 1) {
      return Invalid(
          label, absl::StrCat("vocabulary_size must be an integer >= 1, got ",
                              given.has_vocabulary_size() ? absl::StrCat(given.vocabulary_size())
                                                          : std::string("nothing")));
    }
    if (!given.has_dim() || given.dim() < 1 || given.dim() > kMaxDim) {
      return Invalid(label, absl::StrCat("dim must be an integer in [1, ", kMaxDim, "], got ",
                                         given.has_dim() ? absl::StrCat(given.dim())
                                                         : std::string("nothing")));
    }
    if (given.vocabulary_size() > std::numeric_limits<int64_t>::max() / given.dim()) {
      return Invalid(label, absl::StrCat("vocabulary_size ", given.vocabulary_size(), " times dim ",
                                         given.dim(), " overflows int64"));
    }
    table.vocabulary_size = given.vocabulary_size();
    table.dim = given.dim();

    switch (given.combiner()) {
      case COMBINER_UNSPECIFIED:
        table.combiner = MEAN;
        break;
      case SUM:
      case MEAN:
      case SQRTN:
        table.combiner = given.combiner();
        break;
      default:
        return Invalid(label, absl::StrCat("combiner must be SUM, MEAN or SQRTN, got ",
                                           static_cast<int>(given.combiner())));
    }

    if (given.has_quantization()) {
      EMBRT_RETURN_IF_ERROR(CheckQuantization(label, given.quantization()));
      table.quantization = given.quantization();
    }

    table.initializer = given.initializer();
    EMBRT_RETURN_IF_ERROR(ResolveInitializer(label, table.dim, &table.initializer));

    const OptimizerConfig& optimizer = given.has_optimizer() ? given.optimizer() : global_optimizer;
    EMBRT_RETURN_IF_ERROR(ResolveOptimizer(label, optimizer, &tag_of, &resolved.learning_rate_tags,
                                           &table.optimizer));
  }

  // Features, in config order.
  absl::flat_hash_map<std::string, int> feature_names;
  resolved.features.resize(config.features_size());
  for (int f = 0; f < config.features_size(); ++f) {
    const FeatureConfig& given = config.features(f);
    ResolvedFeature& feature = resolved.features[f];
    feature.name = given.name().empty() ? absl::StrCat("feature_", f) : given.name();
    const std::string label = FeatureLabel(feature.name, f);
    auto [it, inserted] = feature_names.emplace(feature.name, f);
    if (!inserted) {
      return absl::InvalidArgumentError(absl::StrCat(
          "Features must have a unique name: features[", it->second, "] and features[", f,
          "] are both named '", feature.name, "' (unnamed features are called feature_{i})"));
    }
    feature.table_index = order_of_config[feature_table[f]];
    resolved.tables[feature.table_index].feature_indices.push_back(f);

    if (given.max_sequence_length() < 0) {
      return Invalid(label, absl::StrCat("max_sequence_length must be >= 0, got ",
                                         given.max_sequence_length()));
    }
    feature.max_sequence_length = given.max_sequence_length();
    for (int d = 0; d < given.output_shape_size(); ++d) {
      if (given.output_shape(d) < 1) {
        return Invalid(
            label, absl::StrCat("output_shape[", d, "] must be >= 1, got ", given.output_shape(d)));
      }
    }
    feature.output_shape.assign(given.output_shape().begin(), given.output_shape().end());
  }
  return resolved;
}

}  // namespace embrt
