// Copyright embrt authors.

#include "mock_tables.h"

#include <algorithm>
#include <cstring>

namespace embrt {
namespace mock {

float DefaultValue(int64_t table, int64_t global_row, int64_t column) {
  return static_cast<float>(1000 * table + global_row) + static_cast<float>(column) / 1000.0f;
}

int SlotCount(EMBRT_OptimizerKind kind) {
  switch (kind) {
    case EMBRT_OPTIMIZER_SGD:
      return 1;
    case EMBRT_OPTIMIZER_ADAGRAD:
      return 2;
    case EMBRT_OPTIMIZER_ADAGRAD_MOMENTUM:
    case EMBRT_OPTIMIZER_ADAM:
    case EMBRT_OPTIMIZER_FTRL:
      return 3;
    default:
      return 0;
  }
}

int64_t ShardRows(int64_t vocabulary_size, int32_t num_hosts, int32_t host) {
  return vocabulary_size / num_hosts + (host < vocabulary_size % num_hosts ? 1 : 0);
}

int64_t GlobalRow(int64_t local_row, int64_t vocabulary_size, int32_t num_hosts, int32_t host,
                  EMBRT_Sharding sharding) {
  if (sharding == EMBRT_SHARDING_MOD) return local_row * num_hosts + host;
  const int64_t base = vocabulary_size / num_hosts;
  const int64_t extra = vocabulary_size % num_hosts;
  return host * base + std::min<int64_t>(host, extra) + local_row;
}

MockTable::MockTable(int32_t index, int32_t dim, int num_slots)
    : index_(index), dim_(dim), slots_(static_cast<size_t>(num_slots)) {}

void MockTable::ReadRow(int slot, int64_t global_row, float* out) const {
  const SlotRows& rows = slots_[static_cast<size_t>(slot)];
  auto it = rows.offsets.find(global_row);
  if (it != rows.offsets.end()) {
    std::memcpy(out, rows.values.data() + it->second, sizeof(float) * dim_);
    return;
  }
  for (int32_t c = 0; c < dim_; ++c) {
    out[c] = slot == 0 ? DefaultValue(index_, global_row, c) : 0.0f;
  }
}

void MockTable::WriteRow(int slot, int64_t global_row, const float* values) {
  SlotRows& rows = slots_[static_cast<size_t>(slot)];
  auto it = rows.offsets.find(global_row);
  size_t offset;
  if (it == rows.offsets.end()) {
    offset = rows.values.size();
    rows.values.resize(offset + static_cast<size_t>(dim_));
    rows.offsets.emplace(global_row, offset);
  } else {
    offset = it->second;
  }
  std::memcpy(rows.values.data() + offset, values, sizeof(float) * dim_);
}

}  // namespace mock
}  // namespace embrt
