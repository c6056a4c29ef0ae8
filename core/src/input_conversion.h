// Copyright embrt authors.
//
// Converting dense, sparse and ragged inputs to the ABI's CSR form (internal to the core).

#ifndef EMBRT_CORE_SRC_INPUT_CONVERSION_H_
#define EMBRT_CORE_SRC_INPUT_CONVERSION_H_

#include <cstdint>
#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "embrt/config.h"
#include "embrt/inputs.h"

namespace embrt {
namespace internal {

// One feature's ids in CSR form, ready to be pointed at by an EMBRT_FeatureInput.
// Reused across steps so that steady state allocates nothing.
//
// The plugin reads `id_view` and `weight_view`, which point either at the owned vectors below
// or, when the input already has the ABI's form (dense ids; ragged ids that no sequence row
// truncates; their weights), straight at the caller's arrays: those are not copied at all, and
// are then valid only as long as the caller keeps them (`borrowed`).
struct CsrFeature {
  absl::Span<const int64_t> id_view;
  absl::Span<const float> weight_view;  // empty: all weights are 1
  bool borrowed = false;  // id_view or weight_view points at the caller's arrays

  // Owned storage; `ids` and `weights` are only filled when the views point at them.
  std::vector<int64_t> ids;
  std::vector<int32_t> row_splits;  // input_rows + 1 entries, always owned
  std::vector<float> weights;
  // Sequence position of every id (ABI 1.1), only for a sparse sequence input whose rows have
  // holes (an id at position 2 and none at 1, as TF allows); empty: the k-th id of a row is at
  // position k.
  std::vector<int32_t> positions;
};

// Everything the conversion needs to know about one feature.
struct FeatureLayout {
  int feature_index = 0;
  const ResolvedFeature* feature = nullptr;
  const ResolvedTable* table = nullptr;
  std::vector<int64_t> output_shape;  // without dim, as built
  int64_t input_rows = 0;             // bags per replica (sequence: batch rows)
};

// Whether ConvertFeatureInput checks ids that it does not copy (dense inputs, and ragged ones
// that no sequence row truncates, which the plugin reads in place).
enum class IdCheck {
  kAll,  // every id is checked here
  // The plugin checks those: it declares checks_ids_and_gradients = 1, so it rejects an id out
  // of range changing nothing (plugin rules 11 and 13). A second pass here would read every id
  // once more per step. After such a rejection, converting again with kAll words the error.
  // Ids that are copied anyway (sparse inputs, truncated sequence rows) are still checked in
  // that copy.
  kLeaveToPlugin,
};

// Checks `input` and `weights` against `layout` and writes the CSR form into `out`.
// TF's rules: dense rank >= 2 needs last dim 1 and takes no weights; sparse rank >= 2, indices
// in row-major order and inside dense_shape; ragged rank 2 with ascending splits; weights of
// the input's kind with one value per id; the rows must match input_rows; ids must be in
// [0, vocabulary_size). Sequence features (max_sequence_length L > 0) take rank-2 sparse or
// ragged ids and no weights; a row's ids at positions >= L are dropped (and not checked), the
// rest keep their position. A CSR row can only say "the p-th id is at position p", so a sparse
// sequence row with a hole (an id at position 2 but none at 1) is INVALID_ARGUMENT; shorter
// rows are padded with zeros by the plugin. Errors are INVALID_ARGUMENT naming the feature,
// table, row, position and value; on error `out` is unspecified but nothing else is touched.
// `out`'s vectors only grow, so a steady state allocates nothing. The ids are checked in one
// branch-free pass; only a failing input is walked again to name the bad id.
// `ids`: see IdCheck.
absl::Status ConvertFeatureInput(const FeatureLayout& layout, const FeatureInput& input,
                                 const std::optional<FeatureWeights>& weights, CsrFeature* out,
                                 IdCheck ids = IdCheck::kAll);

}  // namespace internal
}  // namespace embrt

#endif  // EMBRT_CORE_SRC_INPUT_CONVERSION_H_
