// Copyright embrt authors.
//
// The backward kernels (plugins/cpu/backward.h): the dim specializations of SumRowGradient
// against a scalar twin of the formula, CopyFinite (the gradient copy and its Inf/NaN check),
// and OwnedRows (radix-sorted grouping per owner worker)
// against RowGrouping (row map): the same rows with the same contributions in the same order.

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>
#include <map>
#include <random>
#include <vector>

#include "backward.h"
#include "gtest/gtest.h"
#include "kernel_test_values.h"

namespace embrt {
namespace cpu {
namespace {

// step = 0; per replica run: part = 0, part = part + gain * g ...; step = step + part.
std::vector<float> ScalarTwin(const std::vector<Contribution>& cs, int32_t dim) {
  std::vector<float> step(dim, 0.0f), part(dim, 0.0f);
  if (cs.empty()) return step;
  int32_t replica = cs[0].replica;
  for (const Contribution& c : cs) {
    if (c.replica != replica) {
      for (int32_t d = 0; d < dim; ++d) step[d] = step[d] + part[d];
      std::fill(part.begin(), part.end(), 0.0f);
      replica = c.replica;
    }
    if (c.gradient == nullptr) continue;
    for (int32_t d = 0; d < dim; ++d) part[d] = part[d] + c.gain * c.gradient[d];
  }
  for (int32_t d = 0; d < dim; ++d) step[d] = step[d] + part[d];
  return step;
}

TEST(CpuBackwardKernelsTest, SumRowGradientSpecializationsMatchTheScalarTwin) {
  std::mt19937 random(3);
  for (int32_t dim : {1, 7, 16, 20, 32, 64, 100, 128, 160}) {
    std::vector<float> gradients(64 * dim);
    for (float& x : gradients) x = AwkwardValue(random);
    for (int trial = 0; trial < 30; ++trial) {
      std::vector<Contribution> cs;
      const int count = static_cast<int>(random() % 12);  // 0: an untouched row
      int32_t replica = 0;
      for (int i = 0; i < count; ++i) {
        if (random() % 3 == 0) replica += 1 + static_cast<int32_t>(random() % 2);
        const float* g = random() % 6 == 0 ? nullptr : gradients.data() + (random() % 64) * dim;
        cs.push_back(Contribution{g, AwkwardValue(random), replica});
      }
      const std::vector<float> expected = ScalarTwin(cs, dim);
      std::vector<float> part(dim, 9.0f), got(dim, 9.0f), generic(dim, 9.0f);
      SumRowGradient(cs.data(), cs.data() + cs.size(), dim, part.data(), got.data());
      SumRowGradientGeneric(cs.data(), cs.data() + cs.size(), dim, part.data(), generic.data());
      EXPECT_TRUE(SameBits(got, expected)) << "dim " << dim << " trial " << trial;
      EXPECT_TRUE(SameBits(generic, expected)) << "generic, dim " << dim << " trial " << trial;
    }
  }
}

TEST(CpuBackwardKernelsTest, CopyFiniteCopiesEveryBitAndItAndAllFiniteFindAnyInfOrNaN) {
  std::mt19937 random(29);
  const float specials[] = {std::numeric_limits<float>::infinity(),
                            -std::numeric_limits<float>::infinity(),
                            std::numeric_limits<float>::quiet_NaN(),
                            -std::numeric_limits<float>::quiet_NaN()};
  // Sizes around the 128-float blocks of the prefetching loops and past their 2 KiB lookahead.
  for (size_t n : {0, 1, 15, 16, 17, 100, 127, 128, 129, 639, 640, 641, 1000, 5003}) {
    std::vector<float> in(n);
    for (float& x : in) x = AwkwardValue(random);  // -0, denormals, +-3e38: all finite
    if (n > 0) in[0] = std::numeric_limits<float>::max();
    std::vector<float> out(n, 7.0f);
    EXPECT_TRUE(CopyFinite(in.data(), out.data(), n)) << n;
    EXPECT_TRUE(AllFinite(in.data(), n)) << n;
    EXPECT_TRUE(SameBits(in, out)) << n;
    for (size_t at : {size_t{0}, n / 2, n - 1}) {
      if (n == 0) break;
      for (float special : specials) {
        std::vector<float> bad = in;
        bad[at] = special;
        std::vector<float> copy(n, 7.0f);
        EXPECT_FALSE(AllFinite(bad.data(), n)) << n << " at " << at;
        EXPECT_FALSE(CopyFinite(bad.data(), copy.data(), n)) << n << " at " << at;
        EXPECT_TRUE(SameBits(bad, copy)) << n << " at " << at;  // copied all the same
      }
    }
  }
}

TEST(CpuBackwardKernelsTest, OwnedRowsGroupLikeTheRowMapForAnyNumberOfOwners) {
  std::mt19937 random(11);
  std::vector<float> gradients(4096);
  for (int64_t table_rows : {int64_t{1}, int64_t{37}, int64_t{5000}, int64_t{3} << 22}) {
    for (int count : {5, 40, 3000}) {  // insertion sort (<= 32 per owner) and radix sort
      // Contributions in canonical order, with many duplicates.
      std::vector<uint32_t> rows;
      std::vector<Contribution> cs;
      for (int i = 0; i < count; ++i) {
        rows.push_back(static_cast<uint32_t>(random() % std::min<int64_t>(table_rows, 900)) *
                       static_cast<uint32_t>(table_rows > 900 ? table_rows / 900 : 1));
        cs.push_back(Contribution{gradients.data() + i, static_cast<float>(i), i % 3});
      }
      RowGrouping map;
      map.Begin(table_rows, cs.size());
      for (size_t i = 0; i < cs.size(); ++i)
        map.Add(rows[i], cs[i].gradient, cs[i].gain, cs[i].replica);
      map.Finish();
      for (int owners : {1, 2, 3, 8}) {
        const RowOwners split(table_rows, owners);
        std::map<int64_t, int> owner_of;  // every row has exactly one owner
        int64_t rows_seen = 0;
        for (int owner = 0; owner < owners; ++owner) {
          OwnedRows owned;
          for (int pass = 0; pass < 2; ++pass) {  // buffers reused across steps
            owned.Clear();
            for (size_t i = 0; i < cs.size(); ++i) {
              if (split.OwnerOf(rows[i]) == owner) {
                owned.Add(rows[i], cs[i].gradient, cs[i].gain, cs[i].replica);
              }
            }
            owned.Finish(table_rows);
          }
          for (int64_t i = 0; i < owned.num_rows(); ++i) {
            const int64_t row = owned.row(i);
            if (i > 0) {
              EXPECT_LT(owned.row(i - 1), row);  // ascending, distinct
            }
            EXPECT_TRUE(owner_of.emplace(row, owner).second) << "row " << row << " owned twice";
            const int64_t u = map.Find(row);
            ASSERT_GE(u, 0);
            ASSERT_EQ(owned.end(i) - owned.begin(i), map.end(u) - map.begin(u)) << "row " << row;
            for (int64_t k = 0; k < owned.end(i) - owned.begin(i); ++k) {
              EXPECT_EQ(owned.begin(i)[k].gradient, map.begin(u)[k].gradient);
              EXPECT_EQ(owned.begin(i)[k].gain, map.begin(u)[k].gain);
              EXPECT_EQ(owned.begin(i)[k].replica, map.begin(u)[k].replica);
            }
          }
          rows_seen += owned.num_rows();
        }
        EXPECT_EQ(rows_seen, map.num_rows()) << "table rows " << table_rows << " owners " << owners;
      }
    }
  }
}

}  // namespace
}  // namespace cpu
}  // namespace embrt
