// Copyright embrt authors.
//
// ServingLookup on a checkpoint of a trained cpu engine gives the same bits as the engine's
// own inference lookup (Enqueue(training=false) + Dequeue) on random inputs, and
// EmbeddingTables shows the same tables from the checkpoint and from the engine.

#include <random>

#include "embrt/embedding_tables.h"
#include "embrt/serving.h"
#include "engine_test_util.h"

namespace embrt {
namespace {

using testing_util::CreateBuilt;
using testing_util::EngineConfigText;
using testing_util::RandomBatch;
using testing_util::RandomTrainingStep;
using testing_util::Retrieve;
using testing_util::Snapshot;
using testing_util::TempDir;

class ServingCpuEquivalenceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    engine_ = CreateBuilt(EngineConfigText("adagrad {}", "cpu"));
    ASSERT_NE(engine_, nullptr);
    std::mt19937 random(5);
    for (int step = 0; step < 4; ++step) ASSERT_TRUE(RandomTrainingStep(*engine_, random).ok());
    absl::StatusOr<std::string> path = SaveCheckpoint(*engine_, root_.path());
    ASSERT_TRUE(path.ok()) << path.status();
  }

  TempDir root_;
  std::unique_ptr<Embedding> engine_;
};

TEST_F(ServingCpuEquivalenceTest, ServingEqualsTheEnginesInferenceLookupBitwise) {
  absl::StatusOr<std::unique_ptr<ServingLookup>> serving = ServingLookup::Open(root_.path());
  ASSERT_TRUE(serving.ok()) << serving.status();
  EXPECT_EQ((*serving)->step(), 4);
  const ResolvedConfig& config = engine_->config();
  std::mt19937 random(77);
  for (int trial = 0; trial < 20; ++trial) {
    const RandomBatch batch = RandomBatch::Make(config, 4, random);
    const auto inputs = batch.Inputs();
    const auto weights = trial % 2 == 0 ? batch.Weights(config)
                                        : std::vector<std::optional<FeatureWeights>>();
    ASSERT_TRUE(engine_->Enqueue(inputs, weights, /*training=*/false).ok());
    absl::StatusOr<std::vector<Tensor>> expected = engine_->Dequeue();
    ASSERT_TRUE(expected.ok()) << expected.status();
    absl::StatusOr<std::vector<Tensor>> got = (*serving)->Lookup(inputs, weights);
    ASSERT_TRUE(got.ok()) << got.status();
    ASSERT_EQ(got->size(), expected->size());
    for (size_t f = 0; f < got->size(); ++f) {
      EXPECT_EQ((*got)[f].shape, (*expected)[f].shape) << "feature " << f;
      ASSERT_EQ((*got)[f].values.size(), (*expected)[f].values.size());
      EXPECT_EQ(std::memcmp((*got)[f].values.data(), (*expected)[f].values.data(),
                            (*got)[f].values.size() * sizeof(float)),
                0)
          << "trial " << trial << " feature " << f;
    }
  }
}

TEST_F(ServingCpuEquivalenceTest, EmbeddingTablesFromCheckpointAndEngineAgree) {
  absl::StatusOr<EmbeddingTables> from_checkpoint = EmbeddingTables::FromCheckpoint(root_.path());
  ASSERT_TRUE(from_checkpoint.ok()) << from_checkpoint.status();
  absl::StatusOr<EmbeddingTables> from_engine = EmbeddingTables::FromEmbedding(*engine_);
  ASSERT_TRUE(from_engine.ok()) << from_engine.status();
  const Snapshot snapshot = Retrieve(*engine_);
  EXPECT_EQ(from_checkpoint->step(), 4);
  EXPECT_EQ(from_engine->step(), 4);
  ASSERT_EQ(from_checkpoint->tables().size(), 3u);
  for (const EmbeddingTables* tables : {&*from_checkpoint, &*from_engine}) {
    for (size_t t = 0; t < 3; ++t) {
      const HostTable& table = tables->tables()[t];
      EXPECT_EQ(table.name, engine_->config().tables[t].name);
      EXPECT_EQ(table.optimizer, OptimizerKind::kAdagrad);
      EXPECT_EQ(table.rows, table.vocabulary_size);
      ASSERT_EQ(table.slot_names, (std::vector<std::string>{"parameters", "accumulators"}));
      for (size_t s = 0; s < 2; ++s) {
        ASSERT_EQ(table.slots[s].size(), snapshot[t][s].size());
        EXPECT_EQ(std::memcmp(table.slots[s].data(), snapshot[t][s].data(),
                              snapshot[t][s].size() * 4),
                  0);
      }
    }
  }
  const HostTable* beta = from_checkpoint->Find("beta");
  ASSERT_NE(beta, nullptr);
  EXPECT_EQ(beta->SlotIndex("accumulators"), 1);
  EXPECT_EQ(beta->SlotIndex("momenta"), -1);
  EXPECT_EQ(beta->Row(1, 4)[2], snapshot[1][1][4 * 3 + 2]);
  EXPECT_EQ(from_checkpoint->Find("delta"), nullptr);
  // Copies share the mapped storage, which outlives the original.
  EmbeddingTables copy = *from_checkpoint;
  from_checkpoint = absl::UnknownError("dropped");
  EXPECT_EQ(copy.Find("alpha")->Row(0, 36)[7], snapshot[0][0][36 * 8 + 7]);
}

}  // namespace
}  // namespace embrt
