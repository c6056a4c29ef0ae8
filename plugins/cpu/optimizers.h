// Copyright embrt authors.
//
// File: plugins/cpu/optimizers.h
// ------------------------------
// The per-row update of every optimizer, exactly as reference/tf_semantics.md §3 writes it.
// All arithmetic is float32, evaluated left to right as written (no fused multiply-add), with
// constants computed once per step: c1 = 1 - beta_1, c2 = 1 - beta_2, e = -1 / exponent,
// p = -learning_rate_power.
//
// For one touched row with step gradient g (dim-wide, element-wise), learning rate lr:
//   g = clamp(g, clip_gradient_min, clip_gradient_max)            when either limit is set
//   w = w - (multiply_weight_decay_factor_by_learning_rate ? decay * lr : decay) * w
//                                                                  when decay != 0
//   SGD:              w = w - lr * g
//   Adagrad:          a = a + g * g;  w = w - lr * g / sqrt(a)
//   AdagradMomentum:  a = (beta2 == 1) ? a + g * g : beta2 * a + (1 - beta2) * g * g
//                     s = pow(a + epsilon, e) * g;  m = momentum * m + s
//                     w = w - lr * (use_nesterov ? momentum * m + s : m)
//   Adam:             m = beta_1 * m + c1 * g;  v = beta_2 * v + c2 * g * g
//                     w = w - lr * m / sqrt(v + epsilon * epsilon)   (sum_inside_sqrt)
//                     w = w - lr * m / (sqrt(v) + epsilon)           (otherwise)
//   FTRL:             a' = a + g * g;  delta = pow(a', p) - pow(a, p)
//                     not multiply_linear_by_learning_rate:
//                       lin = lin + g - delta * w / lr
//                       N = (l1 == 0) ? -lin : clamp(lin, -l1, l1) - lin
//                       D = (pow(a', p) + beta) / lr + 2 * l2
//                     multiply_linear_by_learning_rate:
//                       lin = lin + lr * g - delta * w
//                       N = (l1 == 0) ? -lin : clamp(lin, -lr * l1, lr * l1) - lin
//                       D = pow(a', p) + 2 * lr * l2 + beta
//                     w = N / D;  a = a'
//   w = clamp(w, clip_weight_min, clip_weight_max)                when either limit is set
//
// Thread safety: ApplyRowUpdate touches only the row it is given.

#ifndef EMBRT_PLUGINS_CPU_OPTIMIZERS_H_
#define EMBRT_PLUGINS_CPU_OPTIMIZERS_H_

#include <cstdint>
#include <string>

#include "embrt/plugin_api.h"
#include "embrt/plugin_sdk.h"

namespace embrt {
namespace cpu {

// One table's optimizer, as the core described it (TF defaults for absent hyperparameters).
struct OptimizerSettings {
  EMBRT_OptimizerKind kind = EMBRT_OPTIMIZER_SGD;
  float learning_rate = 0.0f;
  int32_t learning_rate_tag = -1;
  bool use_gradient_accumulation = true;
  float clip_weight_min = 0.0f;
  float clip_weight_max = 0.0f;
  float clip_gradient_min = 0.0f;
  float clip_gradient_max = 0.0f;
  float weight_decay_factor = 0.0f;
  bool multiply_weight_decay_factor_by_learning_rate = false;
  // AdagradMomentum
  float momentum = 0.0f;
  bool use_nesterov = false;
  float exponent = 2.0f;
  float beta2 = 1.0f;
  float epsilon = 1e-10f;
  // Adam
  float beta_1 = 0.9f;
  float beta_2 = 0.999f;
  float adam_epsilon = 1e-7f;
  bool lazy_adam = true;
  bool sum_inside_sqrt = true;
  // FTRL
  float learning_rate_power = -0.5f;
  float l1_regularization_strength = 0.0f;
  float l2_regularization_strength = 0.0f;
  float beta = 0.0f;
  bool multiply_linear_by_learning_rate = false;
};

// Reads `config` into `settings`; INVALID_ARGUMENT / UNIMPLEMENTED naming `table` on bad input.
sdk::Status ParseOptimizer(const sdk::OptimizerConfig& config, const std::string& table,
                           int32_t num_learning_rate_tags, OptimizerSettings* settings);

// Per-step constants of one table's update.
struct PreparedUpdate {
  const OptimizerSettings* settings;
  float lr;
  bool clip_gradients;
  bool clip_weights;
  float decay;  // 0: no weight decay
  float one_minus_beta_1, one_minus_beta_2, one_minus_beta2;
  float negative_inverse_exponent;
  float ftrl_power;  // p = -learning_rate_power
  float epsilon_squared;
};
PreparedUpdate PrepareUpdate(const OptimizerSettings& settings, float lr);

// Updates one row. `g` (dim floats) is clipped in place; `slots[s]` points at the row in slot s.
// Dims 16, 32, 64 and 128 run a version compiled for that dim; the others ApplyRowUpdateGeneric.
// Both do the same operations on every element.
void ApplyRowUpdate(const PreparedUpdate& update, int32_t dim, float* g, float* const* slots);
void ApplyRowUpdateGeneric(const PreparedUpdate& update, int32_t dim, float* g,
                           float* const* slots);

}  // namespace cpu
}  // namespace embrt

#endif  // EMBRT_PLUGINS_CPU_OPTIMIZERS_H_
