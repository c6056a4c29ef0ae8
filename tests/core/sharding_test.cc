// Copyright embrt authors.
//
// Tests of embrt/sharding.h against the 13-rows-on-5-hosts example of plugin_api/MATH.md §7.2.

#include "embrt/sharding.h"

#include <cstdint>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace embrt {
namespace {

using ::testing::ElementsAre;
using ::testing::ElementsAreArray;

std::vector<int64_t> RowsOfHost(int64_t vocab, int hosts, int host, Sharding sharding) {
  std::vector<int64_t> rows;
  for (int64_t local = 0; local < ShardRows(vocab, hosts, host); ++local) {
    rows.push_back(GlobalRow(local, vocab, hosts, host, sharding));
  }
  return rows;
}

TEST(ShardingTest, ShardSizesAreTfs) {
  // 13 rows on 5 hosts: the first 13 % 5 = 3 hosts hold one extra row.
  EXPECT_EQ(ShardRows(13, 5, 0), 3);
  EXPECT_EQ(ShardRows(13, 5, 1), 3);
  EXPECT_EQ(ShardRows(13, 5, 2), 3);
  EXPECT_EQ(ShardRows(13, 5, 3), 2);
  EXPECT_EQ(ShardRows(13, 5, 4), 2);
  // Fewer rows than hosts: trailing hosts hold nothing.
  EXPECT_EQ(ShardRows(2, 3, 0), 1);
  EXPECT_EQ(ShardRows(2, 3, 2), 0);
}

TEST(ShardingTest, DivIsContiguous) {
  EXPECT_THAT(RowsOfHost(13, 5, 0, DIV), ElementsAre(0, 1, 2));
  EXPECT_THAT(RowsOfHost(13, 5, 1, DIV), ElementsAre(3, 4, 5));
  EXPECT_THAT(RowsOfHost(13, 5, 2, DIV), ElementsAre(6, 7, 8));
  EXPECT_THAT(RowsOfHost(13, 5, 3, DIV), ElementsAre(9, 10));
  EXPECT_THAT(RowsOfHost(13, 5, 4, DIV), ElementsAre(11, 12));
}

TEST(ShardingTest, ModIsRoundRobin) {
  EXPECT_THAT(RowsOfHost(13, 5, 0, MOD), ElementsAre(0, 5, 10));
  EXPECT_THAT(RowsOfHost(13, 5, 1, MOD), ElementsAre(1, 6, 11));
  EXPECT_THAT(RowsOfHost(13, 5, 2, MOD), ElementsAre(2, 7, 12));
  EXPECT_THAT(RowsOfHost(13, 5, 3, MOD), ElementsAre(3, 8));
  EXPECT_THAT(RowsOfHost(13, 5, 4, MOD), ElementsAre(4, 9));
}

TEST(ShardingTest, LocateRowInvertsGlobalRowAndCoversEveryRowOnce) {
  for (int64_t vocab : {1, 2, 5, 13, 100}) {
    for (int hosts : {1, 2, 3, 5, 7}) {
      for (Sharding sharding : {DIV, MOD}) {
        std::vector<int> owner_count(vocab, 0);
        for (int host = 0; host < hosts; ++host) {
          for (int64_t local = 0; local < ShardRows(vocab, hosts, host); ++local) {
            const int64_t row = GlobalRow(local, vocab, hosts, host, sharding);
            ASSERT_GE(row, 0);
            ASSERT_LT(row, vocab);
            ++owner_count[row];
            const ShardLocation location = LocateRow(row, vocab, hosts, sharding);
            EXPECT_EQ(location.host, host) << vocab << " " << hosts << " " << sharding;
            EXPECT_EQ(location.local_row, local) << vocab << " " << hosts << " " << sharding;
          }
        }
        EXPECT_THAT(owner_count, ElementsAreArray(std::vector<int>(vocab, 1)));
      }
    }
  }
}

}  // namespace
}  // namespace embrt
