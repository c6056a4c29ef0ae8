// Copyright embrt authors.
//
// Tests of ResolveConfig (core/src/config_validation.cc): table order, default names, defaults,
// optimizer fallback, learning-rate tags and every validation error.

#include <cmath>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "embrt/config.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace embrt {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

EmbeddingConfig Parse(const std::string& text) {
  absl::StatusOr<EmbeddingConfig> config = ParseConfigText(text);
  EXPECT_TRUE(config.ok()) << config.status();
  return config.ok() ? *config : EmbeddingConfig();
}

ResolvedConfig Resolve(const std::string& text) {
  absl::StatusOr<ResolvedConfig> resolved = ResolveConfig(Parse(text));
  EXPECT_TRUE(resolved.ok()) << resolved.status();
  return resolved.ok() ? *resolved : ResolvedConfig();
}

// The tf_semantics.md §5.1 fixture: features watched, favorited -> video; friends -> user.
constexpr char kFixture[] = R"pb(
  tables { name: "user" vocabulary_size: 16 dim: 2 combiner: MEAN }
  tables { name: "video" vocabulary_size: 8 dim: 4 combiner: SUM }
  features { name: "watched" table: "video" }
  features { name: "favorited" table: "video" }
  features { name: "friends" table: "user" }
)pb";

// A one-table config whose table body and optimizer are spliced in.
std::string OneTable(const std::string& table_fields, const std::string& extra = "") {
  return absl::StrCat("tables { name: \"t\" vocabulary_size: 10 dim: 4 ", table_fields,
                      " } features { name: \"f\" table: \"t\" } ", extra);
}

std::string WithOptimizer(const std::string& optimizer) {
  return OneTable(absl::StrCat("optimizer { ", optimizer, " }"));
}

// Expects INVALID_ARGUMENT with every piece of `substrings` in the message.
void ExpectInvalid(const std::string& text, const std::vector<std::string>& substrings) {
  absl::StatusOr<ResolvedConfig> resolved = ResolveConfig(Parse(text));
  ASSERT_FALSE(resolved.ok()) << "accepted: " << text;
  EXPECT_EQ(resolved.status().code(), absl::StatusCode::kInvalidArgument) << resolved.status();
  for (const std::string& s : substrings) {
    EXPECT_THAT(std::string(resolved.status().message()), HasSubstr(s)) << text;
  }
}

TEST(ResolveConfigTest, TableOrderIsFirstOccurrenceAmongFeatures) {
  ResolvedConfig resolved = Resolve(kFixture);
  ASSERT_EQ(resolved.tables.size(), 2u);
  EXPECT_EQ(resolved.tables[0].name, "video");
  EXPECT_EQ(resolved.tables[0].config_index, 1);
  EXPECT_THAT(resolved.tables[0].feature_indices, ElementsAre(0, 1));
  EXPECT_EQ(resolved.tables[1].name, "user");
  EXPECT_EQ(resolved.tables[1].config_index, 0);
  EXPECT_THAT(resolved.tables[1].feature_indices, ElementsAre(2));
  ASSERT_EQ(resolved.features.size(), 3u);
  EXPECT_EQ(resolved.features[0].table_index, 0);
  EXPECT_EQ(resolved.features[1].table_index, 0);
  EXPECT_EQ(resolved.features[2].table_index, 1);
  EXPECT_EQ(resolved.tables[0].combiner, SUM);
  EXPECT_EQ(resolved.tables[1].combiner, MEAN);
  EXPECT_EQ(resolved.config.tables_size(), 2);
}

TEST(ResolveConfigTest, DefaultNamesFollowTableOrderAndFeaturePosition) {
  ResolvedConfig resolved = Resolve(R"pb(
    tables { vocabulary_size: 5 dim: 1 }
    tables { vocabulary_size: 6 dim: 2 }
    features { table_index: 1 }
    features { name: "named" table_index: 0 }
    features { table_index: 1 }
  )pb");
  ASSERT_EQ(resolved.tables.size(), 2u);
  EXPECT_EQ(resolved.tables[0].name, "table_0");
  EXPECT_EQ(resolved.tables[0].vocabulary_size, 6);
  EXPECT_EQ(resolved.tables[1].name, "table_1");
  EXPECT_EQ(resolved.tables[1].vocabulary_size, 5);
  EXPECT_EQ(resolved.features[0].name, "feature_0");
  EXPECT_EQ(resolved.features[1].name, "named");
  EXPECT_EQ(resolved.features[2].name, "feature_2");
  EXPECT_THAT(resolved.tables[0].feature_indices, ElementsAre(0, 2));
}

TEST(ResolveConfigTest, DefaultsAreFilledIn) {
  ResolvedConfig resolved = Resolve(R"pb(
    tables { name: "t" vocabulary_size: 10 dim: 16 combiner: COMBINER_UNSPECIFIED }
    features {
      name: "f"
      table: "t"
      max_sequence_length: 3
      output_shape: [ 2, 5 ]
    }
  )pb");
  const ResolvedTable& table = resolved.tables[0];
  EXPECT_EQ(table.combiner, MEAN);
  ASSERT_TRUE(table.initializer.has_truncated_normal());
  EXPECT_EQ(table.initializer.truncated_normal().stddev(), 0.25f);  // 1/sqrt(16)
  EXPECT_TRUE(table.initializer.truncated_normal().has_mean());
  EXPECT_EQ(table.initializer.truncated_normal().mean(), 0.0f);
  EXPECT_EQ(table.optimizer.kind, OptimizerKind::kSgd);
  EXPECT_EQ(table.optimizer.learning_rate, 0.01f);
  EXPECT_EQ(table.optimizer.learning_rate_tag, -1);
  EXPECT_TRUE(table.optimizer.config.has_sgd());
  EXPECT_EQ(table.optimizer.config.learning_rate().constant(), 0.01f);
  EXPECT_TRUE(table.optimizer.config.has_use_gradient_accumulation());
  EXPECT_TRUE(table.optimizer.config.use_gradient_accumulation());
  EXPECT_TRUE(table.optimizer.slot_initial_values.empty());
  EXPECT_EQ(resolved.features[0].max_sequence_length, 3);
  EXPECT_THAT(resolved.features[0].output_shape, ElementsAre(2, 5));
  EXPECT_TRUE(resolved.learning_rate_tags.empty());
}

TEST(ResolveConfigTest, DefaultStddevIsOneOverSqrtDim) {
  for (int dim : {1, 3, 4, 7, 100}) {
    ResolvedConfig resolved = Resolve(absl::StrCat(
        "tables { name: 't' vocabulary_size: 2 dim: ", dim, " } features { table: 't' }"));
    EXPECT_EQ(resolved.tables[0].initializer.truncated_normal().stddev(),
              static_cast<float>(1.0 / std::sqrt(static_cast<double>(dim))))
        << dim;
  }
  // An explicit truncated normal without stddev gets the same default; an explicit one stays.
  ResolvedConfig resolved =
      Resolve(OneTable("initializer { truncated_normal { mean: 1 seed: 5 } }"));
  EXPECT_EQ(resolved.tables[0].initializer.truncated_normal().stddev(), 0.5f);
  EXPECT_EQ(resolved.tables[0].initializer.truncated_normal().mean(), 1.0f);
  EXPECT_EQ(resolved.tables[0].initializer.truncated_normal().seed(), 5u);
  resolved = Resolve(OneTable("initializer { truncated_normal { stddev: 3 } }"));
  EXPECT_EQ(resolved.tables[0].initializer.truncated_normal().stddev(), 3.0f);
}

TEST(ResolveConfigTest, OptimizerFallsBackToGlobalThenSgd) {
  ResolvedConfig resolved = Resolve(R"pb(
    tables {
      name: "a"
      vocabulary_size: 4
      dim: 2
      optimizer { adam {} }
    }
    tables { name: "b" vocabulary_size: 4 dim: 2 }
    features { table: "a" }
    features { table: "b" }
    optimizer {
      adagrad { initial_accumulator_value: 0.5 }
      learning_rate { constant: 0.2 }
    }
  )pb");
  const ResolvedOptimizer& a = resolved.tables[0].optimizer;
  EXPECT_EQ(a.kind, OptimizerKind::kAdam);
  EXPECT_EQ(a.learning_rate, 0.001f);
  EXPECT_THAT(a.slot_initial_values, ElementsAre(0.0f, 0.0f));
  EXPECT_EQ(a.config.adam().beta_1(), 0.9f);
  EXPECT_TRUE(a.config.adam().has_beta_2());
  EXPECT_EQ(a.config.adam().epsilon(), 1e-7f);
  EXPECT_TRUE(a.config.adam().lazy_adam());
  EXPECT_TRUE(a.config.adam().sum_inside_sqrt());
  const ResolvedOptimizer& b = resolved.tables[1].optimizer;
  EXPECT_EQ(b.kind, OptimizerKind::kAdagrad);
  EXPECT_EQ(b.learning_rate, 0.2f);
  EXPECT_THAT(b.slot_initial_values, ElementsAre(0.5f));
}

TEST(ResolveConfigTest, SlotInitialValuesPerOptimizer) {
  EXPECT_THAT(Resolve(WithOptimizer("adagrad {}")).tables[0].optimizer.slot_initial_values,
              ElementsAre(0.1f));
  EXPECT_THAT(Resolve(WithOptimizer("adagrad_momentum {}")).tables[0].optimizer.slot_initial_values,
              ElementsAre(0.0f, 0.0f));
  EXPECT_THAT(Resolve(WithOptimizer("ftrl { initial_accumulator_value: 0.3 }"))
                  .tables[0]
                  .optimizer.slot_initial_values,
              ElementsAre(0.3f, 0.0f));
  const ResolvedOptimizer ftrl = Resolve(WithOptimizer("ftrl {}")).tables[0].optimizer;
  EXPECT_EQ(ftrl.kind, OptimizerKind::kFtrl);
  EXPECT_EQ(ftrl.config.ftrl().learning_rate_power(), -0.5f);
  EXPECT_TRUE(ftrl.config.ftrl().has_beta());
  const ResolvedOptimizer momentum =
      Resolve(WithOptimizer("adagrad_momentum {}")).tables[0].optimizer;
  EXPECT_EQ(momentum.config.adagrad_momentum().exponent(), 2.0f);
  EXPECT_EQ(momentum.config.adagrad_momentum().beta2(), 1.0f);
  EXPECT_EQ(momentum.config.adagrad_momentum().epsilon(), 1e-10f);
  // An optimizer without an algorithm is SGD with its rate.
  const ResolvedOptimizer sgd =
      Resolve(WithOptimizer("learning_rate { constant: 0.5 }")).tables[0].optimizer;
  EXPECT_EQ(sgd.kind, OptimizerKind::kSgd);
  EXPECT_EQ(sgd.learning_rate, 0.5f);
}

TEST(ResolveConfigTest, LearningRateTagsByFirstOccurrenceInTableOrder) {
  ResolvedConfig resolved = Resolve(R"pb(
    tables {
      name: "a"
      vocabulary_size: 4
      dim: 2
      optimizer { learning_rate { dynamic: "zeta" } }
    }
    tables {
      name: "b"
      vocabulary_size: 4
      dim: 2
      optimizer { learning_rate { dynamic: "alpha" } }
    }
    tables {
      name: "c"
      vocabulary_size: 4
      dim: 2
      optimizer { learning_rate { constant: 0.3 } }
    }
    tables {
      name: "d"
      vocabulary_size: 4
      dim: 2
      optimizer { learning_rate { dynamic: "zeta" } }
    }
    features { table: "c" }
    features { table: "b" }
    features { table: "d" }
    features { table: "a" }
  )pb");
  // Table order c, b, d, a: tags alpha (b) = 0, zeta (d, a) = 1.
  EXPECT_THAT(resolved.learning_rate_tags, ElementsAre("alpha", "zeta"));
  EXPECT_EQ(resolved.tables[0].optimizer.learning_rate_tag, -1);
  EXPECT_EQ(resolved.tables[0].optimizer.learning_rate, 0.3f);
  EXPECT_EQ(resolved.tables[1].optimizer.learning_rate_tag, 0);
  EXPECT_EQ(resolved.tables[2].optimizer.learning_rate_tag, 1);
  EXPECT_EQ(resolved.tables[3].optimizer.learning_rate_tag, 1);
}

TEST(ResolveConfigTest, OptimizerNamesAndSlots) {
  EXPECT_EQ(OptimizerKindName(OptimizerKind::kSgd), "sgd");
  EXPECT_EQ(OptimizerKindName(OptimizerKind::kAdagrad), "adagrad");
  EXPECT_EQ(OptimizerKindName(OptimizerKind::kAdagradMomentum), "adagrad_momentum");
  EXPECT_EQ(OptimizerKindName(OptimizerKind::kAdam), "adam");
  EXPECT_EQ(OptimizerKindName(OptimizerKind::kFtrl), "ftrl");
  EXPECT_THAT(SlotNames(OptimizerKind::kSgd), ElementsAre("parameters"));
  EXPECT_THAT(SlotNames(OptimizerKind::kAdagrad), ElementsAre("parameters", "accumulators"));
  EXPECT_THAT(SlotNames(OptimizerKind::kAdagradMomentum),
              ElementsAre("parameters", "accumulators", "momenta"));
  EXPECT_THAT(SlotNames(OptimizerKind::kAdam), ElementsAre("parameters", "momenta", "velocities"));
  EXPECT_THAT(SlotNames(OptimizerKind::kFtrl),
              ElementsAre("parameters", "accumulators", "linears"));
}

TEST(ResolveConfigTest, ClippingAndWeightDecayAreKept) {
  const ResolvedOptimizer o =
      Resolve(WithOptimizer("sgd {} weight_clipping { lower: -1 } "
                            "gradient_clipping { lower: -2 upper: 2 } weight_decay_factor: 0.5"))
          .tables[0]
          .optimizer;
  EXPECT_EQ(o.config.weight_clipping().lower(), -1.0f);
  EXPECT_FALSE(o.config.weight_clipping().has_upper());
  EXPECT_EQ(o.config.gradient_clipping().upper(), 2.0f);
  EXPECT_EQ(o.config.weight_decay_factor(), 0.5f);
  // Equal limits are allowed.
  Resolve(WithOptimizer("weight_clipping { lower: 1 upper: 1 }"));
}

// ------------------------------------------------------------------------------------------
// Errors, one by one.

TEST(ResolveConfigErrorTest, DuplicateTableNames) {
  ExpectInvalid(R"pb(
                  tables { name: "x" vocabulary_size: 2 dim: 1 }
                  tables { name: "x" vocabulary_size: 2 dim: 1 }
                  features { table_index: 0 }
                  features { table_index: 1 }
                )pb",
                {"Tables must have a unique name", "tables[0]", "tables[1]", "'x'"});
  // A given name that equals another table's default name.
  ExpectInvalid(R"pb(
                  tables { vocabulary_size: 2 dim: 1 }
                  tables { name: "table_0" vocabulary_size: 2 dim: 1 }
                  features { table_index: 0 }
                  features { table_index: 1 }
                )pb",
                {"Tables must have a unique name", "'table_0'"});
}

TEST(ResolveConfigErrorTest, DuplicateFeatureNames) {
  ExpectInvalid(OneTable("", "features { name: 'f' table: 't' }"),
                {"Features must have a unique name", "features[0]", "features[1]", "'f'"});
  ExpectInvalid(R"pb(
                  tables { name: "t" vocabulary_size: 2 dim: 1 }
                  features { table: "t" }
                  features { name: "feature_0" table: "t" }
                )pb",
                {"Features must have a unique name", "'feature_0'"});
}

TEST(ResolveConfigErrorTest, UnusedTable) {
  ExpectInvalid(R"pb(
                  tables { name: "used" vocabulary_size: 2 dim: 1 }
                  tables { name: "lonely" vocabulary_size: 2 dim: 1 }
                  features { table: "used" }
                )pb",
                {"'lonely'", "tables[1]", "not used by any feature"});
}

TEST(ResolveConfigErrorTest, BadTableReferences) {
  ExpectInvalid(OneTable("", "features { name: 'g' table: 'nope' }"),
                {"feature 'g' (features[1])", "'nope'"});
  ExpectInvalid(OneTable("", "features { name: 'g' table_index: 1 }"),
                {"feature 'g' (features[1])", "table_index", "[0, 1)", "got 1"});
  ExpectInvalid(OneTable("", "features { name: 'g' table_index: -1 }"),
                {"features[1]", "table_index", "got -1"});
  ExpectInvalid(OneTable("", "features { name: 'g' }"), {"features[1]", "names no table"});
  ExpectInvalid("tables { vocabulary_size: 2 dim: 1 }", {"no features"});
}

TEST(ResolveConfigErrorTest, TableShape) {
  ExpectInvalid("tables { name: 't' dim: 4 } features { table: 't' }",
                {"table 't' (tables[0])", "vocabulary_size", "got nothing"});
  ExpectInvalid("tables { name: 't' vocabulary_size: 0 dim: 4 } features { table: 't' }",
                {"table 't' (tables[0])", "vocabulary_size", "got 0"});
  ExpectInvalid("tables { name: 't' vocabulary_size: 3 dim: 0 } features { table: 't' }",
                {"table 't' (tables[0])", "dim", "got 0"});
  ExpectInvalid("tables { name: 't' vocabulary_size: 3 } features { table: 't' }",
                {"dim", "got nothing"});
  ExpectInvalid("tables { name: 't' vocabulary_size: 3 dim: 65537 } features { table: 't' }",
                {"dim", "65536", "got 65537"});
  ExpectInvalid(
      "tables { name: 't' vocabulary_size: 4611686018427387904 dim: 4 } features { table: 't' }",
      {"overflows"});
  // The default name is used in messages about unnamed tables.
  ExpectInvalid("tables { vocabulary_size: -5 dim: 1 } features { table_index: 0 }",
                {"table 'table_0' (tables[0])", "got -5"});
}

TEST(ResolveConfigErrorTest, Initializers) {
  ExpectInvalid(OneTable("initializer { random_uniform { minval: 1 maxval: 1 } }"),
                {"table 't' (tables[0])", "minval < maxval", "minval 1", "maxval 1"});
  ExpectInvalid(OneTable("initializer { random_uniform { minval: 2 maxval: 1 } }"),
                {"minval < maxval"});
  ExpectInvalid(OneTable("initializer { truncated_normal { stddev: 0 } }"),
                {"table 't'", "truncated_normal.stddev", "> 0", "got 0"});
  ExpectInvalid(OneTable("initializer { truncated_normal { stddev: -1 } }"),
                {"truncated_normal.stddev", "got -1"});
  ExpectInvalid(OneTable("initializer { truncated_normal { mean: inf } }"),
                {"truncated_normal.mean", "finite"});
  ExpectInvalid(OneTable("initializer { constant { value: nan } }"), {"constant.value", "finite"});
  ExpectInvalid(OneTable("initializer { row_id { offset: -inf } }"), {"row_id.offset"});
}

TEST(ResolveConfigTest, QuantizationIsKeptOnlyWhenSet) {
  ResolvedConfig plain = Resolve(OneTable(""));
  ASSERT_EQ(plain.tables.size(), 1u);
  EXPECT_FALSE(plain.tables[0].quantization.has_value());
  ResolvedConfig quantized =
      Resolve(OneTable("quantization { num_buckets: 3 lower: -1 upper: 1 }"));
  ASSERT_EQ(quantized.tables.size(), 1u);
  ASSERT_TRUE(quantized.tables[0].quantization.has_value());
  EXPECT_EQ(quantized.tables[0].quantization->num_buckets(), 3);
  EXPECT_EQ(quantized.tables[0].quantization->lower(), -1.0f);
  EXPECT_EQ(quantized.tables[0].quantization->upper(), 1.0f);
}

TEST(ResolveConfigErrorTest, Quantization) {
  // TF: num_buckets must be at least 2.
  ExpectInvalid(OneTable("quantization { num_buckets: 1 lower: 0 upper: 1 }"),
                {"table 't' (tables[0])", "num_buckets", ">= 2", "got 1"});
  ExpectInvalid(OneTable("quantization { lower: 0 upper: 1 }"), {"num_buckets", "got nothing"});
  ExpectInvalid(OneTable("quantization { num_buckets: 2 upper: 1 }"), {"table 't'", "lower"});
  ExpectInvalid(OneTable("quantization { num_buckets: 2 lower: 1 upper: 1 }"),
                {"table 't'", "lower < upper", "lower 1", "upper 1"});
  ExpectInvalid(OneTable("quantization { num_buckets: 2 lower: 2 upper: 1 }"), {"lower < upper"});
  ExpectInvalid(OneTable("quantization { num_buckets: 2 lower: -inf upper: 1 }"), {"finite"});
  ExpectInvalid(OneTable("quantization { num_buckets: 2 lower: 0 upper: nan }"), {"finite"});
  ExpectInvalid(OneTable("quantization { num_buckets: 2 lower: -3e38 upper: 3e38 }"),
                {"finite"});
}

TEST(ResolveConfigErrorTest, AdagradAndFtrlInitialAccumulator) {
  ExpectInvalid(WithOptimizer("adagrad { initial_accumulator_value: 0 }"),
                {"table 't' (tables[0])", "adagrad.initial_accumulator_value", "> 0", "got 0"});
  ExpectInvalid(WithOptimizer("adagrad { initial_accumulator_value: -0.1 }"),
                {"adagrad.initial_accumulator_value", "got -0.1"});
  ExpectInvalid(WithOptimizer("ftrl { initial_accumulator_value: 0 }"),
                {"ftrl.initial_accumulator_value", "got 0"});
}

TEST(ResolveConfigErrorTest, AdamRanges) {
  ExpectInvalid(WithOptimizer("adam { beta_1: 1 }"),
                {"table 't' (tables[0])", "adam.beta_1", "[0, 1)", "got 1"});
  ExpectInvalid(WithOptimizer("adam { beta_1: -0.1 }"), {"adam.beta_1", "got -0.1"});
  ExpectInvalid(WithOptimizer("adam { beta_2: 1.5 }"), {"adam.beta_2", "got 1.5"});
  ExpectInvalid(WithOptimizer("adam { beta_2: nan }"), {"adam.beta_2"});
  ExpectInvalid(WithOptimizer("adam { epsilon: 0 }"), {"adam.epsilon", "> 0", "got 0"});
  ExpectInvalid(WithOptimizer("adam { lazy_adam: false } use_gradient_accumulation: false"),
                {"lazy_adam = false", "use_gradient_accumulation"});
  // Non-lazy Adam with accumulation, and lazy Adam without it, are fine.
  Resolve(WithOptimizer("adam { lazy_adam: false }"));
  Resolve(WithOptimizer("adam {} use_gradient_accumulation: false"));
}

TEST(ResolveConfigErrorTest, AdagradMomentumRanges) {
  ExpectInvalid(WithOptimizer("adagrad_momentum { epsilon: 0 }"),
                {"table 't'", "adagrad_momentum.epsilon", "got 0"});
  ExpectInvalid(WithOptimizer("adagrad_momentum { exponent: 0 }"),
                {"adagrad_momentum.exponent", "got 0"});
  ExpectInvalid(WithOptimizer("adagrad_momentum { exponent: -2 }"),
                {"adagrad_momentum.exponent", "got -2"});
  ExpectInvalid(WithOptimizer("adagrad_momentum { beta2: 1.5 }"),
                {"adagrad_momentum.beta2", "[0, 1]", "got 1.5"});
  ExpectInvalid(WithOptimizer("adagrad_momentum { beta2: -0.5 }"),
                {"adagrad_momentum.beta2", "got -0.5"});
  ExpectInvalid(WithOptimizer("adagrad_momentum { momentum: inf }"),
                {"adagrad_momentum.momentum", "finite"});
  Resolve(WithOptimizer("adagrad_momentum { beta2: 0.9 momentum: 0.9 use_nesterov: true }"));
}

TEST(ResolveConfigErrorTest, FtrlRanges) {
  ExpectInvalid(WithOptimizer("ftrl { learning_rate_power: 0.5 }"),
                {"table 't'", "ftrl.learning_rate_power", "<= 0", "got 0.5"});
  ExpectInvalid(WithOptimizer("ftrl { l1_regularization_strength: -1 }"),
                {"ftrl.l1_regularization_strength", "got -1"});
  ExpectInvalid(WithOptimizer("ftrl { l2_regularization_strength: -1 }"),
                {"ftrl.l2_regularization_strength", "got -1"});
  ExpectInvalid(WithOptimizer("ftrl { beta: -1 }"), {"ftrl.beta", "got -1"});
  Resolve(WithOptimizer("ftrl { learning_rate_power: 0 }"));
}

TEST(ResolveConfigErrorTest, ClippingAndDecay) {
  ExpectInvalid(WithOptimizer("gradient_clipping { lower: -1 upper: 1 } "
                              "use_gradient_accumulation: false"),
                {"table 't'", "gradient_clipping", "use_gradient_accumulation"});
  ExpectInvalid(WithOptimizer("gradient_clipping { lower: 1 upper: -1 }"),
                {"gradient_clipping", "lower <= upper", "lower 1", "upper -1"});
  ExpectInvalid(WithOptimizer("weight_clipping { lower: 3 upper: 2 }"),
                {"weight_clipping", "lower 3", "upper 2"});
  ExpectInvalid(WithOptimizer("weight_clipping { upper: nan }"), {"weight_clipping", "NaN"});
  ExpectInvalid(WithOptimizer("weight_decay_factor: -0.1"),
                {"weight_decay_factor", ">= 0", "got -0.1"});
}

TEST(ResolveConfigErrorTest, LearningRates) {
  ExpectInvalid(WithOptimizer("learning_rate { constant: -0.1 }"),
                {"table 't' (tables[0])", "learning_rate.constant", "got -0.1"});
  ExpectInvalid(WithOptimizer("learning_rate { constant: inf }"),
                {"learning_rate.constant", "got inf"});
  ExpectInvalid(WithOptimizer("learning_rate { constant: nan }"), {"learning_rate.constant"});
  ExpectInvalid(WithOptimizer("learning_rate { dynamic: '' }"),
                {"learning_rate.dynamic", "schedule"});
  // The global optimizer is checked per table that uses it, naming that table.
  ExpectInvalid(OneTable("", "optimizer { adam { epsilon: -1 } }"),
                {"table 't' (tables[0])", "adam.epsilon"});
}

TEST(ResolveConfigErrorTest, Features) {
  ExpectInvalid(OneTable("", "features { name: 's' table: 't' max_sequence_length: -1 }"),
                {"feature 's' (features[1])", "max_sequence_length", "got -1"});
  ExpectInvalid(OneTable("", "features { table: 't' output_shape: [ 2, 0 ] }"),
                {"feature 'feature_1' (features[1])", "output_shape[1]", ">= 1", "got 0"});
}

TEST(ResolveConfigErrorTest, Layout) {
  ExpectInvalid(OneTable("", "per_replica_batch_size: -1"), {"per_replica_batch_size", "got -1"});
  ExpectInvalid(OneTable("", "num_replicas: 0"), {"num_replicas", ">= 1", "got 0"});
  ExpectInvalid(OneTable("", "num_hosts: -1"), {"num_hosts", ">= 1", "got -1"});
  ExpectInvalid(OneTable("", "num_hosts: 0 host_id: 1"), {"host_id", "unset", "got 1"});
  Resolve(OneTable("", "num_hosts: 0"));  // from the backend
  ExpectInvalid(OneTable("", "num_hosts: 2 host_id: 2"),
                {"host_id", "[0, num_hosts = 2)", "got 2"});
  ExpectInvalid(OneTable("", "host_id: -1"), {"host_id", "got -1"});
  ExpectInvalid(OneTable("", "backend { name: '' }"), {"backend.name"});
  Resolve(OneTable("", "num_hosts: 3 host_id: 2 num_replicas: 4 per_replica_batch_size: 0"));
}

}  // namespace
}  // namespace embrt
