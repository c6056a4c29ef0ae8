// Copyright embrt authors.
//
// What the core does across hosts (DESIGN.md §8), through the plugin's ABI 1.1 collectives:
// it never talks to another host itself. Internal to the core.

#ifndef EMBRT_CORE_SRC_MULTI_HOST_H_
#define EMBRT_CORE_SRC_MULTI_HOST_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "embrt/config.h"
#include "embrt/plugin_api.h"
#include "plugin_loader.h"

namespace embrt {
namespace internal {

// Fills in config->num_hosts and host_id when num_hosts is 0 ("from the backend"): the plugin's
// Plugin_HostTopology, or 1 host for a plugin without one. Then, for num_hosts > 1, the plugin
// must report multi_host = 1 and provide the four 1.1 host functions, else FAILED_PRECONDITION
// naming the attribute.
absl::Status ResolveHosts(const LoadedPlugin& plugin, EmbeddingConfig* config);

// Collective: OK on every host when `local` is OK everywhere, else every host returns the
// lowest failing host's code and message ("host <id>: ...").
absl::Status AgreeOnStatus(const EMBRT_Api* api, EMBRT_Engine* engine, const absl::Status& local);

// Collective: every host must run the same config (host_id aside) with the same output shapes;
// otherwise FAILED_PRECONDITION on every host naming the first host that differs from host 0.
absl::Status CheckSameConfigOnEveryHost(const EMBRT_Api* api, EMBRT_Engine* engine,
                                        const ResolvedConfig& config, int batch_size,
                                        absl::Span<const std::vector<int64_t>> output_shapes);

// Uneven all-gathers (host names, pids, small metadata) stay below this per host; above it,
// every host must send the same size (activations, checksums of the same files).
inline constexpr uint64_t kMaxUnevenAllGatherBytes = uint64_t{64} << 20;

// Collective: every host's `local` bytes in host order: the sizes first, then every host's
// bytes padded to the largest. A size another host reports is untrusted: it must be at most
// max(`max_uneven_bytes`, the smallest size any host reports), i.e. sizes may differ only
// below `max_uneven_bytes`. Otherwise every host returns the same RESOURCE_EXHAUSTED naming
// the host and the sizes, before anything is allocated for the bytes (so a broken or hostile
// peer cannot make the others allocate without bound, and no host waits in a second gather).
absl::StatusOr<std::vector<std::string>> AllGatherBytes(
    const EMBRT_Api* api, EMBRT_Engine* engine, int num_hosts, absl::string_view local,
    uint64_t max_uneven_bytes = kMaxUnevenAllGatherBytes);

// Collective: returns once every host has finished its submitted work and called it.
absl::Status HostBarrier(const EMBRT_Api* api, EMBRT_Engine* engine);

}  // namespace internal
}  // namespace embrt

#endif  // EMBRT_CORE_SRC_MULTI_HOST_H_
