// Copyright embrt authors.
//
// The row update's dim specializations (plugins/cpu/optimizers.h): ApplyRowUpdate for dims 16,
// 32, 64 and 128 must give the same bits as ApplyRowUpdateGeneric, the loop every other dim runs
// (itself checked against TF's numbers and the scalar reference by cpu_optimizers_test and the
// differential tests), for every optimizer and option that changes the arithmetic.

#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "optimizers.h"

namespace embrt {
namespace cpu {
namespace {

std::vector<OptimizerSettings> Variants() {
  std::vector<OptimizerSettings> out;
  auto add = [&](EMBRT_OptimizerKind kind, auto tweak) {
    for (int extras = 0; extras < 2; ++extras) {
      OptimizerSettings s;
      s.kind = kind;
      s.learning_rate = 0.05f;
      s.clip_weight_min = -1e30f;  // finite: clipping runs (without changing much)
      s.clip_weight_max = extras ? 0.75f : 1e30f;
      s.clip_gradient_min = extras ? -0.5f : -1e30f;
      s.clip_gradient_max = 1e30f;
      s.weight_decay_factor = extras ? 0.01f : 0.0f;
      s.multiply_weight_decay_factor_by_learning_rate = extras;
      tweak(s, extras);
      out.push_back(s);
    }
  };
  add(EMBRT_OPTIMIZER_SGD, [](OptimizerSettings&, int) {});
  add(EMBRT_OPTIMIZER_ADAGRAD, [](OptimizerSettings&, int) {});
  add(EMBRT_OPTIMIZER_ADAGRAD_MOMENTUM, [](OptimizerSettings& s, int extras) {
    s.momentum = 0.9f;
    s.use_nesterov = extras;
    s.beta2 = extras ? 0.99f : 1.0f;
    s.exponent = extras ? 3.0f : 2.0f;
  });
  add(EMBRT_OPTIMIZER_ADAM, [](OptimizerSettings& s, int extras) { s.sum_inside_sqrt = extras; });
  add(EMBRT_OPTIMIZER_FTRL, [](OptimizerSettings& s, int extras) {
    s.l1_regularization_strength = extras ? 0.01f : 0.0f;
    s.l2_regularization_strength = 0.02f;
    s.beta = 0.1f;
    s.multiply_linear_by_learning_rate = extras;
  });
  return out;
}

TEST(CpuOptimizerKernelsTest, DimSpecializationsMatchTheGenericLoopBitForBit) {
  std::mt19937 random(17);
  std::uniform_real_distribution<float> value(-1.0f, 1.0f), positive(0.01f, 2.0f);
  int cases = 0;
  for (const OptimizerSettings& settings : Variants()) {
    const PreparedUpdate update = PrepareUpdate(settings, 0.05f);
    for (int32_t dim : {16, 32, 64, 128}) {
      std::vector<float> g(dim), slots(3 * dim);
      for (float& x : g) x = value(random);
      for (int32_t d = 0; d < dim; ++d) {
        slots[d] = value(random);           // parameters
        slots[dim + d] = positive(random);  // accumulators, v, FTRL's n: positive
        slots[2 * dim + d] =
            settings.kind == EMBRT_OPTIMIZER_ADAM ? positive(random) : value(random);
      }
      std::vector<float> g_generic = g, slots_generic = slots;
      float* rows[3] = {slots.data(), slots.data() + dim, slots.data() + 2 * dim};
      float* rows_generic[3] = {slots_generic.data(), slots_generic.data() + dim,
                                slots_generic.data() + 2 * dim};
      ApplyRowUpdate(update, dim, g.data(), rows);
      ApplyRowUpdateGeneric(update, dim, g_generic.data(), rows_generic);
      EXPECT_EQ(std::memcmp(slots.data(), slots_generic.data(), slots.size() * sizeof(float)), 0)
          << "optimizer " << settings.kind << ", dim " << dim;
      EXPECT_EQ(std::memcmp(g.data(), g_generic.data(), g.size() * sizeof(float)), 0)
          << "clipped gradient, optimizer " << settings.kind << ", dim " << dim;
      EXPECT_NE(slots, std::vector<float>(slots.size(), 0.0f));
      ++cases;
    }
  }
  EXPECT_EQ(cases, 5 * 2 * 4);
}

}  // namespace
}  // namespace cpu
}  // namespace embrt
