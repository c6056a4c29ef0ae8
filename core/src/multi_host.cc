// Copyright embrt authors.

#include "multi_host.h"

#include <algorithm>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "embrt/config.pb.h"

namespace embrt {
namespace internal {
namespace {

std::string AttributeOr(const LoadedPlugin& plugin, const std::string& name,
                        const std::string& fallback) {
  for (const auto& [key, value] : plugin.attributes) {
    if (key == name) return value;
  }
  return fallback;
}

// FNV-1a, 64 bits: hosts compare hashes of their configs, not the configs themselves.
uint64_t Fnv1a(const std::string& bytes, uint64_t hash = 14695981039346656037ull) {
  for (unsigned char c : bytes) {
    hash ^= c;
    hash *= 1099511628211ull;
  }
  return hash;
}

}  // namespace

absl::Status ResolveHosts(const LoadedPlugin& plugin, EmbeddingConfig* config) {
  const EMBRT_Api* api = plugin.api;
  if (config->num_hosts() == 0) {
    int32_t hosts = 1;
    int32_t host = 0;
    if (EMBRT_API_HAS(api, Plugin_HostTopology)) {
      EMBRT_Plugin_HostTopology_Args args{};
      args.struct_size = EMBRT_Plugin_HostTopology_Args_STRUCT_SIZE;
      absl::Status status = ConsumeError(api, api->Plugin_HostTopology(&args),
                                         absl::StrCat("plugin '", plugin.path,
                                                      "': Plugin_HostTopology"));
      if (!status.ok()) return status;
      hosts = args.num_hosts;
      host = args.host_id;
      if (hosts < 1 || host < 0 || host >= hosts) {
        return absl::InternalError(absl::StrCat("plugin '", plugin.path,
                                                "': Plugin_HostTopology says host ", host, " of ",
                                                hosts));
      }
    }
    config->set_num_hosts(hosts);
    config->set_host_id(host);
  }
  if (config->num_hosts() == 1) return absl::OkStatus();
  const bool has_functions = EMBRT_API_HAS(api, Engine_AgreeStatus) &&
                             EMBRT_API_HAS(api, Engine_Barrier) &&
                             EMBRT_API_HAS(api, Engine_AllGather);
  if (AttributeOr(plugin, "multi_host", "0") != "1" || !has_functions) {
    return absl::FailedPreconditionError(absl::StrCat(
        "num_hosts is ", config->num_hosts(), " but backend '",
        AttributeOr(plugin, "name", plugin.path), "' (", plugin.path,
        ") does not support several hosts: it needs the attribute multi_host=1 (it reports ",
        AttributeOr(plugin, "multi_host", "nothing"), ")",
        has_functions ? "" : " and the ABI 1.1 host functions"));
  }
  return absl::OkStatus();
}

absl::Status AgreeOnStatus(const EMBRT_Api* api, EMBRT_Engine* engine, const absl::Status& local) {
  EMBRT_Engine_AgreeStatus_Args args{};
  args.struct_size = EMBRT_Engine_AgreeStatus_Args_STRUCT_SIZE;
  args.engine = engine;
  args.local_code = static_cast<EMBRT_ErrorCode>(local.code());
  const std::string message(local.message());
  args.local_message = message.data();
  args.local_message_size = message.size();
  // The agreed message already names its host; no prefix.
  return ConsumeError(api, api->Engine_AgreeStatus(&args), "");
}

absl::Status CheckSameConfigOnEveryHost(const EMBRT_Api* api, EMBRT_Engine* engine,
                                        const ResolvedConfig& config, int batch_size,
                                        absl::Span<const std::vector<int64_t>> output_shapes) {
  EmbeddingConfig same = config.config;
  same.clear_host_id();
  std::string bytes;
  {
    // Deterministic: map fields (backend options) in key order.
    google::protobuf::io::StringOutputStream stream(&bytes);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    same.SerializeToCodedStream(&coded);
  }
  uint64_t hash = Fnv1a(bytes);
  hash = Fnv1a(absl::StrCat("batch ", batch_size), hash);
  for (const std::vector<int64_t>& shape : output_shapes) {
    hash = Fnv1a(absl::StrCat("shape ", absl::StrJoin(shape, ",")), hash);
  }
  std::vector<uint64_t> hashes(config.config.num_hosts());
  EMBRT_Engine_AllGather_Args args{};
  args.struct_size = EMBRT_Engine_AllGather_Args_STRUCT_SIZE;
  args.engine = engine;
  args.local = &hash;
  args.size = sizeof(hash);
  args.gathered = hashes.data();
  absl::Status status =
      ConsumeError(api, api->Engine_AllGather(&args), "Build: Engine_AllGather (config hashes)");
  if (!status.ok()) return status;
  for (size_t h = 1; h < hashes.size(); ++h) {
    if (hashes[h] != hashes[0]) {
      return absl::FailedPreconditionError(absl::StrCat(
          "Build: host ", h, " runs another config than host 0 (config hash ",
          absl::Hex(hashes[h], absl::kZeroPad16), " vs ", absl::Hex(hashes[0], absl::kZeroPad16),
          "); every host must use the same config (leave num_hosts at 0 and host_id unset) and "
          "the same batch size and output shapes"));
    }
  }
  return absl::OkStatus();
}

namespace {

absl::Status AllGatherFixed(const EMBRT_Api* api, EMBRT_Engine* engine, const void* local,
                            size_t size, void* gathered) {
  EMBRT_Engine_AllGather_Args args{};
  args.struct_size = EMBRT_Engine_AllGather_Args_STRUCT_SIZE;
  args.engine = engine;
  args.local = local;
  args.size = size;
  args.gathered = gathered;
  return ConsumeError(api, api->Engine_AllGather(&args), "Engine_AllGather");
}

}  // namespace

absl::StatusOr<std::vector<std::string>> AllGatherBytes(const EMBRT_Api* api,
                                                       EMBRT_Engine* engine, int num_hosts,
                                                       absl::string_view local,
                                                       uint64_t max_uneven_bytes) {
  const uint64_t size = local.size();
  std::vector<uint64_t> sizes(num_hosts);
  absl::Status status = AllGatherFixed(api, engine, &size, sizeof(size), sizes.data());
  if (!status.ok()) return status;
  // Decided from the gathered sizes alone, so every host decides the same.
  const uint64_t smallest = *std::min_element(sizes.begin(), sizes.end());
  const uint64_t allowed = std::max(max_uneven_bytes, smallest);
  uint64_t largest = 0;
  for (int h = 0; h < num_hosts; ++h) {
    if (sizes[h] > allowed) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "Engine_AllGather: host ", h, " announces ", sizes[h], " bytes, but a host may send at "
          "most ", allowed, " (sizes may differ between hosts only up to ", max_uneven_bytes,
          " bytes; the smallest is ", smallest, ", this host ", size,
          "): a broken or hostile peer; nothing was allocated for it"));
    }
    largest = std::max(largest, sizes[h]);
  }
  uint64_t total = 0;
  if (__builtin_mul_overflow(largest, static_cast<uint64_t>(num_hosts), &total) ||
      total > std::string().max_size()) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "Engine_AllGather: ", num_hosts, " hosts x ", largest, " bytes do not fit in memory"));
  }
  std::string padded(local);
  padded.resize(largest);
  std::string gathered(total, '\0');
  if (largest > 0) {
    status = AllGatherFixed(api, engine, padded.data(), largest, gathered.data());
    if (!status.ok()) return status;
  }
  std::vector<std::string> out;
  for (int h = 0; h < num_hosts; ++h) out.push_back(gathered.substr(h * largest, sizes[h]));
  return out;
}

absl::Status HostBarrier(const EMBRT_Api* api, EMBRT_Engine* engine) {
  EMBRT_Engine_Barrier_Args args{};
  args.struct_size = EMBRT_Engine_Barrier_Args_STRUCT_SIZE;
  args.engine = engine;
  return ConsumeError(api, api->Engine_Barrier(&args), "Engine_Barrier");
}

}  // namespace internal
}  // namespace embrt
