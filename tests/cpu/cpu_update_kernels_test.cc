// Copyright embrt authors.
//
// The update kernels (plugins/cpu/update.h) and the pair sort under them (RowRefs, backward.h):
//   - RowRefs::Sort is a stable sort by row (against std::stable_sort), buffers reused;
//   - ApplySortedRefUpdates (gradients and gains found from refs, sums in registers, fused
//     Adagrad) leaves every slot with the same bits as the Contribution path (OwnedRows +
//     ApplyOwnedUpdates), for every optimizer, dims with and without a specialization (below
//     16: compiled per dim; 16, 32, 64, 128: vector registers; others: the generic loop),
//     accumulation on and off, one and two replicas, unit and other gains, and zero (null)
//     gradients.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <utility>
#include <vector>

#include "backward.h"
#include "gtest/gtest.h"
#include "optimizers.h"
#include "tables.h"
#include "update.h"

namespace embrt {
namespace cpu {
namespace {

TEST(CpuUpdateKernelsTest, RowRefsSortIsAStableSortByRow) {
  std::mt19937 random(5);
  RowRefs refs;
  for (int64_t table_rows : {int64_t{1}, int64_t{300}, int64_t{1} << 23, int64_t{1} << 32}) {
    for (size_t count : {0, 1, 7, 32, 33, 5000}) {
      std::vector<std::pair<uint32_t, uint32_t>> expected;
      refs.Clear();
      for (size_t i = 0; i < count; ++i) {
        // Few distinct rows, so that many pairs share one and stability matters.
        const uint32_t row =
            static_cast<uint32_t>((random() % 50) * static_cast<uint64_t>(table_rows - 1) / 49);
        const uint32_t ref = static_cast<uint32_t>(random());
        refs.Append(row, ref);
        expected.emplace_back(row, ref);
      }
      std::stable_sort(expected.begin(), expected.end(),
                       [](const auto& a, const auto& b) { return a.first < b.first; });
      refs.Sort(refs.size(), table_rows);
      ASSERT_EQ(refs.size(), count);
      for (size_t i = 0; i < count; ++i) {
        ASSERT_EQ(RowRefs::Row(refs.pairs()[i]), expected[i].first)
            << "rows " << table_rows << " count " << count << " at " << i;
        ASSERT_EQ(RowRefs::Ref(refs.pairs()[i]), expected[i].second)
            << "rows " << table_rows << " count " << count << " at " << i;
      }
    }
  }
}

std::vector<OptimizerSettings> Variants() {
  std::vector<OptimizerSettings> out;
  for (EMBRT_OptimizerKind kind :
       {EMBRT_OPTIMIZER_SGD, EMBRT_OPTIMIZER_ADAGRAD, EMBRT_OPTIMIZER_ADAGRAD_MOMENTUM,
        EMBRT_OPTIMIZER_ADAM, EMBRT_OPTIMIZER_FTRL}) {
    for (int extras = 0; extras < 2; ++extras) {
      OptimizerSettings s;
      s.kind = kind;
      s.learning_rate = 0.05f;
      // Adagrad without clipping or decay is the fused path; with them, the general one.
      s.clip_weight_min = extras ? -0.9f : -INFINITY;
      s.clip_weight_max = extras ? 0.75f : INFINITY;
      s.clip_gradient_min = extras ? -0.5f : -INFINITY;
      s.clip_gradient_max = extras ? 0.5f : INFINITY;
      s.weight_decay_factor = extras ? 0.01f : 0.0f;
      s.momentum = 0.9f;
      s.l2_regularization_strength = 0.02f;
      s.beta = 0.1f;
      out.push_back(s);
    }
  }
  return out;
}

// A step of contributions over (replica, feature) groups of `slots` gradient rows each; group g
// is replica g / groups_per_replica.
struct RefStep {
  std::vector<std::vector<float>> gradients;  // per group; empty = null (zero gradient)
  std::vector<std::vector<float>> gains;      // per group, per slot; empty = every gain 1
  std::vector<const float*> bases;
  std::vector<const float*> gain_bases;
  std::vector<int32_t> group_replica;
  std::vector<std::pair<uint32_t, uint32_t>> contributions;  // (row, ref) in canonical order
  int slot_bits = 0;
};

RefStep MakeStep(std::mt19937& random, int64_t table_rows, int32_t dim, int replicas) {
  RefStep step;
  const int groups_per_replica = 2;
  const int slots = 37;
  step.slot_bits = 6;
  std::uniform_real_distribution<float> value(-1.0f, 1.0f);
  for (int g = 0; g < replicas * groups_per_replica; ++g) {
    std::vector<float> gradient;
    if (random() % 5 != 0) {
      gradient.resize(static_cast<size_t>(slots) * dim);
      for (float& x : gradient) x = value(random);
    }
    std::vector<float> gains;
    if (random() % 2 == 0) {
      for (int slot = 0; slot < slots; ++slot) gains.push_back(2.0f * value(random));
    }
    step.gradients.push_back(std::move(gradient));
    step.gains.push_back(std::move(gains));
    step.group_replica.push_back(g / groups_per_replica);
  }
  for (size_t g = 0; g < step.gradients.size(); ++g) {
    step.bases.push_back(step.gradients[g].empty() ? nullptr : step.gradients[g].data());
    step.gain_bases.push_back(step.gains[g].empty() ? nullptr : step.gains[g].data());
  }
  // Canonical order: refs ascend (group-major, then slot); rows repeat.
  for (int g = 0; g < replicas * groups_per_replica; ++g) {
    for (int slot = 0; slot < slots; ++slot) {
      for (int k = static_cast<int>(random() % 3); k > 0; --k) {
        const uint32_t row = static_cast<uint32_t>(random() % std::min<int64_t>(table_rows, 23));
        step.contributions.emplace_back(row, static_cast<uint32_t>(g) << step.slot_bits | slot);
      }
    }
  }
  return step;
}

void FillSlots(std::mt19937& random, const OptimizerSettings& s, TableShard* shard) {
  std::uniform_real_distribution<float> value(-1.0f, 1.0f), positive(0.01f, 2.0f);
  const size_t n = static_cast<size_t>(shard->rows()) * shard->dim();
  for (int slot = 0; slot < shard->num_slots(); ++slot) {
    const bool must_be_positive = slot == 1 || (slot == 2 && s.kind == EMBRT_OPTIMIZER_ADAM);
    for (size_t i = 0; i < n; ++i) {
      shard->slot(slot)[i] = must_be_positive ? positive(random) : value(random);
    }
  }
}

TEST(CpuUpdateKernelsTest, SortedRefUpdatesMatchTheContributionPathBitForBit) {
  std::mt19937 random(23);
  const int64_t table_rows = 40;
  int cases = 0;
  for (const OptimizerSettings& settings : Variants()) {
    const PreparedUpdate update = PrepareUpdate(settings, 0.05f);
    const int num_slots = sdk::SlotCount(settings.kind);
    for (int32_t dim : {1, 7, 9, 15, 16, 17, 32, 64, 100, 128}) {
      for (bool accumulate : {true, false}) {
        for (int replicas : {1, 2}) {
          const RefStep step = MakeStep(random, table_rows, dim, replicas);
          TableShard expected(table_rows, dim, num_slots), actual(table_rows, dim, num_slots);
          FillSlots(random, settings, &expected);
          for (int s = 0; s < num_slots; ++s) {
            std::memcpy(actual.slot(s), expected.slot(s),
                        sizeof(float) * table_rows * static_cast<size_t>(dim));
          }
          // The Contribution path: gain 1, gradient pointer and replica spelled out.
          OwnedRows owned;
          RowRefs pairs;
          for (const auto& [row, ref] : step.contributions) {
            const int group = static_cast<int>(ref >> step.slot_bits);
            const uint32_t slot = ref & ((1u << step.slot_bits) - 1);
            const float* g = step.bases[group] == nullptr
                                 ? nullptr
                                 : step.bases[group] + static_cast<size_t>(slot) * dim;
            const float gain = step.gains[group].empty() ? 1.0f : step.gains[group][slot];
            owned.Add(row, g, gain, step.group_replica[group]);
            pairs.Append(row, ref);
          }
          owned.Finish(table_rows);
          std::vector<float> scratch(2 * dim);
          ApplyOwnedUpdates(owned, update, accumulate, &expected, scratch.data());
          pairs.Sort(pairs.size(), table_rows);
          const GradientRefs refs{step.bases.data(), step.gain_bases.data(),
                                  step.group_replica.data(), step.slot_bits, replicas == 1};
          ApplySortedRefUpdates(pairs.pairs(), pairs.size(), refs, update, accumulate, &actual,
                                scratch.data());
          for (int s = 0; s < num_slots; ++s) {
            EXPECT_EQ(std::memcmp(actual.slot(s), expected.slot(s),
                                  sizeof(float) * table_rows * static_cast<size_t>(dim)),
                      0)
                << "optimizer " << settings.kind << ", dim " << dim << ", accumulate " << accumulate
                << ", replicas " << replicas << ", slot " << s;
          }
          ++cases;
        }
      }
    }
  }
  EXPECT_EQ(cases, 10 * 10 * 2 * 2);
}

}  // namespace
}  // namespace cpu
}  // namespace embrt
