// Copyright embrt authors.

#include "optimizers.h"

#include <algorithm>
#include <cmath>

#include "vector_ops.h"

namespace embrt {
namespace cpu {
namespace {

inline float Clamp(float x, float low, float high) { return std::min(std::max(x, low), high); }

bool IsBoolean(float v) { return v == 0.0f || v == 1.0f; }

}  // namespace

sdk::Status ParseOptimizer(const sdk::OptimizerConfig& config, const std::string& table,
                           int32_t num_learning_rate_tags, OptimizerSettings* settings) {
  OptimizerSettings s;
  s.kind = config.kind;
  if (s.kind < EMBRT_OPTIMIZER_SGD || s.kind > EMBRT_OPTIMIZER_FTRL) {
    return sdk::Status::Unimplemented("table '" + table + "': optimizer kind " +
                                      std::to_string(s.kind) + " is not supported by cpu");
  }
  s.learning_rate = config.learning_rate;
  s.learning_rate_tag = config.learning_rate_tag;
  if (s.learning_rate_tag >= num_learning_rate_tags) {
    return sdk::Status::InvalidArgument(
        "table '" + table + "': learning_rate_tag " + std::to_string(s.learning_rate_tag) +
        " is not below num_learning_rate_tags " + std::to_string(num_learning_rate_tags));
  }
  s.use_gradient_accumulation = config.use_gradient_accumulation;
  s.clip_weight_min = config.clip_weight_min;
  s.clip_weight_max = config.clip_weight_max;
  s.clip_gradient_min = config.clip_gradient_min;
  s.clip_gradient_max = config.clip_gradient_max;
  if (!(s.clip_weight_min <= s.clip_weight_max) || !(s.clip_gradient_min <= s.clip_gradient_max)) {
    return sdk::Status::InvalidArgument("table '" + table +
                                        "': a clipping minimum is above its maximum (or NaN)");
  }
  s.weight_decay_factor = config.weight_decay_factor;
  s.multiply_weight_decay_factor_by_learning_rate =
      config.multiply_weight_decay_factor_by_learning_rate;
  auto hp = [&](const char* name, float fallback) { return config.Hyperparameter(name, fallback); };
  s.momentum = hp("momentum", 0.0f);
  s.use_nesterov = hp("use_nesterov", 0.0f) != 0.0f;
  s.exponent = hp("exponent", 2.0f);
  s.beta2 = hp("beta2", 1.0f);
  s.epsilon = hp("epsilon", s.kind == EMBRT_OPTIMIZER_ADAM ? 1e-7f : 1e-10f);
  s.beta_1 = hp("beta_1", 0.9f);
  s.beta_2 = hp("beta_2", 0.999f);
  s.adam_epsilon = s.kind == EMBRT_OPTIMIZER_ADAM ? s.epsilon : 1e-7f;
  s.lazy_adam = hp("lazy_adam", 1.0f) != 0.0f;
  s.sum_inside_sqrt = hp("sum_inside_sqrt", 1.0f) != 0.0f;
  s.learning_rate_power = hp("learning_rate_power", -0.5f);
  s.l1_regularization_strength = hp("l1_regularization_strength", 0.0f);
  s.l2_regularization_strength = hp("l2_regularization_strength", 0.0f);
  s.beta = hp("beta", 0.0f);
  s.multiply_linear_by_learning_rate = hp("multiply_linear_by_learning_rate", 0.0f) != 0.0f;
  if (s.kind == EMBRT_OPTIMIZER_ADAM && !s.lazy_adam && !s.use_gradient_accumulation) {
    return sdk::Status::InvalidArgument("table '" + table +
                                        "': non-lazy Adam needs gradient accumulation");
  }
  if (s.kind == EMBRT_OPTIMIZER_ADAGRAD_MOMENTUM && !(s.exponent > 0.0f)) {
    return sdk::Status::InvalidArgument("table '" + table + "': exponent must be > 0, got " +
                                        std::to_string(s.exponent));
  }
  if (!IsBoolean(hp("use_nesterov", 0.0f)) || !IsBoolean(hp("lazy_adam", 1.0f)) ||
      !IsBoolean(hp("sum_inside_sqrt", 1.0f)) ||
      !IsBoolean(hp("multiply_linear_by_learning_rate", 0.0f))) {
    return sdk::Status::InvalidArgument("table '" + table +
                                        "': a boolean hyperparameter is not 0/1");
  }
  *settings = s;
  return sdk::Status();
}

PreparedUpdate PrepareUpdate(const OptimizerSettings& s, float lr) {
  PreparedUpdate u;
  u.settings = &s;
  u.lr = lr;
  u.clip_gradients = std::isfinite(s.clip_gradient_min) || std::isfinite(s.clip_gradient_max);
  u.clip_weights = std::isfinite(s.clip_weight_min) || std::isfinite(s.clip_weight_max);
  u.decay = s.weight_decay_factor == 0.0f
                ? 0.0f
                : (s.multiply_weight_decay_factor_by_learning_rate ? s.weight_decay_factor * lr
                                                                   : s.weight_decay_factor);
  u.one_minus_beta_1 = 1.0f - s.beta_1;
  u.one_minus_beta_2 = 1.0f - s.beta_2;
  u.one_minus_beta2 = 1.0f - s.beta2;
  u.negative_inverse_exponent = -1.0f / s.exponent;
  u.ftrl_power = -s.learning_rate_power;
  u.epsilon_squared = s.adam_epsilon * s.adam_epsilon;
  return u;
}

namespace {

// One helper per step of the update. Arguments are restrict pointers and scalars by value, so
// the compiler knows nothing aliases and vectorizes each loop across dim.
inline void ClipRow(int32_t dim, float low, float high, float* __restrict x) {
  for (int32_t d = 0; d < dim; ++d) x[d] = Clamp(x[d], low, high);
}

inline void DecayRow(int32_t dim, float decay, float* __restrict w) {
  for (int32_t d = 0; d < dim; ++d) w[d] = w[d] - decay * w[d];
}

inline void SgdRow(int32_t dim, float lr, const float* __restrict g, float* __restrict w) {
  for (int32_t d = 0; d < dim; ++d) w[d] = w[d] - lr * g[d];
}

inline void AdagradRow(int32_t dim, float lr, const float* __restrict g, float* __restrict w,
                       float* __restrict a) {
  for (int32_t d = 0; d < dim; ++d) {
    a[d] = a[d] + g[d] * g[d];
    w[d] = w[d] - lr * g[d] / std::sqrt(a[d]);
  }
}

inline void AdagradMomentumRow(int32_t dim, float lr, float beta2, float one_minus_beta2,
                               float epsilon, float negative_inverse_exponent, float momentum,
                               bool use_nesterov, const float* __restrict g, float* __restrict w,
                               float* __restrict a, float* __restrict m) {
  for (int32_t d = 0; d < dim; ++d) {
    a[d] = beta2 == 1.0f ? a[d] + g[d] * g[d] : beta2 * a[d] + one_minus_beta2 * g[d] * g[d];
    const float scaled = std::pow(a[d] + epsilon, negative_inverse_exponent) * g[d];
    m[d] = momentum * m[d] + scaled;
    const float step = use_nesterov ? momentum * m[d] + scaled : m[d];
    w[d] = w[d] - lr * step;
  }
}

inline void AdamSumInsideSqrtRow(int32_t dim, float lr, float beta_1, float one_minus_beta_1,
                                 float beta_2, float one_minus_beta_2, float epsilon_squared,
                                 const float* __restrict g, float* __restrict w,
                                 float* __restrict m, float* __restrict v) {
  for (int32_t d = 0; d < dim; ++d) {
    m[d] = beta_1 * m[d] + one_minus_beta_1 * g[d];
    v[d] = beta_2 * v[d] + one_minus_beta_2 * g[d] * g[d];
    w[d] = w[d] - lr * m[d] / std::sqrt(v[d] + epsilon_squared);
  }
}

inline void AdamRow(int32_t dim, float lr, float beta_1, float one_minus_beta_1, float beta_2,
                    float one_minus_beta_2, float epsilon, const float* __restrict g,
                    float* __restrict w, float* __restrict m, float* __restrict v) {
  for (int32_t d = 0; d < dim; ++d) {
    m[d] = beta_1 * m[d] + one_minus_beta_1 * g[d];
    v[d] = beta_2 * v[d] + one_minus_beta_2 * g[d] * g[d];
    w[d] = w[d] - lr * m[d] / (std::sqrt(v[d]) + epsilon);
  }
}

inline void FtrlRow(int32_t dim, float lr, float p, float l1, float l2, float beta,
                    bool multiply_linear_by_learning_rate, const float* __restrict g,
                    float* __restrict w, float* __restrict a, float* __restrict lin) {
  for (int32_t d = 0; d < dim; ++d) {
    const float a_new = a[d] + g[d] * g[d];
    const float power_new = std::pow(a_new, p);
    const float delta = power_new - std::pow(a[d], p);
    float numerator, denominator;
    if (!multiply_linear_by_learning_rate) {
      lin[d] = lin[d] + g[d] - delta * w[d] / lr;
      numerator = l1 == 0.0f ? -lin[d] : Clamp(lin[d], -l1, l1) - lin[d];
      denominator = (power_new + beta) / lr + 2.0f * l2;
    } else {
      lin[d] = lin[d] + lr * g[d] - delta * w[d];
      numerator = l1 == 0.0f ? -lin[d] : Clamp(lin[d], -lr * l1, lr * l1) - lin[d];
      denominator = power_new + 2.0f * lr * l2 + beta;
    }
    w[d] = numerator / denominator;
    a[d] = a_new;
  }
}

}  // namespace

namespace {

// The update of one row; kDim > 0 fixes the dim at compile time (every row loop then has a
// constant trip count), kDim = 0 takes `runtime_dim`. The same operations either way.
template <int kDim>
__attribute__((always_inline)) inline void ApplyRowUpdateBody(const PreparedUpdate& u,
                                                              int32_t runtime_dim, float* g,
                                                              float* const* slots) {
  const int32_t dim = kDim > 0 ? kDim : runtime_dim;
  const OptimizerSettings& s = *u.settings;
  float* w = slots[0];
  if (u.clip_gradients) ClipRow(dim, s.clip_gradient_min, s.clip_gradient_max, g);
  if (u.decay != 0.0f) DecayRow(dim, u.decay, w);
  switch (s.kind) {
    case EMBRT_OPTIMIZER_SGD:
      SgdRow(dim, u.lr, g, w);
      break;
    case EMBRT_OPTIMIZER_ADAGRAD:
      AdagradRow(dim, u.lr, g, w, slots[1]);
      break;
    case EMBRT_OPTIMIZER_ADAGRAD_MOMENTUM:
      AdagradMomentumRow(dim, u.lr, s.beta2, u.one_minus_beta2, s.epsilon,
                         u.negative_inverse_exponent, s.momentum, s.use_nesterov, g, w, slots[1],
                         slots[2]);
      break;
    case EMBRT_OPTIMIZER_ADAM:
      if (s.sum_inside_sqrt) {
        AdamSumInsideSqrtRow(dim, u.lr, s.beta_1, u.one_minus_beta_1, s.beta_2, u.one_minus_beta_2,
                             u.epsilon_squared, g, w, slots[1], slots[2]);
      } else {
        AdamRow(dim, u.lr, s.beta_1, u.one_minus_beta_1, s.beta_2, u.one_minus_beta_2,
                s.adam_epsilon, g, w, slots[1], slots[2]);
      }
      break;
    case EMBRT_OPTIMIZER_FTRL:
      FtrlRow(dim, u.lr, u.ftrl_power, s.l1_regularization_strength, s.l2_regularization_strength,
              s.beta, s.multiply_linear_by_learning_rate, g, w, slots[1], slots[2]);
      break;
    default:
      break;
  }
  if (u.clip_weights) ClipRow(dim, s.clip_weight_min, s.clip_weight_max, w);
}

#define EMBRT_CPU_UPDATE_FIXED(d)                                                         \
  EMBRT_CPU_MULTIVERSION void ApplyRowUpdate##d(const PreparedUpdate& u, float* g,          \
                                                float* const* slots) {                      \
    ApplyRowUpdateBody<d>(u, d, g, slots);                                                  \
  }
EMBRT_CPU_UPDATE_FIXED(16)
EMBRT_CPU_UPDATE_FIXED(32)
EMBRT_CPU_UPDATE_FIXED(64)
EMBRT_CPU_UPDATE_FIXED(128)
#undef EMBRT_CPU_UPDATE_FIXED

}  // namespace

EMBRT_CPU_MULTIVERSION
void ApplyRowUpdateGeneric(const PreparedUpdate& u, int32_t dim, float* g, float* const* slots) {
  ApplyRowUpdateBody<0>(u, dim, g, slots);
}

void ApplyRowUpdate(const PreparedUpdate& u, int32_t dim, float* g, float* const* slots) {
  switch (dim) {
    case 16:
      return ApplyRowUpdate16(u, g, slots);
    case 32:
      return ApplyRowUpdate32(u, g, slots);
    case 64:
      return ApplyRowUpdate64(u, g, slots);
    case 128:
      return ApplyRowUpdate128(u, g, slots);
    default:
      return ApplyRowUpdateGeneric(u, dim, g, slots);
  }
}

}  // namespace cpu
}  // namespace embrt
