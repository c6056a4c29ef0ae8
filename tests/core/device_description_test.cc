// Copyright embrt authors.
//
// Tests of DeviceDescription (core/src/device_description.cc): every field of the C description
// built from a resolved config, read back through the plugin SDK as a plugin would.

#include "device_description.h"

#include <cmath>
#include <string>
#include <vector>

#include "embrt/config.h"
#include "embrt/plugin_sdk.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace embrt {
namespace internal {
namespace {

using ::testing::ElementsAre;

ResolvedConfig Resolve(const std::string& text) {
  absl::StatusOr<EmbeddingConfig> config = ParseConfigText(text);
  EXPECT_TRUE(config.ok()) << config.status();
  absl::StatusOr<ResolvedConfig> resolved = ResolveConfig(*config);
  EXPECT_TRUE(resolved.ok()) << resolved.status();
  return *resolved;
}

constexpr char kConfig[] = R"pb(
  tables {
    name: "ftrl_table"
    vocabulary_size: 13
    dim: 4
    combiner: SQRTN
    optimizer {
      ftrl { l1_regularization_strength: 0.25 multiply_linear_by_learning_rate: true }
      learning_rate { dynamic: "decay" }
      gradient_clipping { lower: -1 upper: 2 }
    }
  }
  tables {
    name: "adam_table"
    vocabulary_size: 7
    dim: 2
    optimizer {
      adam { beta_1: 0.5 lazy_adam: false }
      learning_rate { constant: 0.125 }
      weight_clipping { upper: 3 }
      weight_decay_factor: 0.5
      multiply_weight_decay_factor_by_learning_rate: true
      use_gradient_accumulation: true
    }
  }
  features { name: "a" table: "adam_table" }
  features { name: "f" table: "ftrl_table" max_sequence_length: 3 }
  backend {
    name: "mock"
    options { key: "zeta" value: "1" }
    options { key: "alpha" value: "x y" }
  }
  num_replicas: 2
  num_hosts: 5
  host_id: 3
  sharding: MOD
  pipeline_execution: true
  allow_nonfinite_gradients: true
)pb";

float Hyperparameter(const sdk::OptimizerConfig& optimizer, const std::string& name) {
  for (const sdk::NamedValue& v : optimizer.hyperparameters) {
    if (v.name == name) return v.type == EMBRT_VALUE_FLOAT ? v.float_value : v.int64_value;
  }
  ADD_FAILURE() << "no hyperparameter " << name;
  return NAN;
}

std::vector<std::string> Names(const sdk::OptimizerConfig& optimizer) {
  std::vector<std::string> names;
  for (const sdk::NamedValue& v : optimizer.hyperparameters) names.push_back(v.name);
  return names;
}

TEST(DeviceDescriptionTest, EveryFieldReachesThePlugin) {
  ResolvedConfig config = Resolve(kConfig);
  DeviceDescription description(config, 8, {{8}, {8, 3}}, {8, 8});
  sdk::EngineConfig engine;
  sdk::Status status = sdk::CopyDescription(description.get(), &engine);
  ASSERT_TRUE(status.ok()) << status.message();

  EXPECT_EQ(description.get()->struct_size, EMBRT_EngineDescription_STRUCT_SIZE);
  EXPECT_EQ(engine.per_replica_batch_size, 8);
  EXPECT_EQ(engine.num_replicas, 2);
  EXPECT_EQ(engine.num_hosts, 5);
  EXPECT_EQ(engine.host_id, 3);
  EXPECT_EQ(engine.sharding, EMBRT_SHARDING_MOD);
  EXPECT_TRUE(engine.pipeline_execution);
  EXPECT_TRUE(engine.allow_nonfinite_gradients);
  EXPECT_EQ(engine.num_learning_rate_tags, 1);
  ASSERT_EQ(engine.options.size(), 2u);
  EXPECT_EQ(engine.options[0].name, "alpha");
  EXPECT_EQ(engine.options[0].type, EMBRT_VALUE_STRING);
  EXPECT_EQ(engine.options[0].string_value, "x y");
  EXPECT_EQ(engine.options[1].name, "zeta");
  EXPECT_EQ(engine.options[1].string_value, "1");

  // Table order: adam_table (first used by feature "a"), then ftrl_table.
  ASSERT_EQ(engine.tables.size(), 2u);
  const sdk::TableConfig& adam = engine.tables[0];
  EXPECT_EQ(adam.name, "adam_table");
  EXPECT_EQ(adam.vocabulary_size, 7);
  EXPECT_EQ(adam.dim, 2);
  EXPECT_EQ(adam.combiner, EMBRT_COMBINER_MEAN);
  EXPECT_EQ(adam.shard_rows, 1);  // 7 rows on 5 hosts: host 3 holds one
  EXPECT_EQ(adam.optimizer.kind, EMBRT_OPTIMIZER_ADAM);
  EXPECT_EQ(adam.optimizer.learning_rate, 0.125f);
  EXPECT_EQ(adam.optimizer.learning_rate_tag, -1);
  EXPECT_TRUE(adam.optimizer.use_gradient_accumulation);
  EXPECT_EQ(adam.optimizer.clip_weight_min, -INFINITY);
  EXPECT_EQ(adam.optimizer.clip_weight_max, 3.0f);
  EXPECT_EQ(adam.optimizer.clip_gradient_min, -INFINITY);
  EXPECT_EQ(adam.optimizer.clip_gradient_max, INFINITY);
  EXPECT_EQ(adam.optimizer.weight_decay_factor, 0.5f);
  EXPECT_TRUE(adam.optimizer.multiply_weight_decay_factor_by_learning_rate);
  EXPECT_THAT(Names(adam.optimizer),
              ElementsAre("beta_1", "beta_2", "epsilon", "lazy_adam", "sum_inside_sqrt"));
  EXPECT_EQ(Hyperparameter(adam.optimizer, "beta_1"), 0.5f);
  EXPECT_EQ(Hyperparameter(adam.optimizer, "beta_2"), 0.999f);
  EXPECT_EQ(Hyperparameter(adam.optimizer, "epsilon"), 1e-7f);
  EXPECT_EQ(Hyperparameter(adam.optimizer, "lazy_adam"), 0.0f);
  EXPECT_EQ(Hyperparameter(adam.optimizer, "sum_inside_sqrt"), 1.0f);

  const sdk::TableConfig& ftrl = engine.tables[1];
  EXPECT_EQ(ftrl.name, "ftrl_table");
  EXPECT_EQ(ftrl.combiner, EMBRT_COMBINER_SQRTN);
  EXPECT_EQ(ftrl.shard_rows, 2);  // 13 rows on 5 hosts: host 3 holds two
  EXPECT_EQ(ftrl.optimizer.kind, EMBRT_OPTIMIZER_FTRL);
  EXPECT_EQ(ftrl.optimizer.learning_rate_tag, 0);
  EXPECT_EQ(ftrl.optimizer.clip_gradient_min, -1.0f);
  EXPECT_EQ(ftrl.optimizer.clip_gradient_max, 2.0f);
  EXPECT_EQ(ftrl.optimizer.clip_weight_min, -INFINITY);
  EXPECT_EQ(ftrl.optimizer.clip_weight_max, INFINITY);
  EXPECT_EQ(ftrl.optimizer.weight_decay_factor, 0.0f);
  EXPECT_THAT(
      Names(ftrl.optimizer),
      ElementsAre("learning_rate_power", "l1_regularization_strength", "l2_regularization_strength",
                  "beta", "initial_accumulator_value", "multiply_linear_by_learning_rate"));
  EXPECT_EQ(Hyperparameter(ftrl.optimizer, "learning_rate_power"), -0.5f);
  EXPECT_EQ(Hyperparameter(ftrl.optimizer, "l1_regularization_strength"), 0.25f);
  EXPECT_EQ(Hyperparameter(ftrl.optimizer, "initial_accumulator_value"), 0.1f);
  EXPECT_EQ(Hyperparameter(ftrl.optimizer, "multiply_linear_by_learning_rate"), 1.0f);

  ASSERT_EQ(engine.features.size(), 2u);
  EXPECT_EQ(engine.features[0].name, "a");
  EXPECT_EQ(engine.features[0].table_index, 0);
  EXPECT_EQ(engine.features[0].max_sequence_length, 0);
  EXPECT_EQ(engine.features[0].input_rows, 8);
  EXPECT_THAT(engine.features[0].output_shape, ElementsAre(8));
  EXPECT_EQ(engine.features[1].name, "f");
  EXPECT_EQ(engine.features[1].table_index, 1);
  EXPECT_EQ(engine.features[1].max_sequence_length, 3);
  EXPECT_THAT(engine.features[1].output_shape, ElementsAre(8, 3));
}

TEST(DeviceDescriptionTest, DefaultsAndOtherOptimizers) {
  ResolvedConfig config = Resolve(R"pb(
    tables { name: "s" vocabulary_size: 3 dim: 1 }
    tables {
      name: "g"
      vocabulary_size: 3
      dim: 1
      optimizer { adagrad {} }
    }
    tables {
      name: "m"
      vocabulary_size: 3
      dim: 1
      optimizer { adagrad_momentum { momentum: 0.9 use_nesterov: true } }
    }
    features { table: "s" }
    features { table: "g" }
    features { table: "m" }
  )pb");
  DeviceDescription description(config, 4, {{4}, {4}, {4}}, {4, 4, 4});
  const EMBRT_EngineDescription* d = description.get();
  EXPECT_EQ(d->num_hosts, 1);
  EXPECT_EQ(d->host_id, 0);
  EXPECT_EQ(d->sharding, EMBRT_SHARDING_DIV);
  EXPECT_EQ(d->pipeline_execution, 0);
  EXPECT_EQ(d->allow_nonfinite_gradients, 0);
  EXPECT_EQ(d->num_learning_rate_tags, 0);
  EXPECT_EQ(d->num_options, 0u);
  ASSERT_EQ(d->num_tables, 3u);
  EXPECT_EQ(d->tables[0]->shard_rows, 3);
  const EMBRT_OptimizerDescription* sgd = d->tables[0]->optimizer;
  EXPECT_EQ(sgd->struct_size, EMBRT_OptimizerDescription_STRUCT_SIZE);
  EXPECT_EQ(sgd->kind, EMBRT_OPTIMIZER_SGD);
  EXPECT_EQ(sgd->learning_rate, 0.01f);
  EXPECT_EQ(sgd->num_hyperparameters, 0u);
  EXPECT_EQ(sgd->use_gradient_accumulation, 1);

  sdk::EngineConfig engine;
  ASSERT_TRUE(sdk::CopyDescription(d, &engine).ok());
  const sdk::OptimizerConfig& adagrad = engine.tables[1].optimizer;
  EXPECT_EQ(adagrad.kind, EMBRT_OPTIMIZER_ADAGRAD);
  EXPECT_EQ(adagrad.learning_rate, 0.001f);
  EXPECT_THAT(Names(adagrad), ElementsAre("initial_accumulator_value"));
  EXPECT_EQ(Hyperparameter(adagrad, "initial_accumulator_value"), 0.1f);
  const sdk::OptimizerConfig& momentum = engine.tables[2].optimizer;
  EXPECT_EQ(momentum.kind, EMBRT_OPTIMIZER_ADAGRAD_MOMENTUM);
  EXPECT_THAT(Names(momentum),
              ElementsAre("momentum", "use_nesterov", "exponent", "beta2", "epsilon"));
  EXPECT_EQ(Hyperparameter(momentum, "momentum"), 0.9f);
  EXPECT_EQ(Hyperparameter(momentum, "use_nesterov"), 1.0f);
  EXPECT_EQ(Hyperparameter(momentum, "exponent"), 2.0f);
  EXPECT_EQ(Hyperparameter(momentum, "beta2"), 1.0f);
  EXPECT_EQ(Hyperparameter(momentum, "epsilon"), 1e-10f);
}

}  // namespace
}  // namespace internal
}  // namespace embrt
