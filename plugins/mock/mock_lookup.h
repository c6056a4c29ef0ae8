// Copyright embrt authors.
//
// The mock's lookup (forward) and combiner backward for one feature, in the canonical
// arithmetic order of plugin_api/README.md rule 9. Contract as pseudocode, for a feature whose
// table has combiner C and dim D:
//
//   bag b (max_sequence_length == 0) holds ids[splits[b] .. splits[b+1]) with weights w_k:
//     gain_k = w_k                       (sum)
//              w_k / Σw      or 0 if Σw == 0       (mean)
//              w_k / sqrt(Σw²) or 0 if Σw² == 0    (sqrtn)
//     out[b, :] = 0; for k in order: out[b, :] += gain_k * row(ids[k])
//     backward: for k in order: grad_row(ids[k]) += gain_k * g[b, :]
//   sequence feature (L > 0): the k-th id of row b is a bag of one id with gain 1 (a sequence
//     feature takes no weights), written to out[b, p, :] where p = k, or p = positions[k] when
//     the input has positions (ABI 1.1, holes allowed); positions without an id are zeros, ids
//     at k >= L are ignored. Backward reads the gradient at the same [b, p, :].
//
// Thread safety: stateless functions.

#ifndef EMBRT_PLUGINS_MOCK_MOCK_LOOKUP_H_
#define EMBRT_PLUGINS_MOCK_MOCK_LOOKUP_H_

#include <cstdint>
#include <map>
#include <vector>

#include "embrt/plugin_api.h"
#include "mock_tables.h"

namespace embrt {
namespace mock {

// One feature's ids for one step, copied at Enqueue. `row_splits` always has input_rows + 1
// entries; `weights` is empty when every weight is 1.
struct FeatureBatch {
  std::vector<int64_t> ids;
  std::vector<int32_t> row_splits;
  std::vector<float> weights;
  std::vector<int32_t> positions;  // ABI 1.1: one per id; empty: the k-th id is at position k
};

// The per-row gradient sum of one table for one replica and step, keyed by global row.
using RowGradients = std::map<int64_t, std::vector<float>>;

// Writes the feature's activations, input_rows * max(L, 1) * dim floats, to `out`.
void LookupFeature(const MockTable& table, EMBRT_Combiner combiner, int32_t max_sequence_length,
                   const FeatureBatch& batch, float* out);

// Adds the feature's contributions to `sums` in canonical order. `gradient` has the layout of
// the activations; NULL means a zero gradient (the rows still count as touched).
void AccumulateFeatureGradient(int32_t dim, EMBRT_Combiner combiner, int32_t max_sequence_length,
                               const FeatureBatch& batch, const float* gradient,
                               RowGradients* sums);

}  // namespace mock
}  // namespace embrt

#endif  // EMBRT_PLUGINS_MOCK_MOCK_LOOKUP_H_
