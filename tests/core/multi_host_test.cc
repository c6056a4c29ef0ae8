// Copyright embrt authors.
//
// The core's side of multi-host engines (core/src/multi_host.cc), in one process: how
// num_hosts 0 is resolved, which plugins are refused for several hosts, and the status
// agreement through the mock's simulated collectives. The real thing runs under mpirun in
// tests/multihost.

#include "multi_host.h"

#include <cstring>
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
  // The core's own check, before the hosts agree (one host leaves it to the plugin).
  EXPECT_THAT(std::string(status.message()),
              HasSubstr("id 5 at row 1, position 0 is out of range"));
  const std::vector<int64_t> good = {4, 0};
  EXPECT_TRUE((*embedding)->Enqueue({FeatureInput::Dense(good)}).ok());
}


// A fake transport for AllGatherBytes: host 0 is this process, the other hosts' sizes and
// bytes are made up. It counts the gathers, so a test sees whether the bytes were gathered.
struct FakeHosts {
  std::vector<uint64_t> sizes;  // what every host announces (entry 0 is overwritten: ours)
  int gathers = 0;
};
FakeHosts* fake_hosts = nullptr;

EMBRT_Error* FakeAllGather(EMBRT_Engine_AllGather_Args* args) {
  FakeHosts& hosts = *fake_hosts;
  ++hosts.gathers;
  char* out = static_cast<char*>(args->gathered);
  if (hosts.gathers == 1) {  // the sizes
    hosts.sizes[0] = *static_cast<const uint64_t*>(args->local);
    std::memcpy(out, hosts.sizes.data(), hosts.sizes.size() * sizeof(uint64_t));
    return nullptr;
  }
  for (size_t h = 0; h < hosts.sizes.size(); ++h) {  // host h sends its size in 'a' + h
    std::memset(out + h * args->size, 0, args->size);
    if (h == 0) {
      std::memcpy(out, args->local, args->size);
    } else {
      std::memset(out + h * args->size, 'a' + static_cast<int>(h), hosts.sizes[h]);
    }
  }
  return nullptr;
}

class AllGatherBytesTest : public ::testing::Test {
 protected:
  AllGatherBytesTest() {
    api_.struct_size = EMBRT_Api_STRUCT_SIZE;
    api_.Engine_AllGather = &FakeAllGather;
    fake_hosts = &hosts_;
  }
  ~AllGatherBytesTest() override { fake_hosts = nullptr; }

  absl::StatusOr<std::vector<std::string>> Gather(std::vector<uint64_t> sizes,
                                                  const std::string& local,
                                                  uint64_t max_uneven_bytes) {
    hosts_.sizes = std::move(sizes);
    hosts_.gathers = 0;
    return AllGatherBytes(&api_, nullptr, static_cast<int>(hosts_.sizes.size()), local,
                          max_uneven_bytes);
  }

  EMBRT_Api api_{};
  FakeHosts hosts_;
};

TEST_F(AllGatherBytesTest, UnevenSmallSizesArrive) {
  absl::StatusOr<std::vector<std::string>> all = Gather({0, 3, 0, 16}, "pid12", 16);
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(*all, (std::vector<std::string>{"pid12", "bbb", "", std::string(16, 'd')}));
  EXPECT_EQ(hosts_.gathers, 2);
}

TEST_F(AllGatherBytesTest, EvenSizesAboveTheUnevenLimitArrive) {
  absl::StatusOr<std::vector<std::string>> all = Gather({0, 40}, std::string(40, 'x'), 16);
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ((*all)[1], std::string(40, 'b'));
}

TEST_F(AllGatherBytesTest, AHugeAnnouncedSizeIsAnErrorBeforeAnyAllocation) {
  // Host 2 claims an exabyte: refused from the sizes alone, and the bytes are never gathered
  // (the other hosts decide the same from the same sizes, so none waits in a second gather).
  absl::StatusOr<std::vector<std::string>> all =
      Gather({0, 8, uint64_t{1} << 60}, std::string(8, 'x'), kMaxUnevenAllGatherBytes);
  ASSERT_EQ(all.status().code(), absl::StatusCode::kResourceExhausted) << all.status();
  EXPECT_THAT(std::string(all.status().message()),
              HasSubstr("host 2 announces 1152921504606846976 bytes, but a host may send at "
                        "most 67108864"));
  EXPECT_THAT(std::string(all.status().message()), HasSubstr("this host 8"));
  EXPECT_EQ(hosts_.gathers, 1);
  // Above the uneven limit, one host sending more than the smallest is refused too.
  all = Gather({0, 41}, std::string(40, 'x'), 16);
  ASSERT_EQ(all.status().code(), absl::StatusCode::kResourceExhausted) << all.status();
  EXPECT_THAT(std::string(all.status().message()), HasSubstr("host 1 announces 41 bytes"));
  // A size that would overflow the receive buffer's size.
  all = Gather({0, ~uint64_t{0}, ~uint64_t{0}}, "", ~uint64_t{0});
  EXPECT_EQ(all.status().code(), absl::StatusCode::kResourceExhausted) << all.status();
  EXPECT_EQ(hosts_.gathers, 1);
}

}  // namespace
}  // namespace internal
}  // namespace embrt
