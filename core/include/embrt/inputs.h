// Copyright embrt authors.
//
// File: embrt/inputs.h
// --------------------
// The input and output values of Embedding::Enqueue, Dequeue and ApplyGradients, mirroring the
// tensors TF's mid-level API takes: dense ids, sparse (COO) ids, ragged (row splits) ids, each
// with optional weights of the matching kind. Inputs are views: the caller's arrays are borrowed
// for the duration of the call and never kept.
//
// Example:
//
//   std::vector<int64_t> splits = {0, 1, 3}, ids = {7, 2, 9};
//   std::vector<float> w = {1.0f, 0.5f, 0.5f};
//   std::vector<embrt::FeatureInput> features = {embrt::FeatureInput::Ragged(splits, ids)};
//   std::vector<std::optional<embrt::FeatureWeights>> weights = {
//       embrt::FeatureWeights::Ragged(w)};
//   EMBRT_RETURN_IF_ERROR(embedding->Enqueue(features, weights, /*training=*/true));

#ifndef EMBRT_INPUTS_H_
#define EMBRT_INPUTS_H_

#include <cstdint>
#include <vector>

#include "absl/types/span.h"

namespace embrt {

enum class InputKind { kDense, kSparse, kRagged };

// One feature's ids for one replica and step.
struct FeatureInput {
  InputKind kind = InputKind::kDense;
  // The ids: dense values in row-major order, or the sparse / ragged values.
  absl::Span<const int64_t> values;
  // Dense: the ids' shape (empty means [values.size()]); rank >= 2 needs a last dim of 1,
  // which is reduced. Sparse: dense_shape, rank >= 2, the last axis is the bag.
  std::vector<int64_t> shape;
  // Sparse: [values.size(), shape.size()] row-major indices, in row-major order.
  absl::Span<const int64_t> indices;
  // Ragged (rank 2): rows + 1 ascending offsets into values, starting at 0.
  absl::Span<const int64_t> row_splits;

  static FeatureInput Dense(absl::Span<const int64_t> ids, std::vector<int64_t> shape = {}) {
    FeatureInput in;
    in.kind = InputKind::kDense;
    in.values = ids;
    in.shape = std::move(shape);
    return in;
  }
  static FeatureInput Sparse(absl::Span<const int64_t> indices, absl::Span<const int64_t> values,
                             std::vector<int64_t> dense_shape) {
    FeatureInput in;
    in.kind = InputKind::kSparse;
    in.indices = indices;
    in.values = values;
    in.shape = std::move(dense_shape);
    return in;
  }
  static FeatureInput Ragged(absl::Span<const int64_t> row_splits,
                             absl::Span<const int64_t> values) {
    FeatureInput in;
    in.kind = InputKind::kRagged;
    in.row_splits = row_splits;
    in.values = values;
    return in;
  }
};

// Weights of one feature: one float per id, with the same structure as the ids (TF passes a
// SparseTensor with the same indices or a RaggedTensor with the same row splits; only the values
// matter). Dense inputs take no weights (TF: "Weight will always be 1").
struct FeatureWeights {
  InputKind kind = InputKind::kSparse;
  absl::Span<const float> values;

  static FeatureWeights Sparse(absl::Span<const float> values) {
    return {InputKind::kSparse, values};
  }
  static FeatureWeights Ragged(absl::Span<const float> values) {
    return {InputKind::kRagged, values};
  }
  static FeatureWeights Dense(absl::Span<const float> values) {
    return {InputKind::kDense, values};
  }
};

// An owned float tensor: Dequeue's activations, shaped output_shape + [dim].
struct Tensor {
  std::vector<int64_t> shape;
  std::vector<float> values;
};

// A borrowed float tensor: ApplyGradients' gradients, shaped exactly like the activations.
struct TensorView {
  absl::Span<const float> values;
  std::vector<int64_t> shape;

  static TensorView Of(const Tensor& t) { return {t.values, t.shape}; }
};

}  // namespace embrt

#endif  // EMBRT_INPUTS_H_
