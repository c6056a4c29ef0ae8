// Copyright embrt authors.
//
// ServingLookup on a checkpoint of a trained cpu engine gives the same bits as the engine's
// own inference lookup (Enqueue(training=false) + Dequeue) on random inputs, for every dim
// with a kernel of its own (16, 32, 64, 128) and others, and EmbeddingTables shows the same
// tables from the checkpoint and from the engine.

#include <cmath>
#include <cstring>
#include <random>

#include "absl/strings/str_cat.h"
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
    const auto weights =
        trial % 2 == 0 ? batch.Weights(config) : std::vector<std::optional<FeatureWeights>>();
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

// Bags of 0 to 40 ids (every third bag of 0 or 1), so that serving's prefetching (16 ids ahead)
// crosses bags of every size; ragged and sparse inputs (the sparse path writes bags through its
// output-row list), with and without weights; and a sequence feature (max_sequence_length 24:
// padded and truncated rows). LookupFeatureInto, into a tensor of NaN, gives the same bits.
class ServingDimsTest : public ::testing::TestWithParam<int> {};

TEST_P(ServingDimsTest, EveryCombinerGivesTheEnginesBitsAcrossBagBoundaries) {
  const int dim = GetParam();
  constexpr int kBatch = 16;
  std::string tables;
  for (const char* combiner : {"SUM", "MEAN", "SQRTN"}) {
    absl::StrAppend(&tables, "tables { name: \"", combiner, "\" vocabulary_size: 300 dim: ", dim,
                    " combiner: ", combiner,
                    " initializer { random_uniform { minval: -1 maxval: 1 } } } features { name: "
                    "\"",
                    combiner, "\" table: \"", combiner, "\" } ");
  }
  absl::StrAppend(&tables,
                  "features { name: \"SEQUENCE\" table: \"SUM\" max_sequence_length: 24 } ");
  constexpr int kFeatures = 4;  // the last is the sequence feature, which takes no weights
  std::unique_ptr<Embedding> engine = CreateBuilt(absl::StrCat(
      tables, "per_replica_batch_size: ", kBatch,
      " seed: 3 optimizer { sgd {} learning_rate { constant: 0.1 } } backend { name: \"cpu\" }"));
  ASSERT_NE(engine, nullptr);
  TempDir root;
  ASSERT_TRUE(SaveCheckpoint(*engine, root.path()).ok());
  absl::StatusOr<std::unique_ptr<ServingLookup>> serving = ServingLookup::Open(root.path());
  ASSERT_TRUE(serving.ok()) << serving.status();
  std::mt19937 random(dim);
  for (int trial = 0; trial < 8; ++trial) {
    const bool sparse = trial % 4 >= 2;
    const bool weighted = trial % 2 == 1;
    std::vector<std::vector<int64_t>> splits(kFeatures), indices(kFeatures), ids(kFeatures);
    std::vector<std::vector<float>> weight_values(kFeatures);
    std::vector<FeatureInput> inputs;
    std::vector<std::optional<FeatureWeights>> weights;
    for (int f = 0; f < kFeatures; ++f) {
      splits[f] = {0};
      for (int b = 0; b < kBatch; ++b) {
        const int size = std::uniform_int_distribution<int>(0, b % 3 == 0 ? 1 : 40)(random);
        for (int k = 0; k < size; ++k) {
          indices[f].insert(indices[f].end(), {b, k});
          ids[f].push_back(std::uniform_int_distribution<int64_t>(0, 299)(random));
          weight_values[f].push_back(std::uniform_real_distribution<float>(0.1f, 2.0f)(random));
        }
        splits[f].push_back(static_cast<int64_t>(ids[f].size()));
      }
    }
    for (int f = 0; f < kFeatures; ++f) {
      inputs.push_back(sparse ? FeatureInput::Sparse(indices[f], ids[f], {kBatch, 41})
                              : FeatureInput::Ragged(splits[f], ids[f]));
      if (!weighted) continue;
      if (f == kFeatures - 1) {
        weights.push_back(std::nullopt);
      } else {
        weights.push_back(sparse ? FeatureWeights::Sparse(weight_values[f])
                                 : FeatureWeights::Ragged(weight_values[f]));
      }
    }
    ASSERT_TRUE(engine->Enqueue(inputs, weights, /*training=*/false).ok());
    absl::StatusOr<std::vector<Tensor>> expected = engine->Dequeue();
    ASSERT_TRUE(expected.ok()) << expected.status();
    absl::StatusOr<std::vector<Tensor>> got = (*serving)->Lookup(inputs, weights);
    ASSERT_TRUE(got.ok()) << got.status();
    for (int f = 0; f < kFeatures; ++f) {
      ASSERT_EQ((*got)[f].values.size(), (*expected)[f].values.size());
      EXPECT_EQ(std::memcmp((*got)[f].values.data(), (*expected)[f].values.data(),
                            (*got)[f].values.size() * sizeof(float)),
                0)
          << "dim " << dim << " trial " << trial << " feature " << f;
      Tensor into;
      into.values.assign((*expected)[f].values.size(), std::nanf(""));
      ASSERT_TRUE((*serving)
                      ->LookupFeatureInto(f, inputs[f], weighted ? weights[f] : std::nullopt, &into)
                      .ok());
      EXPECT_EQ(into.shape, (*expected)[f].shape);
      EXPECT_EQ(std::memcmp(into.values.data(), (*expected)[f].values.data(),
                            into.values.size() * sizeof(float)),
                0)
          << "LookupFeatureInto: dim " << dim << " trial " << trial << " feature " << f;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Dims, ServingDimsTest, ::testing::Values(1, 9, 16, 17, 32, 64, 128));

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
        EXPECT_EQ(
            std::memcmp(table.slots[s].data(), snapshot[t][s].data(), snapshot[t][s].size() * 4),
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
