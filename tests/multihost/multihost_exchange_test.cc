// Copyright embrt authors.
//
// Multi-host cpu engines against one host, bit for bit, through the C ABI. Started by mpirun
// with N processes (ctest runs N = 2 and N = 4); every process is one host.
//
// Every host builds the same seeded random case (tests/reference/random_model.h: 1-4 tables,
// every combiner with weights, sequence features, every optimizer with clipping, weight decay,
// dynamic rates, accumulation off and non-lazy Adam, empty bags, duplicate ids, training and
// inference steps) for N * R global replicas, and runs it twice in-process:
//   * on a 1-host engine with all N * R replicas (no transport involved);
//   * on its host of an N-host engine with R replicas: global replicas h * R .. h * R + R - 1.
// Its activations must be byte-equal to the 1-host engine's for its replicas, and its shard of
// every table and slot byte-equal to the 1-host tables' rows it owns (DIV and MOD, pipelining
// on and off, tiny vocabularies where ids are hot on every host and V < N leaves shards empty).
// Each host checks its own part; a mismatch fails that host, and mpirun fails the test.

#include <cmath>
#include <cstring>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "abi_driver.h"
#include "embrt/shard_layout.h"
#include "gtest/gtest.h"
#include "host_topology.h"
#include "plugin_driver.h"
#include "random_model.h"
#include "scalar_reference.h"

namespace embrt {
namespace multihost_test {
namespace {

using reference::Activations;
using reference::Gradients;
using reference::ModelSpec;
using reference::ReplicaBatch;

constexpr int kLocalReplicas = 2;

struct Step {
  bool training = true;
  std::vector<ReplicaBatch> batches;  // per global replica
  std::vector<Gradients> gradients;   // per global replica (training only)
  std::vector<float> learning_rates;
};
struct Case {
  ModelSpec model;  // num_replicas = every global replica
  std::unique_ptr<reference::ScalarReference> initial;
  std::vector<Step> steps;
};

Case MakeCase(uint64_t seed, int global_replicas, int64_t max_vocabulary) {
  reference::RandomSource random(seed * 0x9E3779B97F4A7C15ULL + 5);
  reference::RandomModelLimits limits;
  limits.num_replicas = global_replicas;
  limits.max_vocabulary = max_vocabulary;
  limits.max_dim = 17;
  Case c;
  c.model = reference::RandomModel(random, limits);
  c.initial = std::make_unique<reference::ScalarReference>(c.model);
  reference::RandomizeState(random, *c.initial);
  const int steps = static_cast<int>(random.Int(2, 4));
  for (int s = 0; s < steps; ++s) {
    Step step;
    step.training = !random.Chance(0.2);
    for (int r = 0; r < global_replicas; ++r) {
      step.batches.push_back(reference::RandomBatch(random, c.model));
      if (step.training) step.gradients.push_back(reference::RandomGradients(random, c.model));
    }
    if (step.training) step.learning_rates = reference::RandomLearningRates(random, c.model);
    c.steps.push_back(std::move(step));
  }
  return c;
}

struct Layout {
  int32_t num_hosts = 1;
  int32_t host_id = 0;
  EMBRT_Sharding sharding = EMBRT_SHARDING_DIV;
  bool pipelining = false;
};

// What one engine produced: activations per (step, local replica), then its shard of every
// table and slot.
struct Outcome {
  std::vector<Activations> activations;
  std::vector<std::vector<std::vector<float>>> tables;  // [table][slot], local rows
};

std::string RunEngine(const abi_driver::Plugin& plugin, const Case& c, const Layout& layout,
                int first_replica, int replicas, Outcome* out) {
  ModelSpec model = c.model;
  model.num_replicas = replicas;
  conformance::Description description(model, {{"threads", "1"}});
  description.description.num_hosts = layout.num_hosts;
  description.description.host_id = layout.host_id;
  description.description.sharding = layout.sharding;
  description.description.pipeline_execution = layout.pipelining ? 1 : 0;
  for (size_t t = 0; t < model.tables.size(); ++t) {
    description.tables[t].shard_rows =
        sdk::ShardRows(model.tables[t].vocabulary_size, layout.num_hosts, layout.host_id);
  }
  abi_driver::Engine engine(plugin);
  abi_driver::CallResult result = engine.Create(description.get());
  auto failed = [&](const std::string& what) { return what + ": " + abi_driver::ToString(result); };
  if (!result.ok()) return failed("Engine_Create");
  // This host's rows of the initial state.
  for (size_t t = 0; t < model.tables.size(); ++t) {
    const reference::TableSpec& table = model.tables[t];
    const int64_t rows = description.tables[t].shard_rows;
    std::vector<std::vector<float>> local(c.initial->num_slots(static_cast<int>(t)),
                                          std::vector<float>(rows * table.dim));
    std::vector<const float*> pointers;
    for (size_t s = 0; s < local.size(); ++s) {
      const std::vector<float>& global = c.initial->slot(static_cast<int>(t), static_cast<int>(s));
      for (int64_t j = 0; j < rows; ++j) {
        const int64_t g = sdk::GlobalRow(j, table.vocabulary_size, layout.num_hosts,
                                         layout.host_id, layout.sharding);
        std::memcpy(local[s].data() + j * table.dim, global.data() + g * table.dim,
                    sizeof(float) * table.dim);
      }
      pointers.push_back(local[s].data());
    }
    if (!(result = engine.LoadRaw(static_cast<int>(t), layout.host_id, 0, rows, pointers)).ok()) {
      return failed("load");
    }
  }
  for (size_t s = 0; s < c.steps.size(); ++s) {
    const Step& step = c.steps[s];
    const EMBRT_Mode mode = step.training ? EMBRT_MODE_TRAINING : EMBRT_MODE_INFERENCE;
    // Every replica enqueues before any receives: a multi-host lookup round starts when the
    // last local replica has enqueued.
    for (int r = 0; r < replicas; ++r) {
      if (!(result = engine.Enqueue(r, mode, step.batches[first_replica + r])).ok()) {
        return failed("step " + std::to_string(s) + " enqueue");
      }
    }
    for (int r = 0; r < replicas; ++r) {
      Activations a(model.features.size());
      std::vector<float*> buffers;
      std::vector<size_t> sizes;
      for (size_t f = 0; f < model.features.size(); ++f) {
        a[f].assign(reference::ActivationSize(model, static_cast<int>(f)), NAN);
        buffers.push_back(a[f].data());
        sizes.push_back(a[f].size());
      }
      if (!(result = engine.RecvInto(r, buffers, sizes)).ok()) return failed("recv");
      out->activations.push_back(std::move(a));
    }
    if (!step.training) continue;
    for (int r = 0; r < replicas; ++r) {
      result = engine.Send(r, step.gradients[first_replica + r], step.learning_rates);
      if (!result.ok()) return failed("step " + std::to_string(s) + " send");
    }
  }
  if (!(result = engine.Synchronize()).ok()) return failed("synchronize");
  for (size_t t = 0; t < model.tables.size(); ++t) {
    const int64_t rows = description.tables[t].shard_rows;
    std::vector<std::vector<float>> slots(c.initial->num_slots(static_cast<int>(t)),
                                          std::vector<float>(rows * model.tables[t].dim));
    std::vector<float*> pointers;
    for (std::vector<float>& slot : slots) pointers.push_back(slot.data());
    result = engine.RetrieveRaw(static_cast<int>(t), layout.host_id, 0, rows, pointers);
    if (!result.ok()) return failed("retrieve");
    out->tables.push_back(std::move(slots));
  }
  return "";
}

// Byte comparison of this host's part; describes the first difference.
std::string Compare(const Case& c, const Layout& layout, const Outcome& one_host,
                    const Outcome& mine) {
  const size_t global_replicas = static_cast<size_t>(c.model.num_replicas);
  std::ostringstream report;
  for (size_t s = 0; s < c.steps.size(); ++s) {
    for (int r = 0; r < kLocalReplicas; ++r) {
      const size_t global = layout.host_id * kLocalReplicas + r;
      const Activations& expected = one_host.activations[s * global_replicas + global];
      const Activations& actual = mine.activations[s * kLocalReplicas + r];
      for (size_t f = 0; f < expected.size(); ++f) {
        if (expected[f].size() != actual[f].size() ||
            std::memcmp(expected[f].data(), actual[f].data(), sizeof(float) * expected[f].size())) {
          report << "step " << s << " global replica " << global << " feature " << f
                 << ": activations differ\n";
          return report.str();
        }
      }
    }
  }
  for (size_t t = 0; t < c.model.tables.size(); ++t) {
    const reference::TableSpec& table = c.model.tables[t];
    for (size_t s = 0; s < mine.tables[t].size(); ++s) {
      const int64_t rows = static_cast<int64_t>(mine.tables[t][s].size()) / table.dim;
      for (int64_t j = 0; j < rows; ++j) {
        const int64_t g = sdk::GlobalRow(j, table.vocabulary_size, layout.num_hosts,
                                         layout.host_id, layout.sharding);
        if (std::memcmp(mine.tables[t][s].data() + j * table.dim,
                        one_host.tables[t][s].data() + g * table.dim,
                        sizeof(float) * table.dim) != 0) {
          report << "table " << t << " slot " << s << " global row " << g << " (local row " << j
                 << ") differs: " << mine.tables[t][s][j * table.dim] << " vs "
                 << one_host.tables[t][s][g * table.dim] << "\n";
          return report.str();
        }
      }
    }
  }
  return "";
}

class MultiHostExchangeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string error;
    plugin_ = abi_driver::Plugin::Open(EMBRT_CPU_PLUGIN, &error);
    ASSERT_NE(plugin_, nullptr) << error;
    topology_ = HostTopology(*plugin_, &error);
    ASSERT_TRUE(error.empty()) << error;
  }
  std::unique_ptr<abi_driver::Plugin> plugin_;
  Topology topology_;
};

TEST_F(MultiHostExchangeTest, RandomModelsAreByteEqualToOneHost) {
  const int hosts = topology_.num_hosts;
  if (hosts < 2) GTEST_SKIP() << "one process: start this test with mpirun -np 2 (or more)";
  int cases = 0;
  // Seeds x (ordinary vocabularies, tiny ones: hot ids on every host, V < hosts).
  for (uint64_t seed = 1; seed <= EMBRT_MULTIHOST_SEEDS; ++seed) {
    for (int64_t max_vocabulary : {int64_t{300}, int64_t{3}}) {
      const Case c = MakeCase(seed, hosts * kLocalReplicas, max_vocabulary);
      for (EMBRT_Sharding sharding : {EMBRT_SHARDING_DIV, EMBRT_SHARDING_MOD}) {
        for (bool pipelining : {false, true}) {
          // Several hosts run a pipelined engine unpipelined (plugins/cpu/README.md); one host
          // makes it exactly one step stale, so the reference runs without pipelining.
          Layout one_host;
          one_host.pipelining = false;
          Outcome expected;
          std::string error = RunEngine(*plugin_, c, one_host, 0, hosts * kLocalReplicas, &expected);
          ASSERT_EQ(error, "") << "1 host, seed " << seed;
          Layout layout{hosts, topology_.host_id, sharding, pipelining};
          Outcome actual;
          error = RunEngine(*plugin_, c, layout, topology_.host_id * kLocalReplicas, kLocalReplicas,
                      &actual);
          ASSERT_EQ(error, "") << "host " << layout.host_id << ", seed " << seed;
          EXPECT_EQ(Compare(c, layout, expected, actual), "")
              << "host " << layout.host_id << " of " << hosts << ", seed " << seed
              << (sharding == EMBRT_SHARDING_MOD ? ", MOD" : ", DIV")
              << (pipelining ? ", pipelining" : "") << "\n"
              << reference::Describe(c.model);
          ++cases;
        }
      }
    }
  }
  EXPECT_GT(cases, 0);
}

TEST_F(MultiHostExchangeTest, OutOfStepCallsFailInsteadOfWaiting) {
  const int hosts = topology_.num_hosts;
  if (hosts < 2) GTEST_SKIP() << "one process: start this test with mpirun -np 2 (or more)";
  const Case c = MakeCase(1, hosts * kLocalReplicas, 50);
  ModelSpec model = c.model;
  model.num_replicas = kLocalReplicas;
  conformance::Description description(model, {{"threads", "1"}});
  description.description.num_hosts = hosts;
  description.description.host_id = topology_.host_id;
  for (size_t t = 0; t < model.tables.size(); ++t) {
    description.tables[t].shard_rows =
        sdk::ShardRows(model.tables[t].vocabulary_size, hosts, topology_.host_id);
  }
  abi_driver::Engine engine(*plugin_);
  ASSERT_TRUE(engine.Create(description.get()).ok());
  const int first = topology_.host_id * kLocalReplicas;
  ASSERT_TRUE(engine.Enqueue(0, EMBRT_MODE_INFERENCE, c.steps[0].batches[first]).ok());
  std::vector<std::vector<float>> a(model.features.size());
  std::vector<float*> buffers;
  std::vector<size_t> sizes;
  for (size_t f = 0; f < model.features.size(); ++f) {
    a[f].resize(reference::ActivationSize(model, static_cast<int>(f)));
    buffers.push_back(a[f].data());
    sizes.push_back(a[f].size());
  }
  abi_driver::CallResult early = engine.RecvInto(0, buffers, sizes);
  EXPECT_EQ(early.code, EMBRT_CODE_FAILED_PRECONDITION) << early.message;
  EXPECT_NE(early.message.find("enqueue them all"), std::string::npos) << early.message;
  ASSERT_TRUE(engine.Enqueue(1, EMBRT_MODE_INFERENCE, c.steps[0].batches[first + 1]).ok());
  EXPECT_TRUE(engine.RecvInto(0, buffers, sizes).ok());
  EXPECT_TRUE(engine.RecvInto(1, buffers, sizes).ok());
  // Host 1 enqueues TRAINING where the others enqueue INFERENCE: every host refuses, and the
  // next step in one mode works.
  const EMBRT_Mode mode = topology_.host_id == 1 ? EMBRT_MODE_TRAINING : EMBRT_MODE_INFERENCE;
  abi_driver::CallResult mixed = engine.Enqueue(0, mode, c.steps[0].batches[first]);
  EXPECT_EQ(mixed.code, EMBRT_CODE_FAILED_PRECONDITION) << mixed.message;
  EXPECT_NE(mixed.message.find("host 1 enqueued it for TRAINING"), std::string::npos)
      << mixed.message;
  for (int r = 0; r < kLocalReplicas; ++r) {
    ASSERT_TRUE(engine.Enqueue(r, EMBRT_MODE_INFERENCE, c.steps[0].batches[first + r]).ok());
  }
  for (int r = 0; r < kLocalReplicas; ++r) EXPECT_TRUE(engine.RecvInto(r, buffers, sizes).ok());
}

}  // namespace
}  // namespace multihost_test
}  // namespace embrt
