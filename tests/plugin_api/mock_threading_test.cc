// Copyright embrt authors.
//
// Four replicas driven from four threads (calls for different replicas run concurrently, as
// plugin_api.h allows): every lookup sees exactly the updates of the earlier steps, and the
// tables come out bit-identical to a run on one thread. Run under -fsanitize=thread too.

#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "mock_harness.h"

namespace embrt {
namespace testing {
namespace {

constexpr int kReplicas = 4;
constexpr int kSteps = 25;
constexpr int kVocabulary = 16;
constexpr int kDim = 4;

EngineSpec ThreadSpec() {
  EngineSpec spec;
  spec.tables.push_back(
      TableSpec{"t", kVocabulary, kDim, EMBRT_COMBINER_SUM, EMBRT_OPTIMIZER_SGD, 0.125f});
  spec.features.push_back(FeatureSpec{"f", 0, 2});
  spec.num_replicas = kReplicas;
  return spec;
}

std::vector<int64_t> IdsOf(int replica, int step) {
  return {(replica + step) % kVocabulary, (3 * replica + 2 * step) % kVocabulary};
}

// Runs one replica's steps; returns the number of activations that differ from `expected`
// (when given) and of failed calls.
int RunReplica(MockEngine* engine, int replica, bool unit_gradients,
               const std::vector<std::vector<float>>* expected_rows_before_step) {
  int problems = 0;
  std::vector<std::vector<float>> out;
  for (int step = 0; step < kSteps; ++step) {
    const std::vector<int64_t> ids = IdsOf(replica, step);
    problems += !engine->Enqueue(replica, EMBRT_MODE_TRAINING, {Input{ids}}).ok();
    problems += !engine->Recv(replica, &out).ok();
    if (expected_rows_before_step != nullptr) {
      for (size_t b = 0; b < ids.size(); ++b) {
        const float want = (*expected_rows_before_step)[step][ids[b]];
        for (int c = 0; c < kDim; ++c) problems += out[0][b * kDim + c] != want;
      }
    }
    std::vector<float> gradient(2 * kDim);
    for (size_t i = 0; i < gradient.size(); ++i) {
      gradient[i] = unit_gradients ? 1.0f : 0.1f * (replica + 1) + 0.01f * step + 0.001f * i;
    }
    problems += !engine->Send(replica, {gradient}).ok();
  }
  return problems;
}

TEST(MockThreadingTest, LookupsSeeEveryEarlierStepOnFourThreads) {
  MockEngine engine(ThreadSpec());
  ASSERT_TRUE(engine.create_result().ok()) << engine.create_result().message;
  ASSERT_TRUE(engine.Load(0, 0, kVocabulary, {std::vector<float>(kVocabulary * kDim, 0.0f)}).ok());
  // With zero rows, unit gradients and lr 1/8, row x before step s is -1/8 * (its uses so far).
  std::vector<std::vector<float>> before(kSteps + 1, std::vector<float>(kVocabulary, 0.0f));
  std::vector<int> uses(kVocabulary, 0);
  for (int step = 0; step <= kSteps; ++step) {
    for (int x = 0; x < kVocabulary; ++x) before[step][x] = -0.125f * uses[x];
    if (step == kSteps) break;
    for (int r = 0; r < kReplicas; ++r) {
      for (int64_t id : IdsOf(r, step)) ++uses[id];
    }
  }
  std::vector<int> problems(kReplicas, 0);
  std::vector<std::thread> threads;
  for (int r = 0; r < kReplicas; ++r) {
    threads.emplace_back([&, r] { problems[r] = RunReplica(&engine, r, true, &before); });
  }
  for (std::thread& t : threads) t.join();
  for (int r = 0; r < kReplicas; ++r) EXPECT_EQ(problems[r], 0) << "replica " << r;
  const std::vector<float> rows = engine.Parameters(0, 0, kVocabulary);
  for (int x = 0; x < kVocabulary; ++x) {
    EXPECT_EQ(rows[x * kDim], before[kSteps][x]) << "row " << x;
  }
}

TEST(MockThreadingTest, ThreadedRunMatchesOneThreadBitForBit) {
  MockEngine threaded(ThreadSpec());
  std::vector<std::thread> threads;
  std::vector<int> problems(kReplicas, 0);
  for (int r = 0; r < kReplicas; ++r) {
    threads.emplace_back([&, r] { problems[r] = RunReplica(&threaded, r, false, nullptr); });
  }
  for (std::thread& t : threads) t.join();
  for (int r = 0; r < kReplicas; ++r) EXPECT_EQ(problems[r], 0) << "replica " << r;

  // The same steps on one thread, replicas in reverse order within each step.
  MockEngine single(ThreadSpec());
  std::vector<std::vector<float>> out;
  for (int step = 0; step < kSteps; ++step) {
    for (int r = kReplicas - 1; r >= 0; --r) {
      ASSERT_TRUE(single.Enqueue(r, EMBRT_MODE_TRAINING, {Input{IdsOf(r, step)}}).ok());
      ASSERT_TRUE(single.Recv(r, &out).ok());
      std::vector<float> gradient(2 * kDim);
      for (size_t i = 0; i < gradient.size(); ++i) {
        gradient[i] = 0.1f * (r + 1) + 0.01f * step + 0.001f * i;
      }
      ASSERT_TRUE(single.Send(r, {gradient}).ok());
    }
  }
  EXPECT_EQ(threaded.Parameters(0, 0, kVocabulary), single.Parameters(0, 0, kVocabulary));
}

}  // namespace
}  // namespace testing
}  // namespace embrt
