// Copyright embrt authors.

#include "mock_tables.h"

#include <cstring>

namespace embrt {
namespace mock {

float DefaultValue(int64_t table, int64_t global_row, int64_t column) {
  return static_cast<float>(1000 * table + global_row) + static_cast<float>(column) / 1000.0f;
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
