// Copyright embrt authors.
//
// Building the plain-C EMBRT_EngineDescription from a ResolvedConfig (internal to the core).

#ifndef EMBRT_CORE_SRC_DEVICE_DESCRIPTION_H_
#define EMBRT_CORE_SRC_DEVICE_DESCRIPTION_H_

#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "embrt/config.h"
#include "embrt/plugin_api.h"

namespace embrt {
namespace internal {

// Owns every array and string the description points to; immovable so pointers stay valid.
class DeviceDescription {
 public:
  // `output_shapes` holds one shape (without dim) per feature, as built; `input_rows` the bags
  // per replica of each feature.
  DeviceDescription(const ResolvedConfig& config, int per_replica_batch_size,
                    const std::vector<std::vector<int64_t>>& output_shapes,
                    const std::vector<int64_t>& input_rows);
  DeviceDescription(const DeviceDescription&) = delete;
  DeviceDescription& operator=(const DeviceDescription&) = delete;

  const EMBRT_EngineDescription* get() const { return &description_; }

 private:
  EMBRT_EngineDescription description_{};
  std::deque<std::string> strings_;
  std::vector<EMBRT_OptimizerDescription> optimizers_;
  std::vector<std::vector<EMBRT_NamedValue>> hyperparameters_;
  std::vector<EMBRT_TableDescription> tables_;
  std::vector<const EMBRT_TableDescription*> table_pointers_;
  std::vector<std::vector<int64_t>> output_shapes_;
  std::vector<EMBRT_FeatureDescription> features_;
  std::vector<const EMBRT_FeatureDescription*> feature_pointers_;
  std::vector<EMBRT_NamedValue> options_;
};

}  // namespace internal
}  // namespace embrt

#endif  // EMBRT_CORE_SRC_DEVICE_DESCRIPTION_H_
