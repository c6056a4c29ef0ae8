// Copyright embrt authors.
//
// The scalar reference: one loop per formula, float32, canonical order (see the header).
// This file is compiled with -ffp-contract=off so that no multiply-add is fused behind our back.

#include "scalar_reference.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <map>
#include <utility>

namespace embrt {
namespace reference {
namespace {

float Clamp(float x, float lower, float upper) { return std::min(std::max(x, lower), upper); }

// The gains of one bag (plugin_api/MATH.md §4.2), computed from the whole bag before any row is
// read. `weights` may be NULL (all weights 1).
std::vector<float> BagGains(Combiner combiner, const float* weights, int64_t begin,
                            int64_t end) {
  std::vector<float> gains;
  gains.reserve(static_cast<size_t>(end - begin));
  auto weight = [&](int64_t k) { return weights == nullptr ? 1.0f : weights[k]; };
  switch (combiner) {
    case Combiner::kSum:
      for (int64_t k = begin; k < end; ++k) gains.push_back(weight(k));
      break;
    case Combiner::kMean: {
      float total = 0.0f;
      for (int64_t k = begin; k < end; ++k) total = total + weight(k);
      for (int64_t k = begin; k < end; ++k) {
        gains.push_back(total == 0.0f ? 0.0f : weight(k) / total);
      }
      break;
    }
    case Combiner::kSqrtn: {
      float squares = 0.0f;
      for (int64_t k = begin; k < end; ++k) squares = squares + weight(k) * weight(k);
      const float norm = std::sqrt(squares);
      for (int64_t k = begin; k < end; ++k) {
        gains.push_back(norm == 0.0f ? 0.0f : weight(k) / norm);
      }
      break;
    }
  }
  return gains;
}

// Sequence position of the id at offset `k`, the `p`-th of its row.
int64_t PositionOf(const FeatureBatch& input, int64_t k, int64_t p) {
  return input.positions.empty() ? p : input.positions[k];
}

// Offsets [begin, end) of row `b`'s ids.
std::pair<int64_t, int64_t> RowRange(const FeatureBatch& input, int64_t b) {
  if (input.row_splits.empty()) return {b, b + 1};
  return {input.row_splits[b], input.row_splits[b + 1]};
}

}  // namespace

std::vector<std::string> SlotNames(Optimizer kind) {
  switch (kind) {
    case Optimizer::kSgd:
      return {"parameters"};
    case Optimizer::kAdagrad:
      return {"parameters", "accumulators"};
    case Optimizer::kAdagradMomentum:
      return {"parameters", "accumulators", "momenta"};
    case Optimizer::kAdam:
      return {"parameters", "momenta", "velocities"};
    case Optimizer::kFtrl:
      return {"parameters", "accumulators", "linears"};
  }
  return {};
}

std::vector<float> SlotInitialValues(const OptimizerSpec& optimizer) {
  switch (optimizer.kind) {
    case Optimizer::kSgd:
      return {0.0f};
    case Optimizer::kAdagrad:
      return {0.0f, optimizer.adagrad.initial_accumulator_value};
    case Optimizer::kAdagradMomentum:
      return {0.0f, 0.0f, 0.0f};
    case Optimizer::kAdam:
      return {0.0f, 0.0f, 0.0f};
    case Optimizer::kFtrl:
      return {0.0f, optimizer.ftrl.initial_accumulator_value, 0.0f};
  }
  return {};
}

int64_t ActivationSize(const ModelSpec& model, int feature) {
  const FeatureSpec& f = model.features[feature];
  const int64_t positions = f.max_sequence_length > 0 ? f.max_sequence_length : 1;
  return f.input_rows * positions * model.tables[f.table].dim;
}

ScalarReference::ScalarReference(ModelSpec model) : model_(std::move(model)) {
  slots_.resize(model_.tables.size());
  for (size_t t = 0; t < model_.tables.size(); ++t) {
    const TableSpec& table = model_.tables[t];
    for (float initial : SlotInitialValues(table.optimizer)) {
      slots_[t].emplace_back(static_cast<size_t>(table.vocabulary_size * table.dim), initial);
    }
  }
}

float Quantize(const QuantizationSpec& spec, float x) {
  const float clamped = Clamp(x, spec.lower, spec.upper);
  const float step = (spec.upper - spec.lower) / static_cast<float>(spec.num_buckets - 1);
  return std::floor((clamped - spec.lower) / step + 0.5f) * step + spec.lower;
}

Activations ScalarReference::Lookup(const ReplicaBatch& batch) const {
  assert(batch.size() == model_.features.size());
  Activations activations(model_.features.size());
  for (size_t f = 0; f < model_.features.size(); ++f) {
    const FeatureSpec& feature = model_.features[f];
    const TableSpec& table = model_.tables[feature.table];
    const std::vector<float>& stored = slots_[feature.table][0];
    // The rows as the lookup sees them: quantized when the table says so (§4.7).
    std::vector<float> quantized;
    const QuantizationSpec quantization = model_.QuantizationOf(feature.table);
    if (quantization.num_buckets > 0) {
      quantized.reserve(stored.size());
      for (float x : stored) quantized.push_back(Quantize(quantization, x));
    }
    const std::vector<float>& params = quantized.empty() ? stored : quantized;
    const FeatureBatch& input = batch[f];
    const int64_t dim = table.dim;
    std::vector<float>& out = activations[f];
    out.assign(static_cast<size_t>(ActivationSize(model_, static_cast<int>(f))), 0.0f);
    const float* weights = input.weights.empty() ? nullptr : input.weights.data();
    for (int64_t b = 0; b < feature.input_rows; ++b) {
      const auto [begin, end] = RowRange(input, b);
      if (feature.max_sequence_length > 0) {
        for (int64_t p = 0; p < end - begin; ++p) {
          const int64_t position = PositionOf(input, begin + p, p);
          if (position >= feature.max_sequence_length) continue;  // dropped
          const int64_t id = input.ids[begin + p];
          float* dst = &out[(b * feature.max_sequence_length + position) * dim];
          for (int64_t d = 0; d < dim; ++d) dst[d] = params[id * dim + d];
        }
        continue;
      }
      const std::vector<float> gains = BagGains(table.combiner, weights, begin, end);
      float* dst = &out[b * dim];
      for (int64_t d = 0; d < dim; ++d) {
        float sum = 0.0f;
        for (int64_t k = begin; k < end; ++k) {
          sum = sum + gains[k - begin] * params[input.ids[k] * dim + d];
        }
        dst[d] = sum;
      }
    }
  }
  return activations;
}

template <typename Visit>
void ScalarReference::ForEachOccurrence(const ReplicaBatch& batch, const Gradients& gradients,
                                        Visit&& visit) const {
  for (size_t f = 0; f < model_.features.size(); ++f) {
    const FeatureSpec& feature = model_.features[f];
    const TableSpec& table = model_.tables[feature.table];
    const FeatureBatch& input = batch[f];
    const float* grad = gradients[f].empty() ? nullptr : gradients[f].data();
    const float* weights = input.weights.empty() ? nullptr : input.weights.data();
    const int64_t dim = table.dim;
    for (int64_t b = 0; b < feature.input_rows; ++b) {
      const auto [begin, end] = RowRange(input, b);
      if (feature.max_sequence_length > 0) {
        for (int64_t p = 0; p < end - begin; ++p) {
          const int64_t position = PositionOf(input, begin + p, p);
          if (position >= feature.max_sequence_length) continue;  // dropped
          const float* g = grad == nullptr
                               ? nullptr
                               : grad + (b * feature.max_sequence_length + position) * dim;
          visit(static_cast<int>(f), Occurrence{input.ids[begin + p], 1.0f, g});
        }
        continue;
      }
      const std::vector<float> gains = BagGains(table.combiner, weights, begin, end);
      const float* g = grad == nullptr ? nullptr : grad + b * dim;
      for (int64_t k = begin; k < end; ++k) {
        visit(static_cast<int>(f), Occurrence{input.ids[k], gains[k - begin], g});
      }
    }
  }
}

void ScalarReference::ApplyGradients(const std::vector<ReplicaBatch>& batches,
                                     const std::vector<Gradients>& gradients,
                                     const std::vector<float>& learning_rates) {
  assert(batches.size() == gradients.size());
  const size_t num_tables = model_.tables.size();
  std::vector<float> rates(num_tables);
  for (size_t t = 0; t < num_tables; ++t) {
    const OptimizerSpec& opt = model_.tables[t].optimizer;
    rates[t] = opt.learning_rate_tag >= 0 ? learning_rates.at(opt.learning_rate_tag)
                                          : opt.learning_rate;
  }

  // Tables without accumulation: every occurrence is an update, in canonical order.
  for (size_t r = 0; r < batches.size(); ++r) {
    ForEachOccurrence(batches[r], gradients[r], [&](int f, const Occurrence& o) {
      const int t = model_.features[f].table;
      if (model_.tables[t].optimizer.use_gradient_accumulation) return;
      const int dim = model_.tables[t].dim;
      std::vector<float> g(dim, 0.0f);
      if (o.gradient != nullptr) {
        for (int d = 0; d < dim; ++d) g[d] = o.gain * o.gradient[d];
      }
      UpdateRow(t, o.row, std::move(g), rates[t]);
    });
  }

  // Tables with accumulation: per-replica sums, then the sum over replicas in order.
  std::vector<std::map<int64_t, std::vector<float>>> step_sums(num_tables);
  for (size_t r = 0; r < batches.size(); ++r) {
    std::vector<std::map<int64_t, std::vector<float>>> replica_sums(num_tables);
    ForEachOccurrence(batches[r], gradients[r], [&](int f, const Occurrence& o) {
      const int t = model_.features[f].table;
      if (!model_.tables[t].optimizer.use_gradient_accumulation) return;
      const int dim = model_.tables[t].dim;
      auto [it, inserted] = replica_sums[t].try_emplace(o.row, dim, 0.0f);
      if (o.gradient == nullptr) return;  // a zero gradient: touched, nothing to add
      std::vector<float>& sum = it->second;
      for (int d = 0; d < dim; ++d) sum[d] = sum[d] + o.gain * o.gradient[d];
    });
    for (size_t t = 0; t < num_tables; ++t) {
      const int dim = model_.tables[t].dim;
      for (const auto& [row, sum] : replica_sums[t]) {
        auto [it, inserted] = step_sums[t].try_emplace(row, dim, 0.0f);
        for (int d = 0; d < dim; ++d) it->second[d] = it->second[d] + sum[d];
      }
    }
  }
  for (size_t t = 0; t < num_tables; ++t) {
    const TableSpec& table = model_.tables[t];
    if (!table.optimizer.use_gradient_accumulation) continue;
    const bool every_row =
        table.optimizer.kind == Optimizer::kAdam && !table.optimizer.adam.lazy_adam;
    if (every_row) {
      for (int64_t row = 0; row < table.vocabulary_size; ++row) {
        auto it = step_sums[t].find(row);
        UpdateRow(static_cast<int>(t), row,
                  it == step_sums[t].end() ? std::vector<float>(table.dim, 0.0f) : it->second,
                  rates[t]);
      }
    } else {
      for (auto& [row, g] : step_sums[t]) {
        UpdateRow(static_cast<int>(t), row, std::move(g), rates[t]);
      }
    }
  }
}

void ScalarReference::UpdateRow(int t, int64_t row, std::vector<float> g, float lr) {
  const TableSpec& table = model_.tables[t];
  const OptimizerSpec& opt = table.optimizer;
  const int dim = table.dim;
  std::vector<std::vector<float>>& slots = slots_[t];
  float* w = &slots[0][row * dim];

  // 1. Gradient clipping (MATH.md §3.0).
  for (int d = 0; d < dim; ++d) g[d] = Clamp(g[d], opt.clip_gradient_min, opt.clip_gradient_max);

  // 2. Decoupled weight decay (MATH.md §3.0).
  if (opt.weight_decay_factor != 0.0f) {
    const float decay = opt.multiply_weight_decay_factor_by_learning_rate
                            ? opt.weight_decay_factor * lr
                            : opt.weight_decay_factor;
    for (int d = 0; d < dim; ++d) w[d] = w[d] - decay * w[d];
  }

  // 3. The optimizer (§3.1–3.5).
  switch (opt.kind) {
    case Optimizer::kSgd:
      for (int d = 0; d < dim; ++d) w[d] = w[d] - lr * g[d];
      break;
    case Optimizer::kAdagrad: {
      float* a = &slots[1][row * dim];
      for (int d = 0; d < dim; ++d) {
        a[d] = a[d] + g[d] * g[d];
        w[d] = w[d] - lr * g[d] / std::sqrt(a[d]);
      }
      break;
    }
    case Optimizer::kAdagradMomentum: {
      const AdagradMomentumOptions& o = opt.adagrad_momentum;
      float* a = &slots[1][row * dim];
      float* m = &slots[2][row * dim];
      const float power = -1.0f / o.exponent;
      for (int d = 0; d < dim; ++d) {
        if (o.beta2 == 1.0f) {
          a[d] = a[d] + g[d] * g[d];
        } else {
          a[d] = o.beta2 * a[d] + (1.0f - o.beta2) * g[d] * g[d];
        }
        const float scaled = std::pow(a[d] + o.epsilon, power) * g[d];
        m[d] = o.momentum * m[d] + scaled;
        const float update = o.use_nesterov ? o.momentum * m[d] + scaled : m[d];
        w[d] = w[d] - lr * update;
      }
      break;
    }
    case Optimizer::kAdam: {
      const AdamOptions& o = opt.adam;
      float* m = &slots[1][row * dim];
      float* v = &slots[2][row * dim];
      for (int d = 0; d < dim; ++d) {
        m[d] = o.beta_1 * m[d] + (1.0f - o.beta_1) * g[d];
        v[d] = o.beta_2 * v[d] + (1.0f - o.beta_2) * g[d] * g[d];
        if (o.sum_inside_sqrt) {
          w[d] = w[d] - lr * m[d] / std::sqrt(v[d] + o.epsilon * o.epsilon);
        } else {
          w[d] = w[d] - lr * m[d] / (std::sqrt(v[d]) + o.epsilon);
        }
      }
      break;
    }
    case Optimizer::kFtrl: {
      const FtrlOptions& o = opt.ftrl;
      float* a = &slots[1][row * dim];
      float* lin = &slots[2][row * dim];
      const float p = -o.learning_rate_power;
      const float eta = lr;
      const float l1 = o.l1_regularization_strength;
      const float l2 = o.l2_regularization_strength;
      for (int d = 0; d < dim; ++d) {
        const float a_new = a[d] + g[d] * g[d];
        const float a_new_p = std::pow(a_new, p);
        const float delta_sigma = a_new_p - std::pow(a[d], p);
        float numerator;
        float denominator;
        if (!o.multiply_linear_by_learning_rate) {
          lin[d] = lin[d] + g[d] - delta_sigma * w[d] / eta;
          numerator = l1 == 0.0f ? -lin[d] : Clamp(lin[d], -l1, l1) - lin[d];
          denominator = (a_new_p + o.beta) / eta + 2.0f * l2;
        } else {
          lin[d] = lin[d] + eta * g[d] - delta_sigma * w[d];
          numerator = l1 == 0.0f ? -lin[d] : Clamp(lin[d], -eta * l1, eta * l1) - lin[d];
          denominator = a_new_p + 2.0f * eta * l2 + o.beta;
        }
        w[d] = numerator / denominator;
        a[d] = a_new;
      }
      break;
    }
  }

  // 4. Weight clipping after the update (MATH.md §3.0).
  for (int d = 0; d < dim; ++d) w[d] = Clamp(w[d], opt.clip_weight_min, opt.clip_weight_max);
}

}  // namespace reference
}  // namespace embrt
