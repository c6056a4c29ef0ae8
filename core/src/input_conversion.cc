// Copyright embrt authors.
//
// Dense, sparse (COO) and ragged ids -> the ABI's CSR form, with TF's checks.
//
// Every check runs before the caller sees a result, and the output buffers only ever grow
// (resize within their capacity), so a steady-state step allocates nothing.

#include "input_conversion.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "checked_math.h"
#include "embrt/status_macros.h"
#include "id_range.h"
#include "multiversion.h"

namespace embrt {
namespace internal {
namespace {

absl::string_view KindName(InputKind kind) {
  switch (kind) {
    case InputKind::kDense:
      return "dense";
    case InputKind::kSparse:
      return "sparse";
    case InputKind::kRagged:
      return "ragged";
  }
  return "unknown";
}

// "feature 'watched' (#0, table 'video')": the prefix of every message.
std::string Describe(const FeatureLayout& layout) {
  return absl::StrCat("feature '", layout.feature->name, "' (#", layout.feature_index,
                      ", table '", layout.table->name, "')");
}

std::string ShapeText(absl::Span<const int64_t> shape) {
  return absl::StrCat("[", absl::StrJoin(shape, ", "), "]");
}

absl::Status RowCountMismatch(const FeatureLayout& layout, int64_t rows) {
  return absl::InvalidArgumentError(absl::StrCat(
      Describe(layout), ": batch size mismatch: the input has ", rows,
      " rows but the feature was built for ", layout.input_rows, " rows per replica (expected ",
      layout.input_rows, ", got ", rows, ")"));
}

// Checks one kept id; `row` and `position` locate it in the feature's CSR rows.
inline absl::Status CheckId(const FeatureLayout& layout, int64_t id, int64_t row,
                            int64_t position) {
  if (id >= 0 && id < layout.table->vocabulary_size) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      Describe(layout), ": id ", id, " at row ", row, ", position ", position,
      id < 0 ? " is negative" : " is out of range",
      " (vocabulary_size ", layout.table->vocabulary_size, ")"));
}

// Narrows `count` >= 1 row splits to `out` (as int32, wrapping: only kept when they turn out
// ascending from 0 to an id count that fits); true when they never descend. Raw pointers and no
// branch, so that it vectorizes (GCC 12 kept the same loop over an absl::Span scalar).
// The caller's splits are mostly read from memory (a batch is used once), and the hardware
// prefetcher stops at every 4 KiB page: the loop asks for the lines 2 KiB ahead itself, in
// blocks of 8 lines (64 splits) that stay branch-free inside. That halved the pass over 128 KiB
// of cold splits on the 2-core VM of issue 13 (bags of 1), which runs before every lookup.
EMBRT_CORE_MULTIVERSION
bool NarrowAscending(const int64_t* __restrict__ splits, int64_t count, int32_t* __restrict__ out) {
  constexpr int64_t kBlock = 64;
  constexpr int64_t kAhead = 256;
  uint32_t descending = 0;
  out[0] = static_cast<int32_t>(splits[0]);
  for (int64_t b = 1; b < count; b += kBlock) {
    if (b + kAhead + kBlock <= count) {  // line by line: GCC can delete a loop of prefetches
      const int64_t* p = splits + b + kAhead;
      __builtin_prefetch(p);
      __builtin_prefetch(p + 8);
      __builtin_prefetch(p + 16);
      __builtin_prefetch(p + 24);
      __builtin_prefetch(p + 32);
      __builtin_prefetch(p + 40);
      __builtin_prefetch(p + 48);
      __builtin_prefetch(p + 56);
    }
    const int64_t end = std::min(count, b + kBlock);
    for (int64_t i = b; i < end; ++i) {
      descending |= splits[i] < splits[i - 1] ? 1u : 0u;
      out[i] = static_cast<int32_t>(splits[i]);
    }
  }
  return descending == 0;
}

bool AllIdsInRange(const FeatureLayout& layout, absl::Span<const int64_t> ids) {
  return IdsInRange(ids.data(), ids.size(),
                    static_cast<uint64_t>(layout.table->vocabulary_size));
}

// The views onto `out`'s own vectors (after a conversion that copied).
void ViewOwned(CsrFeature* out) {
  out->id_view = out->ids;
  out->weight_view = out->weights;
  out->borrowed = false;
}

absl::Status CheckWeights(const FeatureLayout& layout, const FeatureInput& input,
                          const std::optional<FeatureWeights>& weights) {
  if (!weights.has_value()) return absl::OkStatus();
  if (input.kind == InputKind::kDense) {
    // TF: "Weight specified for dense input ..., which is not allowed. Weight will always be 1".
    return absl::InvalidArgumentError(absl::StrCat(
        "Weight specified for dense input of ", Describe(layout),
        ", which is not allowed; the weight of a dense input is always 1"));
  }
  if (weights->kind != input.kind) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Weight for ", Describe(layout), " is of type ", KindName(weights->kind),
        " which does not match the type of the input which is ", KindName(input.kind)));
  }
  if (layout.feature->max_sequence_length > 0) {
    // As TF's serving path: a sequence position is its own bag, so a weight has no meaning.
    return absl::InvalidArgumentError(absl::StrCat(
        "Weight specified for ", Describe(layout), ", but this is a sequence feature (",
        "max_sequence_length ", layout.feature->max_sequence_length, ")"));
  }
  if (weights->values.size() != input.values.size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Weights of ", Describe(layout), " have ", weights->values.size(),
        " values but the input has ", input.values.size(), " ids"));
  }
  // Any finite weight is accepted, negative or zero included (TF's TPU path takes them as
  // given: tf_semantics.md §4.5); NaN and infinity are refused here, before any plugin sees
  // them, so that no backend can store them in a table.
  for (size_t k = 0; k < weights->values.size(); ++k) {
    if (!std::isfinite(weights->values[k])) {
      return absl::InvalidArgumentError(absl::StrCat(
          "Weights of ", Describe(layout), ": weight ", k, " is ", weights->values[k],
          " (weights must be finite)"));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckIdCount(const FeatureLayout& layout, size_t count) {
  if (count <= static_cast<size_t>(std::numeric_limits<int32_t>::max())) {
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(absl::StrCat(
      Describe(layout), ": ", count, " ids in one step do not fit int32 row splits"));
}

// Dense: every id is its own bag. Rank >= 2 needs a last dim of 1, which is reduced.
absl::Status ConvertDense(const FeatureLayout& layout, const FeatureInput& input, IdCheck ids,
                          CsrFeature* out) {
  if (layout.feature->max_sequence_length > 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        Describe(layout), " is a sequence feature (max_sequence_length ",
        layout.feature->max_sequence_length,
        ") and needs a rank-2 sparse or ragged input, got a dense input"));
  }
  const int64_t count = static_cast<int64_t>(input.values.size());
  int64_t rows = count;
  if (!input.shape.empty()) {
    for (int64_t dim : input.shape) {
      if (dim < 0) {
        return absl::InvalidArgumentError(absl::StrCat(
            Describe(layout), ": dense input shape ", ShapeText(input.shape),
            " has a negative dimension"));
      }
    }
    const std::optional<int64_t> product = CheckedProduct(input.shape);
    if (!product.has_value()) {
      return absl::InvalidArgumentError(absl::StrCat(
          Describe(layout), ": dense input shape ", ShapeText(input.shape),
          " has more elements than int64 can count"));
    }
    if (*product != count) {
      return absl::InvalidArgumentError(absl::StrCat(
          Describe(layout), ": dense input shape ", ShapeText(input.shape), " holds ", *product,
          " ids but ", count, " were given"));
    }
    if (input.shape.size() >= 2 && input.shape.back() != 1) {
      return absl::InvalidArgumentError(absl::StrCat(
          Describe(layout), ": a dense input of rank ", input.shape.size(),
          " must have a last dimension of 1, got shape ", ShapeText(input.shape)));
    }
  }
  if (rows != layout.input_rows) return RowCountMismatch(layout, rows);
  EMBRT_RETURN_IF_ERROR(CheckIdCount(layout, input.values.size()));
  if (ids == IdCheck::kAll && !AllIdsInRange(layout, input.values)) {
    for (int64_t i = 0; i < count; ++i) {
      EMBRT_RETURN_IF_ERROR(CheckId(layout, input.values[i], i, 0));
    }
  }
  // Already the ABI's form: the plugin reads the caller's ids.
  out->id_view = input.values;
  out->weight_view = {};
  out->borrowed = true;
  out->ids.clear();
  out->weights.clear();
  out->row_splits.resize(rows + 1);
  for (int64_t r = 0; r <= rows; ++r) out->row_splits[r] = static_cast<int32_t>(r);
  out->positions.clear();
  return absl::OkStatus();
}

// Sparse: rank >= 2, the last axis is the bag (or the sequence position); indices must be in
// row-major order, without duplicates, inside dense_shape.
absl::Status ConvertSparse(const FeatureLayout& layout, const FeatureInput& input,
                           const std::optional<FeatureWeights>& weights, CsrFeature* out) {
  const std::vector<int64_t>& shape = input.shape;
  const size_t rank = shape.size();
  const int32_t max_length = layout.feature->max_sequence_length;
  if (rank < 2) {
    return absl::InvalidArgumentError(absl::StrCat(
        Describe(layout), ": a sparse input must have rank 2 or more, got dense_shape ",
        ShapeText(shape)));
  }
  if (max_length > 0 && rank != 2) {
    return absl::InvalidArgumentError(absl::StrCat(
        Describe(layout), " is a sequence feature and needs a rank-2 sparse input, got "
        "dense_shape ", ShapeText(shape)));
  }
  for (size_t d = 0; d < rank; ++d) {
    if (shape[d] < 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          Describe(layout), ": sparse dense_shape ", ShapeText(shape),
          " has a negative dimension"));
    }
  }
  // The whole dense shape must be countable (as TF's TensorShape requires); then the product
  // of the leading dimensions, the row count, cannot wrap either, and neither can a flattened
  // row index below.
  if (!CheckedProduct(shape).has_value()) {
    return absl::InvalidArgumentError(absl::StrCat(
        Describe(layout), ": sparse dense_shape ", ShapeText(shape),
        " has more elements than int64 can count"));
  }
  const int64_t rows = *CheckedProduct(absl::MakeConstSpan(shape).subspan(0, rank - 1));
  if (rows != layout.input_rows) return RowCountMismatch(layout, rows);
  const size_t count = input.values.size();
  const std::optional<size_t> index_count = CheckedMul(count, rank);
  if (!index_count.has_value() || input.indices.size() != *index_count) {
    return absl::InvalidArgumentError(absl::StrCat(
        Describe(layout), ": sparse indices hold ", input.indices.size(), " values but ", count,
        " ids of rank ", rank, " need ",
        index_count.has_value() ? absl::StrCat(*index_count) : absl::StrCat(count, " x ", rank)));
  }
  EMBRT_RETURN_IF_ERROR(CheckIdCount(layout, count));

  out->ids.resize(count);
  out->row_splits.resize(rows + 1);
  const bool weighted = weights.has_value();
  out->weights.resize(weighted ? count : 0);
  out->positions.resize(max_length > 0 ? count : 0);
  bool holes = false;  // positions are only passed on when some row has a hole

  size_t kept = 0;
  int64_t current_row = 0;  // rows before this one have their splits written
  out->row_splits[0] = 0;
  int64_t position_in_row = 0;  // kept ids of current_row so far
  const int64_t* previous = nullptr;
  for (size_t i = 0; i < count; ++i) {
    const int64_t* index = input.indices.data() + i * rank;
    for (size_t d = 0; d < rank; ++d) {
      if (index[d] < 0 || index[d] >= shape[d]) {
        return absl::InvalidArgumentError(absl::StrCat(
            Describe(layout), ": sparse indices[", i, "] = ",
            ShapeText(absl::MakeConstSpan(index, rank)), " is outside dense_shape ",
            ShapeText(shape)));
      }
    }
    if (previous != nullptr) {
      size_t d = 0;
      while (d < rank && index[d] == previous[d]) ++d;
      if (d == rank || index[d] < previous[d]) {
        return absl::InvalidArgumentError(absl::StrCat(
            Describe(layout), ": sparse indices[", i, "] = ",
            ShapeText(absl::MakeConstSpan(index, rank)),
            d == rank ? " repeats" : " comes before", " indices[", i - 1, "] = ",
            ShapeText(absl::MakeConstSpan(previous, rank)),
            "; indices must be unique and in row-major order"));
      }
    }
    previous = index;

    // Flattened row of the leading rank-1 coordinates.
    int64_t row = 0;
    for (size_t d = 0; d + 1 < rank; ++d) row = row * shape[d] + index[d];
    while (current_row < row) {
      out->row_splits[++current_row] = static_cast<int32_t>(kept);
      position_in_row = 0;
    }
    const int64_t position = index[rank - 1];
    if (max_length > 0) {
      if (position >= max_length) continue;  // truncated, as TF does
      // Row-major unique indices make positions ascending inside a row; a gap is a hole
      // (ABI 1.1 positions carry it to the plugin).
      holes = holes || position != position_in_row;
      out->positions[kept] = static_cast<int32_t>(position);
    }
    const int64_t id = input.values[i];
    EMBRT_RETURN_IF_ERROR(CheckId(layout, id, row, position));
    out->ids[kept] = id;
    if (weighted) out->weights[kept] = weights->values[i];
    ++kept;
    ++position_in_row;
  }
  while (current_row < rows) out->row_splits[++current_row] = static_cast<int32_t>(kept);
  out->ids.resize(kept);
  if (weighted) out->weights.resize(kept);
  out->positions.resize(holes ? kept : 0);
  ViewOwned(out);
  return absl::OkStatus();
}

// Ragged: rank 2, rows + 1 ascending splits starting at 0 and ending at the id count.
absl::Status ConvertRagged(const FeatureLayout& layout, const FeatureInput& input,
                           const std::optional<FeatureWeights>& weights, IdCheck ids,
                           CsrFeature* out) {
  if (!input.shape.empty() && input.shape.size() != 2) {
    return absl::InvalidArgumentError(absl::StrCat(
        Describe(layout), ": a ragged input must have rank 2, got shape ",
        ShapeText(input.shape)));
  }
  const absl::Span<const int64_t> splits = input.row_splits;
  const size_t count = input.values.size();
  if (splits.empty() || splits[0] != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        Describe(layout), ": ragged row_splits must start at 0",
        splits.empty() ? " (got none)" : absl::StrCat(" (got ", splits[0], ")")));
  }
  const int64_t rows = static_cast<int64_t>(splits.size()) - 1;
  if (rows != layout.input_rows) return RowCountMismatch(layout, rows);
  // One pass checks the order and narrows the splits for the ABI: a branch-free loop, walked
  // again only to name the first descending pair. The narrowed values are only kept once the
  // splits turn out ascending from 0 to count, which fits int32 (CheckIdCount).
  out->row_splits.resize(rows + 1);
  const bool ascending = NarrowAscending(splits.data(), rows + 1, out->row_splits.data());
  for (int64_t r = 0; r < rows && !ascending; ++r) {
    if (splits[r + 1] < splits[r]) {
      return absl::InvalidArgumentError(absl::StrCat(
          Describe(layout), ": ragged row_splits must be ascending, but row_splits[", r + 1,
          "] = ", splits[r + 1], " < row_splits[", r, "] = ", splits[r]));
    }
  }
  if (splits[rows] != static_cast<int64_t>(count)) {
    return absl::InvalidArgumentError(absl::StrCat(
        Describe(layout), ": ragged row_splits end at ", splits[rows], " but there are ", count,
        " ids"));
  }
  EMBRT_RETURN_IF_ERROR(CheckIdCount(layout, count));
  const int64_t max_length = layout.feature->max_sequence_length;
  const bool weighted = weights.has_value();
  out->positions.clear();  // a ragged row has no holes
  // No row to truncate and every id in range (or left to the plugin): already the ABI's form
  // but for the splits' width, so the plugin reads the caller's ids and weights. The per-id
  // loop below runs only to truncate sequence rows or to name a bad id.
  bool truncates = false;
  for (int64_t r = 0; r < rows && max_length > 0; ++r) {
    truncates |= splits[r + 1] - splits[r] > max_length;
  }
  if (!truncates && (ids == IdCheck::kLeaveToPlugin || AllIdsInRange(layout, input.values))) {
    out->id_view = input.values;
    out->weight_view = weighted ? weights->values : absl::Span<const float>();
    out->borrowed = true;
    out->ids.clear();
    out->weights.clear();
    return absl::OkStatus();
  }
  out->ids.resize(count);
  out->weights.resize(weighted ? count : 0);
  size_t kept = 0;
  for (int64_t r = 0; r < rows; ++r) {
    int64_t length = splits[r + 1] - splits[r];
    if (max_length > 0 && length > max_length) length = max_length;  // truncated, as TF does
    for (int64_t p = 0; p < length; ++p) {
      const size_t source = static_cast<size_t>(splits[r] + p);
      EMBRT_RETURN_IF_ERROR(CheckId(layout, input.values[source], r, p));
      out->ids[kept] = input.values[source];
      if (weighted) out->weights[kept] = weights->values[source];
      ++kept;
    }
    out->row_splits[r + 1] = static_cast<int32_t>(kept);
  }
  out->ids.resize(kept);
  if (weighted) out->weights.resize(kept);
  ViewOwned(out);
  return absl::OkStatus();
}

}  // namespace

absl::Status ConvertFeatureInput(const FeatureLayout& layout, const FeatureInput& input,
                                 const std::optional<FeatureWeights>& weights, CsrFeature* out,
                                 IdCheck ids) {
  EMBRT_RETURN_IF_ERROR(CheckWeights(layout, input, weights));
  switch (input.kind) {
    case InputKind::kDense:
      return ConvertDense(layout, input, ids, out);
    case InputKind::kSparse:
      return ConvertSparse(layout, input, weights, out);
    case InputKind::kRagged:
      return ConvertRagged(layout, input, weights, ids, out);
  }
  return absl::InvalidArgumentError(
      absl::StrCat(Describe(layout), ": unknown input kind ", static_cast<int>(input.kind)));
}

}  // namespace internal
}  // namespace embrt
