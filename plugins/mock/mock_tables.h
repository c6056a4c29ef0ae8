// Copyright embrt authors.
//
// The mock's tables. There are no real tables: row `r` of table `t` reads as
//
//   DefaultValue(t, r, c) = float(1000 * t + r) + float(c) / 1000.0f   (parameters)
//   0.0f                                                               (every other slot)
//
// until LoadTableShard writes the row, or an SGD step updates it. Written rows live in a sparse
// store keyed by the global row id, so a huge vocabulary costs nothing until rows are written.
//
// Thread safety: none; MockEngine guards every table with its mutex.

#ifndef EMBRT_PLUGINS_MOCK_MOCK_TABLES_H_
#define EMBRT_PLUGINS_MOCK_MOCK_TABLES_H_

#include <cstdint>
#include <unordered_map>
#include <vector>

#include "embrt/plugin_api.h"

namespace embrt {
namespace mock {

// The documented value of a row that was never written (parameters slot).
float DefaultValue(int64_t table, int64_t global_row, int64_t column);

// The rows of one table, all slots. Slot 0 is the parameters.
class MockTable {
 public:
  MockTable(int32_t index, int32_t dim, int num_slots);

  int32_t dim() const { return dim_; }
  int num_slots() const { return static_cast<int>(slots_.size()); }

  // Writes `dim` floats of `row` in `slot` to `out`: the written value, else the default.
  void ReadRow(int slot, int64_t global_row, float* out) const;

  // Stores `dim` floats as the value of `row` in `slot`.
  void WriteRow(int slot, int64_t global_row, const float* values);

 private:
  // Written rows: row id -> offset of its `dim` floats in `values`.
  struct SlotRows {
    std::unordered_map<int64_t, size_t> offsets;
    std::vector<float> values;
  };

  int32_t index_;
  int32_t dim_;
  std::vector<SlotRows> slots_;
};

}  // namespace mock
}  // namespace embrt

#endif  // EMBRT_PLUGINS_MOCK_MOCK_TABLES_H_
