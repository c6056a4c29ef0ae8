// Copyright embrt authors.
//
// File: embrt/serving.h
// ---------------------
// ServingLookup answers embedding lookups on the CPU straight from a checkpoint
// (embrt/checkpoint.h), without loading any backend plugin: the parameter files are
// memory-mapped read-only, so a large table costs page cache, not heap, and several
// processes serving the same checkpoint share it.
//
// The semantics are newest TensorFlow's serving lookup (tpu_embedding_for_serving.py,
// plugin_api/MATH.md §7.3):
//   - dense ids: one row per id, no combiner; shape [n] -> [n, dim], and a rank >= 2 shape
//     whose last dim is 1 -> shape[:-1] + [dim] (the TPU layout, as in training). Weights or a
//     sequence feature are INVALID_ARGUMENT.
//   - sparse ids (rank >= 2, the last axis is the bag): a sequence feature (max_sequence_length
//     L > 0, rank 2, no output_shape) gives [B, L, dim] with each id at its position, positions
//     >= L dropped and empty positions zero. Otherwise TF's safe lookup: empty bags are zero,
//     and for mean and sqrtn, entries with weight <= 0 are pruned; shape dense_shape[:-1] +
//     [dim].
//   - ragged ids (rank 2, B rows): with the feature's output_shape S, prod(S) == B combines and
//     reshapes to S + [dim]; prod(S) a larger multiple of B is sequence semantics with
//     L = prod(S) / B (weights and combiner unused), reshaped to S + [dim]; anything else is
//     INVALID_ARGUMENT ("... should be the factor of the input data batch size ...").
//     Without output_shape: a sequence feature gives [B, L, dim], otherwise [B, dim].
//   - combiners: sum, mean = Σwe / Σw and sqrtn = Σwe / sqrt(Σw²), both with div_no_nan (a zero
//     denominator gives zeros), computed in the canonical order of DESIGN.md §3 (gains first,
//     then a left-to-right sum), so results match the cpu backend's inference lookup bit for bit.
//   - weights must have the input's kind and one value per id; sequence features take none.
//   - a table's QuantizationConfig is ignored: rows are served as stored, unquantized. TF's
//     serving lookup (cpu_embedding_lookup) gathers the variables directly; simulated
//     quantization (§4.7) exists only in the training device's forward pass. So for a quantized
//     table, serving differs from the backends' lookups (which quantize in both modes).
//   - ids must be in [0, vocabulary_size): anything else is INVALID_ARGUMENT naming the
//     feature, table, position and value (TF would prune negative sparse ids; we refuse them).
//
// Example:
//
//   EMBRT_ASSIGN_OR_RETURN(std::unique_ptr<embrt::ServingLookup> serving,
//                          embrt::ServingLookup::Open("/ckpts/model"));
//   std::vector<int64_t> splits = {0, 2, 3}, ids = {4, 9, 1};
//   EMBRT_ASSIGN_OR_RETURN(embrt::Tensor user,
//                          serving->LookupFeature("user_history",
//                                                 embrt::FeatureInput::Ragged(splits, ids)));
//
// Cost: a lookup runs on the calling thread. Ids are read once: each is checked as its row is
// prefetched (16 ids ahead), except sparse inputs whose weights prune ids, checked in a pass of
// their own first. Bag sums of dims 16, 32, 64 and 128 stay in vector registers (AVX-512, AVX2
// or SSE, picked at load time). LookupFeature returns a new, zero-filled tensor each call;
// LookupFeatureInto reuses the caller's, which saves the allocation and, but for sparse
// inputs, the zero fill.
// bench/serving_benchmark compares it with a plain prefetching loop over the same mapped file
// (bench/README.md).
//
// Thread safety: a ServingLookup is immutable after Open; Lookup and LookupFeature are const,
// keep no state between calls and are safe for concurrent use from any number of threads
// without external synchronization.

#ifndef EMBRT_SERVING_H_
#define EMBRT_SERVING_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "embrt/checkpoint.h"
#include "embrt/config.h"
#include "embrt/inputs.h"

namespace embrt {

struct ServingOptions {
  // Verify every file's XXH3-64 at Open (reads each byte once; sizes are always checked).
  bool verify_checksums = true;
  // Threads that verify at once (CheckpointReader::Options::verify_threads); 0: one per CPU
  // this process may run on, at most 8.
  int verify_threads = 0;
  // The most floats one lookup may return (default 2^30, 4 GiB). The output's shape comes from
  // the request (a sparse input's dense_shape, a feature's output_shape), so without a bound a
  // request of a few bytes could make the server allocate and zero-fill any amount of memory;
  // beyond it a lookup is INVALID_ARGUMENT. Must be positive (Open fails otherwise).
  int64_t max_output_floats = int64_t{1} << 30;
};

class ServingLookup {
 public:
  // Opens a checkpoint directory or a root whose `latest` names one (see
  // ResolveCheckpointPath). The checkpoint's own config says which features exist and which
  // table each looks up. Errors: as CheckpointReader::Open, and INVALID_ARGUMENT when the
  // stored config does not resolve or does not match the stored tables.
  static absl::StatusOr<std::unique_ptr<ServingLookup>> Open(const std::string& path_or_root,
                                                             const ServingOptions& options = {});

  ~ServingLookup();
  ServingLookup(const ServingLookup&) = delete;
  ServingLookup& operator=(const ServingLookup&) = delete;

  // The checkpoint's config, resolved; features are in config order.
  const ResolvedConfig& config() const;
  int64_t step() const;
  // Index of the feature called `name`, or -1.
  int FindFeature(absl::string_view name) const;

  // Looks up every feature (inputs in config order). `weights` is empty or has one entry per
  // feature (nullopt: all weights 1). Returns one tensor per feature.
  absl::StatusOr<std::vector<Tensor>> Lookup(
      absl::Span<const FeatureInput> features,
      absl::Span<const std::optional<FeatureWeights>> weights = {}) const;

  // Looks up one feature, by index or name.
  absl::StatusOr<Tensor> LookupFeature(
      int feature, const FeatureInput& input,
      const std::optional<FeatureWeights>& weights = std::nullopt) const;
  absl::StatusOr<Tensor> LookupFeature(
      absl::string_view feature, const FeatureInput& input,
      const std::optional<FeatureWeights>& weights = std::nullopt) const;

  // As LookupFeature(int, ...), into `*out`: its shape is set and its values' memory reused,
  // so a server that keeps one Tensor per feature (per thread) allocates nothing once the
  // capacity suffices, and dense inputs and ragged ones (bags or sequences) are written without
  // clearing the output first. On error, `*out` holds unspecified values (its memory is kept
  // for the next call). `out` must not be null (INVALID_ARGUMENT).
  //
  //   embrt::Tensor user;  // kept between requests
  //   EMBRT_RETURN_IF_ERROR(serving->LookupFeatureInto(
  //       user_feature, embrt::FeatureInput::Ragged(splits, ids), std::nullopt, &user));
  absl::Status LookupFeatureInto(int feature, const FeatureInput& input,
                                 const std::optional<FeatureWeights>& weights, Tensor* out) const;

 private:
  class Impl;
  explicit ServingLookup(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace embrt

#endif  // EMBRT_SERVING_H_
