// Copyright embrt authors.
//
// Differential tests: the cpu backend (through the C ABI) against the scalar reference on
// seeded random models and batches (tests/reference/random_model.h): 1–4 tables, dims 1–130,
// vocabularies 1–1000, every combiner, weights on/off, sequence features, several features
// per table, every optimizer and option (clipping, weight decay, dynamic rates, non-lazy Adam,
// accumulation off), empty bags and duplicate ids, several steps mixing training and
// inference, R = 1 and R = 2 replicas.
//
// Tolerance: none. The cpu backend claims exact_math=1 and both sides evaluate every formula
// in float32 in the canonical order of DESIGN.md §3 (gains from the whole bag first, then a
// left-to-right sum; per-replica gradient sums in (feature, bag, position) order, then the
// replica sum in replica order; plugin_api/MATH.md §3's update formulas written left to right),
// both compiled with -ffp-contract=off and calling the same libm sqrtf/powf. So activations,
// parameters and every slot must agree bit for bit (NaN == NaN, +0 == -0); a difference of
// even one ULP is a bug on one side. Thread counts 1, 2 and 8 (backend option `threads`)
// must also give identical bits.
//
// EMBRT_DIFFERENTIAL_SEEDS (compile definition) sets the number of random cases: small for the
// default run, large for the `slow` sweep.

#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "plugin_driver.h"
#include "random_model.h"
#include "scalar_reference.h"

#ifndef EMBRT_DIFFERENTIAL_SEEDS
#define EMBRT_DIFFERENTIAL_SEEDS 40
#endif

namespace embrt {
namespace conformance {
namespace {

using reference::Activations;
using reference::Gradients;
using reference::ModelSpec;
using reference::ReplicaBatch;
using reference::ScalarReference;

// One random case: a model, its initial state and a few steps.
struct Step {
  bool training = true;
  std::vector<ReplicaBatch> batches;     // per replica
  std::vector<Gradients> gradients;      // per replica (training only)
  std::vector<float> learning_rates;
};
struct Case {
  ModelSpec model;
  std::unique_ptr<ScalarReference> initial;
  std::vector<Step> steps;
};

Case MakeCase(uint64_t seed, int replicas) {
  reference::RandomSource random(seed * 0x2545F4914F6CDD1DULL + 17);
  reference::RandomModelLimits limits;
  limits.num_replicas = replicas;
  Case c;
  c.model = reference::RandomModel(random, limits);
  c.initial = std::make_unique<ScalarReference>(c.model);
  reference::RandomizeState(random, *c.initial);
  const int steps = static_cast<int>(random.Int(2, 4));
  for (int s = 0; s < steps; ++s) {
    Step step;
    step.training = !random.Chance(0.2);
    for (int r = 0; r < replicas; ++r) {
      step.batches.push_back(reference::RandomBatch(random, c.model));
      if (step.training) step.gradients.push_back(reference::RandomGradients(random, c.model));
    }
    if (step.training) step.learning_rates = reference::RandomLearningRates(random, c.model);
    c.steps.push_back(std::move(step));
  }
  return c;
}

// Two training steps of a random model within `limits` (one batch per replica each), drawn
// from `random`; with sequence positions (ABI 1.1) when asked.
Case MakeTrainingCase(reference::RandomSource& random, const reference::RandomModelLimits& limits,
                      bool sequence_positions = false) {
  Case c;
  c.model = reference::RandomModel(random, limits);
  c.initial = std::make_unique<ScalarReference>(c.model);
  reference::RandomizeState(random, *c.initial);
  for (int s = 0; s < 2; ++s) {
    Step step;
    for (int r = 0; r < limits.num_replicas; ++r) {
      step.batches.push_back(reference::RandomBatch(random, c.model, sequence_positions));
      step.gradients.push_back(reference::RandomGradients(random, c.model));
    }
    step.learning_rates = reference::RandomLearningRates(random, c.model);
    c.steps.push_back(std::move(step));
  }
  return c;
}

// Everything observable: activations per (step, replica), then every slot of every table.
struct Outcome {
  std::vector<Activations> activations;
  std::vector<std::vector<std::vector<float>>> tables;  // [table][slot]
};

Outcome RunReference(const Case& c) {
  ScalarReference ref = *c.initial;
  Outcome out;
  for (const Step& step : c.steps) {
    for (const ReplicaBatch& batch : step.batches) out.activations.push_back(ref.Lookup(batch));
    if (step.training) ref.ApplyGradients(step.batches, step.gradients, step.learning_rates);
  }
  for (size_t t = 0; t < c.model.tables.size(); ++t) {
    out.tables.emplace_back();
    for (int s = 0; s < ref.num_slots(static_cast<int>(t)); ++s) {
      out.tables.back().push_back(ref.slot(static_cast<int>(t), s));
    }
  }
  return out;
}

// Runs the case on the plugin; returns false (with `error`) when a call fails.
bool RunPlugin(const Plugin& plugin, const Case& c, int threads, Outcome* out,
               std::string* error) {
  CallResult result;
  std::unique_ptr<Engine> engine =
      Engine::Create(plugin, c.model, &result, {{"threads", std::to_string(threads)}});
  auto fail = [&](const std::string& where) {
    *error = where + ": " + ToString(result);
    return false;
  };
  if (engine == nullptr) return fail("Engine_Create");
  if (!(result = engine->LoadState(*c.initial)).ok()) return fail("load");
  int index = 0;
  for (const Step& step : c.steps) {
    const EMBRT_Mode mode = step.training ? EMBRT_MODE_TRAINING : EMBRT_MODE_INFERENCE;
    for (size_t r = 0; r < step.batches.size(); ++r) {
      const int replica = static_cast<int>(r);
      if (!(result = engine->Enqueue(replica, mode, step.batches[r])).ok()) {
        return fail("step " + std::to_string(index) + " enqueue");
      }
      Activations a;
      if (!(result = engine->Recv(replica, &a)).ok()) return fail("recv");
      out->activations.push_back(std::move(a));
    }
    if (step.training) {
      for (size_t r = 0; r < step.batches.size(); ++r) {
        result = engine->Send(static_cast<int>(r), step.gradients[r], step.learning_rates);
        if (!result.ok()) return fail("step " + std::to_string(index) + " send");
      }
    }
    ++index;
  }
  if (!(result = engine->Synchronize()).ok()) return fail("synchronize");
  for (size_t t = 0; t < c.model.tables.size(); ++t) {
    out->tables.emplace_back();
    if (!(result = engine->Retrieve(static_cast<int>(t), &out->tables.back())).ok()) {
      return fail("retrieve");
    }
  }
  return true;
}

// Bitwise comparison; returns the number of differing floats and describes the first ones.
int64_t Compare(const Outcome& actual, const Outcome& expected, const Case& c,
                std::string* report) {
  int64_t mismatches = 0;
  const size_t replicas = static_cast<size_t>(c.model.num_replicas);
  for (size_t i = 0; i < expected.activations.size(); ++i) {
    for (size_t f = 0; f < expected.activations[i].size(); ++f) {
      mismatches += CountMismatches(
          actual.activations[i][f], expected.activations[i][f], 0,
          "step " + std::to_string(i / replicas) + " replica " + std::to_string(i % replicas) +
              " feature " + std::to_string(f) + " activations",
          report);
    }
  }
  for (size_t t = 0; t < expected.tables.size(); ++t) {
    const auto names = reference::SlotNames(c.model.tables[t].optimizer.kind);
    for (size_t s = 0; s < expected.tables[t].size(); ++s) {
      mismatches += CountMismatches(actual.tables[t][s], expected.tables[t][s], 0,
                                    "table " + std::to_string(t) + " " + names[s], report);
    }
  }
  return mismatches;
}

class CpuDifferentialTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    std::string error;
    plugin_ = Plugin::Open(EMBRT_CPU_PLUGIN, &error).release();
    if (plugin_ == nullptr) load_error_ = new std::string(error);
  }
  void SetUp() override {
    ASSERT_NE(plugin_, nullptr) << *load_error_;
    ASSERT_TRUE(plugin_->exact_math()) << "the cpu backend must claim exact_math=1";
  }
  // Runs case `i` on the plugin at each of `threads` and expects the reference's bits.
  void ExpectTheReferenceAt(const Case& c, std::initializer_list<int> threads, int i) {
    const Outcome expected = RunReference(c);
    for (int t : threads) {
      Outcome actual;
      std::string error;
      ASSERT_TRUE(RunPlugin(*plugin_, c, t, &actual, &error)) << error;
      std::string report;
      EXPECT_EQ(Compare(actual, expected, c, &report), 0)
          << "case " << i << ", threads " << t << "\n"
          << report << reference::Describe(c.model);
    }
  }

  static const Plugin* plugin_;
  static const std::string* load_error_;
};
const Plugin* CpuDifferentialTest::plugin_ = nullptr;
const std::string* CpuDifferentialTest::load_error_ = nullptr;

TEST_F(CpuDifferentialTest, RandomModelsAreBitwiseEqualToTheScalarReference) {
  int64_t cases = 0;
  for (uint64_t seed = 1; seed <= EMBRT_DIFFERENTIAL_SEEDS; ++seed) {
    for (int replicas : {1, 2}) {
      const Case c = MakeCase(seed, replicas);
      const Outcome expected = RunReference(c);
      Outcome actual;
      std::string error;
      ASSERT_TRUE(RunPlugin(*plugin_, c, /*threads=*/2, &actual, &error))
          << "seed " << seed << ": " << error << "\n" << reference::Describe(c.model);
      std::string report;
      EXPECT_EQ(Compare(actual, expected, c, &report), 0)
          << "seed " << seed << "\n" << report << reference::Describe(c.model);
      ++cases;
    }
  }
  EXPECT_EQ(cases, 2 * EMBRT_DIFFERENTIAL_SEEDS);
}

TEST_F(CpuDifferentialTest, ThreadCountsGiveIdenticalBits) {
  const uint64_t seeds = EMBRT_DIFFERENTIAL_SEEDS / 4 + 1;
  for (uint64_t seed = 1000; seed < 1000 + seeds; ++seed) {
    const Case c = MakeCase(seed, seed % 2 == 0 ? 2 : 1);
    Outcome one;
    std::string error;
    ASSERT_TRUE(RunPlugin(*plugin_, c, 1, &one, &error)) << "seed " << seed << ": " << error;
    for (int threads : {2, 8}) {
      Outcome many;
      ASSERT_TRUE(RunPlugin(*plugin_, c, threads, &many, &error))
          << "seed " << seed << " threads " << threads << ": " << error;
      std::string report;
      EXPECT_EQ(Compare(many, one, c, &report), 0)
          << "seed " << seed << ": threads=" << threads << " differs from threads=1\n"
          << report << reference::Describe(c.model);
    }
    std::string report;
    EXPECT_EQ(Compare(one, RunReference(c), c, &report), 0) << "seed " << seed << "\n" << report;
  }
}

// Large tables and batches where the thread pool really splits work (rows per thread).
TEST_F(CpuDifferentialTest, WideBatchesOnEightThreadsMatchTheReference) {
  reference::RandomSource random(4242);
  reference::RandomModelLimits limits;
  limits.max_batch = 64;
  limits.num_replicas = 2;
  for (int i = 0; i < 3; ++i) ExpectTheReferenceAt(MakeTrainingCase(random, limits), {8}, i);
}

// Batches large enough that the update splits each table's rows among workers (the cpu
// backend does so from 4096 ids per worker on) and that every dim specialization of the lookup
// runs on long bags: still the reference's bits, for 3 and 8 workers.
TEST_F(CpuDifferentialTest, BatchesSplitAmongWorkersMatchTheReference) {
  reference::RandomSource random(777);
  reference::RandomModelLimits limits;
  limits.max_batch = 2048;
  limits.max_bag = 12;
  limits.num_replicas = 2;
  for (int i = 0; i < 4; ++i) {
    ExpectTheReferenceAt(MakeTrainingCase(random, limits), {3, 8}, i);
  }
}

// Every dim below 16 has kernels compiled for it (lookup and sorted-ref update), 16 the vector
// ones, 17 the generic loops: each still gives the reference's bits, on one and two workers,
// with one and two replicas, batches large enough to be split.
TEST_F(CpuDifferentialTest, EachSmallDimMatchesTheReference) {
  reference::RandomSource random(1617);
  for (int32_t dim = 1; dim <= 17; ++dim) {
    for (int i = 0; i < 3; ++i) {
      reference::RandomModelLimits limits;
      limits.min_dim = limits.max_dim = dim;
      limits.max_batch = 400;
      limits.num_replicas = 1 + i % 2;
      const Case c = MakeTrainingCase(random, limits);
      for (const reference::TableSpec& table : c.model.tables) ASSERT_EQ(table.dim, dim);
      ExpectTheReferenceAt(c, {1, 2}, dim * 10 + i);
    }
  }
}

// Many tables in one step: the update runs every table's (table, owner) items in one ParallelFor,
// split among workers by ids, so one worker updates several tables and a table's rows may be
// split too. Sequence positions (ABI 1.1) included. Still the reference's bits for 2, 3 and 8
// workers, with one and two replicas.
TEST_F(CpuDifferentialTest, ManyTablesSharingTheWorkersMatchTheReference) {
  reference::RandomSource random(9001);
  for (int i = 0; i < 4; ++i) {
    reference::RandomModelLimits limits;
    limits.max_tables = 12;
    limits.max_batch = 1500;
    limits.max_bag = 5;
    limits.num_replicas = 1 + i % 2;
    ExpectTheReferenceAt(MakeTrainingCase(random, limits, /*sequence_positions=*/i >= 2),
                         {2, 3, 8}, i);
  }
}

}  // namespace
}  // namespace conformance
}  // namespace embrt
