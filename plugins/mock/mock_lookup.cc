// Copyright embrt authors.

#include "mock_lookup.h"

#include <algorithm>
#include <cmath>

namespace embrt {
namespace mock {
namespace {

float WeightAt(const FeatureBatch& batch, size_t k) {
  return batch.weights.empty() ? 1.0f : batch.weights[k];
}

// The gains of ids [begin, end) of one bag, in order.
void BagGains(const FeatureBatch& batch, EMBRT_Combiner combiner, size_t begin, size_t end,
              std::vector<float>* gains) {
  gains->clear();
  float norm = 1.0f;
  if (combiner == EMBRT_COMBINER_MEAN || combiner == EMBRT_COMBINER_SQRTN) {
    float total = 0.0f;
    for (size_t k = begin; k < end; ++k) {
      const float w = WeightAt(batch, k);
      total += combiner == EMBRT_COMBINER_MEAN ? w : w * w;
    }
    norm = combiner == EMBRT_COMBINER_MEAN ? total : std::sqrt(total);
  }
  for (size_t k = begin; k < end; ++k) {
    const float w = WeightAt(batch, k);
    if (combiner == EMBRT_COMBINER_SUM) {
      gains->push_back(w);
    } else {
      gains->push_back(norm == 0.0f ? 0.0f : w / norm);
    }
  }
}

// The ids of row b that take part: all of them, or the first L of a sequence row.
void RowRange(const FeatureBatch& batch, int32_t max_sequence_length, size_t b, size_t* begin,
              size_t* end) {
  *begin = static_cast<size_t>(batch.row_splits[b]);
  *end = static_cast<size_t>(batch.row_splits[b + 1]);
  if (max_sequence_length > 0) {
    *end = std::min(*end, *begin + static_cast<size_t>(max_sequence_length));
  }
}

// The sequence position of id k of a row that starts at `begin`.
size_t PositionOf(const FeatureBatch& batch, size_t k, size_t begin) {
  return batch.positions.empty() ? k - begin : static_cast<size_t>(batch.positions[k]);
}

}  // namespace

void LookupFeature(const MockTable& table, EMBRT_Combiner combiner, int32_t max_sequence_length,
                   const FeatureBatch& batch, float* out) {
  const size_t dim = static_cast<size_t>(table.dim());
  const size_t rows = batch.row_splits.size() - 1;
  const size_t positions = max_sequence_length > 0 ? static_cast<size_t>(max_sequence_length) : 1;
  std::fill(out, out + rows * positions * dim, 0.0f);
  std::vector<float> row(dim);
  std::vector<float> gains;
  for (size_t b = 0; b < rows; ++b) {
    size_t begin, end;
    RowRange(batch, max_sequence_length, b, &begin, &end);
    if (max_sequence_length > 0) {
      for (size_t k = begin; k < end; ++k) {
        table.ReadRow(0, batch.ids[k], row.data());
        float* dst = out + (b * positions + PositionOf(batch, k, begin)) * dim;
        for (size_t c = 0; c < dim; ++c) dst[c] = row[c];
      }
      continue;
    }
    BagGains(batch, combiner, begin, end, &gains);
    float* dst = out + b * dim;
    for (size_t k = begin; k < end; ++k) {
      table.ReadRow(0, batch.ids[k], row.data());
      for (size_t c = 0; c < dim; ++c) dst[c] += gains[k - begin] * row[c];
    }
  }
}

void AccumulateFeatureGradient(int32_t dim_in, EMBRT_Combiner combiner, int32_t max_sequence_length,
                               const FeatureBatch& batch, const float* gradient,
                               RowGradients* sums) {
  const size_t dim = static_cast<size_t>(dim_in);
  const size_t rows = batch.row_splits.size() - 1;
  const size_t positions = max_sequence_length > 0 ? static_cast<size_t>(max_sequence_length) : 1;
  std::vector<float> gains;
  for (size_t b = 0; b < rows; ++b) {
    size_t begin, end;
    RowRange(batch, max_sequence_length, b, &begin, &end);
    for (size_t k = begin; k < end; ++k) {
      float gain;
      const float* g;
      if (max_sequence_length > 0) {
        gain = 1.0f;
        g = gradient == nullptr ? nullptr
                                : gradient + (b * positions + PositionOf(batch, k, begin)) * dim;
      } else {
        if (k == begin) BagGains(batch, combiner, begin, end, &gains);
        gain = gains[k - begin];
        g = gradient == nullptr ? nullptr : gradient + b * dim;
      }
      std::vector<float>& sum = (*sums)[batch.ids[k]];
      if (sum.empty()) sum.assign(dim, 0.0f);
      if (g == nullptr) continue;
      for (size_t c = 0; c < dim; ++c) sum[c] += gain * g[c];
    }
  }
}

}  // namespace mock
}  // namespace embrt
