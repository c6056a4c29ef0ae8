// Copyright embrt authors.
//
// File: tools/training/factorization_machine.h
// --------------------------------------------
// The host half of a factorization machine whose parameters live in embrt tables.
//
// Each field f of an example looks up one row e_f of its table (dim = k + 1). The first k
// columns are the factor vector v_f, the LAST column is the field's linear weight w_f (so one
// table per field carries both; a dim-1 table per field would double the lookups). The score:
//
//   y = b + sum_f w_f + sum_{f<g} <v_f, v_g>
//     = b + sum_f e_f[k] + 1/2 sum_d ((sum_f e_f[d])^2 - sum_f e_f[d]^2)
//
//   dy/de_f[d] = (sum_g e_g[d]) - e_f[d]   for d < k,     dy/de_f[k] = 1,     dy/db = 1.
//
// Biased matrix factorization is the two-field case: y = mu + b_u + b_i + <v_u, v_i> with
// b = mu (the global mean), e_user = [v_u, b_u], e_item = [v_i, b_i].
//
// Losses: logistic for 0/1 clicks (the score is a logit), squared error for ratings. The batch
// loss is the mean over the batch, so gradients are divided by the batch size.
//
// The global bias b is the only dense parameter; HostOptimizer updates it on the host.
//
// Thread safety: stateless apart from its shape; const methods may run concurrently.

#ifndef EMBRT_TOOLS_TRAINING_FACTORIZATION_MACHINE_H_
#define EMBRT_TOOLS_TRAINING_FACTORIZATION_MACHINE_H_

#include <cstdint>
#include <vector>

#include "absl/types/span.h"

namespace embrt {
namespace training {

enum class Loss { kLogistic, kSquared };

// Loss of one example and its derivative with respect to the score.
struct LossValue {
  double loss;
  double gradient;  // d loss / d score
};
LossValue ComputeLoss(Loss loss, double score, double label);

// The prediction shown to people and metrics: sigmoid(score) for logistic, score otherwise.
double Predict(Loss loss, double score);

class FactorizationMachine {
 public:
  // `embedding_dim` = k + 1 >= 1 (k = 0: a linear model).
  FactorizationMachine(int num_fields, int embedding_dim)
      : num_fields_(num_fields), dim_(embedding_dim) {}

  int num_fields() const { return num_fields_; }
  int embedding_dim() const { return dim_; }

  // activations[f] is [batch, dim] row-major (embrt's activation buffer of field f).
  // Writes batch scores.
  void Forward(absl::Span<const absl::Span<const float>> activations, int batch, float bias,
               absl::Span<float> scores) const;

  // Given d loss / d score per example, writes d loss / d activation into gradients[f]
  // ([batch, dim] each) and returns d loss / d bias (the sum over the batch).
  double Backward(absl::Span<const absl::Span<const float>> activations, int batch,
                  absl::Span<const float> score_gradients,
                  absl::Span<const absl::Span<float>> gradients) const;

 private:
  int num_fields_;
  int dim_;
};

// SGD or Adagrad for the host's dense parameters (the global bias).
class HostOptimizer {
 public:
  enum class Kind { kSgd, kAdagrad };
  HostOptimizer(Kind kind, float learning_rate, float initial_accumulator = 0.1f)
      : kind_(kind), learning_rate_(learning_rate), accumulator_(initial_accumulator) {}

  void Apply(float gradient, float& parameter);

  float accumulator() const { return accumulator_; }
  void set_accumulator(float value) { accumulator_ = value; }

 private:
  Kind kind_;
  float learning_rate_;
  float accumulator_;
};

}  // namespace training
}  // namespace embrt

#endif  // EMBRT_TOOLS_TRAINING_FACTORIZATION_MACHINE_H_
