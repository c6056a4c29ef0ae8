// Copyright embrt authors.
//
// Numeric conformance, for plugins that claim exact_math=1: TF's goldens (plugin_api/MATH.md
// section 8) through the C ABI, and random models against the scalar reference, bit for bit.
// Each test uses only the optimizers and combiners the plugin declares and skips, naming the
// attribute, what needs others.

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <thread>

#include "canonical_fixture.h"
#include "conformance_suite.h"
#include "random_model.h"

namespace embrt {
namespace conformance {
namespace {

using reference::Activations;
using reference::CanonicalBatches;
using reference::CanonicalModel;
using reference::Gradients;
using reference::ModelSpec;
using reference::OptimizerSpec;
using reference::ReplicaBatch;
using reference::ScalarReference;

// Runs the same steps on a plugin engine and on the scalar reference and compares everything.
class Lockstep {
 public:
  Lockstep(Engine* engine, ScalarReference* reference) : engine_(engine), ref_(reference) {}

  // One step over all replicas, sequentially: enqueue, recv (compared), then send.
  // `gradients(r, activations)` gives replica r's gradients.
  template <typename GradientFn>
  void TrainingStep(const std::vector<ReplicaBatch>& batches, GradientFn gradients,
                    const std::vector<float>& learning_rates = {}) {
    std::vector<Gradients> all;
    for (size_t r = 0; r < batches.size(); ++r) {
      const int replica = static_cast<int>(r);
      ASSERT_OK(engine_->Enqueue(replica, EMBRT_MODE_TRAINING, batches[r]));
      Activations actual;
      ASSERT_OK(engine_->Recv(replica, &actual));
      const Activations expected = ref_->Lookup(batches[r]);
      ExpectSame(actual, expected, "step " + std::to_string(step_) + " replica " +
                                       std::to_string(r) + " activations");
      all.push_back(gradients(replica, expected));
    }
    for (size_t r = 0; r < batches.size(); ++r) {
      ASSERT_OK(engine_->Send(static_cast<int>(r), all[r], learning_rates));
    }
    ref_->ApplyGradients(batches, all, learning_rates);
    ++step_;
  }

  void ExpectSame(const Activations& actual, const Activations& expected,
                  const std::string& what) {
    std::string report;
    int64_t mismatches = 0;
    for (size_t f = 0; f < expected.size(); ++f) {
      mismatches += CountMismatches(actual[f], expected[f], kExactUlps,
                                    what + " feature " + std::to_string(f), &report);
    }
    EXPECT_EQ(mismatches, 0) << report << "model:\n" << reference::Describe(ref_->model());
  }

  void ExpectSameTables(const std::string& what) {
    ASSERT_OK(engine_->Synchronize());
    std::string report;
    int64_t mismatches = 0;
    for (size_t t = 0; t < ref_->model().tables.size(); ++t) {
      std::vector<std::vector<float>> slots;
      ASSERT_OK(engine_->Retrieve(static_cast<int>(t), &slots));
      const std::vector<std::string> names =
          reference::SlotNames(ref_->model().tables[t].optimizer.kind);
      for (size_t s = 0; s < slots.size(); ++s) {
        mismatches += CountMismatches(slots[s], ref_->slot(static_cast<int>(t), static_cast<int>(s)),
                                      kExactUlps,
                                      what + " table " + std::to_string(t) + " " + names[s],
                                      &report);
      }
    }
    EXPECT_EQ(mismatches, 0) << report << "model:\n" << reference::Describe(ref_->model());
  }

 private:
  Engine* engine_;
  ScalarReference* ref_;
  int step_ = 0;
};

ScalarReference CanonicalReference(const ModelSpec& model) {
  ScalarReference ref(model);
  ref.slot(0, 0) = reference::RowMajorIota(32);
  ref.slot(1, 0) = reference::RowMajorIota(32);
  return ref;
}

Gradients HalfOfActivations(int, const Activations& a) { return reference::HalfOf(a); }

#define REQUIRE_EXACT_MATH() \
  CONFORMANCE_REQUIRE(caps().exact_math, "exact_math=1; numeric tests are for exact plugins")
// The canonical fixture needs the sum (video) and mean (user) combiners.
#define REQUIRE_CANONICAL_COMBINERS()                                                       \
  CONFORMANCE_REQUIRE(caps().Has(reference::Combiner::kSum) &&                              \
                          caps().Has(reference::Combiner::kMean),                           \
                      "combiners sum and mean (the canonical fixture's tables); it declares " \
                      "combiners='" << caps().combiners_text << "'")
#define REQUIRE_OPTIMIZER(kind)                                                             \
  CONFORMANCE_REQUIRE(caps().Has(kind), "optimizers=..." << OptimizerName(kind)             \
                                            << "...; it declares optimizers='"              \
                                            << caps().optimizers_text << "'")

// §5.2: forward activations, R = 1 and R = 2, equal to TF's numbers exactly.
TEST_P(NumericConformanceTest, CanonicalForwardActivations) {
  Rules("8, 9, 27");
  REQUIRE_EXACT_MATH();
  REQUIRE_CANONICAL_COMBINERS();
  REQUIRE_OPTIMIZER(reference::Optimizer::kSgd);
  for (int replicas : {1, 2}) {
    const ModelSpec model = CanonicalModel({}, replicas);
    std::unique_ptr<Engine> engine = MakeEngine(model);
    ASSERT_NE(engine, nullptr);
    ASSERT_OK(engine->LoadState(CanonicalReference(model)));
    const std::vector<ReplicaBatch> batches = CanonicalBatches(replicas);
    std::vector<std::vector<float>> all(3);
    for (int r = 0; r < replicas; ++r) {
      ASSERT_OK(engine->Enqueue(r, EMBRT_MODE_INFERENCE, batches[r]));
      Activations a;
      ASSERT_OK(engine->Recv(r, &a));
      for (int f = 0; f < 3; ++f) all[f].insert(all[f].end(), a[f].begin(), a[f].end());
    }
    for (int f = 0; f < 3; ++f) {
      EXPECT_EQ(all[f], reference::CanonicalActivations()[f]) << "feature " << f << " R="
                                                               << replicas;
    }
  }
}

// §5.3 (through SGD with lr = 1) and §5.4: one step of every optimizer, R = 1 (B = 4) and
// R = 2 (B = 2 each): TF's numbers within TF's tolerance, the reference bit for bit.
TEST_P(NumericConformanceTest, CanonicalOneStepOfEveryOptimizer) {
  Rules("9, 27");
  REQUIRE_EXACT_MATH();
  REQUIRE_CANONICAL_COMBINERS();
  std::vector<reference::OptimizerGolden> goldens = reference::OneStepGoldens();
  reference::OptimizerGolden gradients{"sgd lr=1 (gradients)", {}, 1e-6, 1e-6, {}};
  gradients.optimizer.learning_rate = 1.0f;
  for (reference::RowGolden row : reference::CanonicalRowGradients()) {
    const int dim = row.table == 0 ? 4 : 2;
    for (int d = 0; d < dim; ++d) row.parameters[d] = (row.row * dim + d) - row.parameters[d];
    gradients.rows.push_back(row);
  }
  goldens.insert(goldens.begin(), gradients);
  std::string skipped;
  for (const reference::OptimizerGolden& golden : goldens) {
    if (!caps().Has(golden.optimizer.kind)) {
      skipped += golden.name + "; ";
      continue;
    }
    for (int replicas : {1, 2}) {
      SCOPED_TRACE(golden.name + " R=" + std::to_string(replicas));
      const ModelSpec model = CanonicalModel(golden.optimizer, replicas);
      std::unique_ptr<Engine> engine = MakeEngine(model);
      ASSERT_NE(engine, nullptr);
      ScalarReference ref = CanonicalReference(model);
      ASSERT_OK(engine->LoadState(ref));
      Lockstep lockstep(engine.get(), &ref);
      lockstep.TrainingStep(CanonicalBatches(replicas), HalfOfActivations);
      lockstep.ExpectSameTables(golden.name);
      for (const reference::RowGolden& row : golden.rows) {
        std::vector<std::vector<float>> slots;
        ASSERT_OK(engine->Retrieve(row.table, &slots));
        const int dim = model.tables[row.table].dim;
        for (size_t s = 0; s <= row.slots.size(); ++s) {
          const std::vector<float>& expected = s == 0 ? row.parameters : row.slots[s - 1];
          const double rtol = s == 0 ? golden.parameters_rtol : golden.slots_rtol;
          for (int d = 0; d < dim; ++d) {
            const float actual = slots[s][row.row * dim + d];
            EXPECT_TRUE(reference::AllClose(actual, expected[d], rtol))
                << "table " << row.table << " row " << row.row << " slot " << s << " [" << d
                << "]: " << actual << " vs TF " << expected[d];
          }
        }
      }
    }
  }
  if (!skipped.empty()) {
    std::printf("[ PARTIAL  ] not declared in optimizers='%s', not checked: %s\n",
                caps().optimizers_text.c_str(), skipped.c_str());
  }
}

// §5.5: dense inputs (no row splits), weighted ragged, sqrtn, sequences (truncated by the host).
TEST_P(NumericConformanceTest, LookupGoldens) {
  Rules("8, 9, 27");
  REQUIRE_EXACT_MATH();
  REQUIRE_CANONICAL_COMBINERS();
  REQUIRE_OPTIMIZER(reference::Optimizer::kSgd);
  // Dense, 2020 variant: every replica gets the last 2 values of each list.
  {
    ModelSpec model = CanonicalModel({}, 2);
    std::unique_ptr<Engine> engine = MakeEngine(model);
    ASSERT_NE(engine, nullptr);
    ASSERT_OK(engine->LoadState(CanonicalReference(model)));
    const ReplicaBatch dense = {{{1, 1}, {}, {}}, {{0, 1}, {}, {}}, {{1, 2}, {}, {}}};
    for (int r = 0; r < 2; ++r) {
      ASSERT_OK(engine->Enqueue(r, EMBRT_MODE_INFERENCE, dense));
      Activations a;
      ASSERT_OK(engine->Recv(r, &a));
      EXPECT_EQ(a[0], (std::vector<float>{4, 5, 6, 7, 4, 5, 6, 7}));
      EXPECT_EQ(a[1], (std::vector<float>{0, 1, 2, 3, 4, 5, 6, 7}));
      EXPECT_EQ(a[2], (std::vector<float>{2, 3, 4, 5}));
    }
  }
  // Weighted ragged (weights = the ids), sqrtn, sequences: against TF and the reference.
  ModelSpec model = CanonicalModel({}, 1);
  ScalarReference ref = CanonicalReference(model);
  std::unique_ptr<Engine> engine = MakeEngine(model);
  ASSERT_NE(engine, nullptr);
  ASSERT_OK(engine->LoadState(ref));
  ReplicaBatch weighted = CanonicalBatches(1)[0];
  for (auto& f : weighted) {
    for (int64_t id : f.ids) f.weights.push_back(static_cast<float>(id));
  }
  ASSERT_OK(engine->Enqueue(0, EMBRT_MODE_INFERENCE, weighted));
  Activations a;
  ASSERT_OK(engine->Recv(0, &a));
  EXPECT_EQ(a[0], (std::vector<float>{0, 0, 0, 0, 4, 5, 6, 7, 4, 5, 6, 7, 4, 5, 6, 7}));
  EXPECT_EQ(a[1], (std::vector<float>{4, 5, 6, 7, 4, 5, 6, 7, 0, 0, 0, 0, 4, 5, 6, 7}));
  for (int i = 0; i < 8; ++i) {
    const float tf[] = {6, 7, 3.3333333f, 4.3333333f};
    EXPECT_TRUE(reference::AllClose(a[2][i], tf[i % 4], 1e-6)) << "friends " << i;
  }
  Lockstep(engine.get(), &ref).ExpectSame(a, ref.Lookup(weighted), "weighted");

  if (!caps().Has(reference::Combiner::kSqrtn)) return;  // the rest needs sqrtn
  model.tables[1].combiner = reference::Combiner::kSqrtn;
  ScalarReference sqrtn_ref = CanonicalReference(model);
  engine = MakeEngine(model);
  ASSERT_NE(engine, nullptr);
  ASSERT_OK(engine->LoadState(sqrtn_ref));
  for (float weight : {1.0f, 0.5f}) {
    ReplicaBatch batch = CanonicalBatches(1)[0];
    batch[2].weights.assign(batch[2].ids.size(), weight);
    ASSERT_OK(engine->Enqueue(0, EMBRT_MODE_INFERENCE, batch));
    ASSERT_OK(engine->Recv(0, &a));
    const float tf[] = {6, 7, 3.4641016f, 5.1961524f};
    for (int i = 0; i < 8; ++i) {
      EXPECT_TRUE(reference::AllClose(a[2][i], tf[i % 4], 1e-6)) << "sqrtn " << i;
    }
    Lockstep(engine.get(), &sqrtn_ref).ExpectSame(a, sqrtn_ref.Lookup(batch), "sqrtn");
  }

  // Sequence: friends with L = 2; the host has already dropped id 2 of the long bags.
  ModelSpec sequence = CanonicalModel({}, 1);
  sequence.features[2].max_sequence_length = 2;
  engine = MakeEngine(sequence);
  ASSERT_NE(engine, nullptr);
  ASSERT_OK(engine->LoadState(CanonicalReference(sequence)));
  ReplicaBatch batch = CanonicalBatches(1)[0];
  batch[2] = {{3, 0, 1, 3, 0, 1}, {0, 1, 3, 4, 6}, {}};
  ASSERT_OK(engine->Enqueue(0, EMBRT_MODE_INFERENCE, batch));
  ASSERT_OK(engine->Recv(0, &a));
  EXPECT_EQ(a[2], (std::vector<float>{6, 7, 0, 0, 0, 1, 2, 3, 6, 7, 0, 0, 0, 1, 2, 3}));
}

// §5.6: None gradient, weights 0.5, sequence training, dynamic learning rate.
TEST_P(NumericConformanceTest, TrainingGoldens) {
  Rules("8, 9, 27");
  REQUIRE_EXACT_MATH();
  REQUIRE_CANONICAL_COMBINERS();
  REQUIRE_OPTIMIZER(reference::Optimizer::kSgd);
  OptimizerSpec sgd;
  sgd.learning_rate = 0.1f;
  // None gradient: (None, None, ones); single replica of 4.
  {
    const ModelSpec model = CanonicalModel(sgd, 1);
    ScalarReference ref = CanonicalReference(model);
    std::unique_ptr<Engine> engine = MakeEngine(model);
    ASSERT_NE(engine, nullptr);
    ASSERT_OK(engine->LoadState(ref));
    Lockstep lockstep(engine.get(), &ref);
    lockstep.TrainingStep(CanonicalBatches(1), [](int, const Activations&) {
      return Gradients{{}, {}, std::vector<float>(8, 1.0f)};
    });
    lockstep.ExpectSameTables("None gradient");
    std::vector<std::vector<float>> video, user;
    ASSERT_OK(engine->Retrieve(0, &video));
    ASSERT_OK(engine->Retrieve(1, &user));
    EXPECT_EQ(video[0], reference::RowMajorIota(32));
    for (int r = 0; r < 4; ++r) {
      for (int d = 0; d < 2; ++d) {
        const double drop = r == 3 ? 0.2 : 0.0666667;
        EXPECT_TRUE(reference::AllClose(user[0][r * 2 + d], r * 2 + d - drop, 1e-6))
            << "user " << r << ": " << user[0][r * 2 + d];
      }
    }
  }
  // Weights 0.5 on (watched, -, friends): activations are unweighted × (0.5, 1, 1).
  {
    const ModelSpec model = CanonicalModel(sgd, 1);
    std::unique_ptr<Engine> engine = MakeEngine(model);
    ASSERT_NE(engine, nullptr);
    ASSERT_OK(engine->LoadState(CanonicalReference(model)));
    ReplicaBatch batch = CanonicalBatches(1)[0];
    batch[0].weights.assign(batch[0].ids.size(), 0.5f);
    batch[2].weights.assign(batch[2].ids.size(), 0.5f);
    ASSERT_OK(engine->Enqueue(0, EMBRT_MODE_INFERENCE, batch));
    Activations a;
    ASSERT_OK(engine->Recv(0, &a));
    std::vector<float> half = reference::CanonicalActivations()[0];
    for (float& x : half) x *= 0.5f;
    EXPECT_EQ(a[0], half);
    EXPECT_EQ(a[1], reference::CanonicalActivations()[1]);
    EXPECT_EQ(a[2], reference::CanonicalActivations()[2]);
  }
  // Sequence training: watched L=2, favorited L=2, friends L=3, gradient ones.
  for (int replicas : {1, 2}) {
    ModelSpec model = CanonicalModel(sgd, replicas);
    model.features[0].max_sequence_length = 2;
    model.features[1].max_sequence_length = 2;
    model.features[2].max_sequence_length = 3;
    ScalarReference ref = CanonicalReference(model);
    std::unique_ptr<Engine> engine = MakeEngine(model);
    ASSERT_NE(engine, nullptr);
    ASSERT_OK(engine->LoadState(ref));
    Lockstep lockstep(engine.get(), &ref);
    lockstep.TrainingStep(CanonicalBatches(replicas), [&](int, const Activations& a) {
      Gradients ones;
      for (const auto& x : a) ones.emplace_back(x.size(), 1.0f);
      return ones;
    });
    lockstep.ExpectSameTables("sequence training R=" + std::to_string(replicas));
    std::vector<std::vector<float>> video, user;
    ASSERT_OK(engine->Retrieve(0, &video));
    ASSERT_OK(engine->Retrieve(1, &user));
    for (int i = 0; i < 32; ++i) {
      EXPECT_NEAR(video[0][i], i - (i < 8 ? 0.6 : 0.0), 1e-5) << "video value " << i;
      EXPECT_NEAR(user[0][i], i - (i < 8 ? 0.2 : 0.0), 1e-5) << "user value " << i;
    }
  }
  // Dynamic learning rate max(0.5, 1 - 0.05·step); vocab R, dim 4, zeros, sum, loss Σa/R.
  for (int replicas : {1, 2}) {
    ModelSpec model;
    model.num_replicas = replicas;
    model.num_learning_rate_tags = 1;
    OptimizerSpec dynamic;
    dynamic.learning_rate_tag = 0;
    model.tables = {{"table", replicas, 4, reference::Combiner::kSum, dynamic}};
    model.tables[0].combiner = reference::Combiner::kSum;
    model.features = {{"feature", 0, 0, 1}};
    ScalarReference ref(model);
    std::unique_ptr<Engine> engine = MakeEngine(model);
    ASSERT_NE(engine, nullptr);
    ASSERT_OK(engine->LoadState(ref));
    const std::vector<float> tf = {0, -1.0f, -1.95f, -2.85f, -3.7f,
                                   -4.5f, -5.25f, -5.95f, -6.6f, -7.2f};
    const std::vector<ReplicaBatch> batches(replicas, ReplicaBatch{{{0}, {}, {}}});
    for (int step = 0; step < 10; ++step) {
      ASSERT_OK(engine->Enqueue(0, EMBRT_MODE_TRAINING, batches[0]));
      Activations a;
      ASSERT_OK(engine->Recv(0, &a));
      for (float x : a[0]) EXPECT_NEAR(x, tf[step], 1e-5) << "step " << step;
      Lockstep(engine.get(), &ref).ExpectSame(a, ref.Lookup(batches[0]), "dynamic lr");
      const std::vector<float> rates = {std::max(0.5f, 1.0f - 0.05f * step)};
      const Gradients g = {std::vector<float>(4, 1.0f / static_cast<float>(replicas))};
      ASSERT_OK(engine->Send(0, g, rates));
      for (int r = 1; r < replicas; ++r) {
        ASSERT_OK(engine->Enqueue(r, EMBRT_MODE_TRAINING, batches[r]));
        ASSERT_OK(engine->Recv(r, &a));
        ASSERT_OK(engine->Send(r, g, rates));
      }
      ref.ApplyGradients(batches, std::vector<Gradients>(replicas, g), rates);
    }
    Lockstep(engine.get(), &ref).ExpectSameTables("dynamic lr R=" + std::to_string(replicas));
  }
}

// Random models (every optimizer and option), three steps each, R = 1 and R = 2.
TEST_P(NumericConformanceTest, RandomModelsMatchTheScalarReference) {
  Rules("8, 9, 27, 28");
  REQUIRE_EXACT_MATH();
  for (uint64_t seed = 1; seed <= 10; ++seed) {
    reference::RandomSource random(seed * 7919);
    reference::RandomModelLimits limits;
    limits.optimizers.assign(caps().optimizers.begin(), caps().optimizers.end());
    limits.combiners.assign(caps().combiners.begin(), caps().combiners.end());
    if (caps().max_dim > 0) limits.max_dim = static_cast<int32_t>(std::min<int64_t>(20, caps().max_dim));
    limits.num_replicas = seed % 2 == 0 ? 2 : 1;
    limits.max_vocabulary = 64;
    if (caps().max_dim == 0) limits.max_dim = 20;
    const ModelSpec model = reference::RandomModel(random, limits);
    SCOPED_TRACE("seed " + std::to_string(seed) + "\n" + reference::Describe(model));
    ScalarReference ref(model);
    reference::RandomizeState(random, ref);
    std::unique_ptr<Engine> engine = MakeEngine(model);
    ASSERT_NE(engine, nullptr);
    ASSERT_OK(engine->LoadState(ref));
    Lockstep lockstep(engine.get(), &ref);
    for (int step = 0; step < 3; ++step) {
      std::vector<ReplicaBatch> batches;
      for (int r = 0; r < model.num_replicas; ++r) {
        // ABI 1.1 plugins also get sequence positions with holes (README rule 24).
        batches.push_back(reference::RandomBatch(random, model, caps().abi_minor >= 1));
      }
      lockstep.TrainingStep(
          batches, [&](int, const Activations&) { return reference::RandomGradients(random, model); },
          reference::RandomLearningRates(random, model));
      if (HasFatalFailure()) return;
    }
    lockstep.ExpectSameTables("after 3 steps");
  }
}

// Two replicas driven from two threads give exactly the sequential result.
TEST_P(NumericConformanceTest, TwoThreadsMatchTheScalarReference) {
  Rules("5, 9, 27");
  REQUIRE_EXACT_MATH();
  REQUIRE_CANONICAL_COMBINERS();
  OptimizerSpec adagrad;
  adagrad.kind = caps().Has(reference::Optimizer::kAdagrad) ? reference::Optimizer::kAdagrad
                                                           : caps().AnyOptimizer();
  adagrad.learning_rate = 0.1f;
  const ModelSpec model = CanonicalModel(adagrad, 2);
  ScalarReference ref = CanonicalReference(model);
  std::unique_ptr<Engine> engine = MakeEngine(model);
  ASSERT_NE(engine, nullptr);
  ASSERT_OK(engine->LoadState(ref));
  const std::vector<ReplicaBatch> batches = CanonicalBatches(2);
  constexpr int kSteps = 4;
  // Gradients do not depend on activations here, so both sides can be computed up front.
  auto gradient = [](int replica, int step) {
    Gradients g;
    for (int64_t size : {8, 8, 4}) {
      std::vector<float> x(size);
      for (int64_t i = 0; i < size; ++i) x[i] = 0.1f * (i + 1) * (replica + 1) - 0.05f * step;
      g.push_back(x);
    }
    return g;
  };
  std::vector<std::string> failures(2);
  std::vector<std::vector<Activations>> seen(2);
  auto run = [&](int replica) {
    for (int step = 0; step < kSteps; ++step) {
      CallResult result = engine->Enqueue(replica, EMBRT_MODE_TRAINING, batches[replica]);
      Activations a;
      if (result.ok()) result = engine->Recv(replica, &a);
      if (result.ok()) result = engine->Send(replica, gradient(replica, step));
      if (!result.ok()) {
        failures[replica] = ToString(result);
        return;
      }
      seen[replica].push_back(a);
    }
  };
  std::thread second(run, 1);
  run(0);
  second.join();
  ASSERT_EQ(failures[0], "");
  ASSERT_EQ(failures[1], "");
  Lockstep check(engine.get(), &ref);
  for (int step = 0; step < kSteps; ++step) {
    for (int r = 0; r < 2; ++r) {
      check.ExpectSame(seen[r][step], ref.Lookup(batches[r]),
                       "step " + std::to_string(step) + " replica " + std::to_string(r));
    }
    ref.ApplyGradients(batches, {gradient(0, step), gradient(1, step)});
  }
  check.ExpectSameTables("after the threaded steps");
}

// Simulated quantization (rule 9, attribute `quantization`): random models with quantized
// tables, bit for bit.
TEST_P(NumericConformanceTest, QuantizedTablesMatchTheScalarReference) {
  Rules("9, 11, 27");
  REQUIRE_EXACT_MATH();
  CONFORMANCE_REQUIRE(caps().quantization, "quantization = 1");
  for (uint64_t seed = 1; seed <= 4; ++seed) {
    reference::RandomSource random(seed * 104729);
    reference::RandomModelLimits limits;
    limits.optimizers.assign(caps().optimizers.begin(), caps().optimizers.end());
    limits.combiners.assign(caps().combiners.begin(), caps().combiners.end());
    limits.max_vocabulary = 32;
    limits.max_dim = 8;
    ModelSpec model = reference::RandomModel(random, limits);
    for (size_t t = 0; t < model.tables.size(); ++t) {
      model.quantization.push_back({static_cast<int32_t>(random.Int(2, 9)), -0.5f, 0.75f});
    }
    SCOPED_TRACE("seed " + std::to_string(seed) + "\n" + reference::Describe(model));
    ScalarReference ref(model);
    reference::RandomizeState(random, ref);
    std::unique_ptr<Engine> engine = MakeEngine(model);
    ASSERT_NE(engine, nullptr);
    ASSERT_OK(engine->LoadState(ref));
    Lockstep lockstep(engine.get(), &ref);
    for (int step = 0; step < 2; ++step) {
      lockstep.TrainingStep(
          {reference::RandomBatch(random, model)},
          [&](int, const Activations&) { return reference::RandomGradients(random, model); },
          reference::RandomLearningRates(random, model));
      if (HasFatalFailure()) return;
    }
    lockstep.ExpectSameTables("quantized, after 2 steps");
  }
}

// Rule 20: a bag whose divisor is 0 has gains 0, and its rows still count as touched (lazy Adam
// and AdagradMomentum move them by their momentum).
TEST_P(NumericConformanceTest, ZeroDivisorBagsTouchTheirRows) {
  Rules("8, 9, 20, 27");
  REQUIRE_EXACT_MATH();
  CONFORMANCE_REQUIRE(caps().Has(reference::Combiner::kMean) ||
                          caps().Has(reference::Combiner::kSqrtn),
                      "combiner mean or sqrtn (a zero divisor needs one)");
  for (reference::Optimizer kind : caps().optimizers) {
    SCOPED_TRACE(OptimizerName(kind));
    reference::RandomSource random(static_cast<uint64_t>(kind) * 31);
    ModelSpec model = CanonicalModel({}, 1);
    model.tables[0].combiner = caps().AnyCombiner();
    model.tables[1].combiner = caps().Has(reference::Combiner::kMean)
                                   ? reference::Combiner::kMean
                                   : reference::Combiner::kSqrtn;
    for (auto& table : model.tables) {
      table.optimizer.kind = kind;
      table.optimizer.adagrad_momentum.momentum = 0.5f;
    }
    ScalarReference ref(model);
    reference::RandomizeState(random, ref);
    std::unique_ptr<Engine> engine = MakeEngine(model);
    ASSERT_NE(engine, nullptr);
    ASSERT_OK(engine->LoadState(ref));
    ReplicaBatch batch = CanonicalBatches(1)[0];
    batch[2].weights = {0.0f, 1.0f, -1.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f};
    Lockstep lockstep(engine.get(), &ref);
    lockstep.TrainingStep({batch}, HalfOfActivations);
    lockstep.ExpectSameTables("zero divisors");
  }
}

// Rule 24 (ABI 1.1): sequence positions with holes, against the scalar reference.
TEST_P(NumericConformanceTest, SequencePositionsMatchTheScalarReference) {
  Rules("8, 9, 24, 27");
  REQUIRE_EXACT_MATH();
  CONFORMANCE_REQUIRE(caps().abi_minor >= 1, "abi_version 1.1 (sequence positions)");
  REQUIRE_CANONICAL_COMBINERS();
  OptimizerSpec optimizer;
  optimizer.kind = caps().AnyOptimizer();
  optimizer.learning_rate = 0.5f;
  ModelSpec model = CanonicalModel(optimizer, 2);
  model.features[2].max_sequence_length = 3;
  reference::RandomSource random(77);
  ScalarReference ref(model);
  reference::RandomizeState(random, ref);
  std::unique_ptr<Engine> engine = MakeEngine(model);
  ASSERT_NE(engine, nullptr);
  ASSERT_OK(engine->LoadState(ref));
  std::vector<ReplicaBatch> batches = CanonicalBatches(2);
  batches[0][2] = {{3, 0, 1}, {0, 1, 3}, {}, {2, 0, 2}};
  batches[1][2] = {{3, 2}, {0, 0, 2}, {}, {1, 2}};
  Lockstep lockstep(engine.get(), &ref);
  for (int step = 0; step < 2; ++step) {
    lockstep.TrainingStep(batches, [&](int, const Activations&) {
      return reference::RandomGradients(random, model, 0.0);
    });
    if (HasFatalFailure()) return;
  }
  lockstep.ExpectSameTables("positions, after 2 steps");
}

}  // namespace
}  // namespace conformance
}  // namespace embrt
