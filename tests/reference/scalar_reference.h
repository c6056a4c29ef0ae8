// Copyright embrt authors.
//
// File: tests/reference/scalar_reference.h
// ----------------------------------------
// A plain, slow, obviously-correct model of the math every embrt backend must match: lookups
// through the combiners (plugin_api/MATH.md §4) and one training step of every optimizer
// with all its options (§3). It shares no code with any plugin or with the core; it is written
// straight from the formulas so that the cpu backend, the conformance suite and the golden tests
// can be checked against it.
//
// Arithmetic is float32 throughout, in the canonical order of DESIGN.md §3:
//   forward   a[s] = 0 + gain_1·E[i_1] + gain_2·E[i_2] + ...   (left to right, per column)
//             gains first, from the whole bag: sum w, mean w/Σw, sqrtn w/sqrt(Σw²);
//             Σw and Σw² are left-to-right sums; a zero Σw or Σw² gives gain 0 (div_no_nan).
//   backward  per replica, g_r[row] = 0 + Σ gain·dL/da over occurrences in (feature, bag,
//             position) order; then g[row] = 0 + g_0[row] + g_1[row] + ... in replica order.
//   update    per touched row, in this order: gradient clip, decoupled weight decay
//             (w ← w − λ'·w), the optimizer's formula written left to right exactly as in
//             plugin_api/MATH.md §3.1–3.5, weight clip.
// With gradient accumulation off, every occurrence is its own update (its gradient is
// gain·dL/da), applied in the same canonical order (replica, feature, bag, position).
// Non-lazy Adam treats every row of the table as touched (g = 0 where no id occurred).
//
// Simulated quantization (plugin_api/MATH.md §4.7), for a table with num_buckets > 0 in
// ModelSpec::quantization:
// every looked-up element E[i][d] is replaced, before it meets its gain (or is copied to a
// sequence position), by
//   x = min(max(E, lower), upper); q = (upper − lower)/(num_buckets − 1);
//   x = floor((x − lower)/q + 0.5)·q + lower                      (float32, in this order)
// Gradients pass straight through: backward and updates ignore quantization.
//
// Sequence features (max_sequence_length L > 0): position p of row b is the p-th id of the row,
// or, when the batch carries `positions` (ABI 1.1), the position given for that id, so a row may
// have holes; no combiner, weights ignored; ids at p >= L are dropped; missing positions are
// zeros and receive no gradient.
//
// Thread safety: a ScalarReference is a plain value; const methods may run concurrently.

#ifndef EMBRT_TESTS_REFERENCE_SCALAR_REFERENCE_H_
#define EMBRT_TESTS_REFERENCE_SCALAR_REFERENCE_H_

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace embrt {
namespace reference {

// Values equal EMBRT_COMBINER_* and EMBRT_OPTIMIZER_* of embrt/plugin_api.h (checked by the
// tests that use both; this header does not include the ABI on purpose).
enum class Combiner : int32_t { kSum = 1, kMean = 2, kSqrtn = 3 };
enum class Optimizer : int32_t {
  kSgd = 1,
  kAdagrad = 2,
  kAdagradMomentum = 3,
  kAdam = 4,
  kFtrl = 5,
};

struct AdagradOptions {
  float initial_accumulator_value = 0.1f;
};
struct AdagradMomentumOptions {
  float momentum = 0.0f;
  bool use_nesterov = false;
  float exponent = 2.0f;
  float beta2 = 1.0f;
  float epsilon = 1e-10f;
};
struct AdamOptions {
  float beta_1 = 0.9f;
  float beta_2 = 0.999f;
  float epsilon = 1e-7f;
  bool lazy_adam = true;
  bool sum_inside_sqrt = true;
};
struct FtrlOptions {
  float learning_rate_power = -0.5f;
  float l1_regularization_strength = 0.0f;
  float l2_regularization_strength = 0.0f;
  float beta = 0.0f;
  float initial_accumulator_value = 0.1f;
  bool multiply_linear_by_learning_rate = false;
};

// One table's optimizer. Only the options of `kind` matter.
struct OptimizerSpec {
  Optimizer kind = Optimizer::kSgd;
  float learning_rate = 0.01f;
  int learning_rate_tag = -1;  // >= 0: the rate comes from ApplyGradients' learning_rates
  bool use_gradient_accumulation = true;
  float clip_weight_min = -std::numeric_limits<float>::infinity();
  float clip_weight_max = std::numeric_limits<float>::infinity();
  float clip_gradient_min = -std::numeric_limits<float>::infinity();
  float clip_gradient_max = std::numeric_limits<float>::infinity();
  float weight_decay_factor = 0.0f;
  bool multiply_weight_decay_factor_by_learning_rate = false;
  AdagradOptions adagrad;
  AdagradMomentumOptions adagrad_momentum;
  AdamOptions adam;
  FtrlOptions ftrl;
};

// TF's QuantizationConfig; num_buckets == 0: off.
struct QuantizationSpec {
  int32_t num_buckets = 0;
  float lower = 0.0f;
  float upper = 0.0f;
};

// The §4.7 formula for one element (spec.num_buckets >= 2).
float Quantize(const QuantizationSpec& spec, float x);

struct TableSpec {
  std::string name;
  int64_t vocabulary_size = 1;
  int32_t dim = 1;
  Combiner combiner = Combiner::kMean;
  OptimizerSpec optimizer;
};

struct FeatureSpec {
  std::string name;
  int32_t table = 0;
  int32_t max_sequence_length = 0;
  int64_t input_rows = 1;  // bags (or sequence samples) per replica and step
};

struct ModelSpec {
  std::vector<TableSpec> tables;
  std::vector<FeatureSpec> features;
  int32_t num_replicas = 1;
  int32_t num_learning_rate_tags = 0;
  // Per table, in table order (kept out of TableSpec so its brace-initializers stay complete);
  // tables past the end are not quantized.
  std::vector<QuantizationSpec> quantization;

  // Table t's quantization (num_buckets 0: off).
  QuantizationSpec QuantizationOf(size_t t) const {
    return t < quantization.size() ? quantization[t] : QuantizationSpec{};
  }
};

// One feature's ids for one replica and step, in the ABI's CSR form.
struct FeatureBatch {
  std::vector<int64_t> ids;
  std::vector<int32_t> row_splits;  // input_rows + 1 offsets; empty: one id per row
  std::vector<float> weights;       // one per id; empty: all 1
  // ABI 1.1, sequence features only: one position per id, ascending inside each row; empty:
  // the p-th id of a row is at position p.
  std::vector<int32_t> positions = {};
};
using ReplicaBatch = std::vector<FeatureBatch>;  // one per feature, in feature order

// Per feature, the activations [input_rows, (L or 1), dim] row-major.
using Activations = std::vector<std::vector<float>>;
// Per feature, the gradients shaped like the activations; an empty vector is a zero gradient
// (TF's None: rows still count as touched).
using Gradients = std::vector<std::vector<float>>;

// Slots in the ABI's load/retrieve order, "parameters" first.
std::vector<std::string> SlotNames(Optimizer kind);
// Initial value of each slot (parameters: 0), as the core loads them: Adagrad and FTRL
// accumulators start at initial_accumulator_value, everything else at 0.
std::vector<float> SlotInitialValues(const OptimizerSpec& optimizer);

// Number of floats of one feature's activation buffer.
int64_t ActivationSize(const ModelSpec& model, int feature);

class ScalarReference {
 public:
  // Tables start at zero and slots at SlotInitialValues (the state after the core's load).
  explicit ScalarReference(ModelSpec model);

  const ModelSpec& model() const { return model_; }

  // slot(t, 0) is the parameters of table t, [vocabulary_size, dim] row-major.
  std::vector<float>& slot(int table, int slot) { return slots_[table][slot]; }
  const std::vector<float>& slot(int table, int slot) const { return slots_[table][slot]; }
  int num_slots(int table) const { return static_cast<int>(slots_[table].size()); }

  // Forward pass of one replica's batch. Ids must be in range (the reference does not check
  // more than an assertion would).
  Activations Lookup(const ReplicaBatch& batch) const;

  // One training step: `batches[r]` and `gradients[r]` are replica r's. `learning_rates` holds
  // one value per tag (dynamic rates).
  void ApplyGradients(const std::vector<ReplicaBatch>& batches,
                      const std::vector<Gradients>& gradients,
                      const std::vector<float>& learning_rates = {});

 private:
  // One occurrence of a row in the backward pass: d row += gain · grad[offset .. offset+dim).
  struct Occurrence {
    int64_t row;
    float gain;
    const float* gradient;  // NULL: zero gradient
  };
  // Calls `visit(feature, occurrence)` for every id of `batch` in (feature, bag, position)
  // order, with its gain and the gradient row it receives.
  template <typename Visit>
  void ForEachOccurrence(const ReplicaBatch& batch, const Gradients& gradients,
                         Visit&& visit) const;
  // The full update pipeline on one row of table `t` with gradient `g` (dim floats).
  void UpdateRow(int table, int64_t row, std::vector<float> g, float learning_rate);

  ModelSpec model_;
  std::vector<std::vector<std::vector<float>>> slots_;  // [table][slot][row * dim + column]
};

}  // namespace reference
}  // namespace embrt

#endif  // EMBRT_TESTS_REFERENCE_SCALAR_REFERENCE_H_
