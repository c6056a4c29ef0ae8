// Copyright embrt authors.
//
// The core's side of multi-host engines (core/src/multi_host.cc), in one process: how
// num_hosts 0 is resolved, which plugins are refused for several hosts, and the status
// agreement through the mock's simulated collectives. The real thing runs under mpirun in
// tests/multihost.

#include "multi_host.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "embrt/config.h"
#include "embrt/embedding.h"
#include "embrt/inputs.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "plugin_loader.h"

namespace embrt {
namespace internal {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

TEST(ResolveHostsTest, APluginWithoutMultiHostIsRefusedForSeveralHosts) {
  // The failing test plugin is written with the SDK and does not opt in to the host slots.
  absl::StatusOr<LoadedPlugin> plugin = LoadPlugin(EMBRT_TEST_PLUGIN_FAILING);
  ASSERT_TRUE(plugin.ok()) << plugin.status();
  EXPECT_FALSE(EMBRT_API_HAS(plugin->api, Plugin_HostTopology));
  EXPECT_FALSE(EMBRT_API_HAS(plugin->api, Engine_AgreeStatus));
  EmbeddingConfig config;
  config.set_num_hosts(2);
  absl::Status status = ResolveHosts(*plugin, &config);
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition) << status;
  EXPECT_THAT(std::string(status.message()), HasSubstr("multi_host=1"));
  EXPECT_THAT(std::string(status.message()), HasSubstr("num_hosts is 2"));
  // num_hosts 0 without a topology: one host.
  config.set_num_hosts(0);
  ASSERT_TRUE(ResolveHosts(*plugin, &config).ok());
  EXPECT_EQ(config.num_hosts(), 1);
  EXPECT_EQ(config.host_id(), 0);
}

TEST(ResolveHostsTest, NumHostsZeroComesFromTheBackend) {
  absl::StatusOr<LoadedPlugin> cpu = LoadPlugin("cpu");
  ASSERT_TRUE(cpu.ok()) << cpu.status();
  EmbeddingConfig config;
  config.set_num_hosts(0);
  ASSERT_TRUE(ResolveHosts(*cpu, &config).ok());
  // Started without mpirun: one host, and MPI stays untouched.
  EXPECT_EQ(config.num_hosts(), 1);
  EXPECT_EQ(config.host_id(), 0);
  config.set_num_hosts(3);
  config.set_host_id(2);
  EXPECT_TRUE(ResolveHosts(*cpu, &config).ok()) << "the cpu backend claims multi_host=1";
}

TEST(AgreeOnStatusTest, ABadIdFailsWithTheHostNamed) {
  // The mock simulates host 1 of 2 (its other host always agrees): the core's Enqueue
  // validates locally, then agrees, so the error names the failing host.
  absl::StatusOr<EmbeddingConfig> config = ParseConfigText(R"pb(
    tables { name: "t" vocabulary_size: 5 dim: 2 }
    features { name: "f" table: "t" }
    per_replica_batch_size: 2
    num_hosts: 2
    host_id: 1
    backend { name: "mock" }
  )pb");
  ASSERT_TRUE(config.ok()) << config.status();
  absl::StatusOr<std::unique_ptr<Embedding>> embedding = Embedding::Create(*config);
  ASSERT_TRUE(embedding.ok()) << embedding.status();
  ASSERT_TRUE((*embedding)->Build(2).ok());  // the config hash goes through AllGather
  const std::vector<int64_t> ids = {4, 5};
  absl::Status status = (*embedding)->Enqueue({FeatureInput::Dense(ids)});
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_THAT(std::string(status.message()), StartsWith("host 1: "));
  const std::vector<int64_t> good = {4, 0};
  EXPECT_TRUE((*embedding)->Enqueue({FeatureInput::Dense(good)}).ok());
}

}  // namespace
}  // namespace internal
}  // namespace embrt
