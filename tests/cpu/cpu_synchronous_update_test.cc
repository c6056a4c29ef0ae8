// Copyright embrt authors.
//
// The update inside SendGradients (one replica, one host, no pipelining): it reads the caller's
// gradients, and under EMBRT_INPUT_LIFETIME_STEP the Enqueue's ids, in place. It must give the
// same bits as the deferred update, which copies both and runs after SendGradients returns (two
// replicas, the second with no ids: the same contributions in the same canonical order), for
// every optimizer and thread count; and a NaN or Inf gradient must still leave every table and
// slot as it was.

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "cpu_test_harness.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace embrt {
namespace cpu_test {
namespace {

using ::testing::HasSubstr;

// > 4096 ids: two owners with threads=2; > 2 * 65,536 gradient floats: the NaN/Inf check of
// gradients read in place runs on two workers with threads=2.
constexpr int64_t kClickBags = 9000;
constexpr int64_t kWeightedBags = 40;
constexpr int64_t kHistoryRows = 30;
constexpr int32_t kHistoryLength = 4;

struct Variant {
  EMBRT_OptimizerKind kind;
  bool lazy_adam = true;
  bool accumulate = true;
};

std::string Name(const Variant& v) {
  return "optimizer " + std::to_string(v.kind) + (v.lazy_adam ? "" : " non-lazy") +
         (v.accumulate ? "" : " per-contribution");
}

// Three tables: dim 16 (the fixed-dim kernels; a bag feature and a sequence feature), dim 3
// with a mean combiner and weights (gains; the generic loops), all with `v`'s optimizer.
EngineSpec Spec(const Variant& v, int32_t replicas, const char* threads) {
  EngineSpec spec;
  TableSpec wide;
  wide.name = "wide";
  wide.vocabulary_size = 700;
  wide.dim = 16;
  TableSpec narrow;
  narrow.name = "narrow";
  narrow.vocabulary_size = 50;
  narrow.dim = 3;
  narrow.combiner = EMBRT_COMBINER_MEAN;
  for (TableSpec* t : {&wide, &narrow}) {
    t->optimizer = v.kind;
    t->learning_rate = 0.05f;
    t->use_gradient_accumulation = v.accumulate;
    if (!v.lazy_adam) t->hyperparameters = {{"lazy_adam", 0.0f}};
  }
  spec.tables = {wide, narrow};
  spec.features = {{"clicks", 0, 0, kClickBags},
                   {"weighted", 1, 0, kWeightedBags},
                   {"history", 0, kHistoryLength, kHistoryRows}};
  spec.num_replicas = replicas;
  spec.options = {{"threads", threads}};
  return spec;
}

uint64_t Next(uint64_t* state) {
  *state = *state * 6364136223846793005ull + 1442695040888963407ull;
  return *state >> 33;
}

// Step `step`'s inputs: bags of 1 to 3 ids with repeats, weighted bags (some empty), sequences.
std::vector<Input> Inputs(int step) {
  uint64_t state = 12345 + step;
  std::vector<std::vector<int64_t>> clicks(kClickBags), weighted(kWeightedBags),
      history(kHistoryRows);
  std::vector<std::vector<float>> weights(kWeightedBags);
  for (auto& bag : clicks) {
    const int n = 1 + static_cast<int>(Next(&state) % 3);
    for (int k = 0; k < n; ++k) bag.push_back(static_cast<int64_t>(Next(&state) % 700));
  }
  for (int64_t b = 0; b < kWeightedBags; ++b) {
    const int n = static_cast<int>(Next(&state) % 4);
    for (int k = 0; k < n; ++k) {
      weighted[b].push_back(static_cast<int64_t>(Next(&state) % 50));
      weights[b].push_back(0.25f + static_cast<float>(Next(&state) % 8));
    }
  }
  for (auto& row : history) {
    const int n = static_cast<int>(Next(&state) % (kHistoryLength + 1));
    for (int k = 0; k < n; ++k) row.push_back(static_cast<int64_t>(Next(&state) % 700));
  }
  return {Bags(clicks), Bags(weighted, weights), Bags(history)};
}

// The same features with no ids at all (the idle second replica of the deferred engine).
std::vector<Input> NoInputs() {
  return {Bags(std::vector<std::vector<int64_t>>(kClickBags)),
          Bags(std::vector<std::vector<int64_t>>(kWeightedBags)),
          Bags(std::vector<std::vector<int64_t>>(kHistoryRows))};
}

std::vector<std::vector<float>> Gradients(const CpuEngine& engine, int step) {
  uint64_t state = 777 + step;
  std::vector<std::vector<float>> gradients;
  for (int f = 0; f < 3; ++f) {
    std::vector<float> g(engine.ActivationSize(f));
    for (float& x : g) x = (static_cast<float>(Next(&state) % 2001) - 1000.0f) / 997.0f;
    gradients.push_back(std::move(g));
  }
  gradients[1].clear();  // a NULL (zero) gradient for one feature
  return gradients;
}

void LoadStart(CpuEngine& engine, const Variant& v) {
  const int slots = SlotCount(v.kind);
  const int64_t rows[2] = {700, 50};
  const int32_t dims[2] = {16, 3};
  for (int t = 0; t < 2; ++t) {
    std::vector<std::vector<float>> values = {RowMajor(rows[t], dims[t], -3.0f)};
    for (float& x : values[0]) x *= 0.01f;
    for (int s = 1; s < slots; ++s) values.push_back(Filled(rows[t], dims[t], 0.1f));
    ASSERT_TRUE(engine.Load(t, 0, values).ok());
  }
}

// Three training steps; returns every step's activations (replica 0) and the final tables.
// `scribble`: once SendGradients returns, the host overwrites its ids and gradients (under
// STEP the step is complete then, so this must not change anything).
struct TrainingRun {
  std::vector<std::vector<std::vector<float>>> activations;
  std::vector<std::vector<std::vector<float>>> tables;
};
TrainingRun Train(const Variant& v, int32_t replicas, const char* threads, int32_t lifetime,
                  bool scribble) {
  CpuEngine engine(Spec(v, replicas, threads));
  EXPECT_TRUE(engine.ok()) << engine.create_result().message;
  LoadStart(engine, v);
  engine.set_input_lifetime(lifetime);
  TrainingRun run;
  for (int step = 0; step < 3; ++step) {
    std::vector<std::vector<Input>> inputs = {Inputs(step)};
    for (int32_t r = 1; r < replicas; ++r) inputs.push_back(NoInputs());
    for (int32_t r = 0; r < replicas; ++r) {
      EXPECT_TRUE(engine.Enqueue(r, inputs[r]).ok());
    }
    for (int32_t r = 0; r < replicas; ++r) {
      std::vector<std::vector<float>> activations;
      EXPECT_TRUE(engine.Recv(r, &activations).ok());
      if (r == 0) run.activations.push_back(activations);
    }
    for (int32_t r = 0; r < replicas; ++r) {
      std::vector<std::vector<float>> gradients =
          r == 0 ? Gradients(engine, step) : std::vector<std::vector<float>>(3);
      const Result sent = engine.Send(r, gradients);
      EXPECT_TRUE(sent.ok()) << sent.message;
      if (scribble) {
        for (Input& input : inputs[r]) {
          for (int64_t& id : input.ids) id = 1;
        }
        for (auto& g : gradients) {
          for (float& x : g) x = std::numeric_limits<float>::quiet_NaN();
        }
      }
    }
  }
  run.tables = engine.RetrieveAll();
  return run;
}

std::vector<Variant> Variants() {
  return {{EMBRT_OPTIMIZER_SGD},
          {EMBRT_OPTIMIZER_ADAGRAD},
          {EMBRT_OPTIMIZER_ADAGRAD, true, /*accumulate=*/false},
          {EMBRT_OPTIMIZER_ADAGRAD_MOMENTUM},
          {EMBRT_OPTIMIZER_ADAM},
          {EMBRT_OPTIMIZER_ADAM, /*lazy_adam=*/false},
          {EMBRT_OPTIMIZER_FTRL}};
}

bool SameBits(const std::vector<std::vector<std::vector<float>>>& a,
              const std::vector<std::vector<std::vector<float>>>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].size() != b[i].size()) return false;
    for (size_t j = 0; j < a[i].size(); ++j) {
      if (a[i][j].size() != b[i][j].size()) return false;
      for (size_t k = 0; k < a[i][j].size(); ++k) {
        uint32_t x, y;
        std::memcpy(&x, &a[i][j][k], 4);
        std::memcpy(&y, &b[i][j][k], 4);
        if (x != y) return false;
      }
    }
  }
  return true;
}

TEST(CpuSynchronousUpdateTest, InPlaceUpdateGivesTheDeferredUpdatesBits) {
  for (const Variant& v : Variants()) {
    for (const char* threads : {"1", "2"}) {
      SCOPED_TRACE(Name(v) + ", threads " + threads);
      // Two replicas: the update is deferred and reads copies.
      const TrainingRun deferred = Train(v, 2, threads, EMBRT_INPUT_LIFETIME_CALL, false);
      // One replica: the update runs inside SendGradients, gradients read in place; with STEP
      // the ids too, and the host scribbles over both once SendGradients has returned.
      const TrainingRun copied_ids = Train(v, 1, threads, EMBRT_INPUT_LIFETIME_CALL, true);
      const TrainingRun in_place = Train(v, 1, threads, EMBRT_INPUT_LIFETIME_STEP, true);
      EXPECT_TRUE(SameBits(copied_ids.tables, deferred.tables));
      EXPECT_TRUE(SameBits(in_place.tables, deferred.tables));
      ASSERT_EQ(deferred.activations.size(), 3u);
      for (size_t s = 0; s < 3; ++s) {
        EXPECT_TRUE(SameBits({copied_ids.activations[s]}, {deferred.activations[s]})) << s;
        EXPECT_TRUE(SameBits({in_place.activations[s]}, {deferred.activations[s]})) << s;
      }
      // The steps did train: the tables moved.
      CpuEngine fresh(Spec(v, 1, threads));
      LoadStart(fresh, v);
      EXPECT_FALSE(SameBits(in_place.tables, fresh.RetrieveAll()));
    }
  }
}

TEST(CpuSynchronousUpdateTest, NonFiniteGradientInPlaceChangesNothingAndNamesWhere) {
  for (const Variant& v : Variants()) {
    for (const char* threads : {"1", "2"}) {
      SCOPED_TRACE(Name(v) + ", threads " + threads);
      CpuEngine engine(Spec(v, 1, threads));
      ASSERT_TRUE(engine.ok());
      LoadStart(engine, v);
      engine.set_input_lifetime(EMBRT_INPUT_LIFETIME_STEP);
      std::vector<Input> inputs = Inputs(0);
      ASSERT_TRUE(engine.Enqueue(0, inputs).ok());
      std::vector<std::vector<float>> activations;
      ASSERT_TRUE(engine.Recv(0, &activations).ok());
      const std::vector<std::vector<std::vector<float>>> before = engine.RetrieveAll();
      std::vector<std::vector<float>> gradients = Gradients(engine, 0);
      // The last value of the first feature (every other row would be updated before it),
      // then one in the sequence feature.
      gradients[0].back() = std::numeric_limits<float>::quiet_NaN();
      Result sent = engine.Send(0, gradients);
      EXPECT_EQ(sent.code, EMBRT_CODE_INVALID_ARGUMENT);
      EXPECT_THAT(sent.message, HasSubstr("feature 'clicks'"));
      EXPECT_THAT(sent.message, HasSubstr("row " + std::to_string(kClickBags - 1)));
      EXPECT_THAT(sent.message, HasSubstr("column 15"));
      EXPECT_TRUE(SameBits(engine.RetrieveAll(), before));
      gradients = Gradients(engine, 0);
      gradients[2][(2 * kHistoryLength + 3) * 16 + 4] = -std::numeric_limits<float>::infinity();
      sent = engine.Send(0, gradients);
      EXPECT_EQ(sent.code, EMBRT_CODE_INVALID_ARGUMENT);
      EXPECT_THAT(sent.message, HasSubstr("feature 'history'"));
      EXPECT_THAT(sent.message, HasSubstr("row 2, position 3"));
      EXPECT_THAT(sent.message, HasSubstr("column 4"));
      EXPECT_TRUE(SameBits(engine.RetrieveAll(), before));
      gradients = Gradients(engine, 0);
      gradients[0][3] = std::numeric_limits<float>::infinity();  // the first worker's share
      sent = engine.Send(0, gradients);
      EXPECT_EQ(sent.code, EMBRT_CODE_INVALID_ARGUMENT);
      EXPECT_THAT(sent.message, HasSubstr("feature 'clicks'"));
      EXPECT_THAT(sent.message, HasSubstr("row 0, column 3"));
      EXPECT_TRUE(SameBits(engine.RetrieveAll(), before));
      // The step is still open: a good SendGradients applies exactly that step, although the
      // host reused its id and split arrays after the rejected calls had returned.
      for (Input& input : inputs) {
        for (int64_t& id : input.ids) id = 1;
        for (int32_t& split : input.row_splits) split = 0;
      }
      ASSERT_TRUE(engine.Send(0, Gradients(engine, 0)).ok());
      CpuEngine reference(Spec(v, 2, threads));
      LoadStart(reference, v);
      ASSERT_TRUE(reference.Enqueue(0, Inputs(0)).ok());
      ASSERT_TRUE(reference.Enqueue(1, NoInputs()).ok());
      ASSERT_TRUE(reference.Recv(0, &activations).ok());
      ASSERT_TRUE(reference.Recv(1, &activations).ok());
      ASSERT_TRUE(reference.Send(0, Gradients(reference, 0)).ok());
      ASSERT_TRUE(reference.Send(1, std::vector<std::vector<float>>(3)).ok());
      EXPECT_TRUE(SameBits(engine.RetrieveAll(), reference.RetrieveAll()));
    }
  }
}

}  // namespace
}  // namespace cpu_test
}  // namespace embrt
