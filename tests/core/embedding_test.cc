// Copyright embrt authors.
//
// Tests for core/src/embedding.cc, driven through the mock backend (plugins/mock), whose call
// trace shows exactly what the core sent across the C ABI and in which order.

#include "embrt/embedding.h"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <limits>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "embrt/config.h"
#include "embrt/status_macros.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace embrt {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::Pointwise;
using ::testing::FloatNear;
using ::testing::StartsWith;

// The canonical fixture of plugin_api/MATH.md §5.1 on the mock backend, initialized with
// RowIdInitializer (row r = [r, r, ...]).
constexpr char kConfig[] = R"pb(
  tables {
    name: "video"
    vocabulary_size: 8
    dim: 4
    combiner: SUM
    initializer { row_id {} }
  }
  tables {
    name: "user"
    vocabulary_size: 16
    dim: 2
    combiner: MEAN
    initializer { row_id {} }
  }
  features { name: "watched" table: "video" }
  features { name: "favorited" table: "video" }
  features { name: "friends" table: "user" }
  optimizer {
    sgd {}
    learning_rate { constant: 0.1 }
  }
  backend { name: "mock" }
  per_replica_batch_size: 4
)pb";

// §5.1's ids: watched as COO, favorited and friends as ragged rows.
const std::vector<int64_t> kWatchedIndices = {0, 0, 1, 0, 1, 1, 2, 0, 2, 1, 3, 0};
const std::vector<int64_t> kWatchedIds = {0, 0, 1, 0, 1, 1};
const std::vector<int64_t> kFavoritedSplits = {0, 2, 3, 4, 6};
const std::vector<int64_t> kFavoritedIds = {0, 1, 1, 0, 0, 1};
const std::vector<int64_t> kFriendsSplits = {0, 1, 4, 5, 8};
const std::vector<int64_t> kFriendsIds = {3, 0, 1, 2, 3, 0, 1, 2};

std::vector<FeatureInput> CanonicalInputs() {
  return {FeatureInput::Sparse(kWatchedIndices, kWatchedIds, {4, 2}),
          FeatureInput::Ragged(kFavoritedSplits, kFavoritedIds),
          FeatureInput::Ragged(kFriendsSplits, kFriendsIds)};
}

// What the mock traces for an OK Enqueue of CanonicalInputs().
std::string CanonicalEnqueueLine(absl::string_view mode = "TRAINING", int replica = 0) {
  return absl::StrCat(
      "Enqueue replica=", replica, " mode=", mode,
      " features=3 ids=[[0,0,1,0,1,1],[0,1,1,0,0,1],[3,0,1,2,3,0,1,2]] "
      "row_splits=[[0,1,3,5,6],[0,2,3,4,6],[0,1,4,5,8]] weights=[null,null,null] -> OK");
}

class EmbeddingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const ::testing::TestInfo* info = ::testing::UnitTest::GetInstance()->current_test_info();
    trace_path_ = absl::StrCat(::testing::TempDir(), "embedding_test_", info->name(), ".trace");
    std::remove(trace_path_.c_str());
    absl::StatusOr<EmbeddingConfig> config = ParseConfigText(kConfig);
    ASSERT_TRUE(config.ok()) << config.status();
    config_ = *config;
    SetOption("trace_file", trace_path_);
  }
  void TearDown() override { std::remove(trace_path_.c_str()); }

  void SetOption(const std::string& key, const std::string& value) {
    (*config_.mutable_backend()->mutable_options())[key] = value;
  }

  std::unique_ptr<Embedding> CreateOrDie(EmbeddingOptions options = {}) {
    if (!options.warning_sink) {
      options.warning_sink = [this](absl::string_view w) { warnings_.emplace_back(w); };
    }
    absl::StatusOr<std::unique_ptr<Embedding>> embedding =
        Embedding::Create(config_, std::move(options));
    EXPECT_TRUE(embedding.ok()) << embedding.status();
    return embedding.ok() ? std::move(*embedding) : nullptr;
  }

  std::unique_ptr<Embedding> CreateAndBuild(EmbeddingOptions options = {}) {
    std::unique_ptr<Embedding> embedding = CreateOrDie(std::move(options));
    if (embedding != nullptr) {
      absl::Status status = embedding->Build();
      EXPECT_TRUE(status.ok()) << status;
    }
    return embedding;
  }

  std::vector<std::string> Trace() const {
    std::vector<std::string> lines;
    std::ifstream in(trace_path_);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
  }

  // Loads §5.1's tables: values 0, 1, 2, ... row-major, slots after "parameters" zero.
  static absl::Status LoadRowMajorCounting(Embedding& embedding) {
    return embedding.LoadTables([&](int table, int64_t begin, int64_t count,
                                    absl::Span<const absl::Span<float>> slots) {
      const int dim = embedding.config().tables[table].dim;
      for (int64_t i = 0; i < count * dim; ++i) slots[0][i] = static_cast<float>(begin * dim + i);
      for (size_t s = 1; s < slots.size(); ++s) std::fill(slots[s].begin(), slots[s].end(), 0);
      return absl::OkStatus();
    });
  }

  // Every table's parameters, by table, as retrieved.
  static std::vector<std::vector<float>> Retrieve(Embedding& embedding) {
    std::vector<std::vector<float>> tables(embedding.config().tables.size());
    absl::Status status = embedding.RetrieveTables(
        [&](int table, int64_t, int64_t, absl::Span<const absl::Span<const float>> slots) {
          tables[table].insert(tables[table].end(), slots[0].begin(), slots[0].end());
          return absl::OkStatus();
        });
    EXPECT_TRUE(status.ok()) << status;
    return tables;
  }

  // Every slot of every table, parameters first, as retrieved (compared as bits).
  static std::vector<std::vector<uint32_t>> RetrieveAllSlots(Embedding& embedding) {
    std::vector<std::vector<uint32_t>> slots;
    absl::Status status = embedding.RetrieveTables(
        [&](int, int64_t, int64_t, absl::Span<const absl::Span<const float>> chunk) {
          for (absl::Span<const float> slot : chunk) {
            std::vector<uint32_t>& bits = slots.emplace_back(slot.size());
            std::memcpy(bits.data(), slot.data(), slot.size() * sizeof(float));
          }
          return absl::OkStatus();
        });
    EXPECT_TRUE(status.ok()) << status;
    return slots;
  }

  // A full training step on replica `replica` with the canonical inputs and d loss/d a = a/2.
  static absl::Status TrainStep(Embedding& embedding, int replica = 0) {
    EMBRT_RETURN_IF_ERROR(embedding.Enqueue(CanonicalInputs(), {}, true, replica));
    absl::StatusOr<std::vector<Tensor>> activations = embedding.Dequeue(replica);
    if (!activations.ok()) return activations.status();
    std::vector<Tensor> gradients = *activations;
    for (Tensor& g : gradients) {
      for (float& v : g.values) v /= 2;
    }
    std::vector<std::optional<TensorView>> views;
    for (const Tensor& g : gradients) views.push_back(TensorView::Of(g));
    return embedding.ApplyGradients(views, replica);
  }

  EmbeddingConfig config_;
  std::string trace_path_;
  std::vector<std::string> warnings_;
};

TEST_F(EmbeddingTest, BuildDecidesOutputShapesAndCreatesTheEngine) {
  config_.mutable_features(1)->add_output_shape(2);
  config_.mutable_features(1)->add_output_shape(2);
  config_.mutable_features(2)->set_max_sequence_length(3);
  std::unique_ptr<Embedding> embedding = CreateAndBuild();
  ASSERT_NE(embedding, nullptr);
  EXPECT_TRUE(embedding->built());
  EXPECT_THAT(embedding->output_shape(0), ElementsAre(4));
  EXPECT_THAT(embedding->output_shape(1), ElementsAre(2, 2));  // the config's output_shape
  EXPECT_THAT(embedding->output_shape(2), ElementsAre(4, 3));  // [batch, max_sequence_length]
  EXPECT_EQ(embedding->output_size(0), 16);
  EXPECT_EQ(embedding->output_size(1), 16);
  EXPECT_EQ(embedding->output_size(2), 24);
  EXPECT_THAT(embedding->config().features[2].output_shape, ElementsAre(4, 3));
  // Tables are initialized lazily: Build creates the engine and nothing else.
  EXPECT_THAT(Trace(), ElementsAre("Create tables=2 features=3 replicas=1 hosts=1 host_id=0 "
                                   "batch=4 -> OK"));
  EXPECT_EQ(embedding->backend().path.find("libembrt_backend_mock.so") != std::string::npos,
            true);
}

TEST_F(EmbeddingTest, BuildWithOutputShapesGivesShapesToFeaturesWithoutTheirOwn) {
  config_.clear_per_replica_batch_size();
  config_.mutable_features(0)->add_output_shape(4);
  std::unique_ptr<Embedding> embedding = CreateOrDie();
  ASSERT_NE(embedding, nullptr);
  std::vector<std::vector<int64_t>> shapes = {{9}, {2, 3}, {6}};
  ASSERT_TRUE(embedding->BuildWithOutputShapes(shapes).ok());
  EXPECT_THAT(embedding->output_shape(0), ElementsAre(4));  // the config wins, as in TF
  EXPECT_THAT(embedding->output_shape(1), ElementsAre(2, 3));
  EXPECT_THAT(embedding->output_shape(2), ElementsAre(6));
  EXPECT_EQ(embedding->output_size(1), 24);
}

TEST_F(EmbeddingTest, BuildErrors) {
  config_.clear_per_replica_batch_size();
  std::unique_ptr<Embedding> embedding = CreateOrDie();
  ASSERT_NE(embedding, nullptr);
  absl::Status status = embedding->Build();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("per_replica_batch_size must be >= 1"));
  std::vector<std::vector<int64_t>> too_few = {{4}};
  EXPECT_THAT(embedding->BuildWithOutputShapes(too_few).message(),
              HasSubstr("got 1 output shapes for 3 features"));
  std::vector<std::vector<int64_t>> undefined = {{4}, {4, 0}, {4}};
  EXPECT_THAT(embedding->BuildWithOutputShapes(undefined).message(),
              AllOf(HasSubstr("[4, 0]"), HasSubstr("feature 'favorited'"),
                    HasSubstr("not fully defined")));
  EXPECT_FALSE(embedding->built());
  EXPECT_THAT(Trace(), IsEmpty());
  ASSERT_TRUE(embedding->Build(4).ok());
  status = embedding->Build(4);
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(status.message(), HasSubstr("already built"));
  EXPECT_EQ(Trace().size(), 1u);
}

// Issue 8 B: output shapes whose product (or product x dim) wraps are refused at Build, before
// a plugin sees 0 or negative input_rows; so is a shape with more rows than int32 row splits.
TEST_F(EmbeddingTest, BuildRefusesOutputShapesThatOverflow) {
  config_.clear_per_replica_batch_size();
  std::unique_ptr<Embedding> embedding = CreateOrDie();
  ASSERT_NE(embedding, nullptr);
  const int64_t big = int64_t{1} << 32;
  std::vector<std::vector<int64_t>> wraps_to_zero = {{4}, {big, big}, {4}};
  absl::Status status = embedding->BuildWithOutputShapes(wraps_to_zero);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(),
              AllOf(HasSubstr("feature 'favorited'"), HasSubstr("table 'video'"),
                    HasSubstr("[4294967296, 4294967296]"), HasSubstr("x dim 4"),
                    HasSubstr("more elements than int64 can count")));
  std::vector<std::vector<int64_t>> negative = {{4}, {4}, {3037000500, 3037000500}};
  EXPECT_THAT(embedding->BuildWithOutputShapes(negative).message(),
              AllOf(HasSubstr("feature 'friends'"), HasSubstr("[3037000500, 3037000500]")));
  std::vector<std::vector<int64_t>> too_many_rows = {{4}, {int64_t{1} << 31}, {4}};
  EXPECT_THAT(embedding->BuildWithOutputShapes(too_many_rows).message(),
              AllOf(HasSubstr("feature 'favorited'"), HasSubstr("2147483648 elements"),
                    HasSubstr("int32 row splits")));
  std::vector<std::vector<int64_t>> batch_too_big = {{big}, {4}, {4}};
  EXPECT_THAT(embedding->BuildWithOutputShapes(batch_too_big).message(),
              HasSubstr("the batch size 4294967296"));
  EXPECT_FALSE(embedding->built());
  EXPECT_THAT(Trace(), IsEmpty());  // no plugin ever saw them
}

// Issue 8 H: the mock refuses at Engine_Create tables it could never hold (it used to accept
// 1e15 rows, then fill a hash map during initialization until memory ran out).
TEST_F(EmbeddingTest, MockRefusesTablesThatCannotFitAtBuild) {
  config_.mutable_tables(1)->set_vocabulary_size(1000000000000000);
  config_.mutable_tables(1)->set_dim(64);
  std::unique_ptr<Embedding> embedding = CreateOrDie();
  ASSERT_NE(embedding, nullptr);
  absl::Status status = embedding->Build();
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted) << status;
  EXPECT_THAT(status.message(),
              AllOf(HasSubstr("table 1 'user'"), HasSubstr("1000000000000000 rows x dim 64"),
                    HasSubstr("x 1 slots x 4 bytes = 256000000000000000 bytes"),
                    HasSubstr("max_table_bytes = 4294967296")));
  EXPECT_FALSE(embedding->built());

  // The limit is a backend option: 8 rows x dim 4 (video) + 16 x 2 (user) floats are 256 bytes.
  config_ = *ParseConfigText(kConfig);
  SetOption("max_table_bytes", "255");
  embedding = CreateOrDie();
  ASSERT_NE(embedding, nullptr);
  EXPECT_THAT(embedding->Build().message(),
              HasSubstr("table 1 'user': 16 rows x dim 2 x 1 slots x 4 bytes = 128 bytes, "
                        "256 bytes with the tables before it"));
  SetOption("max_table_bytes", "256");
  embedding = CreateOrDie();
  ASSERT_NE(embedding, nullptr);
  EXPECT_TRUE(embedding->Build().ok());
}

// Issue 8 B through Enqueue: a rank-3 dense_shape whose product wraps to the batch is refused
// before any plugin sees it (it used to corrupt the heap while converting to CSR).
TEST_F(EmbeddingTest, SparseShapeThatWrapsNeverReachesThePlugin) {
  std::unique_ptr<Embedding> embedding = CreateAndBuild();
  ASSERT_NE(embedding, nullptr);
  const std::vector<int64_t> indices = {1, 0, 0};
  const std::vector<int64_t> ids = {3};
  std::vector<FeatureInput> inputs = CanonicalInputs();
  inputs[0] = FeatureInput::Sparse(indices, ids, {(int64_t{1} << 62) + 1, 4, 5});
  absl::Status status = embedding->Enqueue(inputs);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), AllOf(HasSubstr("feature 'watched'"), HasSubstr("table 'video'"),
                                      HasSubstr("[4611686018427387905, 4, 5]")));
  for (const std::string& line : Trace()) EXPECT_THAT(line, Not(HasSubstr("Enqueue")));
}

// Issue 8 F: NaN or infinite weights never reach a plugin (the mock would store them).
TEST_F(EmbeddingTest, NonFiniteWeightsNeverReachThePlugin) {
  std::unique_ptr<Embedding> embedding = CreateAndBuild();
  ASSERT_NE(embedding, nullptr);
  const std::vector<float> weights = {1, 1, std::numeric_limits<float>::quiet_NaN(), 1, 1, 1};
  std::vector<std::optional<FeatureWeights>> all = {std::nullopt, FeatureWeights::Ragged(weights),
                                                     std::nullopt};
  absl::Status status = embedding->Enqueue(CanonicalInputs(), all);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), AllOf(HasSubstr("feature 'favorited'"), HasSubstr("weight 2"),
                                      HasSubstr("must be finite")));
  for (const std::string& line : Trace()) EXPECT_THAT(line, Not(HasSubstr("Enqueue")));
  ASSERT_TRUE(TrainStep(*embedding).ok());
  for (const std::vector<float>& table : Retrieve(*embedding)) {
    for (float v : table) ASSERT_TRUE(std::isfinite(v));
  }
}

TEST_F(EmbeddingTest, StepPlumbingThroughTheAbi) {
  std::unique_ptr<Embedding> embedding = CreateAndBuild();
  ASSERT_NE(embedding, nullptr);
  ASSERT_TRUE(LoadRowMajorCounting(*embedding).ok());
  ASSERT_TRUE(embedding->Enqueue(CanonicalInputs()).ok());
  absl::StatusOr<std::vector<Tensor>> activations = embedding->Dequeue();
  ASSERT_TRUE(activations.ok()) << activations.status();
  // §5.2's forward activations.
  ASSERT_EQ(activations->size(), 3u);
  EXPECT_THAT((*activations)[0].shape, ElementsAre(4, 4));
  EXPECT_THAT((*activations)[0].values,
              ElementsAre(0, 1, 2, 3, 4, 6, 8, 10, 4, 6, 8, 10, 4, 5, 6, 7));
  EXPECT_THAT((*activations)[1].values,
              ElementsAre(4, 6, 8, 10, 4, 5, 6, 7, 0, 1, 2, 3, 4, 6, 8, 10));
  EXPECT_THAT((*activations)[2].shape, ElementsAre(4, 2));
  EXPECT_THAT((*activations)[2].values, ElementsAre(6, 7, 2, 3, 6, 7, 2, 3));

  std::vector<Tensor> gradients = *activations;
  for (Tensor& g : gradients) {
    for (float& v : g.values) v /= 2;
  }
  std::vector<std::optional<TensorView>> views;
  for (const Tensor& g : gradients) views.push_back(TensorView::Of(g));
  ASSERT_TRUE(embedding->ApplyGradients(views).ok());
  EXPECT_EQ(embedding->step(), 1);

  // §5.4, SGD(0.1): the mock applied exactly the gradients the core passed.
  std::vector<std::vector<float>> tables = Retrieve(*embedding);
  std::vector<float> video = {-0.8f, -0.3f, 0.2f, 0.7f, 2.8f, 3.3f, 3.8f, 4.3f};
  for (int i = 8; i < 32; ++i) video.push_back(static_cast<float>(i));
  EXPECT_THAT(tables[0], Pointwise(FloatNear(1e-5f), video));
  std::vector<float> user = {-0.06666667f, 0.9f, 1.933333f, 2.9f, 3.933333f, 4.9f, 5.4f, 6.3f};
  for (int i = 8; i < 32; ++i) user.push_back(static_cast<float>(i));
  EXPECT_THAT(tables[1], Pointwise(FloatNear(1e-5f), user));

  EXPECT_THAT(
      Trace(),
      ElementsAre("Create tables=2 features=3 replicas=1 hosts=1 host_id=0 batch=4 -> OK",
                  "LoadTableShard table=0 shard=0 rows=[0,8) slots=1 -> OK",
                  "LoadTableShard table=1 shard=0 rows=[0,16) slots=1 -> OK",
                  CanonicalEnqueueLine(), "RecvActivations replica=0 features=3 -> OK",
                  "SendGradients replica=0 features=3 step=1 null_gradients=[] "
                  "learning_rates=null -> OK",
                  "RetrieveTableShard table=0 shard=0 rows=[0,8) slots=1 -> OK",
                  "RetrieveTableShard table=1 shard=0 rows=[0,16) slots=1 -> OK"));
  embedding.reset();
  EXPECT_EQ(Trace().back(), "Destroy -> OK");
}

TEST_F(EmbeddingTest, WeightsAndDenseInputsReachThePluginAsCsr) {
  std::unique_ptr<Embedding> embedding = CreateAndBuild();
  ASSERT_NE(embedding, nullptr);
  std::vector<int64_t> dense = {7, 6, 5, 4};
  std::vector<float> favorited_weights = {0.5f, 1, 2, 3, 4, 5};
  std::vector<FeatureInput> inputs = {FeatureInput::Dense(dense, {4, 1}),
                                      FeatureInput::Ragged(kFavoritedSplits, kFavoritedIds),
                                      FeatureInput::Ragged(kFriendsSplits, kFriendsIds)};
  std::vector<std::optional<FeatureWeights>> weights = {
      std::nullopt, FeatureWeights::Ragged(favorited_weights), std::nullopt};
  ASSERT_TRUE(embedding->Enqueue(inputs, weights, /*training=*/false).ok());
  absl::StatusOr<std::vector<Tensor>> activations = embedding->Dequeue();
  ASSERT_TRUE(activations.ok()) << activations.status();
  // Row-id tables: watched is one id per row; favorited row 0 = 0.5*row0 + 1*row1 (sum).
  EXPECT_THAT((*activations)[0].values,
              ElementsAre(7, 7, 7, 7, 6, 6, 6, 6, 5, 5, 5, 5, 4, 4, 4, 4));
  EXPECT_THAT((*activations)[1].values,
              ElementsAre(1, 1, 1, 1, 2, 2, 2, 2, 0, 0, 0, 0, 5, 5, 5, 5));
  std::vector<std::string> trace = Trace();
  ASSERT_EQ(trace.size(), 5u);
  EXPECT_EQ(trace[3],
            "Enqueue replica=0 mode=INFERENCE features=3 ids=[[7,6,5,4],[0,1,1,0,0,1],"
            "[3,0,1,2,3,0,1,2]] row_splits=[[0,1,2,3,4],[0,2,3,4,6],[0,1,4,5,8]] "
            "weights=[null,[0.5,1,2,3,4,5],null] -> OK");
}

// Ragged and dense ids reach the plugin without a copy, borrowed for the Enqueue call only
// (input_lifetime CALL, not traced); with EmbeddingOptions::inputs_outlive_step the core
// passes EMBRT_INPUT_LIFETIME_STEP, and so it does when every feature was converted into the
// core's own buffers (sparse inputs), which stay unchanged until the replica's next Enqueue.
TEST_F(EmbeddingTest, InputLifetimeFollowsWhoOwnsTheArrays) {
  EmbeddingOptions options;
  options.inputs_outlive_step = true;
  std::unique_ptr<Embedding> promised = CreateAndBuild(std::move(options));
  ASSERT_NE(promised, nullptr);
  const std::vector<FeatureInput> inputs = CanonicalInputs();
  ASSERT_TRUE(promised->Enqueue(inputs, {}, /*training=*/false).ok());
  ASSERT_TRUE(promised->Dequeue().ok());
  std::string expected = CanonicalEnqueueLine("INFERENCE");
  expected.insert(expected.find(" ids="), " input_lifetime=STEP");
  EXPECT_EQ(Trace()[3], expected);
  promised.reset();

  std::remove(trace_path_.c_str());
  std::unique_ptr<Embedding> embedding = CreateAndBuild();
  ASSERT_NE(embedding, nullptr);
  const std::vector<int64_t> favorited_indices = {0, 0, 0, 1, 1, 0, 2, 0, 3, 0, 3, 1};
  const std::vector<int64_t> friends_indices = {0, 0, 1, 0, 1, 1, 1, 2,
                                                2, 0, 3, 0, 3, 1, 3, 2};
  const std::vector<FeatureInput> sparse = {
      inputs[0], FeatureInput::Sparse(favorited_indices, kFavoritedIds, {4, 2}),
      FeatureInput::Sparse(friends_indices, kFriendsIds, {4, 3})};
  ASSERT_TRUE(embedding->Enqueue(sparse, {}, /*training=*/false).ok());
  ASSERT_TRUE(embedding->Dequeue().ok());
  ASSERT_TRUE(embedding->Enqueue(inputs, {}, /*training=*/false).ok());
  ASSERT_TRUE(embedding->Dequeue().ok());
  const std::vector<std::string> trace = Trace();
  ASSERT_EQ(trace.size(), 7u);
  EXPECT_EQ(trace[3], expected);
  EXPECT_EQ(trace[5], CanonicalEnqueueLine("INFERENCE"));
}

TEST_F(EmbeddingTest, SequenceFeatureIsTruncatedAndPadded) {
  config_.mutable_features(2)->set_max_sequence_length(2);
  std::unique_ptr<Embedding> embedding = CreateAndBuild();
  ASSERT_NE(embedding, nullptr);
  ASSERT_TRUE(LoadRowMajorCounting(*embedding).ok());
  ASSERT_TRUE(embedding->Enqueue(CanonicalInputs(), {}, false).ok());
  absl::StatusOr<std::vector<Tensor>> activations = embedding->Dequeue();
  ASSERT_TRUE(activations.ok()) << activations.status();
  // §5.5 "Sequence lookup": [[6,7],[0,0]], [[0,1],[2,3]], [[6,7],[0,0]], [[0,1],[2,3]].
  EXPECT_THAT((*activations)[2].shape, ElementsAre(4, 2, 2));
  EXPECT_THAT((*activations)[2].values,
              ElementsAre(6, 7, 0, 0, 0, 1, 2, 3, 6, 7, 0, 0, 0, 1, 2, 3));
  EXPECT_THAT(Trace()[3], HasSubstr("ids=[[0,0,1,0,1,1],[0,1,1,0,0,1],[3,0,1,3,0,1]] "
                                    "row_splits=[[0,1,3,5,6],[0,2,3,4,6],[0,1,3,4,6]]"));
}

TEST_F(EmbeddingTest, SequenceLengthIsIgnoredForAnExplicitOutputShape) {
  // TF's newest TPU path: an output_shape overrides max_sequence_length; rows are then bags.
  config_.mutable_features(2)->set_max_sequence_length(2);
  config_.mutable_features(2)->add_output_shape(2);
  config_.mutable_features(2)->add_output_shape(2);
  std::unique_ptr<Embedding> embedding = CreateAndBuild();
  ASSERT_NE(embedding, nullptr);
  EXPECT_THAT(embedding->output_shape(2), ElementsAre(2, 2));
  EXPECT_EQ(embedding->config().features[2].max_sequence_length, 0);
  ASSERT_EQ(warnings_.size(), 1u);
  EXPECT_THAT(warnings_[0], AllOf(HasSubstr("feature 'friends'"),
                                  HasSubstr("max_sequence_length 2"), HasSubstr("ignored")));
  ASSERT_TRUE(LoadRowMajorCounting(*embedding).ok());
  ASSERT_TRUE(embedding->Enqueue(CanonicalInputs(), {}, false).ok());
  absl::StatusOr<std::vector<Tensor>> activations = embedding->Dequeue();
  ASSERT_TRUE(activations.ok()) << activations.status();
  EXPECT_THAT((*activations)[2].shape, ElementsAre(2, 2, 2));
  EXPECT_THAT((*activations)[2].values, ElementsAre(6, 7, 2, 3, 6, 7, 2, 3));
}

TEST_F(EmbeddingTest, InitializationIsChunkedAndHappensOnce) {
  EmbeddingOptions options;
  options.chunk_rows = 3;
  std::unique_ptr<Embedding> embedding = CreateAndBuild(std::move(options));
  ASSERT_NE(embedding, nullptr);
  ASSERT_TRUE(embedding->Enqueue(CanonicalInputs()).ok());
  absl::StatusOr<std::vector<Tensor>> activations = embedding->Dequeue();
  ASSERT_TRUE(activations.ok()) << activations.status();
  // RowIdInitializer: watched bags [0], [0,1], [0,1], [1] summed.
  EXPECT_THAT((*activations)[0].values,
              ElementsAre(0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1));
  std::vector<std::optional<TensorView>> none(3);
  ASSERT_TRUE(embedding->ApplyGradients(none).ok());
  ASSERT_TRUE(embedding->Enqueue(CanonicalInputs()).ok());
  ASSERT_TRUE(embedding->Synchronize().ok());
  std::vector<std::string> trace = Trace();
  std::vector<std::string> expected = {
      "Create tables=2 features=3 replicas=1 hosts=1 host_id=0 batch=4 -> OK",
      "LoadTableShard table=0 shard=0 rows=[0,3) slots=1 -> OK",
      "LoadTableShard table=0 shard=0 rows=[3,6) slots=1 -> OK",
      "LoadTableShard table=0 shard=0 rows=[6,8) slots=1 -> OK"};
  for (int begin = 0; begin < 16; begin += 3) {
    expected.push_back(absl::StrCat("LoadTableShard table=1 shard=0 rows=[", begin, ",",
                                    std::min(begin + 3, 16), ") slots=1 -> OK"));
  }
  expected.push_back(CanonicalEnqueueLine());
  expected.push_back("RecvActivations replica=0 features=3 -> OK");
  expected.push_back(
      "SendGradients replica=0 features=3 step=1 null_gradients=[0,1,2] learning_rates=null -> "
      "OK");
  expected.push_back(CanonicalEnqueueLine());
  expected.push_back("Synchronize -> OK");
  EXPECT_THAT(trace, ElementsAreArray(expected));
}

TEST_F(EmbeddingTest, LoadTablesBeforeTheFirstStepReplacesInitialization) {
  std::unique_ptr<Embedding> embedding = CreateAndBuild();
  ASSERT_NE(embedding, nullptr);
  ASSERT_TRUE(LoadRowMajorCounting(*embedding).ok());
  ASSERT_TRUE(embedding->Enqueue(CanonicalInputs()).ok());
  std::vector<std::string> trace = Trace();
  ASSERT_EQ(trace.size(), 4u);  // Create, two loads (ours), Enqueue: no initializer loads
  EXPECT_EQ(trace[3], CanonicalEnqueueLine());
  absl::StatusOr<std::vector<Tensor>> activations = embedding->Dequeue();
  ASSERT_TRUE(activations.ok());
  EXPECT_THAT((*activations)[2].values, ElementsAre(6, 7, 2, 3, 6, 7, 2, 3));
}

TEST_F(EmbeddingTest, FailedLoadBeforeTheFirstStepStillInitializes) {
  std::unique_ptr<Embedding> embedding = CreateAndBuild();
  ASSERT_NE(embedding, nullptr);
  absl::Status status = embedding->LoadTables(
      [](int table, int64_t, int64_t, absl::Span<const absl::Span<float>> slots) {
        if (table == 1) return absl::DataLossError("bad chunk");
        std::fill(slots[0].begin(), slots[0].end(), 42.0f);
        return absl::OkStatus();
      });
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
  ASSERT_TRUE(embedding->Enqueue(CanonicalInputs(), {}, false).ok());
  absl::StatusOr<std::vector<Tensor>> activations = embedding->Dequeue();
  ASSERT_TRUE(activations.ok());
  // The initializers ran in full: no 42 from the failed load is left.
  EXPECT_THAT((*activations)[0].values,
              ElementsAre(0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1));
}

TEST_F(EmbeddingTest, CallsBeforeBuildAreFailedPrecondition) {
  std::unique_ptr<Embedding> embedding = CreateOrDie();
  ASSERT_NE(embedding, nullptr);
  EXPECT_FALSE(embedding->built());
  // (Enqueue builds: see FirstEnqueueBuildsWithTheShapesOfItsInputs.)
  for (absl::Status status :
       {embedding->Dequeue().status(),
        embedding->ApplyGradients({}), embedding->Synchronize(),
        embedding->RetrieveTables([](int, int64_t, int64_t,
                                     absl::Span<const absl::Span<const float>>) {
          return absl::OkStatus();
        })}) {
    EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_THAT(status.message(), HasSubstr("before Build"));
  }
  EXPECT_THAT(Trace(), IsEmpty());
}

TEST_F(EmbeddingTest, FirstEnqueueBuildsWithTheShapesOfItsInputs) {
  config_.clear_per_replica_batch_size();  // nothing says the batch: the inputs do
  std::unique_ptr<Embedding> embedding = CreateOrDie();
  ASSERT_NE(embedding, nullptr);
  ASSERT_TRUE(embedding->Enqueue(CanonicalInputs()).ok());
  EXPECT_TRUE(embedding->built());
  for (int f = 0; f < 3; ++f) EXPECT_THAT(embedding->output_shape(f), ElementsAre(4));
  // The same step as after Build(4): the trace shows the same Create and Enqueue.
  absl::StatusOr<std::vector<Tensor>> activations = embedding->Dequeue();
  ASSERT_TRUE(activations.ok()) << activations.status();
  EXPECT_THAT((*activations)[0].shape, ElementsAre(4, 4));
  std::vector<Tensor> gradients = *activations;
  std::vector<std::optional<TensorView>> views;
  for (const Tensor& g : gradients) views.push_back(TensorView::Of(g));
  ASSERT_TRUE(embedding->ApplyGradients(views).ok());
  const std::vector<std::string> trace = Trace();
  ASSERT_GE(trace.size(), 2u);
  EXPECT_EQ(trace[0], "Create tables=2 features=3 replicas=1 hosts=1 host_id=0 batch=4 -> OK");
  EXPECT_THAT(trace, ::testing::Contains(CanonicalEnqueueLine()));
  EXPECT_EQ(embedding->step(), 1);
  // An explicit Build afterwards is the "already built" error, as in TF.
  EXPECT_EQ(embedding->Build(4).code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(EmbeddingTest, AutoBuiltShapesFollowTfsRules) {
  config_.clear_per_replica_batch_size();
  config_.mutable_features(2)->set_max_sequence_length(3);  // friends: a sequence feature
  config_.mutable_features(1)->add_output_shape(2);         // favorited: the config's shape wins
  config_.mutable_features(1)->add_output_shape(2);
  std::unique_ptr<Embedding> embedding = CreateOrDie();
  ASSERT_NE(embedding, nullptr);
  // watched: rank-3 sparse [2, 2, 2] -> [2, 2].
  const std::vector<int64_t> indices = {0, 0, 0, 0, 1, 0, 1, 0, 1, 1, 1, 0};
  const std::vector<int64_t> ids = {0, 1, 2, 3};
  ASSERT_TRUE(embedding
                  ->Enqueue({FeatureInput::Sparse(indices, ids, {2, 2, 2}),
                             FeatureInput::Ragged(kFavoritedSplits, kFavoritedIds),
                             FeatureInput::Ragged(kFriendsSplits, kFriendsIds)},
                            {}, /*training=*/false)
                  .ok());
  EXPECT_THAT(embedding->output_shape(0), ElementsAre(2, 2));
  EXPECT_THAT(embedding->output_shape(1), ElementsAre(2, 2));
  EXPECT_THAT(embedding->output_shape(2), ElementsAre(4, 3));
}

TEST_F(EmbeddingTest, InconsistentLaterBatchesAreErrorsAsInTf) {
  config_.clear_per_replica_batch_size();
  std::unique_ptr<Embedding> embedding = CreateOrDie();
  ASSERT_NE(embedding, nullptr);
  // A first Enqueue that TF rejects builds nothing.
  const std::vector<int64_t> dense = {1, 2, 3, 4};
  absl::Status status = embedding->Enqueue({FeatureInput::Dense(dense, {2, 2}),
                                            FeatureInput::Ragged(kFavoritedSplits, kFavoritedIds),
                                            FeatureInput::Ragged(kFriendsSplits, kFriendsIds)});
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), AllOf(HasSubstr("feature 'watched'"),
                                      HasSubstr("must have a last dimension of 1")));
  EXPECT_FALSE(embedding->built());
  EXPECT_THAT(Trace(), IsEmpty());
  // Build from a dense [4, 1] batch, then a batch of 3 rows is a mismatch.
  ASSERT_TRUE(embedding->Enqueue({FeatureInput::Dense(dense, {4, 1}),
                                  FeatureInput::Ragged(kFavoritedSplits, kFavoritedIds),
                                  FeatureInput::Ragged(kFriendsSplits, kFriendsIds)},
                                 {}, /*training=*/false)
                  .ok());
  EXPECT_THAT(embedding->output_shape(0), ElementsAre(4));
  ASSERT_TRUE(embedding->Dequeue().ok());
  const std::vector<int64_t> three = {1, 2, 3};
  status = embedding->Enqueue({FeatureInput::Dense(three),
                               FeatureInput::Ragged(kFavoritedSplits, kFavoritedIds),
                               FeatureInput::Ragged(kFriendsSplits, kFriendsIds)});
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), AllOf(HasSubstr("feature 'watched'"),
                                      HasSubstr("batch size mismatch"),
                                      HasSubstr("expected 4, got 3")));
  // Nothing changed: the right shape still works.
  EXPECT_TRUE(embedding->Enqueue({FeatureInput::Dense(dense),
                                  FeatureInput::Ragged(kFavoritedSplits, kFavoritedIds),
                                  FeatureInput::Ragged(kFriendsSplits, kFriendsIds)},
                                 {}, /*training=*/false)
                  .ok());
}

TEST_F(EmbeddingTest, StepsOutOfOrderAreFailedPreconditionAndChangeNothing) {
  std::unique_ptr<Embedding> embedding = CreateAndBuild();
  ASSERT_NE(embedding, nullptr);
  std::vector<Tensor> zeros(3);
  std::vector<std::optional<TensorView>> gradients(3);

  absl::Status status = embedding->Dequeue().status();
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(status.message(), HasSubstr("Dequeue for replica 0 before Enqueue"));
  status = embedding->ApplyGradients(gradients);
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(status.message(), HasSubstr("without a pending training step"));

  ASSERT_TRUE(embedding->Enqueue(CanonicalInputs()).ok());
  const size_t lines = Trace().size();
  status = embedding->Enqueue(CanonicalInputs());
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(status.message(), HasSubstr("previous step is still pending"));
  status = embedding->ApplyGradients(gradients);
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(status.message(), HasSubstr("before Dequeue"));
  EXPECT_EQ(Trace().size(), lines);

  ASSERT_TRUE(embedding->Dequeue().ok());
  status = embedding->Dequeue().status();
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(status.message(), HasSubstr("awaits ApplyGradients"));
  status = embedding->Enqueue(CanonicalInputs());
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(status.message(), HasSubstr("previous training step awaits ApplyGradients"));
  EXPECT_EQ(Trace().size(), lines + 1);  // only the good Dequeue reached the plugin
  ASSERT_TRUE(embedding->ApplyGradients(gradients).ok());
  EXPECT_EQ(embedding->step(), 1);

  // Inference: no gradients, before or after the dequeue; the next enqueue is fine.
  ASSERT_TRUE(embedding->Enqueue(CanonicalInputs(), {}, /*training=*/false).ok());
  status = embedding->ApplyGradients(gradients);
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(status.message(), HasSubstr("after an inference enqueue"));
  ASSERT_TRUE(embedding->Dequeue().ok());
  status = embedding->ApplyGradients(gradients);
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(status.message(), HasSubstr("after an inference enqueue"));
  EXPECT_TRUE(embedding->Enqueue(CanonicalInputs(), {}, /*training=*/false).ok());
  EXPECT_EQ(embedding->step(), 1);
}

TEST_F(EmbeddingTest, ReplicaOutOfRangeIsInvalidArgument) {
  std::unique_ptr<Embedding> embedding = CreateAndBuild();
  ASSERT_NE(embedding, nullptr);
  for (int replica : {-1, 1}) {
    absl::Status status = embedding->Enqueue(CanonicalInputs(), {}, true, replica);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(status.message(), HasSubstr(absl::StrCat("replica ", replica, " is out of range")));
    EXPECT_EQ(embedding->Dequeue(replica).status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(embedding->ApplyGradients({}, replica).code(), absl::StatusCode::kInvalidArgument);
  }
  EXPECT_EQ(Trace().size(), 1u);
}

TEST_F(EmbeddingTest, BadFeatureEnqueuesNothing) {
  std::unique_ptr<Embedding> embedding = CreateAndBuild();
  ASSERT_NE(embedding, nullptr);
  std::vector<int64_t> bad_friends = {3, 0, 1, 2, 3, 0, 1, 16};
  std::vector<FeatureInput> inputs = CanonicalInputs();
  inputs[2] = FeatureInput::Ragged(kFriendsSplits, bad_friends);
  absl::Status status = embedding->Enqueue(inputs);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(),
              AllOf(HasSubstr("feature 'friends'"), HasSubstr("table 'user'"),
                    HasSubstr("id 16 at row 3, position 2 is out of range")));
  EXPECT_EQ(embedding->Enqueue(CanonicalInputs(), {}, true).code(), absl::StatusCode::kOk);
  EXPECT_EQ(Trace().back(), CanonicalEnqueueLine());

  std::vector<FeatureInput> two = CanonicalInputs();
  two.pop_back();
  status = embedding->Enqueue(two);
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);  // state is checked first
}

// One host leaves the range check of the ids that the plugin reads in place (dense, ragged) to
// the plugin (plugin rule 13), as it leaves NaN gradients to it: the plugin rejects the call,
// changing nothing, and the core words the error exactly as its own check did. Sparse ids are
// still checked in the core's copy and never reach the plugin. On the mock (which traces what
// reached it) and the cpu backend (threads 2, Adagrad, so that slots could change), for
// training and inference, with inputs copied and read in place.
TEST_F(EmbeddingTest, OneHostWordsThePluginsRejectionOfAnIdOutOfRange) {
  const std::vector<int64_t> bad_friends = {3, 0, 1, 2, 3, 0, 1, 16};
  const std::vector<int64_t> negative_favorited = {0, 1, 1, 0, -3, 1};
  const std::vector<int64_t> dense_favorited = {0, 1, 8, 0};
  const std::vector<int64_t> bad_watched = {0, 0, 1, 0, 8, 1};  // index [2, 1]
  struct Case {
    const char* what;
    int feature;
    FeatureInput input;
    bool reaches_plugin;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"ragged", 2, FeatureInput::Ragged(kFriendsSplits, bad_friends), true,
       "feature 'friends' (#2, table 'user'): id 16 at row 3, position 2 is out of range "
       "(vocabulary_size 16)"},
      {"ragged, negative", 1, FeatureInput::Ragged(kFavoritedSplits, negative_favorited), true,
       "feature 'favorited' (#1, table 'video'): id -3 at row 3, position 0 is negative "
       "(vocabulary_size 8)"},
      {"dense", 1, FeatureInput::Dense(dense_favorited, {4, 1}), true,
       "feature 'favorited' (#1, table 'video'): id 8 at row 2, position 0 is out of range "
       "(vocabulary_size 8)"},
      {"sparse", 0, FeatureInput::Sparse(kWatchedIndices, bad_watched, {4, 2}), false,
       "feature 'watched' (#0, table 'video'): id 8 at row 2, position 1 is out of range "
       "(vocabulary_size 8)"},
  };
  const EmbeddingConfig mock_config = config_;
  for (const std::string backend : {"mock", "cpu"}) {
    config_ = mock_config;
    if (backend == "cpu") {
      config_.mutable_backend()->set_name("cpu");
      config_.mutable_backend()->mutable_options()->clear();
      (*config_.mutable_backend()->mutable_options())["threads"] = "2";
      config_.mutable_optimizer()->mutable_adagrad()->set_initial_accumulator_value(0.1f);
    }
    for (bool training : {true, false}) {
      for (bool in_place : {false, true}) {
        for (const Case& c : cases) {
          SCOPED_TRACE(absl::StrCat(backend, ", ", c.what, training ? ", training" : ", inference",
                                    in_place ? ", inputs_outlive_step" : ""));
          std::remove(trace_path_.c_str());
          EmbeddingOptions options;
          options.inputs_outlive_step = in_place;
          std::unique_ptr<Embedding> embedding = CreateAndBuild(options);
          std::unique_ptr<Embedding> untouched = CreateAndBuild(options);
          ASSERT_NE(embedding, nullptr);
          ASSERT_NE(untouched, nullptr);
          for (Embedding* e : {embedding.get(), untouched.get()}) {
            ASSERT_TRUE(LoadRowMajorCounting(*e).ok());
            ASSERT_TRUE(TrainStep(*e).ok());
          }
          std::vector<FeatureInput> inputs = CanonicalInputs();
          inputs[c.feature] = c.input;
          const size_t lines = Trace().size();
          absl::Status status = embedding->Enqueue(inputs, {}, training);
          EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
          EXPECT_EQ(status.message(), c.message);
          if (backend == "mock") {
            const std::vector<std::string> trace = Trace();
            if (c.reaches_plugin) {
              ASSERT_EQ(trace.size(), lines + 1);
              EXPECT_THAT(trace.back(),
                          AllOf(StartsWith("Enqueue"), HasSubstr("-> INVALID_ARGUMENT")));
            } else {
              EXPECT_EQ(trace.size(), lines);
            }
          }
          // Nothing changed: the next step, the tables and every slot are those of an
          // embedding that never saw the bad call.
          EXPECT_EQ(embedding->step(), 1);
          ASSERT_TRUE(TrainStep(*embedding).ok());
          ASSERT_TRUE(TrainStep(*untouched).ok());
          for (Embedding* e : {embedding.get(), untouched.get()}) {
            ASSERT_TRUE(e->Enqueue(CanonicalInputs(), {}, /*training=*/false).ok());
          }
          absl::StatusOr<std::vector<Tensor>> got = embedding->Dequeue();
          absl::StatusOr<std::vector<Tensor>> want = untouched->Dequeue();
          ASSERT_TRUE(got.ok() && want.ok());
          for (size_t f = 0; f < got->size(); ++f) {
            const std::vector<float>& a = (*got)[f].values;
            const std::vector<float>& b = (*want)[f].values;
            ASSERT_EQ(a.size(), b.size());
            EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)), 0)
                << "activations of feature " << f << " differ";
          }
          EXPECT_EQ(RetrieveAllSlots(*embedding), RetrieveAllSlots(*untouched));
        }
      }
    }
  }
}

TEST_F(EmbeddingTest, FeatureAndWeightCountsAreChecked) {
  std::unique_ptr<Embedding> embedding = CreateAndBuild();
  ASSERT_NE(embedding, nullptr);
  std::vector<FeatureInput> two = CanonicalInputs();
  two.pop_back();
  EXPECT_THAT(embedding->Enqueue(two).message(), HasSubstr("got 2 feature inputs"));
  std::vector<std::optional<FeatureWeights>> one(1);
  EXPECT_THAT(embedding->Enqueue(CanonicalInputs(), one).message(), HasSubstr("got 1 weights"));
  EXPECT_EQ(Trace().size(), 1u);
}

TEST_F(EmbeddingTest, GradientShapeMustMatchTheActivations) {
  std::unique_ptr<Embedding> embedding = CreateAndBuild();
  ASSERT_NE(embedding, nullptr);
  ASSERT_TRUE(embedding->Enqueue(CanonicalInputs()).ok());
  absl::StatusOr<std::vector<Tensor>> activations = embedding->Dequeue();
  ASSERT_TRUE(activations.ok());
  const size_t lines = Trace().size();
  Tensor wrong;
  wrong.shape = {4, 3};
  wrong.values.assign(12, 0.0f);
  std::vector<std::optional<TensorView>> gradients = {
      TensorView::Of((*activations)[0]), TensorView::Of((*activations)[1]),
      TensorView::Of(wrong)};
  absl::Status status = embedding->ApplyGradients(gradients);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(),
              AllOf(HasSubstr("Found gradient of shape [4, 3] at feature 'friends'"),
                    HasSubstr("table 'user'"), HasSubstr("Expected shape [4, 2]")));
  EXPECT_THAT(embedding->ApplyGradients({gradients[0]}).message(),
              HasSubstr("got 1 gradients for 3 features"));
  Tensor short_values = (*activations)[2];
  short_values.values.pop_back();
  gradients[2] = TensorView::Of(short_values);
  EXPECT_THAT(embedding->ApplyGradients(gradients).message(),
              HasSubstr("holds 7 values instead of 8"));
  EXPECT_EQ(Trace().size(), lines);
  gradients[2] = TensorView::Of((*activations)[2]);
  EXPECT_TRUE(embedding->ApplyGradients(gradients).ok());
  EXPECT_EQ(embedding->step(), 1);
}

TEST_F(EmbeddingTest, NonFiniteGradientsAreRejectedUnlessAllowed) {
  for (bool allow : {false, true}) {
    config_.set_allow_nonfinite_gradients(allow);
    std::unique_ptr<Embedding> embedding = CreateAndBuild();
    ASSERT_NE(embedding, nullptr);
    ASSERT_TRUE(embedding->Enqueue(CanonicalInputs()).ok());
    absl::StatusOr<std::vector<Tensor>> activations = embedding->Dequeue();
    ASSERT_TRUE(activations.ok());
    (*activations)[1].values[5] = std::numeric_limits<float>::quiet_NaN();
    std::vector<std::optional<TensorView>> gradients;
    for (const Tensor& a : *activations) gradients.push_back(TensorView::Of(a));
    absl::Status status = embedding->ApplyGradients(gradients);
    if (allow) {
      EXPECT_TRUE(status.ok()) << status;
    } else {
      EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
      EXPECT_THAT(status.message(), AllOf(HasSubstr("feature 'favorited'"),
                                          HasSubstr("table 'video'"),
                                          HasSubstr("nan at flat position 5")));
      // The plugin rejected the call and applied nothing: the step can be sent again.
      (*activations)[1].values[5] = 0.0f;
      gradients.clear();
      for (const Tensor& a : *activations) gradients.push_back(TensorView::Of(a));
      EXPECT_TRUE(embedding->ApplyGradients(gradients).ok());
    }
    EXPECT_EQ(embedding->step(), 1);
  }
}

TEST_F(EmbeddingTest, MissingGradientWarnsAndSendsNull) {
  std::unique_ptr<Embedding> embedding = CreateAndBuild();
  ASSERT_NE(embedding, nullptr);
  ASSERT_TRUE(embedding->Enqueue(CanonicalInputs()).ok());
  absl::StatusOr<std::vector<Tensor>> activations = embedding->Dequeue();
  ASSERT_TRUE(activations.ok());
  std::vector<std::optional<TensorView>> gradients = {
      TensorView::Of((*activations)[0]), std::nullopt, TensorView::Of((*activations)[2])};
  ASSERT_TRUE(embedding->ApplyGradients(gradients).ok());
  ASSERT_EQ(warnings_.size(), 1u);
  EXPECT_THAT(warnings_[0], AllOf(HasSubstr("no gradient for feature 'favorited'"),
                                  HasSubstr("table 'video'"), HasSubstr("zero gradient")));
  EXPECT_EQ(Trace().back(),
            "SendGradients replica=0 features=3 step=1 null_gradients=[1] learning_rates=null "
            "-> OK");
}

TEST_F(EmbeddingTest, DequeueIntoWritesCallerBuffers) {
  std::unique_ptr<Embedding> embedding = CreateAndBuild();
  ASSERT_NE(embedding, nullptr);
  ASSERT_TRUE(LoadRowMajorCounting(*embedding).ok());
  ASSERT_TRUE(embedding->Enqueue(CanonicalInputs(), {}, false).ok());
  std::vector<float> a(16), b(16), c(7);
  std::vector<absl::Span<float>> outputs = {absl::MakeSpan(a), absl::MakeSpan(b),
                                            absl::MakeSpan(c)};
  absl::Status status = embedding->DequeueInto(outputs);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(),
              AllOf(HasSubstr("feature 'friends'"), HasSubstr("holds 7 floats"),
                    HasSubstr("need 8")));
  c.resize(8);
  outputs[2] = absl::MakeSpan(c);
  ASSERT_TRUE(embedding->DequeueInto(outputs).ok());
  EXPECT_THAT(c, ElementsAre(6, 7, 2, 3, 6, 7, 2, 3));
}

TEST_F(EmbeddingTest, PluginErrorsComeBackWithTheirCodeAndChangeNothing) {
  SetOption("fail_call", "Enqueue");
  SetOption("fail_at", "2");
  SetOption("fail_code", "RESOURCE_EXHAUSTED");
  SetOption("fail_message", "device queue full");
  std::unique_ptr<Embedding> embedding = CreateAndBuild();
  ASSERT_NE(embedding, nullptr);
  ASSERT_TRUE(TrainStep(*embedding).ok());
  absl::Status status = embedding->Enqueue(CanonicalInputs());
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(status.message(), AllOf(HasSubstr("device queue full"),
                                      HasSubstr("Engine_Enqueue")));
  // The failed enqueue left replica 0 idle: the next step runs.
  EXPECT_TRUE(TrainStep(*embedding).ok());
  EXPECT_EQ(embedding->step(), 2);
}

TEST_F(EmbeddingTest, PluginErrorInCreateLeavesTheEmbeddingUnbuilt) {
  SetOption("fail_call", "Create");
  SetOption("fail_code", "UNAVAILABLE");
  std::unique_ptr<Embedding> embedding = CreateOrDie();
  ASSERT_NE(embedding, nullptr);
  absl::Status status = embedding->Build();
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(status.message(), HasSubstr("Engine_Create"));
  EXPECT_FALSE(embedding->built());
}

TEST_F(EmbeddingTest, PluginErrorInSendGradientsKeepsTheStepPending) {
  SetOption("fail_call", "SendGradients");
  SetOption("fail_code", "INTERNAL");
  std::unique_ptr<Embedding> embedding = CreateAndBuild();
  ASSERT_NE(embedding, nullptr);
  absl::Status status = TrainStep(*embedding);
  EXPECT_EQ(status.code(), absl::StatusCode::kInternal);
  EXPECT_EQ(embedding->step(), 0);
  std::vector<std::optional<TensorView>> none(3);
  EXPECT_TRUE(embedding->ApplyGradients(none).ok());
  EXPECT_EQ(embedding->step(), 1);
}

TEST_F(EmbeddingTest, UnsupportedOptimizerIsUnimplemented) {
  config_.mutable_optimizer()->mutable_adagrad();
  absl::StatusOr<std::unique_ptr<Embedding>> embedding = Embedding::Create(config_);
  EXPECT_EQ(embedding.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(embedding.status().message(),
              AllOf(HasSubstr("backend 'mock'"), HasSubstr("optimizer 'adagrad'"),
                    HasSubstr("table 'video'")));
}

TEST_F(EmbeddingTest, DynamicLearningRatesAreEvaluatedPerStep) {
  // §5.6 "Dynamic LR": one row of zeros, SGD with lr = max(0.5, 1 - 0.05 step), gradient 1.
  config_ = *ParseConfigText(R"pb(
    tables {
      name: "t"
      vocabulary_size: 1
      dim: 4
      combiner: SUM
      initializer { constant { value: 0 } }
      optimizer {
        sgd {}
        learning_rate { dynamic: "decay" }
      }
    }
    features { name: "f" table: "t" }
    backend { name: "mock" }
    per_replica_batch_size: 1
  )pb");
  SetOption("trace_file", trace_path_);
  EmbeddingOptions options;
  std::vector<int64_t> evaluated_at;
  options.learning_rate_schedules["decay"] = [&](int64_t step) {
    evaluated_at.push_back(step);
    return std::max(0.5f, 1.0f - 0.05f * static_cast<float>(step));
  };
  std::unique_ptr<Embedding> embedding = CreateAndBuild(std::move(options));
  ASSERT_NE(embedding, nullptr);
  std::vector<int64_t> id = {0};
  std::vector<float> seen;
  std::vector<float> ones(4, 1.0f);
  for (int step = 0; step < 4; ++step) {
    ASSERT_TRUE(embedding->Enqueue({FeatureInput::Dense(id)}).ok());
    absl::StatusOr<std::vector<Tensor>> activations = embedding->Dequeue();
    ASSERT_TRUE(activations.ok());
    seen.push_back((*activations)[0].values[0]);
    ASSERT_TRUE(embedding->ApplyGradients({TensorView{ones, {1, 4}}}).ok());
  }
  EXPECT_THAT(seen, Pointwise(FloatNear(1e-6f), std::vector<float>{0, -1.0f, -1.95f, -2.85f}));
  EXPECT_THAT(evaluated_at, ElementsAre(0, 1, 2, 3));
  EXPECT_THAT(Trace()[Trace().size() - 1], HasSubstr("step=4 null_gradients=[] "
                                                     "learning_rates=[0.85] -> OK"));
  embedding->set_step(10);
  ASSERT_TRUE(embedding->Enqueue({FeatureInput::Dense(id)}).ok());
  ASSERT_TRUE(embedding->Dequeue().ok());
  ASSERT_TRUE(embedding->ApplyGradients({TensorView{ones, {1, 4}}}).ok());
  EXPECT_EQ(evaluated_at.back(), 10);
  EXPECT_EQ(embedding->step(), 11);
}

TEST_F(EmbeddingTest, EveryDynamicLearningRateNeedsASchedule) {
  config_.mutable_tables(1)->mutable_optimizer()->mutable_sgd();
  config_.mutable_tables(1)->mutable_optimizer()->mutable_learning_rate()->set_dynamic("warmup");
  absl::StatusOr<std::unique_ptr<Embedding>> embedding = Embedding::Create(config_);
  EXPECT_EQ(embedding.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(embedding.status().message(), HasSubstr("'warmup'"));
  EmbeddingOptions options;
  options.learning_rate_schedules["warmup"] = nullptr;
  embedding = Embedding::Create(config_, std::move(options));
  EXPECT_EQ(embedding.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(embedding.status().message(), HasSubstr("'warmup'"));
}

// 4 replicas on 4 threads, several steps: the same tables as the same steps run one replica
// after the other, and no data race (this test is built with -fsanitize=thread as well).
TEST_F(EmbeddingTest, ReplicasOnSeveralThreads) {
  constexpr int kReplicas = 4;
  constexpr int kSteps = 5;
  config_.set_num_replicas(kReplicas);
  std::vector<std::vector<float>> sequential_tables;
  {
    std::unique_ptr<Embedding> embedding = CreateAndBuild();
    ASSERT_NE(embedding, nullptr);
    for (int step = 0; step < kSteps; ++step) {
      for (int r = 0; r < kReplicas; ++r) ASSERT_TRUE(TrainStep(*embedding, r).ok());
    }
    EXPECT_EQ(embedding->step(), kSteps);
    sequential_tables = Retrieve(*embedding);
  }
  std::remove(trace_path_.c_str());
  std::unique_ptr<Embedding> embedding = CreateAndBuild();
  ASSERT_NE(embedding, nullptr);
  std::vector<absl::Status> results(kReplicas);
  std::vector<std::thread> threads;
  for (int r = 0; r < kReplicas; ++r) {
    threads.emplace_back([&, r] {
      for (int step = 0; step < kSteps && results[r].ok(); ++step) {
        results[r] = TrainStep(*embedding, r);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  for (int r = 0; r < kReplicas; ++r) EXPECT_TRUE(results[r].ok()) << results[r];
  EXPECT_EQ(embedding->step(), kSteps);
  EXPECT_EQ(Retrieve(*embedding), sequential_tables);
  // Initialization ran once although four threads raced to the first Enqueue.
  int loads = 0;
  for (const std::string& line : Trace()) loads += line.rfind("LoadTableShard", 0) == 0;
  EXPECT_EQ(loads, 2);
}

}  // namespace
}  // namespace embrt
