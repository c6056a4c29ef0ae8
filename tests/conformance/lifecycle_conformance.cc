// Copyright embrt authors.
//
// Lifecycle and input conformance for every plugin: the order a single-threaded host drives
// replicas in, pipelining, calls while a step is open, non-finite gradients, the learning rates
// of replicas other than 0, weights (non-finite, negative, zero divisors, sequences) and the
// sequence positions of ABI 1.1. Checks compare a plugin with itself, so they hold whatever its
// optimizer math.

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <future>
#include <thread>

#include "canonical_fixture.h"
#include "conformance_suite.h"

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

OptimizerSpec AnyOptimizer(const Capabilities& caps, float learning_rate = 0.1f) {
  OptimizerSpec spec;
  spec.kind = caps.AnyOptimizer();
  spec.learning_rate = learning_rate;
  return spec;
}

// Every slot of every table, after Synchronize.
std::vector<std::vector<std::vector<float>>> AllTables(Engine& engine, std::string* failure) {
  std::vector<std::vector<std::vector<float>>> tables;
  CallResult result = engine.Synchronize();
  for (size_t t = 0; result.ok() && t < engine.model().tables.size(); ++t) {
    tables.emplace_back();
    result = engine.Retrieve(static_cast<int>(t), &tables.back());
  }
  if (!result.ok()) *failure = ToString(result);
  return tables;
}

// Runs `body` on a thread; a body that does not finish within a minute is a deadlock, which
// ends the process (a hung thread cannot be joined) after saying so.
void WithinAMinute(const std::string& what, std::function<void()> body) {
  std::packaged_task<void()> task(std::move(body));
  std::future<void> done = task.get_future();
  std::thread thread(std::move(task));
  if (done.wait_for(std::chrono::seconds(60)) == std::future_status::timeout) {
    std::fprintf(stderr,
                 "[ DEADLOCK ] %s did not finish within 60 s: README rule 16 promises that a "
                 "single-threaded host driving replicas in this order never waits forever\n",
                 what.c_str());
    std::fflush(stderr);
    std::_Exit(1);
  }
  thread.join();
}

Gradients Halves(const Activations& a) { return reference::HalfOf(a); }

// Loads distinct parameters (row-major 0, 1, 2, ... scaled) and the slots' initial values, so
// that steps change what lookups see whatever the plugin's start values.
CallResult LoadDistinct(Engine& engine) {
  reference::ScalarReference state(engine.model());
  for (size_t t = 0; t < engine.model().tables.size(); ++t) {
    std::vector<float>& parameters = state.slot(static_cast<int>(t), 0);
    for (size_t i = 0; i < parameters.size(); ++i) parameters[i] = 0.5f * static_cast<float>(i);
  }
  return engine.LoadState(state);
}

// Rule 16: one thread may drive every replica, phase by phase, in any replica order, and may
// enqueue a replica's next step as soon as that replica has sent its gradients. None of these
// orders waits forever, and all give the same tables.
TEST_P(AbiConformanceTest, SingleThreadedHostDrivesReplicasWithoutDeadlock) {
  Rules("5, 10, 16");
  enum class Order { kPhases, kReversedPhases, kEnqueueRecvPairs, kEarlyEnqueue };
  for (int replicas : {2, 4}) {
    for (int pipeline : {0, 1}) {
      const ModelSpec model = Supported(CanonicalModel(AnyOptimizer(caps(), 0.05f), replicas));
      const std::vector<ReplicaBatch> batches = CanonicalBatches(replicas);
      std::vector<std::vector<std::vector<std::vector<float>>>> results;
      for (Order order : {Order::kPhases, Order::kReversedPhases, Order::kEnqueueRecvPairs,
                          Order::kEarlyEnqueue}) {
        const std::string what = "R=" + std::to_string(replicas) + " pipeline_execution=" +
                                 std::to_string(pipeline) + " order " +
                                 std::to_string(static_cast<int>(order));
        SCOPED_TRACE(what);
        EngineSettings settings;
        settings.pipeline_execution = pipeline;
        std::unique_ptr<Engine> engine = MakeEngine(model, {}, settings);
        ASSERT_NE(engine, nullptr);
        ASSERT_OK(LoadDistinct(*engine));
        std::string failure;
        WithinAMinute(what, [&] {
          auto fail = [&](const std::string& call, int r, const CallResult& result) {
            if (failure.empty() && !result.ok()) {
              failure = call + " replica " + std::to_string(r) + ": " + ToString(result);
            }
            return !result.ok();
          };
          constexpr int kSteps = 3;
          std::vector<Activations> seen(replicas);
          bool enqueued_early = false;
          for (int step = 0; step < kSteps && failure.empty(); ++step) {
            const EMBRT_Mode mode = step == 1 ? EMBRT_MODE_INFERENCE : EMBRT_MODE_TRAINING;
            auto replica_at = [&](int i) {
              return order == Order::kReversedPhases ? replicas - 1 - i : i;
            };
            if (order == Order::kEnqueueRecvPairs) {
              for (int i = 0; i < replicas; ++i) {
                if (fail("Enqueue", i, engine->Enqueue(i, mode, batches[i]))) return;
                if (fail("RecvActivations", i, engine->Recv(i, &seen[i]))) return;
              }
            } else {
              for (int i = 0; i < replicas; ++i) {
                const int r = replica_at(i);
                if (r == 0 && enqueued_early) continue;
                if (fail("Enqueue", r, engine->Enqueue(r, mode, batches[r]))) return;
              }
              enqueued_early = false;
              for (int i = 0; i < replicas; ++i) {
                const int r = replica_at(i);
                if (fail("RecvActivations", r, engine->Recv(r, &seen[r]))) return;
              }
            }
            if (mode == EMBRT_MODE_INFERENCE) continue;
            for (int i = 0; i < replicas; ++i) {
              const int r = replica_at(i);
              if (fail("SendGradients", r, engine->Send(r, Halves(seen[r])))) return;
              // Replica 0 enqueues its next step before the others have sent this one.
              if (order == Order::kEarlyEnqueue && r == 0 && step + 1 < kSteps) {
                const EMBRT_Mode next = step + 1 == 1 ? EMBRT_MODE_INFERENCE
                                                      : EMBRT_MODE_TRAINING;
                if (fail("early Enqueue", 0, engine->Enqueue(0, next, batches[0]))) return;
                enqueued_early = true;
              }
            }
          }
          results.push_back(AllTables(*engine, &failure));
        });
        ASSERT_EQ(failure, "");
      }
      for (size_t i = 1; i < results.size(); ++i) {
        EXPECT_EQ(results[i], results[0])
            << "R=" << replicas << " pipeline_execution=" << pipeline << ": order " << i
            << " gives other tables than order 0";
      }
    }
  }
}

// Rule 25: pipeline_execution = 1 reads tables at most one step stale, and exactly like 0 for a
// plugin that does not claim `pipelining`.
TEST_P(AbiConformanceTest, PipeliningIsAtMostOneStepStale) {
  Rules("10, 25");
  const ModelSpec model = Supported(CanonicalModel(AnyOptimizer(caps(), 0.5f), 2));
  const std::vector<ReplicaBatch> batches = CanonicalBatches(2);
  // Step 0 on both replicas; then replica 0 enqueues step 1 before replica 1 sends step 0.
  auto run = [&](int pipeline, bool early, Activations* stale, Activations* next) {
    EngineSettings settings;
    settings.pipeline_execution = pipeline;
    std::unique_ptr<Engine> engine = MakeEngine(model, {}, settings);
    ASSERT_NE(engine, nullptr);
    ASSERT_OK(LoadDistinct(*engine));
    Activations a1;
    ASSERT_OK(engine->Enqueue(0, EMBRT_MODE_TRAINING, batches[0]));
    ASSERT_OK(engine->Enqueue(1, EMBRT_MODE_TRAINING, batches[1]));
    ASSERT_OK(engine->Recv(0, stale));
    ASSERT_OK(engine->Recv(1, &a1));
    ASSERT_OK(engine->Send(0, Halves(*stale)));
    if (early) {
      ASSERT_OK(engine->Enqueue(0, EMBRT_MODE_INFERENCE, batches[0]));
    }
    ASSERT_OK(engine->Send(1, Halves(a1)));
    if (!early) {
      ASSERT_OK(engine->Enqueue(0, EMBRT_MODE_INFERENCE, batches[0]));
    }
    ASSERT_OK(engine->Recv(0, next));
  };
  Activations stale, fresh, early0, early1;
  ASSERT_NO_FATAL_FAILURE(run(0, false, &stale, &fresh));
  ASSERT_NE(fresh, stale) << "the step did not change the looked-up rows";
  Activations ignored;
  ASSERT_NO_FATAL_FAILURE(run(0, true, &ignored, &early0));
  EXPECT_EQ(early0, fresh) << "pipeline_execution = 0: an early Enqueue must see the update";
  ASSERT_NO_FATAL_FAILURE(run(1, true, &ignored, &early1));
  if (caps().pipelining) {
    EXPECT_TRUE(early1 == fresh || early1 == stale)
        << "pipeline_execution = 1 may read the tables one step stale, no more";
  } else {
    EXPECT_EQ(early1, fresh) << "a plugin without pipelining=1 runs pipeline_execution = 1 as 0";
  }
}

// Rule 23: Load, Retrieve and Synchronize while a step is open never hang; they either act on
// the tables as they are (the step's update has not run) or are FAILED_PRECONDITION.
TEST_P(AbiConformanceTest, LoadAndRetrieveWhileAStepIsOpen) {
  Rules("10, 23");
  const ModelSpec model = Supported(CanonicalModel(AnyOptimizer(caps()), 1));
  std::unique_ptr<Engine> engine = MakeEngine(model);
  ASSERT_NE(engine, nullptr);
  ASSERT_OK(LoadDistinct(*engine));
  std::vector<std::vector<float>> before;
  ASSERT_OK(engine->Retrieve(0, &before));
  const ReplicaBatch batch = CanonicalBatches(1)[0];
  Activations a;
  for (int phase = 0; phase < 2; ++phase) {
    if (phase == 0) {
      ASSERT_OK(engine->Enqueue(0, EMBRT_MODE_TRAINING, batch));
    } else {
      ASSERT_OK(engine->Recv(0, &a));
    }
    std::vector<std::vector<float>> during;
    const CallResult retrieve = engine->Retrieve(0, &during);
    EXPECT_TRUE(retrieve.ok() || retrieve.code == EMBRT_CODE_FAILED_PRECONDITION)
        << "Retrieve while a step is open: " << ToString(retrieve);
    if (retrieve.ok()) {
      EXPECT_EQ(during, before) << "the open step's update ran early";
    }
    const CallResult load = engine->Load(0, before);
    EXPECT_TRUE(load.ok() || load.code == EMBRT_CODE_FAILED_PRECONDITION)
        << "Load while a step is open: " << ToString(load);
    const CallResult synchronize = engine->Synchronize();
    EXPECT_TRUE(synchronize.ok() || synchronize.code == EMBRT_CODE_FAILED_PRECONDITION)
        << "Synchronize while a step is open: " << ToString(synchronize);
  }
  ASSERT_OK(engine->Send(0, Halves(a)));
  ASSERT_OK(engine->Synchronize());
  std::vector<std::vector<float>> after;
  ASSERT_OK(engine->Retrieve(0, &after));
  EXPECT_NE(after, before) << "the step's update was lost";
}

// Rule 26: with allow_nonfinite_gradients = 1 a NaN gradient is accepted and reaches exactly the
// rows of its bag (IEEE arithmetic, nothing filtered); other rows are unchanged.
TEST_P(AbiConformanceTest, NonfiniteGradientsWhenAllowed) {
  Rules("8, 26");
  const ModelSpec model = Supported(CanonicalModel(AnyOptimizer(caps()), 1));
  const ReplicaBatch batch = CanonicalBatches(1)[0];
  for (int allow : {0, 1}) {
    SCOPED_TRACE("allow_nonfinite_gradients=" + std::to_string(allow));
    EngineSettings settings;
    settings.allow_nonfinite_gradients = allow;
    std::unique_ptr<Engine> engine = MakeEngine(model, {}, settings);
    ASSERT_NE(engine, nullptr);
    ASSERT_OK(LoadDistinct(*engine));
    std::vector<std::vector<float>> before;
    ASSERT_OK(engine->Retrieve(0, &before));
    ASSERT_OK(engine->Enqueue(0, EMBRT_MODE_TRAINING, batch));
    Activations a;
    ASSERT_OK(engine->Recv(0, &a));
    // watched bag 0 is id 0 of table video; nothing else of this step reaches rows 2..7.
    Gradients g = {std::vector<float>(16, 0.0f), {}, {}};
    for (int d = 0; d < 4; ++d) g[0][d] = NAN;
    const CallResult sent = engine->Send(0, g);
    if (allow == 0) {
      EXPECT_EQ(sent.code, EMBRT_CODE_INVALID_ARGUMENT) << ToString(sent);
      continue;
    }
    ASSERT_TRUE(sent.ok()) << ToString(sent);
    ASSERT_OK(engine->Synchronize());
    std::vector<std::vector<float>> after;
    ASSERT_OK(engine->Retrieve(0, &after));
    for (int d = 0; d < 4; ++d) EXPECT_TRUE(std::isnan(after[0][d])) << "row 0 column " << d;
    for (int i = 8; i < 32; ++i) EXPECT_EQ(after[0][i], before[0][i]) << "untouched value " << i;
  }
}

// Rule 22: only replica 0's learning rates count; other replicas may pass NULL or anything.
TEST_P(AbiConformanceTest, LearningRatesOfOtherReplicasAreIgnored) {
  Rules("9, 22");
  ModelSpec model = Supported(CanonicalModel(AnyOptimizer(caps()), 2));
  model.num_learning_rate_tags = 1;
  for (auto& table : model.tables) table.optimizer.learning_rate_tag = 0;
  const std::vector<ReplicaBatch> batches = CanonicalBatches(2);
  auto run = [&](const std::vector<float>& replica1_rates,
                 std::vector<std::vector<std::vector<float>>>* tables) {
    std::unique_ptr<Engine> engine = MakeEngine(model);
    ASSERT_NE(engine, nullptr);
    ASSERT_OK(LoadDistinct(*engine));
    std::vector<Activations> a(2);
    for (int r = 0; r < 2; ++r) {
      ASSERT_OK(engine->Enqueue(r, EMBRT_MODE_TRAINING, batches[r]));
      ASSERT_OK(engine->Recv(r, &a[r]));
    }
    ASSERT_OK(engine->Send(0, Halves(a[0]), {0.25f}));
    ASSERT_OK(engine->Send(1, Halves(a[1]), replica1_rates));
    std::string failure;
    *tables = AllTables(*engine, &failure);
    ASSERT_EQ(failure, "");
  };
  std::vector<std::vector<std::vector<float>>> same, other, none;
  ASSERT_NO_FATAL_FAILURE(run({0.25f}, &same));
  ASSERT_NO_FATAL_FAILURE(run({7.0f}, &other));
  ASSERT_NO_FATAL_FAILURE(run({}, &none));
  EXPECT_EQ(other, same) << "replica 1's learning rate changed the update";
  EXPECT_EQ(none, same) << "replica 1 without learning rates changed the update";
}

// Rule 20: a sequence feature takes no weights.
TEST_P(AbiConformanceTest, WeightsOnASequenceFeatureAreInvalid) {
  Rules("8, 20");
  ModelSpec model = Supported(CanonicalModel(AnyOptimizer(caps()), 1));
  model.features[2].max_sequence_length = 3;
  std::unique_ptr<Engine> engine = MakeEngine(model);
  ASSERT_NE(engine, nullptr);
  ReplicaBatch batch = CanonicalBatches(1)[0];
  batch[2].weights.assign(batch[2].ids.size(), 1.0f);
  const CallResult result = engine->Enqueue(0, EMBRT_MODE_INFERENCE, batch);
  EXPECT_EQ(result.code, EMBRT_CODE_INVALID_ARGUMENT) << ToString(result);
}

// Rule 20: negative weights are plain arithmetic (sum: the negated row), and a bag whose divisor
// is 0 (mean: Σw = 0, sqrtn: Σw² = 0) gives zeros, never NaN.
TEST_P(AbiConformanceTest, NegativeWeightsAndZeroDivisors) {
  Rules("8, 20");
  const ReplicaBatch plain = CanonicalBatches(1)[0];
  if (caps().Has(reference::Combiner::kSum)) {
    ModelSpec model = Supported(CanonicalModel(AnyOptimizer(caps()), 1));
    model.tables[0].combiner = reference::Combiner::kSum;
    std::unique_ptr<Engine> engine = MakeEngine(model);
    ASSERT_NE(engine, nullptr);
    Activations positive, negative;
    ReplicaBatch batch = plain;
    batch[0].weights.assign(batch[0].ids.size(), 1.0f);
    ASSERT_OK(engine->Enqueue(0, EMBRT_MODE_INFERENCE, batch));
    ASSERT_OK(engine->Recv(0, &positive));
    batch[0].weights.assign(batch[0].ids.size(), -1.0f);
    ASSERT_OK(engine->Enqueue(0, EMBRT_MODE_INFERENCE, batch));
    ASSERT_OK(engine->Recv(0, &negative));
    for (size_t i = 0; i < positive[0].size(); ++i) {
      EXPECT_EQ(negative[0][i], -positive[0][i]) << "watched value " << i << " with weight -1";
    }
  }
  for (auto combiner : {reference::Combiner::kMean, reference::Combiner::kSqrtn}) {
    if (!caps().Has(combiner)) continue;
    SCOPED_TRACE(CombinerName(combiner));
    ModelSpec model = Supported(CanonicalModel(AnyOptimizer(caps()), 1));
    model.tables[1].combiner = combiner;
    std::unique_ptr<Engine> engine = MakeEngine(model);
    ASSERT_NE(engine, nullptr);
    // friends bags [3], [0, 1, 2], [3], [0, 1, 2]: every divisor zero.
    ReplicaBatch batch = plain;
    batch[2].weights = combiner == reference::Combiner::kMean
                           ? std::vector<float>{0.0f, 1.0f, -1.0f, 0.0f, 0.0f, 2.0f, 0.0f, -2.0f}
                           : std::vector<float>(8, 0.0f);
    ASSERT_OK(engine->Enqueue(0, EMBRT_MODE_TRAINING, batch));
    Activations a;
    ASSERT_OK(engine->Recv(0, &a));
    EXPECT_EQ(a[2], std::vector<float>(8, 0.0f)) << "zero divisors give zero activations";
    ASSERT_OK(engine->Send(0, Halves(a)));
    ASSERT_OK(engine->Synchronize());
  }
}

// Rule 24 (ABI 1.1): a sequence row may have holes. The positions batch must give exactly the
// activations and the update of the same ids written at those positions.
TEST_P(AbiConformanceTest, SequencePositionsWithHoles) {
  Rules("8, 24");
  CONFORMANCE_REQUIRE(caps().abi_minor >= 1, "abi_version 1.1 (sequence positions)");
  ModelSpec model = Supported(CanonicalModel(AnyOptimizer(caps()), 1));
  model.features[2].max_sequence_length = 3;
  // friends bags [3], [0, 1, 2], [3], [0, 1, 2]; with positions: [_, _, 3], [0, _, 1],
  // [3, _, _], [_, 0, 2] (id 2 of the last bag dropped: a row holds at most L ids).
  ReplicaBatch holes = CanonicalBatches(1)[0];
  holes[2] = {{3, 0, 1, 3, 0, 2}, {0, 1, 3, 4, 6}, {}, {2, 0, 2, 0, 1, 2}};
  ReplicaBatch dense = holes;  // the same ids without positions: [3], [0, 1], [3], [0, 2]
  dense[2].positions.clear();
  std::unique_ptr<Engine> engine = MakeEngine(model);
  ASSERT_NE(engine, nullptr);
  ASSERT_OK(LoadDistinct(*engine));
  Activations with_holes, without;
  ASSERT_OK(engine->Enqueue(0, EMBRT_MODE_INFERENCE, dense));
  ASSERT_OK(engine->Recv(0, &without));
  ASSERT_OK(engine->Enqueue(0, EMBRT_MODE_INFERENCE, holes));
  ASSERT_OK(engine->Recv(0, &with_holes));
  const int dim = model.tables[1].dim;
  // Where each (row, k-th id) lands: dense at [b, k], with holes at [b, positions[k]].
  auto slice = [&](const std::vector<float>& a, int b, int p) {
    return std::vector<float>(a.begin() + (b * 3 + p) * dim, a.begin() + (b * 3 + p + 1) * dim);
  };
  const std::vector<float> zeros(dim, 0.0f);
  const int splits[] = {0, 1, 3, 4, 6};
  for (int b = 0; b < 4; ++b) {
    std::vector<bool> used(3, false);
    for (int k = splits[b]; k < splits[b + 1]; ++k) {
      const int p = holes[2].positions[k];
      used[p] = true;
      EXPECT_EQ(slice(with_holes[2], b, p), slice(without[2], b, k - splits[b]))
          << "row " << b << " position " << p;
    }
    for (int p = 0; p < 3; ++p) {
      if (!used[p]) {
        EXPECT_EQ(slice(with_holes[2], b, p), zeros) << "hole at " << b << ", " << p;
      }
    }
  }
  // Backward: the gradient at [b, positions[k]] reaches the k-th id; holes reach nothing.
  auto train = [&](const ReplicaBatch& batch, const std::vector<float>& friends_gradient,
                   std::vector<std::vector<float>>* user) {
    std::unique_ptr<Engine> e = MakeEngine(model);
    ASSERT_NE(e, nullptr);
    ASSERT_OK(LoadDistinct(*e));
    Activations a;
    ASSERT_OK(e->Enqueue(0, EMBRT_MODE_TRAINING, batch));
    ASSERT_OK(e->Recv(0, &a));
    ASSERT_OK(e->Send(0, {{}, {}, friends_gradient}));
    ASSERT_OK(e->Synchronize());
    ASSERT_OK(e->Retrieve(1, user));
  };
  std::vector<float> g_holes(4 * 3 * dim), g_dense(4 * 3 * dim, 0.0f);
  for (size_t i = 0; i < g_holes.size(); ++i) g_holes[i] = 0.25f * static_cast<float>(i + 1);
  for (int b = 0; b < 4; ++b) {
    for (int k = splits[b]; k < splits[b + 1]; ++k) {
      const int p = holes[2].positions[k];
      for (int d = 0; d < dim; ++d) {
        g_dense[(b * 3 + (k - splits[b])) * dim + d] = g_holes[(b * 3 + p) * dim + d];
      }
    }
  }
  std::vector<std::vector<float>> user_holes, user_dense;
  ASSERT_NO_FATAL_FAILURE(train(holes, g_holes, &user_holes));
  ASSERT_NO_FATAL_FAILURE(train(dense, g_dense, &user_dense));
  EXPECT_EQ(user_holes, user_dense) << "the update differs from the same ids without holes";

  // Bad positions are INVALID_ARGUMENT and enqueue nothing.
  struct Case {
    const char* what;
    std::vector<int32_t> positions;
  };
  for (const Case& c : std::vector<Case>{{"descending in a row", {2, 1, 0, 0, 0, 1}},
                                         {"repeated in a row", {2, 0, 0, 0, 0, 1}},
                                         {"position == L", {3, 0, 1, 0, 0, 1}},
                                         {"negative position", {-1, 0, 1, 0, 0, 1}},
                                         {"one position short", {2, 0, 1, 0, 0}}}) {
    ReplicaBatch bad = holes;
    bad[2].positions = c.positions;
    const CallResult result = engine->Enqueue(0, EMBRT_MODE_INFERENCE, bad);
    EXPECT_EQ(result.code, EMBRT_CODE_INVALID_ARGUMENT) << c.what << ": " << ToString(result);
  }
  ReplicaBatch not_sequence = holes;
  not_sequence[0].positions.assign(not_sequence[0].ids.size(), 0);
  const CallResult result = engine->Enqueue(0, EMBRT_MODE_INFERENCE, not_sequence);
  EXPECT_EQ(result.code, EMBRT_CODE_INVALID_ARGUMENT)
      << "positions for a feature without a sequence: " << ToString(result);
  ASSERT_OK(engine->Enqueue(0, EMBRT_MODE_INFERENCE, holes));  // nothing was half-enqueued
  ASSERT_OK(engine->Recv(0, &with_holes));
}

// Rule 15: a plugin without multi_host = 1 answers num_hosts > 1 with UNIMPLEMENTED, or runs
// the host on its own as it documents; never INVALID_ARGUMENT, a crash or a hang.
TEST_P(AbiConformanceTest, MultipleHostsWithoutMultiHost) {
  Rules("15");
  CONFORMANCE_REQUIRE(!caps().multi_host, "multi_host = 0 (this test is for single-host plugins)");
  const ModelSpec model = Supported(CanonicalModel(AnyOptimizer(caps()), 1));
  EngineSettings settings;
  settings.num_hosts = 2;
  Description description(model, {}, settings);
  for (auto& table : description.tables) {
    table.shard_rows = table.vocabulary_size / 2 + (table.vocabulary_size % 2);
  }
  abi_driver::Engine engine(plugin());
  const CallResult result = engine.Create(description.get());
  EXPECT_TRUE(result.ok() || result.code == EMBRT_CODE_UNIMPLEMENTED)
      << "num_hosts 2 without multi_host: " << ToString(result);
}

}  // namespace
}  // namespace conformance
}  // namespace embrt
