// Copyright embrt authors.
//
// File: tools/training/default_config.h
// -------------------------------------
// What `embrt train` does with no flags: a factorization machine over the built-in synthetic
// click log (synthetic_clicks.h), on the cpu backend, sized to finish in about a minute on a
// 2-core machine. Every value here is a default that flags or a config file override.

#ifndef EMBRT_TOOLS_TRAINING_DEFAULT_CONFIG_H_
#define EMBRT_TOOLS_TRAINING_DEFAULT_CONFIG_H_

#include <cstdint>

#include "embrt/config.pb.h"
#include "tools/training/synthetic_clicks.h"

namespace embrt {
namespace training {

// The synthetic data of the default run.
SyntheticClicksOptions DefaultSyntheticOptions(uint64_t seed);

inline constexpr int kDefaultEmbeddingDim = 9;  // 8 factors + the linear weight
inline constexpr int kDefaultBatchSize = 1024;
inline constexpr int64_t kDefaultSyntheticSteps = 20000;
inline constexpr int64_t kDefaultSyntheticEvalExamples = 50000;

// One table and one feature per field of `clicks` (named like the field, vocabulary = the
// field's cardinality, dim kDefaultEmbeddingDim, small truncated-normal initial values),
// Adagrad, the cpu backend.
EmbeddingConfig DefaultSyntheticConfig(const SyntheticClicks& clicks, uint64_t seed);

}  // namespace training
}  // namespace embrt

#endif  // EMBRT_TOOLS_TRAINING_DEFAULT_CONFIG_H_
