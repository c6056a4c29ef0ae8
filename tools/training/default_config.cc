// Copyright embrt authors.

#include "tools/training/default_config.h"

namespace embrt {
namespace training {

SyntheticClicksOptions DefaultSyntheticOptions(uint64_t seed) {
  SyntheticClicksOptions options;
  options.seed = seed;
  // Criteo's cardinalities capped at 10000 rows per field (about 120k rows in all): large
  // enough to need embeddings, small enough that ~20M examples (about 50 s on 2 idle cores)
  // learn the teacher to within about 0.01 AUC.
  options.max_cardinality = 10000;
  return options;
}

EmbeddingConfig DefaultSyntheticConfig(const SyntheticClicks& clicks, uint64_t seed) {
  EmbeddingConfig config;
  for (size_t f = 0; f < clicks.fields().size(); ++f) {
    TableConfig* table = config.add_tables();
    table->set_name(clicks.fields()[f]);
    table->set_vocabulary_size(clicks.cardinalities()[f]);
    table->set_dim(kDefaultEmbeddingDim);
    table->mutable_initializer()->mutable_truncated_normal()->set_stddev(0.01f);
    FeatureConfig* feature = config.add_features();
    feature->set_name(clicks.fields()[f]);
    feature->set_table(clicks.fields()[f]);
  }
  OptimizerConfig* optimizer = config.mutable_optimizer();
  optimizer->mutable_adagrad()->set_initial_accumulator_value(0.1f);
  optimizer->mutable_learning_rate()->set_constant(0.05f);
  config.mutable_backend()->set_name("cpu");
  config.set_per_replica_batch_size(kDefaultBatchSize);
  config.set_seed(seed);
  return config;
}

}  // namespace training
}  // namespace embrt
