// Copyright embrt authors.
//
// TF's training goldens (plugin_api/MATH.md §5.3, §5.4, §5.6) through embrt::Embedding
// on the cpu backend, with one replica of 4 and with two replicas of 2 (replica summation).
// Tables and slots are checked against TF's numbers with TF's tolerances (SGD/Adagrad 1e-6,
// Adam 1e-4, FTRL 5e-5 / 5e-4, AdagradMomentum 1e-3, plus atol 1e-6), and, tighter, against
// the scalar reference bit for bit (the cpu backend claims exact_math=1); untouched rows must
// keep their exact initial values.

#include <algorithm>
#include <memory>
#include <vector>

#include "canonical_fixture.h"
#include "embrt/embedding.h"
#include "golden_fixture.h"
#include "gtest/gtest.h"
#include "scalar_reference.h"

namespace embrt {
namespace golden {
namespace {

using Tables = std::vector<std::vector<std::vector<float>>>;

std::unique_ptr<Embedding> Loaded(const EmbeddingConfig& config, EmbeddingOptions options = {}) {
  absl::StatusOr<std::unique_ptr<Embedding>> embedding =
      CreateAndBuild(config, std::move(options));
  EXPECT_TRUE(embedding.ok()) << embedding.status();
  if (!embedding.ok()) return nullptr;
  const absl::Status status = LoadRowMajorCounting(**embedding);
  EXPECT_TRUE(status.ok()) << status;
  return std::move(*embedding);
}

Tables Retrieved(Embedding& embedding) {
  absl::StatusOr<Tables> tables = RetrieveAll(embedding);
  EXPECT_TRUE(tables.ok()) << tables.status();
  return tables.ok() ? *tables : Tables();
}

// §5.3: the aggregated gradient of each touched row is what SGD with lr = 1 subtracts.
TEST(TrainingGoldenTest, AggregatedGradients) {
  for (int replicas : {1, 2}) {
    std::unique_ptr<Embedding> embedding =
        Loaded(CanonicalConfig("sgd {} learning_rate { constant: 1 }", replicas));
    ASSERT_NE(embedding, nullptr);
    ASSERT_TRUE(TrainStepHalfActivations(*embedding, replicas).ok());
    const Tables tables = Retrieved(*embedding);
    ASSERT_EQ(tables.size(), 2u);
    for (const reference::RowGolden& golden : reference::CanonicalRowGradients()) {
      const int dim = golden.table == 0 ? 4 : 2;
      for (int d = 0; d < dim; ++d) {
        const int64_t i = golden.row * dim + d;
        const float gradient = static_cast<float>(i) - tables[golden.table][0][i];
        EXPECT_TRUE(reference::AllClose(gradient, golden.parameters[d], 1e-6))
            << "R=" << replicas << " table " << golden.table << " row " << golden.row << " ["
            << d << "]: " << gradient << " vs TF " << golden.parameters[d];
      }
    }
    // Untouched rows: video 2..7, user 4..15.
    for (int64_t i = 8; i < 32; ++i) EXPECT_EQ(tables[0][0][i], static_cast<float>(i));
    for (int64_t i = 8; i < 32; ++i) EXPECT_EQ(tables[1][0][i], static_cast<float>(i));
  }
}

// §5.4: one step of SGD, Adagrad, Adam, FTRL and AdagradMomentum with TF's test settings.
TEST(TrainingGoldenTest, OneStepOfEveryOptimizer) {
  for (const reference::OptimizerGolden& golden : reference::OneStepGoldens()) {
    for (int replicas : {1, 2}) {
      SCOPED_TRACE(golden.name + " R=" + std::to_string(replicas));
      std::unique_ptr<Embedding> embedding =
          Loaded(CanonicalConfig(TfTestOptimizerText(golden.name), replicas));
      ASSERT_NE(embedding, nullptr);
      const Tables before = Retrieved(*embedding);
      ASSERT_TRUE(TrainStepHalfActivations(*embedding, replicas).ok());
      const Tables after = Retrieved(*embedding);
      ASSERT_EQ(after.size(), 2u);

      // TF's numbers, TF's tolerances.
      for (const reference::RowGolden& row : golden.rows) {
        const int dim = row.table == 0 ? 4 : 2;
        ASSERT_EQ(after[row.table].size(), row.slots.size() + 1);
        for (size_t s = 0; s <= row.slots.size(); ++s) {
          const std::vector<float>& expected = s == 0 ? row.parameters : row.slots[s - 1];
          const double rtol = s == 0 ? golden.parameters_rtol : golden.slots_rtol;
          for (int d = 0; d < dim; ++d) {
            const float actual = after[row.table][s][row.row * dim + d];
            EXPECT_TRUE(reference::AllClose(actual, expected[d], rtol))
                << "table " << row.table << " row " << row.row << " slot " << s << " [" << d
                << "]: " << actual << " vs TF " << expected[d];
          }
        }
      }
      // Untouched rows keep their values exactly.
      for (int t = 0; t < 2; ++t) {
        const int dim = t == 0 ? 4 : 2;
        const int64_t first_untouched = t == 0 ? 2 : 4;
        for (size_t s = 0; s < after[t].size(); ++s) {
          for (int64_t i = first_untouched * dim; i < 32; ++i) {
            EXPECT_EQ(after[t][s][i], before[t][s][i]) << "table " << t << " slot " << s;
          }
        }
      }
      // Tighter: the scalar reference, bit for bit.
      reference::ScalarReference ref(reference::CanonicalModel(golden.optimizer, replicas));
      ref.slot(0, 0) = reference::RowMajorIota(32);
      ref.slot(1, 0) = reference::RowMajorIota(32);
      const std::vector<reference::ReplicaBatch> batches = reference::CanonicalBatches(replicas);
      std::vector<reference::Gradients> gradients;
      for (const auto& batch : batches) gradients.push_back(reference::HalfOf(ref.Lookup(batch)));
      ref.ApplyGradients(batches, gradients);
      for (int t = 0; t < 2; ++t) {
        for (size_t s = 0; s < after[t].size(); ++s) {
          EXPECT_EQ(after[t][s], ref.slot(t, static_cast<int>(s)))
              << "table " << t << " slot " << s << " differs from the scalar reference";
        }
      }
    }
  }
}

// §5.4 note: Adam with epsilon outside the sqrt (TF's test formula), user row 0.
TEST(TrainingGoldenTest, AdamWithEpsilonOutsideSqrt) {
  std::unique_ptr<Embedding> embedding = Loaded(CanonicalConfig(
      "adam { sum_inside_sqrt: false } learning_rate { constant: 0.1 }", 1));
  ASSERT_NE(embedding, nullptr);
  ASSERT_TRUE(TrainStepHalfActivations(*embedding, 1).ok());
  const Tables after = Retrieved(*embedding);
  EXPECT_TRUE(reference::AllClose(after[1][0][0], -0.3162263f, 1e-4)) << after[1][0][0];
  EXPECT_TRUE(reference::AllClose(after[1][0][1], 0.6837732f, 1e-4)) << after[1][0][1];
}

// §5.6 None gradient: (None, None, ones(friends)) with SGD 0.1.
TEST(TrainingGoldenTest, NoneGradientIsAZeroGradient) {
  for (int replicas : {1, 2}) {
    std::vector<std::string> warnings;
    EmbeddingOptions options;
    options.warning_sink = [&](absl::string_view w) { warnings.emplace_back(w); };
    std::unique_ptr<Embedding> embedding =
        Loaded(CanonicalConfig(TfTestOptimizerText("sgd"), replicas), std::move(options));
    ASSERT_NE(embedding, nullptr);
    const int rows = 4 / replicas;
    const std::vector<float> ones(rows * 2, 1.0f);
    for (int r = 0; r < replicas; ++r) {
      CanonicalInputs inputs(r, replicas);
      ASSERT_TRUE(embedding->Enqueue(inputs.features(), {}, true, r).ok());
      ASSERT_TRUE(embedding->Dequeue(r).ok());
      const std::vector<std::optional<TensorView>> gradients = {
          std::nullopt, std::nullopt, TensorView{ones, {rows, 2}}};
      const absl::Status status = embedding->ApplyGradients(gradients, r);
      ASSERT_TRUE(status.ok()) << status;
    }
    EXPECT_FALSE(warnings.empty()) << "a None gradient should warn, as TF does";
    // Replica 0's friends lookups ([3] and [0, 1, 2]) drop by 0.1·R and 0.1/3·R with R = 2;
    // one replica of 4 sees each bag twice, so the drops are the same.
    CanonicalInputs inputs(0, replicas);
    ASSERT_TRUE(embedding->Enqueue(inputs.features(), {}, false, 0).ok());
    absl::StatusOr<std::vector<Tensor>> a = embedding->Dequeue(0);
    ASSERT_TRUE(a.ok()) << a.status();
    for (int f = 0; f < 2; ++f) {
      const std::vector<float>& before = reference::CanonicalActivations()[f];
      EXPECT_EQ((*a)[f].values, std::vector<float>(before.begin(), before.begin() + rows * 4));
    }
    const float drop3 = 0.1f * 2;
    const float drop012 = 0.1f / 3 * 2;
    std::vector<float> expected = {6 - drop3, 7 - drop3, 2 - drop012, 3 - drop012};
    if (replicas == 1) expected.insert(expected.end(), expected.begin(), expected.end());
    for (size_t i = 0; i < expected.size(); ++i) {
      EXPECT_TRUE(reference::AllClose((*a)[2].values[i], expected[i], 1e-6))
          << "R=" << replicas << " friends[" << i << "]: " << (*a)[2].values[i] << " vs "
          << expected[i];
    }
    // Single replica of 4 (or two of 2): user row 3 -0.2, rows 0..2 -0.0666667.
    const Tables tables = Retrieved(*embedding);
    for (int64_t i = 0; i < 8; ++i) {
      const double drop = i >= 6 ? 0.2 : 0.0666667;
      EXPECT_TRUE(reference::AllClose(tables[1][0][i], i - drop, 1e-6)) << "user value " << i;
    }
  }
}

// §5.6 sequence training: watched L=2, favorited L=2, friends L=3, SGD 0.1, gradient ones.
// Replica-0 lookups after the step equal before − update·mask, update = (0.3R, 0.3R, 0.1R).
TEST(TrainingGoldenTest, SequenceTraining) {
  for (int replicas : {1, 2}) {
    EmbeddingConfig config = CanonicalConfig(TfTestOptimizerText("sgd"), replicas);
    config.mutable_features(0)->set_max_sequence_length(2);
    config.mutable_features(1)->set_max_sequence_length(2);
    config.mutable_features(2)->set_max_sequence_length(3);
    std::unique_ptr<Embedding> embedding = Loaded(config);
    ASSERT_NE(embedding, nullptr);
    std::vector<Tensor> before;
    for (int r = 0; r < replicas; ++r) {
      CanonicalInputs inputs(r, replicas);
      ASSERT_TRUE(embedding->Enqueue(inputs.features(), {}, true, r).ok());
      absl::StatusOr<std::vector<Tensor>> a = embedding->Dequeue(r);
      ASSERT_TRUE(a.ok()) << a.status();
      if (r == 0) before = *a;
      std::vector<Tensor> ones = *a;
      for (Tensor& t : ones) std::fill(t.values.begin(), t.values.end(), 1.0f);
      std::vector<std::optional<TensorView>> views;
      for (const Tensor& t : ones) views.push_back(TensorView::Of(t));
      ASSERT_TRUE(embedding->ApplyGradients(views, r).ok());
    }
    CanonicalInputs inputs(0, replicas);
    ASSERT_TRUE(embedding->Enqueue(inputs.features(), {}, false, 0).ok());
    absl::StatusOr<std::vector<Tensor>> after = embedding->Dequeue(0);
    ASSERT_TRUE(after.ok()) << after.status();
    // Masks per example (replica 0 holds the first 4/R examples): 1 where a real id sits.
    const std::vector<std::vector<int>> masks = {{1, 0, 1, 1, 1, 1, 1, 0},
                                                 {1, 1, 1, 0, 1, 0, 1, 1},
                                                 {1, 0, 0, 1, 1, 1, 1, 0, 0, 1, 1, 1}};
    // TF's update (0.3R, 0.3R, 0.1R) with R = 2; one replica of 4 sees every id as often.
    const float update[] = {0.3f * 2, 0.3f * 2, 0.1f * 2};
    const int lengths[] = {2, 2, 3};
    for (int f = 0; f < 3; ++f) {
      const int dim = f == 2 ? 2 : 4;
      const size_t positions = before[f].values.size() / dim;
      ASSERT_EQ(positions, static_cast<size_t>(4 / replicas * lengths[f]));
      for (size_t p = 0; p < positions; ++p) {
        for (int d = 0; d < dim; ++d) {
          const float expected = before[f].values[p * dim + d] - update[f] * masks[f][p];
          EXPECT_NEAR((*after)[f].values[p * dim + d], expected, 1e-5)
              << "R=" << replicas << " feature " << f << " position " << p;
        }
      }
    }
  }
}

// ABI 1.1 positions: the gradient at [b, position] of a sparse sequence input with holes
// reaches that position's id; holes reach nothing. friends L = 3, SGD 0.1, gradient value
// 1 + (flat index of the position), user rows row-major 0..31.
TEST(TrainingGoldenTest, SparseSequenceWithHoles) {
  EmbeddingConfig config = CanonicalConfig(TfTestOptimizerText("sgd"), 1);
  config.mutable_features(2)->set_max_sequence_length(3);
  std::unique_ptr<Embedding> embedding = Loaded(config);
  ASSERT_NE(embedding, nullptr);
  CanonicalInputs canonical(0, 1);
  // Example 0: id 3 at position 2; example 1: ids 0, 1 at 0 and 2; example 3: id 1 at 1.
  const std::vector<int64_t> indices = {0, 2, 1, 0, 1, 2, 3, 1};
  const std::vector<int64_t> ids = {3, 0, 1, 1};
  std::vector<FeatureInput> inputs = {canonical.features()[0], canonical.features()[1],
                                      FeatureInput::Sparse(indices, ids, {4, 3})};
  ASSERT_TRUE(embedding->Enqueue(inputs, {}, true).ok());
  absl::StatusOr<std::vector<Tensor>> a = embedding->Dequeue();
  ASSERT_TRUE(a.ok()) << a.status();
  std::vector<Tensor> gradients = *a;
  for (Tensor& t : gradients) std::fill(t.values.begin(), t.values.end(), 0.0f);
  for (size_t i = 0; i < gradients[2].values.size(); ++i) {
    gradients[2].values[i] = static_cast<float>(i + 1);
  }
  std::vector<std::optional<TensorView>> views;
  for (const Tensor& t : gradients) views.push_back(TensorView::Of(t));
  ASSERT_TRUE(embedding->ApplyGradients(views).ok());
  absl::StatusOr<std::vector<std::vector<std::vector<float>>>> tables = RetrieveAll(*embedding);
  ASSERT_TRUE(tables.ok()) << tables.status();
  const std::vector<float>& user = (*tables)[1][0];
  // Row 3 from [0, 2] = (5, 6); row 0 from [1, 0] = (7, 8); row 1 from [1, 2] = (11, 12) and
  // [3, 1] = (21, 22), summed; row 2 untouched.
  EXPECT_EQ(std::vector<float>(user.begin(), user.begin() + 8),
            (std::vector<float>{0 - 0.1f * 7, 1 - 0.1f * 8, 2 - 0.1f * (11 + 21),
                                3 - 0.1f * (12 + 22), 4, 5, 6 - 0.1f * 5, 7 - 0.1f * 6}));
}

// §5.6 dynamic learning rate: lr = max(0.5, 1 − 0.05·step); vocab R, dim 4, zeros, sum; each
// replica looks up id 0 with loss Σa/R. Activations before each update: 0, −1, −1.95, ...
TEST(TrainingGoldenTest, DynamicLearningRateSchedule) {
  for (int replicas : {1, 2}) {
    EmbeddingConfig config = *ParseConfigText(R"pb(
      tables { name: "t" vocabulary_size: 2 dim: 4 combiner: SUM initializer { constant {} } }
      features { name: "f" table: "t" }
      optimizer { sgd {} learning_rate { dynamic: "decay" } }
      backend { name: "cpu" }
      per_replica_batch_size: 1
    )pb");
    config.mutable_tables(0)->set_vocabulary_size(replicas);
    config.set_num_replicas(replicas);
    EmbeddingOptions options;
    options.learning_rate_schedules["decay"] = [](int64_t step) {
      return std::max(0.5f, 1.0f - 0.05f * static_cast<float>(step));
    };
    absl::StatusOr<std::unique_ptr<Embedding>> embedding =
        CreateAndBuild(config, std::move(options));
    ASSERT_TRUE(embedding.ok()) << embedding.status();
    const std::vector<float> tf = {0,     -1.0f,  -1.95f, -2.85f, -3.7f,
                                   -4.5f, -5.25f, -5.95f, -6.6f,  -7.2f};
    const std::vector<int64_t> id = {0};
    const std::vector<float> gradient(4, 1.0f / static_cast<float>(replicas));
    for (int step = 0; step < 10; ++step) {
      for (int r = 0; r < replicas; ++r) {
        ASSERT_TRUE((*embedding)->Enqueue({FeatureInput::Dense(id)}, {}, true, r).ok());
        absl::StatusOr<std::vector<Tensor>> a = (*embedding)->Dequeue(r);
        ASSERT_TRUE(a.ok()) << a.status();
        for (float x : (*a)[0].values) {
          EXPECT_TRUE(reference::AllClose(x, tf[step], 1e-6))
              << "R=" << replicas << " step " << step << ": " << x << " vs TF " << tf[step];
        }
        const std::vector<std::optional<TensorView>> g = {TensorView{gradient, {1, 4}}};
        ASSERT_TRUE((*embedding)->ApplyGradients(g, r).ok());
      }
    }
    EXPECT_EQ((*embedding)->step(), 10);
  }
}

// Slot initial values come from the optimizer when the tables are initialized by the core
// (Adagrad and FTRL accumulators: initial_accumulator_value; everything else 0), and a load
// replaces them (TF's slot creation fn returning zeros).
TEST(TrainingGoldenTest, SlotInitialValues) {
  struct Case {
    std::string optimizer;
    std::vector<float> slot_values;  // after "parameters"
  };
  const std::vector<Case> cases = {
      {"adagrad { initial_accumulator_value: 0.3 }", {0.3f}},
      {"ftrl { initial_accumulator_value: 0.2 }", {0.2f, 0.0f}},
      {"adam {}", {0.0f, 0.0f}},
      {"adagrad_momentum {}", {0.0f, 0.0f}},
      {"adagrad {}", {0.1f}},
  };
  for (const Case& c : cases) {
    absl::StatusOr<std::unique_ptr<Embedding>> embedding =
        CreateAndBuild(CanonicalConfig(c.optimizer, 1));
    ASSERT_TRUE(embedding.ok()) << embedding.status();
    const Tables tables = Retrieved(**embedding);
    ASSERT_EQ(tables.size(), 2u);
    for (int t = 0; t < 2; ++t) {
      ASSERT_EQ(tables[t].size(), c.slot_values.size() + 1) << c.optimizer;
      EXPECT_EQ(tables[t][0], std::vector<float>(32, 0.0f)) << c.optimizer;  // constant {}
      for (size_t s = 0; s < c.slot_values.size(); ++s) {
        EXPECT_EQ(tables[t][s + 1], std::vector<float>(32, c.slot_values[s]))
            << c.optimizer << " table " << t << " slot " << s + 1;
      }
    }
  }
  // TF's slot_variable_creation_fn returning zeros: load zero accumulators over the 0.1 init.
  absl::StatusOr<std::unique_ptr<Embedding>> embedding =
      CreateAndBuild(CanonicalConfig("adagrad {}", 1));
  ASSERT_TRUE(embedding.ok()) << embedding.status();
  ASSERT_TRUE((*embedding)
                  ->LoadTables([](int, int64_t, int64_t, absl::Span<const absl::Span<float>> s) {
                    for (const auto& slot : s) std::fill(slot.begin(), slot.end(), 0.0f);
                    return absl::OkStatus();
                  })
                  .ok());
  const Tables tables = Retrieved(**embedding);
  EXPECT_EQ(tables[0][1], std::vector<float>(32, 0.0f));
  EXPECT_EQ(tables[1][1], std::vector<float>(32, 0.0f));
}

}  // namespace
}  // namespace golden
}  // namespace embrt
