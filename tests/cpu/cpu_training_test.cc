// Copyright embrt authors.
//
// Training semantics of the cpu backend: zero (NULL) gradients, sequence features, dynamic
// learning rates, gradient and weight clipping, weight decay, non-lazy Adam, accumulation off,
// replica summation, pipelining, and bit-identical results for any thread count or chunking.

#include <chrono>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "cpu_test_harness.h"
#include "gtest/gtest.h"
#include "tf_fixture.h"

namespace embrt {
namespace cpu_test {
namespace {

using Tables = std::vector<std::vector<std::vector<float>>>;

// One step on replica 0: enqueue, receive, send `gradients(activations)`.
template <typename GradientFn>
void TrainStep(CpuEngine& engine, const std::vector<Input>& inputs, GradientFn gradients,
               const std::vector<float>& learning_rates = {}) {
  ASSERT_TRUE(engine.Enqueue(0, inputs).ok());
  std::vector<std::vector<float>> a;
  ASSERT_TRUE(engine.Recv(0, &a).ok());
  Result r = engine.Send(0, gradients(a), learning_rates);
  ASSERT_TRUE(r.ok()) << r.message;
}

std::vector<float> Row(const Tables& tables, int t, int slot, int64_t row, int dim) {
  const auto& v = tables[t][slot];
  return std::vector<float>(v.begin() + row * dim, v.begin() + (row + 1) * dim);
}

TEST(CpuTrainingTest, NullGradientIsZeroAndOnlyTouchesItsRows) {
  CpuEngine engine(TfFixtureSpec(EMBRT_OPTIMIZER_SGD));
  ASSERT_TRUE(LoadTfFixtureTables(engine).ok());
  const Tables before = engine.RetrieveAll();
  TrainStep(engine, TfFixtureInputs(), [](const auto&) {
    return std::vector<std::vector<float>>{{}, {}, std::vector<float>(8, 1.0f)};
  });
  const Tables after = engine.RetrieveAll();
  EXPECT_EQ(after[0], before[0]);  // video: zero gradient, SGD: no change
  // user row 3: gradient 1 + 1; rows 0..2: 1/3 + 1/3 (mean over 3 ids).
  const float third = 1.0f / 3.0f;
  EXPECT_EQ(Row(after, 1, 0, 3, 2), (std::vector<float>{6 - 0.1f * 2.0f, 7 - 0.1f * 2.0f}));
  EXPECT_EQ(Row(after, 1, 0, 1, 2),
            (std::vector<float>{2 - 0.1f * (third + third), 3 - 0.1f * (third + third)}));
  EXPECT_EQ(Row(after, 1, 0, 4, 2), Row(before, 1, 0, 4, 2));
}

TEST(CpuTrainingTest, NullGradientStillCountsAsTouchedForAdam) {
  EngineSpec spec = TfFixtureSpec(EMBRT_OPTIMIZER_ADAM);
  CpuEngine engine(spec);
  // Momenta 1 and velocities 1 everywhere.
  ASSERT_TRUE(engine.Load(0, 0, {RowMajor(8, 4), Filled(8, 4, 1), Filled(8, 4, 1)}).ok());
  ASSERT_TRUE(engine.Load(1, 0, {RowMajor(16, 2), Filled(16, 2, 1), Filled(16, 2, 1)}).ok());
  TrainStep(engine, TfFixtureInputs(), [](const auto&) {
    return std::vector<std::vector<float>>{{}, {}, {}};
  });
  const Tables after = engine.RetrieveAll();
  const float m = 0.9f * 1.0f + (1.0f - 0.9f) * 0.0f;
  const float v = 0.999f * 1.0f + (1.0f - 0.999f) * 0.0f * 0.0f;
  EXPECT_EQ(after[0][1][0], m);  // video row 0 touched: momentum decays
  EXPECT_EQ(after[0][2][0], v);
  EXPECT_EQ(after[0][0][0], 0.0f - 0.1f * m / std::sqrt(v + 1e-7f * 1e-7f));
  EXPECT_EQ(after[0][1][2 * 4], 1.0f);  // video row 2 untouched (lazy Adam)
  EXPECT_EQ(after[1][1][2 * 4], 1.0f);  // user row 4 untouched
}

TEST(CpuTrainingTest, SequenceTrainingIgnoresPadding) {
  // §5.6: watched L=2, favorited L=2, friends L=3; gradient ones everywhere (padding included).
  EngineSpec spec = TfFixtureSpec(EMBRT_OPTIMIZER_SGD);
  spec.features[0].max_sequence_length = 2;
  spec.features[1].max_sequence_length = 2;
  spec.features[2].max_sequence_length = 3;
  CpuEngine engine(spec);
  ASSERT_TRUE(LoadTfFixtureTables(engine).ok());
  const Tables before = engine.RetrieveAll();
  TrainStep(engine, TfFixtureInputs(), [](const std::vector<std::vector<float>>& a) {
    std::vector<std::vector<float>> g;
    for (const auto& x : a) g.emplace_back(x.size(), 1.0f);
    return g;
  });
  const Tables after = engine.RetrieveAll();
  // video rows 0 and 1 occur 6 times each: 6 * 0.1 = 0.6 (sum of six ones first).
  for (int64_t row : {0, 1}) {
    for (int d = 0; d < 4; ++d) {
      EXPECT_EQ(after[0][0][row * 4 + d], before[0][0][row * 4 + d] - 0.1f * 6.0f);
    }
  }
  EXPECT_EQ(Row(after, 0, 0, 2, 4), Row(before, 0, 0, 2, 4));
  for (int64_t row : {0, 1, 2, 3}) {
    for (int d = 0; d < 2; ++d) {
      EXPECT_EQ(after[1][0][row * 2 + d], before[1][0][row * 2 + d] - 0.1f * 2.0f);
    }
  }
  EXPECT_EQ(Row(after, 1, 0, 4, 2), Row(before, 1, 0, 4, 2));
}

TEST(CpuTrainingTest, DynamicLearningRateFromReplicaZero) {
  // §5.6 test_variable_learning_rate with one replica: lr = max(0.5, 1 - 0.05 step).
  EngineSpec spec;
  TableSpec table;
  table.vocabulary_size = 1;
  table.dim = 4;
  table.learning_rate = 123.0f;  // ignored: the tag wins
  table.learning_rate_tag = 0;
  spec.tables = {table};
  spec.features = {{"f", 0, 0, 1}};
  spec.num_learning_rate_tags = 1;
  CpuEngine engine(spec);
  ASSERT_TRUE(engine.ok()) << engine.create_result().message;
  const std::vector<float> want = {0,     -1.0f,  -1.95f, -2.85f, -3.7f,
                                   -4.5f, -5.25f, -5.95f, -6.6f,  -7.2f};
  float expected = 0.0f;
  for (int step = 0; step < 10; ++step) {
    ASSERT_TRUE(engine.Enqueue(0, {Bags({{0}})}).ok());
    std::vector<std::vector<float>> a;
    ASSERT_TRUE(engine.Recv(0, &a).ok());
    EXPECT_EQ(a[0], std::vector<float>(4, expected)) << "step " << step;
    EXPECT_NEAR(a[0][0], want[step], 1e-5) << "step " << step;
    const float lr = std::max(0.5f, 1.0f - 0.05f * step);
    ASSERT_TRUE(engine.Send(0, {std::vector<float>(4, 1.0f)}, {lr}).ok());
    expected = expected - lr * 1.0f;
  }
}

TEST(CpuTrainingTest, GradientClippingThenWeightDecayThenUpdateThenWeightClipping) {
  for (bool times_lr : {false, true}) {
    EngineSpec spec = TfFixtureSpec(EMBRT_OPTIMIZER_SGD);
    for (auto& t : spec.tables) {
      t.clip_gradient_min = -1.0f;
      t.clip_gradient_max = 10.0f;
      t.weight_decay_factor = 0.25f;
      t.multiply_weight_decay_factor_by_learning_rate = times_lr;
      t.clip_weight_min = 0.5f;
      t.clip_weight_max = 5.0f;
    }
    CpuEngine engine(spec);
    ASSERT_TRUE(LoadTfFixtureTables(engine).ok());
    const Tables before = engine.RetrieveAll();
    const std::vector<Input> inputs = TfFixtureInputs();
    std::vector<std::vector<float>> gradients;
    TrainStep(engine, inputs, [&](const std::vector<std::vector<float>>& a) {
      gradients = HalfOf(a);
      return gradients;
    });
    const Tables after = engine.RetrieveAll();
    const RowGradients g = CanonicalRowGradients(spec, {inputs}, {gradients});
    const float decay = times_lr ? 0.25f * 0.1f : 0.25f;
    for (int t = 0; t < 2; ++t) {
      const int dim = spec.tables[t].dim;
      for (int64_t row = 0; row < spec.tables[t].vocabulary_size; ++row) {
        auto it = g.find({t, row});
        for (int d = 0; d < dim; ++d) {
          float w = before[t][0][row * dim + d];
          if (it != g.end()) {
            const float clipped = std::min(std::max(it->second[d], -1.0f), 10.0f);
            w = w - decay * w;
            w = w - 0.1f * clipped;
            w = std::min(std::max(w, 0.5f), 5.0f);
          }
          EXPECT_EQ(after[t][0][row * dim + d], w) << "t " << t << " row " << row << " d " << d;
        }
      }
    }
  }
}

TEST(CpuTrainingTest, NonLazyAdamUpdatesEveryRow) {
  EngineSpec spec = TfFixtureSpec(EMBRT_OPTIMIZER_ADAM);
  for (auto& t : spec.tables) t.hyperparameters = {{"lazy_adam", 0.0f}};
  CpuEngine engine(spec);
  ASSERT_TRUE(engine.ok()) << engine.create_result().message;
  ASSERT_TRUE(engine.Load(0, 0, {RowMajor(8, 4), Filled(8, 4, 1), Filled(8, 4, 1)}).ok());
  ASSERT_TRUE(engine.Load(1, 0, {RowMajor(16, 2), Filled(16, 2, 1), Filled(16, 2, 1)}).ok());
  TrainStep(engine, TfFixtureInputs(),
            [](const std::vector<std::vector<float>>& a) { return HalfOf(a); });
  const Tables after = engine.RetrieveAll();
  // Untouched video row 5: g = 0, m and v decay, w moves.
  const float m = 0.9f * 1.0f + (1.0f - 0.9f) * 0.0f;
  const float v = 0.999f * 1.0f + (1.0f - 0.999f) * 0.0f * 0.0f;
  EXPECT_EQ(after[0][1][5 * 4], m);
  EXPECT_EQ(after[0][2][5 * 4], v);
  EXPECT_EQ(after[0][0][5 * 4], 20.0f - 0.1f * m / std::sqrt(v + 1e-7f * 1e-7f));
  EXPECT_EQ(after[1][1][15 * 2 + 1], m);
}

TEST(CpuTrainingTest, AccumulationOffAppliesEachContributionInCanonicalOrder) {
  EngineSpec spec;
  TableSpec table;
  table.vocabulary_size = 4;
  table.dim = 2;
  table.optimizer = EMBRT_OPTIMIZER_ADAGRAD;
  table.use_gradient_accumulation = false;
  spec.tables = {table};
  spec.features = {{"a", 0, 0, 2}, {"b", 0, 0, 1}};
  CpuEngine engine(spec);
  ASSERT_TRUE(engine.ok());
  ASSERT_TRUE(engine.Load(0, 0, {RowMajor(4, 2), Filled(4, 2, 0.1f)}).ok());
  // Row 1 gets, in order: feature a bag 0 (g 1, 2), feature a bag 1 (g 3, 4), feature b (5, 6).
  TrainStep(engine, {Bags({{1}, {1}}), Bags({{1}})}, [](const auto&) {
    return std::vector<std::vector<float>>{{1, 2, 3, 4}, {5, 6}};
  });
  const Tables after = engine.RetrieveAll();
  for (int d = 0; d < 2; ++d) {
    float w = 2.0f + d, a = 0.1f;
    for (float g : {1.0f + d, 3.0f + d, 5.0f + d}) {
      a = a + g * g;
      w = w - 0.1f * g / std::sqrt(a);
    }
    EXPECT_EQ(after[0][0][2 + d], w);
    EXPECT_EQ(after[0][1][2 + d], a);
  }
}

TEST(CpuTrainingTest, TwoReplicasSumInReplicaOrder) {
  // §5.1 as TF runs it: R = 2, B = 2, gradient a / 2 per replica.
  EngineSpec spec = TfFixtureSpec(EMBRT_OPTIMIZER_ADAGRAD);
  for (auto& f : spec.features) f.input_rows = 2;
  spec.num_replicas = 2;
  spec.options = {{"threads", "2"}};
  CpuEngine engine(spec);
  ASSERT_TRUE(engine.ok()) << engine.create_result().message;
  ASSERT_TRUE(LoadTfFixtureTables(engine).ok());
  const Tables before = engine.RetrieveAll();
  const std::vector<std::vector<Input>> inputs = {
      {Bags({{0}, {0, 1}}), Bags({{0, 1}, {1}}), Bags({{3}, {0, 1, 2}})},
      {Bags({{0, 1}, {1}}), Bags({{0}, {0, 1}}), Bags({{3}, {0, 1, 2}})}};
  std::vector<std::vector<std::vector<float>>> gradients(2);
  for (int r = 0; r < 2; ++r) ASSERT_TRUE(engine.Enqueue(r, inputs[r]).ok());
  for (int r = 0; r < 2; ++r) {
    std::vector<std::vector<float>> a;
    ASSERT_TRUE(engine.Recv(r, &a).ok());
    gradients[r] = HalfOf(a);
  }
  for (int r = 0; r < 2; ++r) ASSERT_TRUE(engine.Send(r, gradients[r]).ok());
  const Tables after = engine.RetrieveAll();
  const RowGradients g = CanonicalRowGradients(spec, inputs, gradients);
  for (int t = 0; t < 2; ++t) {
    const int dim = spec.tables[t].dim;
    for (int64_t row = 0; row < spec.tables[t].vocabulary_size; ++row) {
      auto it = g.find({t, row});
      for (int d = 0; d < dim; ++d) {
        float w = before[t][0][row * dim + d], a = before[t][1][row * dim + d];
        if (it != g.end()) {
          a = a + it->second[d] * it->second[d];
          w = w - 0.1f * it->second[d] / std::sqrt(a);
        }
        EXPECT_EQ(after[t][0][row * dim + d], w);
        EXPECT_EQ(after[t][1][row * dim + d], a);
      }
    }
  }
  // And TF's numbers (§5.4, Adagrad).
  EXPECT_NEAR(after[0][0][0], -0.09992197f, 1e-6);
  EXPECT_NEAR(after[0][1][3], 529.1f, 1e-4);
  EXPECT_NEAR(after[1][0][6], 5.900139f, 1e-5);
}

// Replica 0 runs a step ahead: it enqueues step 1 before replica 1 has sent step 0.
std::vector<float> StaleOrFreshLookup(bool pipelining) {
  EngineSpec spec;
  TableSpec table;
  table.vocabulary_size = 2;
  table.dim = 1;
  spec.tables = {table};
  spec.features = {{"f", 0, 0, 1}};
  spec.num_replicas = 2;
  spec.pipeline_execution = pipelining;
  CpuEngine engine(spec);
  EXPECT_TRUE(engine.Load(0, 0, {{10.0f, 20.0f}}).ok());
  std::vector<std::vector<float>> a;
  EXPECT_TRUE(engine.Enqueue(0, {Bags({{0}})}).ok());
  EXPECT_TRUE(engine.Enqueue(1, {Bags({{0}})}).ok());
  EXPECT_TRUE(engine.Recv(0, &a).ok());
  EXPECT_TRUE(engine.Recv(1, &a).ok());
  EXPECT_TRUE(engine.Send(0, {{1.0f}}).ok());
  EXPECT_TRUE(engine.Enqueue(0, {Bags({{0}})}).ok());  // step 1, before replica 1 sent step 0
  EXPECT_TRUE(engine.Send(1, {{2.0f}}).ok());          // completes step 0: update runs
  EXPECT_TRUE(engine.Recv(0, &a).ok());
  return a[0];
}

TEST(CpuTrainingTest, PipeliningOffWaitsForThePendingUpdate) {
  EXPECT_EQ(StaleOrFreshLookup(false), (std::vector<float>{10.0f - 0.1f * 3.0f}));
}

TEST(CpuTrainingTest, PipeliningOnReadsTablesAsOfEnqueue) {
  EXPECT_EQ(StaleOrFreshLookup(true), (std::vector<float>{10.0f}));
}

// With pipelining on, step k's lookup reads the tables after exactly the updates of steps < k-1,
// even in lockstep, where every gradient of step k-1 was sent before step k was enqueued.
TEST(CpuTrainingTest, PipeliningOnIsExactlyOneStepStaleInLockstep) {
  for (bool pipelining : {false, true}) {
    EngineSpec spec;
    TableSpec table;
    table.vocabulary_size = 2;
    table.dim = 1;
    spec.tables = {table};
    spec.features = {{"f", 0, 0, 1}};
    spec.num_replicas = 2;
    spec.pipeline_execution = pipelining;
    CpuEngine engine(spec);
    ASSERT_TRUE(engine.Load(0, 0, {{10.0f, 20.0f}}).ok());
    std::vector<std::vector<float>> a;
    std::vector<float> seen;
    for (int step = 0; step < 3; ++step) {
      for (int r = 0; r < 2; ++r) ASSERT_TRUE(engine.Enqueue(r, {Bags({{0}})}).ok());
      for (int r = 0; r < 2; ++r) ASSERT_TRUE(engine.Recv(r, &a).ok());
      seen.push_back(a[0][0]);
      for (int r = 0; r < 2; ++r) ASSERT_TRUE(engine.Send(r, {{1.0f}}).ok());
    }
    // Each update subtracts 0.1 * (1 + 1).
    const std::vector<float> expected =
        pipelining ? std::vector<float>{10.0f, 10.0f, 10.0f - 0.2f}
                   : std::vector<float>{10.0f, 10.0f - 0.2f, 10.0f - 0.2f - 0.2f};
    EXPECT_EQ(seen, expected) << "pipelining " << pipelining;
    // Synchronize applies the held-back update: nothing is lost.
    ASSERT_TRUE(engine.Synchronize().ok());
    std::vector<std::vector<float>> slots;
    ASSERT_TRUE(engine.Retrieve(0, &slots).ok());
    EXPECT_EQ(slots[0][0], 10.0f - 0.2f - 0.2f - 0.2f);
  }
}

// Two replicas on their own threads with pipelining on, random delays between their calls: the
// tables depend on the call order of each replica only, never on timing or thread count.
Tables PipelinedTwoReplicaTraining(bool own_threads, int pool_threads, uint64_t seed) {
  EngineSpec spec;
  TableSpec table;
  table.vocabulary_size = 32;
  table.dim = 8;
  table.optimizer = EMBRT_OPTIMIZER_ADAGRAD;
  table.combiner = EMBRT_COMBINER_MEAN;
  spec.tables = {table};
  spec.features = {{"f", 0, 0, 4}};
  spec.num_replicas = 2;
  spec.pipeline_execution = true;
  spec.options = {{"threads", std::to_string(pool_threads)}};
  CpuEngine engine(spec);
  EXPECT_TRUE(engine.Load(0, 0, {RowMajor(32, 8, 0.5f), Filled(32, 8, 0.1f)}).ok());
  constexpr int kSteps = 12;
  auto inputs_of = [](int replica, int step) {
    std::vector<std::vector<int64_t>> bags(4);
    for (int b = 0; b < 4; ++b) {
      for (int k = 0; k <= b; ++k) bags[b].push_back((replica * 7 + step * 3 + b * 5 + k) % 32);
    }
    return std::vector<Input>{Bags(bags)};
  };
  // The gradient depends on the activations, so a lookup that read other tables changes it.
  auto gradient_of = [](const std::vector<std::vector<float>>& a) {
    std::vector<std::vector<float>> g = a;
    for (float& x : g[0]) x = x * 0.125f - 1.0f;
    return g;
  };
  if (own_threads) {
    std::vector<std::thread> threads;
    for (int r = 0; r < 2; ++r) {
      threads.emplace_back([&, r] {
        std::mt19937_64 random(seed * 2 + r);
        auto jitter = [&] {
          std::this_thread::sleep_for(std::chrono::microseconds(random() % 300));
        };
        for (int step = 0; step < kSteps; ++step) {
          jitter();
          EXPECT_TRUE(engine.Enqueue(r, inputs_of(r, step)).ok());
          std::vector<std::vector<float>> a;
          EXPECT_TRUE(engine.Recv(r, &a).ok());
          jitter();
          EXPECT_TRUE(engine.Send(r, gradient_of(a)).ok());
        }
      });
    }
    for (std::thread& t : threads) t.join();
  } else {
    for (int step = 0; step < kSteps; ++step) {
      std::vector<std::vector<std::vector<float>>> a(2);
      for (int r = 0; r < 2; ++r) EXPECT_TRUE(engine.Enqueue(r, inputs_of(r, step)).ok());
      for (int r = 0; r < 2; ++r) EXPECT_TRUE(engine.Recv(r, &a[r]).ok());
      for (int r = 0; r < 2; ++r) EXPECT_TRUE(engine.Send(r, gradient_of(a[r])).ok());
    }
  }
  EXPECT_TRUE(engine.Synchronize().ok());
  return engine.RetrieveAll();
}

TEST(CpuTrainingTest, PipeliningIsBitIdenticalAcrossRunsTimingAndThreadCounts) {
  const Tables lockstep = PipelinedTwoReplicaTraining(false, 1, 0);
  for (uint64_t run = 0; run < 12; ++run) {
    const int pool_threads = 1 + static_cast<int>(run % 3);
    EXPECT_EQ(PipelinedTwoReplicaTraining(true, pool_threads, run), lockstep)
        << "run " << run << ", threads " << pool_threads;
  }
}

// A lookup above the inline size is run by its RecvActivations when the host dequeues at once,
// and by the device thread (then copied) after a host that came late: the same bits either way,
// and whatever the order in which the two alternate.
std::pair<std::vector<std::vector<float>>, Tables> TrainWithDequeueDelays(
    bool pipelining, const std::vector<int>& delays_us) {
  EngineSpec spec;
  TableSpec table;
  table.name = "t";
  table.vocabulary_size = 4096;
  table.dim = 8;
  table.optimizer = EMBRT_OPTIMIZER_ADAGRAD;
  spec.tables = {table};
  spec.features = {{"f", 0, 0, 2048}};
  spec.pipeline_execution = pipelining;
  spec.options = {{"threads", "2"}};
  CpuEngine engine(spec);
  EXPECT_TRUE(engine.Load(0, 0, {RowMajor(4096, 8, 0.25f), Filled(4096, 8, 0.1f)}).ok());
  std::vector<std::vector<float>> activations;  // every step's, one after another
  for (size_t step = 0; step < delays_us.size(); ++step) {
    std::vector<std::vector<int64_t>> bags(2048);  // about 4096 ids: queued, not run inline
    for (int b = 0; b < 2048; ++b) {
      for (int k = 0; k <= (b + static_cast<int>(step)) % 3; ++k) {
        bags[b].push_back((b * 37 + static_cast<int64_t>(step) * 101 + k * 7) % 4096);
      }
    }
    EXPECT_TRUE(engine.Enqueue(0, {Bags(bags)}).ok());
    std::this_thread::sleep_for(std::chrono::microseconds(delays_us[step]));
    std::vector<std::vector<float>> a;
    EXPECT_TRUE(engine.Recv(0, &a).ok());
    std::vector<std::vector<float>> g = a;
    for (float& x : g[0]) x = x * 0.125f - 0.5f;
    EXPECT_TRUE(engine.Send(0, g).ok());
    activations.push_back(a[0]);
  }
  EXPECT_TRUE(engine.Synchronize().ok());
  return {activations, engine.RetrieveAll()};
}

TEST(CpuTrainingTest, LookupsRunByTheCallerOrInTheBackgroundGiveTheSameBits) {
  for (bool pipelining : {false, true}) {
    const auto prompt = TrainWithDequeueDelays(pipelining, std::vector<int>(8, 0));
    EXPECT_NE(prompt.second[0][0], RowMajor(4096, 8, 0.25f));  // it trained
    const auto mixed =
        TrainWithDequeueDelays(pipelining, {0, 3000, 3000, 0, 3000, 0, 0, 3000});
    EXPECT_EQ(mixed.first, prompt.first) << "pipelining " << pipelining;
    EXPECT_EQ(mixed.second, prompt.second) << "pipelining " << pipelining;
  }
}

// Replicas driven from their own threads (a replica may run a step ahead and wait in
// SendGradients) give the same bits as the lockstep loop when pipelining is off.
Tables ThreeReplicaTraining(bool own_threads) {
  EngineSpec spec = TfFixtureSpec(EMBRT_OPTIMIZER_ADAM);
  spec.num_replicas = 3;
  spec.options = {{"threads", "2"}};
  CpuEngine engine(spec);
  EXPECT_TRUE(LoadTfFixtureTables(engine).ok());
  const std::vector<Input> inputs = TfFixtureInputs();
  auto gradient_of = [](int replica, const std::vector<std::vector<float>>& a) {
    std::vector<std::vector<float>> g = a;
    for (auto& v : g) {
      for (float& x : v) x = x * 0.25f + static_cast<float>(replica);
    }
    return g;
  };
  constexpr int kSteps = 5;
  if (own_threads) {
    std::vector<std::thread> threads;
    for (int r = 0; r < 3; ++r) {
      threads.emplace_back([&, r] {
        for (int step = 0; step < kSteps; ++step) {
          EXPECT_TRUE(engine.Enqueue(r, inputs).ok());
          std::vector<std::vector<float>> a;
          EXPECT_TRUE(engine.Recv(r, &a).ok());
          EXPECT_TRUE(engine.Send(r, gradient_of(r, a)).ok());
        }
      });
    }
    for (std::thread& t : threads) t.join();
  } else {
    for (int step = 0; step < kSteps; ++step) {
      std::vector<std::vector<std::vector<float>>> a(3);
      for (int r = 0; r < 3; ++r) EXPECT_TRUE(engine.Enqueue(r, inputs).ok());
      for (int r = 0; r < 3; ++r) EXPECT_TRUE(engine.Recv(r, &a[r]).ok());
      for (int r = 0; r < 3; ++r) EXPECT_TRUE(engine.Send(r, gradient_of(r, a[r])).ok());
    }
  }
  EXPECT_TRUE(engine.Synchronize().ok());
  return engine.RetrieveAll();
}

TEST(CpuTrainingTest, ReplicasOnTheirOwnThreadsMatchLockstep) {
  const Tables lockstep = ThreeReplicaTraining(false);
  EXPECT_NE(lockstep[0][0][0], 0.0f);  // video row 0 started at 0 and was trained
  for (int run = 0; run < 3; ++run) EXPECT_EQ(ThreeReplicaTraining(true), lockstep);
}

// Tables above 2^21 rows number their rows with a hash instead of a dense map.
TEST(CpuTrainingTest, LargeTablesUseHashedRowGroupingWithTheSameMath) {
  EngineSpec spec;
  TableSpec sgd;
  sgd.name = "sgd";
  sgd.vocabulary_size = (int64_t{1} << 21) + 12345;
  sgd.dim = 2;
  sgd.combiner = EMBRT_COMBINER_MEAN;
  TableSpec adam = sgd;
  adam.name = "adam";
  adam.optimizer = EMBRT_OPTIMIZER_ADAM;
  adam.hyperparameters = {{"lazy_adam", 0.0f}};
  spec.tables = {sgd, adam};
  spec.features = {{"s", 0, 0, 300}, {"a", 1, 0, 300}, {"s2", 0, 0, 50}};
  spec.num_replicas = 2;
  spec.options = {{"threads", "3"}};
  CpuEngine engine(spec);
  ASSERT_TRUE(engine.ok()) << engine.create_result().message;
  const int64_t rows = sgd.vocabulary_size;
  ASSERT_TRUE(engine.Load(0, 0, {RowMajor(rows, 2, -1000.0f)}).ok());
  ASSERT_TRUE(
      engine.Load(1, 0, {RowMajor(rows, 2, 5.0f), Filled(rows, 2, 0.5f), Filled(rows, 2, 2.0f)})
          .ok());
  std::mt19937_64 random(3);
  std::vector<std::vector<Input>> inputs(2);
  for (int r = 0; r < 2; ++r) {
    for (const FeatureSpec& fs : spec.features) {
      std::vector<std::vector<int64_t>> bags(fs.input_rows);
      for (auto& bag : bags) {
        for (int k = static_cast<int>(random() % 4); k > 0; --k) {
          // Half the ids from a few hot rows, half anywhere (the last rows included).
          bag.push_back(random() % 2 ? static_cast<int64_t>(random() % 7) * 300007 % rows
                                     : rows - 1 - static_cast<int64_t>(random() % rows));
        }
      }
      inputs[r].push_back(Bags(bags));
    }
  }
  std::vector<std::vector<std::vector<float>>> gradients(2);
  for (int r = 0; r < 2; ++r) ASSERT_TRUE(engine.Enqueue(r, inputs[r]).ok());
  for (int r = 0; r < 2; ++r) {
    std::vector<std::vector<float>> a;
    ASSERT_TRUE(engine.Recv(r, &a).ok());
    for (auto& v : a) {
      for (float& x : v) x = x * 1e-3f + static_cast<float>(r + 1);
    }
    gradients[r] = a;
  }
  for (int r = 0; r < 2; ++r) ASSERT_TRUE(engine.Send(r, gradients[r]).ok());
  const Tables after = engine.RetrieveAll();
  const RowGradients g = CanonicalRowGradients(spec, inputs, gradients);
  int touched[2] = {0, 0};
  for (const auto& [key, grad] : g) {
    const auto [t, row] = key;
    ++touched[t];
    for (int d = 0; d < 2; ++d) {
      const size_t i = row * 2 + d;
      if (t == 0) {
        EXPECT_EQ(after[0][0][i], (-1000.0f + static_cast<float>(i)) - 0.1f * grad[d]) << row;
      } else {
        const float m = 0.9f * 0.5f + (1.0f - 0.9f) * grad[d];
        const float v = 0.999f * 2.0f + (1.0f - 0.999f) * grad[d] * grad[d];
        EXPECT_EQ(after[1][1][i], m) << row;
        EXPECT_EQ(after[1][2][i], v) << row;
        EXPECT_EQ(after[1][0][i],
                  (5.0f + static_cast<float>(i)) - 0.1f * m / std::sqrt(v + 1e-7f * 1e-7f))
            << row;
      }
    }
  }
  EXPECT_GT(touched[0], 100);
  EXPECT_GT(touched[1], 100);
  // Untouched rows: SGD keeps them; non-lazy Adam decays them with g = 0.
  for (int64_t row : {int64_t{1}, rows / 2 + 1, rows - 2}) {
    if (g.count({0, row}) == 0) {
      EXPECT_EQ(after[0][0][row * 2], -1000.0f + row * 2.0f);
    }
    if (g.count({1, row}) == 0) {
      EXPECT_EQ(after[1][1][row * 2], 0.9f * 0.5f + (1.0f - 0.9f) * 0.0f);
    }
  }
}

// Random multi-table, multi-feature training; returns every slot and every activation.
struct RunResult {
  Tables tables;
  std::vector<std::vector<float>> activations;
};
RunResult RandomTraining(int threads, int64_t load_chunk) {
  EngineSpec spec;
  TableSpec adam;
  adam.name = "adam";
  adam.vocabulary_size = 3000;
  adam.dim = 16;
  adam.combiner = EMBRT_COMBINER_MEAN;
  adam.optimizer = EMBRT_OPTIMIZER_ADAM;
  TableSpec adagrad = adam;
  adagrad.name = "adagrad";
  adagrad.vocabulary_size = 500;
  adagrad.dim = 5;
  adagrad.combiner = EMBRT_COMBINER_SQRTN;
  adagrad.optimizer = EMBRT_OPTIMIZER_ADAGRAD;
  adagrad.learning_rate_tag = 0;
  TableSpec ftrl = adam;
  ftrl.name = "ftrl";
  ftrl.vocabulary_size = 100;
  ftrl.dim = 8;
  ftrl.combiner = EMBRT_COMBINER_SUM;
  ftrl.optimizer = EMBRT_OPTIMIZER_FTRL;
  spec.tables = {adam, adagrad, ftrl};
  spec.features = {{"a0", 0, 0, 700}, {"b0", 1, 0, 700}, {"a1", 0, 3, 700}, {"c0", 2, 0, 700}};
  spec.num_replicas = 2;
  spec.num_learning_rate_tags = 1;
  spec.options = {{"threads", std::to_string(threads)}};
  CpuEngine engine(spec);
  EXPECT_TRUE(engine.ok()) << engine.create_result().message;
  std::mt19937 random(42);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  for (int t = 0; t < 3; ++t) {
    const TableSpec& ts = spec.tables[t];
    std::vector<std::vector<float>> slots(SlotCount(ts.optimizer),
                                          std::vector<float>(ts.vocabulary_size * ts.dim));
    for (size_t s = 0; s < slots.size(); ++s) {
      for (float& x : slots[s]) x = s == 0 ? uniform(random) : 0.1f + std::fabs(uniform(random));
    }
    for (int64_t begin = 0; begin < ts.vocabulary_size; begin += load_chunk) {
      const int64_t end = std::min(ts.vocabulary_size, begin + load_chunk);
      std::vector<std::vector<float>> chunk;
      for (const auto& s : slots) {
        chunk.emplace_back(s.begin() + begin * ts.dim, s.begin() + end * ts.dim);
      }
      EXPECT_TRUE(engine.Load(t, begin, chunk).ok());
    }
  }
  RunResult result;
  for (int step = 0; step < 4; ++step) {
    std::vector<std::vector<Input>> inputs(2);
    for (int r = 0; r < 2; ++r) {
      for (const FeatureSpec& fs : spec.features) {
        const int64_t vocab = spec.tables[fs.table].vocabulary_size;
        // Zipf-like ids so rows repeat within and across replicas.
        std::vector<std::vector<int64_t>> bags(fs.input_rows);
        std::vector<std::vector<float>> weights(fs.input_rows);
        for (auto& bag : bags) {
          const int n = fs.max_sequence_length > 0
                            ? static_cast<int>(random() % (fs.max_sequence_length + 1))
                            : static_cast<int>(random() % 6);
          for (int k = 0; k < n; ++k) {
            const double u = std::uniform_real_distribution<double>(0, 1)(random);
            bag.push_back(static_cast<int64_t>(std::pow(u, 3.0) * vocab) % vocab);
          }
        }
        for (size_t b = 0; b < bags.size(); ++b) {
          for (size_t k = 0; k < bags[b].size(); ++k) weights[b].push_back(uniform(random));
        }
        inputs[r].push_back(fs.max_sequence_length > 0 ? Bags(bags) : Bags(bags, weights));
      }
    }
    std::vector<std::vector<std::vector<float>>> gradients(2);
    for (int r = 0; r < 2; ++r) EXPECT_TRUE(engine.Enqueue(r, inputs[r]).ok());
    for (int r = 0; r < 2; ++r) {
      std::vector<std::vector<float>> a;
      EXPECT_TRUE(engine.Recv(r, &a).ok());
      for (auto& v : a) {
        result.activations.push_back(v);
        for (float& x : v) x = x * 0.5f + uniform(random);
      }
      gradients[r] = a;
    }
    const float lr = 0.05f * (step + 1);
    for (int r = 0; r < 2; ++r) EXPECT_TRUE(engine.Send(r, gradients[r], {lr}).ok());
  }
  // Retrieve in odd-sized chunks.
  result.tables.resize(3);
  for (int t = 0; t < 3; ++t) {
    const TableSpec& ts = spec.tables[t];
    result.tables[t].assign(SlotCount(ts.optimizer), {});
    for (int64_t begin = 0; begin < ts.vocabulary_size; begin += load_chunk + 3) {
      const int64_t count = std::min(ts.vocabulary_size - begin, load_chunk + 3);
      std::vector<std::vector<float>> chunk;
      EXPECT_TRUE(engine.Retrieve(t, &chunk, begin, count).ok());
      for (size_t s = 0; s < chunk.size(); ++s) {
        result.tables[t][s].insert(result.tables[t][s].end(), chunk[s].begin(), chunk[s].end());
      }
    }
  }
  return result;
}

bool BitwiseEqual(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

TEST(CpuTrainingTest, BitIdenticalForAnyThreadCountAndChunking) {
  const RunResult one = RandomTraining(1, 1000000);
  for (auto [threads, chunk] : {std::pair<int, int64_t>{2, 7}, {8, 64}, {3, 1}}) {
    const RunResult other = RandomTraining(threads, chunk);
    ASSERT_EQ(other.activations.size(), one.activations.size());
    for (size_t i = 0; i < one.activations.size(); ++i) {
      EXPECT_TRUE(BitwiseEqual(one.activations[i], other.activations[i]))
          << "activation " << i << " with " << threads << " threads";
    }
    for (size_t t = 0; t < one.tables.size(); ++t) {
      for (size_t s = 0; s < one.tables[t].size(); ++s) {
        EXPECT_TRUE(BitwiseEqual(one.tables[t][s], other.tables[t][s]))
            << "table " << t << " slot " << s << " with " << threads << " threads, chunk " << chunk;
      }
    }
  }
  // The run did train: parameters moved.
  EXPECT_GT(one.tables[0][1].size(), 0u);
}

// A large LoadTableShard is split among the workers (at least 128 KiB each): every row lands
// where it belongs, bit for bit (NaN payloads, -0), rows outside the range stay as they were,
// for any thread count and split (uneven parts, several slots, a range not starting at 0).
TEST(CpuTrainingTest, LargeLoadsSplitAmongWorkersAreBitExact) {
  constexpr int64_t kVocabulary = 20011;
  constexpr int32_t kDim = 7;  // 2 slots x 28 bytes: 2341 rows per 128 KiB part
  constexpr int64_t kBegin = 3, kCount = 15001;
  std::vector<std::vector<float>> slots(2, std::vector<float>(kCount * kDim));
  std::mt19937 random(5);
  for (auto& slot : slots) {
    for (float& v : slot) v = std::uniform_real_distribution<float>(-2.0f, 2.0f)(random);
  }
  slots[0][11] = -0.0f;
  const uint32_t nan_bits = 0x7FC0BEEFu;
  std::memcpy(&slots[1][kCount * kDim - 1], &nan_bits, sizeof(nan_bits));
  for (int threads : {1, 2, 3, 8}) {
    EngineSpec spec;
    TableSpec table;
    table.vocabulary_size = kVocabulary;
    table.dim = kDim;
    table.optimizer = EMBRT_OPTIMIZER_ADAGRAD;
    spec.tables = {table};
    spec.features = {FeatureSpec{}};
    spec.options = {{"threads", std::to_string(threads)}};
    CpuEngine engine(spec);
    ASSERT_TRUE(engine.ok()) << engine.create_result().message;
    Result loaded = engine.Load(0, kBegin, slots);
    ASSERT_TRUE(loaded.ok()) << loaded.message;
    std::vector<std::vector<float>> all;
    ASSERT_TRUE(engine.Retrieve(0, &all).ok());
    for (int s = 0; s < 2; ++s) {
      std::vector<float> expected(kVocabulary * kDim, 0.0f);  // a new engine's tables are zeros
      std::copy(slots[s].begin(), slots[s].end(), expected.begin() + kBegin * kDim);
      EXPECT_TRUE(BitwiseEqual(all[s], expected)) << "slot " << s << ", " << threads << " threads";
    }
  }
}

}  // namespace
}  // namespace cpu_test
}  // namespace embrt
