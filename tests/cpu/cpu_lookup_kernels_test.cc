// Copyright embrt authors.
//
// The forward kernel's specializations (plugins/cpu/lookup.h): LookupBags for dims below 16
// (compiled per dim) and 16, 32, 64 and 128 (vector registers), each with an optional skipped
// gain multiply, must give the same bits as a scalar twin of the formula, written out here, for
// every combiner, with and without weights, empty bags, any bag range, quantized tables and
// awkward values (-0, subnormals, huge numbers).

#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "gtest/gtest.h"
#include "kernel_test_values.h"
#include "lookup.h"

namespace embrt {
namespace cpu {
namespace {

// out[b] = g0 * row0; out[b] = out[b] + gk * rowk ...; empty bags are zeros.
void ScalarTwin(const std::vector<float>& table, int32_t dim, const std::vector<int32_t>& splits,
                const std::vector<int64_t>& rows, const std::vector<float>& gains, int64_t b0,
                int64_t b1, const Quantization* quantization, std::vector<float>* out) {
  std::vector<float> q(dim);
  for (int64_t b = b0; b < b1; ++b) {
    float* o = out->data() + b * dim;
    if (splits[b] == splits[b + 1]) {
      for (int32_t d = 0; d < dim; ++d) o[d] = 0.0f;
    }
    for (int32_t k = splits[b]; k < splits[b + 1]; ++k) {
      const float* row = table.data() + rows[k] * dim;
      if (quantization != nullptr) {
        QuantizeRow(*quantization, dim, row, q.data());
        row = q.data();
      }
      for (int32_t d = 0; d < dim; ++d) {
        o[d] = k == splits[b] ? gains[k] * row[d] : o[d] + gains[k] * row[d];
      }
    }
  }
}

TEST(CpuLookupKernelsTest, EverySpecializationMatchesTheScalarTwinBitForBit) {
  std::mt19937 random(13);
  const int64_t kRows = 50;
  const int64_t kBags = 40;
  int cases = 0;
  for (int32_t dim : {1, 8, 9, 15, 16, 17, 32, 48, 64, 100, 128, 256}) {
    std::vector<float> table(kRows * dim);
    for (float& x : table) x = AwkwardValue(random);
    for (EMBRT_Combiner combiner :
         {EMBRT_COMBINER_SUM, EMBRT_COMBINER_MEAN, EMBRT_COMBINER_SQRTN}) {
      for (bool weighted : {false, true}) {
        for (bool quantized : {false, true}) {
          std::vector<int32_t> splits = {0};
          std::vector<int64_t> rows;
          std::vector<float> weights;
          for (int64_t b = 0; b < kBags; ++b) {
            const int size = static_cast<int>(random() % 25);  // 0: an empty bag
            for (int k = 0; k < size; ++k) {
              rows.push_back(random() % kRows);  // duplicates included
              weights.push_back(b % 7 == 3 ? 0.0f : AwkwardValue(random));
            }
            splits.push_back(static_cast<int32_t>(rows.size()));
          }
          std::vector<float> gains(rows.size());
          ComputeGains(combiner, splits.data(), weighted ? weights.data() : nullptr, 0, kBags,
                       gains.data());
          const Quantization quantization{7, -1.5f, 1.25f};
          const Quantization* q = quantized ? &quantization : nullptr;
          const bool unit_gains = combiner == EMBRT_COMBINER_SUM && !weighted;
          // The whole batch, and a range that starts and ends inside it.
          for (auto [b0, b1] : {std::pair<int64_t, int64_t>{0, kBags}, {5, 23}}) {
            std::vector<float> expected(kBags * dim, 7.0f), got(kBags * dim, 7.0f),
                generic(kBags * dim, 7.0f);
            ScalarTwin(table, dim, splits, rows, gains, b0, b1, q, &expected);
            // With unit gains the engine passes no gains at all.
            LookupBags(table.data(), dim, splits.data(), rows.data(),
                       unit_gains ? nullptr : gains.data(), b0, b1, got.data(), q, unit_gains);
            LookupBagsGeneric(table.data(), dim, splits.data(), rows.data(), gains.data(), b0, b1,
                              generic.data(), q);
            EXPECT_TRUE(SameBits(got, expected))
                << "dim " << dim << " combiner " << combiner << " weighted " << weighted
                << " quantized " << quantized << " bags [" << b0 << ", " << b1 << ")";
            EXPECT_TRUE(SameBits(generic, expected)) << "generic, dim " << dim;
            ++cases;
          }
        }
      }
    }
  }
  EXPECT_EQ(cases, 12 * 3 * 2 * 2 * 2);
}

// The skipped multiply relies on 1 * x == x for every float, signed zeros and subnormals
// included; the unit-gain kernels must agree with the multiplying ones.
TEST(CpuLookupKernelsTest, UnitGainsGiveTheSameBitsAsMultiplyingByOne) {
  std::mt19937 random(5);
  for (int32_t dim : {1, 8, 9, 15, 16, 32, 64, 128}) {
    std::vector<float> table(20 * dim);
    for (float& x : table) x = AwkwardValue(random);
    const std::vector<int32_t> splits = {0, 1, 1, 4, 20};
    std::vector<int64_t> rows;
    for (int k = 0; k < 20; ++k) rows.push_back(random() % 20);
    const std::vector<float> ones(20, 1.0f);
    std::vector<float> with(4 * dim), without(4 * dim);
    LookupBags(table.data(), dim, splits.data(), rows.data(), ones.data(), 0, 4, with.data(),
               nullptr, false);
    LookupBags(table.data(), dim, splits.data(), rows.data(), nullptr, 0, 4, without.data(),
               nullptr, true);
    EXPECT_TRUE(SameBits(with, without)) << "dim " << dim;
  }
}

// Below dim 16 a bag of one id with unit gain is copied as bytes (a fast path of its own): its
// activation is the row exactly, NaN payloads included, for bags anywhere in a range and
// beside bags of several ids and empty ones.
TEST(CpuLookupKernelsTest, BagsOfOneIdAreTheirRowsBitForBit) {
  std::mt19937 random(21);
  for (int32_t dim = 1; dim <= 16; ++dim) {
    const int64_t kRows = 30;
    std::vector<float> table(kRows * dim);
    for (float& x : table) x = AwkwardValue(random);
    const uint32_t payload_nan = 0x7fc00005u;  // a quiet NaN with a payload
    std::memcpy(&table[3 * dim + dim / 2], &payload_nan, sizeof(payload_nan));
    std::vector<int32_t> splits = {0};
    std::vector<int64_t> rows;
    for (int64_t b = 0; b < 64; ++b) {
      const int size = b % 9 == 4 ? 3 : (b % 11 == 7 ? 0 : 1);
      for (int k = 0; k < size; ++k) rows.push_back(b % 5 == 0 ? 3 : random() % kRows);
      splits.push_back(static_cast<int32_t>(rows.size()));
    }
    const std::vector<float> ones(rows.size(), 1.0f);
    for (auto [b0, b1] : {std::pair<int64_t, int64_t>{0, 64}, {9, 50}}) {
      std::vector<float> expected(64 * dim, 7.0f), got(64 * dim, 7.0f);
      ScalarTwin(table, dim, splits, rows, ones, b0, b1, nullptr, &expected);
      LookupBags(table.data(), dim, splits.data(), rows.data(), nullptr, b0, b1, got.data(),
                 nullptr, true);
      EXPECT_TRUE(SameBits(got, expected))
          << "dim " << dim << " bags [" << b0 << ", " << b1 << ")";
    }
  }
}

}  // namespace
}  // namespace cpu
}  // namespace embrt
