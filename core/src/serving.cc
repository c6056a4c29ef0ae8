// Copyright embrt authors.
//
// ServingLookup: TF's newest serving lookup on the CPU over memory-mapped checkpoint tables
// (embrt/serving.h).
//
// The input checks overlap with core/src/input_conversion.cc, which converts a fixed per-replica
// batch into the ABI's CSR form for training; serving takes the batch from each input and
// follows TF's serving rules for sequences and output_shape, so it validates on its own.

#include "embrt/serving.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "embrt/status_macros.h"
#include "id_range.h"
#include "serving_kernels.h"

namespace embrt {
namespace {

// Upper bound on any shape's product, so that the checks' arithmetic cannot overflow; the
// output's own bound is ServingOptions::max_output_floats.
constexpr int64_t kMaxOutputFloats = int64_t{1} << 34;

struct TableView {
  internal::ServingRows rows;  // rows.count is the vocabulary size
  Combiner combiner = MEAN;

  int32_t dim() const { return rows.dim; }
};

// Names a feature and its table in errors.
std::string Where(const ResolvedFeature& feature, const ResolvedTable& table) {
  return absl::StrCat("feature \"", feature.name, "\" (table \"", table.name, "\")");
}

std::string ShapeString(absl::Span<const int64_t> shape) {
  return absl::StrCat("[", absl::StrJoin(shape, ", "), "]");
}

// prod(dims), or -1 when a dim is negative or the product exceeds kMaxOutputFloats.
int64_t CheckedProduct(absl::Span<const int64_t> dims) {
  int64_t product = 1;
  for (int64_t d : dims) {
    if (d < 0) return -1;
    if (d != 0 && product > kMaxOutputFloats / d) return -1;
    product *= d;
  }
  return product;
}

// Whether an output must hold zeros before its kernel runs (one that leaves floats unwritten).
enum class Clear { kNo, kZeros };

// Shapes `out` as shape + [dim], in the memory it already has where that suffices, zero-filled
// with Clear::kZeros (a grown vector is zero-filled either way); INVALID_ARGUMENT when it would
// hold more than `max_floats` floats (ServingOptions::max_output_floats).
absl::Status PrepareOutput(std::vector<int64_t> shape, int32_t dim, int64_t max_floats, Clear clear,
                           const std::string& where, Tensor* out) {
  shape.push_back(dim);
  const int64_t floats = CheckedProduct(shape);
  if (floats < 0 || floats > max_floats) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": output shape ", ShapeString(shape),
                                                   " is invalid or holds more than ", max_floats,
                                                   " floats (ServingOptions::max_output_floats)"));
  }
  out->shape = std::move(shape);
  if (clear == Clear::kZeros) {
    out->values.assign(static_cast<size_t>(floats), 0.0f);
  } else {
    out->values.resize(static_cast<size_t>(floats));
  }
  return absl::OkStatus();
}

// The error for the id at `position` of `ids`, which is outside the table.
absl::Status BadId(const std::string& where, const int64_t* ids, int64_t position,
                   const TableView& table) {
  return absl::InvalidArgumentError(absl::StrCat(where, ": id ", ids[position], " at position ",
                                                 position, " is outside [0, ", table.rows.count,
                                                 ")"));
}

// For the path that drops ids before the kernel sees them (the kernels check what they get).
absl::Status CheckIds(absl::Span<const int64_t> ids, const TableView& table,
                      const std::string& where) {
  if (internal::IdsInRange(ids.data(), ids.size(), static_cast<uint64_t>(table.rows.count))) {
    return absl::OkStatus();
  }
  for (size_t k = 0; k < ids.size(); ++k) {
    if (ids[k] < 0 || ids[k] >= table.rows.count) {
      return BadId(where, ids.data(), static_cast<int64_t>(k), table);
    }
  }
  return absl::OkStatus();
}

// Per-id gains of bags in CSR form (DESIGN.md §3): sum w; mean w / Σw; sqrtn w / sqrt(Σw²),
// zero when the denominator is zero; `weights` null: every weight 1. Empty when every gain is 1
// (sum without weights), which the kernels take as "skip the multiply".
std::vector<float> BagGains(Combiner combiner, const int64_t* starts, int64_t bags,
                            const float* weights) {
  if (combiner == SUM && weights == nullptr) return {};
  std::vector<float> gains(static_cast<size_t>(starts[bags]));
  for (int64_t b = 0; b < bags; ++b) {
    const int64_t begin = starts[b], end = starts[b + 1];
    auto weight = [&](int64_t k) { return weights == nullptr ? 1.0f : weights[k]; };
    if (combiner == SUM) {
      for (int64_t k = begin; k < end; ++k) gains[k] = weight(k);
      continue;
    }
    float total = 0.0f;
    for (int64_t k = begin; k < end; ++k) {
      const float w = weight(k);
      total += combiner == MEAN ? w : w * w;
    }
    if (combiner == SQRTN) total = std::sqrt(total);
    for (int64_t k = begin; k < end; ++k) gains[k] = total == 0.0f ? 0.0f : weight(k) / total;
  }
  return gains;
}

// Combines bags in CSR form over `ids` into `out` ([.., dim]); see BagGains and
// internal::CombineBags. An id outside the table is INVALID_ARGUMENT naming its position in
// `ids`.
absl::Status CombineBags(const TableView& table, const int64_t* starts, int64_t bags,
                         const int64_t* output_rows, const int64_t* ids, const float* weights,
                         const std::string& where, float* out) {
  const std::vector<float> gains = BagGains(table.combiner, starts, bags, weights);
  internal::ServingBags csr;
  csr.starts = starts;
  csr.count = bags;
  csr.output_rows = output_rows;
  csr.ids = ids;
  csr.num_ids = starts[bags];
  csr.gains = gains.empty() ? nullptr : gains.data();
  const int64_t bad = internal::CombineBags(table.rows, csr, out);
  return bad < 0 ? absl::OkStatus() : BadId(where, ids, bad, table);
}

}  // namespace

class ServingLookup::Impl {
 public:
  std::unique_ptr<CheckpointReader> reader;
  ResolvedConfig config;
  std::vector<TableView> tables;  // in config table order
  int64_t max_output_floats = 0;  // ServingOptions::max_output_floats

  std::vector<std::string> feature_where;  // per feature: its name and its table's, for errors

  absl::Status Lookup(int feature_index, const FeatureInput& input,
                      const std::optional<FeatureWeights>& weights, Tensor* out) const;

 private:
  absl::Status Dense(const ResolvedFeature& feature, const TableView& table,
                     const FeatureInput& input, const std::string& where, Tensor* out) const;
  absl::Status Sparse(const ResolvedFeature& feature, const TableView& table,
                      const FeatureInput& input, const float* weights, const std::string& where,
                      Tensor* out) const;
  absl::Status Ragged(const ResolvedFeature& feature, const TableView& table,
                      const FeatureInput& input, const float* weights, const std::string& where,
                      Tensor* out) const;
};

absl::Status ServingLookup::Impl::Lookup(int feature_index, const FeatureInput& input,
                                         const std::optional<FeatureWeights>& weights,
                                         Tensor* out) const {
  if (feature_index < 0 || feature_index >= static_cast<int>(config.features.size())) {
    return absl::InvalidArgumentError(absl::StrCat(
        "no feature ", feature_index, " (the config has ", config.features.size(), ")"));
  }
  const ResolvedFeature& feature = config.features[feature_index];
  const TableView& table = tables[feature.table_index];
  const std::string& where = feature_where[feature_index];
  const float* weight_values = nullptr;
  if (weights.has_value()) {
    if (input.kind == InputKind::kDense) {
      return absl::InvalidArgumentError(absl::StrCat(
          "Weight specified for ", where, ", but input is dense (weights are always 1)"));
    }
    if (weights->kind != input.kind) {
      return absl::InvalidArgumentError(absl::StrCat(
          "Weight for ", where, " is ", weights->kind == InputKind::kSparse ? "sparse" : "ragged",
          " but it does not match the type of the input, which is ",
          input.kind == InputKind::kSparse ? "sparse" : "ragged"));
    }
    if (feature.max_sequence_length > 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("Weight specified for ", where, ", but this is a sequence feature"));
    }
    if (weights->values.size() != input.values.size()) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": ", weights->values.size(),
                                                     " weights for ", input.values.size(), " ids"));
    }
    weight_values = weights->values.data();
  }
  switch (input.kind) {
    case InputKind::kDense:
      return Dense(feature, table, input, where, out);
    case InputKind::kSparse:
      return Sparse(feature, table, input, weight_values, where, out);
    case InputKind::kRagged:
      return Ragged(feature, table, input, weight_values, where, out);
  }
  return absl::InvalidArgumentError(absl::StrCat(where, ": unknown input kind"));
}

absl::Status ServingLookup::Impl::Dense(const ResolvedFeature& feature, const TableView& table,
                                        const FeatureInput& input, const std::string& where,
                                        Tensor* out) const {
  if (feature.max_sequence_length > 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        where, " is a sequence feature, but its input is dense (use sparse or ragged ids)"));
  }
  std::vector<int64_t> shape = input.shape;
  if (shape.empty()) shape = {static_cast<int64_t>(input.values.size())};
  if (CheckedProduct(shape) != static_cast<int64_t>(input.values.size())) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": dense shape ", ShapeString(shape),
                                                   " does not hold ", input.values.size(), " ids"));
  }
  if (shape.size() >= 2) {
    if (shape.back() != 1) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": a dense input of rank ", shape.size(),
                       " needs a last dim of 1, got shape ", ShapeString(shape)));
    }
    shape.pop_back();
  }
  EMBRT_RETURN_IF_ERROR(
      PrepareOutput(std::move(shape), table.dim(), max_output_floats, Clear::kNo, where, out));
  const int64_t bad =
      internal::GatherRows(table.rows, input.values.data(),
                           static_cast<int64_t>(input.values.size()), out->values.data());
  if (bad >= 0) return BadId(where, input.values.data(), bad, table);
  return absl::OkStatus();
}

absl::Status ServingLookup::Impl::Sparse(const ResolvedFeature& feature, const TableView& table,
                                         const FeatureInput& input, const float* weights,
                                         const std::string& where, Tensor* out) const {
  const std::vector<int64_t>& shape = input.shape;
  const size_t rank = shape.size();
  const size_t n = input.values.size();
  if (rank < 2) {
    return absl::InvalidArgumentError(absl::StrCat(
        where, ": a sparse input needs rank >= 2, got dense_shape ", ShapeString(shape)));
  }
  if (CheckedProduct(shape) < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": dense_shape ", ShapeString(shape), " is invalid or too large"));
  }
  if (input.indices.size() != n * rank) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": ", input.indices.size(),
                                                   " index values for ", n, " ids of rank ", rank,
                                                   " (expected ", n * rank, ")"));
  }
  // Indices inside dense_shape and in row-major order (as TF's SparseTensor requires).
  for (size_t k = 0; k < n; ++k) {
    const int64_t* index = input.indices.data() + k * rank;
    for (size_t d = 0; d < rank; ++d) {
      if (index[d] < 0 || index[d] >= shape[d]) {
        return absl::InvalidArgumentError(absl::StrCat(
            where, ": sparse index ", k, " [", absl::StrJoin(index, index + rank, ", "),
            "] is outside dense_shape ", ShapeString(shape)));
      }
    }
    if (k > 0 && std::lexicographical_compare(index, index + rank, index - rank, index)) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": sparse indices are not in row-major order at index ", k));
    }
  }
  const int64_t batch = shape[0];
  if (feature.output_shape.empty() && feature.max_sequence_length > 0 && rank == 2) {
    const int64_t length = feature.max_sequence_length;
    EMBRT_RETURN_IF_ERROR(
        PrepareOutput({batch, length}, table.dim(), max_output_floats, Clear::kZeros, where, out));
    const int64_t bad =
        internal::AddSequences(table.rows, input.indices.data(), input.values.data(),
                               static_cast<int64_t>(n), length, out->values.data());
    if (bad >= 0) return BadId(where, input.values.data(), bad, table);
    return absl::OkStatus();
  }
  // Bags are the leading rank - 1 coordinates, flattened row-major.
  std::vector<int64_t> bag_shape(shape.begin(), shape.end() - 1);
  // Zeros first: rows that no index names are empty bags.
  EMBRT_RETURN_IF_ERROR(PrepareOutput(std::move(bag_shape), table.dim(), max_output_floats,
                                      Clear::kZeros, where, out));
  // One CSR bag per run of equal leading coordinates; its output row is those coordinates
  // flattened (inside the output: every index is inside dense_shape, checked above). TF's safe
  // lookup for mean and sqrtn leaves out entries whose weight is <= 0: with weights, those are
  // dropped here first.
  const bool prune = table.combiner != SUM && weights != nullptr;
  // Pruned ids are refused too, so they are checked before they are dropped.
  if (prune) EMBRT_RETURN_IF_ERROR(CheckIds(input.values, table, where));
  std::vector<int64_t> starts = {0}, output_rows, kept_ids;
  std::vector<float> kept_weights;
  for (size_t k = 0; k < n;) {
    int64_t bag = 0;
    for (size_t d = 0; d + 1 < rank; ++d) bag = bag * shape[d] + input.indices[k * rank + d];
    size_t end = k + 1;
    while (end < n && std::equal(input.indices.data() + end * rank,
                                 input.indices.data() + end * rank + rank - 1,
                                 input.indices.data() + k * rank)) {
      ++end;
    }
    if (prune) {
      for (size_t e = k; e < end; ++e) {
        if (weights[e] <= 0.0f) continue;
        kept_ids.push_back(input.values[e]);
        kept_weights.push_back(weights[e]);
      }
      starts.push_back(static_cast<int64_t>(kept_ids.size()));
    } else {
      starts.push_back(static_cast<int64_t>(end));
    }
    output_rows.push_back(bag);
    k = end;
  }
  const int64_t count = static_cast<int64_t>(output_rows.size());
  return CombineBags(table, starts.data(), count, output_rows.data(),
                     prune ? kept_ids.data() : input.values.data(),
                     prune ? kept_weights.data() : weights, where, out->values.data());
}

absl::Status ServingLookup::Impl::Ragged(const ResolvedFeature& feature, const TableView& table,
                                         const FeatureInput& input, const float* weights,
                                         const std::string& where, Tensor* out) const {
  const absl::Span<const int64_t> splits = input.row_splits;
  if (splits.empty() || splits.front() != 0 ||
      splits.back() != static_cast<int64_t>(input.values.size())) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": ragged row_splits must start at 0 and end at the number of ids (",
                     input.values.size(), ")"));
  }
  // One branch-free pass (it vectorizes); the first descent is looked for only when there is one.
  bool descends = false;
  for (size_t i = 1; i < splits.size(); ++i) descends |= splits[i] < splits[i - 1];
  for (size_t i = 1; descends && i < splits.size(); ++i) {
    if (splits[i] < splits[i - 1]) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": ragged row_splits decrease at position ", i, " (", splits[i - 1],
                       " then ", splits[i], ")"));
    }
  }
  const int64_t batch = static_cast<int64_t>(splits.size()) - 1;
  // Both write every float of the output (serving_kernels.h).
  auto combine = [&](std::vector<int64_t> shape) -> absl::Status {
    EMBRT_RETURN_IF_ERROR(
        PrepareOutput({batch}, table.dim(), max_output_floats, Clear::kNo, where, out));
    EMBRT_RETURN_IF_ERROR(CombineBags(table, splits.data(), batch, /*output_rows=*/nullptr,
                                      input.values.data(), weights, where, out->values.data()));
    out->shape = std::move(shape);
    out->shape.push_back(table.dim());
    return absl::OkStatus();
  };
  auto sequences = [&](int64_t length, std::vector<int64_t> shape) -> absl::Status {
    EMBRT_RETURN_IF_ERROR(
        PrepareOutput({batch, length}, table.dim(), max_output_floats, Clear::kNo, where, out));
    const int64_t bad = internal::GatherSequences(table.rows, splits.data(), batch,
                                                  input.values.data(), length, out->values.data());
    if (bad >= 0) return BadId(where, input.values.data(), bad, table);
    out->shape = std::move(shape);
    out->shape.push_back(table.dim());
    return absl::OkStatus();
  };
  if (!feature.output_shape.empty()) {
    const int64_t outputs = CheckedProduct(feature.output_shape);
    if (outputs == batch) return combine(feature.output_shape);
    if (batch > 0 && outputs > batch && outputs % batch == 0) {
      return sequences(outputs / batch, feature.output_shape);
    }
    return absl::InvalidArgumentError(absl::StrCat(
        "Output shape set in the FeatureConfig should be the factor of the input data batch "
        "size. But instead got output shape ",
        ShapeString(feature.output_shape), ", input data batch size ", batch, " (", where, ")"));
  }
  if (feature.max_sequence_length > 0) {
    return sequences(feature.max_sequence_length, {batch, feature.max_sequence_length});
  }
  return combine({batch});
}

ServingLookup::ServingLookup(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ServingLookup::~ServingLookup() = default;

absl::StatusOr<std::unique_ptr<ServingLookup>> ServingLookup::Open(const std::string& path_or_root,
                                                                   const ServingOptions& options) {
  auto impl = std::make_unique<Impl>();
  if (options.max_output_floats <= 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "ServingOptions::max_output_floats must be positive, got ", options.max_output_floats));
  }
  impl->max_output_floats = options.max_output_floats;
  CheckpointReader::Options reader_options;
  reader_options.verify_checksums = options.verify_checksums;
  reader_options.verify_threads = options.verify_threads;
  EMBRT_ASSIGN_OR_RETURN(impl->reader, CheckpointReader::Open(path_or_root, reader_options));
  const CheckpointReader& reader = *impl->reader;
  absl::StatusOr<ResolvedConfig> config = ResolveConfig(reader.manifest().config());
  if (!config.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("checkpoint ", reader.path(),
                     " holds a config that does not resolve: ", config.status().message()));
  }
  impl->config = *std::move(config);
  EMBRT_RETURN_IF_ERROR(reader.CheckCompatible(impl->config));
  for (const ResolvedTable& table : impl->config.tables) {
    TableView view;
    view.rows.reader = &reader;
    view.rows.reader_table = reader.FindTable(table.name);
    const absl::Span<const float> whole = reader.ContiguousSlot(view.rows.reader_table, 0);
    view.rows.base = whole.empty() ? nullptr : whole.data();
    view.rows.dim = table.dim;
    view.rows.count = table.vocabulary_size;
    view.combiner = table.combiner;
    impl->tables.push_back(view);
  }
  for (const ResolvedFeature& feature : impl->config.features) {
    impl->feature_where.push_back(Where(feature, impl->config.tables[feature.table_index]));
  }
  return std::unique_ptr<ServingLookup>(new ServingLookup(std::move(impl)));
}

const ResolvedConfig& ServingLookup::config() const { return impl_->config; }
int64_t ServingLookup::step() const { return impl_->reader->step(); }

int ServingLookup::FindFeature(absl::string_view name) const {
  for (size_t f = 0; f < impl_->config.features.size(); ++f) {
    if (impl_->config.features[f].name == name) return static_cast<int>(f);
  }
  return -1;
}

absl::StatusOr<std::vector<Tensor>> ServingLookup::Lookup(
    absl::Span<const FeatureInput> features,
    absl::Span<const std::optional<FeatureWeights>> weights) const {
  const size_t count = impl_->config.features.size();
  if (features.size() != count) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Lookup: got ", features.size(), " feature inputs, the config has ", count, " features"));
  }
  if (!weights.empty() && weights.size() != count) {
    return absl::InvalidArgumentError(
        absl::StrCat("Lookup: got ", weights.size(), " weights, expected none or ", count));
  }
  std::vector<Tensor> outputs(count);
  for (size_t f = 0; f < count; ++f) {
    EMBRT_RETURN_IF_ERROR(impl_->Lookup(static_cast<int>(f), features[f],
                                        weights.empty() ? std::nullopt : weights[f], &outputs[f]));
  }
  return outputs;
}

absl::StatusOr<Tensor> ServingLookup::LookupFeature(
    int feature, const FeatureInput& input, const std::optional<FeatureWeights>& weights) const {
  Tensor out;
  EMBRT_RETURN_IF_ERROR(impl_->Lookup(feature, input, weights, &out));
  return out;
}

absl::Status ServingLookup::LookupFeatureInto(int feature, const FeatureInput& input,
                                              const std::optional<FeatureWeights>& weights,
                                              Tensor* out) const {
  if (out == nullptr) return absl::InvalidArgumentError("LookupFeatureInto: out is null");
  return impl_->Lookup(feature, input, weights, out);
}

absl::StatusOr<Tensor> ServingLookup::LookupFeature(
    absl::string_view feature, const FeatureInput& input,
    const std::optional<FeatureWeights>& weights) const {
  const int index = FindFeature(feature);
  if (index < 0) {
    return absl::NotFoundError(absl::StrCat("no feature \"", feature, "\" in the checkpoint"));
  }
  Tensor out;
  EMBRT_RETURN_IF_ERROR(impl_->Lookup(index, input, weights, &out));
  return out;
}

}  // namespace embrt
