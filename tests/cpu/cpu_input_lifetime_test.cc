// Copyright embrt authors.
//
// Enqueue's input_lifetime (ABI 1.1) on the cpu backend: under EMBRT_INPUT_LIFETIME_STEP an
// INFERENCE step reads the host's ids and weights in place, which must give the same
// activations and the same errors as a copy; a TRAINING step with pipelining still copies what
// its update reads after SendGradients has returned (without pipelining, one replica: the
// update runs before SendGradients returns, cpu_synchronous_update_test.cc).

#include <cmath>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "cpu_test_harness.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace embrt {
namespace cpu_test {
namespace {

using ::testing::HasSubstr;

// A mean table (vocab 16, dim 2, rows [2r, 2r+1]) with one feature of 4 bags, Adagrad.
EngineSpec Spec(bool pipelining = false, const char* threads = "1") {
  EngineSpec spec;
  TableSpec table;
  table.name = "user";
  table.vocabulary_size = 16;
  table.dim = 2;
  table.combiner = EMBRT_COMBINER_MEAN;
  table.optimizer = EMBRT_OPTIMIZER_ADAGRAD;
  spec.tables = {table};
  spec.features = {{"friends", 0, 0, 4}};
  spec.pipeline_execution = pipelining;
  spec.options = {{"threads", threads}};
  return spec;
}

Input WeightedBags() {
  return Bags({{3, 1}, {}, {15, 15, 0}, {7}}, {{0.5f, 2.0f}, {}, {1.0f, 3.0f, 0.25f}, {4.0f}});
}

// Under STEP the host keeps the inputs until RecvActivations returns: `inputs` lives on.
std::vector<std::vector<float>> Infer(CpuEngine& engine, const Input& input) {
  const std::vector<Input> inputs = {input};
  EXPECT_TRUE(engine.Enqueue(0, inputs, EMBRT_MODE_INFERENCE).ok());
  std::vector<std::vector<float>> activations;
  EXPECT_TRUE(engine.Recv(0, &activations).ok());
  return activations;
}

TEST(CpuInputLifetimeTest, InferenceInPlaceGivesTheSameBitsAsACopy) {
  for (const char* threads : {"1", "2"}) {
    CpuEngine copying(Spec(false, threads));
    CpuEngine in_place(Spec(false, threads));
    ASSERT_TRUE(copying.ok() && in_place.ok());
    ASSERT_TRUE(copying.Load(0, 0, {RowMajor(16, 2), Filled(16, 2, 0.1f)}).ok());
    ASSERT_TRUE(in_place.Load(0, 0, {RowMajor(16, 2), Filled(16, 2, 0.1f)}).ok());
    in_place.set_input_lifetime(EMBRT_INPUT_LIFETIME_STEP);
    const Input input = WeightedBags();
    const std::vector<std::vector<float>> expected = Infer(copying, input);
    EXPECT_EQ(Infer(in_place, input), expected);
    // Bag 0: (0.5 * [6, 7] + 2 * [2, 3]) / 2.5; bag 1 is empty.
    EXPECT_EQ(expected[0][0], (0.5f / 2.5f) * 6.0f + (2.0f / 2.5f) * 2.0f);
    EXPECT_EQ(expected[0][2], 0.0f);
    // A large unweighted batch, split across the workers.
    std::vector<std::vector<int64_t>> bags(4, std::vector<int64_t>(600));
    for (size_t b = 0; b < bags.size(); ++b) {
      for (size_t k = 0; k < bags[b].size(); ++k) bags[b][k] = (b * 7 + k * 5) % 16;
    }
    EXPECT_EQ(Infer(in_place, Bags(bags)), Infer(copying, Bags(bags)));
  }
}

TEST(CpuInputLifetimeTest, InPlaceStillChecksEveryIdAndChangesNothingOnError) {
  CpuEngine engine(Spec());
  ASSERT_TRUE(engine.ok());
  ASSERT_TRUE(engine.Load(0, 0, {RowMajor(16, 2), Filled(16, 2, 0.1f)}).ok());
  engine.set_input_lifetime(EMBRT_INPUT_LIFETIME_STEP);
  const Result bad = engine.Enqueue(0, {Bags({{3, 1}, {}, {15, 16}, {7}})}, EMBRT_MODE_INFERENCE);
  EXPECT_EQ(bad.code, EMBRT_CODE_INVALID_ARGUMENT);
  EXPECT_THAT(bad.message, HasSubstr("feature 'friends'"));
  EXPECT_THAT(bad.message, HasSubstr("row 2, position 1: id 16 is out of range"));
  EXPECT_THAT(bad.message, HasSubstr("table 'user'"));
  Input nan_weight = WeightedBags();
  nan_weight.weights[1] = std::nanf("");
  EXPECT_EQ(engine.Enqueue(0, {nan_weight}, EMBRT_MODE_INFERENCE).code,
            EMBRT_CODE_INVALID_ARGUMENT);
  // Nothing was enqueued: a good step runs as if the bad ones never came.
  CpuEngine fresh(Spec());
  ASSERT_TRUE(fresh.Load(0, 0, {RowMajor(16, 2), Filled(16, 2, 0.1f)}).ok());
  EXPECT_EQ(Infer(engine, WeightedBags()), Infer(fresh, WeightedBags()));
}

// Batches of at least 16,384 ids are range-checked by both workers of a 2-thread engine
// (CpuEngine::CheckIds), read in place or copied: a bad id in either half (or the last id, past
// the prefetching blocks) is still refused at Enqueue by name, nothing changes, and good
// batches give the 1-thread engine's bits.
TEST(CpuInputLifetimeTest, IdChecksSplitAmongWorkersStillNameTheBadIdAndChangeNothing) {
  std::vector<std::vector<int64_t>> bags(4, std::vector<int64_t>(5000));
  for (size_t b = 0; b < bags.size(); ++b) {
    for (size_t k = 0; k < bags[b].size(); ++k) bags[b][k] = (b * 3 + k * 7) % 16;
  }
  CpuEngine one_thread(Spec(false, "1"));
  ASSERT_TRUE(one_thread.ok());
  ASSERT_TRUE(one_thread.Load(0, 0, {RowMajor(16, 2), Filled(16, 2, 0.1f)}).ok());
  const std::vector<std::vector<float>> expected = Infer(one_thread, Bags(bags));
  for (const auto& [threads, lifetime] :
       {std::pair<const char*, int32_t>{"2", EMBRT_INPUT_LIFETIME_CALL},
        {"2", EMBRT_INPUT_LIFETIME_STEP},
        {"1", EMBRT_INPUT_LIFETIME_CALL},  // the one-thread passes over the same blocks
        {"1", EMBRT_INPUT_LIFETIME_STEP}}) {
    CpuEngine engine(Spec(false, threads));
    ASSERT_TRUE(engine.ok());
    ASSERT_TRUE(engine.Load(0, 0, {RowMajor(16, 2), Filled(16, 2, 0.1f)}).ok());
    engine.set_input_lifetime(lifetime);
    for (const auto& [row, position, id] :
         {std::tuple<int, int, int64_t>{0, 12, 16}, {3, 4999, -1}, {2, 0, 1 << 20}}) {
      std::vector<std::vector<int64_t>> bad = bags;
      bad[row][position] = id;
      const Result result = engine.Enqueue(0, {Bags(bad)}, EMBRT_MODE_INFERENCE);
      EXPECT_EQ(result.code, EMBRT_CODE_INVALID_ARGUMENT) << threads << " " << lifetime;
      EXPECT_THAT(result.message,
                  HasSubstr("row " + std::to_string(row) + ", position " +
                            std::to_string(position) + ": id " + std::to_string(id) +
                            " is out of range"));
      EXPECT_THAT(result.message, HasSubstr("table 'user'"));
    }
    EXPECT_EQ(Infer(engine, Bags(bags)), expected) << threads << " " << lifetime;
  }
}

// Row splits read in place (STEP, a feature without a sequence) are checked in the same pass as
// the ids, each worker a share of them: a descending pair anywhere (the first worker's share,
// the second's, where they meet) or a wrong end is refused as a copy refuses it, ahead of a bad
// id, and changes nothing.
TEST(CpuInputLifetimeTest, SplitsReadInPlaceAreCheckedByEveryWorker) {
  std::vector<std::vector<int64_t>> bags(64, std::vector<int64_t>(300));
  for (size_t b = 0; b < bags.size(); ++b) {
    for (size_t k = 0; k < bags[b].size(); ++k) bags[b][k] = (b * 5 + k * 3) % 16;
  }
  EngineSpec spec = Spec(false, "1");
  spec.features = {{"friends", 0, 0, static_cast<int64_t>(bags.size())}};
  CpuEngine one_thread(spec);
  ASSERT_TRUE(one_thread.ok());
  ASSERT_TRUE(one_thread.Load(0, 0, {RowMajor(16, 2), Filled(16, 2, 0.1f)}).ok());
  const std::vector<std::vector<float>> expected = Infer(one_thread, Bags(bags));
  for (const char* threads : {"1", "2"}) {
    for (int32_t lifetime : {EMBRT_INPUT_LIFETIME_CALL, EMBRT_INPUT_LIFETIME_STEP}) {
      SCOPED_TRACE(std::string("threads ") + threads + ", lifetime " + std::to_string(lifetime));
      spec.options = {{"threads", threads}};
      CpuEngine engine(spec);
      ASSERT_TRUE(engine.ok());
      ASSERT_TRUE(engine.Load(0, 0, {RowMajor(16, 2), Filled(16, 2, 0.1f)}).ok());
      engine.set_input_lifetime(lifetime);
      for (int row : {5, 31, 32, 50, 63}) {
        for (bool bad_id_too : {false, true}) {  // with a bad id as well, the splits come first
          Input bad = Bags(bags);
          bad.row_splits[row + 1] = bad.row_splits[row] - 1;
          if (bad_id_too) bad.ids[0] = 99;
          const Result result = engine.Enqueue(0, {bad}, EMBRT_MODE_INFERENCE);
          EXPECT_EQ(result.code, EMBRT_CODE_INVALID_ARGUMENT) << row;
          EXPECT_THAT(result.message,
                      HasSubstr("row_splits are not ascending at row " + std::to_string(row) +
                                " (" + std::to_string(row * 300) + " then " +
                                std::to_string(row * 300 - 1) + ")"));
        }
      }
      Input short_end = Bags(bags);
      short_end.row_splits.back() -= 1;
      Result result = engine.Enqueue(0, {short_end}, EMBRT_MODE_INFERENCE);
      EXPECT_EQ(result.code, EMBRT_CODE_INVALID_ARGUMENT);
      EXPECT_THAT(result.message, HasSubstr("row_splits end at 19199 but there are 19200 ids"));
      Input bad_id = Bags(bags);
      bad_id.ids[19199] = 16;
      result = engine.Enqueue(0, {bad_id}, EMBRT_MODE_INFERENCE);
      EXPECT_EQ(result.code, EMBRT_CODE_INVALID_ARGUMENT);
      EXPECT_THAT(result.message, HasSubstr("row 63, position 299: id 16 is out of range"));
      EXPECT_EQ(Infer(engine, Bags(bags)), expected);
    }
  }
}

// STEP ends when SendGradients returns, but with pipelining the update of a step runs later
// (at the next TRAINING Enqueue or Synchronize): the engine must have copied what it reads.
TEST(CpuInputLifetimeTest, TrainingCopiesWhatTheUpdateReadsAfterTheStep) {
  CpuEngine reference(Spec(/*pipelining=*/true));
  CpuEngine engine(Spec(/*pipelining=*/true));
  ASSERT_TRUE(reference.ok() && engine.ok());
  for (CpuEngine* e : {&reference, &engine}) {
    ASSERT_TRUE(e->Load(0, 0, {RowMajor(16, 2), Filled(16, 2, 0.1f)}).ok());
  }
  engine.set_input_lifetime(EMBRT_INPUT_LIFETIME_STEP);
  const std::vector<float> gradient = {1, 2, 3, 4, 5, 6, 7, 8};
  for (CpuEngine* e : {&reference, &engine}) {
    std::vector<Input> inputs = {WeightedBags()};
    Input& input = inputs[0];
    ASSERT_TRUE(e->Enqueue(0, inputs, EMBRT_MODE_TRAINING).ok());
    std::vector<std::vector<float>> activations;
    ASSERT_TRUE(e->Recv(0, &activations).ok());
    ASSERT_TRUE(e->Send(0, {gradient}).ok());
    // The step is complete: the host may reuse its arrays before the update has run.
    for (int64_t& id : input.ids) id = 9;
    for (float& w : input.weights) w = 100.0f;
    ASSERT_TRUE(e->Synchronize().ok());
  }
  EXPECT_EQ(engine.RetrieveAll(), reference.RetrieveAll());
  // ...and the update did touch the enqueued rows, not row 9.
  std::vector<std::vector<float>> slots;
  ASSERT_TRUE(engine.Retrieve(0, &slots).ok());
  EXPECT_NE(slots[0][3 * 2], 6.0f);
  EXPECT_EQ(slots[0][9 * 2], 18.0f);
}

}  // namespace
}  // namespace cpu_test
}  // namespace embrt
